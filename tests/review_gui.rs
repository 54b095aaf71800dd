//! The Review panel driven as a user would (egui_kittest; no GPU, no display): accepting a
//! suggestion with Enter (journal line naming the audit, undo), confirming with x, the queue
//! moving on, blind mode, and adjudicating a disagreement. The audit's out-of-fold
//! probabilities are written by hand here (a sweep folder with one run), so nothing trains.
#![allow(clippy::unwrap_used)]
#![cfg(feature = "gui")]

mod common;

use std::path::{Path, PathBuf};

use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use leukolens::project::{ImageId, Journal, Workspace};
use leukolens::sweep::config::RunRecord;
use leukolens::sweep::design::{RunKey, SweepDesign, ValSize};
use leukolens::sweep::start::take_snapshot;
use leukolens::sweep::{SweepConfig, SweepDir};
use leukolens::train::{RunStatus, Task, TrainConfig};
use leukolens::ui::{Command, LeukoApp, Queue, Window};

/// A demo project (8 cells per class) with a hand-made audit "audit" over three classes in
/// which `wrong` images (one per class of the first two) look like the next class. Returns the
/// project path and those two images.
fn project_with_audit(dir: &Path) -> (PathBuf, Vec<ImageId>) {
    let path = leukolens::demo::create_demo_project(&dir.join("demo"), 8, 32, 3).unwrap();
    let mut ws = Workspace::open(&path).unwrap();
    let t = ws.project.taxonomy.clone();
    let classes: Vec<_> = ["Lymphoblast", "Segmented neutrophil", "Monocyte"]
        .iter()
        .map(|n| t.find(n).unwrap())
        .collect();
    let config = SweepConfig {
        name: "audit".into(),
        task: Task::Multiclass { classes },
        train: TrainConfig::quick(),
        design: SweepDesign {
            k_folds: 2,
            val: ValSize::Count(1),
            sizes: vec![6],
            seed: 1,
        },
    };
    let snap = take_snapshot(&ws.project, &config).unwrap();
    let dir = SweepDir::of(&path, "audit");
    dir.create().unwrap();
    dir.write_snapshot(&snap).unwrap();
    let mut wrong = Vec::new();
    let mut predictions = Vec::new();
    for (&id, &target) in snap.images.iter().zip(&snap.targets) {
        let mislabelled = target < 2 && !wrong.iter().any(|(_, t)| *t == target);
        let mut p = vec![0.1f32; 3];
        if mislabelled {
            wrong.push((id, target));
            p[target] = 0.05;
            p[(target + 1) % 3] = 0.9;
        } else {
            p[target] = 0.8;
        }
        predictions.push((id, target, p));
    }
    let record = RunRecord {
        key: RunKey { fold: 0, size: 6 },
        status: RunStatus::Completed,
        collapsed: false,
        epochs: 1,
        best_epoch: 1,
        train_loss: vec![],
        val_loss: vec![],
        test_auc: None,
        test_accuracy: None,
        test_weighted_f1: None,
        predictions,
        device: "test".into(),
        seconds: 0.0,
        snapshot_digest: Some(snap.digest()),
    };
    dir.write_run(&record, None).unwrap();
    ws.project.sweeps.push(config);
    ws.mark_dirty();
    ws.save().unwrap();
    (path, wrong.into_iter().map(|w| w.0).collect())
}

fn harness(path: &Path) -> Harness<'static, LeukoApp> {
    common::harness_with(path, common::tester_settings(), [1100.0, 700.0])
}

fn cursor(h: &Harness<'_, LeukoApp>) -> ImageId {
    h.state().project().unwrap().selection.cursor.unwrap()
}

fn current_name(h: &Harness<'_, LeukoApp>, id: ImageId) -> String {
    let p = h.state().project().unwrap().project();
    p.taxonomy.name(p.image(id).unwrap().current)
}

fn journal(h: &Harness<'_, LeukoApp>) -> Vec<leukolens::project::JournalEntry> {
    let path = h.state().project().unwrap().ws.path.clone();
    Journal::read(&Journal::path_for(&path)).unwrap().entries
}

#[test]
fn enter_accepts_a_suggestion_x_keeps_a_label_and_the_queue_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let (path, wrong) = project_with_audit(dir.path());
    let mut h = harness(&path);
    h.state_mut()
        .apply(Command::SetWindow(Window::Review, true));
    h.run_ok();
    let review = h.state().review();
    assert_eq!(review.audit.as_deref(), Some("audit"), "{:?}", review.note);
    let mut queued = review.items();
    queued.sort();
    let mut want = wrong.clone();
    want.sort();
    assert_eq!(
        queued, want,
        "the two images made to look like the next class"
    );
    let first = cursor(&h);
    assert!(wrong.contains(&first));
    let suggested = review.suspect(first).unwrap().suggested.clone();
    let given = current_name(&h, first);
    assert_ne!(suggested, given);
    // The tile text shows given → suggested.
    h.get_by_label_contains(&format!("{given} -> {suggested}"));
    // Tab and the arrows move through the queue (wrapping), Shift+Tab back.
    let other = *wrong.iter().find(|&&w| w != first).unwrap();
    h.key_press(Key::Tab);
    h.run_ok();
    assert_eq!(cursor(&h), other);
    h.key_press_modifiers(Modifiers::SHIFT, Key::Tab);
    h.run_ok();
    assert_eq!(cursor(&h), first);
    h.key_press(Key::ArrowDown);
    h.run_ok();
    assert_eq!(cursor(&h), other);
    h.key_press(Key::ArrowRight);
    h.run_ok();
    assert_eq!(cursor(&h), first, "wraps around");
    assert_eq!(
        h.state().review().items().len(),
        2,
        "moving handles nothing"
    );

    h.key_press(Key::Enter);
    h.run_ok();
    assert_eq!(current_name(&h, first), suggested);
    let last = journal(&h).last().cloned().unwrap();
    assert_eq!(last.source.as_deref(), Some("audit audit"));
    assert_eq!((last.image, last.annotator.as_str()), (first, "tester"));
    let second = cursor(&h);
    assert_ne!(second, first, "the queue moved on");
    assert_eq!(h.state().review().items(), vec![second]);

    // Undo restores the label (an ordinary journaled change).
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_ok();
    assert_eq!(current_name(&h, first), given);

    // x keeps the second one's label: a confirmation line, and the queue is empty.
    h.state_mut().apply(Command::Select(vec![second]));
    h.run_ok();
    let kept = current_name(&h, second);
    h.key_press(Key::X);
    h.run_ok();
    assert_eq!(current_name(&h, second), kept);
    let last = journal(&h).last().cloned().unwrap();
    assert_eq!(
        (last.image, last.old, last.new),
        (second, last.old, last.old)
    );
    assert!(h.state().review().items().is_empty());
}

#[test]
fn blind_mode_hides_labels_and_suggestions_in_the_panel() {
    let dir = tempfile::tempdir().unwrap();
    let (path, wrong) = project_with_audit(dir.path());
    let mut h = harness(&path);
    h.state_mut()
        .apply(Command::SetWindow(Window::Review, true));
    h.run_ok();
    assert!(h.query_all_by_label_contains(" -> ").next().is_some());
    h.state_mut().apply(Command::SetBlind(true));
    h.run_ok();
    assert!(
        h.query_all_by_label_contains(" -> ").next().is_none(),
        "no given -> suggested in blind mode"
    );
    // Enter does not accept a hidden suggestion.
    let first = cursor(&h);
    assert!(wrong.contains(&first));
    let before = current_name(&h, first);
    h.key_press(Key::Enter);
    h.run_ok();
    assert_eq!(current_name(&h, first), before);
    // Label next in blind mode: every unreviewed audited image, in a seeded order without
    // margins.
    h.state_mut()
        .apply(Command::SetReviewQueue(Queue::LabelNext));
    h.run_ok();
    assert_eq!(h.state().review().items().len(), 24);
    assert!(h.query_all_by_label_contains("margin").next().is_none());
}

#[test]
fn the_disagreement_queue_adjudicates_with_a_journaled_consensus_label() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = project_with_audit(dir.path());
    let mut ws = Workspace::open(&path).unwrap();
    let t = ws.project.taxonomy.clone();
    let (lymph, mono) = (
        t.find("Typical lymphocyte").unwrap(),
        t.find("Monocyte").unwrap(),
    );
    let id = ws
        .project
        .images
        .iter()
        .find(|im| im.current != lymph && im.current != mono)
        .unwrap()
        .id;
    ws.set_labels(&[id], lymph, "anna").unwrap();
    ws.set_labels(&[id], mono, "ben").unwrap();
    ws.save().unwrap();
    drop(ws);
    let mut h = harness(&path);
    h.state_mut()
        .apply(Command::SetWindow(Window::Review, true));
    h.state_mut()
        .apply(Command::SetReviewQueue(Queue::Disagreements));
    h.run_ok();
    assert_eq!(h.state().review().items(), vec![id]);
    assert_eq!(cursor(&h), id);
    // Cohen's kappa of the two annotators over their one common image (both used different
    // classes: observed 0, chance 0, kappa 0) and the per-class matrix, in the Review window
    // and in the statistics panel.
    let kappa = "Cohen's kappa 0.000 (anna, ben; 1 images labelled by all";
    assert_eq!(h.query_all_by_label_contains(kappa).count(), 2);
    // The Review window folds its matrix (the queue comes first); the panel shows it.
    assert_eq!(h.query_all_by_label("anna \\ ben").count(), 1);
    h.get_by_label("agreement per class").click();
    h.run_ok();
    assert_eq!(h.query_all_by_label("anna \\ ben").count(), 2);
    h.get_by_label("Typical lymphocyte (anna)").click();
    h.run_ok();
    assert_eq!(current_name(&h, id), "Typical lymphocyte");
    let last = journal(&h).last().cloned().unwrap();
    assert_eq!((last.annotator.as_str(), last.new), ("tester", lymph));
    assert!(h.state().review().items().is_empty());
}

/// The Label next queue's "Spread" switch: plain order starts with one class's cells (equal
/// margins, by id); spread, the first three come from the three classes of the audit.
#[test]
fn spread_label_next_starts_with_different_kinds_of_cells() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = project_with_audit(dir.path());
    let mut h = harness(&path);
    h.state_mut()
        .apply(Command::SetWindow(Window::Review, true));
    h.run_ok();
    h.get_by_label("Label next").click();
    h.run_ok();
    let classes_of_first_three = |h: &Harness<'_, LeukoApp>| {
        let mut c: Vec<String> = h.state().review().items()[..3]
            .iter()
            .map(|&id| current_name(h, id))
            .collect();
        c.sort();
        c.dedup();
        c.len()
    };
    assert_eq!(classes_of_first_three(&h), 1);
    h.get_by_label("Spread").click();
    h.run_ok();
    assert!(h.state().review().spread);
    assert_eq!(classes_of_first_three(&h), 3);
    assert_eq!(
        h.state().review().items().len(),
        24,
        "the same images, reordered"
    );
    assert!(h.state().review().items().contains(&cursor(&h)));
}

/// Train → Audit labels… opens the audit dialog. With the default 5 folds and classes of 4
/// images the start is refused with the classes named and nothing saved; with 3 folds and the
/// binary task the audit is saved with exactly those settings, started as a sweep (the same
/// `audit_config` + `sweep::start` path as `leukolens audit`), and cancelled like any sweep.
/// Opened again, the dialog offers to resume it.
#[test]
fn the_audit_dialog_starts_an_audit_with_its_settings_and_refuses_too_small_classes() {
    let dir = tempfile::tempdir().unwrap();
    let path = leukolens::demo::create_demo_project(&dir.path().join("demo"), 4, 32, 3).unwrap();
    let mut h = harness(&path);
    h.get_by_label("Train").click();
    h.run_ok();
    h.get_by_label("Audit labels…").click();
    h.run_ok();
    assert!(h.state().audit_dialog().open);
    h.get_by_label("Start audit").click();
    h.run_ok();
    let last = h.state().messages().last().cloned().unwrap();
    assert!(last.error, "{last:?}");
    assert!(
        last.text
            .starts_with("could not start the audit: classes too small for 5 folds"),
        "{}",
        last.text
    );
    assert!(
        last.text.contains("\"Lymphoblast\" (4 images)"),
        "{}",
        last.text
    );
    assert!(h.state().audit_dialog().open, "the dialog stays open");
    assert!(h.state().project().unwrap().project().sweeps.is_empty());
    assert!(!SweepDir::of(&path, "audit").path().exists());

    h.get_by_label("binary (positive flag)").click();
    h.get_by_label("3 folds").click();
    // The eight test views are on by default; switched off here, the audit tests plain images.
    assert!(h.state().audit_dialog().test_views);
    h.get_by_label(
        "Test each cell on its 8 flips and quarter turns (better ranking; training unchanged)",
    )
    .click();
    h.run_ok();
    assert!(!h.state().audit_dialog().test_views);
    h.get_by_label("Own seed").click();
    h.run_ok();
    assert!(h.state().audit_dialog().own_seed);
    h.get_by_label("Start audit").click();
    h.run_ok();
    let saved = h.state().project().unwrap().project().sweeps.clone();
    assert_eq!(saved.len(), 1, "{:?}", h.state().messages());
    assert_eq!(saved[0].name, "audit");
    assert_eq!(saved[0].task, Task::Binary);
    assert_eq!(saved[0].design.k_folds, 3);
    assert_eq!(
        saved[0].design.sizes.len(),
        1,
        "an audit has one training size"
    );
    assert_eq!(saved[0].train, TrainConfig::quick());
    assert_eq!(
        saved[0].design.seed,
        h.state().audit_dialog().seed,
        "the dialog's own seed"
    );
    assert!(SweepDir::of(&path, "audit").has_snapshot());
    assert!(!h.state().audit_dialog().open);
    assert!(h.state().sweep().is_running());
    h.state_mut().apply(Command::CancelSweep);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while h.state().sweep().is_running() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(50));
        h.state_mut().poll_jobs();
    }
    assert!(
        !h.state().sweep().is_running(),
        "the audit stops when cancelled"
    );
    h.state_mut().apply(Command::SetWindow(Window::Audit, true));
    h.run_ok();
    h.get_by_label("Resume audit");
}

#[test]
fn without_an_audit_the_review_panel_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = leukolens::demo::create_demo_project(&dir.path().join("demo"), 4, 32, 3).unwrap();
    let mut h = harness(&path);
    h.state_mut()
        .apply(Command::SetWindow(Window::Review, true));
    h.run_ok();
    assert!(h.state().review().items().is_empty());
    h.get_by_label_contains("no audit yet: Train > Audit labels…");
    h.state_mut()
        .apply(Command::SetReviewQueue(Queue::Disagreements));
    h.run_ok();
    assert!(h.state().review().items().is_empty());
}

/// The Likely mislabelled queue's order and flagged set are the user's choice, as
/// `leukolens suspects --rank … --flag-by …`: the panel computes the queue again with the
/// chosen method. Here the second suspect has the lower self-confidence (0.02 vs 0.05) but
/// the larger normalized margin (0.085 vs 0.075), so the two orders differ.
#[test]
fn the_suspects_order_and_flagged_set_are_chosen_in_the_panel() {
    use leukolens::quality::audit::read_audit;
    use leukolens::quality::confident::{Filter, Rank};
    use leukolens::quality::suspects::rank_suspects;
    let dir = tempfile::tempdir().unwrap();
    let (path, wrong) = project_with_audit(dir.path());
    let sweep = SweepDir::of(&path, "audit");
    let mut run = sweep.runs().remove(0);
    for (id, target, p) in &mut run.predictions {
        if *id == wrong[1] {
            *p = vec![0.13; 3];
            p[*target] = 0.02;
            p[(*target + 1) % 3] = 0.85;
        }
    }
    sweep.write_run(&run, None).unwrap();
    let mut h = harness(&path);
    h.state_mut()
        .apply(Command::SetWindow(Window::Review, true));
    h.run_ok();
    let order = |h: &Harness<'_, LeukoApp>| -> Vec<ImageId> {
        h.state()
            .review()
            .suspects
            .iter()
            .map(|s| s.image)
            .collect()
    };
    let review = h.state().review();
    assert_eq!(
        (review.rank, review.filter),
        (Rank::SelfConfidence, Filter::PruneByNoiseRate)
    );
    assert_eq!(
        order(&h),
        vec![wrong[1], wrong[0]],
        "lowest self-confidence first"
    );

    h.get_by_label("normalized margin").click();
    h.run_ok();
    assert_eq!(h.state().review().rank, Rank::NormalizedMargin);
    assert_eq!(order(&h), vec![wrong[0], wrong[1]], "smallest margin first");

    h.get_by_label("lowest scores").click();
    h.run_ok();
    let review = h.state().review();
    assert_eq!(
        (review.rank, review.filter),
        (Rank::NormalizedMargin, Filter::LowestScores)
    );
    let project = h.state().project().unwrap().project();
    let results = read_audit(&path, "audit").unwrap();
    let want = rank_suspects(
        project,
        &results,
        "audit",
        Rank::NormalizedMargin,
        Filter::LowestScores,
    )
    .unwrap();
    assert_eq!(
        review.suspects, want.suspects,
        "the core's suspects for that method"
    );
    assert_eq!(review.items().first(), Some(&wrong[0]));
}
