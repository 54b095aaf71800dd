//! The explain screen's "Current cell" panel: the cursor cell with its overlay, the
//! probabilities of the outputs, and a colour scale.

use egui::Color32;

use super::view::CellResult;
use crate::explain::colour;
use crate::project::ImageId;

/// The cell's overlay as large as the window allows, beside a column of text. True when
/// "Save as PNG" was clicked.
pub fn show(
    c: &CellResult,
    tex: &egui::TextureHandle,
    cursor: Option<ImageId>,
    ui: &mut egui::Ui,
) -> bool {
    let mut export = false;
    let side = (ui.available_width() - 300.0)
        .min(ui.available_height() - 8.0)
        .clamp(220.0, 640.0);
    ui.horizontal(|ui| {
        ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(side, side)));
        ui.vertical(|ui| {
            ui.strong(format!(
                "{} of {} (output {})",
                c.key.method.label(),
                c.probs.get(c.class).map(|p| p.0.as_str()).unwrap_or("?"),
                c.class
            ));
            for (name, pr) in &c.probs {
                ui.label(format!("{name}: {:.1} %", 100.0 * pr));
            }
            ui.label(if c.map.signed {
                "red: for this output · blue: against"
            } else {
                "bright: pixels the output is most sensitive to"
            });
            scale_bar(ui, c.map.signed);
            if ui.button("Save as PNG").clicked() {
                export = true;
            }
            if Some(c.key.image) != cursor {
                ui.label(egui::RichText::new("(updating for the selected cell…)").weak());
            }
        });
    });
    export
}

/// The colour map from −max (or 0) to +max.
fn scale_bar(ui: &mut egui::Ui, signed: bool) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(160.0, 10.0), egui::Sense::hover());
    let n = 32;
    for i in 0..n {
        let u = i as f32 / (n - 1) as f32;
        let t = if signed { 2.0 * u - 1.0 } else { u };
        let [r, g, b] = colour::colour_of(t, signed);
        let x0 = rect.min.x + rect.width() * i as f32 / n as f32;
        let x1 = rect.min.x + rect.width() * (i + 1) as f32 / n as f32;
        ui.painter().rect_filled(
            egui::Rect::from_min_max(egui::pos2(x0, rect.min.y), egui::pos2(x1, rect.max.y)),
            0.0,
            Color32::from_rgb(r, g, b),
        );
    }
    ui.label(if signed {
        "-max … 0 … +max"
    } else {
        "0 … max"
    });
}
