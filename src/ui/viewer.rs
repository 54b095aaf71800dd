//! The large viewer: the cursor image at full resolution with zoom and pan, original vs current
//! label, previous/next, and class buttons with per-class counts.

use egui::{Color32, Pos2, Rect, Sense, Vec2};

use super::app::{Command, LeukoApp};
use super::gallery::class_color;
use crate::project::ImageId;

#[derive(Default)]
pub struct ViewerView {
    loaded: Option<(ImageId, Result<egui::TextureHandle, String>)>,
    pub zoom: f32,
    pan: Vec2,
}

pub fn show(app: &mut LeukoApp, ui: &mut egui::Ui) {
    let ctx = ui.ctx().clone();
    let mut open = true;
    let mut cmds = Vec::new();
    let mut overlay_on = app.explain.overlay_in_viewer;
    let cursor = app.project.as_ref().and_then(|p| p.selection.cursor);
    let overlay = if overlay_on
        && app
            .explain
            .cell
            .as_ref()
            .is_some_and(|c| Some(c.key.image) == cursor)
    {
        super::explain_view::cell_texture(app, &ctx)
    } else {
        None
    };
    {
        let Some(p) = &app.project else { return };
        let Some(id) = p.selection.cursor else { return };
        let Some(im) = p.project().image(id) else {
            return;
        };
        let t = &p.project().taxonomy;
        let v = &mut app.viewer;
        if v.loaded.as_ref().is_none_or(|(l, _)| *l != id) {
            let path = p.project().image_path(&p.ws.path, im);
            let tex = crate::dataset::load_rgb8(&path)
                .map(|img| {
                    let size = [img.width() as usize, img.height() as usize];
                    ctx.load_texture(
                        format!("viewer-{}", id.0),
                        egui::ColorImage::from_rgb(size, img.as_raw()),
                        egui::TextureOptions::LINEAR,
                    )
                })
                .map_err(|e| format!("{}: {e}", path.display()));
            v.loaded = Some((id, tex));
            v.zoom = 1.0;
            v.pan = Vec2::ZERO;
        }
        let counts = p.project().counts();
        let pos = p.position(id).map(|k| k + 1).unwrap_or(0);
        egui::Window::new("Viewer")
            .open(&mut open)
            .default_size([720.0, 640.0])
            .resizable(true)
            .show(&ctx, |ui| {
                ui.horizontal(|ui| {
                    if ui.button("< previous").clicked() {
                        cmds.push(Command::Step(-1));
                    }
                    if ui.button("next >").clicked() {
                        cmds.push(Command::Step(1));
                    }
                    ui.label(format!("{pos} of {}", p.order.len()));
                    ui.add(
                        egui::Slider::new(&mut v.zoom, 0.25..=8.0)
                            .logarithmic(true)
                            .text("zoom"),
                    );
                    if ui.button("fit").clicked() {
                        v.zoom = 1.0;
                        v.pan = Vec2::ZERO;
                    }
                    ui.separator();
                    ui.checkbox(&mut overlay_on, "explanation overlay")
                        .on_hover_text("saliency or LRP of the model chosen in View → Explain…");
                    if ui.button("Explain…").clicked() {
                        cmds.push(Command::OpenExplain);
                    }
                });
                ui.horizontal(|ui| {
                    ui.label(egui::RichText::new(&im.path).monospace());
                });
                ui.horizontal(|ui| {
                    ui.label("original:");
                    ui.colored_label(class_color(t, im.original), t.name(im.original));
                    ui.label(format!("({})", im.source_label));
                    ui.separator();
                    ui.label("current:");
                    ui.colored_label(
                        class_color(t, im.current),
                        egui::RichText::new(t.name(im.current)).strong(),
                    );
                    if im.reviewed {
                        ui.label("(reviewed)");
                    }
                });
                // Class buttons with counts; the hotkeys work here too.
                ui.horizontal_wrapped(|ui| {
                    for (cid, cur, _) in &counts {
                        let c = t.get(*cid).expect("counts come from the taxonomy");
                        let key = c.hotkey.map(|k| format!("[{k}] ")).unwrap_or_default();
                        let text = egui::RichText::new(format!("{key}{} · {cur}", c.name)).color(
                            if *cid == im.current {
                                Color32::WHITE
                            } else {
                                class_color(t, *cid)
                            },
                        );
                        let b = egui::Button::new(text).selected(*cid == im.current);
                        if ui.add(b).clicked() {
                            cmds.push(Command::Assign(*cid));
                        }
                    }
                });
                ui.separator();
                let avail = ui.available_size().max(Vec2::splat(64.0));
                let (rect, resp) = ui.allocate_exact_size(avail, Sense::click_and_drag());
                if resp.dragged() {
                    v.pan += resp.drag_delta();
                }
                if resp.hovered() {
                    let scroll = ui.input(|i| i.smooth_scroll_delta.y);
                    if scroll != 0.0 {
                        v.zoom = (v.zoom * (1.0 + scroll * 0.002)).clamp(0.25, 8.0);
                    }
                }
                match &v.loaded {
                    Some((_, Ok(tex))) => {
                        let size = tex.size_vec2();
                        let fit = (rect.width() / size.x).min(rect.height() / size.y);
                        let shown = size * fit * v.zoom;
                        let r = Rect::from_center_size(rect.center() + v.pan, shown);
                        ui.painter_at(rect).image(
                            tex.id(),
                            r,
                            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                            Color32::WHITE,
                        );
                        // The explanation, for this very image only (drawn at the network's
                        // input size, stretched like the network's input).
                        if overlay_on && let Some(t) = &overlay {
                            ui.painter_at(rect).image(
                                t.id(),
                                r,
                                Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                                Color32::WHITE,
                            );
                        }
                    }
                    Some((_, Err(e))) => {
                        ui.painter().text(
                            rect.center(),
                            egui::Align2::CENTER_CENTER,
                            format!("cannot show this image:\n{e}"),
                            egui::FontId::proportional(14.0),
                            Color32::LIGHT_RED,
                        );
                    }
                    None => {}
                }
            });
    }
    app.explain.overlay_in_viewer = overlay_on;
    if !open {
        cmds.push(Command::CloseViewer);
    }
    for c in cmds {
        app.send(c);
    }
}
