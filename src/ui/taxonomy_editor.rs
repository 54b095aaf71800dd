//! The taxonomy editor: rename, add, recolour, rebind hotkeys, mark the positive classes of the binary task
//! (the blast classes by default).
//! Duplicate names, codes or hotkeys are refused with a message (by the core taxonomy).

use std::collections::HashMap;

use super::command::{Command, TaxonomyEdit};
use super::state::Ctx;
use crate::taxonomy::{ClassDef, ClassId, Taxonomy};

/// The editor's own state: open or not, and the text being edited.
#[derive(Default)]
pub struct TaxonomyEditor {
    pub open: bool,
    /// Text being edited per class: (name, code, hotkey).
    buffers: HashMap<ClassId, (String, String, String)>,
    new_class: String,
}

/// Draws the editor window when it is open; every edit becomes a `Command::Taxonomy`.
pub fn show(ed: &mut TaxonomyEditor, ctx: &Ctx, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    if !ed.open {
        return;
    }
    let Some(p) = ctx.project else { return };
    let t = &p.project().taxonomy;
    let mut open = true;
    let mut edits = Vec::new();
    egui::Window::new("Taxonomy")
        .open(&mut open)
        .default_width(560.0)
        .show(ui.ctx(), |ui| {
            ui.label("Labels refer to classes by id: renaming a class changes no label.");
            egui::Grid::new("taxonomy-grid")
                .striped(true)
                .show(ui, |ui| {
                    for h in ["colour", "name", "code", "hotkey", "positive", "order"] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    for (row, c) in t.classes.iter().enumerate() {
                        ed.class_row(t, row, c, ui, &mut edits);
                        ui.end_row();
                    }
                });
            ui.separator();
            ed.new_class_row(ui, &mut edits);
        });
    if !edits.is_empty() {
        // After an edit (accepted or refused) the fields show the taxonomy again.
        ed.buffers.clear();
    }
    if !open {
        ed.open = false;
        ed.buffers.clear();
    }
    cmds.extend(edits.into_iter().map(Command::Taxonomy));
}

impl TaxonomyEditor {
    /// One class: colour, name, code, hotkey, positive flag and the order buttons.
    fn class_row(
        &mut self,
        t: &Taxonomy,
        row: usize,
        c: &ClassDef,
        ui: &mut egui::Ui,
        edits: &mut Vec<TaxonomyEdit>,
    ) {
        let buf = self.buffers.entry(c.id).or_insert_with(|| {
            (
                c.name.clone(),
                c.code.clone(),
                c.hotkey.map(String::from).unwrap_or_default(),
            )
        });
        let mut color = c.color;
        if ui
            .color_edit_button_srgb(&mut color)
            .on_hover_text(format!("colour of {}", c.name))
            .changed()
        {
            edits.push(TaxonomyEdit::Recolor(c.id, color));
        }
        // Sized explicitly: in a grid a text field only gets the width its column had the
        // frame before, which starts narrow.
        let h = ui.spacing().interact_size.y;
        let name = ui
            .add_sized(
                [200.0, h],
                egui::TextEdit::singleline(&mut buf.0).id_salt(("name", c.id.0)),
            )
            .on_hover_text(format!("name of {}", c.name));
        if committed(&name) && buf.0 != c.name {
            edits.push(TaxonomyEdit::Rename(c.id, buf.0.clone()));
        }
        let code = ui
            .add_sized(
                [60.0, h],
                egui::TextEdit::singleline(&mut buf.1).id_salt(("code", c.id.0)),
            )
            .on_hover_text(format!("code of {}", c.name));
        if committed(&code) && buf.1 != c.code {
            edits.push(TaxonomyEdit::SetCode(c.id, buf.1.clone()));
        }
        let key = ui
            .add_sized(
                [30.0, h],
                egui::TextEdit::singleline(&mut buf.2)
                    .char_limit(1)
                    .id_salt(("key", c.id.0)),
            )
            .on_hover_text(format!("hotkey of {}", c.name));
        let current_key = c.hotkey.map(String::from).unwrap_or_default();
        if committed(&key) && buf.2 != current_key {
            let k = buf
                .2
                .trim()
                .chars()
                .next()
                .map(|ch| ch.to_ascii_lowercase());
            edits.push(TaxonomyEdit::SetHotkey(c.id, k));
        }
        let mut positive = c.positive;
        if t.is_unlabelled(c.id) {
            ui.label("not trained").on_hover_text(
                "the class of cells without a class: training, sweeps and audits leave its \
                 images out",
            );
        } else if ui
            .checkbox(&mut positive, "")
            .on_hover_text(format!(
                "{} is a positive class of the binary task (by default: the blast classes)",
                c.name
            ))
            .changed()
        {
            edits.push(TaxonomyEdit::SetPositive(c.id, positive));
        }
        order_buttons(c, row, t.classes.len().saturating_sub(1), ui, edits);
    }

    /// The field and button that add a class.
    fn new_class_row(&mut self, ui: &mut egui::Ui, edits: &mut Vec<TaxonomyEdit>) {
        ui.horizontal(|ui| {
            let l = ui.label("new class");
            let r = ui
                .add(egui::TextEdit::singleline(&mut self.new_class).desired_width(200.0))
                .labelled_by(l.id);
            let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Add class").clicked() || enter) && !self.new_class.trim().is_empty() {
                edits.push(TaxonomyEdit::Add(std::mem::take(&mut self.new_class)));
            }
        });
    }
}

/// Up and down: the order of tables, menus and the by-class sort; labels do not change.
fn order_buttons(
    c: &ClassDef,
    row: usize,
    last: usize,
    ui: &mut egui::Ui,
    edits: &mut Vec<TaxonomyEdit>,
) {
    ui.horizontal(|ui| {
        for (up, arrow, able) in [(true, "up", row > 0), (false, "down", row < last)] {
            if ui
                .add_enabled(able, egui::Button::new(arrow).small())
                .on_hover_text(format!(
                    "move {} {}",
                    c.name,
                    if up { "up" } else { "down" }
                ))
                .clicked()
            {
                edits.push(TaxonomyEdit::Move(c.id, up));
            }
        }
    });
}

/// A text field's value is committed when it loses focus (Enter, Tab or a click elsewhere).
fn committed(r: &egui::Response) -> bool {
    r.lost_focus()
}
