//! `leukolens label` (#16.2): one label by id, path or file name, or a CSV batch; each label is
//! journaled before it is printed; unknown images or classes change nothing; a batch is all or
//! nothing and names its bad rows.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use leukolens::project::{ImageId, Journal, Project, Workspace};

const BIN: &str = env!("CARGO_BIN_EXE_leukolens");

fn demo(dir: &Path) -> PathBuf {
    leukolens::demo::create_demo_project(&dir.join("demo"), 2, 16, 1).unwrap()
}

fn label(project: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("label")
        .arg(project)
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What must not change when a command is refused: the project file and the journal.
fn on_disk(path: &Path) -> (Vec<u8>, Option<Vec<u8>>) {
    (
        std::fs::read(path).unwrap(),
        std::fs::read(Journal::path_for(path)).ok(),
    )
}

#[test]
fn one_label_by_id_path_or_file_name_is_journaled_saved_and_printed() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo(dir.path());
    let p = Project::load(&path).unwrap();
    let (a, b, c) = (&p.images[0], &p.images[5], &p.images[9]);
    let file_name = c.path.rsplit('/').next().unwrap().to_string();
    for (image, class) in [
        (a.id.0.to_string(), "Monocyte"),
        (b.path.clone(), "lbl"),
        (file_name, "Segmented neutrophil"),
    ] {
        let out = label(
            &path,
            &["--image", &image, "--class", class, "--annotator", "ann"],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).starts_with("labelled image "),
            "{}",
            text(&out.stdout)
        );
    }
    let saved = Project::load(&path).unwrap();
    let t = &saved.taxonomy;
    assert_eq!(
        saved.image(a.id).unwrap().current,
        t.find("Monocyte").unwrap()
    );
    assert_eq!(
        saved.image(b.id).unwrap().current,
        t.find("Lymphoblast").unwrap()
    );
    let want = t.find("Segmented neutrophil").unwrap();
    assert_eq!(saved.image(c.id).unwrap().current, want);
    assert_eq!(saved.journal_seq, 3, "the file caught up with the journal");
    let journal = Journal::read(&Journal::path_for(&path)).unwrap().entries;
    assert_eq!(journal.len(), 3);
    assert!(journal.iter().all(|e| e.annotator == "ann"));
    let out = text(&label(&path, &["--image", &c.id.0.to_string(), "--class", "NGS"]).stdout);
    assert!(
        out.ends_with("as Segmented neutrophil, unchanged\n"),
        "{out}"
    );
}

#[test]
fn an_unknown_image_or_class_is_refused_in_words_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo(dir.path());
    let before = on_disk(&path);
    let out = label(
        &path,
        &["--image", "no-such-cell.png", "--class", "Monocyte"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no image \"no-such-cell.png\""),
        "{}",
        text(&out.stderr)
    );
    let out = label(&path, &["--image", "0", "--class", "Dragon"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("no class \"Dragon\"") && err.contains("Lymphoblast"),
        "{err}"
    );
    assert_eq!(on_disk(&path), before);
    let out = label(&path, &["--image", "0"]);
    assert_ne!(out.status.code(), Some(0), "--image needs --class");
}

#[test]
fn a_batch_is_applied_whole_with_each_rows_annotator() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo(dir.path());
    let p = Project::load(&path).unwrap();
    let csv = dir.path().join("labels.csv");
    std::fs::write(
        &csv,
        format!(
            "path,class,annotator\n{},Monocyte,anna\n\n{},LBL\n{},Monocyte,ben\n{},Monocyte,anna\n{},Eosinophil,ben\n",
            p.images[1].path, p.images[2].path, p.images[3].path, p.images[4].path, p.images[4].path
        ),
    )
    .unwrap();
    let out = label(
        &path,
        &["--from", csv.to_str().unwrap(), "--annotator", "cli"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 5);
    let ws = Workspace::open(&path).unwrap();
    let t = &ws.project.taxonomy;
    let current = |k: usize| ws.project.image(p.images[k].id).unwrap().current;
    assert_eq!(current(1), t.find("Monocyte").unwrap());
    assert_eq!(current(2), t.find("Lymphoblast").unwrap());
    assert_eq!(current(3), t.find("Monocyte").unwrap());
    let who: Vec<(ImageId, String)> = ws
        .history()
        .unwrap()
        .into_iter()
        .map(|e| (e.image, e.annotator))
        .collect();
    for (k, name) in [(1, "anna"), (2, "cli"), (3, "ben")] {
        assert!(who.contains(&(p.images[k].id, name.to_string())), "{who:?}");
    }
    // Two annotators may disagree on one image: each one's class is kept.
    let given = &ws.project.image(p.images[4].id).unwrap().given;
    assert_eq!(given.get("anna"), t.find("Monocyte").as_ref());
    assert_eq!(given.get("ben"), t.find("Eosinophil").as_ref());
}

#[test]
fn a_batch_with_bad_rows_changes_nothing_and_names_every_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo(dir.path());
    let p = Project::load(&path).unwrap();
    let before = on_disk(&path);
    let csv = dir.path().join("labels.csv");
    std::fs::write(
        &csv,
        format!(
            "{},Monocyte\nghost.png,Monocyte\n{},Dragon\n{},LBL\n{},Monocyte\n",
            p.images[1].path, p.images[2].path, p.images[3].path, p.images[3].path
        ),
    )
    .unwrap();
    let out = label(&path, &["--from", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("nothing was labelled: 3 row(s)"), "{err}");
    assert!(
        err.contains("row 2: the project has no image \"ghost.png\""),
        "{err}"
    );
    assert!(
        err.contains("row 3: the project has no class \"Dragon\""),
        "{err}"
    );
    assert!(err.contains("row 5: image"), "{err}");
    assert!(!err.contains("row 1:") && !err.contains("row 4:"), "{err}");
    assert_eq!(on_disk(&path), before);

    std::fs::write(&csv, "a.png\n").unwrap();
    let err = text(&label(&path, &["--from", csv.to_str().unwrap()]).stderr);
    assert!(err.contains("row 1: 1 field(s)"), "{err}");
    assert_eq!(on_disk(&path), before);
}
