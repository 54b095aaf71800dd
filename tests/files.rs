//! Files from the real world: class names mapped onto the taxonomy (and the mapping shown and
//! overridable), the same image under two classes, small images, special folder entries,
//! messages that quote input, damaged project and journal files, a wrong dataset folder.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use image::{ImageBuffer, Rgb, RgbImage};
use leukolens::dataset::{self, Layout, MappingOverrides};
use leukolens::project::query::{Filter, Sort, label_conflicts, select};
use leukolens::project::{Journal, Project, Workspace};
use leukolens::taxonomy::Taxonomy;
use leukolens::train::Task;

fn none(_: usize, _: usize) {}

/// A small image whose pixels depend on `seed` (distinct seeds, distinct content).
fn cell(seed: u8, w: u32, h: u32) -> RgbImage {
    ImageBuffer::from_fn(w, h, |x, y| {
        Rgb([
            seed.wrapping_add(x as u8),
            seed.wrapping_mul(7).wrapping_add(y as u8),
            seed ^ 0x5a,
        ])
    })
}

fn write_cell(path: &Path, seed: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    cell(seed, 24, 20).save(path).unwrap();
}

/// The folders of issue #15: `blast`, `lymphocytes`, `Neutrophil_Segmented`, `UNKNOWN`.
fn cytologist_folder(root: &Path) {
    let mut seed = 0;
    for (folder, n) in [
        ("blast", 3),
        ("lymphocytes", 2),
        ("Neutrophil_Segmented", 2),
        ("UNKNOWN", 1),
    ] {
        for k in 0..n {
            seed += 1;
            write_cell(&root.join(folder).join(format!("{k}.png")), seed);
        }
    }
}

fn leukolens(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_leukolens"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn folder_names_map_onto_the_taxonomy_and_the_binary_task_finds_the_blasts() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cells");
    cytologist_folder(&root);
    let out = dataset::import(&root, None, Taxonomy::default_allidb(), &none).unwrap();
    let tax = &out.taxonomy;
    let class_of = |p: &str| {
        let c = out.images.iter().find(|i| i.rel_path == p).unwrap().class;
        (tax.name(c), tax.is_positive(c))
    };
    assert_eq!(class_of("blast/0.png"), ("Blast".into(), true));
    assert_eq!(
        class_of("lymphocytes/0.png"),
        ("Typical lymphocyte".into(), false)
    );
    assert_eq!(
        class_of("Neutrophil_Segmented/1.png"),
        ("Segmented neutrophil".into(), false)
    );
    assert_eq!(class_of("UNKNOWN/0.png"), ("UNKNOWN".into(), false));
    // Only the two unmatched names became classes of their own.
    assert_eq!(tax.len(), 12);
    // The mapping is in the report, with counts.
    let rows: Vec<(String, String, usize, bool)> = out
        .report
        .mapping
        .iter()
        .map(|r| (r.source.clone(), r.class.clone(), r.count, r.new_class))
        .collect();
    assert_eq!(
        rows,
        [
            (
                "Neutrophil_Segmented".into(),
                "Segmented neutrophil".into(),
                2,
                false
            ),
            ("UNKNOWN".into(), "UNKNOWN".into(), 1, true),
            ("blast".into(), "Blast".into(), 3, true),
            ("lymphocytes".into(), "Typical lymphocyte".into(), 2, false),
        ]
    );
    // The binary task (blast vs rest) has its positives.
    let positives = out
        .images
        .iter()
        .filter(|im| Task::Binary.target(tax, im.class) == Some(1))
        .count();
    assert_eq!(positives, 3);
    assert!(Task::Binary.check(tax).is_ok());
}

#[test]
fn the_mapping_is_proposed_before_import_and_overrides_replace_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cells");
    cytologist_folder(&root);
    let tax = Taxonomy::default_allidb();
    let proposal = dataset::propose_mapping(&root, None, &tax, &MappingOverrides::new()).unwrap();
    assert_eq!(proposal.layout, Layout::ImageFolder);
    let blast = proposal.rows.iter().find(|r| r.source == "blast").unwrap();
    assert_eq!(
        (blast.class.as_str(), blast.count, blast.positive),
        ("Blast", 3, true)
    );
    // Proposing writes nothing and leaves the taxonomy as it was.
    assert_eq!(tax, Taxonomy::default_allidb());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // The user maps UNKNOWN to smudge cells and the blasts to myeloblasts (by any spelling).
    let map = dir.path().join("mapping.csv");
    std::fs::write(&map, "source,class\nunknown,smudge\nblast,Myeloblast\n").unwrap();
    let overrides = dataset::read_mapping_csv(&map).unwrap();
    let out = dataset::import_with(&root, None, tax.clone(), &overrides, &none).unwrap();
    let t = &out.taxonomy;
    let class_of = |p: &str| t.name(out.images.iter().find(|i| i.rel_path == p).unwrap().class);
    assert_eq!(class_of("UNKNOWN/0.png"), "Smudge cell");
    assert_eq!(class_of("blast/2.png"), "Myeloblast");
    assert!(t.is_positive(t.find("Myeloblast").unwrap()));
    assert!(t.find("UNKNOWN").is_none() && t.find("Blast").is_none());
    // The GUI's edited proposal gives the same result through the same function.
    let again = dataset::propose_mapping(&root, None, &tax, &overrides).unwrap();
    assert_eq!(again.overrides()["blast"], "Myeloblast");

    // A mapping file that is not `source,class` is refused with its line.
    std::fs::write(&map, "blast,Blast\nlymphocytes\n").unwrap();
    let e = dataset::read_mapping_csv(&map).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("source,class"), "{e}");
    // An override that names no source of the dataset is a note (a typo), not silence.
    let typo = MappingOverrides::from([("blasst".to_string(), "Blast".to_string())]);
    let out = dataset::import_with(&root, None, tax, &typo, &none).unwrap();
    assert!(
        out.report.notes.iter().any(|n| n.contains("\"blasst\"")),
        "{:?}",
        out.report.notes
    );
}

#[test]
fn import_prints_the_mapping_and_map_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cells");
    cytologist_folder(&root);
    let map = dir.path().join("m.csv");
    std::fs::write(&map, "UNKNOWN,Plasma cell\n").unwrap();
    let project = dir.path().join("p.ron");
    let o = leukolens(&[
        "import",
        root.to_str().unwrap(),
        "-o",
        project.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("class mapping (source name → class, files):"),
        "{t}"
    );
    assert!(
        t.contains("\"blast\"                → Blast (new class, positive), 3"),
        "{t}"
    );
    assert!(
        t.contains("\"lymphocytes\"          → Typical lymphocyte, 2"),
        "{t}"
    );
    assert!(
        t.contains("\"UNKNOWN\"              → Plasma cell (new class), 1"),
        "{t}"
    );
    // The mapping comes before the project is written.
    assert!(t.find("class mapping").unwrap() < t.find("wrote").unwrap());
    let p = Project::load(&project).unwrap();
    assert!(p.taxonomy.find("Plasma cell").is_some());
}

#[test]
fn the_same_image_under_two_classes_is_a_label_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cells");
    write_cell(&root.join("monocyte/m.png"), 1);
    write_cell(&root.join("basophil/b.png"), 2);
    write_cell(&root.join("basophil/b-copy.png"), 2); // same class: a duplicate
    std::fs::create_dir_all(root.join("eosinophil")).unwrap();
    std::fs::copy(
        root.join("monocyte/m.png"),
        root.join("eosinophil/same.png"),
    )
    .unwrap();
    let out = dataset::import(&root, None, Taxonomy::default_allidb(), &none).unwrap();
    assert_eq!(
        out.images.len(),
        4,
        "both conflicting files are imported, and listed"
    );
    assert_eq!(out.report.duplicates.len(), 1);
    assert_eq!(out.report.conflicts.len(), 1);
    let c = &out.report.conflicts[0];
    assert!(c.first.ends_with("eosinophil/same.png"), "{c:?}");
    assert_eq!(c.first_class, "Eosinophil");
    assert!(c.second.ends_with("monocyte/m.png"));
    assert_eq!(c.second_class, "Monocyte");
    let shown = out.report.to_string();
    assert!(
        shown.contains("label conflicts: 1 file(s) with the same content")
            && shown.contains("m.png\" (Monocyte) = ")
            && shown.contains("same.png\" (Eosinophil)"),
        "{shown}"
    );
    // In the project, the gallery's filter shows exactly the two.
    let path = dir.path().join("p.ron");
    let ws = Workspace::create(&path, Project::from_import("p", &path, &out, 1)).unwrap();
    let p = &ws.project;
    let conflicts = label_conflicts(p);
    assert_eq!(conflicts.len(), 2);
    let filter = Filter {
        conflicts_only: true,
        ..Default::default()
    };
    let shown: Vec<String> = select(p, &filter, Sort::FileName)
        .iter()
        .map(|id| p.image(*id).unwrap().path.clone())
        .collect();
    assert_eq!(shown, ["eosinophil/same.png", "monocyte/m.png"]);
}

#[test]
fn images_smaller_than_the_network_input_are_counted_in_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cells");
    write_cell(&root.join("monocyte/small1.png"), 1);
    write_cell(&root.join("monocyte/small2.png"), 2);
    std::fs::create_dir_all(root.join("basophil")).unwrap();
    cell(3, 300, 260)
        .save(root.join("basophil/big.png"))
        .unwrap();
    let out = dataset::import(&root, None, Taxonomy::default_allidb(), &none).unwrap();
    assert_eq!(out.report.small, 2);
    let shown = out.report.to_string();
    assert!(
        shown.contains(
            "warning: 2 images are smaller than the network input (257×257 px); training upscales them"
        ),
        "{shown}"
    );
}

/// Hidden files, a folder named like an image, a dangling link, a link loop, a named pipe and
/// a name with a newline: each is listed with its reason, names quoted on one line each.
#[cfg(unix)]
#[test]
fn special_entries_are_skipped_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cells");
    write_cell(&root.join("monocyte/good.png"), 1);
    write_cell(&root.join("monocyte/.hidden.png"), 2);
    write_cell(&root.join(".thumbnails/t.png"), 3);
    std::fs::create_dir_all(root.join("monocyte/folder.png")).unwrap();
    let m = root.join("monocyte");
    std::os::unix::fs::symlink(m.join("nowhere.png"), m.join("dangling.png")).unwrap();
    std::os::unix::fs::symlink(m.join("loop-b.png"), m.join("loop-a.png")).unwrap();
    std::os::unix::fs::symlink(m.join("loop-a.png"), m.join("loop-b.png")).unwrap();
    let fifo = std::ffi::CString::new(m.join("pipe.png").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    write_cell(&m.join("two\nlines.png"), 4);

    std::fs::write(m.join("bad\nname.png"), b"not an image").unwrap();

    let out = dataset::import(&root, None, Taxonomy::default_allidb(), &none).unwrap();
    let mut names: Vec<&str> = out.images.iter().map(|i| i.rel_path.as_str()).collect();
    names.sort();
    assert_eq!(names, ["monocyte/good.png", "monocyte/two\nlines.png"]);
    let reason = |name: &str| {
        out.report
            .skipped
            .iter()
            .find(|(p, _)| p.file_name().unwrap() == name)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{name} not listed: {:?}", out.report.skipped))
    };
    assert!(reason(".hidden.png").contains("hidden"));
    assert!(reason(".thumbnails").contains("hidden"));
    assert!(reason("folder.png").contains("a folder named like an image"));
    assert!(reason("dangling.png").contains("broken symbolic link"));
    assert!(reason("loop-a.png").contains("link loop"));
    assert!(reason("loop-b.png").contains("link loop"));
    assert!(reason("pipe.png").contains("named pipe"));
    assert!(reason("bad\nname.png").contains("not an image"));
    assert_eq!(out.report.skipped.len(), 8);
    // Every report line is one line: the newline in a name is escaped.
    let shown = out.report.to_string();
    assert!(
        shown.contains("monocyte/bad\\nname.png\": not an image"),
        "{shown}"
    );
    assert!(!shown.contains("bad\nname"), "{shown}");
}

/// A named pipe is "not a regular file" (and reading it does not block); a /proc file, whose
/// size the system reports as 0, is read and found not to be an image, not "empty".
#[cfg(target_os = "linux")]
#[test]
fn pipes_and_proc_files_are_not_called_empty() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("p.png");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let e = dataset::load_rgb8(&fifo).unwrap_err().to_string();
    assert!(e.contains("named pipe") && !e.contains("empty"), "{e}");
    let e = dataset::load_rgb8(Path::new("/proc/self/status"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not an image"), "{e}");
}

/// A JPEG cut to 3 of its 16 KB decodes "successfully" (grey fill) in the decoder: import
/// refuses it as truncated.
#[test]
fn a_truncated_jpeg_is_not_imported_as_valid() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cells");
    std::fs::create_dir_all(root.join("monocyte")).unwrap();
    let noisy: RgbImage = ImageBuffer::from_fn(96, 96, |x, y| {
        let v = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) as u8;
        Rgb([v, v.wrapping_mul(3), v ^ 0x33])
    });
    let full = root.join("monocyte/full.jpg");
    noisy.save(&full).unwrap();
    let bytes = std::fs::read(&full).unwrap();
    assert!(bytes.len() > 8_000, "{}", bytes.len());
    std::fs::write(
        root.join("monocyte/cut.jpg"),
        &bytes[..bytes.len() * 3 / 16],
    )
    .unwrap();
    let out = dataset::import(&root, None, Taxonomy::default_allidb(), &none).unwrap();
    assert_eq!(out.images.len(), 1);
    assert_eq!(out.report.skipped.len(), 1);
    assert!(
        out.report.skipped[0].1.contains("truncated")
            && out.report.skipped[0].1.contains("cut short"),
        "{:?}",
        out.report.skipped
    );
}

#[test]
fn import_into_a_path_under_a_file_says_not_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cells");
    write_cell(&root.join("monocyte/a.png"), 1);
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let o = leukolens(&[
        "import",
        root.to_str().unwrap(),
        "-o",
        file.join("y.ron").to_str().unwrap(),
    ]);
    let t = text(&o);
    assert!(!o.status.success());
    assert!(t.contains("is a file, not a directory"), "{t}");
    assert!(!t.contains("os error 17"), "{t}");
}

fn small_project(dir: &Path) -> PathBuf {
    let root = dir.join("cells");
    write_cell(&root.join("monocyte/a.png"), 1);
    write_cell(&root.join("basophil/b.png"), 2);
    let out = dataset::import(&root, None, Taxonomy::default_allidb(), &none).unwrap();
    let path = dir.join("p.ron");
    Workspace::create(&path, Project::from_import("p", &path, &out, 1)).unwrap();
    path
}

#[test]
fn invalid_utf8_in_the_project_file_gets_line_column_and_the_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_project(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.iter().position(|&b| b == b'\n').unwrap() + 5; // line 2, column 5
    bytes[at] = 0xFF;
    std::fs::write(&path, &bytes).unwrap();
    let e = Project::load(&path).unwrap_err().to_string();
    assert!(e.contains("line 2, column 5"), "{e}");
    assert!(e.contains("not valid UTF-8"), "{e}");
    assert!(
        e.contains("the file was left untouched; there is no backup of it"),
        "{e}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn duplicate_image_ids_in_a_project_file_are_an_error_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_project(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    let images = text.find("images: [").unwrap();
    let twice = format!(
        "{}{}",
        &text[..images],
        text[images..].replacen("id: 1,", "id: 0,", 1)
    );
    assert_ne!(twice, text);
    let e = Project::from_ron(&twice, &path).unwrap_err().to_string();
    assert!(e.contains("image id 0 is used twice"), "{e}");
    assert!(
        e.contains("\"basophil/b.png\"") && e.contains("\"monocyte/a.png\""),
        "{e}"
    );
}

#[test]
fn only_the_last_journal_line_is_called_torn_and_long_lines_are_cut() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_project(dir.path());
    let jpath = Journal::path_for(&path);
    let garbage = "(".repeat(2_000_000);
    std::fs::write(
        &jpath,
        format!("{garbage}\nnot a journal line\n(seq: 3, tim"),
    )
    .unwrap();
    let ws = Workspace::open(&path).unwrap();
    let notes = &ws.open_notes;
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(
        notes[0].contains("line 1 ignored (damaged; not the last line"),
        "{}",
        &notes[0][..200]
    );
    assert!(
        notes[1].contains("line 2 ignored (damaged; not the last line"),
        "{}",
        notes[1]
    );
    assert!(notes[2].contains("line 3 ignored (damaged, likely cut short by a crash)"));
    assert!(
        notes.iter().all(|n| n.len() < 1_000),
        "a note quotes at most a few hundred characters"
    );
    // `info` prints them, not the line.
    let o = leukolens(&["info", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(o.stdout.len() < 10_000, "{} bytes printed", o.stdout.len());
}

#[test]
fn a_wrong_dataset_folder_says_relink_first_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_project(dir.path());
    let mut p = Project::load(&path).unwrap();
    std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
    let exp = leukolens::train::ExperimentConfig {
        name: "e".into(),
        task: Task::Groups {
            positive: vec![p.taxonomy.find("Monocyte").unwrap()],
            negative: vec![p.taxonomy.find("Basophil").unwrap()],
        },
        train: leukolens::train::TrainConfig::quick(),
        n_train: 1,
        n_val: 1,
        n_test: None,
        seed: 1,
    };
    // With the right folder, training says how many images it upscales.
    let data = leukolens::train::experiment::prepare(&p, &path, &exp, &none).unwrap();
    assert_eq!(data.upscaled, 2);
    p.dataset_root = "elsewhere".into();
    let e = leukolens::train::experiment::prepare(&p, &path, &exp, &none)
        .err()
        .unwrap();
    assert!(e.starts_with("the dataset folder"), "{e}");
    assert!(
        e.contains("does not hold this project's images (2 of 2 are missing)"),
        "{e}"
    );
    assert!(e.contains("leukolens relink"), "{e}");
    // The command line says it and stops: no skipped-image lines before it.
    p.save(&path).unwrap();
    let o = leukolens(&[
        "train",
        path.to_str().unwrap(),
        "--task",
        "groups",
        "--positive",
        "Monocyte",
        "--negative",
        "Basophil",
    ]);
    let t = text(&o);
    assert!(!o.status.success());
    assert!(t.contains("\nerror: the dataset folder"), "{t}");
    assert!(!t.contains("skipped image"), "{t}");
}

#[test]
fn a_hundred_thousand_repeated_csv_rows_give_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    write_cell(&dir.path().join("img/a.png"), 1);
    write_cell(&dir.path().join("img/b.png"), 2);
    let mut csv = String::from("path,label\nimg/a.png,monocyte\nimg/b.png,basophil\n");
    for _ in 0..100_000 {
        csv.push_str("img/a.png,monocyte\n");
    }
    let csv_path = dir.path().join("labels.csv");
    std::fs::write(&csv_path, csv).unwrap();
    let out = dataset::import(&csv_path, None, Taxonomy::default_allidb(), &none).unwrap();
    assert_eq!(out.images.len(), 2);
    assert!(out.report.notes.len() <= 7, "{}", out.report.notes.len());
    assert!(
        out.report
            .notes
            .iter()
            .any(|n| n.contains("99995 more rows like these (repeated), 100000 in all")),
        "{:?}",
        out.report.notes
    );
}
