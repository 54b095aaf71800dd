//! The annotation workspace driven as a user would (egui_kittest; no GPU, no display).
#![allow(clippy::unwrap_used)]
#![cfg(feature = "gui")]

use std::path::Path;

use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use leukolens::project::{ImageId, Journal, Project, Workspace};
use leukolens::taxonomy::Taxonomy;
use leukolens::ui::Settings;
use leukolens::ui::{Command, LeukoApp, TaxonomyEdit, Window};

/// A project of 12 small images in three classes, and an app with it open.
fn app_with_project(dir: &Path) -> LeukoApp {
    app_with_project_as(dir, Some("tester"))
}

/// [`app_with_project`] with the annotator given (None: the app asks for one).
fn app_with_project_as(dir: &Path, annotator: Option<&str>) -> LeukoApp {
    let data = dir.join("data");
    for (class, n) in [("monocyte", 4), ("basophil", 4), ("eosinophil", 4)] {
        for k in 0..n {
            let p = data.join(class).join(format!("{class}_{k}.png"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            let v = (k * 30 + class.len() * 10) as u8;
            image::RgbImage::from_pixel(16, 16, image::Rgb([v, 80, 120]))
                .save(&p)
                .unwrap();
        }
    }
    let out =
        leukolens::dataset::import(&data, None, Taxonomy::default_allidb(), &|_, _| {}).unwrap();
    let path = dir.join("t.ron");
    Workspace::create(&path, Project::from_import("t", &path, &out, 1)).unwrap();
    let settings = Settings {
        annotator: annotator.map(String::from),
        auto_advance: false,
        thumb_size: 64.0,
        ..Default::default()
    };
    let mut app = LeukoApp::new(settings, None, None);
    app.open(&path);
    assert!(app.project().is_some(), "{:?}", app.messages());
    app
}

/// The demo project (8 cells per class, 190 px) opened in a fresh app.
fn demo_app(dir: &Path) -> (std::path::PathBuf, LeukoApp) {
    let path = leukolens::demo::create_demo_project(&dir.join("demo"), 8, 190, 3).unwrap();
    demo_app_at(&path)
}

/// A fresh app with the project at `path` open.
fn demo_app_at(path: &Path) -> (std::path::PathBuf, LeukoApp) {
    let path = path.to_path_buf();
    let mut app = LeukoApp::new(
        Settings {
            annotator: Some("t".into()),
            ..Default::default()
        },
        None,
        None,
    );
    app.open(&path);
    (path, app)
}

/// A tiny lymphoblast-vs-neutrophil sweep: 2 folds, 2 epochs, the given sizes.
fn tiny_sweep(t: &Taxonomy, name: &str, sizes: Vec<usize>) -> leukolens::sweep::SweepConfig {
    let mut cfg = leukolens::ui::sweep::quick_demo(7);
    cfg.name = name.into();
    cfg.task = leukolens::train::Task::Groups {
        positive: vec![t.find("Lymphoblast").unwrap()],
        negative: vec![t.find("Segmented neutrophil").unwrap()],
    };
    cfg.train.max_epochs = 2;
    cfg.design = leukolens::sweep::SweepDesign {
        k_folds: 2,
        val: leukolens::sweep::ValSize::Count(4),
        sizes,
        seed: 1,
    };
    cfg
}

fn harness(app: LeukoApp) -> Harness<'static, LeukoApp> {
    Harness::builder()
        .with_size([1100.0, 700.0])
        .build_ui_state(|ui, app: &mut LeukoApp| app.show(ui), app)
}

fn cursor(h: &Harness<'_, LeukoApp>) -> ImageId {
    h.state().project().unwrap().selection.cursor.unwrap()
}

fn path_of(h: &Harness<'_, LeukoApp>, id: ImageId) -> String {
    h.state()
        .project()
        .unwrap()
        .project()
        .image(id)
        .unwrap()
        .path
        .clone()
}

fn current(h: &Harness<'_, LeukoApp>, id: ImageId) -> String {
    let p = h.state().project().unwrap().project();
    p.taxonomy.name(p.image(id).unwrap().current)
}

fn step(h: &mut Harness<'_, LeukoApp>) {
    h.run_ok();
}

#[test]
fn arrows_move_the_selection_and_several_presses_in_one_frame_all_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(app_with_project(dir.path()));
    step(&mut h);
    let order = h.state().project().unwrap().order.clone();
    assert_eq!(cursor(&h), order[0]);
    h.key_press(Key::ArrowRight);
    step(&mut h);
    assert_eq!(cursor(&h), order[1]);
    // Three presses queued before one frame: all three count.
    h.key_press(Key::ArrowRight);
    h.key_press(Key::L);
    h.key_press(Key::ArrowRight);
    h.step();
    step(&mut h);
    assert_eq!(cursor(&h), order[4]);
    h.key_press(Key::H);
    step(&mut h);
    assert_eq!(cursor(&h), order[3]);
    // Down moves by a whole row.
    let cols = h.state().gallery().columns;
    assert!(cols > 1, "the grid has several columns");
    h.key_press(Key::ArrowDown);
    step(&mut h);
    assert_eq!(cursor(&h), order[(3 + cols).min(order.len() - 1)]);
}

#[test]
fn hotkey_assigns_and_undo_redo_work_across_a_bulk_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(app_with_project(dir.path()));
    step(&mut h);
    let first = cursor(&h);
    let before = current(&h, first);
    // '1' = Lymphoblast in the default taxonomy.
    h.key_press(Key::Num1);
    step(&mut h);
    assert_eq!(current(&h, first), "Lymphoblast");
    // Bulk: click the first tile, shift-click the fourth, press 7 (Eosinophil).
    let order = h.state().project().unwrap().order.clone();
    let p0 = path_of(&h, order[0]);
    let p3 = path_of(&h, order[3]);
    h.get_by_label(&p0).click();
    step(&mut h);
    h.get_by_label(&p3).click_modifiers(Modifiers::SHIFT);
    step(&mut h);
    assert_eq!(h.state().project().unwrap().selection.ids.len(), 4);
    h.key_press(Key::Num7);
    step(&mut h);
    for id in &order[0..4] {
        assert_eq!(current(&h, *id), "Eosinophil");
    }
    // Undo the bulk change in one step, then the single change.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    step(&mut h);
    assert_eq!(current(&h, first), "Lymphoblast");
    assert_ne!(current(&h, order[3]), "Eosinophil");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    step(&mut h);
    assert_eq!(current(&h, first), before);
    // Redo both.
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    step(&mut h);
    for id in &order[0..4] {
        assert_eq!(current(&h, *id), "Eosinophil");
    }
    // Every change, undos included, is in the journal with the annotator's name.
    let path = h.state().project().unwrap().ws.path.clone();
    let journal = Journal::read(&Journal::path_for(&path)).unwrap().entries;
    assert_eq!(journal.len(), 1 + 4 + 4 + 1 + 1 + 4);
    assert!(journal.iter().all(|e| e.annotator == "tester"));
}

#[test]
fn ctrl_click_toggles_and_tab_jumps_to_the_next_unreviewed_image() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(app_with_project(dir.path()));
    step(&mut h);
    let order = h.state().project().unwrap().order.clone();
    h.get_by_label(&path_of(&h, order[2]))
        .click_modifiers(Modifiers::COMMAND);
    step(&mut h);
    let sel = h.state().project().unwrap().selection.ids.clone();
    assert!(sel.contains(&order[0]) && sel.contains(&order[2]) && sel.len() == 2);
    // Review the first image (assign its own class), then Tab goes to an unreviewed one.
    h.state_mut().apply(Command::Select(vec![order[0]]));
    let own = h
        .state()
        .project()
        .unwrap()
        .project()
        .image(order[0])
        .unwrap()
        .current;
    h.state_mut().apply(Command::Assign(own));
    h.state_mut().apply(Command::Select(vec![order[1]]));
    h.state_mut().apply(Command::Assign(own));
    h.state_mut().apply(Command::Select(vec![order[0]]));
    step(&mut h);
    h.key_press(Key::Tab);
    step(&mut h);
    assert_eq!(cursor(&h), order[2], "skips the reviewed second image");
}

#[test]
fn filter_changed_shows_exactly_the_relabelled_images() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(app_with_project(dir.path()));
    step(&mut h);
    let order = h.state().project().unwrap().order.clone();
    h.state_mut().apply(Command::Select(vec![order[5]]));
    step(&mut h);
    h.key_press(Key::Num4); // Monocyte
    step(&mut h);
    h.state_mut().apply(Command::Select(vec![order[9]]));
    step(&mut h);
    h.key_press(Key::Num4);
    step(&mut h);
    let relabelled: Vec<ImageId> = h
        .state()
        .project()
        .unwrap()
        .project()
        .images
        .iter()
        .filter(|i| i.current != i.original)
        .map(|i| i.id)
        .collect();
    assert!(!relabelled.is_empty());
    h.get_by_label("changed").click();
    step(&mut h);
    let shown = h.state().project().unwrap().order.clone();
    assert_eq!(shown, relabelled);
    // Tiles of unchanged images are not in the UI any more.
    assert!(h.query_by_label(&path_of(&h, order[0])).is_none());
    assert!(h.query_by_label(&path_of(&h, relabelled[0])).is_some());
}

#[test]
fn taxonomy_editor_refuses_a_duplicate_hotkey_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(app_with_project(dir.path()));
    h.state_mut()
        .apply(Command::SetWindow(Window::Taxonomy, true));
    step(&mut h);
    let t = h.state().project().unwrap().project().taxonomy.clone();
    let mono = t.find("Monocyte").unwrap();
    // Through the command path the editor uses.
    h.state_mut()
        .apply(Command::Taxonomy(TaxonomyEdit::SetHotkey(mono, Some('1'))));
    step(&mut h);
    let t2 = h.state().project().unwrap().project().taxonomy.clone();
    assert_eq!(t2.get(mono).unwrap().hotkey, Some('4'), "unchanged");
    let msg = h.state().messages().last().unwrap();
    assert!(msg.error && msg.text.contains("already bound"), "{msg:?}");
    assert!(
        h.query_by_label_contains("already bound").is_some(),
        "shown in the status bar"
    );
    // A rename through the editor's text field is accepted and saved.
    h.state_mut().apply(Command::Taxonomy(TaxonomyEdit::Rename(
        mono,
        "Monocyte (activated)".into(),
    )));
    step(&mut h);
    let path = h.state().project().unwrap().ws.path.clone();
    let on_disk = Project::load(&path).unwrap();
    assert_eq!(
        on_disk.taxonomy.get(mono).unwrap().name,
        "Monocyte (activated)"
    );
    // Duplicate names are refused too.
    h.state_mut().apply(Command::Taxonomy(TaxonomyEdit::Rename(
        mono,
        "Basophil".into(),
    )));
    assert!(
        h.state()
            .messages()
            .last()
            .unwrap()
            .text
            .contains("already exists")
    );
    // The monocyte row's "down" button moves it one place down, saved; no label changes.
    let labels = |p: &Project| {
        p.images
            .iter()
            .map(|i| (i.current, i.original))
            .collect::<Vec<_>>()
    };
    let before = Project::load(&path).unwrap();
    let at = before.taxonomy.index_of(mono).unwrap();
    h.get_all_by_label("down").nth(at).unwrap().click();
    step(&mut h);
    let after = Project::load(&path).unwrap();
    assert_eq!(after.taxonomy.index_of(mono), Some(at + 1));
    assert_eq!(after.taxonomy.get(mono), before.taxonomy.get(mono));
    assert_eq!(labels(&after), labels(&before));
}

#[test]
fn viewer_opens_with_space_steps_and_assigns() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(app_with_project(dir.path()));
    step(&mut h);
    let order = h.state().project().unwrap().order.clone();
    h.key_press(Key::Space);
    step(&mut h);
    assert!(h.state().viewer_open());
    h.get_by_label("next >").click();
    step(&mut h);
    assert_eq!(cursor(&h), order[1]);
    h.get_by_label_contains("Basophil ·").click();
    step(&mut h);
    assert_eq!(current(&h, order[1]), "Basophil");
    h.key_press(Key::Escape);
    step(&mut h);
    assert!(!h.state().viewer_open());
}

#[test]
fn the_annotator_is_asked_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_project_as(dir.path(), None);
    let mut h = harness(app);
    step(&mut h);
    assert!(h.query_by_label("Annotator name").is_some());
    // Keys do not label images while the prompt is open.
    h.get_by_label("Annotator name").type_text("Dr. Marr");
    step(&mut h);
    h.get_by_label("Start annotating").click();
    step(&mut h);
    assert_eq!(h.state().settings().annotator.as_deref(), Some("Dr. Marr"));
    assert!(h.query_by_label("Annotator name").is_none());
}

#[test]
fn dropping_a_project_file_opens_it_and_a_folder_imports_it() {
    use leukolens::ui::project_menu::dropped_command;
    let c = dropped_command(Path::new("/x/y/p.ron"));
    assert_eq!(c, Command::OpenProject("/x/y/p.ron".into()));
    match dropped_command(Path::new("/data/pbc")) {
        Command::NewProject {
            source,
            layout,
            output,
        } => {
            assert_eq!(source, Path::new("/data/pbc"));
            assert_eq!(layout, None);
            assert!(output.ends_with("pbc.ron"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_corrupt_project_is_a_readable_message_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.ron");
    std::fs::write(&bad, "(version: 1, name: \"x\", oops").unwrap();
    let mut app = LeukoApp::new(Settings::default(), None, None);
    app.open(&bad);
    assert!(app.project().is_none());
    let m = app.messages().last().unwrap();
    assert!(m.error && m.text.contains("line 1"), "{m:?}");
    let mut h = harness(app);
    step(&mut h);
    assert!(h.query_by_label_contains("No project open").is_some());
}

#[test]
fn drag_a_box_to_select_several_images_then_assign_them_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(app_with_project(dir.path()));
    step(&mut h);
    let order = h.state().project().unwrap().order.clone();
    let a = h.get_by_label(&path_of(&h, order[0])).rect();
    let b = h.get_by_label(&path_of(&h, order[2])).rect();
    // Press in the gap just below the first tile, drag to the middle of the third, release.
    let start = a.left_bottom() + egui::vec2(5.0, 3.0);
    let end = b.center();
    h.event(egui::Event::PointerMoved(start));
    h.event(egui::Event::PointerButton {
        pos: start,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    h.step();
    for k in 1..=5 {
        let p = start + (end - start) * (k as f32 / 5.0);
        h.event(egui::Event::PointerMoved(p));
        h.step();
    }
    h.event(egui::Event::PointerButton {
        pos: end,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    step(&mut h);
    let sel = h.state().project().unwrap().selection.ids.clone();
    assert_eq!(sel.len(), 3, "the box covers three tiles: {sel:?}");
    assert!(order[..3].iter().all(|id| sel.contains(id)));
    h.key_press(Key::Num4); // Monocyte
    step(&mut h);
    for id in &order[..3] {
        assert_eq!(current(&h, *id), "Monocyte");
    }
    assert_ne!(current(&h, order[3]), "Monocyte", "outside the box");
}

#[test]
fn export_labels_and_save_as_keep_every_label() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_with_project(dir.path());
    let order = app.project().unwrap().order.clone();
    app.apply(Command::Select(vec![order[1]]));
    let eos = app
        .project()
        .unwrap()
        .project()
        .taxonomy
        .find("Eosinophil")
        .unwrap();
    app.apply(Command::Assign(eos));
    let csv = dir.path().join("out/labels.csv");
    app.apply(Command::ExportLabels(csv.clone()));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 13, "header + 12 images");
    let p = app
        .project()
        .unwrap()
        .project()
        .image(order[1])
        .unwrap()
        .path
        .clone();
    let row = text.lines().find(|l| l.contains(&p)).unwrap();
    assert!(row.contains("\"Eosinophil\",true"), "{row}");
    // Save as a new file elsewhere: the label is there and the dataset is still found.
    let other = dir.path().join("elsewhere/copy.ron");
    app.apply(Command::SaveAs(other.clone()));
    assert!(
        !app.messages().last().unwrap().error,
        "{:?}",
        app.messages()
    );
    let copy = Project::load(&other).unwrap();
    assert_eq!(copy.image(order[1]).unwrap().current, eos);
    assert!(
        copy.dataset_dir(&other)
            .join(&copy.image(order[1]).unwrap().path)
            .is_file()
    );
    assert_eq!(app.project().unwrap().ws.path, other);
}

#[test]
fn the_annotator_field_has_the_keyboard_focus_without_a_click() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_project_as(dir.path(), None);
    let mut h = harness(app);
    step(&mut h);
    h.event(egui::Event::Text("Ada".into()));
    step(&mut h);
    h.key_press(Key::Enter);
    step(&mut h);
    assert_eq!(h.state().settings().annotator.as_deref(), Some("Ada"));
}

/// Polls the app (as the frame loop does) until `done` or a timeout.
fn wait_for(app: &mut LeukoApp, done: impl Fn(&LeukoApp) -> bool) {
    let start = std::time::Instant::now();
    while !done(app) {
        assert!(
            start.elapsed().as_secs() < 60,
            "timed out; messages: {:?}",
            app.messages()
        );
        app.poll_jobs();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn new_project_imports_in_the_background_and_locate_dataset_relinks_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("cells");
    for (class, n) in [("monocyte", 3), ("eosinophil", 2)] {
        for k in 0..n {
            let p = data.join(class).join(format!("{k}.png"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            image::RgbImage::from_pixel(12, 12, image::Rgb([k as u8 * 50, class.len() as u8, 9]))
                .save(&p)
                .unwrap();
        }
    }
    std::fs::write(data.join("monocyte/broken.png"), b"not a png").unwrap();
    let mut app = LeukoApp::new(
        Settings {
            annotator: Some("t".into()),
            ..Default::default()
        },
        None,
        None,
    );
    let output = dir.path().join("projects/cells.ron");
    app.apply(Command::NewProject {
        source: data.clone(),
        layout: None,
        output: output.clone(),
    });
    // The class mapping is shown first; nothing is written before it is confirmed.
    wait_for(&mut app, |a| a.pending_import().is_some());
    let pending = app.pending_import().unwrap();
    assert_eq!(pending.proposal.rows.len(), 2);
    assert!(!output.exists());
    let import = pending.import_command();
    app.apply(import);
    wait_for(&mut app, |a| a.project().is_some());
    assert_eq!(app.project().unwrap().project().images.len(), 5);
    assert!(
        app.messages().iter().any(|m| m.text.contains("broken.png")),
        "the import report names the skipped file: {:?}",
        app.messages()
    );
    // The dataset moves; Locate dataset re-links it by content.
    let moved = dir.path().join("moved");
    std::fs::rename(&data, &moved).unwrap();
    app.apply(Command::Relink(moved.clone()));
    wait_for(&mut app, |a| {
        a.messages().iter().any(|m| m.text.starts_with("re-linked"))
    });
    assert!(app.messages().last().unwrap().text.contains("found 5 of 5"));
    let p = app.project().unwrap();
    for im in &p.project().images {
        assert!(
            p.project().image_path(&p.ws.path, im).is_file(),
            "{}",
            im.path
        );
    }
    assert_eq!(
        Project::load(&output).unwrap().dataset_dir(&output),
        p.project().dataset_dir(&output)
    );
}

/// Steps the harness (as the frame loop does) until `done` holds, failing after 120 s.
fn step_until(h: &mut Harness<'_, LeukoApp>, what: &str, mut done: impl FnMut(&LeukoApp) -> bool) {
    let start = std::time::Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed().as_secs() < 120,
            "{what}; messages: {:?} {:?}",
            h.state().messages(),
            h.state().explain().messages
        );
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn a_sweep_runs_in_the_background_and_fills_the_auc_vs_size_plot() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut app) = demo_app(dir.path());
    let t = app.project().unwrap().project().taxonomy.clone();
    app.apply(Command::StartSweep(tiny_sweep(&t, "test", vec![2, 6])));
    assert!(app.sweep().open && app.sweep().is_running());
    let mut h = harness(app);
    let mut saw_progress = false;
    step_until(&mut h, "sweep did not finish", |a| {
        saw_progress |= a.sweep().current.is_some();
        a.sweep().finished
    });
    h.step();
    let s = h.state().sweep();
    assert!(saw_progress, "progress was shown while running");
    assert_eq!(s.records.len(), 4, "2 folds × 2 sizes");
    assert_eq!(s.progress, (4, 4));
    assert!(s.records.iter().all(|r| r.test_auc.is_some()));
    assert!(h.query_by_label_contains("4 of 4 runs finished").is_some());
    // With nothing training, the learning curve is the last finished run's; clicking a run in
    // the table shows that run's instead, and clicking it again goes back.
    let last = s.records.last().unwrap().key;
    assert!(
        h.query_by_label_contains(&format!(
            "Run: fold {}, {} training images",
            last.fold + 1,
            last.size
        ))
        .is_some()
    );
    // The runs table is at the bottom of the (scrolling) window, as a user scrolls to it.
    h.get_all_by_label("fold 2").next().unwrap().scroll_to_me();
    for _ in 0..10 {
        h.step();
    }
    h.get_all_by_label("fold 2").next().unwrap().click();
    h.step();
    h.step();
    let chosen = h.state().sweep().shown_run.expect("a run was chosen");
    assert_eq!(chosen.fold, 1);
    assert!(
        h.query_by_label_contains(&format!("Run: fold 2, {} training images", chosen.size))
            .is_some()
    );
    h.get_by_label("unpin").scroll_to_me();
    for _ in 0..10 {
        h.step();
    }
    h.get_by_label("unpin").click();
    h.step();
    h.step();
    assert_eq!(h.state().sweep().shown_run, None);
    // The runs are stored in the project folder.
    let sweep = leukolens::sweep::SweepDir::of(&path, "test");
    assert_eq!(sweep.runs().len(), 4);
    let sweep_dir = sweep.path();

    // ROC at the largest size with the mean AUC ± sd, and the per-class table.
    assert!(
        h.query_all_by_label_contains("mean ROC, AUC")
            .next()
            .is_some()
    );
    assert!(h.query_by_label("precision").is_some());

    // Clicking the fullest confusion-matrix cell shows exactly its images in the gallery.
    let s = h.state().sweep();
    let names = s.output_names.clone();
    let largest = *leukolens::sweep::results::sizes(&s.records).last().unwrap();
    let c = leukolens::sweep::results::confusion_at(&s.records, largest, 2).unwrap();
    assert_eq!(
        c.matrix.total(),
        16,
        "every image of the 2 classes tested once"
    );
    let (t, p) = (0..2)
        .flat_map(|t| (0..2).map(move |p| (t, p)))
        .max_by_key(|&(t, p)| c.matrix.counts[t][p])
        .unwrap();
    let label = format!("true {}, predicted {}", names[t], names[p]);
    h.get_by_label(&label).click();
    h.step();
    h.step();
    let mut shown = h.state().project().unwrap().order.clone();
    let mut want = c.cells[t][p].clone();
    shown.sort();
    want.sort();
    assert_eq!(shown, want);

    // The latest cross-validated predictions reach the gallery (filter, sort, tiles).
    let p = h.state().project().unwrap();
    assert_eq!(p.predicted.len(), 16);
    assert_eq!(p.prediction_names, names);
    // The sweep window covers the gallery's toolbar: close it, as a user would.
    h.state_mut()
        .apply(Command::SetWindow(Window::Sweep, false));
    h.step();
    h.get_by_label("show all").click();
    h.step();
    h.step();
    assert_eq!(h.state().project().unwrap().order.len(), 8 * 10);
    h.get_by_label("show predictions").click();
    h.step();
    h.step();
    assert!(h.state().settings().show_predictions);

    // Export: report, tables and figures in the sweep's folder.
    h.state_mut().apply(Command::SetWindow(Window::Sweep, true));
    h.step();
    h.step();
    h.get_by_label("Export report").click();
    h.step();
    h.step();
    for f in [
        "report.html",
        "runs.csv",
        "predictions.csv",
        "score_vs_size.svg",
        &format!("roc_n{largest}.svg"),
        &format!("confusion_n{largest}.svg"),
    ] {
        assert!(sweep_dir.join("report").join(f).is_file(), "{f} written");
    }
    let runs_csv = std::fs::read_to_string(sweep_dir.join("report/runs.csv")).unwrap();
    assert_eq!(runs_csv.lines().count(), 5);

    // Exported again over a file the user changed: nothing is written until they answer.
    std::fs::write(sweep_dir.join("report/runs.csv"), "mine").unwrap();
    h.state_mut().apply(Command::ExportSweepReport);
    h.step();
    h.step();
    assert!(
        h.query_by_label("Replace").is_some(),
        "the app asks: {:?}",
        h.state().messages()
    );
    let read = || std::fs::read_to_string(sweep_dir.join("report/runs.csv")).unwrap();
    assert_eq!(read(), "mine");
    h.get_by_label("Cancel").click();
    h.step();
    h.step();
    assert_eq!(read(), "mine");
    assert!(h.query_by_label("Replace").is_none());
    h.state_mut().apply(Command::ExportSweepReport);
    h.step();
    h.step();
    h.get_by_label("Replace").click();
    h.step();
    assert_eq!(read(), runs_csv, "replaced when the user says so");
}

#[test]
fn a_paused_sweep_is_offered_for_resuming_when_the_project_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut app) = demo_app(dir.path());
    let t = app.project().unwrap().project().taxonomy.clone();
    app.apply(Command::StartSweep(tiny_sweep(&t, "paused", vec![2, 4, 6])));
    let mut h = harness(app);
    // Pause as soon as the first run is stored.
    step_until(&mut h, "no run finished", |a| !a.sweep().records.is_empty());
    h.get_by_label("Pause").click();
    step_until(&mut h, "pause did not stop the sweep", |a| {
        !a.sweep().is_running()
    });
    h.step();
    let (done, total) = h.state().sweep().progress;
    assert!(
        h.state().sweep().paused && done >= 1 && done < total,
        "{done} of {total}"
    );
    assert!(h.query_by_label("Resume").is_some());
    drop(h);

    // "Restart": a new app opens the project and offers to resume.
    let mut app = LeukoApp::new(
        Settings {
            annotator: Some("t".into()),
            ..Default::default()
        },
        None,
        None,
    );
    app.open(&path); // the same project file, in a new app
    assert_eq!(app.sweep().resume_offer.len(), 1);
    let mut h = harness(app);
    h.step();
    h.step();
    let offer = h
        .query_all_by_label_contains("stopped after")
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>();
    assert!(
        offer
            .iter()
            .any(|t| t.contains(&format!("stopped after {done} of {total} runs"))),
        "{offer:?}"
    );
    h.get_by_label("Resume").click();
    h.step();
    assert!(h.state().sweep().is_running());
    step_until(&mut h, "resumed sweep did not finish", |a| {
        a.sweep().finished
    });
    h.step();
    assert_eq!(h.state().sweep().progress, (total, total));
    assert_eq!(h.state().sweep().records.len(), total);
    assert!(!h.state().sweep().paused);
}

#[test]
fn the_sweep_form_starts_from_a_preset_and_checks_the_fields() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_with_project(dir.path());
    app.apply(Command::SetWindow(Window::Sweep, true));
    let mut h = harness(app);
    h.step();
    h.step();
    let form = h.state().sweep().form.as_ref().expect("the form exists");
    assert_eq!(form.preset.label(), "Quick demo");
    h.get_by_label("preset").click();
    h.step();
    h.step();
    h.get_by_label("Paper AML binary (400 px)").click();
    h.step();
    let form = h.state().sweep().form.as_ref().unwrap();
    assert_eq!(form.config.train.input_size, 400);
    assert_eq!(form.config.design.k_folds, 10);
    assert_eq!(form.sizes_text, "10..200 step 10");
    // A bad size list is refused with a message, and nothing starts.
    h.state_mut().sweep_mut().form.as_mut().unwrap().sizes_text = "ten".into();
    h.step();
    h.get_by_label("Start sweep").click();
    h.step();
    assert!(!h.state().sweep().is_running());
    assert!(
        h.query_all_by_label_contains("not a whole number")
            .next()
            .is_some()
    );
}

#[test]
fn explain_shows_overlays_the_focus_row_and_a_clickable_embedding() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut app) = demo_app(dir.path());
    // A tiny stored sweep: its models are what the screen explains.
    let project = Project::load(&path).unwrap();
    let cfg = tiny_sweep(&project.taxonomy, "x", vec![2, 4]);
    let no = std::sync::atomic::AtomicBool::new(false);
    leukolens::sweep::run::run_sweep(
        &project,
        &path,
        &cfg,
        &mut leukolens::backend::Backend::cpu(),
        &leukolens::sweep::RunOptions::default(),
        &no,
        &mut |_| {},
    )
    .unwrap();
    app.open(&path); // again: the sweep is there now
    app.apply(Command::DismissResumeOffer);
    app.apply(Command::OpenExplain);
    let mut h = harness(app);
    let wait = |h: &mut Harness<'_, LeukoApp>, what: &str, done: &dyn Fn(&LeukoApp) -> bool| {
        step_until(h, &format!("{what} did not arrive"), done);
        h.step();
    };
    // The cursor cell is explained with the default method (LRP) by the largest model.
    wait(&mut h, "the cell overlay", &|a| a.explain().cell.is_some());
    let cursor = h.state().project().unwrap().selection.cursor.unwrap();
    let c = h.state().explain().cell.as_ref().unwrap();
    assert_eq!(c.key.image, cursor);
    assert_eq!(c.key.sweep, "x");
    assert!(c.map.signed && !c.map.is_constant());
    assert!(h.state().explain().messages.is_empty());

    // The focus row: saliency and LRP for both training sizes of fold 1.
    h.get_by_label("Focus across training sizes").click();
    h.step();
    h.get_by_label("Show focus row").click();
    h.step();
    wait(&mut h, "the focus row", &|a| a.explain().focus.is_some());
    let f = h.state().explain().focus.as_ref().unwrap();
    assert_eq!(f.image, cursor);
    let sizes: Vec<usize> = f.rows.iter().map(|r| r.0).collect();
    assert_eq!(sizes, h.state().explain().focus_sizes);
    assert_eq!(sizes.len(), 2);
    assert!(f.rows.iter().all(|r| r.1 != r.2), "saliency and LRP differ");

    // The embedding of the chosen model over the images it did not train on.
    h.get_by_label("Embedding").click();
    h.step();
    h.get_by_label("Compute embedding").click();
    h.step();
    wait(&mut h, "the embedding", &|a| {
        a.explain().embedding.as_ref().is_some_and(|e| e.done)
    });
    h.step();
    let e = h.state().explain().embedding.as_ref().unwrap();
    assert_eq!(e.points.len(), e.ids.len());
    assert!(e.ids.len() >= 8, "{}", e.ids.len());
    // Click a point (not the current cell): it becomes the gallery's selection.
    let i = (0..e.ids.len()).find(|&i| e.ids[i] != cursor).unwrap();
    let pos = e.screen_pos(i).unwrap();
    h.input_mut().events.push(egui::Event::PointerMoved(pos));
    h.step();
    h.step();
    let hovered = h.state().explain().embedding.as_ref().unwrap().hovered;
    assert_eq!(
        hovered.map(|x| x.0),
        Some(i),
        "hovering a point shows its card"
    );
    for pressed in [true, false] {
        h.input_mut().events.push(egui::Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: Modifiers::NONE,
        });
        h.step();
    }
    h.step();
    let sel = h.state().project().unwrap().selection.cursor;
    // The nearest point to the click is the one clicked unless two points overlap on screen.
    let e = h.state().explain().embedding.as_ref().unwrap();
    let hit = e.nearest(pos, 8.0).map(|i| e.ids[i]);
    assert_eq!(sel, hit);
    assert!(
        hit.is_some_and(|id| id != cursor),
        "the click changed the selection"
    );
}

#[test]
fn a_gui_sweep_whose_folder_collides_with_a_saved_one_is_refused_with_the_clis_words() {
    let dir = tempfile::tempdir().unwrap();
    let (path, app) = demo_app(dir.path());
    // A saved sweep "a_b", registered as `leukolens sweep` registers it.
    let t = app.project().unwrap().project().taxonomy.clone();
    drop(app);
    let mut ws = Workspace::open(&path).unwrap();
    leukolens::sweep::start(&mut ws, "a_b", |_| Ok(tiny_sweep(&t, "a_b", vec![2]))).unwrap();
    drop(ws);
    let saved = leukolens::sweep::SweepDir::of(&path, "a_b");
    let snapshot_before = std::fs::read(saved.snapshot_path()).unwrap();
    let project_before = std::fs::read(&path).unwrap();
    let (_, mut app) = demo_app_at(&path);
    app.apply(Command::DismissResumeOffer);
    app.apply(Command::SetWindow(Window::Sweep, true));
    let mut h = harness(app);
    h.step();
    h.step();
    // "a b" is another name, but its folder is the saved sweep's.
    assert_eq!(leukolens::sweep::SweepDir::of(&path, "a b"), saved);
    h.state_mut().sweep_mut().form.as_mut().unwrap().config = tiny_sweep(&t, "a b", vec![2]);
    h.step();
    h.get_by_label("Start sweep").click();
    h.step();
    h.step();
    let words =
        "the name \"a b\" would share its folder with the saved sweep \"a_b\"; choose another name";
    let m = h.state().messages().last().unwrap();
    assert!(m.error && m.text.contains(words), "{m:?}");
    assert!(
        h.query_by_label_contains(words).is_some(),
        "shown in the status bar"
    );
    assert!(!h.state().sweep().is_running());
    // Nothing is saved: the project file and the saved sweep's folder are as they were.
    assert_eq!(std::fs::read(&path).unwrap(), project_before);
    assert_eq!(
        std::fs::read(saved.snapshot_path()).unwrap(),
        snapshot_before
    );
    let names: Vec<String> = Project::load(&path)
        .unwrap()
        .sweeps
        .iter()
        .map(|s| s.name.clone())
        .collect();
    assert_eq!(names, ["a_b"]);
}

#[test]
fn a_saved_sweep_opens_with_its_results_visible_and_the_form_on_its_own_tab() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut app) = demo_app(dir.path());
    let t = app.project().unwrap().project().taxonomy.clone();
    app.apply(Command::StartSweep(tiny_sweep(&t, "saved", vec![2, 4])));
    let mut h = harness(app);
    step_until(&mut h, "sweep did not finish", |a| a.sweep().finished);
    drop(h);

    // A new app opens the project and shows the saved sweep, as a user does from the list.
    let (_, mut app) = demo_app_at(&path);
    app.apply(Command::ShowSavedSweep("saved".into()));
    let mut h = harness(app);
    for _ in 0..4 {
        h.step();
    }
    // The results come first and are on screen without scrolling; the form is not drawn.
    let matrix = h
        .query_all_by_label_contains("Confusion matrix at 4 training images")
        .next()
        .expect("the confusion matrix heading is shown");
    assert!(
        matrix.rect().bottom() < 700.0,
        "results below the fold: {:?}",
        matrix.rect()
    );
    assert!(h.query_by_label("Start sweep").is_none());
    // Whole class names label the matrix.
    let names = h.state().sweep().output_names.clone();
    for n in &names {
        assert!(
            h.query_all_by_label_contains(&format!("true {n}, predicted"))
                .next()
                .is_some(),
            "{n}"
        );
    }
    // The form and the saved sweeps have their own tabs.
    h.get_by_label("New sweep").click();
    for _ in 0..3 {
        h.step();
    }
    assert!(h.query_by_label("Start sweep").is_some());
    h.get_by_label("Saved sweeps (1)").click();
    for _ in 0..3 {
        h.step();
    }
    assert!(
        h.query_all_by_label_contains("saved: 4 of 4 runs")
            .next()
            .is_some()
    );
}

#[test]
fn with_fifteen_classes_the_gallery_keeps_most_of_the_width() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for c in 0..15 {
        for k in 0..2 {
            let p = data
                .join(format!("cell type number {c:02} with a long name"))
                .join(format!("{k}.png"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            image::RgbImage::from_pixel(16, 16, image::Rgb([c as u8 * 10, 80, k as u8]))
                .save(&p)
                .unwrap();
        }
    }
    let out =
        leukolens::dataset::import(&data, None, Taxonomy::default_allidb(), &|_, _| {}).unwrap();
    let path = dir.path().join("t.ron");
    Workspace::create(&path, Project::from_import("t", &path, &out, 1)).unwrap();
    let (_, app) = demo_app_at(&path);
    assert!(app.project().is_some(), "{:?}", app.messages());
    assert!(app.project().unwrap().project().taxonomy.classes.len() >= 15);
    let mut h = harness(app);
    for _ in 0..4 {
        h.step();
    }
    let stats = h.get_by_label("Statistics").rect();
    assert!(
        stats.left() >= 0.6 * 1100.0 - 20.0,
        "the statistics panel starts at x = {}",
        stats.left()
    );
}

#[test]
fn the_window_icon_is_built_in_and_decodes() {
    let icon = leukolens::ui::app_icon();
    assert_eq!((icon.width, icon.height), (256, 256));
    assert_eq!(icon.rgba.len(), 256 * 256 * 4);
    // Not blank: the icon draws a cell (opaque pixels) on a transparent background.
    let opaque = icon.rgba.chunks(4).filter(|p| p[3] == 255).count();
    assert!(opaque > 256 * 256 / 3 && opaque < 256 * 256, "{opaque}");
}

/// A project another process holds (here: a workspace of this one, which takes the same OS
/// lock) opens read-only: a banner says who holds it, and a class key changes nothing.
#[test]
fn a_project_held_elsewhere_opens_read_only_with_a_banner_and_refuses_labels() {
    let dir = tempfile::tempdir().unwrap();
    let path = leukolens::demo::create_demo_project(&dir.path().join("demo"), 2, 16, 1).unwrap();
    let holder = Workspace::open_as(&path, "holder-name").unwrap();
    let (_, app) = demo_app_at(&path);
    let mut h = harness(app);
    h.step();
    let reason = h
        .state()
        .project()
        .unwrap()
        .ws
        .read_only()
        .unwrap()
        .to_string();
    assert!(reason.contains("holder-name"), "{reason}");
    assert!(
        h.query_by_label_contains("Read-only: holder-name (process")
            .is_some(),
        "the banner names the holder"
    );
    let id = cursor(&h);
    let before = current(&h, id);
    // '1' = Lymphoblast, '2' = Typical lymphocyte: one of them is a change.
    h.key_press(if before == "Lymphoblast" {
        Key::Num2
    } else {
        Key::Num1
    });
    h.step();
    assert_eq!(current(&h, id), before, "no label changed");
    let m = h.state().messages().last().unwrap();
    assert!(m.error && m.text.contains("read-only"), "{m:?}");
    assert!(
        Journal::read(&Journal::path_for(&path))
            .unwrap()
            .entries
            .is_empty()
    );
    // Once the holder has closed it, reopening gives the writer; reopening that again (this
    // app holds the lock now) keeps it.
    drop(holder);
    for _ in 0..2 {
        h.state_mut().apply(Command::OpenProject(path.clone()));
        h.step();
        assert_eq!(h.state().project().unwrap().ws.read_only(), None);
    }
    assert!(h.query_by_label_contains("Read-only").is_none());
}

/// `gui --screenshots` works on a copy: starting its demo sweep and relabelling there leave the
/// project it was given exactly as it was (#15 §4: it used to gain a saved sweep).
#[test]
fn the_screenshot_script_works_on_a_copy_of_the_project() {
    let dir = tempfile::tempdir().unwrap();
    let path = leukolens::demo::create_demo_project(&dir.path().join("demo"), 6, 64, 3).unwrap();
    let files = |d: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        v.sort();
        v
    };
    let listing = files(&dir.path().join("demo"));
    let before = std::fs::read(&path).unwrap();
    // (A fresh project has no journal file yet.)
    let journal = std::fs::read(Journal::path_for(&path)).ok();
    let copy = leukolens::ui::screenshot_project(&path, &dir.path().join("shots")).unwrap();
    assert!(copy.starts_with(dir.path().join("shots")));
    let (_, mut app) = demo_app_at(&copy);
    let p = app.project().unwrap().project().clone();
    // The copy reads the same images from the same dataset.
    assert_eq!(p.images.len(), 60);
    assert!(p.image_path(&copy, &p.images[0]).is_file());
    app.apply(Command::Select(vec![p.images[0].id]));
    app.apply(Command::Assign(p.taxonomy.find("Basophil").unwrap()));
    app.apply(Command::StartSweep(tiny_sweep(
        &p.taxonomy,
        "shot",
        vec![2],
    )));
    assert!(app.sweep().is_running(), "{:?}", app.messages());
    app.apply(Command::CancelSweep);
    app.autosave();
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(std::fs::read(Journal::path_for(&path)).ok(), journal);
    assert_eq!(
        files(&dir.path().join("demo")),
        listing,
        "nothing new beside the project"
    );
    // The app still holds the copy open (and its lock): read it as a second opener does.
    let reopened = Workspace::open_read_only(&copy).unwrap();
    assert_eq!(reopened.project.sweeps.len(), 1, "the copy holds the sweep");
}

/// New project: the class mapping dialog shows each folder's proposed class and file count; the
/// user retypes one class, and the import uses it.
#[test]
fn the_new_project_dialog_shows_the_mapping_and_the_user_edits_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("cells");
    let mut seed = 0u8;
    for (class, n) in [("blast", 2), ("lymphocytes", 1), ("UNKNOWN", 2)] {
        for k in 0..n {
            seed += 40;
            let p = data.join(class).join(format!("{k}.png"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            image::RgbImage::from_pixel(12, 12, image::Rgb([seed, 3, 9]))
                .save(&p)
                .unwrap();
        }
    }
    let app = LeukoApp::new(
        Settings {
            annotator: Some("t".into()),
            ..Default::default()
        },
        None,
        None,
    );
    let mut h = harness(app);
    let output = dir.path().join("cells.ron");
    h.state_mut().apply(Command::NewProject {
        source: data.clone(),
        layout: None,
        output: output.clone(),
    });
    let start = std::time::Instant::now();
    while h.state().pending_import().is_none() {
        assert!(start.elapsed().as_secs() < 60, "{:?}", h.state().messages());
        h.state_mut().poll_jobs();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    step(&mut h);
    h.get_by_label("Class mapping");
    h.get_by_label("becomes Blast (new class, positive)");
    h.get_by_label("becomes Typical lymphocyte");
    // The user renames UNKNOWN's class to smudge cells.
    let field = h.get_by_label("UNKNOWN");
    field.click();
    step(&mut h);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_label("UNKNOWN").type_text("smudge cells");
    step(&mut h);
    h.get_by_label("becomes Smudge cell");
    assert!(!output.exists(), "nothing is written before Import");
    h.get_by_label("Import").click();
    step(&mut h);
    assert!(h.state().pending_import().is_none());
    let start = std::time::Instant::now();
    while h.state().project().is_none() {
        assert!(start.elapsed().as_secs() < 60, "{:?}", h.state().messages());
        h.state_mut().poll_jobs();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let p = h.state().project().unwrap().project();
    let class_of = |path: &str| {
        let c = p.images.iter().find(|i| i.path == path).unwrap().current;
        (p.taxonomy.name(c), p.taxonomy.is_positive(c))
    };
    assert_eq!(class_of("UNKNOWN/1.png"), ("Smudge cell".into(), false));
    assert_eq!(class_of("blast/0.png"), ("Blast".into(), true));
    assert_eq!(
        class_of("lymphocytes/0.png"),
        ("Typical lymphocyte".into(), false)
    );
}
