//! `leukolens bench gallery`: the gallery on a generated project of many images (18,365 by
//! default, the size of AML-Cytomorphology_LMU). Prints the time to first paint, frame times
//! while scrolling (median, p99) and resident memory. Frames run headless: the numbers are the
//! UI thread's CPU cost (layout, thumbnails, tessellation), not GPU rasterisation.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::app::LeukoApp;
use super::settings::Settings;

/// Generates `n` small distinct cell images as an image folder (ten classes) under `dir`.
fn generate(dir: &Path, n: usize) -> Result<(), String> {
    let per_class = n.div_ceil(10);
    let written = crate::dataset::par_map(n, &|_, _| {}, |i| {
        let class = i / per_class;
        let img = crate::demo::render_cell(class, 96, 7_000_000 + i as u64);
        let p = dir
            .join(crate::demo::DEMO_DIRS[class % 10])
            .join(format!("cell_{i:06}.png"));
        std::fs::create_dir_all(p.parent().unwrap_or(dir))
            .map_err(|e| e.to_string())
            .and_then(|_| img.save(&p).map_err(|e| e.to_string()))
    });
    written
        .into_iter()
        .try_for_each(|r| r.unwrap_or_else(|| Err("a worker failed".into())))
}

fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let k = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[k]
}

fn input(size: egui::Vec2, events: Vec<egui::Event>) -> egui::RawInput {
    egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, size)),
        events,
        ..Default::default()
    }
}

/// Runs the benchmark; `keep` keeps the generated project in that folder (else a temp folder).
pub fn gallery(n: usize, frames: usize, keep: Option<PathBuf>) -> Result<(), String> {
    let dir = keep.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("leukolens-bench-{}", std::process::id()))
    });
    let project_path = dir.join("bench.ron");
    if !project_path.exists() {
        let t = Instant::now();
        let images = dir.join("images");
        generate(&images, n)?;
        crate::demo::import_image_folder(&images, &project_path, "bench", 1)?;
        println!(
            "generated and imported {n} images in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    let size = egui::vec2(1280.0, 860.0);
    let ctx = egui::Context::default();
    let settings = Settings {
        annotator: Some("bench".into()),
        ..Default::default()
    };
    let rss0 = rss_mib();
    let t0 = Instant::now();
    let mut app = LeukoApp::new(settings, None, None);
    app.open(&project_path);
    let n_images = app.project().map(|p| p.order.len()).unwrap_or(0);
    let mut out = ctx.run_ui(input(size, vec![]), |ui| app.show(ui));
    let _ = ctx.tessellate(out.shapes, out.pixels_per_point);
    // Headless: no renderer takes the texture uploads.
    out.textures_delta.clear();
    let first_paint = t0.elapsed();
    println!("images in project: {n_images}");
    println!(
        "time to first paint (open project + first frame): {:.0} ms",
        first_paint.as_secs_f64() * 1e3
    );

    // Scroll down with the mouse wheel, one notch per frame, and measure every frame.
    let centre = egui::pos2(size.x * 0.4, size.y * 0.5);
    let mut times = Vec::with_capacity(frames);
    let started = Instant::now();
    for _ in 0..frames {
        let events = vec![
            egui::Event::PointerMoved(centre),
            egui::Event::MouseWheel {
                unit: egui::MouseWheelUnit::Point,
                delta: egui::vec2(0.0, -400.0),
                phase: egui::TouchPhase::Move,
                source: egui::MouseWheelSource::Unknown,
                modifiers: egui::Modifiers::NONE,
            },
        ];
        let t = Instant::now();
        let mut out = ctx.run_ui(input(size, events), |ui| app.show(ui));
        let _ = ctx.tessellate(out.shapes, out.pixels_per_point);
        out.textures_delta.clear();
        times.push(t.elapsed());
        // Pace like a 60 Hz display so background thumbnail decoding can keep up.
        let spent = t.elapsed();
        if spent < Duration::from_millis(16) {
            std::thread::sleep(Duration::from_millis(16) - spent);
        }
    }
    let wall = started.elapsed();
    let mut sorted = times.clone();
    sorted.sort();
    let median = percentile(&sorted, 0.5);
    let p99 = percentile(&sorted, 0.99);
    let (decoded, offset) = app
        .project()
        .map(|p| (p.thumbs.decoded(), app.gallery().visible))
        .unwrap_or((0, 0));
    println!(
        "scrolling {} frames ({:.1} s): frame time median {:.2} ms, p99 {:.2} ms, max {:.2} ms → {:.0} fps at the median",
        frames,
        wall.as_secs_f64(),
        median.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        sorted.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        1.0 / median.as_secs_f64().max(1e-9)
    );
    println!("tiles on screen: {offset}; thumbnails decoded while scrolling: {decoded}");
    if let (Some(a), Some(b)) = (rss0, rss_mib()) {
        println!("resident memory: {b:.0} MiB (before opening: {a:.0} MiB)");
    }
    println!("project kept in {}", dir.display());
    Ok(())
}
