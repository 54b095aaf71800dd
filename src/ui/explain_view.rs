//! The explain screen (View → Explain…): what a trained network of a sweep looks at.
//! - the current cell with a saliency or LRP overlay for any stored model (fold, size), also
//!   drawn over the large viewer when asked;
//! - the focus across training sizes (the paper's Fig. 4b): saliency and LRP rows of one cell
//!   from the models trained on the chosen sizes;
//! - the embedding: tSNE of the 32-d last hidden layer over every image the model did not train
//!   on, coloured by class, crosses for wrong predictions, computed in the background with a
//!   live preview. Hover shows the cell, a click selects it, Shift-drag sends a box of cells to
//!   the gallery.
//! All computing runs on background jobs (`explain`, CPU); results come back over a channel.

use std::sync::mpsc::{Receiver, Sender, channel};

use egui::Color32;
use egui_plot::{MarkerShape, Plot, PlotPoint, PlotPoints, Points};
use image::RgbImage;

use super::app::{Command, LeukoApp};
use crate::explain::{self, Method, Preset, TsneParams, colour, source};
use crate::project::ImageId;
use crate::sweep::RunKey;
use crate::sweep::{SavedSweep, SweepDir};

/// What one overlay was computed for.
#[derive(Clone, Debug, PartialEq)]
pub struct CellKey {
    pub image: ImageId,
    pub sweep: String,
    pub run: RunKey,
    pub method: Method,
}

/// The current cell, explained.
pub struct CellResult {
    pub key: CellKey,
    /// The image as the network sees it (its input size).
    pub base: RgbImage,
    pub map: explain::Map,
    /// (output name, probability).
    pub probs: Vec<(String, f32)>,
    /// The output explained.
    pub class: usize,
}

/// Saliency and LRP of one cell for several training sizes.
pub struct FocusResult {
    pub image: ImageId,
    pub sweep: String,
    pub fold: usize,
    /// (size, saliency overlay, LRP overlay).
    pub rows: Vec<(usize, RgbImage, RgbImage)>,
}

/// The embedding of one model's unseen images.
#[derive(Default)]
pub struct EmbeddingState {
    pub ids: Vec<ImageId>,
    pub target: Vec<usize>,
    pub predicted: Vec<usize>,
    pub names: Vec<String>,
    pub points: Vec<[f32; 2]>,
    pub iterations: usize,
    pub done: bool,
    pub description: String,
    /// Plot-to-screen mapping of the last frame (for clicks, and for tests).
    pub transform: Option<egui_plot::PlotTransform>,
    /// The point under the pointer in the last frame, and where the pointer was.
    pub hovered: Option<(usize, egui::Pos2)>,
    drag_from: Option<PlotPoint>,
}

impl EmbeddingState {
    /// The point nearest to `pos` (plot coordinates) within `radius` screen points.
    pub fn nearest(&self, pos: egui::Pos2, radius: f32) -> Option<usize> {
        let t = self.transform.as_ref()?;
        self.points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let s = t.position_from_point(&PlotPoint::new(p[0] as f64, p[1] as f64));
                (i, s.distance(pos))
            })
            .filter(|(_, d)| *d <= radius)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    }

    /// Where point `i` is on screen in the last frame.
    pub fn screen_pos(&self, i: usize) -> Option<egui::Pos2> {
        let t = self.transform.as_ref()?;
        let p = self.points.get(i)?;
        Some(t.position_from_point(&PlotPoint::new(p[0] as f64, p[1] as f64)))
    }
}

enum Msg {
    Cell(Box<CellResult>),
    Focus(Box<FocusResult>),
    EmbeddingStart {
        ids: Vec<ImageId>,
        target: Vec<usize>,
        predicted: Vec<usize>,
        names: Vec<String>,
        description: String,
    },
    EmbeddingStep(usize, Vec<[f32; 2]>),
    EmbeddingDone,
    Error(String),
}

/// The parts of the explain screen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tab {
    #[default]
    Cell,
    Focus,
    Embedding,
}

pub struct ExplainView {
    pub open: bool,
    pub tab: Tab,
    /// Draw the current cell's overlay over the large viewer.
    pub overlay_in_viewer: bool,
    pub sweep: Option<String>,
    /// 0-based.
    pub fold: usize,
    pub size: Option<usize>,
    pub method: Method,
    pub opacity: f32,
    /// Training sizes of the focus row.
    pub focus_sizes: Vec<usize>,
    pub cell: Option<CellResult>,
    pub focus: Option<FocusResult>,
    pub embedding: Option<EmbeddingState>,
    pub messages: Vec<String>,
    /// Jobs running.
    pub busy: usize,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    pending_cell: Option<CellKey>,
    cell_tex: Option<(f32, egui::TextureHandle)>,
    focus_tex: Vec<(egui::TextureHandle, egui::TextureHandle)>,
    embedding_job: Option<crate::jobs::Job>,
    saved: Vec<SavedSweep>,
    /// The runs of the chosen sweep that have a model.
    models: Vec<RunKey>,
    /// What `saved` and `models` were read for: (sweep, finished runs on the sweep screen).
    listed: Option<(Option<String>, usize)>,
}

impl Default for ExplainView {
    fn default() -> Self {
        let (tx, rx) = channel();
        Self {
            open: false,
            tab: Tab::Cell,
            overlay_in_viewer: false,
            sweep: None,
            fold: 0,
            size: None,
            method: Method::default(),
            opacity: 0.6,
            focus_sizes: Vec::new(),
            cell: None,
            focus: None,
            embedding: None,
            messages: Vec::new(),
            busy: 0,
            tx,
            rx,
            pending_cell: None,
            cell_tex: None,
            focus_tex: Vec::new(),
            embedding_job: None,
            saved: Vec::new(),
            models: Vec::new(),
            listed: None,
        }
    }
}

impl ExplainView {
    /// Re-reads the stored sweeps and the chosen sweep's models when the chosen sweep or the
    /// number of finished runs on the sweep screen changed (never every frame).
    fn refresh(&mut self, project_path: &std::path::Path, finished_runs: usize) {
        let key = (self.sweep.clone(), finished_runs);
        if self.listed.as_ref() == Some(&key) {
            return;
        }
        self.saved = crate::sweep::saved_sweeps(project_path);
        self.models = match &self.sweep {
            Some(s) => SweepDir::of(project_path, s).models(),
            None => Vec::new(),
        };
        self.listed = Some(key);
    }

    /// Drains finished work (once per frame).
    pub fn poll(&mut self) {
        while let Ok(m) = self.rx.try_recv() {
            match m {
                Msg::Cell(c) => {
                    self.busy = self.busy.saturating_sub(1);
                    if self.pending_cell.as_ref() == Some(&c.key) {
                        self.pending_cell = None;
                    }
                    self.cell = Some(*c);
                    self.cell_tex = None;
                }
                Msg::Focus(f) => {
                    self.busy = self.busy.saturating_sub(1);
                    self.focus = Some(*f);
                    self.focus_tex.clear();
                }
                Msg::EmbeddingStart {
                    ids,
                    target,
                    predicted,
                    names,
                    description,
                } => {
                    self.embedding = Some(EmbeddingState {
                        ids,
                        target,
                        predicted,
                        names,
                        description,
                        ..Default::default()
                    })
                }
                Msg::EmbeddingStep(i, pts) => {
                    if let Some(e) = &mut self.embedding {
                        e.iterations = i;
                        e.points = pts;
                    }
                }
                Msg::EmbeddingDone => {
                    self.busy = self.busy.saturating_sub(1);
                    if let Some(e) = &mut self.embedding {
                        e.done = true;
                    }
                }
                Msg::Error(e) => {
                    self.busy = self.busy.saturating_sub(1);
                    self.pending_cell = None;
                    self.messages.push(e);
                }
            }
        }
    }
}

/// Runs `work` on a background job; its result (or its error) comes back as a message.
fn spawn(
    app: &mut LeukoApp,
    name: &str,
    work: impl FnOnce(&crate::jobs::JobContext, &Sender<Msg>) -> Result<Msg, String> + Send + 'static,
) -> Option<crate::jobs::Job> {
    let tx = app.explain.tx.clone();
    let job = app.spawn_job(name, move |ctx| {
        let m = work(ctx, &tx).unwrap_or_else(Msg::Error);
        let _ = tx.send(m);
        Ok(())
    });
    match job {
        Ok(j) => {
            app.explain.busy += 1;
            Some(j)
        }
        Err(e) => {
            app.explain.messages.push(e.to_string());
            None
        }
    }
}

/// The index of the largest value.
fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap_or(0)
}

fn run_key(v: &ExplainView) -> Option<RunKey> {
    Some(RunKey {
        fold: v.fold,
        size: v.size?,
    })
}

/// Starts explaining the cursor cell when it or the settings changed.
fn request_cell(app: &mut LeukoApp) {
    let Some(p) = &app.project else { return };
    let Some(id) = p.selection.cursor else { return };
    let v = &app.explain;
    let (Some(sweep), Some(run)) = (v.sweep.clone(), run_key(v)) else {
        return;
    };
    let key = CellKey {
        image: id,
        sweep,
        run,
        method: v.method,
    };
    if v.cell.as_ref().is_some_and(|c| c.key == key) || v.pending_cell.as_ref() == Some(&key) {
        return;
    }
    let Some(entry) = p.project().image(id) else {
        return;
    };
    let image_path = p.project().image_path(&p.ws.path, entry);
    let project_path = p.ws.path.clone();
    let k = key.clone();
    let job = spawn(app, "explain", move |_, _| {
        let dev = burn::tensor::Device::flex();
        let m = source::load_sweep_model(&project_path, &k.sweep, k.run, &dev)?;
        let (base, x) = source::load_image(&image_path, m.spec.input_size)?;
        let probs = explain::probabilities(&m.model, &x)?;
        let class = argmax(&probs);
        let map = explain::explain_image(&m.model, &x, class, k.method)?;
        Ok(Msg::Cell(Box::new(CellResult {
            key: k,
            base,
            map,
            probs: m.output_names.iter().cloned().zip(probs).collect(),
            class,
        })))
    });
    if job.is_some() {
        app.explain.pending_cell = Some(key);
    }
}

/// Computes the focus row of the cursor cell (saliency and LRP for every chosen size).
pub fn request_focus(app: &mut LeukoApp) {
    let Some(p) = &app.project else { return };
    let Some(id) = p.selection.cursor else { return };
    let Some(sweep) = app.explain.sweep.clone() else {
        return;
    };
    let Some(entry) = p.project().image(id) else {
        return;
    };
    let image_path = p.project().image_path(&p.ws.path, entry);
    let project_path = p.ws.path.clone();
    let fold = app.explain.fold;
    let sizes = app.explain.focus_sizes.clone();
    let preset = match app.explain.method {
        Method::Lrp(p) => p,
        Method::Saliency => Preset::default(),
    };
    let opacity = app.explain.opacity;
    spawn(app, "explain", move |_, _| {
        let dev = burn::tensor::Device::flex();
        let mut rows = Vec::new();
        for size in sizes {
            let m = source::load_sweep_model(&project_path, &sweep, RunKey { fold, size }, &dev)?;
            let (base, x) = source::load_image(&image_path, m.spec.input_size)?;
            let class = argmax(&explain::probabilities(&m.model, &x)?);
            let sal = explain::explain_image(&m.model, &x, class, Method::Saliency)?;
            let lrp = explain::explain_image(&m.model, &x, class, Method::Lrp(preset))?;
            rows.push((
                size,
                colour::overlay(&base, &sal, opacity),
                colour::overlay(&base, &lrp, opacity),
            ));
        }
        Ok(Msg::Focus(Box::new(FocusResult {
            image: id,
            sweep,
            fold,
            rows,
        })))
    });
}

/// Computes the embedding of the chosen model over every image it did not train on.
pub fn request_embedding(app: &mut LeukoApp) {
    let Some(p) = &app.project else { return };
    let (Some(sweep), Some(run)) = (app.explain.sweep.clone(), run_key(&app.explain)) else {
        return;
    };
    if let Some(j) = app.explain.embedding_job.take() {
        j.cancel();
    }
    let project = p.project().clone();
    let project_path = p.ws.path.clone();
    let seed = crate::train::derive_seed(project.seed, 500);
    let job = spawn(app, "embedding", move |ctx, tx| {
        {
            let dev = burn::tensor::Device::flex();
            let m = source::load_sweep_model(&project_path, &sweep, run, &dev)?;
            let snap = SweepDir::of(&project_path, &sweep).read_snapshot()?;
            let plan =
                crate::sweep::plan(&snap.targets, snap.output_names.len(), &snap.config.design)?;
            let fold = plan
                .folds
                .get(run.fold)
                .ok_or_else(|| format!("the sweep has no fold {}", run.fold + 1))?;
            let train: std::collections::HashSet<usize> =
                fold.train_set(run.size).iter().copied().collect();
            let mut idx: Vec<usize> = (0..snap.images.len())
                .filter(|i| !train.contains(i))
                .collect();
            // The exact tSNE takes at most MAX_POINTS: a seeded random sample of them, said so.
            let unseen = idx.len();
            if unseen > explain::tsne::MAX_POINTS {
                use rand::SeedableRng;
                use rand::seq::SliceRandom;
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
                idx.shuffle(&mut rng);
                idx.truncate(explain::tsne::MAX_POINTS);
                idx.sort_unstable();
            }
            let paths: Vec<std::path::PathBuf> = idx
                .iter()
                .filter_map(|&i| project.image(snap.images[i]))
                .map(|e| project.image_path(&project_path, e))
                .collect();
            let (cache, kept, _failed) =
                crate::train::ImageCache::load(&paths, m.spec.input_size, &|_, _| {});
            let idx: Vec<usize> = kept.iter().map(|&k| idx[k]).collect();
            let hidden = explain::hidden_features(&m.model, &cache)?;
            // Predictions from the hidden layer through the output layer, on the host.
            let w = m
                .model
                .out
                .weight
                .val()
                .try_into_vec_as::<f32>()
                .map_err(|e| format!("{e:?}"))?;
            let b = m
                .model
                .out
                .bias
                .as_ref()
                .map(|b| b.val().try_into_vec_as::<f32>().unwrap_or_default())
                .unwrap_or_default();
            let k = m.output_names.len();
            let predicted: Vec<usize> = hidden
                .iter()
                .map(|h| {
                    (0..k)
                        .map(|c| {
                            b.get(c).copied().unwrap_or(0.0)
                                + (0..h.len()).map(|j| h[j] * w[j * k + c]).sum::<f32>()
                        })
                        .enumerate()
                        .max_by(|a, b| a.1.total_cmp(&b.1))
                        .map(|(i, _)| i)
                        .unwrap_or(0)
                })
                .collect();
            let _ = tx.send(Msg::EmbeddingStart {
                ids: idx.iter().map(|&i| snap.images[i]).collect(),
                target: idx.iter().map(|&i| snap.targets[i]).collect(),
                predicted,
                names: snap.output_names.clone(),
                description: if idx.len() < unseen {
                    format!(
                        "{}: a random {} of the {unseen} images it did not train on",
                        m.description,
                        idx.len()
                    )
                } else {
                    format!(
                        "{}: {} images it did not train on (test, validation and unused pool)",
                        m.description,
                        idx.len()
                    )
                },
            });
            let params = TsneParams {
                seed,
                iterations: 500,
                ..TsneParams::default()
            };
            let emb = explain::tsne::tsne(&hidden, &params, |i, pts| {
                if i % 10 == 0 {
                    let _ = tx.send(Msg::EmbeddingStep(i, pts.to_vec()));
                    ctx.progress(i, params.iterations, "embedding");
                }
                !ctx.is_cancelled()
            })?;
            let _ = tx.send(Msg::EmbeddingStep(emb.iterations, emb.points));
            Ok(Msg::EmbeddingDone)
        }
    });
    if let Some(j) = job {
        app.explain.embedding = None;
        app.explain.embedding_job = Some(j);
    }
}

/// Picks a sweep, fold and size when none is chosen yet (the sweep shown on the sweep screen,
/// else the first stored one; the largest size with a model).
fn choose_defaults(app: &mut LeukoApp) {
    let Some(p) = &app.project else { return };
    let path = p.ws.path.clone();
    let finished = app.sweep.records.len();
    let v = &mut app.explain;
    v.refresh(&path, finished);
    if v.sweep.is_none() {
        v.sweep = app
            .sweep
            .config
            .as_ref()
            .map(|c| c.name.clone())
            .or_else(|| v.saved.first().map(|s| s.name().to_string()));
        v.refresh(&path, finished);
    }
    let models = v.models.clone();
    if v.size
        .is_none_or(|s| !models.iter().any(|k| k.fold == v.fold && k.size == s))
    {
        if !models.iter().any(|k| k.fold == v.fold) {
            v.fold = models.first().map(|k| k.fold).unwrap_or(0);
        }
        v.size = models
            .iter()
            .filter(|k| k.fold == v.fold)
            .map(|k| k.size)
            .max();
    }
    if v.focus_sizes.is_empty() {
        let sizes: Vec<usize> = models
            .iter()
            .filter(|k| k.fold == v.fold)
            .map(|k| k.size)
            .collect();
        let paper: Vec<usize> = [10, 50, 100, 200]
            .into_iter()
            .filter(|s| sizes.contains(s))
            .collect();
        v.focus_sizes = if paper.len() >= 2 { paper } else { sizes };
    }
}

fn texture(ctx: &egui::Context, name: &str, img: &RgbImage) -> egui::TextureHandle {
    ctx.load_texture(
        name,
        egui::ColorImage::from_rgb([img.width() as usize, img.height() as usize], img.as_raw()),
        egui::TextureOptions::LINEAR,
    )
}

/// The overlay texture of the current cell at the current opacity.
pub fn cell_texture(app: &mut LeukoApp, ctx: &egui::Context) -> Option<egui::TextureHandle> {
    let v = &mut app.explain;
    let c = v.cell.as_ref()?;
    if v.cell_tex.as_ref().is_none_or(|(o, _)| *o != v.opacity) {
        let pic = colour::overlay(&c.base, &c.map, v.opacity);
        v.cell_tex = Some((v.opacity, texture(ctx, "explain-cell", &pic)));
    }
    v.cell_tex.as_ref().map(|(_, t)| t.clone())
}

const PALETTE: [Color32; 10] = [
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

pub fn show(app: &mut LeukoApp, ui: &mut egui::Ui) {
    app.explain.poll();
    if !app.explain.open && !app.explain.overlay_in_viewer {
        return;
    }
    choose_defaults(app);
    request_cell(app);
    if !app.explain.open {
        return;
    }
    let ctx = ui.ctx().clone();
    let tex = cell_texture(app, &ctx);
    let Some(p) = &app.project else { return };
    let cursor = p.selection.cursor;
    let mut cmds = Vec::new();
    let mut want_focus = false;
    let mut want_embedding = false;
    let mut export_focus = false;
    let mut export_cell = false;
    let mut export_embedding = false;
    let models = app.explain.models.clone();
    let v = &mut app.explain;
    if v.focus_tex.is_empty()
        && let Some(f) = &v.focus
    {
        v.focus_tex = f
            .rows
            .iter()
            .map(|(s, a, b)| {
                (
                    texture(&ctx, &format!("focus-s-{s}"), a),
                    texture(&ctx, &format!("focus-l-{s}"), b),
                )
            })
            .collect();
    }
    let mut open = true;
    egui::Window::new("Explain")
        .open(&mut open)
        .default_size([760.0, 700.0])
        .vscroll(true)
        .show(&ctx, |ui| {
            if v.saved.is_empty() {
                ui.label("No trained sweep yet: run one (Train → Training-size sweep…); its models are explained here.");
                return;
            }
            ui.horizontal_wrapped(|ui| {
                let mut sweep = v.sweep.clone();
                egui::ComboBox::from_label("sweep")
                    .selected_text(sweep.clone().unwrap_or_default())
                    .show_ui(ui, |ui| {
                        for s in &v.saved {
                            ui.selectable_value(&mut sweep, Some(s.name().to_string()), s.name());
                        }
                    });
                if sweep != v.sweep {
                    v.sweep = sweep;
                    v.size = None;
                    v.focus_sizes.clear();
                }
                let mut folds: Vec<usize> = models.iter().map(|k| k.fold).collect();
                folds.dedup();
                egui::ComboBox::from_label("fold")
                    .selected_text((v.fold + 1).to_string())
                    .show_ui(ui, |ui| {
                        for f in &folds {
                            ui.selectable_value(&mut v.fold, *f, (f + 1).to_string());
                        }
                    });
                let sizes: Vec<usize> = models
                    .iter()
                    .filter(|k| k.fold == v.fold)
                    .map(|k| k.size)
                    .collect();
                egui::ComboBox::from_label("training images")
                    .selected_text(v.size.map(|s| s.to_string()).unwrap_or_default())
                    .show_ui(ui, |ui| {
                        for s in &sizes {
                            ui.selectable_value(&mut v.size, Some(*s), s.to_string());
                        }
                    });
            });
            ui.horizontal_wrapped(|ui| {
                egui::ComboBox::from_label("method")
                    .selected_text(v.method.label())
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut v.method, Method::Saliency, Method::Saliency.label());
                        for p in Preset::ALL {
                            ui.selectable_value(&mut v.method, Method::Lrp(p), Method::Lrp(p).label());
                        }
                    });
                ui.add(egui::Slider::new(&mut v.opacity, 0.0..=1.0).text("opacity"));
                ui.checkbox(&mut v.overlay_in_viewer, "over the large viewer");
                if v.busy > 0 {
                    ui.spinner();
                }
            });
            for m in v.messages.iter().rev().take(2) {
                ui.colored_label(ui.visuals().error_fg_color, m);
            }
            ui.separator();
            ui.horizontal(|ui| {
                ui.selectable_value(&mut v.tab, Tab::Cell, "Current cell");
                ui.selectable_value(&mut v.tab, Tab::Focus, "Focus across training sizes");
                ui.selectable_value(&mut v.tab, Tab::Embedding, "Embedding");
            });
            ui.separator();
            // The current cell.
            if v.tab == Tab::Cell
                && let (Some(c), Some(tex)) = (&v.cell, &tex)
            {
                // As large as the window allows, beside a column of text.
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
                            export_cell = true;
                        }
                        if Some(c.key.image) != cursor {
                            ui.label(egui::RichText::new("(updating for the selected cell…)").weak());
                        }
                    });
                });
            }
            // Focus across training sizes.
            if v.tab == Tab::Focus {
            ui.horizontal_wrapped(|ui| {
                ui.strong("Focus across training sizes:");
                let sizes: Vec<usize> = models
                    .iter()
                    .filter(|k| k.fold == v.fold)
                    .map(|k| k.size)
                    .collect();
                for s in sizes {
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
                    want_focus = true;
                }
                if v.focus.is_some() && ui.button("Save row as PNG").clicked() {
                    export_focus = true;
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
            }
            // The embedding.
            if v.tab == Tab::Embedding {
            ui.horizontal(|ui| {
                ui.strong("Embedding (tSNE of the 32-d hidden layer):");
                if ui.button("Compute embedding").clicked() {
                    want_embedding = true;
                }
                if v.embedding.as_ref().is_some_and(|e| e.done) && ui.button("Save as PNG").clicked() {
                    export_embedding = true;
                }
            });
            if let Some(e) = &mut v.embedding {
                ui.label(format!(
                    "{} · iteration {}{}",
                    e.description,
                    e.iterations,
                    if e.done { "" } else { " (running)" }
                ));
                embedding_plot(e, ui, &mut cmds);
            }
            }
        });
    if !open {
        app.explain.open = false;
    }
    hover_card(app, &ctx);
    if want_focus {
        request_focus(app);
    }
    if want_embedding {
        request_embedding(app);
    }
    if export_focus {
        cmds.push(export_focus_png(app));
    }
    if export_cell && let Some(c) = &app.explain.cell {
        let pic = colour::with_scale_bar(
            &colour::overlay(&c.base, &c.map, app.explain.opacity),
            c.map.signed,
        );
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
        cmds.push(save_png(app, &name, &pic));
    }
    if export_embedding {
        cmds.push(export_embedding_png(app));
    }
    for c in cmds {
        app.send(c);
    }
}

/// The thumbnail and labels of the embedding point under the pointer, next to the pointer.
fn hover_card(app: &mut LeukoApp, ctx: &egui::Context) {
    let Some(e) = &app.explain.embedding else {
        return;
    };
    let Some((i, pos)) = e.hovered else { return };
    let id = e.ids[i];
    let name = |k: usize| e.names.get(k).cloned().unwrap_or_default();
    let text = format!(
        "label {} · predicted {}",
        name(e.target[i]),
        name(e.predicted[i])
    );
    let Some(p) = &mut app.project else { return };
    let Some(im) = p.ws.project.image(id).cloned() else {
        return;
    };
    let path = p.ws.project.image_path(&p.ws.path, &im);
    egui::Area::new(egui::Id::unique("embedding-hover"))
        .order(egui::Order::Tooltip)
        .fixed_pos(pos + egui::vec2(14.0, 14.0))
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                if let super::thumbs::Thumb::Ready(tex) = p.thumbs.get(id, &im.hash, &path) {
                    ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(96.0, 96.0)));
                }
                ui.label(egui::RichText::new(&im.path).small());
                ui.label(text);
            });
        });
}

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

fn embedding_plot(e: &mut EmbeddingState, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
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
            cmds.push(Command::SetFilter(super::gallery::only(ids)));
        }
    }
}

fn export_dir(app: &LeukoApp) -> Option<std::path::PathBuf> {
    let p = app.project.as_ref()?;
    Some(SweepDir::of(&p.ws.path, app.explain.sweep.as_ref()?).explain_dir())
}

fn save_png(app: &LeukoApp, name: &str, img: &RgbImage) -> Command {
    let Some(dir) = export_dir(app) else {
        return Command::Notify("no sweep chosen".into(), true);
    };
    let path = dir.join(name);
    match std::fs::create_dir_all(&dir)
        .map_err(|e| e.to_string())
        .and_then(|_| img.save(&path).map_err(|e| e.to_string()))
    {
        Ok(()) => Command::Notify(format!("saved {}", path.display()), false),
        Err(e) => Command::Notify(format!("could not save {}: {e}", path.display()), true),
    }
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

fn export_focus_png(app: &LeukoApp) -> Command {
    let Some(f) = &app.explain.focus else {
        return Command::Notify("no focus row yet".into(), true);
    };
    let Some(img) = focus_picture(f) else {
        return Command::Notify("the focus row is empty".into(), true);
    };
    let sizes: Vec<String> = f.rows.iter().map(|r| r.0.to_string()).collect();
    save_png(
        app,
        &format!(
            "focus-image{}-fold{}-n{}.png",
            f.image.0,
            f.fold + 1,
            sizes.join("_")
        ),
        &img,
    )
}

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

fn export_embedding_png(app: &LeukoApp) -> Command {
    let Some(e) = &app.explain.embedding else {
        return Command::Notify("no embedding yet".into(), true);
    };
    let name = format!(
        "embedding-fold{}-n{}.png",
        app.explain.fold + 1,
        app.explain.size.unwrap_or(0)
    );
    save_png(app, &name, &embedding_picture(e, 720))
}
