//! Files the application writes for the user (the sweep report and figures, the explain
//! screen's pictures) go through one place: `Command::WriteFiles`. Each path is checked with
//! [`crate::output::check_output`] (the project's own files are never written); when some of
//! them exist, nothing is written until the user answers this window's question.

use std::path::PathBuf;

use crate::ui::command::Command;

/// One file to write: its path and its bytes.
pub type FileWrite = (PathBuf, Vec<u8>);

/// Files waiting for the user's answer: they would replace existing files.
#[derive(Clone, Debug, Default)]
pub struct OverwriteView {
    pub pending: Option<PendingWrite>,
}

/// A set of files to write together, and the message to show once they are written.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingWrite {
    pub files: Vec<FileWrite>,
    pub done: String,
    /// The files of `files` that exist.
    pub existing: Vec<PathBuf>,
}

/// The question, while files wait for an answer.
pub fn show(v: &OverwriteView, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    let Some(p) = &v.pending else { return };
    egui::Window::new("Replace existing files?")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ui.ctx(), |ui| {
            ui.label(format!(
                "{} of the {} file(s) to write already exist:",
                p.existing.len(),
                p.files.len()
            ));
            for f in p.existing.iter().take(8) {
                ui.monospace(f.display().to_string());
            }
            if p.existing.len() > 8 {
                ui.label(format!("… and {} more", p.existing.len() - 8));
            }
            ui.horizontal(|ui| {
                if ui.button("Replace").clicked() {
                    cmds.push(Command::AnswerOverwrite(true));
                }
                if ui.button("Cancel").clicked() {
                    cmds.push(Command::AnswerOverwrite(false));
                }
            });
        });
}

/// An image as PNG bytes.
pub fn png_bytes(img: &image::DynamicImage) -> Result<Vec<u8>, String> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}
