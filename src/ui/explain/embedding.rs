//! The explain screen's "Embedding" panel: the tSNE of the hidden layer over the images the
//! model did not train on (circles right, crosses wrong), with a hover card, click to select
//! and Shift-drag to send a box of cells to the gallery; also the embedding as a picture.

use egui::Color32;
use egui_plot::{MarkerShape, Plot, PlotPoints, Points};
use image::RgbImage;

use super::view::{EmbeddingState, ExplainView};
use crate::project::ImageId;
use crate::ui::command::{Command, only};
use crate::ui::state::ProjectState;
use crate::ui::thumbs::Thumb;

/// What the user asked for in the embedding panel.
#[derive(Default)]
pub struct EmbeddingClicks {
    pub compute: bool,
    pub export: bool,
}

/// The buttons, the progress line and the plot.
pub fn show(v: &mut ExplainView, ui: &mut egui::Ui, cmds: &mut Vec<Command>) -> EmbeddingClicks {
    let mut clicks = EmbeddingClicks::default();
    ui.horizontal(|ui| {
        ui.strong("Embedding (tSNE of the 32-d hidden layer):");
        if ui.button("Compute embedding").clicked() {
            clicks.compute = true;
        }
        if v.embedding.as_ref().is_some_and(|e| e.done) && ui.button("Save as PNG").clicked() {
            clicks.export = true;
        }
    });
    if let Some(e) = &mut v.embedding {
        ui.label(format!(
            "{} · iteration {}{}",
            e.description,
            e.iterations,
            if e.done { "" } else { " (running)" }
        ));
        plot(e, ui, cmds);
    }
    clicks
}

/// The points, coloured by class (crosses for wrong predictions); hover, click and Shift-drag.
pub fn plot(e: &mut EmbeddingState, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    let shift = ui.input(|i| i.modifiers.shift);
    let resp = Plot::new("embedding")
        .height(360.0)
        .data_aspect(1.0)
        .allow_drag(!shift)
        .allow_boxed_zoom(false)
        .show_axes(false)
        .legend(egui_plot::Legend::default())
        .show(ui, |p| {
            for (c, name) in e.names.iter().enumerate() {
                for correct in [true, false] {
                    let pts: Vec<[f64; 2]> = (0..e.points.len())
                        .filter(|&i| e.target[i] == c && (e.predicted[i] == c) == correct)
                        .map(|i| [e.points[i][0] as f64, e.points[i][1] as f64])
                        .collect();
                    if pts.is_empty() {
                        continue;
                    }
                    let label = if correct {
                        name.clone()
                    } else {
                        format!("{name} (wrong)")
                    };
                    p.points(
                        Points::new(label, PlotPoints::from(pts))
                            .color(PALETTE[c % PALETTE.len()])
                            .radius(if correct { 3.0 } else { 4.5 })
                            .shape(if correct {
                                MarkerShape::Circle
                            } else {
                                MarkerShape::Cross
                            }),
                    );
                }
            }
            if let (Some(a), Some(b)) = (e.drag_from, p.pointer_coordinate())
                && shift
            {
                let r = vec![[a.x, a.y], [b.x, a.y], [b.x, b.y], [a.x, b.y], [a.x, a.y]];
                p.line(
                    egui_plot::Line::new("selection", PlotPoints::from(r)).color(Color32::WHITE),
                );
            }
        });
    e.transform = Some(resp.transform);
    let r = &resp.response;
    // Hover: the cell under the pointer (its thumbnail is drawn after the window).
    e.hovered = r
        .hover_pos()
        .and_then(|pos| e.nearest(pos, 8.0).map(|i| (i, pos)));
    // Click: select the cell in the gallery.
    if r.clicked()
        && let Some(pos) = r.interact_pointer_pos()
        && let Some(i) = e.nearest(pos, 8.0)
    {
        cmds.push(Command::Select(vec![e.ids[i]]));
    }
    // Shift-drag: a box of cells to the gallery.
    if shift && r.drag_started() {
        e.drag_from = resp
            .transform
            .value_from_position(r.interact_pointer_pos().unwrap_or_default())
            .into();
    }
    if r.drag_stopped()
        && let Some(a) = e.drag_from.take()
        && let Some(pos) = r.interact_pointer_pos()
    {
        let b = resp.transform.value_from_position(pos);
        let (x0, x1) = (a.x.min(b.x), a.x.max(b.x));
        let (y0, y1) = (a.y.min(b.y), a.y.max(b.y));
        let ids: Vec<ImageId> = (0..e.points.len())
            .filter(|&i| {
                let (x, y) = (e.points[i][0] as f64, e.points[i][1] as f64);
                x >= x0 && x <= x1 && y >= y0 && y <= y1
            })
            .map(|i| e.ids[i])
            .collect();
        if !ids.is_empty() {
            cmds.push(Command::SetFilter(only(ids)));
        }
    }
}

/// The thumbnail and labels of the embedding point under the pointer, next to the pointer.
pub fn hover_card(e: &EmbeddingState, p: &ProjectState, ctx: &egui::Context) {
    let Some((i, pos)) = e.hovered else { return };
    let id = e.ids[i];
    let name = |k: usize| e.names.get(k).cloned().unwrap_or_default();
    let text = format!(
        "label {} · predicted {}",
        name(e.target[i]),
        name(e.predicted[i])
    );
    let Some(im) = p.ws.project.image(id).cloned() else {
        return;
    };
    let path = p.ws.project.image_path(&p.ws.path, &im);
    egui::Area::new(egui::Id::unique("embedding-hover"))
        .order(egui::Order::Tooltip)
        .fixed_pos(pos + egui::vec2(14.0, 14.0))
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                if let Thumb::Ready(tex) = p.thumbs.get(id, &im.hash, &path) {
                    ui.add(egui::Image::new(&tex).fit_to_exact_size(egui::vec2(96.0, 96.0)));
                }
                ui.label(egui::RichText::new(&im.path).small());
                ui.label(text);
            });
        });
}

/// Class colours of the embedding.
pub const PALETTE: [Color32; 10] = [
    Color32::from_rgb(230, 120, 40),
    Color32::from_rgb(60, 140, 220),
    Color32::from_rgb(90, 190, 110),
    Color32::from_rgb(200, 80, 160),
    Color32::from_rgb(220, 200, 60),
    Color32::from_rgb(150, 110, 220),
    Color32::from_rgb(80, 200, 200),
    Color32::from_rgb(200, 70, 70),
    Color32::from_rgb(160, 160, 160),
    Color32::from_rgb(140, 100, 60),
];

/// The embedding drawn as a picture: class colours, crosses for wrong predictions.
pub fn embedding_picture(e: &EmbeddingState, side: u32) -> RgbImage {
    let mut img = RgbImage::from_pixel(side, side, image::Rgb([255, 255, 255]));
    if e.points.is_empty() {
        return img;
    }
    let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
    for p in &e.points {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    let m = 12.0;
    let span = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-6);
    for (i, p) in e.points.iter().enumerate() {
        let x = m + (p[0] - lo[0]) / span * (side as f32 - 2.0 * m);
        let y = side as f32 - m - (p[1] - lo[1]) / span * (side as f32 - 2.0 * m);
        let c = PALETTE[e.target[i] % PALETTE.len()];
        let px = image::Rgb([c.r(), c.g(), c.b()]);
        let wrong = e.predicted[i] != e.target[i];
        for d in -3i32..=3 {
            for d2 in -3i32..=3 {
                let on = if wrong {
                    d == d2 || d == -d2
                } else {
                    d * d + d2 * d2 <= 9
                };
                let (xx, yy) = (x as i32 + d, y as i32 + d2);
                if on && xx >= 0 && yy >= 0 && (xx as u32) < side && (yy as u32) < side {
                    img.put_pixel(xx as u32, yy as u32, px);
                }
            }
        }
    }
    img
}
