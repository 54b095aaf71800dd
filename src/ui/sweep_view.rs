//! The sweep screen: start a training-size sweep in the background, watch its progress and the
//! current run's learning curve, and see AUC (or weighted F1) vs training size fill in as runs
//! finish (box plots per size with the mean line, as in the paper's Fig. 4a).

use std::sync::mpsc::{Receiver, channel};

use egui_plot::{BoxElem, BoxPlot, BoxSpread, Legend, Line, Plot, PlotPoints};

use super::app::{Command, LeukoApp};
use crate::backend::{self, BackendChoice};
use crate::jobs::Job;
use crate::sweep::run::{self, RunRecord, SweepConfig, SweepEvent};
use crate::sweep::{RunKey, SweepDesign, ValSize};
use crate::train::{Task, TrainConfig, TrainEvent};

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
    pub notes: Vec<String>,
    pub finished: bool,
    /// Names of the network outputs (classes of the task).
    pub output_names: Vec<String>,
    /// Training size whose confusion matrix is shown (default: the largest finished).
    pub matrix_size: Option<usize>,
}

/// The test predictions of all folds at one training size, as a confusion matrix plus the
/// images behind every cell.
pub struct SizeConfusion {
    pub matrix: crate::metrics::ConfusionMatrix,
    /// `cells[t][p]`: the images with target `t` predicted as `p`.
    pub cells: Vec<Vec<Vec<crate::project::ImageId>>>,
    /// Weighted F1 of each fold.
    pub fold_f1: Vec<f64>,
}

/// Pools the test predictions of every fold at `size`.
pub fn confusion_at(records: &[RunRecord], size: usize, n_classes: usize) -> Option<SizeConfusion> {
    let runs: Vec<&RunRecord> = records.iter().filter(|r| r.key.size == size).collect();
    if runs.is_empty() || n_classes == 0 {
        return None;
    }
    let mut cells = vec![vec![Vec::new(); n_classes]; n_classes];
    let mut truth = Vec::new();
    let mut pred = Vec::new();
    let mut fold_f1 = Vec::new();
    for r in runs {
        let mut ft = Vec::new();
        let mut fp = Vec::new();
        for (id, t, probs) in &r.predictions {
            let p = probs
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i)
                .unwrap_or(0);
            if *t < n_classes && p < n_classes {
                cells[*t][p].push(*id);
                ft.push(*t);
                fp.push(p);
            }
        }
        if let Some(f) = crate::metrics::ConfusionMatrix::from_pairs(n_classes, &ft, &fp)
            .ok()
            .and_then(|m| m.weighted_f1())
        {
            fold_f1.push(f);
        }
        truth.extend(ft);
        pred.extend(fp);
    }
    let matrix = crate::metrics::ConfusionMatrix::from_pairs(n_classes, &truth, &pred).ok()?;
    Some(SizeConfusion {
        matrix,
        cells,
        fold_f1,
    })
}

impl SweepView {
    pub fn is_running(&self) -> bool {
        self.running.as_ref().is_some_and(|r| !r.job.is_finished())
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
                }
                SweepEvent::RunStarted { index, total, key } => {
                    self.progress = (index - 1, total);
                    self.current = Some(key);
                    self.curve.clear();
                }
                SweepEvent::Train(_, TrainEvent::Epoch(e)) => {
                    self.curve.push((e.train_loss, e.val_loss))
                }
                SweepEvent::Train(..) => {}
                SweepEvent::RunFinished(rec) => {
                    self.progress.0 += 1;
                    self.records.retain(|x| x.key != rec.key);
                    self.records.push(*rec);
                }
                SweepEvent::Notice(n) => self.notes.push(n),
            }
            ended = false;
        }
        if ended {
            self.finished = true;
            self.running = None;
        }
    }

    pub fn cancel(&self) {
        if let Some(r) = &self.running {
            r.job.cancel();
        }
    }
}

/// The "Quick demo" preset: small input, 3 folds, a few sizes, short patience: minutes on 2
/// CPU cores. Binary (the classes flagged positive vs the rest). Its seed derives from the
/// project's master seed.
pub fn quick_demo(project_seed: u64) -> SweepConfig {
    SweepConfig {
        name: "quick-demo".into(),
        task: Task::Binary,
        train: TrainConfig {
            input_size: 190,
            max_epochs: 12,
            patience: 4,
            ..TrainConfig::quick()
        },
        design: SweepDesign {
            k_folds: 3,
            val: ValSize::Count(10),
            sizes: vec![10, 20, 40],
            seed: crate::train::derive_seed(project_seed, 300),
        },
    }
}

/// Starts `config` on the open project in the background.
pub fn start(app: &mut LeukoApp, config: SweepConfig) -> Result<(), String> {
    let Some(p) = &app.project else {
        return Err("open a project first".into());
    };
    if app.sweep.is_running() {
        return Err("a sweep is already running".into());
    }
    let project = p.project().clone();
    let path = p.ws.path.clone();
    let output_names = run::take_snapshot(&project, &config)?.output_names;
    let (tx, rx) = channel();
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
                &config,
                &mut backend,
                None,
                None,
                &cancel,
                &mut |ev| {
                    let _ = tx.send(ev);
                    ctx.progress(0, 0, "sweep"); // wakes the UI
                },
            )
            .map(|_| ())
        })
        .map_err(|e| e.to_string())?;
    app.sweep = SweepView {
        open: true,
        running: Some(Running { job, events: rx }),
        output_names,
        ..Default::default()
    };
    Ok(())
}

pub fn show(app: &mut LeukoApp, ui: &mut egui::Ui) {
    app.sweep.poll();
    if !app.sweep.open {
        return;
    }
    let mut open = true;
    let mut cmds = Vec::new();
    let project_seed = app.project.as_ref().map(|p| p.project().seed).unwrap_or(0);
    let v = &app.sweep;
    let binary = v.records.iter().any(|r| r.test_auc.is_some()) || v.records.is_empty();
    egui::Window::new("Training-size sweep")
        .open(&mut open)
        .default_size([760.0, 620.0])
        .show(ui.ctx(), |ui| {
            ui.horizontal(|ui| {
                if v.is_running() {
                    if ui.button("Cancel sweep").clicked() {
                        cmds.push(Command::CancelSweep);
                    }
                } else if ui
                    .button("Start quick demo sweep")
                    .on_hover_text("blast vs rest, 3 folds, 10/20/40 training images, 190 px: minutes on a CPU")
                    .clicked()
                {
                    cmds.push(Command::StartSweep(quick_demo(project_seed)));
                }
                let (done, total) = v.progress;
                let text = match v.current {
                    Some(k) if v.is_running() => format!(
                        "run {} of {total} · fold {} · {} training images · epoch {}",
                        done + 1,
                        k.fold + 1,
                        k.size,
                        v.curve.len()
                    ),
                    _ if v.finished => format!("{done} of {total} runs finished"),
                    _ => String::new(),
                };
                ui.add(
                    egui::ProgressBar::new(if total == 0 { 0.0 } else { done as f32 / total as f32 })
                        .text(text),
                );
            });
            for n in v.notes.iter().rev().take(3) {
                ui.label(egui::RichText::new(n).weak());
            }
            ui.columns(2, |cols| {
                cols[0].strong("Current run: loss per epoch");
                Plot::new("learning-curve")
                    .legend(Legend::default())
                    .height(220.0)
                    .x_axis_label("epoch")
                    .show(&mut cols[0], |p| {
                        let train: PlotPoints = v.curve.iter().enumerate().map(|(i, c)| [i as f64 + 1.0, c.0]).collect();
                        let val: PlotPoints = v.curve.iter().enumerate().map(|(i, c)| [i as f64 + 1.0, c.1]).collect();
                        p.line(Line::new("train", train));
                        p.line(Line::new("validation", val));
                    });
                cols[1].strong(if binary { "Test ROC-AUC vs training size" } else { "Weighted F1 vs training size" });
                let mut sizes: Vec<usize> = v.records.iter().map(|r| r.key.size).collect();
                sizes.sort();
                sizes.dedup();
                let mut boxes = Vec::new();
                let mut means = Vec::new();
                for s in &sizes {
                    let vals: Vec<f64> = v
                        .records
                        .iter()
                        .filter(|r| r.key.size == *s)
                        .filter_map(|r| r.test_auc.or(r.test_weighted_f1))
                        .collect();
                    if let Some(b) = crate::metrics::box_stats(&vals) {
                        boxes.push(
                            BoxElem::new(*s as f64, BoxSpread::new(b.whisker_low, b.q1, b.median, b.q3, b.whisker_high))
                                .box_width((*s as f64 * 0.15).max(1.0))
                                .name(format!("n = {s}")),
                        );
                        means.push([*s as f64, b.mean]);
                    }
                }
                Plot::new("auc-vs-size")
                    .legend(Legend::default())
                    .height(220.0)
                    .x_axis_label("training images")
                    .include_y(0.5)
                    .include_y(1.0)
                    .show(&mut cols[1], |p| {
                        p.box_plot(BoxPlot::new("folds", boxes));
                        p.line(Line::new("mean", PlotPoints::from(means)));
                    });
            });
            ui.separator();
            confusion_panel(v, ui, &mut cmds);
            ui.separator();
            egui::ScrollArea::vertical().id_salt("runs").max_height(160.0).show(ui, |ui| {
                egui::Grid::new("runs-grid").striped(true).show(ui, |ui| {
                    for h in ["fold", "size", "score", "epochs", "status", "seconds"] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    let mut recs: Vec<&RunRecord> = v.records.iter().collect();
                    recs.sort_by_key(|r| (r.key.size, r.key.fold));
                    for r in recs {
                        ui.label((r.key.fold + 1).to_string());
                        ui.label(r.key.size.to_string());
                        ui.label(r.test_auc.or(r.test_weighted_f1).map(|x| format!("{x:.3}")).unwrap_or_default());
                        ui.label(format!("{} (best {})", r.epochs, r.best_epoch));
                        ui.label(&r.status);
                        ui.label(format!("{:.0}", r.seconds));
                        ui.end_row();
                    }
                });
            });
        });
    if !open {
        app.sweep.open = false;
    }
    for c in cmds {
        app.send(c);
    }
}

/// The confusion matrix at one training size (all folds pooled) as a heat map with counts and
/// row percentages; clicking a cell shows exactly its images in the gallery.
fn confusion_panel(v: &SweepView, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    let mut sizes: Vec<usize> = v.records.iter().map(|r| r.key.size).collect();
    sizes.sort();
    sizes.dedup();
    let Some(&largest) = sizes.last() else { return };
    let size = v
        .matrix_size
        .filter(|s| sizes.contains(s))
        .unwrap_or(largest);
    let k = v.output_names.len();
    let Some(c) = confusion_at(&v.records, size, k) else {
        return;
    };
    ui.horizontal(|ui| {
        ui.strong("Confusion matrix (all folds) at");
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
        if let Some(m) = crate::metrics::mean_sd(&c.fold_f1) {
            ui.label(format!("weighted F1 {m}"));
        }
    });
    let pct = c.matrix.row_percentages();
    let cell = egui::vec2(74.0, 34.0);
    let label_w = 150.0;
    let (rect, _) = ui.allocate_exact_size(
        egui::vec2(label_w + cell.x * k as f32, 18.0 + cell.y * k as f32),
        egui::Sense::hover(),
    );
    let painter = ui.painter_at(rect);
    let font = egui::FontId::proportional(12.0);
    let text_color = ui.visuals().text_color();
    for (p, name) in v.output_names.iter().enumerate() {
        let pos = rect.min + egui::vec2(label_w + (p as f32 + 0.5) * cell.x, 9.0);
        painter.text(
            pos,
            egui::Align2::CENTER_CENTER,
            short(name),
            font.clone(),
            text_color,
        );
    }
    for t in 0..k {
        let y = rect.min.y + 18.0 + t as f32 * cell.y;
        painter.text(
            egui::pos2(rect.min.x, y + cell.y / 2.0),
            egui::Align2::LEFT_CENTER,
            short(&v.output_names[t]),
            font.clone(),
            text_color,
        );
        for p in 0..k {
            let r = egui::Rect::from_min_size(
                egui::pos2(rect.min.x + label_w + p as f32 * cell.x, y),
                cell,
            )
            .shrink(1.0);
            let share = pct[t][p] / 100.0;
            let fill = if t == p {
                egui::Color32::from_rgb(30, (60.0 + 150.0 * share) as u8, 90)
            } else {
                egui::Color32::from_rgb((60.0 + 170.0 * share) as u8, 40, 40)
            };
            painter.rect_filled(r, 3.0, fill);
            painter.text(
                r.center(),
                egui::Align2::CENTER_CENTER,
                format!("{}\n{:.0}%", c.matrix.counts[t][p], pct[t][p]),
                font.clone(),
                egui::Color32::WHITE,
            );
            let resp = ui.interact(r, ui.make_persistent_id(("cm", t, p)), egui::Sense::click());
            let label = format!(
                "true {}, predicted {}",
                v.output_names[t], v.output_names[p]
            );
            resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
            if resp
                .on_hover_text(format!(
                    "{label}: show these {} images in the gallery",
                    c.cells[t][p].len()
                ))
                .clicked()
            {
                cmds.push(Command::SetFilter(super::gallery::only(
                    c.cells[t][p].clone(),
                )));
            }
        }
    }
}

fn short(name: &str) -> String {
    if name.chars().count() > 20 {
        format!("{}…", name.chars().take(19).collect::<String>())
    } else {
        name.to_string()
    }
}
