//! The sweeps stored beside the project: the list with Show and Resume, and the window that
//! offers to resume unfinished ones after the project opened.

use super::view::SweepView;
use crate::ui::command::Command;

/// The saved sweeps tab: each with its finished runs, Show, and Resume when unfinished.
pub fn list(v: &SweepView, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    if v.saved.is_empty() {
        ui.label("No sweep is stored beside this project yet.");
        return;
    }
    for s in &v.saved {
        ui.horizontal(|ui| {
            ui.label(format!("{}: {} of {} runs", s.name(), s.done, s.total));
            if ui.button("Show").clicked() {
                cmds.push(Command::ShowSavedSweep(s.name().to_string()));
            }
            if !s.is_complete() && ui.button("Resume").clicked() {
                cmds.push(Command::StartSweep(s.snapshot.config.clone()));
            }
        });
    }
}

/// After opening a project with unfinished sweeps: offer to resume them.
pub fn resume_offer(v: &SweepView, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    if v.resume_offer.is_empty() || v.is_running() {
        return;
    }
    egui::Window::new("Unfinished sweep")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::RIGHT_BOTTOM, [-12.0, -12.0])
        .show(ui.ctx(), |ui| {
            for s in &v.resume_offer {
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
}
