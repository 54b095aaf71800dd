//! The taxonomy editor: rename, add, recolour, rebind hotkeys, mark positive (blast) classes.
//! Duplicate names, codes or hotkeys are refused with a message (by the core taxonomy).

use std::collections::HashMap;

use super::app::{Command, LeukoApp, TaxonomyEdit};
use crate::taxonomy::ClassId;

#[derive(Default)]
pub struct TaxonomyEditor {
    pub open: bool,
    /// Text being edited per class: (name, code, hotkey).
    buffers: HashMap<ClassId, (String, String, String)>,
    new_class: String,
}

pub fn show(app: &mut LeukoApp, ui: &mut egui::Ui) {
    if !app.taxonomy_editor.open {
        return;
    }
    let Some(p) = &app.project else { return };
    let t = p.project().taxonomy.clone();
    let mut open = true;
    let mut cmds = Vec::new();
    let ed = &mut app.taxonomy_editor;
    egui::Window::new("Taxonomy")
        .open(&mut open)
        .default_width(560.0)
        .show(ui.ctx(), |ui| {
            ui.label("Labels refer to classes by id: renaming a class changes no label.");
            egui::Grid::new("taxonomy-grid")
                .striped(true)
                .show(ui, |ui| {
                    ui.strong("colour");
                    ui.strong("name");
                    ui.strong("code");
                    ui.strong("hotkey");
                    ui.strong("blast");
                    ui.strong("order");
                    ui.end_row();
                    let last = t.classes.len().saturating_sub(1);
                    for (row, c) in t.classes.iter().enumerate() {
                        let buf = ed.buffers.entry(c.id).or_insert_with(|| {
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
                            cmds.push(TaxonomyEdit::Recolor(c.id, color));
                        }
                        // Sized explicitly: in a grid a text field only gets the width its
                        // column had the frame before, which starts narrow.
                        let h = ui.spacing().interact_size.y;
                        let name = ui.add_sized(
                            [200.0, h],
                            egui::TextEdit::singleline(&mut buf.0).id_salt(("name", c.id.0)),
                        );
                        let name = name.on_hover_text(format!("name of {}", c.name));
                        if commit(&name, ui) && buf.0 != c.name {
                            cmds.push(TaxonomyEdit::Rename(c.id, buf.0.clone()));
                        }
                        let code = ui
                            .add_sized(
                                [60.0, h],
                                egui::TextEdit::singleline(&mut buf.1).id_salt(("code", c.id.0)),
                            )
                            .on_hover_text(format!("code of {}", c.name));
                        if commit(&code, ui) && buf.1 != c.code {
                            cmds.push(TaxonomyEdit::SetCode(c.id, buf.1.clone()));
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
                        if commit(&key, ui) && buf.2 != current_key {
                            let k = buf
                                .2
                                .trim()
                                .chars()
                                .next()
                                .map(|ch| ch.to_ascii_lowercase());
                            cmds.push(TaxonomyEdit::SetHotkey(c.id, k));
                        }
                        let mut positive = c.positive;
                        if ui
                            .checkbox(&mut positive, "")
                            .on_hover_text(format!(
                                "{} is a blast (positive in the binary task)",
                                c.name
                            ))
                            .changed()
                        {
                            cmds.push(TaxonomyEdit::SetPositive(c.id, positive));
                        }
                        // The order of tables, menus and the by-class sort; labels do not change.
                        ui.horizontal(|ui| {
                            for (up, arrow, able) in
                                [(true, "up", row > 0), (false, "down", row < last)]
                            {
                                if ui
                                    .add_enabled(able, egui::Button::new(arrow).small())
                                    .on_hover_text(format!(
                                        "move {} {}",
                                        c.name,
                                        if up { "up" } else { "down" }
                                    ))
                                    .clicked()
                                {
                                    cmds.push(TaxonomyEdit::Move(c.id, up));
                                }
                            }
                        });
                        ui.end_row();
                    }
                });
            ui.separator();
            ui.horizontal(|ui| {
                let l = ui.label("new class");
                let r = ui
                    .add(egui::TextEdit::singleline(&mut ed.new_class).desired_width(200.0))
                    .labelled_by(l.id);
                let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if (ui.button("Add class").clicked() || enter) && !ed.new_class.trim().is_empty() {
                    cmds.push(TaxonomyEdit::Add(std::mem::take(&mut ed.new_class)));
                }
            });
        });
    if !cmds.is_empty() {
        // After an edit (accepted or refused) the fields show the taxonomy again.
        ed.buffers.clear();
    }
    if !open {
        ed.open = false;
        ed.buffers.clear();
    }
    for c in cmds {
        app.send(Command::Taxonomy(c));
    }
}

/// A text field's value is committed when it loses focus (Enter, Tab or a click elsewhere).
fn commit(r: &egui::Response, _ui: &egui::Ui) -> bool {
    r.lost_focus()
}
