//! Project file round trip, journal replay after a crash, and corrupt files.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use leukolens::dataset::{self, Layout};
use std::collections::BTreeMap;

use leukolens::project::undo::UndoStack;
use leukolens::project::{
    ImageId, Journal, PROJECT_VERSION, Project, ProjectError, Workspace, backup_path,
};
use leukolens::taxonomy::ClassId;
use leukolens::taxonomy::Taxonomy;
use leukolens::train::{ExperimentConfig, Task, TrainConfig};

fn fixture(dir: &Path) -> (std::path::PathBuf, Project) {
    let data = dir.join("data");
    for (i, f) in [
        "monocyte/a.png",
        "monocyte/b.png",
        "basophil/c.png",
        "eosinophil/d.png",
    ]
    .iter()
    .enumerate()
    {
        let p = data.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(8, 8, image::Rgb([i as u8 * 50, 10, 10]))
            .save(&p)
            .unwrap();
    }
    let out = dataset::import(&data, None, Taxonomy::default_allidb(), &|_, _| {}).unwrap();
    let path = dir.join("p.ron");
    let project = Project::from_import("p", &path, &out, 99);
    (path, project)
}

#[test]
fn save_and_load_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut project) = fixture(dir.path());
    project.experiments.push(ExperimentConfig {
        name: "paper".into(),
        task: Task::Binary,
        train: TrainConfig::paper_binary(),
        n_train: 50,
        n_val: 25,
        n_test: None,
        seed: 5,
    });
    project.annotators.push("anna".into());
    project.save(&path).unwrap();
    let back = Project::load(&path).unwrap();
    assert_eq!(back, project);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(&format!("version: {PROJECT_VERSION}")),
        "human-readable and versioned"
    );
    assert!(text.contains("dataset_root: \"data\""));
    assert_eq!(back.layout, Some(Layout::ImageFolder));
}

#[test]
fn journal_replay_recovers_unsaved_labels_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = fixture(dir.path());
    let mut ws = Workspace::create(&path, project).unwrap();
    let eos = ws.project.taxonomy.find("Eosinophil").unwrap();
    let bas = ws.project.taxonomy.find("Basophil").unwrap();
    let id = |path: &str| {
        ws.project
            .images
            .iter()
            .find(|i| i.path == path)
            .unwrap()
            .id
    };
    // In a fixed order: monocyte a, monocyte b, basophil c, eosinophil d.
    let ids = vec![
        id("monocyte/a.png"),
        id("monocyte/b.png"),
        id("basophil/c.png"),
        id("eosinophil/d.png"),
    ];
    ws.set_labels(&ids[0..1], eos, "anna").unwrap();
    ws.save().unwrap();
    // After the save: a bulk change and a single one, never saved.
    let changes = ws.set_labels(&ids[0..3], bas, "ben").unwrap();
    assert_eq!(changes.len(), 2, "the basophil was already a basophil");
    // ... which is journaled as ben's confirmation (old = new), not returned as a change.
    ws.set_labels(&ids[3..4], bas, "ben").unwrap();
    // As a crash: the workspace is never saved (dropping it saves nothing; it releases the
    // lock, as the OS does when a process dies: tests/lock.rs kills real processes).
    drop(ws);

    let on_disk = Project::load(&path).unwrap();
    assert_eq!(
        on_disk.image(ids[1]).unwrap().current,
        on_disk.image(ids[1]).unwrap().original
    );

    let ws = Workspace::open(&path).unwrap();
    for id in &ids {
        assert_eq!(ws.project.image(*id).unwrap().current, bas, "image {id:?}");
    }
    assert!(ws.is_dirty());
    assert!(
        ws.open_notes.iter().any(|n| n.contains("recovered 4")),
        "{:?}",
        ws.open_notes
    );
    assert_eq!(
        ws.project.annotators,
        vec!["anna".to_string(), "ben".to_string()]
    );
    // Original labels are never touched.
    assert_eq!(
        ws.project.image(ids[0]).unwrap().original,
        ws.project.taxonomy.find("Monocyte").unwrap()
    );
    // The audit trail has every change with who, when, old and new.
    let history = ws.history().unwrap();
    assert_eq!(history.len(), 5);
    assert_eq!(history[3].old, history[3].new, "ben's confirmation");
    assert_eq!(history[0].annotator, "anna");
    assert_eq!(history[0].new, eos);
    assert_eq!(history[1].old, eos);
    assert!(history.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(history[0].time.ends_with('Z'));
}

#[test]
fn replay_does_not_reapply_saved_entries_and_survives_a_torn_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = fixture(dir.path());
    let mut ws = Workspace::create(&path, project).unwrap();
    let eos = ws.project.taxonomy.find("Eosinophil").unwrap();
    let mono = ws.project.taxonomy.find("Monocyte").unwrap();
    let id = ws
        .project
        .images
        .iter()
        .find(|i| i.path == "monocyte/a.png")
        .unwrap()
        .id;
    ws.set_labels(&[id], eos, "anna").unwrap();
    ws.set_labels(&[id], mono, "anna").unwrap(); // back to monocyte (undo-like)
    ws.save().unwrap();
    drop(ws);
    // A crash in the middle of writing a line.
    let jpath = Journal::path_for(&path);
    let mut text = std::fs::read_to_string(&jpath).unwrap();
    text.push_str("(seq:3,time:\"2026-");
    std::fs::write(&jpath, text).unwrap();
    let mut ws = Workspace::open(&path).unwrap();
    assert_eq!(
        ws.project.image(id).unwrap().current,
        mono,
        "saved entries are not replayed again"
    );
    assert!(
        ws.open_notes.iter().any(|n| n.contains("line 3 ignored")),
        "{:?}",
        ws.open_notes
    );
    // New entries continue after the existing sequence numbers.
    ws.set_labels(&[id], eos, "anna").unwrap();
    let h = ws.history().unwrap();
    assert_eq!(h.last().unwrap().seq, 3);
}

#[test]
fn a_corrupt_project_file_gives_line_and_column_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = fixture(dir.path());
    project.save(&path).unwrap();
    let mut changed = project.clone();
    changed.name = "renamed".into();
    changed.save(&path).unwrap(); // now p.ron.bak holds the first version
    let backup = backup_path(&path);
    let backup_before = std::fs::read(&backup).unwrap();
    assert_eq!(Project::load(&backup).unwrap().name, "p");

    let good = std::fs::read_to_string(&path).unwrap();
    let broken = good.replacen("taxonomy: (", "taxonomy: (((", 1);
    std::fs::write(&path, &broken).unwrap();
    let err = Project::load(&path).unwrap_err();
    match &err {
        ProjectError::Syntax { line, column, .. } => {
            assert!(*line > 1, "line {line}");
            assert!(*column > 0);
        }
        other => panic!("expected a syntax error, got {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("line ") && msg.contains("column "), "{msg}");
    assert!(msg.contains(".bak"), "{msg}");
    assert!(Workspace::open(&path).is_err());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        broken,
        "file untouched"
    );
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        backup_before,
        "backup untouched"
    );

    // Without a backup, the message does not name one; an empty file says it is empty.
    let lone = dir.path().join("lone.ron");
    std::fs::write(&lone, &broken).unwrap();
    let msg = Project::load(&lone).unwrap_err().to_string();
    assert!(msg.contains("no backup") && !msg.contains(".bak"), "{msg}");
    std::fs::write(&lone, "  \n").unwrap();
    let msg = Project::load(&lone).unwrap_err().to_string();
    assert!(
        msg.contains("empty") && !msg.contains("VersionProbe"),
        "{msg}"
    );
}

#[test]
fn newer_versions_and_inconsistent_labels_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = fixture(dir.path());
    let text = project
        .to_ron()
        .replacen(&format!("version: {PROJECT_VERSION}"), "version: 7", 1);
    let err = Project::from_ron(&text, &path).unwrap_err();
    assert!(
        matches!(err, ProjectError::TooNew { found: 7, .. }),
        "{err}"
    );
    let mut bad = project.clone();
    bad.images[0].current = leukolens::taxonomy::ClassId(999);
    let err = Project::from_ron(&bad.to_ron(), &path).unwrap_err();
    assert!(err.to_string().contains("not in the taxonomy"), "{err}");
    // An annotator's own label outside the taxonomy too, naming the annotator.
    let mut bad = project.clone();
    bad.images[0]
        .given
        .insert("anna".into(), leukolens::taxonomy::ClassId(999));
    let err = Project::from_ron(&bad.to_ron(), &path).unwrap_err();
    assert!(
        err.to_string()
            .contains("\"anna\"'s label #999 is not in the taxonomy"),
        "{err}"
    );
}

#[test]
fn unknown_images_and_classes_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = fixture(dir.path());
    let mut ws = Workspace::create(&path, project).unwrap();
    let eos = ws.project.taxonomy.find("Eosinophil").unwrap();
    assert!(
        ws.set_labels(&[leukolens::project::ImageId(4242)], eos, "x")
            .is_err()
    );
    let id = ws.project.images[0].id;
    assert!(
        ws.set_labels(&[id], leukolens::taxonomy::ClassId(77), "x")
            .is_err()
    );
    assert!(
        ws.history().unwrap().is_empty(),
        "nothing journaled for refused changes"
    );
}

/// The command line names a missing project and its cause once, exits with 1, and a reader that
/// stops early (`| head`) ends it quietly instead of a panic.
#[test]
fn the_command_line_reports_a_missing_project_once_and_survives_a_closed_pipe() {
    let bin = env!("CARGO_BIN_EXE_leukolens");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.ron");
    let out = std::process::Command::new(bin)
        .args(["info", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read"), "{err}");
    let os = std::fs::read(&missing).unwrap_err().to_string();
    assert_eq!(err.matches(&os).count(), 1, "{err}");

    #[cfg(unix)]
    {
        use std::io::Read;
        use std::process::Stdio;
        let (path, project) = fixture(dir.path());
        project.save(&path).unwrap();
        let mut child = std::process::Command::new(bin)
            .args(["info", path.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before the listing is written.
        drop(child.stdout.take());
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(!err.contains("panicked"), "{err}");
        assert_ne!(status.code(), Some(101), "{err}");
    }
}

/// A damaged sequence number (at its maximum) is a clear error when the project opens, not an
/// overflow panic, and the labels on disk stay as they were.
#[test]
fn an_exhausted_journal_sequence_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut project) = fixture(dir.path());
    project.journal_seq = u64::MAX;
    project.save(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = match Workspace::open(&path) {
        Ok(_) => panic!("opened a project whose journal cannot grow"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("maximum"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// Another process (the command line while the app is open) adds an experiment and saves; the
/// app's next save keeps it, and its own labels too.
#[test]
fn a_save_keeps_what_another_process_saved_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = fixture(dir.path());
    let mut app = Workspace::create(&path, project).unwrap();
    let bas = app.project.taxonomy.find("Basophil").unwrap();
    let first = app.project.images[0].id;

    // The other process: reads the file, adds an experiment, writes it.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut other = Project::load(&path).unwrap();
    other.experiments.push(ExperimentConfig {
        name: "from-the-cli".into(),
        task: Task::Binary,
        train: TrainConfig::paper_binary(),
        n_train: 10,
        n_val: 5,
        n_test: None,
        seed: 1,
    });
    other.annotators.push("cli-user".into());
    other.save(&path).unwrap();

    app.set_labels(&[first], bas, "anna").unwrap();
    app.save().unwrap();
    let on_disk = Project::load(&path).unwrap();
    assert!(on_disk.experiments.iter().any(|e| e.name == "from-the-cli"));
    assert!(on_disk.annotators.contains(&"cli-user".to_string()));
    assert_eq!(on_disk.image(first).unwrap().current, bas);
    // Saving again adds nothing twice.
    app.save().unwrap();
    let again = Project::load(&path).unwrap();
    assert_eq!(again.experiments.len(), on_disk.experiments.len());
}

/// Every image's per-annotator labels (image → annotator → class).
fn given(p: &Project) -> BTreeMap<ImageId, BTreeMap<String, ClassId>> {
    p.images
        .iter()
        .map(|im| (im.id, im.given.clone()))
        .collect()
}

/// Anna and Ben label the four fixture images (a confirmation, a change, an undo), then the
/// workspace is saved. Returns it with the four ids in a fixed order.
fn two_annotators(path: &Path, project: Project) -> (Workspace, Vec<ImageId>) {
    let mut ws = Workspace::create(path, project).unwrap();
    let t = ws.project.taxonomy.clone();
    let id = |name: &str| {
        ws.project
            .images
            .iter()
            .find(|i| i.path == name)
            .unwrap()
            .id
    };
    let ids = vec![
        id("monocyte/a.png"),
        id("monocyte/b.png"),
        id("basophil/c.png"),
        id("eosinophil/d.png"),
    ];
    let (mono, bas, eos) = (
        t.find("Monocyte").unwrap(),
        t.find("Basophil").unwrap(),
        t.find("Eosinophil").unwrap(),
    );
    // Anna: a and b stay monocytes (a confirmation each), c becomes an eosinophil.
    ws.set_labels(&ids[0..2], mono, "anna").unwrap();
    ws.set_labels(&ids[2..3], eos, "anna").unwrap();
    // Ben: b and c are basophils (c back to its original class), d an eosinophil (a
    // confirmation); he sets a to eosinophil and undoes it: his label of a is then the class
    // the undo put back, monocyte.
    let mut undo = UndoStack::default();
    undo.push(ws.set_labels(&ids[1..3], bas, "ben").unwrap());
    ws.set_labels(&ids[3..4], eos, "ben").unwrap();
    undo.push(ws.set_labels(&ids[0..1], eos, "ben").unwrap());
    undo.undo(&mut ws, "ben").unwrap();
    // Setting a class an annotator already gave journals nothing more.
    let lines = ws.history().unwrap().len();
    ws.set_labels(&ids[3..4], eos, "ben").unwrap();
    assert_eq!(ws.history().unwrap().len(), lines);
    ws.save().unwrap();
    (ws, ids)
}

/// What `two_annotators` leaves, written out by hand.
fn expected_given(p: &Project, ids: &[ImageId]) -> BTreeMap<ImageId, BTreeMap<String, ClassId>> {
    let c = |n: &str| p.taxonomy.find(n).unwrap();
    let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, ClassId> {
        pairs
            .iter()
            .map(|(who, class)| (who.to_string(), c(class)))
            .collect()
    };
    BTreeMap::from([
        (ids[0], labels(&[("anna", "Monocyte"), ("ben", "Monocyte")])),
        (ids[1], labels(&[("anna", "Monocyte"), ("ben", "Basophil")])),
        (
            ids[2],
            labels(&[("anna", "Eosinophil"), ("ben", "Basophil")]),
        ),
        (ids[3], labels(&[("ben", "Eosinophil")])),
    ])
}

#[test]
fn labels_of_two_annotators_are_stored_and_survive_save_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = fixture(dir.path());
    let (ws, ids) = two_annotators(&path, project);
    let want = expected_given(&ws.project, &ids);
    assert_eq!(given(&ws.project), want);
    // The consensus is the last change: c is a basophil again, a a monocyte after the undo.
    let t = &ws.project.taxonomy;
    assert_eq!(
        ws.project.image(ids[2]).unwrap().current,
        t.find("Basophil").unwrap()
    );
    assert_eq!(
        ws.project.image(ids[0]).unwrap().current,
        t.find("Monocyte").unwrap()
    );
    drop(ws);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("given"), "stored in the file");
    assert_eq!(given(&Project::load(&path).unwrap()), want);
    let ws = Workspace::open(&path).unwrap();
    assert_eq!(given(&ws.project), want);
    assert!(!ws.is_dirty(), "nothing to replay");
}

#[test]
fn journal_lines_newer_than_the_saved_file_update_the_annotators_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = fixture(dir.path());
    let (mut ws, ids) = two_annotators(&path, project);
    let mut want = expected_given(&ws.project, &ids);
    let t = ws.project.taxonomy.clone();
    // After the save, never saved: Cleo confirms d, Anna relabels b.
    ws.set_labels(&ids[3..4], t.find("Eosinophil").unwrap(), "cleo")
        .unwrap();
    ws.set_labels(&ids[1..2], t.find("Basophil").unwrap(), "anna")
        .unwrap();
    want.get_mut(&ids[3])
        .unwrap()
        .insert("cleo".into(), t.find("Eosinophil").unwrap());
    want.get_mut(&ids[1])
        .unwrap()
        .insert("anna".into(), t.find("Basophil").unwrap());
    assert_eq!(given(&ws.project), want);
    drop(ws); // as a crash
    let ws = Workspace::open(&path).unwrap();
    assert_eq!(given(&ws.project), want);
    assert!(ws.is_dirty());
}

#[test]
fn an_old_project_file_without_per_annotator_labels_gets_them_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = fixture(dir.path());
    let (mut ws, ids) = two_annotators(&path, project);
    let saved_want = expected_given(&ws.project, &ids);
    // One more label only in the journal (a crash after it).
    let eos = ws.project.taxonomy.find("Eosinophil").unwrap();
    ws.set_labels(&ids[0..1], eos, "cleo").unwrap();
    let live = given(&ws.project);
    drop(ws);
    // The saved file as format version 1 wrote it: no per-annotator labels.
    let mut old = Project::load(&path).unwrap();
    old.version = 1;
    for im in &mut old.images {
        im.given.clear();
    }
    let text = old.to_ron();
    assert!(
        text.contains("version: 1") && !text.contains("given"),
        "{text}"
    );
    std::fs::write(&path, text).unwrap();
    // Read alone, the file gets the labels of the journal lines it includes ...
    let read = Project::load(&path).unwrap();
    assert_eq!(read.version, PROJECT_VERSION);
    assert_eq!(given(&read), saved_want);
    // ... and opened, the newer line as well.
    let mut ws = Workspace::open(&path).unwrap();
    assert_eq!(given(&ws.project), live);
    assert_eq!(ws.project.image(ids[0]).unwrap().given["cleo"], eos);
    // Saved, it is the current format with the labels in it.
    ws.save().unwrap();
    drop(ws);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&format!("version: {PROJECT_VERSION}")) && text.contains("given"));
    assert_eq!(given(&Project::load(&path).unwrap()), live);
}
