//! The explain screen's PNG exports into `<project>.sweeps/<name>/explain/`: the cell's
//! overlay with its scale bar, the focus row, and the embedding. They are written through
//! `Command::WriteFiles`, which asks before replacing a file.

use image::RgbImage;

use super::embedding::embedding_picture;
use super::view::{ExplainView, FocusResult};
use crate::explain::{Method, colour};
use crate::sweep::SweepDir;
use crate::ui::command::Command;
use crate::ui::state::ProjectState;

fn export_dir(v: &ExplainView, p: &ProjectState) -> Option<std::path::PathBuf> {
    Some(SweepDir::of(&p.ws.path, v.sweep.as_ref()?).explain_dir())
}

/// Saves `img` as `name` in the export folder; the command tells the user how it went.
fn save_png(v: &ExplainView, p: &ProjectState, name: &str, img: &RgbImage) -> Command {
    let Some(dir) = export_dir(v, p) else {
        return Command::Notify("no sweep chosen".into(), true);
    };
    let path = dir.join(name);
    // Written through the one place that checks paths and asks before replacing a file.
    match crate::ui::overwrite::png_bytes(&image::DynamicImage::ImageRgb8(img.clone())) {
        Ok(bytes) => Command::WriteFiles(
            vec![(path.clone(), bytes)],
            format!("saved {}", path.display()),
        ),
        Err(e) => Command::Notify(format!("could not save {}: {e}", path.display()), true),
    }
}

/// The current cell's overlay with its scale bar.
pub fn cell_png(v: &ExplainView, p: &ProjectState) -> Option<Command> {
    let c = v.cell.as_ref()?;
    let pic = colour::with_scale_bar(&colour::overlay(&c.base, &c.map, v.opacity), c.map.signed);
    let name = format!(
        "image{}-fold{}-n{}-{}.png",
        c.key.image.0,
        c.key.run.fold + 1,
        c.key.run.size,
        match c.key.method {
            Method::Saliency => "saliency".to_string(),
            Method::Lrp(p) => format!("lrp-{}", p.cli_name()),
        }
    );
    Some(save_png(v, p, &name, &pic))
}

/// The focus row as one picture: sizes left to right, saliency above LRP.
pub fn focus_picture(f: &FocusResult) -> Option<RgbImage> {
    let (w, h) = f.rows.first()?.1.dimensions();
    let gap = 4;
    let n = f.rows.len() as u32;
    let mut out = RgbImage::from_pixel(n * (w + gap), 2 * h + gap, image::Rgb([255, 255, 255]));
    for (k, (_, a, b)) in f.rows.iter().enumerate() {
        let x = k as u32 * (w + gap);
        image::imageops::replace(&mut out, a, x as i64, 0);
        image::imageops::replace(&mut out, b, x as i64, (h + gap) as i64);
    }
    Some(out)
}

/// The focus row as one PNG.
pub fn focus_png(v: &ExplainView, p: &ProjectState) -> Command {
    let Some(f) = &v.focus else {
        return Command::Notify("no focus row yet".into(), true);
    };
    let Some(img) = focus_picture(f) else {
        return Command::Notify("the focus row is empty".into(), true);
    };
    let sizes: Vec<String> = f.rows.iter().map(|r| r.0.to_string()).collect();
    save_png(
        v,
        p,
        &format!(
            "focus-image{}-fold{}-n{}.png",
            f.image.0,
            f.fold + 1,
            sizes.join("_")
        ),
        &img,
    )
}

/// The embedding as a PNG.
pub fn embedding_png(v: &ExplainView, p: &ProjectState) -> Command {
    let Some(e) = &v.embedding else {
        return Command::Notify("no embedding yet".into(), true);
    };
    let name = format!("embedding-fold{}-n{}.png", v.fold + 1, v.size.unwrap_or(0));
    save_png(v, p, &name, &embedding_picture(e, 720))
}
