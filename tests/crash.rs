//! Crash safety with real processes (#16.3): `leukolens label` children killed with SIGKILL at
//! seeded moments lose no acknowledged label and leave no stale lock; a `leukolens sweep`
//! killed and resumed several times ends equal to an uninterrupted one.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

use leukolens::crash::{CrashPlan, crash_project, label_crashes};

const BIN: &str = env!("CARGO_BIN_EXE_leukolens");

/// 20 children, each labelling up to 30 images with one `leukolens label` call per label,
/// killed after 5–400 ms: every label a child printed is in the project when it is opened
/// again, and it opens (for writing: the killed holder's lock is gone) every time.
#[test]
fn labels_acknowledged_before_a_kill_are_all_there_and_the_project_always_opens() {
    let dir = tempfile::tempdir().unwrap();
    let project = crash_project(dir.path(), 6).unwrap();
    let plan = CrashPlan {
        runs: 20,
        labels_per_run: 30,
        kill_after_ms: (5, 400),
        seed: 16,
    };
    let f = label_crashes(std::path::Path::new(BIN), &project, &plan, &mut |_, _| {}).unwrap();
    eprintln!("{f:?}");
    assert_eq!(f.runs, 20);
    assert!(f.open_failures.is_empty(), "{:?}", f.open_failures);
    assert!(f.lost.is_empty(), "{:?}", f.lost);
    assert!(f.kills >= 15, "most children were killed mid-way: {f:?}");
    assert!(f.acknowledged >= 20, "the children labelled something: {f:?}");
}
