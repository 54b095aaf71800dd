//! The explain screen (View → Explain…): what a trained network of a sweep looks at.
//! - the current cell with a saliency or LRP overlay for any stored model (fold, size), also
//!   drawn over the large viewer when asked ([`cell`]);
//! - the focus across training sizes (the paper's Fig. 4b): saliency and LRP rows of one cell
//!   from the models trained on the chosen sizes ([`focus`]);
//! - the embedding: tSNE of the 32-d last hidden layer over every image the model did not train
//!   on, coloured by class, crosses for wrong predictions, computed in the background with a
//!   live preview. Hover shows the cell, a click selects it, Shift-drag sends a box of cells to
//!   the gallery ([`embedding`]).
//!
//! All computing runs on background jobs (`explain`, CPU; [`work`]); their results come back
//! over the jobs' channels into [`view::ExplainView`]. [`export`] saves the pictures as PNG.

pub mod cell;
pub mod embedding;
pub mod export;
pub mod focus;
pub mod view;
pub mod work;

pub use view::{CellKey, CellResult, EmbeddingState, ExplainView, FocusResult, Tab};

use crate::explain::{Method, Preset};
use crate::ui::command::Command;
use crate::ui::state::{Ctx, ProjectState};

/// Draws the explain window; also keeps the cursor cell explained while the viewer shows its
/// overlay with the window closed.
pub fn show(v: &mut ExplainView, ctx: &Ctx, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    if !v.open && !v.overlay_in_viewer {
        return;
    }
    let Some(p) = ctx.project else { return };
    v.choose_defaults(&p.ws.path, &ctx.sweep);
    work::request_cell(v, p, ctx.jobs);
    if !v.open {
        return;
    }
    let tex = v.cell_texture(ui.ctx());
    let mut open = true;
    let mut asked = Asked::default();
    egui::Window::new("Explain")
        .open(&mut open)
        .default_size([760.0, 700.0])
        .vscroll(true)
        .show(ui.ctx(), |ui| {
            if v.saved.is_empty() {
                ui.label("No trained sweep yet: run one (Train > Training-size sweep…); its models are explained here.");
                return;
            }
            choosers(v, ui);
            for m in v.messages.iter().rev().take(2) {
                ui.colored_label(ui.visuals().error_fg_color, m);
            }
            ui.separator();
            ui.horizontal(|ui| {
                ui.selectable_value(&mut v.tab, Tab::Cell, "Current cell");
                ui.selectable_value(&mut v.tab, Tab::Focus, "Focus across training sizes");
                ui.selectable_value(&mut v.tab, Tab::Embedding, "Embedding");
            });
            ui.separator();
            match v.tab {
                Tab::Cell => {
                    if let (Some(c), Some(tex)) = (&v.cell, &tex) {
                        asked.cell_png = cell::show(c, tex, p.selection.cursor, ui);
                    }
                }
                Tab::Focus => {
                    let f = focus::show(v, ui);
                    (asked.focus, asked.focus_png) = (f.compute, f.export);
                }
                Tab::Embedding => {
                    let e = embedding::show(v, ui, cmds);
                    (asked.embedding, asked.embedding_png) = (e.compute, e.export);
                }
            }
        });
    if !open {
        v.open = false;
    }
    if let Some(e) = &v.embedding {
        embedding::hover_card(e, p, ui.ctx());
    }
    asked.run(v, p, ctx, cmds);
}

/// What the buttons of the window asked for in this frame.
#[derive(Default)]
struct Asked {
    focus: bool,
    embedding: bool,
    cell_png: bool,
    focus_png: bool,
    embedding_png: bool,
}

impl Asked {
    /// Starts the computations and writes the exports asked for.
    fn run(self, v: &mut ExplainView, p: &ProjectState, ctx: &Ctx, cmds: &mut Vec<Command>) {
        if self.focus {
            work::request_focus(v, p, ctx.jobs);
        }
        if self.embedding {
            work::request_embedding(v, p, ctx.jobs);
        }
        if self.focus_png {
            cmds.push(export::focus_png(v, p));
        }
        if self.cell_png
            && let Some(c) = export::cell_png(v, p)
        {
            cmds.push(c);
        }
        if self.embedding_png {
            cmds.push(export::embedding_png(v, p));
        }
    }
}

/// Sweep, fold, training size, method, opacity and the viewer switch.
fn choosers(v: &mut ExplainView, ui: &mut egui::Ui) {
    ui.horizontal_wrapped(|ui| {
        let mut sweep = v.sweep.clone();
        egui::ComboBox::from_label("sweep")
            .selected_text(sweep.clone().unwrap_or_default())
            .show_ui(ui, |ui| {
                for s in &v.saved {
                    ui.selectable_value(&mut sweep, Some(s.name().to_string()), s.name());
                }
            });
        if sweep != v.sweep {
            v.sweep = sweep;
            v.size = None;
            v.focus_sizes.clear();
        }
        let mut folds: Vec<usize> = v.models.iter().map(|k| k.fold).collect();
        folds.dedup();
        egui::ComboBox::from_label("fold")
            .selected_text((v.fold + 1).to_string())
            .show_ui(ui, |ui| {
                for f in &folds {
                    ui.selectable_value(&mut v.fold, *f, (f + 1).to_string());
                }
            });
        let sizes = v.sizes_of_fold();
        egui::ComboBox::from_label("training images")
            .selected_text(v.size.map(|s| s.to_string()).unwrap_or_default())
            .show_ui(ui, |ui| {
                for s in &sizes {
                    ui.selectable_value(&mut v.size, Some(*s), s.to_string());
                }
            });
    });
    ui.horizontal_wrapped(|ui| {
        egui::ComboBox::from_label("method")
            .selected_text(v.method.label())
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut v.method, Method::Saliency, Method::Saliency.label());
                for p in Preset::ALL {
                    ui.selectable_value(&mut v.method, Method::Lrp(p), Method::Lrp(p).label());
                }
            });
        ui.add(egui::Slider::new(&mut v.opacity, 0.0..=1.0).text("opacity"));
        ui.checkbox(&mut v.overlay_in_viewer, "over the large viewer");
        if v.busy > 0 {
            ui.spinner();
        }
    });
}
