//! The sweep screen's controls: progress with the estimated time left, pause, cancel and
//! resume, and the exports.

use super::view::SweepView;
use crate::ui::command::Command;

/// Progress, pause/cancel/resume and the exports.
pub fn show(v: &SweepView, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        buttons(v, ui, cmds);
        let (done, total) = v.progress;
        if total > 0 || v.is_running() {
            ui.add(
                egui::ProgressBar::new(if total == 0 {
                    0.0
                } else {
                    done as f32 / total as f32
                })
                .text(progress_text(v)),
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

/// Pause and Cancel while running; Resume when paused.
fn buttons(v: &SweepView, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
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
}

/// The text on the progress bar: run, fold, size, epoch and time left while running.
fn progress_text(v: &SweepView) -> String {
    let (done, total) = v.progress;
    let name = v.config.as_ref().map(|c| c.name.as_str()).unwrap_or("");
    match v.current {
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
    }
}

/// Seconds as a rough duration ("40 s", "12 min", "2.5 h").
fn human(s: f64) -> String {
    if s < 90.0 {
        format!("{s:.0} s")
    } else if s < 5400.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}
