//! The explain screen's "Focus across training sizes" panel: the sizes to compare, and the
//! saliency and LRP rows of the cursor cell from the models trained on them (the paper's
//! Fig. 4b).

use super::view::{ExplainView, texture};

/// What the user asked for in the focus panel.
#[derive(Default)]
pub struct FocusClicks {
    pub compute: bool,
    pub export: bool,
}

/// The size check boxes, the buttons, and the grid of overlays.
pub fn show(v: &mut ExplainView, ui: &mut egui::Ui) -> FocusClicks {
    let mut clicks = FocusClicks::default();
    if v.focus_tex.is_empty()
        && let Some(f) = &v.focus
    {
        v.focus_tex = f
            .rows
            .iter()
            .map(|(s, a, b)| {
                (
                    texture(ui.ctx(), &format!("focus-s-{s}"), a),
                    texture(ui.ctx(), &format!("focus-l-{s}"), b),
                )
            })
            .collect();
    }
    ui.horizontal_wrapped(|ui| {
        ui.strong("Focus across training sizes:");
        for s in v.sizes_of_fold() {
            let mut on = v.focus_sizes.contains(&s);
            if ui.checkbox(&mut on, s.to_string()).changed() {
                if on {
                    v.focus_sizes.push(s);
                    v.focus_sizes.sort_unstable();
                } else {
                    v.focus_sizes.retain(|x| *x != s);
                }
            }
        }
        if ui.button("Show focus row").clicked() {
            clicks.compute = true;
        }
        if v.focus.is_some() && ui.button("Save row as PNG").clicked() {
            clicks.export = true;
        }
    });
    if let Some(f) = &v.focus {
        egui::Grid::new("focus-grid").show(ui, |ui| {
            ui.label("");
            for (s, _, _) in &f.rows {
                ui.strong(format!("{s} images"));
            }
            ui.end_row();
            for (row, name) in ["saliency", "LRP"].iter().enumerate() {
                ui.label(*name);
                for (a, b) in &v.focus_tex {
                    let t = if row == 0 { a } else { b };
                    ui.add(egui::Image::new(t).fit_to_exact_size(egui::vec2(120.0, 120.0)));
                }
                ui.end_row();
            }
        });
    }
    clicks
}
