//! The explain screen's own state ([`ExplainView`]): what is chosen (sweep, fold, size,
//! method), what has been computed (the cell, the focus row, the embedding), and the
//! background jobs computing them, whose results come back over their own channels.

use egui_plot::PlotPoint;
use image::RgbImage;

use crate::explain::{self, Method};
use crate::jobs::{Job, JobId};
use crate::project::ImageId;
use crate::sweep::RunKey;
use crate::sweep::{SavedSweep, SweepDir, saved_sweeps};
use crate::ui::state::SweepShown;

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
    pub(super) drag_from: Option<PlotPoint>,
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

/// What the explain jobs hand back.
pub(super) enum Msg {
    Cell(Box<CellResult>),
    Focus(Box<FocusResult>),
    /// The embedding's points are known, the tSNE starts.
    EmbeddingStart(Box<EmbeddingState>),
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

/// The explain screen's state.
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
    /// The explain jobs; their results are drained once per frame.
    pub(super) jobs: Vec<Job<Msg>>,
    pub(super) pending_cell: Option<CellKey>,
    cell_tex: Option<(f32, egui::TextureHandle)>,
    pub(super) focus_tex: Vec<(egui::TextureHandle, egui::TextureHandle)>,
    /// The embedding job running (a new one cancels it).
    pub(super) embedding_job: Option<JobId>,
    pub(super) saved: Vec<SavedSweep>,
    /// The runs of the chosen sweep that have a model.
    pub(super) models: Vec<RunKey>,
    /// What `saved` and `models` were read for: (sweep, finished runs on the sweep screen).
    listed: Option<(Option<String>, usize)>,
}

impl Default for ExplainView {
    fn default() -> Self {
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
            jobs: Vec::new(),
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
        self.saved = saved_sweeps(project_path);
        self.models = match &self.sweep {
            Some(s) => SweepDir::of(project_path, s).models(),
            None => Vec::new(),
        };
        self.listed = Some(key);
    }

    /// Picks a sweep, fold and size when none is chosen yet (the sweep shown on the sweep
    /// screen, else the first stored one; the largest size with a model).
    pub(super) fn choose_defaults(&mut self, project_path: &std::path::Path, shown: &SweepShown) {
        let finished = shown.finished_runs;
        self.refresh(project_path, finished);
        if self.sweep.is_none() {
            self.sweep = shown
                .name
                .clone()
                .or_else(|| self.saved.first().map(|s| s.name().to_string()));
            self.refresh(project_path, finished);
        }
        let sizes = self.sizes_of_fold();
        if self.size.is_none_or(|s| !sizes.contains(&s)) {
            if !self.models.iter().any(|k| k.fold == self.fold) {
                self.fold = self.models.first().map(|k| k.fold).unwrap_or(0);
            }
            self.size = self.sizes_of_fold().into_iter().max();
        }
        if self.focus_sizes.is_empty() {
            let sizes = self.sizes_of_fold();
            let paper: Vec<usize> = [10, 50, 100, 200]
                .into_iter()
                .filter(|s| sizes.contains(s))
                .collect();
            self.focus_sizes = if paper.len() >= 2 { paper } else { sizes };
        }
    }

    /// The training sizes of the chosen fold that have a model.
    pub(super) fn sizes_of_fold(&self) -> Vec<usize> {
        self.models
            .iter()
            .filter(|k| k.fold == self.fold)
            .map(|k| k.size)
            .collect()
    }

    /// The run chosen (fold and size).
    pub(super) fn run_key(&self) -> Option<RunKey> {
        Some(RunKey {
            fold: self.fold,
            size: self.size?,
        })
    }

    /// Drains the jobs' results (once per frame).
    pub fn poll(&mut self) {
        for m in crate::jobs::drain_all(&mut self.jobs) {
            self.on_message(m);
        }
    }

    fn on_message(&mut self, m: Msg) {
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
            Msg::EmbeddingStart(e) => self.embedding = Some(*e),
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

    /// The overlay texture of the current cell at the current opacity.
    pub fn cell_texture(&mut self, ctx: &egui::Context) -> Option<egui::TextureHandle> {
        let c = self.cell.as_ref()?;
        if self
            .cell_tex
            .as_ref()
            .is_none_or(|(o, _)| *o != self.opacity)
        {
            let pic = explain::colour::overlay(&c.base, &c.map, self.opacity);
            self.cell_tex = Some((self.opacity, texture(ctx, "explain-cell", &pic)));
        }
        self.cell_tex.as_ref().map(|(_, t)| t.clone())
    }

    /// The overlay for the large viewer: when it is asked for and explains the image `cursor`.
    pub fn viewer_overlay(
        &mut self,
        ctx: &egui::Context,
        cursor: Option<ImageId>,
    ) -> Option<egui::TextureHandle> {
        let for_cursor = self
            .cell
            .as_ref()
            .is_some_and(|c| Some(c.key.image) == cursor);
        if self.overlay_in_viewer && for_cursor {
            self.cell_texture(ctx)
        } else {
            None
        }
    }
}

/// An image as a texture.
pub(super) fn texture(ctx: &egui::Context, name: &str, img: &RgbImage) -> egui::TextureHandle {
    ctx.load_texture(
        name,
        egui::ColorImage::from_rgb([img.width() as usize, img.height() as usize], img.as_raw()),
        egui::TextureOptions::LINEAR,
    )
}
