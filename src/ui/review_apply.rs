//! What the Review panel's commands do (called by `LeukoApp::apply` only): loading the queues
//! from the core (`quality`), and accepting, confirming and adjudicating labels through the
//! workspace (journal first, undoable), after which the queue moves on.

use std::collections::HashSet;

use super::command::Queue;
use super::review::ReviewView;
use super::state::ProjectState;
use crate::project::ImageId;
use crate::quality::annotators::{agreement, confirm_labels, disagreements};
use crate::quality::audit::read_audit;
use crate::quality::blind::blind_order;
use crate::quality::prelabels::unlabelled_queue;
use crate::quality::spread::spread_queue;
use crate::quality::suspects::{
    accept_suggestion, handled_since_audit, label_next, open_suspects, rank_suspects,
};
use crate::sweep::SweepDir;
use crate::taxonomy::ClassId;

/// The latest audit of the project: the last saved sweep with one training size and a
/// snapshot.
fn latest_audit(p: &ProjectState) -> Option<String> {
    p.project()
        .sweeps
        .iter()
        .rev()
        .find(|s| s.design.sizes.len() == 1 && SweepDir::of(&p.ws.path, &s.name).has_snapshot())
        .map(|s| s.name.clone())
}

/// Loads the three queues: suspects and "label next" from the latest audit, disagreements
/// from each annotator's stored labels. What cannot be loaded becomes the panel's note.
pub fn load(view: &mut ReviewView, p: &ProjectState) {
    view.note = None;
    view.suspects.clear();
    view.label_next.clear();
    view.label_next_spread.clear();
    view.audit = latest_audit(p);
    let project = p.project();
    let history = p.ws.history().unwrap_or_else(|e| {
        view.note = Some(format!("cannot read the journal: {e}"));
        Vec::new()
    });
    match &view.audit {
        None => {
            view.note = Some(
                "no audit yet: Train > Audit labels… (or `leukolens audit PROJECT`) fills the \
                 Likely mislabelled and Label next queues"
                    .into(),
            )
        }
        Some(name) => match read_audit(&p.ws.path, name) {
            Ok(results) => {
                let handled = handled_since_audit(project, &results, &history);
                match rank_suspects(project, &results, name, view.rank, view.filter) {
                    Ok(list) => view.suspects = open_suspects(&list, &handled),
                    Err(e) => view.note = Some(e),
                }
                view.label_next = label_next(project, &results);
                view.label_next_spread = spread_queue(&view.label_next, &results);
            }
            Err(e) => view.note = Some(e),
        },
    }
    add_unlabelled_cells(view, p);
    view.disagreements = disagreements(project);
    view.agreement = agreement(project, &[]).ok();
    let queued: Vec<ImageId> = view.label_next.iter().map(|l| l.0).collect();
    view.blind_order = blind_order(project, &queued);
}

/// Puts the Unlabelled class's cells with a stored suggestion into Label next (audits leave
/// that class out): merged by margin into the plain order, and alternating with the audit's
/// images in the spread order (their probabilities come from another network, so they are
/// not spread together with the audit's).
fn add_unlabelled_cells(view: &mut ReviewView, p: &ProjectState) {
    let Some(pre) = &p.prelabels else { return };
    // A cell relabelled Unlabelled after the audit is in both lists: keep the audit's entry.
    let audited: HashSet<ImageId> = view.label_next.iter().map(|l| l.0).collect();
    let mut cells = unlabelled_queue(p.project(), pre);
    cells.retain(|c| !audited.contains(&c.0));
    if cells.is_empty() {
        return;
    }
    let spread_audited = std::mem::take(&mut view.label_next_spread);
    let mut spread = Vec::with_capacity(spread_audited.len() + cells.len());
    let (mut a, mut c) = (spread_audited.iter(), cells.iter().map(|q| q.0));
    loop {
        match (a.next(), c.next()) {
            (None, None) => break,
            (x, y) => spread.extend(x.copied().into_iter().chain(y)),
        }
    }
    view.label_next_spread = spread;
    view.label_next.extend(cells);
    view.label_next
        .sort_by(|x, y| x.1.total_cmp(&y.1).then(x.0.cmp(&y.0)));
}

/// Shows another queue and selects its current image.
pub fn set_queue(view: &mut ReviewView, p: &mut ProjectState, queue: Queue) {
    view.queue = queue;
    if let Some(c) = view.current(p.selection.cursor) {
        p.select(vec![c]);
    }
}

/// Accepts the audit's suggestion for `id`.
pub fn accept(
    view: &mut ReviewView,
    p: &mut ProjectState,
    id: ImageId,
    annotator: &str,
) -> Result<(), String> {
    let audit = view.audit.clone().ok_or("no audit is loaded")?;
    let suspect = view
        .suspect(id)
        .cloned()
        .ok_or("this image is not among the audit's suspects")?;
    let change = accept_suggestion(&mut p.ws, &audit, &suspect, annotator)?;
    p.undo.push(vec![change]);
    handled(view, p, id);
    Ok(())
}

/// Confirms the label of `id` as it is.
pub fn confirm(
    view: &mut ReviewView,
    p: &mut ProjectState,
    id: ImageId,
    annotator: &str,
) -> Result<(), String> {
    confirm_labels(&mut p.ws, &[id], annotator).map_err(|e| e.to_string())?;
    handled(view, p, id);
    Ok(())
}

/// Sets the consensus label of a disagreement (a confirmation when it already has it).
pub fn adjudicate(
    view: &mut ReviewView,
    p: &mut ProjectState,
    id: ImageId,
    class: ClassId,
    annotator: &str,
) -> Result<(), String> {
    let same = p.project().image(id).is_some_and(|im| im.current == class);
    if same {
        confirm_labels(&mut p.ws, &[id], annotator).map_err(|e| e.to_string())?;
    } else {
        let changes =
            p.ws.set_labels(&[id], class, annotator)
                .map_err(|e| e.to_string())?;
        p.undo.push(changes);
    }
    handled(view, p, id);
    Ok(())
}

/// After a class key set the label of images in the queue: they leave it.
pub fn labelled(view: &mut ReviewView, p: &mut ProjectState, ids: &[ImageId]) {
    let items = view.items();
    for &id in ids.iter().filter(|id| items.contains(id)) {
        handled(view, p, id);
    }
}

/// `id` leaves the queue; the next waiting image is selected.
fn handled(view: &mut ReviewView, p: &mut ProjectState, id: ImageId) {
    let next = view.next_after(id);
    view.done.insert(id);
    p.refresh_order();
    if let Some(n) = next {
        p.select(vec![n]);
    }
}
