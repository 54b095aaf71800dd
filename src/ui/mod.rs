//! The desktop application (egui/eframe). One module per screen: each screen's `show` reads a
//! read-only [`state::Ctx`], keeps its own widget state in its view, and returns
//! [`command::Command`]s; the state changes only in [`app::LeukoApp::apply`]. Background work
//! reports over the job channel and its jobs' own typed channels, drained once per frame.

pub mod app;
pub mod audit_dialog;
pub mod bench;
pub mod command;
pub mod explain;
pub mod gallery;
pub mod import_mapping;
pub mod overwrite;
pub mod project_menu;
pub mod review;
pub mod review_apply;
pub mod settings;
pub mod state;
pub mod stats;
pub mod sweep;
pub mod taxonomy_editor;
pub mod thumbs;
pub mod viewer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use app::LeukoApp;
pub use command::{Command, Queue, TaxonomyEdit, Window};
pub use settings::Settings;

use crate::project::Workspace;

/// Autosave interval (labels are journaled at once regardless).
const AUTOSAVE: Duration = Duration::from_secs(10);

/// A scripted run that renders every screen to PNG files and quits.
struct ScreenshotScript {
    out: PathBuf,
    stage: usize,
    frames_in_stage: usize,
    pending: Arc<Mutex<Option<Result<(), String>>>>,
    waiting: bool,
    stage_started: Instant,
}

const STAGES: [&str; 17] = [
    "gallery",
    "viewer",
    "taxonomy",
    "filtered",
    "sweep-form",
    "sweep",
    "predictions",
    "explain",
    "viewer-overlay",
    "focus",
    "embedding",
    "audit-dialog",
    "review-mislabelled",
    "review-label-next",
    "review-disagreements",
    "blind",
    "gallery-after",
];

struct EframeApp {
    app: LeukoApp,
    last_save: Instant,
    script: Option<ScreenshotScript>,
}

impl eframe::App for EframeApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app.show(ui);
        if self.last_save.elapsed() > AUTOSAVE {
            self.app.autosave();
            self.last_save = Instant::now();
        }
        if ui.ctx().input(|i| i.viewport().close_requested()) {
            self.app.autosave();
        }
        if let Some(s) = &mut self.script {
            run_script(s, &mut self.app, ui.ctx());
        }
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.app.autosave();
    }
}

fn run_script(s: &mut ScreenshotScript, app: &mut LeukoApp, ctx: &egui::Context) {
    ctx.request_repaint();
    if s.waiting {
        let done = s.pending.lock().ok().and_then(|mut p| p.take());
        if let Some(r) = done {
            if let Err(e) = r {
                eprintln!("screenshot failed: {e}");
            }
            s.waiting = false;
            s.stage += 1;
            s.frames_in_stage = 0;
        }
        return;
    }
    if s.stage >= STAGES.len() {
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        return;
    }
    if s.frames_in_stage == 0 {
        s.stage_started = Instant::now();
        set_up_stage(STAGES[s.stage], app);
    }
    s.frames_in_stage += 1;
    if !stage_ready(s, app) {
        return;
    }
    let path = s
        .out
        .join(format!("{:02}-{}.png", s.stage + 1, STAGES[s.stage]));
    s.waiting = true;
    request_png(ctx, path, s.pending.clone());
}

/// Sets a screen up for its screenshot.
fn set_up_stage(stage: &str, app: &mut LeukoApp) {
    use crate::project::query::Filter;
    use crate::project::query::Sort;
    match stage {
        "viewer" => app.apply(Command::OpenViewer),
        "taxonomy" => {
            app.apply(Command::CloseViewer);
            app.apply(Command::SetWindow(Window::Taxonomy, true));
        }
        "sweep" => {
            app.apply(Command::SetFilter(Filter::default()));
            let seed = app.project().map(|p| p.project().seed).unwrap_or(0);
            app.apply(Command::StartSweep(sweep::quick_demo(seed)));
        }
        "sweep-form" => {
            app.apply(Command::SetWindow(Window::Taxonomy, false));
            app.apply(Command::SetFilter(Filter::default()));
            app.apply(Command::SetWindow(Window::Sweep, true));
        }
        "viewer-overlay" => {
            app.apply(Command::SetOverlayInViewer(true));
            app.apply(Command::OpenViewer);
        }
        "explain" => {
            app.apply(Command::SetSort(Sort::Import));
            app.apply(Command::OpenExplain);
        }
        "focus" => {
            app.apply(Command::CloseViewer);
            app.explain_tab(explain::Tab::Focus);
        }
        "embedding" => app.explain_tab(explain::Tab::Embedding),
        "audit-dialog" => {
            app.apply(Command::SetWindow(Window::Explain, false));
            app.apply(Command::ShowPredictions(false));
            app.apply(Command::SetWindow(Window::Audit, true));
        }
        "review-mislabelled" | "review-label-next" | "review-disagreements" => {
            app.apply(Command::SetWindow(Window::Audit, false));
            app.apply(Command::SetWindow(Window::Review, true));
            let queue = match stage {
                "review-mislabelled" => Queue::Mislabelled,
                "review-label-next" => Queue::LabelNext,
                _ => Queue::Disagreements,
            };
            app.apply(Command::SetReviewQueue(queue));
        }
        "blind" => {
            app.apply(Command::SetWindow(Window::Review, false));
            app.apply(Command::SetBlind(true));
        }
        "gallery-after" => app.apply(Command::SetBlind(false)),
        "predictions" => {
            app.apply(Command::SetWindow(Window::Sweep, false));
            app.apply(Command::ShowPredictions(true));
            app.apply(Command::SetSort(Sort::Uncertainty));
        }
        "filtered" => {
            app.apply(Command::SetWindow(Window::Taxonomy, false));
            let first = app.project().and_then(|p| {
                p.order
                    .first()
                    .and_then(|&id| p.project().image(id))
                    .map(|im| im.current)
            });
            if app.project().is_some() {
                app.apply(Command::SetFilter(Filter {
                    current: first,
                    ..Default::default()
                }));
            }
        }
        _ => {}
    }
}

/// Whether the stage's screen is ready for its screenshot: thumbnails arrived (at most ~3 s of
/// frames), the explain screens' background work done (at most 2 minutes), a few sweep runs
/// finished (at most 4 minutes).
fn stage_ready(s: &ScreenshotScript, app: &LeukoApp) -> bool {
    let thumbs_pending = app.project().map(|p| p.thumbs.pending()).unwrap_or(0);
    if s.frames_in_stage < 10 || (thumbs_pending > 0 && s.frames_in_stage < 180) {
        return false;
    }
    let stage = STAGES[s.stage];
    if matches!(stage, "explain" | "focus" | "embedding")
        && (app.explain().busy > 0 || s.frames_in_stage < 30)
        && s.stage_started.elapsed() < Duration::from_secs(120)
    {
        return false;
    }
    !(stage == "sweep"
        && app.sweep().progress.0 < 4
        && app.sweep().is_running()
        && s.stage_started.elapsed() < Duration::from_secs(240))
}

/// Requests a screenshot of the window and writes it to `path` when it arrives.
fn request_png(
    ctx: &egui::Context,
    path: PathBuf,
    pending: Arc<Mutex<Option<Result<(), String>>>>,
) {
    ctx.request_screenshot(move |img| {
        let [w, h] = img.size;
        let rgba: Vec<u8> = img
            .pixels
            .iter()
            .flat_map(|c| c.to_srgba_unmultiplied())
            .collect();
        let r = image::save_buffer(&path, &rgba, w as u32, h as u32, image::ColorType::Rgba8)
            .map_err(|e| format!("{}: {e}", path.display()));
        if r.is_ok() {
            println!("wrote {}", path.display());
        }
        if let Ok(mut p) = pending.lock() {
            *p = Some(r);
        }
    });
}

/// Opens the application window. `project` (or the last project, or the demo project) is opened
/// first; with `screenshots`, every screen is rendered to PNG in that folder and the app quits.
pub fn run(
    project: Option<PathBuf>,
    screenshots: Option<PathBuf>,
    annotator: Option<String>,
) -> Result<(), String> {
    let settings_path = if screenshots.is_some() {
        None
    } else {
        Settings::default_path()
    };
    let mut settings = settings_path
        .as_deref()
        .map(Settings::load)
        .unwrap_or_default();
    if let Some(a) = annotator
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
    {
        settings.annotator = Some(a);
    }
    if screenshots.is_some() && settings.annotator.is_none() {
        settings.annotator = Some("screenshot".into());
    }
    let start = project.or_else(|| settings.last_project().cloned());
    let start = match start {
        Some(p) => Some(p),
        None => Some(crate::demo::ensure_demo_project(std::path::Path::new(
            "projects/demo",
        ))?),
    };
    // The script starts a sweep and changes screens: it works on a copy of the project, so the
    // project it was given is left exactly as it was.
    let start = match (&screenshots, start) {
        (Some(dir), Some(p)) => Some(screenshot_project(&p, dir)?),
        (_, start) => start,
    };
    let make = |renderer| eframe::NativeOptions {
        renderer,
        viewport: egui::ViewportBuilder::default()
            .with_title("leukolens")
            .with_app_id("leukolens")
            .with_inner_size([1280.0, 860.0])
            .with_min_inner_size([640.0, 400.0])
            .with_drag_and_drop(true)
            .with_icon(app_icon()),
        ..Default::default()
    };
    let creator = || -> eframe::AppCreator<'static> {
        let settings = settings.clone();
        let settings_path = settings_path.clone();
        let start = start.clone();
        let shots = screenshots.clone();
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            let waker: Arc<dyn Fn() + Send + Sync> = Arc::new(move || ctx.request_repaint());
            let mut app = LeukoApp::new(settings, settings_path, Some(waker));
            if let Some(p) = &start {
                app.open(p);
            }
            Ok(Box::new(EframeApp {
                app,
                last_save: Instant::now(),
                script: shots.map(|out| ScreenshotScript {
                    out,
                    stage: 0,
                    frames_in_stage: 0,
                    pending: Arc::default(),
                    waiting: false,
                    stage_started: Instant::now(),
                }),
            }))
        })
    };
    let force_glow = std::env::var("LEUKOLENS_RENDERER").is_ok_and(|v| v == "glow");
    if !force_glow {
        match eframe::run_native("leukolens", make(eframe::Renderer::Wgpu), creator()) {
            Err(e @ eframe::Error::Wgpu(_)) => {
                eprintln!("note: the wgpu renderer failed ({e}); falling back to OpenGL (glow)")
            }
            other => return other.map_err(|e| e.to_string()),
        }
    }
    eframe::run_native("leukolens", make(eframe::Renderer::Glow), creator())
        .map_err(|e| e.to_string())
}

/// The window icon (assets/icon.png, built into the binary). A failure to decode it (a build
/// with a broken asset) leaves the window without an icon rather than stopping the app.
pub fn app_icon() -> egui::IconData {
    let bytes = include_bytes!("../../assets/icon.png");
    match image::load_from_memory(bytes) {
        Ok(img) => {
            let rgba = img.to_rgba8();
            egui::IconData {
                width: rgba.width(),
                height: rgba.height(),
                rgba: rgba.into_raw(),
            }
        }
        Err(e) => {
            tracing::warn!("the window icon could not be decoded: {e}");
            egui::IconData::default()
        }
    }
}

/// The folder of the project copy that `gui --screenshots DIR` works on: `DIR/.project-copy`.
fn screenshot_copy_dir(out: &Path) -> PathBuf {
    out.join(".project-copy")
}

/// Copies the project at `project` (its labels as saved and journaled, its settings and its
/// sweep list, pointing at the same dataset) into a fresh folder under `out` and returns the
/// copy's file: what `gui --screenshots` opens, so the script changes nothing of the original.
/// Nothing is written beside the original.
pub fn screenshot_project(project: &Path, out: &Path) -> Result<PathBuf, String> {
    // Read only: no lock is taken and nothing is created beside the original.
    let mut copy = Workspace::open_read_only(project)
        .map_err(|e| e.to_string())?
        .project;
    let root = copy.dataset_dir(project);
    copy.dataset_root = root
        .canonicalize()
        .unwrap_or(root)
        .to_string_lossy()
        .into_owned();
    let dir = screenshot_copy_dir(out);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let name = project
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "project.ron".into());
    let path = dir.join(name);
    Workspace::create(&path, copy).map_err(|e| e.to_string())?;
    copy_results(project, &path)?;
    Ok(path)
}

/// Copies the saved sweeps (records, snapshots and models, not the decoded-image caches) and
/// the stored suggestions beside the screenshot copy, so the sweep, explain and review screens
/// show the project's results.
fn copy_results(project: &Path, copy: &Path) -> Result<(), String> {
    let from = crate::sweep::store::sweeps_root(project);
    if from.is_dir() {
        copy_tree(&from, &crate::sweep::store::sweeps_root(copy))?;
    }
    let suggestions = crate::quality::predict::suggestions_path(project);
    if suggestions.is_file() {
        let to = crate::quality::predict::suggestions_path(copy);
        std::fs::copy(&suggestions, &to).map_err(|e| format!("{}: {e}", to.display()))?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let entries = std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    for entry in entries.flatten() {
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else if src.extension().is_none_or(|e| e != "cache") {
            std::fs::copy(&src, &dst).map_err(|e| format!("{}: {e}", dst.display()))?;
        }
    }
    Ok(())
}
