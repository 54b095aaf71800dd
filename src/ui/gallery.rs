//! The gallery: a virtualised grid of thumbnails (only visible rows are drawn and decoded),
//! keyboard-first annotation, click / Shift-click / Ctrl-click / drag-box selection, the
//! model's suggestions on the tiles (`Enter` accepts the cursor's), and blind mode (only the
//! annotator's own label, no file names, predictions or suggestions, seeded random order).

use std::collections::HashSet;

use egui::{Color32, Key, Modifiers, Pos2, Rect, Sense, Stroke, StrokeKind, Vec2};

use super::command::Command;
use super::settings::Settings;
use super::state::{Ctx, ProjectState};
use super::thumbs::Thumb;
use crate::project::ImageId;
use crate::project::query::{Filter, Sort};
use crate::quality::prelabels::{Shown, shown_text};
use crate::taxonomy::Taxonomy;

/// Gallery state that is purely visual (nothing the project cares about).
#[derive(Default)]
pub struct GalleryView {
    /// Tiles per row in the last frame (for Up/Down).
    pub columns: usize,
    drag_start: Option<Pos2>,
    /// Where the pointer was in the last frame of the drag (the release frame may have none).
    drag_now: Option<Pos2>,
    last_cursor: Option<ImageId>,
    /// Vertical scroll offset of the last frame.
    offset: f32,
    /// Tiles drawn in the last frame (for tests and the benchmark).
    pub visible: usize,
}

/// The class's own colour (tile borders and markers).
pub fn class_color(t: &Taxonomy, id: crate::taxonomy::ClassId) -> Color32 {
    t.get(id)
        .map(|c| Color32::from_rgb(c.color[0], c.color[1], c.color[2]))
        .unwrap_or(Color32::GRAY)
}

/// The class's colour for text on the panels of `ui`'s theme: lightened or darkened, hue kept,
/// to a contrast of at least 4.5:1 ([`crate::contrast::readable_on`]).
pub fn class_text_color(ui: &egui::Ui, t: &Taxonomy, id: crate::taxonomy::ClassId) -> Color32 {
    let bg = ui.visuals().panel_fill;
    let c = class_color(t, id);
    let [r, g, b] = crate::contrast::readable_on([c.r(), c.g(), c.b()], [bg.r(), bg.g(), bg.b()]);
    Color32::from_rgb(r, g, b)
}

/// Keyboard handling for the gallery and the viewer. Every key press of the frame counts, in
/// the order typed (several presses within one frame are all applied).
fn keyboard(view: &GalleryView, ctx: &Ctx, ui: &egui::Ui, cmds: &mut Vec<Command>) {
    let egui_ctx = ui.ctx();
    if egui_ctx.text_edit_focused() || ctx.modal_open {
        return;
    }
    let Some(p) = ctx.project else { return };
    let columns = view.columns.max(1) as isize;
    let taxonomy = &p.project().taxonomy;
    let viewer_open = ctx.viewer_open;
    egui_ctx.input_mut(|i| {
        i.events.retain(|ev| {
            let egui::Event::Key {
                key,
                pressed: true,
                modifiers,
                ..
            } = ev
            else {
                return true;
            };
            let cmd_mod = modifiers.command || modifiers.ctrl;
            let cmd = match key {
                Key::Z if cmd_mod && modifiers.shift => Some(Command::Redo),
                Key::Z if cmd_mod => Some(Command::Undo),
                Key::Y if cmd_mod => Some(Command::Redo),
                _ if cmd_mod || modifiers.alt => None,
                Key::ArrowRight | Key::L => Some(Command::Step(1)),
                Key::ArrowLeft | Key::H => Some(Command::Step(-1)),
                Key::ArrowDown | Key::J => {
                    Some(Command::Step(if viewer_open { 1 } else { columns }))
                }
                Key::ArrowUp | Key::K => {
                    Some(Command::Step(if viewer_open { -1 } else { -columns }))
                }
                Key::Space => Some(if viewer_open {
                    Command::CloseViewer
                } else {
                    Command::OpenViewer
                }),
                Key::Escape if viewer_open => Some(Command::CloseViewer),
                Key::Tab => Some(Command::NextUnreviewed),
                // The app refuses it in blind mode, with a message.
                Key::Enter => p.selection.cursor.map(Command::AcceptPreLabel),
                other => key_char(*other)
                    .and_then(|c| taxonomy.by_hotkey(c))
                    .map(Command::Assign),
            };
            match cmd {
                Some(c) => {
                    cmds.push(c);
                    false // consumed
                }
                None => true,
            }
        });
        // The matching text events of consumed keys (digits, letters) are not needed either.
    });
}

/// A class name cut to fit under a tile.
fn short_name(name: &str) -> String {
    if name.chars().count() > 12 {
        format!("{}…", name.chars().take(11).collect::<String>())
    } else {
        name.to_string()
    }
}

/// The character a key stands for (digits and letters), for hotkeys.
fn key_char(key: Key) -> Option<char> {
    let name = key.name();
    let mut chars = name.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
        _ => None,
    }
}

/// Filters, sort, tile size and options above the grid.
fn toolbar(p: &ProjectState, settings: &Settings, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    if p.is_blind() {
        return blind_toolbar(p, settings, ui, cmds);
    }
    let t = &p.project().taxonomy;
    let (old_filter, old_sort) = (p.filter.clone(), p.sort);
    let mut filter = p.filter.clone();
    let mut sort = p.sort;
    let mut size = settings.thumb_size;
    let mut auto = settings.auto_advance;
    let mut show_pred = settings.show_predictions;
    ui.horizontal_wrapped(|ui| {
        let class_combo =
            |ui: &mut egui::Ui, label: &str, value: &mut Option<crate::taxonomy::ClassId>| {
                let text = value.map(|c| t.name(c)).unwrap_or_else(|| "any".into());
                egui::ComboBox::from_label(label)
                    .selected_text(text)
                    .show_ui(ui, |ui| {
                        ui.selectable_value(value, None, "any");
                        for c in &t.classes {
                            ui.selectable_value(value, Some(c.id), &c.name);
                        }
                    });
            };
        class_combo(ui, "current", &mut filter.current);
        class_combo(ui, "original", &mut filter.original);
        ui.checkbox(&mut filter.changed_only, "changed");
        ui.checkbox(&mut filter.unreviewed_only, "not reviewed");
        ui.checkbox(&mut filter.conflicts_only, "label conflicts")
            .on_hover_text("the same image content under different classes");
        let l = ui.label("file name");
        ui.add(egui::TextEdit::singleline(&mut filter.name_contains).desired_width(100.0))
            .labelled_by(l.id);
        if filter.only.is_some() && ui.button("show all").clicked() {
            filter.only = None;
        }
        if !p.prediction_names.is_empty() {
            prediction_filters(&p.prediction_names, &mut filter, &mut show_pred, ui);
        }
        egui::ComboBox::from_label("sort")
            .selected_text(sort.label())
            .show_ui(ui, |ui| {
                for s in Sort::ALL {
                    ui.selectable_value(&mut sort, s, s.label());
                }
            });
        ui.add(egui::Slider::new(&mut size, 48.0..=320.0).text("size"));
        ui.checkbox(&mut auto, "auto-advance");
        ui.label(format!(
            "{} of {} shown",
            p.order.len(),
            p.project().images.len()
        ));
    });
    if filter != old_filter {
        cmds.push(Command::SetFilter(filter));
    }
    if sort != old_sort {
        cmds.push(Command::SetSort(sort));
    }
    if size != settings.thumb_size {
        cmds.push(Command::SetThumbSize(size));
    }
    if auto != settings.auto_advance {
        cmds.push(Command::ToggleAutoAdvance);
    }
    if show_pred != settings.show_predictions {
        cmds.push(Command::ShowPredictions(show_pred));
    }
}

/// Blind mode's toolbar: no filter or sort that would tell the labels, the tile size.
fn blind_toolbar(
    p: &ProjectState,
    settings: &Settings,
    ui: &mut egui::Ui,
    cmds: &mut Vec<Command>,
) {
    let mut size = settings.thumb_size;
    ui.horizontal_wrapped(|ui| {
        ui.strong("Blind mode");
        ui.label(format!(
            "{} images in a seeded random order; only your own labels are shown",
            p.order.len()
        ));
        ui.add(egui::Slider::new(&mut size, 48.0..=320.0).text("size"));
        if ui.button("leave blind mode").clicked() {
            cmds.push(Command::SetBlind(false));
        }
    });
    if size != settings.thumb_size {
        cmds.push(Command::SetThumbSize(size));
    }
}

/// The filters on the sweep's predictions (shown once a sweep with finished runs is shown).
fn prediction_filters(
    names: &[String],
    filter: &mut Filter,
    show_pred: &mut bool,
    ui: &mut egui::Ui,
) {
    let text = filter
        .predicted
        .and_then(|i| names.get(i).cloned())
        .unwrap_or_else(|| "any".into());
    egui::ComboBox::from_label("predicted")
        .selected_text(text)
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut filter.predicted, None, "any");
            for (i, n) in names.iter().enumerate() {
                ui.selectable_value(&mut filter.predicted, Some(i), n);
            }
        });
    ui.checkbox(&mut filter.misclassified_only, "misclassified")
        .on_hover_text("the latest cross-validated prediction disagrees with the sweep's label");
    ui.checkbox(show_pred, "show predictions");
}

/// Space between tiles.
const GAP: f32 = 6.0;

/// How the grid is laid out in this frame.
struct Layout {
    tile: f32,
    /// Tile plus gap.
    cell: f32,
    width: f32,
    columns: usize,
    dataset: std::path::PathBuf,
    show_predictions: bool,
}

/// What the pointer did to the tiles in one frame.
#[derive(Default)]
struct TileInput {
    clicked: Option<(ImageId, Modifiers)>,
    double: Option<ImageId>,
    rects: Vec<(ImageId, Rect)>,
}

/// The toolbar, then the grid of tiles (only visible rows are laid out and ask for
/// thumbnails), with click and drag-box selection.
pub fn show(view: &mut GalleryView, ctx: &Ctx, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    keyboard(view, ctx, ui, cmds);
    let Some(p) = ctx.project else { return };
    toolbar(p, ctx.settings, ui, cmds);
    ui.separator();
    let tile = ctx.settings.thumb_size;
    let cell = tile + GAP;
    let width = ui.available_width().max(cell);
    let columns = ((width / cell).floor() as usize).max(1);
    view.columns = columns;
    if p.order.is_empty() {
        ui.label("No image matches the filter.");
        return;
    }
    let layout = Layout {
        tile,
        cell,
        width,
        columns,
        dataset: p.project().dataset_dir(&p.ws.path),
        show_predictions: ctx.settings.show_predictions,
    };
    let scroll = view.scroll_to_cursor(p, &layout, ui.available_height());
    let rows = p.order.len().div_ceil(columns);
    let mut input = TileInput::default();
    let out = scroll.show_rows(ui, cell - ui.spacing().item_spacing.y, rows, |ui, range| {
        // The background senses drags (box selection); tiles above it sense clicks.
        // The whole visible viewport, not just the first row's rect.
        let bg = ui.interact(
            ui.clip_rect(),
            ui.make_persistent_id("gallery-bg"),
            Sense::drag(),
        );
        let mut visible = HashSet::new();
        for r in range {
            row(p, &layout, r, ui, &mut visible, &mut input);
        }
        p.thumbs.retain_requests(&visible);
        view.visible = visible.len();
        bg
    });
    view.offset = out.state.clamped_offset().y;
    let boxed = view.drag_box(&out.inner, &input.rects, ui, cmds);
    if boxed {
        // The box decided the selection.
    } else if let Some(id) = input.double {
        cmds.push(Command::Select(vec![id]));
        cmds.push(Command::OpenViewer);
    } else if let Some((id, m)) = input.clicked {
        cmds.push(if m.shift {
            Command::SelectRangeTo(id)
        } else if m.command || m.ctrl {
            Command::ToggleSelect(id)
        } else {
            Command::Select(vec![id])
        });
    }
}

impl GalleryView {
    /// The scroll area, scrolled so that the cursor is in view when it moved (keyboard, undo,
    /// Tab).
    fn scroll_to_cursor(
        &mut self,
        p: &ProjectState,
        layout: &Layout,
        view_h: f32,
    ) -> egui::ScrollArea {
        let mut scroll = egui::ScrollArea::vertical()
            .id_salt("gallery")
            .auto_shrink([false, false]);
        if p.selection.cursor != self.last_cursor {
            self.last_cursor = p.selection.cursor;
            if let Some(k) = p.selection.cursor.and_then(|c| p.position(c)) {
                let cell = layout.cell;
                let y = (k / layout.columns) as f32 * cell;
                if y < self.offset {
                    scroll = scroll.vertical_scroll_offset(y);
                } else if y + cell > self.offset + view_h {
                    scroll = scroll.vertical_scroll_offset(y + cell - view_h);
                }
            }
        }
        scroll
    }

    /// Drag-box selection on the background: draws the box while dragging and selects the
    /// tiles it touches on release. True when the box decided the selection.
    fn drag_box(
        &mut self,
        bg: &egui::Response,
        tiles: &[(ImageId, Rect)],
        ui: &egui::Ui,
        cmds: &mut Vec<Command>,
    ) -> bool {
        if bg.drag_started() {
            self.drag_start = bg.interact_pointer_pos();
        }
        if self.drag_start.is_some()
            && let Some(p) = bg
                .interact_pointer_pos()
                .or_else(|| ui.input(|i| i.pointer.latest_pos()))
        {
            self.drag_now = Some(p);
        }
        let mut boxed = false;
        if let (Some(start), Some(now)) = (self.drag_start, self.drag_now)
            && (now - start).length() > 6.0
        {
            // A real drag (not the jitter of a click): draw the box; apply it on release.
            let boxr = Rect::from_two_pos(start, now);
            ui.painter().rect(
                boxr,
                0.0,
                Color32::from_rgba_unmultiplied(120, 170, 255, 40),
                Stroke::new(1.0, Color32::from_rgb(120, 170, 255)),
                StrokeKind::Inside,
            );
            if bg.drag_stopped() {
                let ids: Vec<ImageId> = tiles
                    .iter()
                    .filter(|(_, r)| r.intersects(boxr))
                    .map(|(id, _)| *id)
                    .collect();
                if !ids.is_empty() {
                    boxed = true;
                    cmds.push(Command::Select(ids));
                }
            }
        }
        if bg.drag_stopped() {
            self.drag_start = None;
            self.drag_now = None;
        }
        boxed
    }
}

/// One row of tiles.
fn row(
    p: &ProjectState,
    layout: &Layout,
    r: usize,
    ui: &mut egui::Ui,
    visible: &mut HashSet<ImageId>,
    input: &mut TileInput,
) {
    let (row_rect, _) = ui.allocate_exact_size(
        egui::vec2(layout.width, layout.cell - ui.spacing().item_spacing.y),
        Sense::hover(),
    );
    for c in 0..layout.columns {
        let k = r * layout.columns + c;
        let Some(&id) = p.order.get(k) else { break };
        visible.insert(id);
        let rect = Rect::from_min_size(
            row_rect.min + egui::vec2(c as f32 * layout.cell, 0.0),
            Vec2::splat(layout.tile),
        );
        let Some(im) = p.ws.project.image(id) else {
            continue;
        };
        let resp = ui.interact(rect, ui.make_persistent_id(("tile", id.0)), Sense::click());
        let selected = p.selection.contains(id);
        let shown = tile_suggestion(p, id);
        let name = tile_name(p, im, shown);
        resp.widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, true, selected, &name));
        if resp.double_clicked() {
            input.double = Some(id);
        } else if resp.clicked() {
            input.clicked = Some((id, click_modifiers(ui)));
        }
        input.rects.push((id, rect));
        paint_tile(p, layout, im, shown, rect, ui);
        if resp.hovered() {
            resp.on_hover_text(tile_hover(p, im, shown));
        }
    }
}

/// The suggestion shown on a tile (none in blind mode), looked up once per tile and frame.
fn tile_suggestion(p: &ProjectState, id: ImageId) -> Option<Shown<'_>> {
    if p.is_blind() {
        return None;
    }
    p.prelabels.as_ref()?.shown(p.project(), id)
}

/// A tile's accessible name: the file, with the suggestion when one is shown; in blind mode
/// "image ID" (folder names may be class names).
fn tile_name(p: &ProjectState, im: &crate::project::ImageEntry, shown: Option<Shown>) -> String {
    if p.is_blind() {
        return format!("image {}", im.id.0);
    }
    match shown {
        Some(s) => format!("{} {}", im.path, shown_text(s, &p.project().taxonomy)),
        None => im.path.clone(),
    }
}

/// A tile's hover text: file, current and original labels and the suggestion; in blind mode
/// only the annotator's own label.
fn tile_hover(p: &ProjectState, im: &crate::project::ImageEntry, shown: Option<Shown>) -> String {
    let t = &p.ws.project.taxonomy;
    if let Some(b) = &p.blind {
        let own = b
            .own
            .get(&im.id)
            .map_or("not labelled by you yet".into(), |&c| {
                format!("your label: {}", t.name(c))
            });
        return format!("image {}\n{own}", im.id.0);
    }
    let hover = format!(
        "{}\ncurrent: {}\noriginal: {} ({})",
        im.path,
        t.name(im.current),
        t.name(im.original),
        im.source_label
    );
    match shown {
        Some(s) => format!("{hover}\nsuggested: {} (Enter accepts)", shown_text(s, t)),
        None => hover,
    }
}

/// The suggestion as painted on a tile's band: the class name cut to fit, `stale` first when
/// it is (the accessible name and the hover text keep the whole text).
fn band_text(shown: Shown, taxonomy: &Taxonomy) -> String {
    let name = shown
        .pre
        .class
        .map_or(shown.pre.output.clone(), |c| taxonomy.name(c));
    let name = if name.chars().count() > 10 {
        format!("{}…", name.chars().take(9).collect::<String>())
    } else {
        name
    };
    if shown.stale {
        format!("stale: {name}")
    } else {
        format!("-> {name} {:.2}", shown.pre.probability)
    }
}

/// A tile: the thumbnail, the current class's frame, the relabelled corner, the prediction
/// band, the suggestion's band, the reviewed dot, and the selection and cursor frames.
fn paint_tile(
    p: &ProjectState,
    layout: &Layout,
    im: &crate::project::ImageEntry,
    shown: Option<Shown>,
    rect: Rect,
    ui: &egui::Ui,
) {
    let id = im.id;
    let t = &p.ws.project.taxonomy;
    let painter = ui.painter_at(rect.expand(3.0));
    painter.rect_filled(rect, 4.0, Color32::from_gray(40));
    let path = layout.dataset.join(&im.path);
    paint_thumb(
        &painter,
        p.thumbs.get(id, &im.hash, &path),
        rect,
        layout.tile,
    );
    // Blind mode: the frame in the colour of the annotator's own label, grey without one.
    let frame = match &p.blind {
        None => Some(im.current),
        Some(b) => b.own.get(&id).copied(),
    };
    let frame = frame.map_or(Color32::GRAY, |c| class_color(t, c));
    painter.rect_stroke(rect, 4.0, Stroke::new(3.0, frame), StrokeKind::Inside);
    if !p.is_blind() && im.current != im.original {
        // A corner marker in the original class's colour: "relabelled".
        let corner = rect.right_top();
        let tri = vec![
            corner,
            corner + egui::vec2(-16.0, 0.0),
            corner + egui::vec2(0.0, 16.0),
        ];
        painter.add(egui::Shape::convex_polygon(
            tri,
            class_color(t, im.original),
            Stroke::new(1.0, Color32::WHITE),
        ));
    }
    if layout.show_predictions
        && !p.is_blind()
        && let Some(&prediction) = p.predicted.get(&id)
    {
        paint_prediction(&painter, &p.prediction_names, prediction, rect);
    }
    if let Some(s) = shown {
        let class = s.pre.class.filter(|_| !s.stale);
        paint_suggestion(&painter, t, &band_text(s, t), class, rect);
    }
    // Blind mode: the dot marks the annotator's own labels, not anybody's review.
    let reviewed = match &p.blind {
        None => im.reviewed,
        Some(b) => b.own.contains_key(&id),
    };
    if reviewed {
        painter.circle_filled(
            rect.left_bottom() + egui::vec2(9.0, -9.0),
            4.0,
            Color32::from_rgb(90, 200, 120),
        );
    }
    if p.selection.contains(id) {
        painter.rect_stroke(
            rect.expand(2.0),
            5.0,
            Stroke::new(2.0, Color32::WHITE),
            StrokeKind::Outside,
        );
    }
    if p.selection.cursor == Some(id) {
        painter.rect_stroke(
            rect.expand(4.0),
            6.0,
            Stroke::new(1.5, Color32::from_rgb(120, 170, 255)),
            StrokeKind::Outside,
        );
    }
}

/// The thumbnail, or what stands for it while it loads or when it cannot be read.
fn paint_thumb(painter: &egui::Painter, thumb: Thumb, rect: Rect, tile: f32) {
    match thumb {
        Thumb::Ready(tex) => {
            let size = tex.size_vec2();
            let scale = (tile - 8.0) / size.x.max(size.y);
            let img_rect = Rect::from_center_size(rect.center(), size * scale);
            painter.image(
                tex.id(),
                img_rect,
                Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                Color32::WHITE,
            );
        }
        Thumb::Loading => {
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "…",
                egui::FontId::proportional(16.0),
                Color32::GRAY,
            );
        }
        Thumb::Failed(_) => {
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "unreadable",
                egui::FontId::proportional(12.0),
                Color32::LIGHT_RED,
            );
        }
    }
}

/// The band with the predicted output and its probability: green when it matches the
/// sweep's label, red when not.
fn paint_prediction(
    painter: &egui::Painter,
    names: &[String],
    (pred, target, unc): (usize, usize, f32),
    rect: Rect,
) {
    let name = names.get(pred).map(String::as_str).unwrap_or("?");
    let text = format!("{} {:.0}%", short_name(name), 100.0 * (1.0 - unc));
    let band = Rect::from_min_max(
        rect.left_bottom() - egui::vec2(0.0, 16.0),
        rect.right_bottom(),
    )
    .shrink2(egui::vec2(3.0, 0.0));
    let fill = if pred == target {
        Color32::from_rgba_unmultiplied(20, 90, 50, 210)
    } else {
        Color32::from_rgba_unmultiplied(140, 30, 30, 220)
    };
    painter.rect_filled(band, 2.0, fill);
    painter.text(
        band.right_center() - egui::vec2(3.0, 0.0),
        egui::Align2::RIGHT_CENTER,
        text,
        egui::FontId::proportional(11.0),
        Color32::WHITE,
    );
}

/// The band at the top of a tile with the model's suggestion, in the suggested class's colour
/// (grey when stale or not one class).
fn paint_suggestion(
    painter: &egui::Painter,
    t: &Taxonomy,
    text: &str,
    class: Option<crate::taxonomy::ClassId>,
    rect: Rect,
) {
    let fill = [20, 20, 20];
    let band = Rect::from_min_max(rect.left_top(), rect.right_top() + egui::vec2(0.0, 16.0))
        .shrink2(egui::vec2(3.0, 0.0));
    painter.rect_filled(
        band,
        2.0,
        Color32::from_rgba_unmultiplied(fill[0], fill[1], fill[2], 220),
    );
    let colour = class.map_or(Color32::LIGHT_GRAY, |c| {
        let c = class_color(t, c);
        let [r, g, b] = crate::contrast::readable_on([c.r(), c.g(), c.b()], fill);
        Color32::from_rgb(r, g, b)
    });
    painter.text(
        band.left_center() + egui::vec2(3.0, 0.0),
        egui::Align2::LEFT_CENTER,
        text,
        egui::FontId::proportional(11.0),
        colour,
    );
}

/// The modifiers held during a click: the input state, or those carried by the pointer event
/// (synthetic input, e.g. tests and accessibility tools, sets only the latter).
fn click_modifiers(ui: &egui::Ui) -> Modifiers {
    ui.input(|i| {
        let from_event = i
            .events
            .iter()
            .rev()
            .find_map(|e| match e {
                egui::Event::PointerButton { modifiers, .. } => Some(*modifiers),
                _ => None,
            })
            .unwrap_or_default();
        let m = i.modifiers;
        Modifiers {
            alt: m.alt || from_event.alt,
            ctrl: m.ctrl || from_event.ctrl,
            shift: m.shift || from_event.shift,
            mac_cmd: m.mac_cmd || from_event.mac_cmd,
            command: m.command || from_event.command,
        }
    })
}
