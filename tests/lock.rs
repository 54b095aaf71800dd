//! One writer per project (#16.1), with real processes: a `leukolens label` that holds the
//! project (reading its rows from a pipe kept open) makes a second writer fail with the
//! holder's name, process and host, while reading commands work; killed with SIGKILL, it leaves
//! no stale lock.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use leukolens::project::lock::ProjectLock;
use leukolens::project::{Journal, Project, ProjectError, Workspace};

const BIN: &str = env!("CARGO_BIN_EXE_leukolens");

fn demo(dir: &Path) -> PathBuf {
    leukolens::demo::create_demo_project(&dir.join("demo"), 2, 16, 1).unwrap()
}

/// `leukolens label --from -` as "holder": it takes the lock, then waits for rows on its
/// standard input. Returns once the lock file names it.
fn holder(project: &Path) -> Child {
    let mut child = Command::new(BIN)
        .arg("label")
        .arg(project)
        .args(["--from", "-", "--annotator", "holder"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if !takes_the_lock(project, child.id()) {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the holder never took the lock");
    }
    child
}

/// Waits (up to 20 s) until the lock file of `project` names process `pid`.
fn takes_the_lock(project: &Path, pid: u32) -> bool {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        let held = ProjectLock::holder(project).and_then(|h| h.0);
        if held.is_some_and(|info| info.pid == pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn leukolens(args: &[&str], project: &Path) -> std::process::Output {
    Command::new(BIN)
        .arg(args[0])
        .arg(project)
        .args(&args[1..])
        .output()
        .unwrap()
}

#[test]
fn a_second_writer_is_refused_with_the_holders_details_and_readers_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo(dir.path());
    let before = std::fs::read(&path).unwrap();
    let mut h = holder(&path);
    let pid = h.id();

    // A second writer (another process): a clear error, nothing written.
    let out = leukolens(&["label", "--image", "0", "--class", "Monocyte"], &path);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("is open for writing by holder (process {pid} on ")),
        "{err}"
    );
    assert!(err.contains("close it there first"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(
        Journal::read(&Journal::path_for(&path))
            .unwrap()
            .entries
            .is_empty()
    );

    // Reading commands work meanwhile.
    let out = leukolens(&["info"], &path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("project: demo"));
    // `report` and `explain` open it too, read-only: this project has no sweep and no
    // experiment, and that (not the lock) is what they say.
    let png = dir.path().join("cell.png");
    let png = png.to_str().unwrap();
    for args in [
        &["report", "--name", "none"][..],
        &["explain", "--experiment", "none", "--image", "0", "-o", png],
    ] {
        let out = leukolens(args, &path);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains("none"), "{args:?}: {err}");
        assert!(!err.contains("open for writing"), "{args:?}: {err}");
    }

    // In the library: a writer is refused with who holds it; a reader opens, read-only.
    match Workspace::open(&path) {
        Err(ProjectError::Locked { holder, .. }) => {
            let info = holder.0.unwrap();
            assert_eq!((info.pid, info.annotator.as_str()), (pid, "holder"));
            assert!(
                !info.host.is_empty() && info.since.ends_with('Z'),
                "{info:?}"
            );
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    let mut reader = Workspace::open_read_only(&path).unwrap();
    let reason = reader.read_only().unwrap().to_string();
    assert!(reason.contains(&format!("process {pid}")), "{reason}");
    let class = reader.project.taxonomy.find("Monocyte").unwrap();
    let id = reader.project.images[0].id;
    let err = reader
        .set_labels(&[id], class, "x")
        .unwrap_err()
        .to_string();
    assert!(err.contains("read-only"), "{err}");
    assert!(reader.save().is_err());

    // The holder ends normally once its rows are in: the lock is free again.
    let mut stdin = h.stdin.take().unwrap();
    writeln!(stdin, "0,Monocyte").unwrap();
    drop(stdin);
    let out = h.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("labelled image 0 ("));
    assert_eq!(ProjectLock::holder(&path), None);
    let ws = Workspace::open(&path).unwrap();
    assert_eq!(ws.project.image(id).unwrap().current, class);
}

#[test]
fn a_holder_killed_with_sigkill_leaves_no_stale_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo(dir.path());
    for round in 0..3 {
        let mut h = holder(&path);
        assert!(
            matches!(Workspace::open(&path), Err(ProjectError::Locked { .. })),
            "round {round}"
        );
        h.kill().unwrap(); // SIGKILL on Unix
        h.wait().unwrap();
        // The next opener gets the lock: another process, then this one.
        let out = leukolens(&["label", "--image", "1", "--class", "LBL"], &path);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ws = Workspace::open(&path).unwrap();
        assert_eq!(ws.lock_info().unwrap().pid, std::process::id());
        let project = Project::load(&path).unwrap();
        assert_eq!(
            project
                .image(leukolens::project::ImageId(1))
                .unwrap()
                .current,
            project.taxonomy.find("Lymphoblast").unwrap()
        );
    }
}
