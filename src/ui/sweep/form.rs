//! The new-sweep form of the sweep screen: a preset as the starting point, every field editable,
//! checked before the sweep starts.

use crate::project::Project;
use crate::sweep::SweepConfig;
use crate::sweep::ValSize;
use crate::sweep::presets::{SweepPreset, format_sizes, parse_sizes};
use crate::train::{Optimizer, Task};
use crate::ui::command::Command;

/// `ui.add(widget)` named by a label (for screen readers and tests).
trait AddLabelled {
    fn add_labelled(&mut self, label: egui::Id, widget: impl egui::Widget) -> egui::Response;
}

impl AddLabelled for egui::Ui {
    fn add_labelled(&mut self, label: egui::Id, widget: impl egui::Widget) -> egui::Response {
        self.add(widget).labelled_by(label)
    }
}

/// What the user is editing.
pub struct SweepForm {
    pub preset: SweepPreset,
    pub config: SweepConfig,
    pub sizes_text: String,
    pub error: Option<String>,
}

impl SweepForm {
    pub fn new(preset: SweepPreset, project: &Project) -> Self {
        let config = preset.config(project);
        Self {
            preset,
            sizes_text: format_sizes(&config.design.sizes),
            config,
            error: None,
        }
    }

    /// The configuration to run, or why not.
    pub fn checked(&self) -> Result<SweepConfig, String> {
        let mut c = self.config.clone();
        c.design.sizes = parse_sizes(&self.sizes_text)?;
        c.train.validate()?;
        if c.name.trim().is_empty() {
            return Err("give the sweep a name".into());
        }
        if c.design.k_folds < 2 {
            return Err("at least 2 folds are needed".into());
        }
        if let Task::Multiclass { classes } = &c.task
            && classes.len() < 2
        {
            return Err("choose at least two classes".into());
        }
        Ok(c)
    }
}

/// Draws the form; queues `StartSweep` when the user starts it.
pub fn show(form: &mut SweepForm, project: &Project, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        let mut preset = form.preset;
        egui::ComboBox::from_label("preset")
            .selected_text(preset.label())
            .show_ui(ui, |ui| {
                for p in SweepPreset::ALL {
                    ui.selectable_value(&mut preset, p, p.label());
                }
            });
        if preset != form.preset {
            *form = SweepForm::new(preset, project);
        }
        let l = ui.label("name");
        ui.add_labelled(
            l.id,
            egui::TextEdit::singleline(&mut form.config.name).desired_width(160.0),
        )
        .labelled_by(l.id);
    });
    task(&mut form.config.task, project, ui);
    training_fields(form, ui);
    start_row(form, ui, cmds);
}

/// Binary or multiclass (with the classes to use).
fn task(task: &mut Task, project: &Project, ui: &mut egui::Ui) {
    let t = &project.taxonomy;
    ui.horizontal_wrapped(|ui| {
        let binary = matches!(task, Task::Binary);
        if ui.radio(binary, "binary").clicked() && !binary {
            *task = Task::Binary;
        }
        if ui.radio(!binary, "multiclass").clicked() && binary {
            *task = Task::Multiclass {
                classes: project.trainable_classes(),
            };
        }
        match task {
            Task::Binary => {
                let pos: Vec<String> = t
                    .classes
                    .iter()
                    .filter(|k| k.positive)
                    .map(|k| k.name.clone())
                    .collect();
                ui.label(format!(
                    "positive: {} (flag classes in the taxonomy editor) vs all others",
                    if pos.is_empty() {
                        "none yet".to_string()
                    } else {
                        pos.join(", ")
                    }
                ));
            }
            Task::Multiclass { classes } => {
                for k in t.classes.iter().filter(|k| !t.is_unlabelled(k.id)) {
                    let n = project
                        .images
                        .iter()
                        .filter(|im| im.current == k.id)
                        .count();
                    let mut on = classes.contains(&k.id);
                    if ui.checkbox(&mut on, format!("{} ({n})", k.name)).changed() {
                        if on {
                            classes.push(k.id);
                        } else {
                            classes.retain(|x| *x != k.id);
                        }
                    }
                }
            }
            Task::Groups { .. } => {
                ui.label("custom groups (set on the command line)");
            }
        }
        let unlabelled = project.unlabelled_count();
        if unlabelled > 0 {
            ui.label(crate::sweep::start::unlabelled_notice(unlabelled));
        }
    });
}

/// The training and design fields: input size, optimiser, learning rate, batch size, epochs,
/// patience, augmentation, class balancing, folds, validation images, sizes and seed.
fn training_fields(form: &mut SweepForm, ui: &mut egui::Ui) {
    let c = &mut form.config;
    egui::Grid::new("sweep-form").num_columns(4).show(ui, |ui| {
        let l = ui.label("input size (px)");
        ui.add_labelled(
            l.id,
            egui::DragValue::new(&mut c.train.input_size).range(190..=1024),
        );
        let l = ui.label("optimiser");
        egui::ComboBox::from_id_salt("optimizer")
            .selected_text(match c.train.optimizer {
                Optimizer::RmsProp => "RMSprop",
                Optimizer::Adam => "Adam",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut c.train.optimizer, Optimizer::RmsProp, "RMSprop");
                ui.selectable_value(&mut c.train.optimizer, Optimizer::Adam, "Adam");
            })
            .response
            .labelled_by(l.id);
        ui.end_row();
        let l = ui.label("learning rate");
        ui.add_labelled(
            l.id,
            egui::DragValue::new(&mut c.train.learning_rate)
                .range(1e-6..=1.0)
                .speed(1e-5)
                .custom_formatter(|v, _| format!("{v:.0e}")),
        );
        let l = ui.label("batch size");
        ui.add_labelled(
            l.id,
            egui::DragValue::new(&mut c.train.batch_size).range(1..=512),
        );
        ui.end_row();
        let l = ui.label("max epochs");
        ui.add_labelled(
            l.id,
            egui::DragValue::new(&mut c.train.max_epochs).range(1..=5000),
        );
        let l = ui.label("patience");
        ui.add_labelled(
            l.id,
            egui::DragValue::new(&mut c.train.patience).range(1..=5000),
        );
        ui.end_row();
        ui.label("augmentation");
        ui.checkbox(&mut c.train.augment, "flips + rotation");
        let l = ui.label("balance classes to");
        let mut bal = c.train.balance_to.is_some();
        ui.horizontal(|ui| {
            if ui.checkbox(&mut bal, "on").changed() {
                c.train.balance_to = bal.then_some(150);
            }
            if let Some(b) = &mut c.train.balance_to {
                ui.add_labelled(l.id, egui::DragValue::new(b).range(1..=10_000));
            }
        });
        ui.end_row();
        let l = ui.label("folds");
        ui.add_labelled(
            l.id,
            egui::DragValue::new(&mut c.design.k_folds).range(2..=50),
        );
        let l = ui.label("validation images");
        let mut n_val = match c.design.val {
            ValSize::Count(n) => n,
            ValSize::Share(_) => 25,
        };
        if ui
            .add_labelled(l.id, egui::DragValue::new(&mut n_val).range(1..=1000))
            .changed()
        {
            c.design.val = ValSize::Count(n_val);
        }
        ui.end_row();
        let l = ui.label("training sizes");
        ui.add_labelled(
            l.id,
            egui::TextEdit::singleline(&mut form.sizes_text).desired_width(160.0),
        )
        .on_hover_text("a list (10, 20, 40) or a range (10..200 step 10)");
        let l = ui.label("seed");
        ui.add_labelled(l.id, egui::DragValue::new(&mut c.design.seed));
        ui.end_row();
    });
}

/// "Start sweep", the number of runs, and why the form cannot start.
fn start_row(form: &mut SweepForm, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        let runs = parse_sizes(&form.sizes_text)
            .map(|s| format!("{} runs", s.len() * form.config.design.k_folds))
            .unwrap_or_else(|e| e);
        if ui.button("Start sweep").clicked() {
            match form.checked() {
                Ok(cfg) => {
                    form.error = None;
                    cmds.push(Command::StartSweep(cfg));
                }
                Err(e) => form.error = Some(e),
            }
        }
        ui.label(runs);
        if let Some(e) = &form.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    });
}
