//! The model's suggestions on the gallery and blind mode, driven as a user would
//! (egui_kittest; no GPU, no display). The suggestions file is written by hand here
//! (`quality::predict::save_suggestions`), so nothing trains.
#![allow(clippy::unwrap_used)]
#![cfg(feature = "gui")]

mod common;

use std::path::{Path, PathBuf};

use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use leukolens::project::{ImageId, Journal, JournalEntry, Workspace};
use leukolens::quality::predict::{Suggestion, Suggestions, save_suggestions};
use leukolens::taxonomy::ClassId;
use leukolens::ui::{Command, LeukoApp, Window};

const MODEL: &str = "sweep \"quick\" fold 1, 6 training images";

/// A demo project with suggestions for two images that are no monocytes: the first gets
/// "Monocyte 0.87" made on its current label (fresh), the second "Monocyte 0.61" made when it
/// had another label (stale). Returns the project and the two images.
fn project_with_suggestions(dir: &Path) -> (PathBuf, ImageId, ImageId) {
    let path = leukolens::demo::create_demo_project(&dir.join("demo"), 4, 32, 3).unwrap();
    let ws = Workspace::open(&path).unwrap();
    let p = &ws.project;
    let mono = p.taxonomy.find("Monocyte").unwrap();
    let mut others = p.images.iter().filter(|im| im.current != mono);
    let (fresh, stale) = (others.next().unwrap(), others.next().unwrap());
    let then = p
        .taxonomy
        .classes
        .iter()
        .map(|c| c.id)
        .find(|&c| c != stale.current && c != mono)
        .unwrap();
    let suggestion = |im: &leukolens::project::ImageEntry, probability, label| Suggestion {
        image: im.id,
        hash: im.hash.clone(),
        output: "Monocyte".into(),
        class: Some(mono),
        probability,
        margin: None,
        label: Some(label),
    };
    let s = Suggestions {
        model: MODEL.into(),
        suggestions: vec![
            suggestion(fresh, 0.87, fresh.current),
            suggestion(stale, 0.61, then),
        ],
    };
    save_suggestions(&path, &s).unwrap();
    (path, fresh.id, stale.id)
}

fn harness(path: &Path) -> Harness<'static, LeukoApp> {
    common::harness_with(path, common::tester_settings(), [1100.0, 800.0])
}

fn current(h: &Harness<'_, LeukoApp>, id: ImageId) -> ClassId {
    h.state()
        .project()
        .unwrap()
        .project()
        .image(id)
        .unwrap()
        .current
}

fn path_of(h: &Harness<'_, LeukoApp>, id: ImageId) -> String {
    let p = h.state().project().unwrap().project();
    p.image(id).unwrap().path.clone()
}

fn journal(path: &Path) -> Vec<JournalEntry> {
    Journal::read(&Journal::path_for(path)).unwrap().entries
}

fn select(h: &mut Harness<'_, LeukoApp>, id: ImageId) {
    h.state_mut().apply(Command::Select(vec![id]));
    h.run_ok();
}

/// The key of a class's hotkey.
fn hotkey(h: &Harness<'_, LeukoApp>, class: ClassId) -> Key {
    let t = &h.state().project().unwrap().project().taxonomy;
    let c = t.get(class).unwrap().hotkey.unwrap();
    Key::from_name(&c.to_string()).unwrap()
}

/// The last message's text and whether it is an error.
fn last_message(h: &Harness<'_, LeukoApp>) -> (String, bool) {
    let m = h.state().messages().last().unwrap();
    (m.text.clone(), m.error)
}

#[test]
fn enter_accepts_the_suggestion_on_a_tile_as_a_journaled_undoable_change() {
    let dir = tempfile::tempdir().unwrap();
    let (path, fresh, _) = project_with_suggestions(dir.path());
    let mut h = harness(&path);
    h.run_ok();
    assert!(
        h.state()
            .messages()
            .iter()
            .any(|m| m.text == format!("suggestions of \"{MODEL}\" for 2 images")),
        "{:?}",
        h.state().messages()
    );
    let before = current(&h, fresh);
    let tile = format!("{} -> Monocyte 0.87", path_of(&h, fresh));
    h.get_by_label(&tile);
    select(&mut h, fresh);
    let lines = journal(&path).len();

    h.key_press(Key::Enter);
    h.run_ok();
    let mono = common::class(&h, "Monocyte");
    assert_eq!(current(&h, fresh), mono);
    let entries = journal(&path);
    assert_eq!(entries.len(), lines + 1);
    let last = entries.last().unwrap();
    assert_eq!(
        (last.image, last.old, last.new, last.annotator.as_str()),
        (fresh, before, mono, "tester")
    );
    assert_eq!(last.source.as_deref(), Some(&*format!("predict {MODEL}")));
    // Labelled as suggested: the tile no longer shows it.
    assert!(h.query_by_label(&tile).is_none());
    h.get_by_label(&path_of(&h, fresh));

    // Undo restores the label (a journaled change) and the suggestion shows again.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_ok();
    assert_eq!(current(&h, fresh), before);
    assert_eq!(journal(&path).len(), lines + 2);
    h.get_by_label(&tile);
}

#[test]
fn a_stale_suggestion_is_shown_as_stale_and_enter_refuses_it_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let (path, fresh, stale) = project_with_suggestions(dir.path());
    let mut h = harness(&path);
    h.run_ok();
    let lines = journal(&path).len();
    // Relabelled before the suggestion was read: stale from the start.
    h.get_by_label(&format!("{} -> Monocyte 0.61 (stale)", path_of(&h, stale)));
    select(&mut h, stale);
    let label = current(&h, stale);
    h.key_press(Key::Enter);
    h.run_ok();
    assert_eq!(current(&h, stale), label, "not applied");
    let (text, error) = last_message(&h);
    assert!(error, "{text}");
    assert!(
        text.starts_with(&format!(
            "the suggestion for {} is stale",
            path_of(&h, stale)
        )),
        "{text}"
    );
    assert_eq!(journal(&path).len(), lines);

    // A fresh suggestion goes stale when someone relabels the image in the gallery.
    select(&mut h, fresh);
    let mono = common::class(&h, "Monocyte");
    let other = h
        .state()
        .project()
        .unwrap()
        .project()
        .taxonomy
        .classes
        .iter()
        .map(|c| c.id)
        .find(|&c| c != mono && c != current(&h, fresh))
        .unwrap();
    let key = hotkey(&h, other);
    h.key_press(key);
    h.run_ok();
    assert_eq!(current(&h, fresh), other);
    h.get_by_label(&format!("{} -> Monocyte 0.87 (stale)", path_of(&h, fresh)));
    h.key_press(Key::Enter);
    h.run_ok();
    assert_eq!(
        current(&h, fresh),
        other,
        "the stale suggestion was not applied"
    );
    assert!(last_message(&h).0.contains("is stale"));
    assert_eq!(journal(&path).len(), lines + 1, "only the hotkey's line");
}

/// The gallery's order and the accessible names of the tiles shown.
fn order(h: &Harness<'_, LeukoApp>) -> Vec<ImageId> {
    h.state().project().unwrap().order.clone()
}

#[test]
fn blind_mode_hides_labels_and_suggestions_on_tiles_and_viewer_in_a_seeded_order() {
    let dir = tempfile::tempdir().unwrap();
    let (path, fresh, _) = project_with_suggestions(dir.path());
    let mut h = harness(&path);
    h.run_ok();
    let plain = order(&h);
    let fresh_path = path_of(&h, fresh);
    h.get_by_label(&format!("{fresh_path} -> Monocyte 0.87"));

    // View > Blind mode (the Review panel's switch is the same state).
    h.get_by_label("View").click();
    h.run_ok();
    h.get_by_label("Blind mode").click();
    h.run_ok();
    h.key_press(Key::Escape);
    h.run_ok();
    assert!(h.state().project().unwrap().is_blind());
    assert!(h.state().review().blind);
    assert!(
        h.query_all_by_label_contains(" -> ").next().is_none(),
        "no suggestion on the tiles"
    );
    assert!(
        h.query_all_by_label_contains(&fresh_path).next().is_none(),
        "no file names (folders may be classes)"
    );
    let names: Vec<String> = {
        let t = &h.state().project().unwrap().project().taxonomy;
        t.classes.iter().map(|c| c.name.clone()).collect()
    };
    for n in &names {
        assert!(
            h.query_all_by_label_contains(n).next().is_none(),
            "no label \"{n}\" anywhere (statistics, filters) in blind mode"
        );
    }
    let blind = order(&h);
    assert_ne!(blind, plain, "a shuffled order");
    let (mut a, mut b) = (blind.clone(), plain.clone());
    a.sort();
    b.sort();
    assert_eq!(a, b, "the same images");
    let first = blind[0];
    h.get_by_label(&format!("image {}", first.0));

    // Enter accepts nothing; the viewer shows only the annotator's own label.
    select(&mut h, fresh);
    let before = current(&h, fresh);
    h.key_press(Key::Enter);
    h.run_ok();
    assert_eq!(current(&h, fresh), before);
    assert!(last_message(&h).0.starts_with("blind mode is on"));
    h.key_press(Key::Space);
    h.run_ok();
    h.get_by_label("not labelled by you yet");
    assert!(h.query_by_label("original:").is_none());
    let mono = common::class(&h, "Monocyte");
    let key = hotkey(&h, mono);
    h.key_press(key);
    h.run_ok();
    h.get_by_label("your label:");
    assert_eq!(
        h.state()
            .project()
            .unwrap()
            .blind
            .as_ref()
            .unwrap()
            .own
            .get(&fresh),
        Some(&mono)
    );
    // The class an image has already, unseen: still recorded as this annotator's label (a
    // confirmation line in the journal).
    let mono_image = h
        .state()
        .project()
        .unwrap()
        .project()
        .images
        .iter()
        .find(|im| im.current == mono && im.id != fresh)
        .unwrap()
        .id;
    select(&mut h, mono_image);
    h.get_by_label("not labelled by you yet");
    h.key_press(key);
    h.run_ok();
    let last = journal(&path).last().cloned().unwrap();
    assert_eq!(
        (last.image, last.old, last.new, last.annotator.as_str()),
        (mono_image, mono, mono, "tester")
    );
    h.get_by_label("your label:");
    h.key_press(Key::Escape);
    h.run_ok();

    // The same seed gives the same order in a new session; off restores the plain order.
    drop(h);
    let mut h2 = harness(&path);
    h2.state_mut().apply(Command::SetBlind(true));
    h2.run_ok();
    assert_eq!(order(&h2), blind);
    h2.state_mut().apply(Command::SetBlind(false));
    h2.run_ok();
    assert_eq!(order(&h2), plain);
    assert!(h2.query_all_by_label_contains(" -> ").next().is_some());
}

/// Cells of the Unlabelled class (audits leave it out) wait in the Review panel's Label next
/// queue through their stored suggestions, most uncertain (smallest margin) first, with no
/// audit at all.
#[test]
fn unlabelled_cells_with_suggestions_wait_in_label_next_most_uncertain_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = leukolens::demo::create_demo_project(&dir.path().join("demo"), 4, 32, 3).unwrap();
    let mut ws = Workspace::open(&path).unwrap();
    let unl = ws.project.taxonomy.ensure_unlabelled();
    for im in ws.project.images.iter_mut().take(3) {
        // As an import of cells without a class leaves them: in Unlabelled, not reviewed.
        im.current = unl;
        im.original = unl;
        im.reviewed = false;
    }
    ws.mark_dirty();
    ws.save().unwrap();
    let mono = ws.project.taxonomy.find("Monocyte").unwrap();
    let cells: Vec<_> = ws.project.images.iter().take(3).cloned().collect();
    let s = Suggestions {
        model: MODEL.into(),
        suggestions: cells
            .iter()
            .zip([0.6, 0.02, 0.3])
            .map(|(im, margin)| Suggestion {
                image: im.id,
                hash: im.hash.clone(),
                output: "Monocyte".into(),
                class: Some(mono),
                probability: 0.5,
                margin: Some(margin),
                label: Some(unl),
            })
            .collect(),
    };
    save_suggestions(&path, &s).unwrap();
    drop(ws);
    let mut h = harness(&path);
    h.state_mut()
        .apply(Command::SetWindow(Window::Review, true));
    h.state_mut().apply(Command::LoadReview);
    h.state_mut()
        .apply(Command::SetReviewQueue(leukolens::ui::Queue::LabelNext));
    h.run_ok();
    let want = vec![cells[1].id, cells[2].id, cells[0].id];
    assert_eq!(h.state().review().items(), want);
    // Labelled, the selected cell leaves the queue.
    let selected = h.state().project().unwrap().selection.cursor.unwrap();
    assert!(want.contains(&selected));
    h.state_mut().apply(Command::Assign(mono));
    h.run_ok();
    let left = h.state().review().items();
    assert_eq!(left.len(), 2);
    assert!(!left.contains(&selected));
}
