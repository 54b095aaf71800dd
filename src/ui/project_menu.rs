//! The menu bar (Project: New, Open, Save, Save As, Export labels, Locate dataset, Recent),
//! the status bar with messages, dropped files and folders, and the one-time annotator prompt.
//! File dialogs (rfd) only open from menu clicks, never in tests.

use std::path::{Path, PathBuf};

use super::command::{Command, Window};
use super::state::Ctx;
use crate::dataset::Layout;

/// The menu's own state: the annotator prompt.
#[derive(Default)]
pub struct ProjectMenu {
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

/// The menu bar, the status bar, and dropped files.
pub fn show(menu: &mut ProjectMenu, ctx: &Ctx, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    egui::Panel::top("menu").show(ui, |ui| {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("Project", |ui| project_menu(ctx, ui, cmds));
            ui.menu_button("Edit", |ui| menu.edit_menu(ctx, ui, cmds));
            ui.menu_button("Train", |ui| {
                if ui
                    .add_enabled(
                        ctx.project.is_some(),
                        egui::Button::new("Training-size sweep…"),
                    )
                    .clicked()
                {
                    ui.close();
                    cmds.push(Command::SetWindow(Window::Sweep, true));
                }
                if ui
                    .add_enabled(ctx.project.is_some(), egui::Button::new("Audit labels…"))
                    .clicked()
                {
                    ui.close();
                    cmds.push(Command::SetWindow(Window::Audit, true));
                }
                if ui
                    .add_enabled(ctx.project.is_some(), egui::Button::new("Review labels…"))
                    .clicked()
                {
                    ui.close();
                    cmds.push(Command::SetWindow(Window::Review, true));
                }
            });
            ui.menu_button("View", |ui| view_menu(ctx, ui, cmds));
            title(ctx, ui);
        });
    });
    if let Some(reason) = ctx.project.and_then(|p| p.ws.read_only()) {
        read_only_banner(reason, ui);
    }
    egui::Panel::bottom("status").show(ui, |ui| status_bar(ctx, ui, cmds));
    // Dropped files: a .ron opens, a folder (or a CSV) is imported into a new project.
    let dropped: Vec<PathBuf> = ui.ctx().input(|i| {
        i.raw
            .dropped_files
            .iter()
            .map(|f| f.path().to_path_buf())
            .collect()
    });
    cmds.extend(dropped.iter().map(|p| dropped_command(p)));
}

/// Project: new, open, recent, save, save as, export, locate dataset.
fn project_menu(ctx: &Ctx, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    if ui.button("New from dataset folder…").clicked() {
        ui.close();
        if let Some(c) = new_project_dialog() {
            cmds.push(c);
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
        if ctx.settings.recent.is_empty() {
            ui.label("none yet");
        }
        for r in &ctx.settings.recent {
            if ui.button(r.display().to_string()).clicked() {
                ui.close();
                cmds.push(Command::OpenProject(r.clone()));
            }
        }
    });
    ui.separator();
    let has = ctx.project.is_some();
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
}

/// Asks for a dataset folder and where its new project goes.
fn new_project_dialog() -> Option<Command> {
    let source = pick_dataset()?;
    let suggested = default_output(&source);
    let output = rfd::FileDialog::new()
        .set_title("Save the new project as")
        .add_filter("leukolens project", &["ron"])
        .set_file_name(
            suggested
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
        .save_file()?;
    Some(Command::NewProject {
        source,
        layout: None,
        output,
    })
}

impl ProjectMenu {
    /// Edit: undo, redo, next not reviewed, taxonomy, annotator.
    fn edit_menu(&mut self, ctx: &Ctx, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
        let (can_undo, can_redo) = ctx
            .project
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
            cmds.push(Command::SetWindow(Window::Taxonomy, true));
        }
        if ui.button("Change annotator…").clicked() {
            ui.close();
            self.prompt_open = true;
            self.annotator_buf = ctx.settings.annotator.clone().unwrap_or_default();
        }
    }
}

/// View: statistics panel, blind mode, suggestions, large viewer, explain.
fn view_menu(ctx: &Ctx, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    let mut stats = ctx.show_stats;
    if ui.checkbox(&mut stats, "Statistics panel").changed() {
        cmds.push(Command::SetWindow(Window::Stats, stats));
    }
    if let Some(p) = ctx.project {
        let mut blind = p.is_blind();
        if ui
            .checkbox(&mut blind, "Blind mode")
            .on_hover_text(
                "hide the original label, other annotators' labels, predictions and \
                 suggestions; show the cells in a seeded random order",
            )
            .changed()
        {
            cmds.push(Command::SetBlind(blind));
        }
        if ui
            .button("Reload suggestions")
            .on_hover_text("read the pre-labels `leukolens predict` stored again")
            .clicked()
        {
            ui.close();
            cmds.push(Command::ReloadSuggestions);
        }
    }
    if ui.button("Large viewer (Space)").clicked() {
        ui.close();
        cmds.push(Command::OpenViewer);
    }
    if ui
        .button("Explain…")
        .on_hover_text("saliency and LRP overlays, focus across training sizes, embedding")
        .clicked()
    {
        ui.close();
        cmds.push(Command::SetWindow(Window::Explain, true));
    }
}

/// The project's name (and whether it has unsaved changes) and the annotator.
fn title(ctx: &Ctx, ui: &mut egui::Ui) {
    if let Some(p) = ctx.project {
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
    if let Some(a) = &ctx.settings.annotator {
        ui.separator();
        ui.label(format!("annotator: {a}"));
    }
}

/// The strip under the menu bar of a project opened read-only: who holds it, and that labels
/// cannot be changed here.
fn read_only_banner(reason: &str, ui: &mut egui::Ui) {
    egui::Panel::top("read-only").show(ui, |ui| {
        let text = format!(
            "Read-only: {reason}. Labels and classes cannot be changed here; reopen the project \
             once it is closed there."
        );
        ui.label(
            egui::RichText::new(text)
                .strong()
                .color(egui::Color32::from_rgb(255, 190, 60)),
        );
    });
}

/// The running job's progress, the last message (or the key help).
fn status_bar(ctx: &Ctx, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        if let Some(s) = ctx.status {
            ui.spinner();
            if s.total > 0 {
                ui.label(format!("{}… {}/{}", s.what, s.done, s.total));
            } else {
                ui.label(format!("{}…", s.what));
            }
        }
        if let Some(m) = ctx.messages.last() {
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
pub fn annotator_prompt(
    menu: &mut ProjectMenu,
    ctx: &Ctx,
    ui: &mut egui::Ui,
    cmds: &mut Vec<Command>,
) {
    if ctx.settings.annotator.is_none() && ctx.project.is_some() {
        menu.prompt_open = true;
    }
    if !menu.prompt_open {
        return;
    }
    let mut done = None;
    egui::Modal::new(egui::Id::unique("annotator-prompt")).show(ui.ctx(), |ui| {
        ui.heading("Who is annotating?");
        ui.label("Your name is written into the audit trail with every label you change.");
        let l = ui.label("Annotator name");
        let r = ui
            .text_edit_singleline(&mut menu.annotator_buf)
            .labelled_by(l.id);
        r.request_focus();
        let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Start annotating").clicked() || enter)
            && !menu.annotator_buf.trim().is_empty()
        {
            done = Some(menu.annotator_buf.trim().to_string());
        }
    });
    if let Some(name) = done {
        menu.prompt_open = false;
        cmds.push(Command::SetAnnotator(name));
    }
}
