//! Train → Audit labels…: the audit's settings before it starts. The task (one output per
//! class with images, the binary task, or two groups), the number of folds, the training
//! preset and the audit's name; when a saved audit has that name, "Resume" continues it with
//! its saved settings. Start sends `Command::StartAudit` with a `quality::audit::AuditRequest`;
//! the app checks it with `audit_config` and starts it through `sweep::start`, as
//! `leukolens audit` does. The audit then runs (and is paused or cancelled) on the sweep screen.

use super::command::Command;
use super::state::Ctx;
use crate::project::Project;
use crate::quality::audit::{AuditRequest, DEFAULT_AUDIT_FOLDS, DEFAULT_AUDIT_VAL, audit_seed};
use crate::taxonomy::ClassId;
use crate::train::{Task, TrainConfig, TrainPreset};

/// The fold counts offered.
pub const FOLD_CHOICES: [usize; 7] = [2, 3, 4, 5, 6, 8, 10];

/// The task choices of the dialog.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuditTask {
    /// One output per class with images ("Unlabelled" left out).
    #[default]
    Multiclass,
    /// Classes flagged positive against the rest.
    Binary,
    /// Two groups of classes.
    Groups,
}

/// The dialog's fields.
pub struct AuditDialog {
    pub open: bool,
    pub name: String,
    pub task: AuditTask,
    pub positive: Vec<ClassId>,
    pub negative: Vec<ClassId>,
    pub folds: usize,
    pub preset: TrainPreset,
    /// Each image's out-of-fold probabilities are the mean over its eight flip and quarter-turn
    /// views (`TrainConfig::test_views`); on by default.
    pub test_views: bool,
    /// Use `seed` instead of the project's audit seed (another seed is the remedy for a fold
    /// whose network collapsed).
    pub own_seed: bool,
    pub seed: u64,
    /// Why the last start was refused (shown until the next try).
    pub error: Option<String>,
}

impl Default for AuditDialog {
    fn default() -> Self {
        Self {
            open: false,
            name: "audit".into(),
            task: AuditTask::default(),
            positive: Vec::new(),
            negative: Vec::new(),
            folds: DEFAULT_AUDIT_FOLDS,
            preset: TrainPreset::default(),
            test_views: true,
            own_seed: false,
            seed: 1,
            error: None,
        }
    }
}

impl AuditDialog {
    /// The request the fields describe for `project`.
    pub fn request(&self, project: &Project) -> AuditRequest {
        let task = match self.task {
            AuditTask::Multiclass => None,
            AuditTask::Binary => Some(Task::Binary),
            AuditTask::Groups => Some(Task::Groups {
                positive: self.positive.clone(),
                negative: self.negative.clone(),
            }),
        };
        AuditRequest {
            name: self.name.trim().to_string(),
            task,
            train: TrainConfig {
                test_views: self.test_views,
                ..self.preset.config()
            },
            k_folds: self.folds,
            n_val: DEFAULT_AUDIT_VAL,
            seed: if self.own_seed {
                self.seed
            } else {
                audit_seed(project)
            },
        }
    }
}

/// Draws the dialog when it is open.
pub fn show(view: &mut AuditDialog, ctx: &Ctx, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    if !view.open {
        return;
    }
    let Some(p) = ctx.project else { return };
    let project = p.project();
    let mut open = true;
    egui::Window::new("Audit labels")
        .open(&mut open)
        .collapsible(false)
        .show(ui.ctx(), |ui| {
            ui.horizontal(|ui| {
                let l = ui.label("Audit name");
                ui.text_edit_singleline(&mut view.name).labelled_by(l.id);
            });
            let saved = project.sweeps.iter().any(|s| s.name == view.name.trim());
            if saved {
                ui.label(
                    "A saved audit has this name: Resume continues it with its saved settings.",
                );
            }
            ui.add_enabled_ui(!saved, |ui| settings(view, project, ui));
            if let Some(e) = &view.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            let start = if saved { "Resume audit" } else { "Start audit" };
            if ui.button(start).clicked() {
                cmds.push(Command::StartAudit(view.request(project)));
            }
        });
    view.open &= open;
}

/// Task, folds and preset.
fn settings(view: &mut AuditDialog, project: &Project, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.label("Task");
        for (t, label) in [
            (AuditTask::Multiclass, "one output per class"),
            (AuditTask::Binary, "binary (positive flag)"),
            (AuditTask::Groups, "two groups"),
        ] {
            ui.radio_value(&mut view.task, t, label);
        }
    });
    if view.task == AuditTask::Groups {
        groups(view, project, ui);
    }
    ui.horizontal(|ui| {
        ui.label("Folds");
        for k in FOLD_CHOICES {
            ui.selectable_value(&mut view.folds, k, format!("{k} folds"));
        }
    });
    ui.horizontal(|ui| {
        ui.label("Preset");
        for preset in TrainPreset::ALL {
            ui.selectable_value(&mut view.preset, preset, preset.name());
        }
    });
    ui.checkbox(
        &mut view.test_views,
        "Test each cell on its 8 flips and quarter turns (better ranking; training unchanged)",
    );
    ui.horizontal(|ui| {
        let own = ui
            .checkbox(&mut view.own_seed, "Own seed")
            .on_hover_text("folds and networks from this seed instead of the project's");
        if view.own_seed {
            ui.add(egui::DragValue::new(&mut view.seed))
                .labelled_by(own.id);
        }
    });
    let unlabelled = project.unlabelled_count();
    if unlabelled > 0 {
        ui.label(crate::sweep::start::unlabelled_notice(unlabelled));
    }
}

/// A check box per class with images for each of the two groups.
fn groups(view: &mut AuditDialog, project: &Project, ui: &mut egui::Ui) {
    let tax = &project.taxonomy;
    ui.columns(2, |cols| {
        for (col, (title, group)) in cols.iter_mut().zip([
            ("positive", &mut view.positive),
            ("negative", &mut view.negative),
        ]) {
            col.label(title);
            for c in project.trainable_classes() {
                let mut on = group.contains(&c);
                if col.checkbox(&mut on, tax.name(c)).changed() {
                    if on {
                        group.push(c);
                    } else {
                        group.retain(|x| *x != c);
                    }
                }
            }
        }
    });
}
