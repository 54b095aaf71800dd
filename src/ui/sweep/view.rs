//! The sweep screen's own state ([`SweepView`]): the sweep shown, its finished runs, the
//! running job and its progress, and what the figures draw. No drawing here; the panels
//! read it.

use std::path::PathBuf;
use std::time::Instant;

use crate::jobs::Job;
use crate::metrics::BoxStats;
use crate::project::query::Predicted;
use crate::sweep::RunKey;
use crate::sweep::results::{self, SizeConfusion, SizeRoc, confusion_at};
use crate::sweep::{RunRecord, SavedSweep, SweepConfig, SweepEvent};
use crate::train::TrainEvent;
use crate::ui::state::SweepShown;

use super::form::SweepForm;

/// Which figure a rectangle on screen holds (for the PNG export).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    LearningCurve,
    ScoreVsSize,
    Roc,
    Confusion,
}

impl Figure {
    /// The file name of the figure's PNG, without the extension.
    pub fn file_stem(self) -> &'static str {
        match self {
            Figure::LearningCurve => "learning_curve",
            Figure::ScoreVsSize => "score_vs_size",
            Figure::Roc => "roc",
            Figure::Confusion => "confusion",
        }
    }
}

/// The sweep window's tabs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SweepTab {
    /// The sweep shown: progress, plots, runs (first, so results are never below the fold).
    #[default]
    Results,
    NewSweep,
    Saved,
}

/// The sweep screen's state.
#[derive(Default)]
pub struct SweepView {
    pub open: bool,
    /// The tab chosen (see [`SweepView::effective_tab`]).
    pub tab: SweepTab,
    /// The sweep running in the background; its events come back over the job's channel.
    running: Option<Job<SweepEvent>>,
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
    changed: bool,
    /// The new-sweep form (created when the screen first opens on a project).
    pub form: Option<SweepForm>,
    /// Sweeps stored beside the project.
    pub saved: Vec<SavedSweep>,
    /// Unfinished sweeps found when the project was opened: offered for resuming.
    pub resume_offer: Vec<SavedSweep>,
    /// Figure rectangles of the last frame, and a pending PNG export folder.
    pub(super) figures: Vec<(Figure, egui::Rect)>,
    pub(super) png_export: Option<PathBuf>,
    /// A screenshot for the PNG export is to be requested this frame.
    pub(super) png_request: bool,
    /// Counts changes of `records` (for `derived`).
    generation: u64,
    /// What the figures show, computed once per change of the runs or the chosen size.
    pub derived: Option<Derived>,
    /// Where the requested screenshot arrives.
    pub(super) shot: std::sync::Arc<std::sync::Mutex<Option<std::sync::Arc<egui::ColorImage>>>>,
}

/// The numbers the figures draw, derived from the finished runs. Recomputed when the runs or
/// the chosen size change, not every frame.
pub struct Derived {
    key: (u64, Option<usize>),
    /// Training sizes with finished runs, ascending.
    pub sizes: Vec<usize>,
    /// The size the ROC curves and the confusion matrix are shown for.
    pub size: Option<usize>,
    pub scores: Vec<(usize, BoxStats)>,
    pub roc: Option<SizeRoc>,
    pub confusion: Option<SizeConfusion>,
}

impl SweepView {
    pub fn is_running(&self) -> bool {
        self.running.as_ref().is_some_and(|r| !r.is_finished())
    }

    /// The tab to draw: Results, unless no sweep is shown yet, then the new-sweep form.
    pub fn effective_tab(&self) -> SweepTab {
        let nothing_shown = self.config.is_none() && self.records.is_empty() && !self.is_running();
        if self.tab == SweepTab::Results && nothing_shown {
            SweepTab::NewSweep
        } else {
            self.tab
        }
    }

    /// A binary task (ROC curves and AUC) rather than multiclass (weighted F1).
    pub fn binary(&self) -> bool {
        (self.output_names.len() == 2 || self.output_names.is_empty())
            && (self.records.is_empty() || self.records.iter().any(|r| r.test_auc.is_some()))
    }

    /// What the explain screen needs to know of the sweep shown.
    pub fn shown(&self) -> SweepShown {
        SweepShown {
            name: self.config.as_ref().map(|c| c.name.clone()),
            finished_runs: self.records.len(),
        }
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

    /// The gallery's new predictions and their output names, once after the runs changed.
    pub fn take_changed_predictions(&mut self) -> Option<(Predicted, Vec<String>)> {
        if !std::mem::take(&mut self.changed) {
            return None;
        }
        Some((self.predictions(), self.output_names.clone()))
    }

    /// Shows a stored sweep (`records`: its finished runs) without running anything.
    pub fn show_saved(&mut self, s: &SavedSweep, records: Vec<RunRecord>) {
        let form = self.form.take();
        let saved = std::mem::take(&mut self.saved);
        *self = SweepView {
            open: true,
            records,
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

    /// Shows the sweep `job` runs: `config`, with its output names and the runs already stored
    /// (shown at once).
    pub fn started(
        &mut self,
        job: Job<SweepEvent>,
        config: SweepConfig,
        output_names: Vec<String>,
        records: Vec<RunRecord>,
    ) {
        let form = self.form.take();
        let saved = std::mem::take(&mut self.saved);
        *self = SweepView {
            open: true,
            running: Some(job),
            output_names,
            changed: !records.is_empty(),
            records,
            config: Some(config),
            form,
            saved,
            ..Default::default()
        };
    }

    /// A project was opened with these stored sweeps: unfinished ones are offered for resuming.
    pub fn project_opened(&mut self, saved: Vec<SavedSweep>) {
        *self = SweepView {
            resume_offer: saved.iter().filter(|s| !s.is_complete()).cloned().collect(),
            saved,
            ..Default::default()
        };
    }

    /// Drains the sweep's events (once per frame).
    pub fn poll(&mut self) {
        let Some(job) = &self.running else { return };
        let mut ended = job.is_finished();
        for ev in job.drain() {
            self.on_event(ev);
            ended = false;
        }
        if ended {
            self.finished = true;
            self.running = None;
            self.paused = self.progress.0 < self.progress.1;
        }
    }

    fn on_event(&mut self, ev: SweepEvent) {
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
    }

    /// Asks the running sweep to stop (its finished runs are stored).
    pub fn cancel(&self) {
        if let Some(r) = &self.running {
            r.cancel();
        }
    }

    /// Saves the figures as PNG into `dir` from a screenshot requested next frame.
    pub fn request_png_export(&mut self, dir: PathBuf) {
        self.png_export = Some(dir);
        self.png_request = true;
    }
}
