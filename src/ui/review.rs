//! The Review panel (Train → Review labels…): three queues of images worth a look, each
//! driven by the keyboard like the gallery.
//! - **Likely mislabelled**: the suspects of the latest audit (confident learning), given →
//!   suggested class and probability, ordered and flagged as the user chooses ("Order":
//!   self-confidence or normalized margin; "Flag": by noise rate or lowest scores). `Enter`
//!   accepts the suggestion, `x` confirms the label as it is, a class key sets another; the
//!   image leaves the queue and the next one is selected.
//! - **Label next**: the audit's images nobody has reviewed, most uncertain first (smallest
//!   margin between the two most probable outputs); with "Spread", reordered so that the first
//!   ones are not copies of one hard case (`quality::spread`).
//! - **Disagreements**: images annotators labelled differently, with each one's class; a class
//!   key (or a button) sets the consensus label.
//!
//! Blind mode (the same switch as View > Blind mode; `ReviewView::blind` mirrors
//! `ProjectState::blind`) hides the given label, the other annotators' labels, the suggestions
//! and the file names in this panel, and shows the Label next queue in a seeded random order. The data comes from
//! `quality` through the app (`Command::LoadReview`); this screen only reads it and returns
//! commands.

use std::collections::HashSet;

use egui::Key;

use super::command::{Command, Queue};
use super::state::Ctx;
use crate::project::ImageId;
use crate::quality::annotators::{AgreementReport, Disagreement};
use crate::quality::confident::{Filter, Rank};
use crate::quality::suspects::Suspect;
use crate::taxonomy::ClassId;

/// The panel's state: what the app loaded and what was handled in this session.
#[derive(Default)]
pub struct ReviewView {
    pub open: bool,
    pub queue: Queue,
    /// The audit the suspects come from.
    pub audit: Option<String>,
    pub suspects: Vec<Suspect>,
    /// The score the suspects are ordered by (self-confidence unless the user chooses).
    pub rank: Rank,
    /// Which images are flagged as suspects (cleanlab's "prune by noise rate" unless the user
    /// chooses).
    pub filter: Filter,
    /// (image, margin), most uncertain first.
    pub label_next: Vec<(ImageId, f64)>,
    /// The same images spread over the audit's probabilities (`quality::spread`).
    pub label_next_spread: Vec<ImageId>,
    /// Label next shows `label_next_spread` ("spread" switch).
    pub spread: bool,
    pub disagreements: Vec<Disagreement>,
    /// Agreement between all annotators with labels (`None` with fewer than two).
    pub agreement: Option<AgreementReport>,
    /// Images accepted, confirmed, relabelled or adjudicated here: they left their queue.
    pub done: HashSet<ImageId>,
    /// Blind mode, set together with `ProjectState::blind` (one switch).
    pub blind: bool,
    /// The order of the Label next queue in blind mode (seeded shuffle).
    pub blind_order: Vec<ImageId>,
    /// Why a queue is empty (no audit yet, …).
    pub note: Option<String>,
}

impl ReviewView {
    /// The images still waiting in the shown queue, in queue order.
    pub fn items(&self) -> Vec<ImageId> {
        let pending = |id: &ImageId| !self.done.contains(id);
        match self.queue {
            Queue::Mislabelled => self
                .suspects
                .iter()
                .filter(|s| !s.stale)
                .map(|s| s.image)
                .filter(pending)
                .collect(),
            Queue::LabelNext if self.blind => {
                self.blind_order.iter().copied().filter(pending).collect()
            }
            Queue::LabelNext if self.spread => self
                .label_next_spread
                .iter()
                .copied()
                .filter(pending)
                .collect(),
            Queue::LabelNext => self
                .label_next
                .iter()
                .map(|l| l.0)
                .filter(pending)
                .collect(),
            Queue::Disagreements => self
                .disagreements
                .iter()
                .map(|d| d.image)
                .filter(pending)
                .collect(),
        }
    }

    /// The queue's current image: the cursor when it waits in the queue, else the first.
    pub fn current(&self, cursor: Option<ImageId>) -> Option<ImageId> {
        let items = self.items();
        cursor
            .filter(|c| items.contains(c))
            .or_else(|| items.first().copied())
    }

    /// The image after `id` in the queue (the first when `id` is not in it), skipping `id`.
    pub fn next_after(&self, id: ImageId) -> Option<ImageId> {
        let items = self.items();
        let from = items.iter().position(|&i| i == id).map_or(0, |k| k + 1);
        items[from.min(items.len())..]
            .iter()
            .chain(&items[..from.min(items.len())])
            .copied()
            .find(|&i| i != id)
    }

    /// The image one step from `id` in the queue, forward or back (wrapping around); the
    /// first image when `id` is not in the queue.
    pub fn step_from(&self, id: Option<ImageId>, forward: bool) -> Option<ImageId> {
        let items = self.items();
        let n = items.len();
        let k = id.and_then(|id| items.iter().position(|&i| i == id));
        let to = match (k, forward) {
            (None, _) => 0,
            (Some(k), true) => (k + 1) % n.max(1),
            (Some(k), false) => (k + n.max(1) - 1) % n.max(1),
        };
        items.get(to).copied()
    }

    /// The suspect of an image, if it is one.
    pub fn suspect(&self, id: ImageId) -> Option<&Suspect> {
        self.suspects.iter().find(|s| s.image == id)
    }
}

/// `Enter` (accept the suggestion) and `x` (confirm the label) for the queue's current image;
/// `Tab`, `↓` or `→` move to the next image of the queue, `Shift+Tab`, `↑` or `←` to the one
/// before. Runs before the gallery's keyboard so that these keys reach the queue.
pub fn keyboard(view: &ReviewView, ctx: &Ctx, ui: &egui::Ui, cmds: &mut Vec<Command>) {
    if !view.open || ctx.modal_open || ui.ctx().text_edit_focused() {
        return;
    }
    let Some(p) = ctx.project else { return };
    let Some(current) = view.current(p.selection.cursor) else {
        return;
    };
    ui.ctx().input_mut(|i| {
        i.events.retain(|ev| {
            let egui::Event::Key {
                key,
                pressed: true,
                modifiers,
                ..
            } = ev
            else {
                return true;
            };
            if let Some(forward) = step_key(*key, *modifiers) {
                cmds.push(Command::ReviewStep(forward));
                return false;
            }
            if modifiers.any() {
                return true;
            }
            let cmd = match key {
                Key::Enter if view.queue == Queue::Mislabelled && !view.blind => {
                    Some(Command::AcceptSuggestion(current))
                }
                Key::X if view.queue != Queue::Disagreements => {
                    Some(Command::ConfirmLabel(current))
                }
                _ => None,
            };
            match cmd {
                Some(c) => {
                    cmds.push(c);
                    false
                }
                None => true,
            }
        });
    });
}

/// Whether a key moves through the queue: `Some(true)` forward, `Some(false)` back.
fn step_key(key: Key, modifiers: egui::Modifiers) -> Option<bool> {
    let plain = !modifiers.any();
    match key {
        Key::Tab if plain => Some(true),
        Key::Tab if modifiers.shift_only() => Some(false),
        Key::ArrowDown | Key::ArrowRight if plain => Some(true),
        Key::ArrowUp | Key::ArrowLeft if plain => Some(false),
        _ => None,
    }
}

/// Draws the panel when it is open.
pub fn show(view: &mut ReviewView, ctx: &Ctx, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    if !view.open {
        return;
    }
    let Some(p) = ctx.project else { return };
    let mut open = true;
    egui::Window::new("Review")
        .open(&mut open)
        .default_width(460.0)
        .show(ui.ctx(), |ui| {
            header(view, ui, cmds);
            ui.separator();
            let current = view.current(p.selection.cursor);
            if let Some(c) = current
                && p.selection.cursor != Some(c)
            {
                cmds.push(Command::Select(vec![c]));
            }
            egui::ScrollArea::vertical()
                .max_height(360.0)
                .show(ui, |ui| {
                    rows(view, ctx, current, ui, cmds);
                });
        });
    if !open {
        cmds.push(Command::SetWindow(super::command::Window::Review, false));
    }
}

/// The queue tabs, blind mode and the reload button.
fn header(view: &ReviewView, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        for (q, label) in [
            (Queue::Mislabelled, "Likely mislabelled"),
            (Queue::LabelNext, "Label next"),
            (Queue::Disagreements, "Disagreements"),
        ] {
            if ui.selectable_label(view.queue == q, label).clicked() {
                cmds.push(Command::SetReviewQueue(q));
            }
        }
    });
    ui.horizontal(|ui| {
        let mut blind = view.blind;
        if ui.checkbox(&mut blind, "Blind mode").changed() {
            cmds.push(Command::SetBlind(blind));
        }
        if view.queue == Queue::LabelNext && !view.blind {
            let mut spread = view.spread;
            let r = ui.checkbox(&mut spread, "Spread").on_hover_text(
                "not many copies of one hard case: spread over the audit's probabilities",
            );
            if r.changed() {
                cmds.push(Command::SetSpread(spread));
            }
        }
        if ui.button("Reload").clicked() {
            cmds.push(Command::LoadReview);
        }
    });
    if view.queue == Queue::Mislabelled && !view.blind {
        suspect_method(view, ui, cmds);
    }
    if let Some(audit) = &view.audit {
        ui.label(format!("audit \"{audit}\""));
    }
    if let Some(note) = &view.note {
        ui.label(note);
    }
    let keys = match view.queue {
        Queue::Mislabelled if view.blind => "class key: label · x: label kept",
        Queue::Mislabelled => {
            "Enter: accept the suggestion · class key: another label · x: label kept"
        }
        Queue::LabelNext => "class key: label · x: label kept",
        Queue::Disagreements => "class key or a button: the consensus label",
    };
    ui.small(keys);
}

/// The order of the Likely mislabelled queue and which images it flags.
fn suspect_method(view: &ReviewView, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.label("Order");
        for (rank, label, hover) in [
            (
                Rank::SelfConfidence,
                "self-confidence",
                "lowest probability of the given class first",
            ),
            (
                Rank::NormalizedMargin,
                "normalized margin",
                "smallest lead of the given class over the most probable other one first",
            ),
        ] {
            let r = ui
                .selectable_label(view.rank == rank, label)
                .on_hover_text(hover);
            if r.clicked() && view.rank != rank {
                cmds.push(Command::SetSuspectMethod(rank, view.filter));
            }
        }
        ui.separator();
        ui.label("Flag");
        for (filter, label, hover) in [
            (
                Filter::PruneByNoiseRate,
                "by noise rate",
                "cleanlab's default: per pair of classes, as many as the confident joint estimates",
            ),
            (
                Filter::LowestScores,
                "lowest scores",
                "the lowest-ranked images, as many as the confident joint's off-diagonal count: \
                 fewer false flags when the network is weak, too few when it is accurate",
            ),
        ] {
            let r = ui
                .selectable_label(view.filter == filter, label)
                .on_hover_text(hover);
            if r.clicked() && view.filter != filter {
                cmds.push(Command::SetSuspectMethod(view.rank, filter));
            }
        }
    });
}

/// One row per waiting image; the current one is highlighted.
fn rows(
    view: &ReviewView,
    ctx: &Ctx,
    current: Option<ImageId>,
    ui: &mut egui::Ui,
    cmds: &mut Vec<Command>,
) {
    let Some(p) = ctx.project else { return };
    let project = p.project();
    let items = view.items();
    if view.queue == Queue::Disagreements && !view.blind {
        agreement_table(view, ui);
    }
    ui.label(format!("{} waiting", items.len()));
    for id in items {
        // Blind mode: folder names may be class names, so the id stands for the file.
        let path = match project.image(id) {
            Some(_) if view.blind => format!("image {}", id.0),
            Some(im) => im.path.clone(),
            None => "?".to_string(),
        };
        let text = match view.queue {
            Queue::Mislabelled => match view.suspect(id) {
                Some(s) if !view.blind => format!(
                    "{}. {path}: {} -> {} ({:.2})",
                    s.rank, s.given, s.suggested, s.probability
                ),
                _ => path,
            },
            Queue::LabelNext if !view.blind => {
                let m = view
                    .label_next
                    .iter()
                    .find(|l| l.0 == id)
                    .map_or(1.0, |l| l.1);
                format!("{path} (margin {m:.2})")
            }
            Queue::LabelNext => path,
            Queue::Disagreements => path,
        };
        let r = ui.selectable_label(current == Some(id), text);
        if r.clicked() {
            cmds.push(Command::Select(vec![id]));
        }
        if view.queue == Queue::Disagreements && current == Some(id) && !view.blind {
            adjudication(view, ctx, id, ui, cmds);
        }
    }
}

/// Each annotator's class of a disagreement as a button that makes it the consensus.
fn adjudication(
    view: &ReviewView,
    ctx: &Ctx,
    id: ImageId,
    ui: &mut egui::Ui,
    cmds: &mut Vec<Command>,
) {
    let Some(p) = ctx.project else { return };
    let Some(d) = view.disagreements.iter().find(|d| d.image == id) else {
        return;
    };
    let t = &p.project().taxonomy;
    ui.horizontal_wrapped(|ui| {
        let mut seen: Vec<ClassId> = Vec::new();
        for (_, class) in &d.labels {
            if seen.contains(class) {
                continue;
            }
            seen.push(*class);
            let names: Vec<&str> = d
                .labels
                .iter()
                .filter(|(_, c)| c == class)
                .map(|(w, _)| w.as_str())
                .collect();
            if ui
                .button(format!("{} ({})", t.name(*class), names.join(", ")))
                .clicked()
            {
                cmds.push(Command::Adjudicate(id, *class));
            }
        }
    });
}

/// Cohen's (two annotators) or Fleiss' kappa and the per-class agreement matrix.
fn agreement_table(view: &ReviewView, ui: &mut egui::Ui) {
    let Some(r) = &view.agreement else {
        ui.label("agreement: needs two annotators with labels");
        return;
    };
    ui.label(super::stats::kappa_summary(r));
    // Folded by default: the queue below is what this tab is for (the statistics panel shows
    // the same table).
    egui::CollapsingHeader::new("agreement per class")
        .id_salt("review-agreement-table")
        .show(ui, |ui| {
            super::stats::kappa_table(r, ui, "review-agreement")
        });
}
