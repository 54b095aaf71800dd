//! The sweep screen's exports: the report (HTML, CSV, SVG) into the sweep's folder, and the
//! figures as PNG, cut out of a screenshot of the window.

use std::path::{Path, PathBuf};

use super::view::SweepView;
use crate::sweep::SweepDir;
use crate::sweep::start::load_or_snapshot;
use crate::ui::command::Command;
use crate::ui::state::ProjectState;

/// The report (HTML, CSV, SVG) of the sweep shown, to write into its folder: the folder and
/// the files (path, bytes), for `Command::WriteFiles`.
pub fn report(
    v: &SweepView,
    p: &ProjectState,
) -> Result<(PathBuf, Vec<crate::ui::overwrite::FileWrite>), String> {
    let Some(cfg) = &v.config else {
        return Err("no sweep to export".into());
    };
    let dir = SweepDir::of(&p.ws.path, &cfg.name);
    let snapshot = load_or_snapshot(&dir, p.project(), cfg)?;
    let out = dir.report_dir();
    let files = crate::sweep::report::report_files(
        &snapshot,
        &v.records,
        Some(p.project()),
        v.matrix_size,
    )?;
    let files = files
        .into_iter()
        .map(|(name, text)| (out.join(name), text.into_bytes()))
        .collect();
    Ok((out, files))
}

/// The folder the report and the PNG figures of the sweep shown go to.
pub fn report_dir(v: &SweepView, project_path: &Path) -> Option<PathBuf> {
    let cfg = v.config.as_ref()?;
    Some(SweepDir::of(project_path, &cfg.name).report_dir())
}

/// Requests the screenshot for a PNG export, and saves the figures when it has arrived (a
/// frame or two later).
pub fn figures_as_png(v: &mut SweepView, ctx: &egui::Context, cmds: &mut Vec<Command>) {
    if v.png_request {
        v.png_request = false;
        let slot = v.shot.clone();
        let repaint = ctx.clone();
        ctx.request_screenshot(move |image| {
            if let Ok(mut s) = slot.lock() {
                *s = Some(image);
            }
            repaint.request_repaint();
        });
    }
    let Some(dir) = v.png_export.clone() else {
        return;
    };
    let shot = v.shot.lock().ok().and_then(|mut s| s.take());
    let Some(image) = shot else { return };
    v.png_export = None;
    let ppp = ctx.pixels_per_point();
    let mut files = Vec::new();
    for (fig, rect) in &v.figures {
        let Some(out) = cut_out(&image, *rect, ppp) else {
            continue;
        };
        let path = dir.join(format!("{}.png", fig.file_stem()));
        match crate::ui::overwrite::png_bytes(&image::DynamicImage::ImageRgba8(out)) {
            Ok(bytes) => files.push((path, bytes)),
            Err(e) => {
                cmds.push(Command::Notify(
                    format!("could not save a figure: {}: {e}", path.display()),
                    true,
                ));
                return;
            }
        }
    }
    let done = format!(
        "{} figure(s) saved as PNG in {}",
        files.len(),
        dir.display()
    );
    cmds.push(Command::WriteFiles(files, done));
}

/// The pixels of `rect` (in points) out of a screenshot; None when it is empty.
fn cut_out(image: &egui::ColorImage, rect: egui::Rect, ppp: f32) -> Option<image::RgbaImage> {
    let px = |v: f32| (v * ppp).round().max(0.0) as usize;
    let (x0, y0) = (px(rect.min.x), px(rect.min.y));
    let (x1, y1) = (
        px(rect.max.x).min(image.size[0]),
        px(rect.max.y).min(image.size[1]),
    );
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let mut out = image::RgbaImage::new((x1 - x0) as u32, (y1 - y0) as u32);
    for y in y0..y1 {
        for x in x0..x1 {
            let c = image.pixels[y * image.size[0] + x];
            out.put_pixel(
                (x - x0) as u32,
                (y - y0) as u32,
                image::Rgba([c.r(), c.g(), c.b(), 255]),
            );
        }
    }
    Some(out)
}
