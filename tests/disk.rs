//! The disk says no (#16.4): a journal append that fails (disk full, file removed) applies no
//! label and touches nothing saved; a save that fails keeps every label in the journal and the
//! next save catches up. Through an injected `Disk`, and (as root) on a tiny tmpfs. A sweep that
//! cannot store its runs stops with a clear error and resumes later.
#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use leukolens::project::disk::Disk;
use leukolens::project::{ImageId, Journal, Project, ProjectError, Workspace};
use leukolens::taxonomy::ClassId;

/// A disk that, when told to, fills up in the middle of a journal append (half the bytes
/// written, then "no space") or refuses a save.
#[derive(Debug, Default)]
struct FlakyDisk {
    appends_fail: AtomicBool,
    saves_fail: AtomicBool,
}

impl Disk for FlakyDisk {
    fn append(&self, file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
        if self.appends_fail.load(Ordering::SeqCst) {
            file.write_all(&bytes[..bytes.len() / 2])?;
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device",
            ));
        }
        file.write_all(bytes)?;
        file.sync_data()
    }

    fn save(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        if self.saves_fail.load(Ordering::SeqCst) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device",
            ));
        }
        leukolens::project::atomic_write(path, bytes)
    }
}

fn demo(dir: &Path) -> PathBuf {
    leukolens::demo::create_demo_project(&dir.join("demo"), 2, 16, 1).unwrap()
}

/// A class other than the image's current one.
fn other_class(ws: &Workspace, id: ImageId) -> ClassId {
    let now = ws.project.image(id).unwrap().current;
    ws.project
        .taxonomy
        .classes
        .iter()
        .find(|c| c.id != now)
        .unwrap()
        .id
}

fn label(ws: &mut Workspace, k: u32) -> Result<ClassId, ProjectError> {
    let class = other_class(ws, ImageId(k));
    ws.set_labels(&[ImageId(k)], class, "disk-test")
        .map(|_| class)
}

#[test]
fn a_failed_append_applies_nothing_and_a_failed_save_keeps_the_labels_in_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo(dir.path());
    let disk = Arc::new(FlakyDisk::default());
    let mut ws = Workspace::open(&path).unwrap();
    ws.set_disk(disk.clone());
    let first = label(&mut ws, 0).unwrap();
    ws.save().unwrap();
    let second = label(&mut ws, 1).unwrap();
    let jpath = Journal::path_for(&path);
    let (journal_before, file_before) = (
        std::fs::read(&jpath).unwrap(),
        std::fs::read(&path).unwrap(),
    );
    let before = ws.project.image(ImageId(2)).unwrap().clone();

    // The disk fills up halfway through the line.
    disk.appends_fail.store(true, Ordering::SeqCst);
    let err = label(&mut ws, 2).unwrap_err().to_string();
    assert!(err.contains("no space left on device"), "{err}");
    assert!(err.contains("was not applied"), "{err}");
    assert_eq!(
        ws.project.image(ImageId(2)).unwrap(),
        &before,
        "not applied in memory"
    );
    assert_eq!(
        std::fs::read(&jpath).unwrap(),
        journal_before,
        "the half line was cut off"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        file_before,
        "nothing saved was touched"
    );

    // Room again: labelling goes on, with the next sequence number.
    disk.appends_fail.store(false, Ordering::SeqCst);
    let third = label(&mut ws, 3).unwrap();
    let seqs: Vec<u64> = ws.history().unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);

    // A save that fails says where the labels are, and changes nothing on disk.
    disk.saves_fail.store(true, Ordering::SeqCst);
    let err = ws.save().unwrap_err().to_string();
    assert!(err.contains("safe in the journal"), "{err}");
    assert!(ws.is_dirty());
    assert_eq!(std::fs::read(&path).unwrap(), file_before);
    // A crash now: the journal brings them back.
    drop(ws);
    let ws = Workspace::open(&path).unwrap();
    assert_eq!(ws.project.image(ImageId(0)).unwrap().current, first);
    assert_eq!(ws.project.image(ImageId(1)).unwrap().current, second);
    assert_eq!(ws.project.image(ImageId(3)).unwrap().current, third);
    assert_eq!(
        ws.project.image(ImageId(2)).unwrap().current,
        before.current
    );
    assert!(
        ws.open_notes.iter().all(|n| !n.contains("damaged")),
        "{:?}",
        ws.open_notes
    );
}

#[test]
fn the_next_successful_save_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo(dir.path());
    let disk = Arc::new(FlakyDisk::default());
    let mut ws = Workspace::open(&path).unwrap();
    ws.set_disk(disk.clone());
    disk.saves_fail.store(true, Ordering::SeqCst);
    let class = label(&mut ws, 4).unwrap();
    assert!(ws.save().is_err());
    disk.saves_fail.store(false, Ordering::SeqCst);
    ws.save().unwrap();
    assert!(!ws.is_dirty());
    let saved = Project::load(&path).unwrap();
    assert_eq!(saved.image(ImageId(4)).unwrap().current, class);
    assert_eq!(saved.journal_seq, 1);
}

#[test]
fn a_journal_removed_while_open_is_an_error_and_a_save_starts_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo(dir.path());
    let mut ws = Workspace::open(&path).unwrap();
    let first = label(&mut ws, 0).unwrap();
    let jpath = Journal::path_for(&path);
    std::fs::remove_file(&jpath).unwrap();
    let before = ws.project.image(ImageId(1)).unwrap().current;
    let err = label(&mut ws, 1).unwrap_err().to_string();
    assert!(err.contains("removed"), "{err}");
    assert_eq!(ws.project.image(ImageId(1)).unwrap().current, before);
    // Saving writes every label so far into the project file; the journal starts anew.
    ws.save().unwrap();
    let later = label(&mut ws, 1).unwrap();
    drop(ws);
    let ws = Workspace::open(&path).unwrap();
    assert_eq!(ws.project.image(ImageId(0)).unwrap().current, first);
    assert_eq!(ws.project.image(ImageId(1)).unwrap().current, later);
    assert_eq!(ws.history().unwrap().len(), 1, "the new journal");
}

/// A tmpfs of `kib` KiB mounted on `dir` (unmounted on drop); `None` where mounting is not
/// allowed (not root, no mount command, a container without the capability).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, kib: usize) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    fn resize(&self, kib: usize) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={kib}k")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` with a file until it refuses more.
fn fill(dir: &Path) -> PathBuf {
    let filler = dir.join("filler");
    let mut f = File::create(&filler).unwrap();
    let block = vec![0u8; 4096];
    while f.write_all(&block).is_ok() && f.sync_all().is_ok() {}
    filler
}

/// A real full disk (a 256 KiB tmpfs; root only, skipped otherwise): labelling goes on until the
/// journal's last page is full, then refuses with an error and applies nothing; the save fails
/// too, saying the journal holds the labels; with room again everything is saved.
#[test]
fn a_full_tmpfs_refuses_the_label_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = demo(dir.path());
    let Some(fs) = Tmpfs::mount(&dir.path().join("small"), 256) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let path = fs.0.join("demo.ron");
    std::fs::copy(&source, &path).unwrap();
    let mut ws = Workspace::open(&path).unwrap();
    let file_before = std::fs::read(&path).unwrap();
    let filler = fill(&fs.0);
    let n = ws.project.images.len() as u32;
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for k in 0..200u32 {
        let id = ImageId(k % n);
        let before = ws.project.image(id).unwrap().current;
        match label(&mut ws, k % n) {
            Ok(class) => acknowledged.push((id, class)),
            Err(e) => {
                assert_eq!(ws.project.image(id).unwrap().current, before, "not applied");
                refused = Some(e.to_string());
                break;
            }
        }
    }
    let refused = refused.expect("a full disk refused a label");
    assert!(refused.contains("was not applied"), "{refused}");
    let err = ws.save().unwrap_err().to_string();
    assert!(err.contains("safe in the journal"), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        file_before,
        "the saved file is untouched"
    );
    std::fs::remove_file(filler).unwrap();
    ws.save().unwrap();
    drop(ws);
    let ws = Workspace::open(&path).unwrap();
    let mut last = std::collections::HashMap::new();
    for (id, class) in &acknowledged {
        last.insert(*id, *class);
    }
    for (id, class) in last {
        assert_eq!(
            ws.project.image(id).unwrap().current,
            class,
            "image {}",
            id.0
        );
    }
}

/// `leukolens sweep` of a tiny sweep (9 runs of a few epochs) on the project at `project`.
fn sweep(project: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_leukolens"))
        .arg("sweep")
        .arg(project)
        .args([
            "--name",
            "tiny",
            "--task",
            "groups",
            "--positive",
            "Lymphoblast",
        ])
        .args([
            "--negative",
            "Segmented neutrophil",
            "--folds",
            "3",
            "--n-val",
            "2",
        ])
        .args(["--sizes", "2,4", "--epochs", "2", "--input-size", "190"])
        .args(["--backend", "cpu", "--workers", "1"])
        .output()
        .unwrap()
}

/// A sweep whose run files cannot be written (its `runs` folder on a full 8 KiB tmpfs; root
/// only, skipped otherwise) stops with an error that says so and how to go on; with room again
/// the same command resumes it and ends with every run stored.
#[test]
fn a_sweep_that_cannot_store_its_runs_stops_with_a_clear_error_and_resumes_later() {
    let dir = tempfile::tempdir().unwrap();
    let path = leukolens::demo::create_demo_project(&dir.path().join("demo"), 8, 64, 3).unwrap();
    let runs = leukolens::sweep::SweepDir::of(&path, "tiny")
        .path()
        .join("runs");
    let Some(fs) = Tmpfs::mount(&runs, 8) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let filler = fill(&fs.0);
    let out = sweep(&path);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("could not store the finished run"), "{err}");
    assert!(
        err.contains("starting the same sweep again resumes it"),
        "{err}"
    );
    std::fs::remove_file(filler).unwrap();
    fs.resize(1024);
    let out = sweep(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = leukolens::sweep::SweepDir::of(&path, "tiny");
    assert_eq!(dir.runs().len(), 6);
    assert!(dir.damaged_runs().is_empty());
}

/// A project in a read-only folder (a tmpfs remounted read-only; root only, skipped otherwise)
/// cannot be opened for writing: the lock cannot be taken, and the error says so in words (the
/// GUI then opens it read-only). Read-only, it opens with the journal's labels and refuses
/// changes; writable again, labelling goes on. (Linux refuses to remount a folder read-only
/// while a file in it is open for writing, so an open project cannot see its folder turn
/// read-only; the injected disk above covers a refused append.)
#[test]
fn a_project_in_a_read_only_folder_opens_read_only_with_its_labels() {
    let dir = tempfile::tempdir().unwrap();
    let source = demo(dir.path());
    let Some(fs) = Tmpfs::mount(&dir.path().join("ro"), 1024) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let path = fs.0.join("demo.ron");
    std::fs::copy(&source, &path).unwrap();
    let remount = |how: &str| {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{how}")])
            .arg(&fs.0)
            .status()
            .unwrap();
        assert!(ok.success());
    };
    let mut ws = Workspace::open(&path).unwrap();
    let first = label(&mut ws, 0).unwrap(); // journaled, not saved
    drop(ws);
    remount("ro");
    let err = Workspace::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("cannot lock") && err.contains("Read-only file system"),
        "{err}"
    );
    let mut reader = Workspace::open_read_only(&path).unwrap();
    assert_eq!(reader.project.image(ImageId(0)).unwrap().current, first);
    let err = label(&mut reader, 1).unwrap_err().to_string();
    assert!(err.contains("read-only"), "{err}");
    drop(reader);
    remount("rw");
    let mut ws = Workspace::open(&path).unwrap();
    let second = label(&mut ws, 1).unwrap();
    ws.save().unwrap();
    let saved = Project::load(&path).unwrap();
    assert_eq!(saved.image(ImageId(0)).unwrap().current, first);
    assert_eq!(saved.image(ImageId(1)).unwrap().current, second);
}
