//! The sweep screen: configure a training-size sweep (presets, every field editable), run it in
//! the background with pause and resume, and watch results arrive: the current run's learning
//! curve, AUC (or weighted F1) vs training size as box plots, ROC curves and the confusion
//! matrix at a chosen size. Exports the report (HTML, CSV, SVG) and the figures as PNG.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};
use std::time::Instant;

use super::app::{Command, LeukoApp};
use super::sweep_form::{self, SweepForm};
use super::sweep_plots::{self, Figure};
use crate::backend::{self, BackendChoice};
use crate::jobs::Job;
use crate::project::query::Predicted;
use crate::sweep::RunKey;
use crate::sweep::presets::SweepPreset;
use crate::sweep::results;
use crate::sweep::run::{self, RunOptions, SweepEvent};
use crate::sweep::{RunRecord, SavedSweep, SweepConfig, SweepDir};
use crate::train::TrainEvent;

/// A sweep running in the background.
struct Running {
    job: Job,
    events: Receiver<SweepEvent>,
}

#[derive(Default)]
pub struct SweepView {
    pub open: bool,
    running: Option<Running>,
    /// Finished runs of the sweep shown.
    pub records: Vec<RunRecord>,
    /// (done, total) runs.
    pub progress: (usize, usize),
    pub current: Option<RunKey>,
    /// Train and validation loss per epoch of the current run.
    pub curve: Vec<(f64, f64)>,
    /// A finished run chosen in the runs table: the learning curve shows it instead of the
    /// current run.
    pub shown_run: Option<RunKey>,
    pub notes: Vec<String>,
    pub finished: bool,
    /// Names of the network outputs (classes of the task).
    pub output_names: Vec<String>,
    /// Training size whose ROC curves and confusion matrix are shown (default: the largest
    /// finished).
    pub matrix_size: Option<usize>,
    /// The configuration of the sweep shown (for resume and the report).
    pub config: Option<SweepConfig>,
    /// Stopped by the user with runs left; "Resume" continues it.
    pub paused: bool,
    /// The device the running sweep trains on.
    pub device: String,
    /// When the first run started while watching, and when the last one finished (for the ETA).
    watch_started: Option<Instant>,
    last_finished: Option<Instant>,
    /// Runs finished while watching (for the ETA). Runs may train several at a time (stacked
    /// on a GPU, on worker threads on the CPU), so the ETA comes from this rate, not from the
    /// runs' own durations.
    finished_watching: usize,
    /// Set when records change: the gallery's predictions are refreshed.
    pub changed: bool,
    /// The new-sweep form (created when the screen first opens on a project).
    pub form: Option<SweepForm>,
    /// Sweeps stored beside the project.
    pub saved: Vec<SavedSweep>,
    /// Unfinished sweeps found when the project was opened: offered for resuming.
    pub resume_offer: Vec<SavedSweep>,
    /// Figure rectangles of the last frame, and a pending PNG export folder.
    figures: Vec<(Figure, egui::Rect)>,
    pub png_export: Option<PathBuf>,
    /// A screenshot for the PNG export is to be requested this frame.
    pub png_request: bool,
    /// Counts changes of `records` (for `derived`).
    generation: u64,
    /// What the figures show, computed once per change of the runs or the chosen size.
    pub derived: Option<Derived>,
    /// Where the requested screenshot arrives.
    shot: std::sync::Arc<std::sync::Mutex<Option<std::sync::Arc<egui::ColorImage>>>>,
}

pub use crate::sweep::results::{SizeConfusion, confusion_at};

/// The numbers the figures draw, derived from the finished runs. Recomputed when the runs or
/// the chosen size change, not every frame.
pub struct Derived {
    key: (u64, Option<usize>),
    /// Training sizes with finished runs, ascending.
    pub sizes: Vec<usize>,
    /// The size the ROC curves and the confusion matrix are shown for.
    pub size: Option<usize>,
    pub scores: Vec<(usize, crate::metrics::BoxStats)>,
    pub roc: Option<results::SizeRoc>,
    pub confusion: Option<SizeConfusion>,
}

/// The "Quick demo" preset for a project seed (used by the screenshot script and tests).
pub fn quick_demo(project_seed: u64) -> SweepConfig {
    crate::sweep::presets::quick_demo(project_seed)
}

impl SweepView {
    pub fn is_running(&self) -> bool {
        self.running.as_ref().is_some_and(|r| !r.job.is_finished())
    }

    /// A binary task (ROC curves and AUC) rather than multiclass (weighted F1).
    pub fn binary(&self) -> bool {
        (self.output_names.len() == 2 || self.output_names.is_empty())
            && (self.records.is_empty() || self.records.iter().any(|r| r.test_auc.is_some()))
    }

    /// Seconds left, estimated from the rate at which runs finished while watching (from the
    /// first run's start to the last run's end), counting down since the last one finished.
    pub fn eta_seconds(&self) -> Option<f64> {
        let (started, last) = (self.watch_started?, self.last_finished?);
        if self.finished_watching == 0 {
            return None;
        }
        let (done, total) = self.progress;
        let per_run = last.duration_since(started).as_secs_f64() / self.finished_watching as f64;
        let left = total.saturating_sub(done) as f64 * per_run;
        Some((left - last.elapsed().as_secs_f64()).max(0.0))
    }

    /// Brings `derived` up to date with the runs and the chosen size.
    pub fn update_derived(&mut self) {
        let key = (self.generation, self.matrix_size);
        if self.derived.as_ref().is_some_and(|d| d.key == key) {
            return;
        }
        let sizes = results::sizes(&self.records);
        let size = self
            .matrix_size
            .filter(|s| sizes.contains(s))
            .or_else(|| sizes.last().copied());
        self.derived = Some(Derived {
            key,
            scores: results::score_by_size(&self.records),
            roc: size.and_then(|n| results::roc_at(&self.records, n)),
            confusion: size.and_then(|n| confusion_at(&self.records, n, self.output_names.len())),
            sizes,
            size,
        });
    }

    /// The latest cross-validated prediction of every tested image, for the gallery.
    pub fn predictions(&self) -> Predicted {
        results::latest_predictions(&self.records)
            .into_iter()
            .map(|(id, p)| (id, (p.predicted, p.target, p.uncertainty)))
            .collect()
    }

    /// Shows a stored sweep (its finished runs) without running anything.
    pub fn show_saved(&mut self, s: &SavedSweep) {
        let form = self.form.take();
        let saved = std::mem::take(&mut self.saved);
        *self = SweepView {
            open: true,
            records: s.dir.runs(),
            progress: (s.done, s.total),
            output_names: s.snapshot.output_names.clone(),
            config: Some(s.snapshot.config.clone()),
            paused: !s.is_complete(),
            finished: true,
            changed: true,
            form,
            saved,
            ..Default::default()
        };
    }

    /// Drains the sweep's events (once per frame).
    pub fn poll(&mut self) {
        let Some(r) = &self.running else { return };
        let mut ended = r.job.is_finished();
        while let Ok(ev) = r.events.try_recv() {
            match ev {
                SweepEvent::Planned {
                    total,
                    already_done,
                    notices,
                } => {
                    self.progress = (already_done, total);
                    self.notes.extend(notices);
                    self.watch_started = None;
                    self.last_finished = None;
                    self.finished_watching = 0;
                }
                // Several runs may be in flight; `progress` counts finished runs only.
                SweepEvent::RunStarted { total, key, .. } => {
                    self.progress.1 = total;
                    self.current = Some(key);
                    self.curve.clear();
                    self.watch_started.get_or_insert_with(Instant::now);
                }
                // The learning curve follows the run started last.
                SweepEvent::Train(key, TrainEvent::Epoch(e)) if Some(key) == self.current => {
                    self.curve.push((e.train_loss, e.val_loss))
                }
                SweepEvent::Train(..) => {}
                SweepEvent::RunFinished(rec) => {
                    self.progress.0 += 1;
                    self.finished_watching += 1;
                    self.last_finished = Some(Instant::now());
                    self.records.retain(|x| x.key != rec.key);
                    self.records.push(*rec);
                    self.changed = true;
                    self.generation += 1;
                }
                SweepEvent::Notice(n) => {
                    if let Some(d) = n.strip_prefix("device: ") {
                        self.device = d.to_string();
                    }
                    self.notes.push(n)
                }
            }
            ended = false;
        }
        if ended {
            self.finished = true;
            self.running = None;
            self.paused = self.progress.0 < self.progress.1;
        }
    }

    pub fn cancel(&self) {
        if let Some(r) = &self.running {
            r.job.cancel();
        }
    }
}

/// Starts (or resumes: finished runs of a sweep with this name and configuration are kept)
/// `config` on the open project in the background.
pub fn start(app: &mut LeukoApp, config: SweepConfig) -> Result<(), String> {
    let Some(p) = &app.project else {
        return Err("open a project first".into());
    };
    if app.sweep.is_running() {
        return Err("a sweep is already running".into());
    }
    let project = p.project().clone();
    let path = p.ws.path.clone();
    let output_names = crate::sweep::start::take_snapshot(&project, &config)?.output_names;
    // Results already stored for this sweep are shown at once.
    let records = SweepDir::of(&path, &config.name).runs();
    let (tx, rx) = channel();
    let cfg = config.clone();
    let job = app
        .spawn_job("sweep", move |ctx| {
            let mut backend = backend::resolve(BackendChoice::Auto)?;
            let _ = tx.send(SweepEvent::Notice(format!(
                "device: {}",
                backend.description
            )));
            let cancel = ctx.cancel_flag();
            run::run_sweep(
                &project,
                &path,
                &cfg,
                &mut backend,
                &RunOptions::default(),
                &cancel,
                &mut |ev| {
                    let _ = tx.send(ev);
                    ctx.progress(0, 0, "sweep"); // wakes the UI
                },
            )
            .map(|_| ())
        })
        .map_err(|e| e.to_string())?;
    let form = app.sweep.form.take();
    let saved = std::mem::take(&mut app.sweep.saved);
    app.sweep = SweepView {
        open: true,
        running: Some(Running { job, events: rx }),
        output_names,
        changed: !records.is_empty(),
        records,
        config: Some(config),
        form,
        saved,
        ..Default::default()
    };
    Ok(())
}

/// Looks for stored sweeps of the project just opened; unfinished ones are offered for resuming.
pub fn on_project_opened(app: &mut LeukoApp) {
    let Some(p) = &app.project else { return };
    let saved = crate::sweep::saved_sweeps(&p.ws.path);
    app.sweep = SweepView {
        resume_offer: saved.iter().filter(|s| !s.is_complete()).cloned().collect(),
        saved,
        ..Default::default()
    };
}

/// Writes the report (HTML, CSV, SVG) of the sweep shown into its folder; returns the folder.
pub fn export_report(app: &LeukoApp) -> Result<PathBuf, String> {
    let Some(p) = &app.project else {
        return Err("open a project first".into());
    };
    let Some(cfg) = &app.sweep.config else {
        return Err("no sweep to export".into());
    };
    let dir = SweepDir::of(&p.ws.path, &cfg.name);
    let snapshot = crate::sweep::start::load_or_snapshot(&dir, p.project(), cfg)?;
    let out = dir.report_dir();
    crate::sweep::report::write_report(
        &out,
        &snapshot,
        &app.sweep.records,
        Some(p.project()),
        app.sweep.matrix_size,
    )?;
    Ok(out)
}

/// The folder the report and the PNG figures of the sweep shown go to.
pub fn report_dir(app: &LeukoApp) -> Option<PathBuf> {
    let p = app.project.as_ref()?;
    let cfg = app.sweep.config.as_ref()?;
    Some(SweepDir::of(&p.ws.path, &cfg.name).report_dir())
}

/// Saves the figures from a screenshot event, if one arrived.
fn take_screenshot(app: &mut LeukoApp, ctx: &egui::Context) {
    let Some(dir) = app.sweep.png_export.clone() else {
        return;
    };
    let shot = app.sweep.shot.lock().ok().and_then(|mut s| s.take());
    let Some(image) = shot else { return };
    app.sweep.png_export = None;
    let ppp = ctx.pixels_per_point();
    let mut saved = Vec::new();
    let mut err = None;
    for (fig, rect) in &app.sweep.figures {
        let px = |v: f32| (v * ppp).round().max(0.0) as usize;
        let (x0, y0) = (px(rect.min.x), px(rect.min.y));
        let (x1, y1) = (
            px(rect.max.x).min(image.size[0]),
            px(rect.max.y).min(image.size[1]),
        );
        if x1 <= x0 || y1 <= y0 {
            continue;
        }
        let mut out = image::RgbaImage::new((x1 - x0) as u32, (y1 - y0) as u32);
        for y in y0..y1 {
            for x in x0..x1 {
                let c = image.pixels[y * image.size[0] + x];
                out.put_pixel(
                    (x - x0) as u32,
                    (y - y0) as u32,
                    image::Rgba([c.r(), c.g(), c.b(), 255]),
                );
            }
        }
        let path = dir.join(format!("{}.png", fig.file_stem()));
        if let Err(e) = std::fs::create_dir_all(&dir)
            .map_err(|e| e.to_string())
            .and_then(|_| out.save(&path).map_err(|e| e.to_string()))
        {
            err = Some(format!("{}: {e}", path.display()));
        } else {
            saved.push(path);
        }
    }
    match err {
        Some(e) => app.send(Command::Notify(
            format!("could not save a figure: {e}"),
            true,
        )),
        None => app.send(Command::Notify(
            format!(
                "{} figure(s) saved as PNG in {}",
                saved.len(),
                dir.display()
            ),
            false,
        )),
    }
}

pub fn show(app: &mut LeukoApp, ui: &mut egui::Ui) {
    app.sweep.poll();
    if app.sweep.open {
        app.sweep.update_derived();
    }
    if app.sweep.changed
        && let Some(p) = &mut app.project
    {
        app.sweep.changed = false;
        p.set_predictions(app.sweep.predictions(), app.sweep.output_names.clone());
    }
    if app.sweep.png_request {
        // The figures are cut out of the screenshot when it arrives (a frame or two later).
        app.sweep.png_request = false;
        let slot = app.sweep.shot.clone();
        let ctx = ui.ctx().clone();
        ui.ctx().request_screenshot(move |image| {
            if let Ok(mut s) = slot.lock() {
                *s = Some(image);
            }
            ctx.request_repaint();
        });
    }
    take_screenshot(app, ui.ctx());
    resume_offer(app, ui);
    if !app.sweep.open {
        return;
    }
    if app.sweep.form.is_none()
        && let Some(p) = &app.project
    {
        app.sweep.form = Some(SweepForm::new(SweepPreset::QuickDemo, p.project()));
    }
    let mut open = true;
    let mut cmds = Vec::new();
    let mut figures = Vec::new();
    let project = app.project.as_ref().map(|p| p.project());
    let v = &mut app.sweep;
    // Never taller than the screen, so that its own scroll bar reaches the runs table.
    let max_h = (ui.ctx().content_rect().height() - 60.0).max(200.0);
    egui::Window::new("Training-size sweep")
        .open(&mut open)
        .default_size([820.0, 680.0f32.min(max_h)])
        .max_height(max_h)
        .vscroll(true)
        .show(ui.ctx(), |ui| {
            controls(v, ui, &mut cmds);
            if !v.is_running() {
                egui::CollapsingHeader::new("New sweep")
                    .default_open(v.records.is_empty() && v.config.is_none())
                    .show(ui, |ui| {
                        if let (Some(form), Some(project)) = (&mut v.form, project) {
                            sweep_form::show(form, project, ui, &mut cmds);
                        }
                    });
                if !v.saved.is_empty() {
                    egui::CollapsingHeader::new(format!("Saved sweeps ({})", v.saved.len())).show(
                        ui,
                        |ui| {
                            for s in &v.saved {
                                ui.horizontal(|ui| {
                                    ui.label(format!(
                                        "{}: {} of {} runs",
                                        s.name(),
                                        s.done,
                                        s.total
                                    ));
                                    if ui.button("Show").clicked() {
                                        cmds.push(Command::ShowSavedSweep(s.name().to_string()));
                                    }
                                    if !s.is_complete() && ui.button("Resume").clicked() {
                                        cmds.push(Command::StartSweep(s.snapshot.config.clone()));
                                    }
                                });
                            }
                        },
                    );
                }
            }
            // The device notice is shown once, under the progress bar, while the sweep runs.
            for n in v
                .notes
                .iter()
                .rev()
                .filter(|n| !(v.is_running() && n.starts_with("device: ")))
                .take(3)
            {
                ui.label(egui::RichText::new(n).weak());
            }
            if v.records.is_empty() && !v.is_running() {
                return; // nothing to plot yet
            }
            ui.columns(2, |cols| {
                figures.push((
                    Figure::LearningCurve,
                    sweep_plots::learning_curve(v, &mut cols[0], &mut cmds),
                ));
                figures.push((
                    Figure::ScoreVsSize,
                    sweep_plots::score_vs_size(v, &mut cols[1]),
                ));
            });
            let (sizes, size) = v
                .derived
                .as_ref()
                .map(|d| (d.sizes.clone(), d.size))
                .unwrap_or_default();
            if let Some(size) = size {
                ui.separator();
                ui.horizontal(|ui| {
                    ui.label("Results at");
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
                        });
                });
                if v.binary() {
                    ui.columns(2, |cols| {
                        if let Some(r) = sweep_plots::roc(v, &mut cols[0]) {
                            figures.push((Figure::Roc, r));
                        }
                        if let Some(r) = sweep_plots::confusion(v, &mut cols[1], &mut cmds) {
                            figures.push((Figure::Confusion, r));
                        }
                    });
                } else if let Some(r) = sweep_plots::confusion(v, ui, &mut cmds) {
                    figures.push((Figure::Confusion, r));
                }
            }
            ui.separator();
            sweep_plots::runs_table(v, ui, &mut cmds);
        });
    app.sweep.figures = figures;
    if !open {
        app.sweep.open = false;
    }
    for c in cmds {
        app.send(c);
    }
}

/// Progress, pause/cancel/resume and the exports.
fn controls(v: &SweepView, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        if v.is_running() {
            if ui
                .button("Pause")
                .on_hover_text("stop after storing the finished runs; Resume continues")
                .clicked()
            {
                cmds.push(Command::PauseSweep);
            }
            if ui.button("Cancel").clicked() {
                cmds.push(Command::CancelSweep);
            }
        } else if v.paused
            && let Some(cfg) = &v.config
            && ui.button("Resume").clicked()
        {
            cmds.push(Command::StartSweep(cfg.clone()));
        }
        let (done, total) = v.progress;
        let name = v.config.as_ref().map(|c| c.name.as_str()).unwrap_or("");
        let text = match v.current {
            Some(k) if v.is_running() => {
                let eta = v
                    .eta_seconds()
                    .map(|s| format!(" · about {} left", human(s)))
                    .unwrap_or_default();
                format!(
                    "{name}: run {} of {total} · fold {} · {} training images · epoch {}{eta}",
                    done + 1,
                    k.fold + 1,
                    k.size,
                    v.curve.len()
                )
            }
            _ if v.is_running() => format!("{name}: preparing…"),
            _ if v.paused => format!("{name}: paused, {done} of {total} runs finished"),
            _ if total > 0 => format!("{name}: {done} of {total} runs finished"),
            _ => String::new(),
        };
        if total > 0 || v.is_running() {
            ui.add(
                egui::ProgressBar::new(if total == 0 {
                    0.0
                } else {
                    done as f32 / total as f32
                })
                .text(text),
            );
        }
    });
    if v.is_running() && !v.device.is_empty() {
        ui.label(egui::RichText::new(format!("training on {}", v.device)).small());
    }
    if !v.records.is_empty() {
        ui.horizontal(|ui| {
            if ui
                .button("Export report")
                .on_hover_text("report.html, runs.csv, predictions.csv and the figures as SVG, in the sweep's folder")
                .clicked()
            {
                cmds.push(Command::ExportSweepReport);
            }
            if ui
                .button("Save figures as PNG")
                .on_hover_text("the figures as shown, into the sweep's report folder")
                .clicked()
            {
                cmds.push(Command::SaveSweepPngs);
            }
        });
    }
}

fn human(s: f64) -> String {
    if s < 90.0 {
        format!("{s:.0} s")
    } else if s < 5400.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// After opening a project with unfinished sweeps: offer to resume them.
fn resume_offer(app: &mut LeukoApp, ui: &mut egui::Ui) {
    if app.sweep.resume_offer.is_empty() || app.sweep.is_running() {
        return;
    }
    let mut cmds = Vec::new();
    egui::Window::new("Unfinished sweep")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::RIGHT_BOTTOM, [-12.0, -12.0])
        .show(ui.ctx(), |ui| {
            for s in &app.sweep.resume_offer {
                ui.label(format!(
                    "The sweep \"{}\" stopped after {} of {} runs.",
                    s.name(),
                    s.done,
                    s.total
                ));
                ui.horizontal(|ui| {
                    if ui.button("Resume").clicked() {
                        cmds.push(Command::StartSweep(s.snapshot.config.clone()));
                    }
                    if ui.button("Show results").clicked() {
                        cmds.push(Command::ShowSavedSweep(s.name().to_string()));
                    }
                });
            }
            if ui.button("Not now").clicked() {
                cmds.push(Command::DismissResumeOffer);
            }
        });
    for c in cmds {
        app.send(c);
    }
}
