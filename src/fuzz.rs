//! The entry points of the fuzz targets: each takes arbitrary bytes as the content of a file a
//! user may hand leukolens (project file, journal, import or mapping CSV, a sweep's snapshot and
//! run files, an image) and runs the code that reads it, then what a front end does with what
//! was read. None may panic, hang or allocate without bound; errors are fine.
//!
//! `fuzz/` (cargo-fuzz, nightly) and `tests/fuzz_inputs.rs` (seeded, bounded, in `cargo test`)
//! call the same functions, so a crash found by one is replayed by the other.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::dataset::{self, Layout};
use crate::project::query::{Filter, Sort, label_conflicts, select};
use crate::project::{Journal, Project};
use crate::sweep::{SweepDir, results};
use crate::taxonomy::Taxonomy;

/// A project file: parse (with its checks), and for a file that parses, what the gallery and
/// statistics do with it; what it saves must read back the same.
pub fn project_ron(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.ron");
    let Ok(p) = Project::from_ron(text, path) else {
        return;
    };
    let _ = p.counts();
    let _ = label_conflicts(&p);
    let _ = select(&p, &Filter::default(), Sort::CurrentClass);
    let again = Project::from_ron(&p.to_ron(), path);
    assert!(
        again.as_ref().is_ok_and(|a| *a == p),
        "a project that parsed does not read back the same after saving: {:?}",
        again.err()
    );
}

/// A journal: every line parsed or noted as damaged, the notes cut short.
pub fn journal(data: &[u8]) {
    if let Ok(read) = Journal::read_from(std::io::Cursor::new(data)) {
        for note in read.bad_line_notes(Path::new("fuzz.journal")) {
            assert!(note.len() < 4_096, "a journal note of {} bytes", note.len());
        }
    }
}

/// An import CSV (`path,label` rows) and a mapping CSV (`source,class` rows), read from a file
/// in a scratch folder.
pub fn import_csv(data: &[u8]) {
    let dir = scratch_dir();
    let csv = dir.join("labels.csv");
    if std::fs::write(&csv, data).is_err() {
        return;
    }
    let _ = dataset::read_mapping_csv(&csv);
    let _ = dataset::propose_mapping(
        &csv,
        Some(Layout::Csv),
        &Taxonomy::default_allidb(),
        &Default::default(),
    );
    if let Ok(out) = dataset::import(
        &csv,
        Some(Layout::Csv),
        Taxonomy::default_allidb(),
        &|_, _| {},
    ) {
        let _ = out.report.to_string();
    }
}

/// Separates the snapshot from the run file in a [`sweep_files`] input.
pub const SWEEP_SPLIT: &[u8] = b"\0\0";

/// A sweep's snapshot and one run file (the input split at the first [`SWEEP_SPLIT`]; without
/// one, both files get the whole input), read through [`SweepDir`], then summarised as the sweep
/// screen and the report do.
pub fn sweep_files(data: &[u8]) {
    let (snapshot, run) = match data.windows(2).position(|w| w == SWEEP_SPLIT) {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, data),
    };
    let dir = SweepDir::at(scratch_dir().join("sweep"));
    let runs = dir.path().join("runs");
    if std::fs::create_dir_all(&runs).is_err()
        || std::fs::write(dir.snapshot_path(), snapshot).is_err()
        || std::fs::write(runs.join("r.ron"), run).is_err()
    {
        return;
    }
    let snapshot = dir.read_snapshot();
    let (records, _damaged) = dir.read_runs();
    for size in results::sizes(&records) {
        let n = snapshot.as_ref().map(|s| s.output_names.len()).unwrap_or(2);
        let _ = results::confusion_at(&records, size, n);
        let _ = results::roc_at(&records, size);
    }
    let _ = results::score_by_size(&records);
    let _ = results::latest_predictions(&records);
    let _ = results::runs_csv(&records);
}

/// An image file: decoded as import and training decode it, then scaled to a network input.
pub fn image(data: &[u8]) {
    if let Ok(img) = dataset::decode_rgb8(data) {
        let _ = dataset::to_chw_u8(&img, 16);
    }
}

/// Removes this thread's scratch folder (the seeded tests call it when done).
pub fn remove_scratch() {
    let _ = std::fs::remove_dir_all(scratch_dir());
}

/// A folder of its own for this thread's scratch files, under the system's temporary folder.
fn scratch_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static DIR: PathBuf = std::env::temp_dir().join(format!(
            "leukolens-fuzz-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
    }
    let dir = DIR.with(|d| d.clone());
    let _ = std::fs::create_dir_all(&dir);
    dir
}
