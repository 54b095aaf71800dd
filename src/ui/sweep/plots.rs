//! The sweep screen's figures, drawn live with egui_plot from the same numbers as the report
//! (`sweep::results`): learning curve, score vs training size, ROC at a size, confusion matrix
//! with clickable cells and the per-class table.

use egui_plot::{BoxElem, BoxPlot, BoxSpread, Legend, Line, Plot, PlotPoints, Polygon};

use super::view::SweepView;
use crate::sweep::results;
use crate::ui::command::{Command, only};

/// The learning curve of the run chosen in the runs table, else of the run training now, else
/// of a finished run (the one finished last while watching; for a sweep opened from disk, the
/// last of the table: last fold of the largest size); a finished run's best epoch is marked.
pub fn learning_curve(v: &SweepView, ui: &mut egui::Ui, cmds: &mut Vec<Command>) -> egui::Rect {
    let chosen = v
        .shown_run
        .and_then(|k| v.records.iter().find(|r| r.key == k));
    let record = chosen.or(if v.is_running() && v.current.is_some() {
        None
    } else {
        v.records.last()
    });
    let (curve, best): (Vec<(f64, f64)>, Option<usize>) = match record {
        Some(r) => (
            r.train_loss
                .iter()
                .copied()
                .zip(r.val_loss.iter().copied())
                .collect(),
            (r.best_epoch > 0).then_some(r.best_epoch),
        ),
        None => (v.curve.clone(), None),
    };
    ui.horizontal(|ui| {
        match record {
            Some(r) => ui.strong(format!(
                "Run: fold {}, {} training images: loss per epoch",
                r.key.fold + 1,
                r.key.size
            )),
            None if v.is_running() => ui.strong("Current run: loss per epoch"),
            // The partial curve of a run stopped before it finished.
            None => ui.strong("Unfinished run: loss per epoch"),
        };
        if chosen.is_some()
            && ui
                .small_button("unpin")
                .on_hover_text("stop showing the run chosen in the runs table")
                .clicked()
        {
            cmds.push(Command::ShowSweepRun(None));
        }
    });
    Plot::new("learning-curve")
        .legend(Legend::default())
        .height(200.0)
        .x_axis_label("epoch")
        .y_axis_label("loss")
        // Wide enough for "0.6931" from the first frame (egui_plot widens the axis a frame late).
        .y_axis_min_width(40.0)
        .show(ui, |p| {
            let pts = |f: fn(&(f64, f64)) -> f64| -> PlotPoints {
                curve
                    .iter()
                    .enumerate()
                    .map(|(i, c)| [i as f64 + 1.0, f(c)])
                    .collect()
            };
            p.line(Line::new("train", pts(|c| c.0)));
            p.line(Line::new("validation", pts(|c| c.1)));
            if let Some(b) = best {
                p.vline(
                    egui_plot::VLine::new("best validation (weights kept)", b as f64)
                        .color(egui::Color32::from_gray(150))
                        .style(egui_plot::LineStyle::dashed_loose()),
                );
            }
        })
        .response
        .rect
}

pub fn score_vs_size(v: &SweepView, ui: &mut egui::Ui) -> egui::Rect {
    ui.strong(if v.binary() {
        "Test ROC-AUC vs training size"
    } else {
        "Weighted F1 vs training size"
    });
    let mut boxes = Vec::new();
    let mut means = Vec::new();
    for (s, b) in v.derived.iter().flat_map(|d| d.scores.iter().cloned()) {
        boxes.push(
            BoxElem::new(
                s as f64,
                BoxSpread::new(b.whisker_low, b.q1, b.median, b.q3, b.whisker_high),
            )
            .box_width((s as f64 * 0.15).max(1.0))
            .name(format!("n = {s}")),
        );
        means.push([s as f64, b.mean]);
    }
    Plot::new("auc-vs-size")
        .legend(Legend::default().position(egui_plot::Corner::RightBottom))
        .height(200.0)
        .x_axis_label("training images")
        .y_axis_label(if v.binary() { "ROC-AUC" } else { "weighted F1" })
        .y_axis_min_width(30.0)
        .include_y(0.5)
        .include_y(1.0)
        .show(ui, |p| {
            p.box_plot(BoxPlot::new("folds", boxes));
            p.line(Line::new("mean", PlotPoints::from(means)));
        })
        .response
        .rect
}

/// ROC curves at `size`: each fold thin, the mean thick with a ±1 sd band, AUC in the legend.
pub fn roc(v: &SweepView, ui: &mut egui::Ui) -> Option<egui::Rect> {
    let r = v.derived.as_ref()?.roc.as_ref()?;
    let size = r.size;
    let legend = match r.auc {
        Some(a) => format!("mean ROC, AUC {a}"),
        None => "mean ROC".into(),
    };
    let folds = r.folds.len();
    ui.strong(format!(
        "ROC at {size} training images ({folds} fold{})",
        if folds == 1 { "" } else { "s" }
    ));
    let resp = Plot::new("roc")
        .legend(Legend::default().position(egui_plot::Corner::RightBottom))
        .height(240.0)
        .data_aspect(1.0)
        .include_x(0.0)
        .include_x(1.0)
        .include_y(0.0)
        .include_y(1.0)
        .x_axis_label("false positive rate")
        .y_axis_label("true positive rate")
        .show(ui, |p| {
            let m = &r.mean;
            // egui fills convex polygons only: the band is a strip of trapezoids.
            for i in 1..m.fpr.len() {
                let quad = vec![
                    [m.fpr[i - 1], m.lower[i - 1]],
                    [m.fpr[i], m.lower[i]],
                    [m.fpr[i], m.upper[i]],
                    [m.fpr[i - 1], m.upper[i - 1]],
                ];
                p.polygon(
                    Polygon::new("±1 sd", PlotPoints::from(quad))
                        .fill_color(egui::Color32::from_rgba_unmultiplied(200, 60, 60, 50))
                        .stroke(egui::Stroke::NONE),
                );
            }
            for f in &r.folds {
                let pts: PlotPoints = f.iter().map(|q| [q.fpr, q.tpr]).collect();
                p.line(
                    Line::new("folds", pts)
                        .width(0.8)
                        .color(egui::Color32::from_rgb(110, 140, 170)),
                );
            }
            p.line(
                Line::new("chance", PlotPoints::from(vec![[0.0, 0.0], [1.0, 1.0]]))
                    .color(egui::Color32::GRAY)
                    .width(0.5),
            );
            let mean: PlotPoints = m
                .fpr
                .iter()
                .zip(&m.mean_tpr)
                .map(|(x, y)| [*x, *y])
                .collect();
            p.line(
                Line::new(legend.clone(), mean)
                    .width(2.5)
                    .color(egui::Color32::from_rgb(200, 60, 60)),
            );
        });
    ui.label(egui::RichText::new(legend).small());
    Some(resp.response.rect)
}

/// The confusion matrix at `size` (all folds pooled) as a heat map with counts and row
/// percentages; clicking a cell shows exactly its images in the gallery. Below it the
/// per-class precision, recall and F1.
pub fn confusion(v: &SweepView, ui: &mut egui::Ui, cmds: &mut Vec<Command>) -> Option<egui::Rect> {
    let d = v.derived.as_ref()?;
    let (c, size) = (d.confusion.as_ref()?, d.size?);
    ui.horizontal(|ui| {
        ui.strong(format!(
            "Confusion matrix at {size} training images (all folds)"
        ));
        if let Some(m) = crate::metrics::mean_sd(&c.fold_f1) {
            ui.label(format!("weighted F1 {m}"));
        }
    });
    let rect = heat_map(v, c, ui, cmds);
    ui.add_space(6.0);
    per_class_table(v, c, ui);
    Some(rect)
}

/// The matrix as a heat map with counts and row percentages; a click on a cell shows its
/// images in the gallery.
#[allow(clippy::needless_range_loop)] // t and p index the matrix, its cells and the names
fn heat_map(
    v: &SweepView,
    c: &crate::sweep::results::SizeConfusion,
    ui: &mut egui::Ui,
    cmds: &mut Vec<Command>,
) -> egui::Rect {
    let k = v.output_names.len();
    let pct = c.matrix.row_percentages();
    let cell = egui::vec2(74.0, 34.0);
    let font = egui::FontId::proportional(12.0);
    let text_color = ui.visuals().text_color();
    // Whole class names: the row labels take the width of the longest name, the column
    // headers wrap within their cell.
    let (label_w, headers, header_h) = heat_map_labels(v, ui, &font, text_color, cell.x);
    let (rect, _) = ui.allocate_exact_size(
        egui::vec2(label_w + cell.x * k as f32, header_h + cell.y * k as f32),
        egui::Sense::hover(),
    );
    let painter = ui.painter_at(rect);
    for (p, g) in headers.into_iter().enumerate() {
        let x = rect.min.x + label_w + (p as f32 + 0.5) * cell.x - g.size().x / 2.0;
        let y = rect.min.y + header_h - g.size().y - 2.0;
        painter.galley(egui::pos2(x, y), g, text_color);
    }
    for t in 0..k {
        let y = rect.min.y + header_h + t as f32 * cell.y;
        painter.text(
            egui::pos2(rect.min.x, y + cell.y / 2.0),
            egui::Align2::LEFT_CENTER,
            &v.output_names[t],
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
                cmds.push(Command::SetFilter(only(c.cells[t][p].clone())));
            }
        }
    }
    rect
}

/// The width of the longest row label, the column headers (wrapped to the cell width) and
/// their height.
fn heat_map_labels(
    v: &SweepView,
    ui: &egui::Ui,
    font: &egui::FontId,
    color: egui::Color32,
    cell_w: f32,
) -> (f32, Vec<std::sync::Arc<egui::Galley>>, f32) {
    let painter = ui.painter();
    let label_w = v
        .output_names
        .iter()
        .map(|n| {
            painter
                .layout_no_wrap(n.clone(), font.clone(), color)
                .size()
                .x
        })
        .fold(40.0_f32, f32::max)
        + 10.0;
    let headers: Vec<_> = v
        .output_names
        .iter()
        .map(|n| painter.layout(n.clone(), font.clone(), color, cell_w - 4.0))
        .collect();
    let header_h = headers.iter().map(|g| g.size().y).fold(14.0_f32, f32::max) + 4.0;
    (label_w, headers, header_h)
}

/// Precision, recall, F1 and support per class.
fn per_class_table(v: &SweepView, c: &crate::sweep::results::SizeConfusion, ui: &mut egui::Ui) {
    egui::Grid::new("per-class").striped(true).show(ui, |ui| {
        for h in ["class", "precision", "recall", "F1", "support"] {
            ui.strong(h);
        }
        ui.end_row();
        for (i, s) in c.matrix.per_class().iter().enumerate() {
            ui.label(&v.output_names[i]);
            ui.label(format!("{:.3}", s.precision));
            ui.label(format!("{:.3}", s.recall));
            ui.label(format!("{:.3}", s.f1));
            ui.label(s.support.to_string());
            ui.end_row();
        }
    });
}

/// Every finished run; clicking a run's fold shows its learning curve (again: the current run).
pub fn runs_table(v: &SweepView, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    // No scroll area of its own: the window scrolls (a nested one would catch the wheel).
    egui::Grid::new("runs-grid").striped(true).show(ui, |ui| {
        for h in [
            "run", "size", "score", "epochs", "status", "device", "seconds",
        ] {
            ui.strong(h);
        }
        ui.end_row();
        let mut recs: Vec<_> = v.records.iter().collect();
        recs.sort_by_key(|r| (r.key.size, r.key.fold));
        for r in recs {
            let chosen = v.shown_run == Some(r.key);
            if ui
                .selectable_label(chosen, format!("fold {}", r.key.fold + 1))
                .on_hover_text("show this run's learning curve")
                .clicked()
            {
                cmds.push(Command::ShowSweepRun((!chosen).then_some(r.key)));
            }
            ui.label(r.key.size.to_string());
            ui.label(
                results::score(r)
                    .map(|x| format!("{x:.3}"))
                    .unwrap_or_default(),
            );
            ui.label(format!("{} (best {})", r.epochs, r.best_epoch));
            ui.label(r.status.to_string());
            ui.label(short(&r.device, 28));
            ui.label(format!("{:.0}", r.seconds));
            ui.end_row();
        }
    });
}

fn short(name: &str, n: usize) -> String {
    if name.chars().count() > n {
        format!("{}…", name.chars().take(n - 1).collect::<String>())
    } else {
        name.to_string()
    }
}
