//! The large viewer: the cursor image at full resolution with zoom and pan, original vs current
//! label and the model's suggestion, previous/next, and class buttons with per-class counts.
//! In blind mode it shows only "image ID" and the annotator's own label, and no counts.

use egui::{Color32, Pos2, Rect, Sense, Vec2};

use super::command::Command;
use super::gallery::class_text_color;
use super::state::{Ctx, ProjectState};
use crate::project::{ImageEntry, ImageId};
use crate::taxonomy::ClassId;

/// The viewer's own state: the image loaded, zoom and pan.
#[derive(Default)]
pub struct ViewerView {
    loaded: Option<(ImageId, Result<egui::TextureHandle, String>)>,
    pub zoom: f32,
    pan: Vec2,
}

/// Draws the viewer window on the cursor image (nothing when there is none).
pub fn show(view: &mut ViewerView, ctx: &Ctx, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    let Some(p) = ctx.project else { return };
    let Some(id) = p.selection.cursor else { return };
    let Some(im) = p.project().image(id) else {
        return;
    };
    view.load(p, im, ui.ctx());
    let mut open = true;
    let mut overlay_on = ctx.overlay_in_viewer;
    egui::Window::new("Viewer")
        .open(&mut open)
        .default_size([720.0, 640.0])
        .resizable(true)
        .show(ui.ctx(), |ui| {
            view.toolbar(p, id, &mut overlay_on, ui, cmds);
            labels(p, im, ui);
            class_buttons(p, im, ui, cmds);
            ui.separator();
            // The explanation, for this very image only (the app gives it only then).
            view.canvas(ctx.overlay.as_ref().filter(|_| overlay_on), ui);
        });
    if overlay_on != ctx.overlay_in_viewer {
        cmds.push(Command::SetOverlayInViewer(overlay_on));
    }
    if !open {
        cmds.push(Command::CloseViewer);
    }
}

impl ViewerView {
    /// Loads the image at full resolution when the cursor moved to another one.
    fn load(&mut self, p: &ProjectState, im: &ImageEntry, ctx: &egui::Context) {
        if self.loaded.as_ref().is_some_and(|(l, _)| *l == im.id) {
            return;
        }
        let path = p.project().image_path(&p.ws.path, im);
        let tex = crate::dataset::load_rgb8(&path)
            .map(|img| {
                let size = [img.width() as usize, img.height() as usize];
                ctx.load_texture(
                    format!("viewer-{}", im.id.0),
                    egui::ColorImage::from_rgb(size, img.as_raw()),
                    egui::TextureOptions::LINEAR,
                )
            })
            .map_err(|e| format!("{}: {e}", path.display()));
        self.loaded = Some((im.id, tex));
        self.zoom = 1.0;
        self.pan = Vec2::ZERO;
    }

    /// Previous/next, position, zoom, the overlay switch and the way to the explain screen.
    fn toolbar(
        &mut self,
        p: &ProjectState,
        id: ImageId,
        overlay_on: &mut bool,
        ui: &mut egui::Ui,
        cmds: &mut Vec<Command>,
    ) {
        let pos = p.position(id).map(|k| k + 1).unwrap_or(0);
        ui.horizontal(|ui| {
            if ui.button("< previous").clicked() {
                cmds.push(Command::Step(-1));
            }
            if ui.button("next >").clicked() {
                cmds.push(Command::Step(1));
            }
            ui.label(format!("{pos} of {}", p.order.len()));
            ui.add(
                egui::Slider::new(&mut self.zoom, 0.25..=8.0)
                    .logarithmic(true)
                    .text("zoom"),
            );
            if ui.button("fit").clicked() {
                self.zoom = 1.0;
                self.pan = Vec2::ZERO;
            }
            ui.separator();
            ui.checkbox(overlay_on, "explanation overlay")
                .on_hover_text("saliency or LRP of the model chosen in View > Explain…");
            if ui.button("Explain…").clicked() {
                cmds.push(Command::OpenExplain);
            }
        });
    }

    /// The image with zoom (wheel) and pan (drag), and the overlay over it.
    fn canvas(&mut self, overlay: Option<&egui::TextureHandle>, ui: &mut egui::Ui) {
        let avail = ui.available_size().max(Vec2::splat(64.0));
        let (rect, resp) = ui.allocate_exact_size(avail, Sense::click_and_drag());
        if resp.dragged() {
            self.pan += resp.drag_delta();
        }
        if resp.hovered() {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y);
            if scroll != 0.0 {
                self.zoom = (self.zoom * (1.0 + scroll * 0.002)).clamp(0.25, 8.0);
            }
        }
        let whole = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
        match &self.loaded {
            Some((_, Ok(tex))) => {
                let size = tex.size_vec2();
                let fit = (rect.width() / size.x).min(rect.height() / size.y);
                let shown = size * fit * self.zoom;
                let r = Rect::from_center_size(rect.center() + self.pan, shown);
                ui.painter_at(rect)
                    .image(tex.id(), r, whole, Color32::WHITE);
                // The explanation (drawn at the network's input size, stretched like the
                // network's input).
                if let Some(t) = overlay {
                    ui.painter_at(rect).image(t.id(), r, whole, Color32::WHITE);
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
    }
}

/// Blind mode: the image's id and the annotator's own label, nothing else.
fn blind_labels(p: &ProjectState, own: Option<ClassId>, im: &ImageEntry, ui: &mut egui::Ui) {
    let t = &p.project().taxonomy;
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new(format!("image {}", im.id.0)).monospace());
        ui.separator();
        match own {
            Some(c) => {
                ui.label("your label:");
                ui.colored_label(
                    class_text_color(ui, t, c),
                    egui::RichText::new(t.name(c)).strong(),
                );
            }
            None => {
                ui.label("not labelled by you yet");
            }
        }
    });
}

/// The file, the original and current labels, and the model's suggestion (outside blind mode).
fn labels(p: &ProjectState, im: &ImageEntry, ui: &mut egui::Ui) {
    if let Some(b) = &p.blind {
        return blind_labels(p, b.own.get(&im.id).copied(), im, ui);
    }
    let t = &p.project().taxonomy;
    if let Some(shown) = p
        .prelabels
        .as_ref()
        .and_then(|pre| pre.shown(p.project(), im.id))
    {
        let text = crate::quality::prelabels::shown_text(shown, t);
        let hint = if shown.stale {
            "relabelled since; set the label by hand"
        } else {
            "Enter accepts"
        };
        ui.label(format!("suggested {text} ({hint})"));
    }
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new(&im.path).monospace());
    });
    ui.horizontal(|ui| {
        ui.label("original:");
        ui.colored_label(class_text_color(ui, t, im.original), t.name(im.original));
        ui.label(format!("({})", im.source_label));
        ui.separator();
        ui.label("current:");
        ui.colored_label(
            class_text_color(ui, t, im.current),
            egui::RichText::new(t.name(im.current)).strong(),
        );
        if im.reviewed {
            ui.label("(reviewed)");
        }
    });
}

/// Class buttons with counts; the hotkeys work here too.
fn class_buttons(p: &ProjectState, im: &ImageEntry, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    let t = &p.project().taxonomy;
    let counts = p.project().counts();
    // Blind mode: the annotator's own label is the one marked, and no counts.
    let marked = match &p.blind {
        None => Some(im.current),
        Some(b) => b.own.get(&im.id).copied(),
    };
    ui.horizontal_wrapped(|ui| {
        for (cid, cur, _) in &counts {
            let Some(c) = t.get(*cid) else { continue };
            let key = c.hotkey.map(|k| format!("[{k}] ")).unwrap_or_default();
            let label = if p.is_blind() {
                format!("{key}{}", c.name)
            } else {
                format!("{key}{} · {cur}", c.name)
            };
            let text = egui::RichText::new(label).color(if Some(*cid) == marked {
                Color32::WHITE
            } else {
                class_text_color(ui, t, *cid)
            });
            let b = egui::Button::new(text).selected(Some(*cid) == marked);
            if ui.add(b).clicked() {
                cmds.push(Command::Assign(*cid));
            }
        }
    });
}
