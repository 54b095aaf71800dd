//! The menu bar (Project: New, Open, Save, Save As, Export labels, Locate dataset, Recent),
//! the status bar with messages, dropped files and folders, and the one-time annotator prompt.
//! File dialogs (rfd) only open from menu clicks, never in tests.

use std::path::{Path, PathBuf};

use super::app::{Command, LeukoApp};
use crate::dataset::Layout;

#[derive(Default)]
pub struct ProjectMenu {
    /// (what, done, total) of a running background job (import, hashing, embedding).
    pub import_running: Option<(String, usize, usize)>,
    annotator_buf: String,
    /// The annotator prompt is showing.
    prompt_open: bool,
}

impl ProjectMenu {
    /// A modal dialog owns the keyboard.
    pub fn modal_open(&self) -> bool {
        self.prompt_open
    }
}

/// Where a project for a dropped or chosen dataset folder goes: `projects/<folder>.ron`
/// (numbered if taken).
pub fn default_output(source: &Path) -> PathBuf {
    let stem = source
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".into());
    let dir = PathBuf::from("projects");
    let mut out = dir.join(format!("{stem}.ron"));
    let mut k = 2;
    while out.exists() {
        out = dir.join(format!("{stem}-{k}.ron"));
        k += 1;
    }
    out
}

fn pick_dataset() -> Option<PathBuf> {
    rfd::FileDialog::new()
        .set_title("Import a dataset folder")
        .pick_folder()
}

pub fn show(app: &mut LeukoApp, ui: &mut egui::Ui) {
    let mut cmds: Vec<Command> = Vec::new();
    egui::Panel::top("menu").show(ui, |ui| {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("Project", |ui| {
                if ui.button("New from dataset folder…").clicked() {
                    ui.close();
                    if let Some(src) = pick_dataset() {
                        let suggested = default_output(&src);
                        let out = rfd::FileDialog::new()
                            .set_title("Save the new project as")
                            .add_filter("leukolens project", &["ron"])
                            .set_file_name(
                                suggested
                                    .file_name()
                                    .map(|n| n.to_string_lossy().into_owned())
                                    .unwrap_or_default(),
                            )
                            .save_file();
                        if let Some(output) = out {
                            cmds.push(Command::NewProject {
                                source: src,
                                layout: None,
                                output,
                            });
                        }
                    }
                }
                if ui.button("Open…").clicked() {
                    ui.close();
                    if let Some(f) = rfd::FileDialog::new()
                        .add_filter("leukolens project", &["ron"])
                        .pick_file()
                    {
                        cmds.push(Command::OpenProject(f));
                    }
                }
                ui.menu_button("Open recent", |ui| {
                    if app.settings.recent.is_empty() {
                        ui.label("none yet");
                    }
                    for r in app.settings.recent.clone() {
                        if ui.button(r.display().to_string()).clicked() {
                            ui.close();
                            cmds.push(Command::OpenProject(r));
                        }
                    }
                });
                ui.separator();
                let has = app.project.is_some();
                if ui.add_enabled(has, egui::Button::new("Save")).clicked() {
                    ui.close();
                    cmds.push(Command::Save);
                }
                if ui.add_enabled(has, egui::Button::new("Save as…")).clicked() {
                    ui.close();
                    if let Some(f) = rfd::FileDialog::new()
                        .add_filter("leukolens project", &["ron"])
                        .save_file()
                    {
                        cmds.push(Command::SaveAs(f));
                    }
                }
                if ui
                    .add_enabled(has, egui::Button::new("Export labels (CSV)…"))
                    .clicked()
                {
                    ui.close();
                    if let Some(f) = rfd::FileDialog::new()
                        .add_filter("CSV", &["csv"])
                        .set_file_name("labels.csv")
                        .save_file()
                    {
                        cmds.push(Command::ExportLabels(f));
                    }
                }
                if ui
                    .add_enabled(has, egui::Button::new("Locate dataset…"))
                    .clicked()
                {
                    ui.close();
                    if let Some(d) = pick_dataset() {
                        cmds.push(Command::Relink(d));
                    }
                }
            });
            ui.menu_button("Edit", |ui| {
                let (can_undo, can_redo) = app
                    .project
                    .as_ref()
                    .map(|p| (p.undo.can_undo(), p.undo.can_redo()))
                    .unwrap_or((false, false));
                if ui
                    .add_enabled(can_undo, egui::Button::new("Undo (Ctrl+Z)"))
                    .clicked()
                {
                    ui.close();
                    cmds.push(Command::Undo);
                }
                if ui
                    .add_enabled(can_redo, egui::Button::new("Redo (Ctrl+Shift+Z)"))
                    .clicked()
                {
                    ui.close();
                    cmds.push(Command::Redo);
                }
                if ui.button("Next not reviewed (Tab)").clicked() {
                    ui.close();
                    cmds.push(Command::NextUnreviewed);
                }
                if ui.button("Taxonomy…").clicked() {
                    ui.close();
                    app.taxonomy_editor.open = true;
                }
                if ui.button("Change annotator…").clicked() {
                    ui.close();
                    app.menu.prompt_open = true;
                    app.menu.annotator_buf = app.settings.annotator.clone().unwrap_or_default();
                }
            });
            ui.menu_button("Train", |ui| {
                if ui
                    .add_enabled(
                        app.project.is_some(),
                        egui::Button::new("Training-size sweep…"),
                    )
                    .clicked()
                {
                    ui.close();
                    app.sweep.open = true;
                }
            });
            ui.menu_button("View", |ui| {
                ui.checkbox(&mut app.show_stats, "Statistics panel");
                if ui.button("Large viewer (Space)").clicked() {
                    ui.close();
                    cmds.push(Command::OpenViewer);
                }
                if ui
                    .button("Explain…")
                    .on_hover_text(
                        "saliency and LRP overlays, focus across training sizes, embedding",
                    )
                    .clicked()
                {
                    ui.close();
                    app.explain.open = true;
                }
            });
            if let Some(p) = &app.project {
                ui.separator();
                ui.label(format!(
                    "{}{}",
                    p.project().name,
                    if p.ws.is_dirty() {
                        " - unsaved (journaled)"
                    } else {
                        ""
                    }
                ));
            }
            if let Some(a) = &app.settings.annotator {
                ui.separator();
                ui.label(format!("annotator: {a}"));
            }
        });
    });
    egui::Panel::bottom("status").show(ui, |ui| {
        ui.horizontal(|ui| {
            if let Some((what, done, total)) = &app.menu.import_running {
                ui.spinner();
                if *total > 0 {
                    ui.label(format!("{what}… {done}/{total}"));
                } else {
                    ui.label(format!("{what}…"));
                }
            }
            if let Some(m) = app.messages.last() {
                let text = egui::RichText::new(m.text.lines().next().unwrap_or(""));
                let text = if m.error {
                    text.color(egui::Color32::from_rgb(255, 120, 100))
                } else {
                    text
                };
                ui.label(text).on_hover_text(&m.text);
                if ui.small_button("dismiss").clicked() {
                    cmds.push(Command::DismissMessage);
                }
            } else {
                ui.label("1–9, 0: assign class · arrows or h j k l: move · Space: viewer · Tab: next not reviewed · Ctrl+Z / Ctrl+Shift+Z: undo / redo");
            }
        });
    });
    // Dropped files: a .ron opens, a folder (or a CSV) is imported into a new project.
    let dropped: Vec<PathBuf> = ui.ctx().input(|i| {
        i.raw
            .dropped_files
            .iter()
            .map(|f| f.path().to_path_buf())
            .collect()
    });
    for path in dropped {
        cmds.push(dropped_command(&path));
    }
    for c in cmds {
        app.send(c);
    }
}

/// What dropping a path on the window does.
pub fn dropped_command(path: &Path) -> Command {
    let is = |ext: &str| {
        path.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case(ext))
    };
    if is("ron") {
        Command::OpenProject(path.to_path_buf())
    } else {
        Command::NewProject {
            source: path.to_path_buf(),
            layout: if is("csv") { Some(Layout::Csv) } else { None },
            output: default_output(path),
        }
    }
}

/// Asks the annotator's name once (it is written into every journal line).
pub fn annotator_prompt(app: &mut LeukoApp, ui: &mut egui::Ui) {
    if app.settings.annotator.is_none() && app.project.is_some() {
        app.menu.prompt_open = true;
    }
    if !app.menu.prompt_open {
        return;
    }
    let mut done = None;
    egui::Modal::new(egui::Id::unique("annotator-prompt")).show(ui.ctx(), |ui| {
        ui.heading("Who is annotating?");
        ui.label("Your name is written into the audit trail with every label you change.");
        let l = ui.label("Annotator name");
        let r = ui
            .text_edit_singleline(&mut app.menu.annotator_buf)
            .labelled_by(l.id);
        r.request_focus();
        let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Start annotating").clicked() || enter)
            && !app.menu.annotator_buf.trim().is_empty()
        {
            done = Some(app.menu.annotator_buf.trim().to_string());
        }
    });
    if let Some(name) = done {
        app.menu.prompt_open = false;
        app.send(Command::SetAnnotator(name));
    }
}
