//! The sweep screen: configure a training-size sweep (presets, every field editable), run it in
//! the background with pause and resume, and watch results arrive: the current run's learning
//! curve, AUC (or weighted F1) vs training size as box plots, ROC curves and the confusion
//! matrix at a chosen size. Exports the report (HTML, CSV, SVG) and the figures as PNG.
//!
//! Panels: [`controls`] (progress, pause, resume, exports), [`form`] (the new-sweep form),
//! [`saved`] (stored sweeps and the resume offer), [`plots`] (the figures and the runs
//! table), [`export`]; the screen's state is [`view::SweepView`].

pub mod controls;
pub mod export;
pub mod form;
pub mod plots;
pub mod saved;
pub mod view;

use std::path::PathBuf;

pub use form::SweepForm;
pub use view::{Derived, Figure, SweepTab, SweepView};

use crate::backend::{self, BackendChoice};
use crate::jobs::{Job, Jobs};
use crate::project::Project;
use crate::sweep::presets::SweepPreset;
use crate::sweep::{RunOptions, SweepConfig, SweepEvent, run_sweep};
use crate::ui::command::Command;
use crate::ui::state::Ctx;

/// The "Quick demo" preset for a project seed (used by the screenshot script and tests).
pub fn quick_demo(project_seed: u64) -> SweepConfig {
    crate::sweep::presets::quick_demo(project_seed)
}

/// Runs `config` on a background job (`sweep`) that sends its events back over the job's
/// channel. The sweep is already checked and registered (`sweep::start`).
pub fn spawn(
    jobs: &Jobs,
    project: Project,
    path: PathBuf,
    config: SweepConfig,
) -> std::io::Result<Job<SweepEvent>> {
    jobs.spawn_with("sweep", move |ctx, out| {
        let mut backend = backend::resolve(BackendChoice::Auto)?;
        out.send(SweepEvent::Notice(format!(
            "device: {}",
            backend.description
        )));
        let cancel = ctx.cancel_flag();
        run_sweep(
            &project,
            &path,
            &config,
            &mut backend,
            &RunOptions::default(),
            &cancel,
            &mut |ev| out.send(ev),
        )
        .map(|_| ())
    })
}

/// Draws the sweep screen (and the resume offer, which shows even when it is closed).
pub fn show(v: &mut SweepView, ctx: &Ctx, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    if v.open {
        v.update_derived();
    }
    export::figures_as_png(v, ui.ctx(), cmds);
    saved::resume_offer(v, ui, cmds);
    if !v.open {
        return;
    }
    let project = ctx.project.map(|p| p.project());
    if v.form.is_none()
        && let Some(p) = project
    {
        v.form = Some(SweepForm::new(SweepPreset::QuickDemo, p));
    }
    let mut open = true;
    let mut figures = Vec::new();
    // Never taller than the screen, so that its own scroll bar reaches the runs table.
    let max_h = (ui.ctx().content_rect().height() - 60.0).max(200.0);
    egui::Window::new("Training-size sweep")
        .open(&mut open)
        .default_size([820.0, 680.0f32.min(max_h)])
        .max_height(max_h)
        .vscroll(true)
        .show(ui.ctx(), |ui| {
            controls::show(v, ui, cmds);
            let tab = tab_bar(v, ui);
            ui.separator();
            match tab {
                SweepTab::NewSweep => {
                    if let (Some(form), Some(project)) = (&mut v.form, project) {
                        form::show(form, project, ui, cmds);
                    }
                    return;
                }
                SweepTab::Saved => {
                    saved::list(v, ui, cmds);
                    return;
                }
                SweepTab::Results => {}
            }
            notes(v, ui);
            if v.records.is_empty() && !v.is_running() {
                ui.label("No finished run yet.");
                return; // nothing to plot yet
            }
            ui.columns(2, |cols| {
                let curve = plots::learning_curve(v, &mut cols[0], cmds);
                figures.push((Figure::LearningCurve, curve));
                let score = plots::score_vs_size(v, &mut cols[1]);
                figures.push((Figure::ScoreVsSize, score));
            });
            results_at_size(v, ui, &mut figures, cmds);
            ui.separator();
            plots::runs_table(v, ui, cmds);
        });
    v.figures = figures;
    if !open {
        v.open = false;
    }
}

/// The tabs: the results of the sweep shown first; the new-sweep form and the saved sweeps on
/// their own tabs (not while a sweep runs). Returns the tab to draw.
fn tab_bar(v: &mut SweepView, ui: &mut egui::Ui) -> SweepTab {
    let mut tab = v.effective_tab();
    if v.is_running() {
        return SweepTab::Results;
    }
    ui.horizontal(|ui| {
        ui.selectable_value(&mut tab, SweepTab::Results, "Results");
        ui.selectable_value(&mut tab, SweepTab::NewSweep, "New sweep");
        ui.selectable_value(
            &mut tab,
            SweepTab::Saved,
            format!("Saved sweeps ({})", v.saved.len()),
        );
    });
    v.tab = tab;
    tab
}

/// The last notes of the sweep; the device notice is shown once, under the progress bar,
/// while the sweep runs.
fn notes(v: &SweepView, ui: &mut egui::Ui) {
    for n in v
        .notes
        .iter()
        .rev()
        .filter(|n| !(v.is_running() && n.starts_with("device: ")))
        .take(3)
    {
        ui.label(egui::RichText::new(n).weak());
    }
}

/// The training size chosen, then the ROC curves (binary tasks) and the confusion matrix at it.
fn results_at_size(
    v: &SweepView,
    ui: &mut egui::Ui,
    figures: &mut Vec<(Figure, egui::Rect)>,
    cmds: &mut Vec<Command>,
) {
    let (sizes, size) = v
        .derived
        .as_ref()
        .map(|d| (d.sizes.clone(), d.size))
        .unwrap_or_default();
    let Some(size) = size else { return };
    ui.separator();
    ui.horizontal(|ui| {
        let label = ui.label("Results at");
        egui::ComboBox::from_id_salt("matrix-size")
            .selected_text(format!("{size} training images"))
            .show_ui(ui, |ui| {
                for s in &sizes {
                    if ui
                        .selectable_label(*s == size, format!("{s} training images"))
                        .clicked()
                    {
                        cmds.push(Command::SetSweepMatrixSize(*s));
                    }
                }
            })
            .response
            .labelled_by(label.id);
    });
    if v.binary() {
        ui.columns(2, |cols| {
            if let Some(r) = plots::roc(v, &mut cols[0]) {
                figures.push((Figure::Roc, r));
            }
            if let Some(r) = plots::confusion(v, &mut cols[1], cmds) {
                figures.push((Figure::Confusion, r));
            }
        });
    } else if let Some(r) = plots::confusion(v, ui, cmds) {
        figures.push((Figure::Confusion, r));
    }
}
