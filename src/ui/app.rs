//! The application state, the `Command`s that change it (applied in one place), and the frame
//! loop that lays out the screens.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::dataset::Layout;
use crate::jobs::{EventKind, Jobs};
use crate::project::query::{self, Filter, Sort};
use crate::project::{ImageId, Project, UndoStack, Workspace};
use crate::taxonomy::{ClassId, TaxonomyError};

use super::gallery::GalleryView;
use super::settings::Settings;
use super::thumbs::Thumbnails;
use super::{explain_view, project_menu, stats, sweep_view, taxonomy_editor, viewer};

/// Everything a screen may ask for. Screens never change the state themselves.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    OpenProject(PathBuf),
    /// Import a folder (or CSV) into a new project file, in the background.
    NewProject {
        source: PathBuf,
        layout: Option<Layout>,
        output: PathBuf,
    },
    Save,
    SaveAs(PathBuf),
    ExportLabels(PathBuf),
    /// Point the project at a moved dataset folder (re-link by content hash).
    Relink(PathBuf),
    SetAnnotator(String),
    /// Replace the selection; the first image becomes the cursor.
    Select(Vec<ImageId>),
    /// Add to or remove from the selection (Ctrl-click).
    ToggleSelect(ImageId),
    /// Select from the cursor to this image in gallery order (Shift-click).
    SelectRangeTo(ImageId),
    /// Assign a class to every selected image (one undoable action).
    Assign(ClassId),
    Undo,
    Redo,
    /// Jump to the next image nobody has reviewed.
    NextUnreviewed,
    OpenViewer,
    CloseViewer,
    /// Open the explain screen.
    OpenExplain,
    /// Move the cursor by n images in gallery order (viewer previous/next).
    Step(isize),
    SetFilter(Filter),
    SetSort(Sort),
    Taxonomy(TaxonomyEdit),
    ToggleAutoAdvance,
    SetThumbSize(f32),
    /// Show or hide the cross-validated prediction on each gallery tile.
    ShowPredictions(bool),
    DismissMessage,
    /// Start a training-size sweep in the background.
    StartSweep(crate::sweep::SweepConfig),
    CancelSweep,
    /// Stop the running sweep after storing its finished runs (Resume continues it).
    PauseSweep,
    /// Show the stored results of a sweep of the project, by name.
    ShowSavedSweep(String),
    DismissResumeOffer,
    /// Write report.html, the CSV tables and SVG figures of the sweep shown.
    ExportSweepReport,
    /// Save the sweep screen's figures as PNG (from a screenshot).
    SaveSweepPngs,
    /// Show a message (text, is it an error).
    Notify(String, bool),
    /// Which training size's confusion matrix the sweep screen shows.
    SetSweepMatrixSize(usize),
    /// Which finished run's learning curve the sweep screen shows (`None`: the current run, or
    /// the last finished one).
    ShowSweepRun(Option<crate::sweep::design::RunKey>),
}

/// Taxonomy edits from the editor.
#[derive(Clone, Debug, PartialEq)]
pub enum TaxonomyEdit {
    Rename(ClassId, String),
    SetCode(ClassId, String),
    Add(String),
    Recolor(ClassId, [u8; 3]),
    SetHotkey(ClassId, Option<char>),
    SetPositive(ClassId, bool),
    /// One place up (`true`) or down in the class list.
    Move(ClassId, bool),
}

/// What a background job of the UI hands back to the UI thread.
enum JobResult {
    /// A new project file was written by an import: open it.
    Imported(PathBuf),
    /// The content hashes of a folder, for re-linking the open project to it.
    Hashed {
        dir: PathBuf,
        tree: Vec<(String, String)>,
    },
}

/// A message shown to the user.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub text: String,
    pub error: bool,
}

/// Which image(s) are selected, and the cursor (the one keyboard moves start from).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    pub cursor: Option<ImageId>,
    pub ids: Vec<ImageId>,
}

impl Selection {
    pub fn contains(&self, id: ImageId) -> bool {
        self.ids.contains(&id)
    }
}

/// The open project and everything derived from it.
pub struct ProjectState {
    pub ws: Workspace,
    pub undo: UndoStack,
    pub filter: Filter,
    pub sort: Sort,
    /// The gallery order (filtered, sorted), recomputed when labels, filter or sort change.
    pub order: Vec<ImageId>,
    pub selection: Selection,
    pub thumbs: Thumbnails,
    /// The latest cross-validated prediction per image (from the sweep shown) and the names of
    /// the outputs it refers to.
    pub predicted: query::Predicted,
    pub prediction_names: Vec<String>,
}

impl ProjectState {
    fn new(ws: Workspace) -> Self {
        let thumbs = Thumbnails::new(&ws.path);
        let mut s = Self {
            ws,
            undo: UndoStack::default(),
            filter: Filter::default(),
            sort: Sort::default(),
            order: Vec::new(),
            selection: Selection::default(),
            thumbs,
            predicted: query::Predicted::new(),
            prediction_names: Vec::new(),
        };
        s.refresh_order();
        if let Some(&first) = s.order.first() {
            s.selection = Selection {
                cursor: Some(first),
                ids: vec![first],
            };
        }
        s
    }

    pub fn project(&self) -> &Project {
        &self.ws.project
    }

    pub fn refresh_order(&mut self) {
        self.order = query::select_with(&self.ws.project, &self.filter, self.sort, &self.predicted);
    }

    /// Takes new cross-validated predictions (after a sweep run finished or a sweep was opened).
    pub fn set_predictions(&mut self, predicted: query::Predicted, names: Vec<String>) {
        if names != self.prediction_names {
            // Output indices of another sweep mean something else.
            self.filter.predicted = None;
        }
        self.predicted = predicted;
        self.prediction_names = names;
        self.refresh_order();
    }

    pub fn position(&self, id: ImageId) -> Option<usize> {
        self.order.iter().position(|&i| i == id)
    }
}

/// The whole application. `show` draws one frame; `apply` is the only place state changes.
pub struct LeukoApp {
    pub settings: Settings,
    pub project: Option<ProjectState>,
    pub messages: Vec<Message>,
    pub viewer_open: bool,
    pub gallery: GalleryView,
    pub viewer: viewer::ViewerView,
    pub taxonomy_editor: taxonomy_editor::TaxonomyEditor,
    pub menu: project_menu::ProjectMenu,
    pub sweep: sweep_view::SweepView,
    pub explain: explain_view::ExplainView,
    pub show_stats: bool,
    jobs: Jobs,
    results: (
        std::sync::mpsc::Sender<JobResult>,
        std::sync::mpsc::Receiver<JobResult>,
    ),
    /// Commands queued by the screens during a frame.
    queue: Vec<Command>,
    /// Where the settings live (None in tests: nothing is written).
    settings_path: Option<PathBuf>,
}

impl LeukoApp {
    /// A new application; `repaint` wakes the UI when background work reports.
    pub fn new(
        settings: Settings,
        settings_path: Option<PathBuf>,
        repaint: Option<Arc<dyn Fn() + Send + Sync>>,
    ) -> Self {
        let jobs = match repaint {
            Some(w) => Jobs::new().with_waker(w),
            None => Jobs::new(),
        };
        Self {
            settings,
            project: None,
            messages: Vec::new(),
            viewer_open: false,
            gallery: GalleryView::default(),
            viewer: viewer::ViewerView::default(),
            taxonomy_editor: taxonomy_editor::TaxonomyEditor::default(),
            menu: project_menu::ProjectMenu::default(),
            sweep: sweep_view::SweepView::default(),
            explain: explain_view::ExplainView::default(),
            show_stats: true,
            jobs,
            results: std::sync::mpsc::channel(),
            queue: Vec::new(),
            settings_path,
        }
    }

    /// Runs work on a named background thread that reports on the app's event channel.
    pub fn spawn_job<F>(&self, name: &str, work: F) -> std::io::Result<crate::jobs::Job>
    where
        F: FnOnce(&crate::jobs::JobContext) -> Result<(), String> + Send + 'static,
    {
        self.jobs.spawn(name, work)
    }

    /// Queues a command (screens call this).
    pub fn send(&mut self, c: Command) {
        self.queue.push(c);
    }

    /// Applies every queued command, in order.
    pub fn apply_queued(&mut self) {
        let cmds = std::mem::take(&mut self.queue);
        for c in cmds {
            self.apply(c);
        }
    }

    fn info(&mut self, text: impl Into<String>) {
        self.messages.push(Message {
            text: text.into(),
            error: false,
        });
    }

    fn error(&mut self, text: impl Into<String>) {
        self.messages.push(Message {
            text: text.into(),
            error: true,
        });
    }

    fn annotator(&self) -> String {
        self.settings
            .annotator
            .clone()
            .unwrap_or_else(|| "unknown".into())
    }

    /// Opens a project file (replaying its journal).
    pub fn open(&mut self, path: &Path) {
        if let Some(p) = &mut self.project
            && p.ws.is_dirty()
            && let Err(e) = p.ws.save()
        {
            self.error(format!("could not save the current project: {e}"));
            return;
        }
        match Workspace::open(path) {
            Ok(ws) => {
                let notes = ws.open_notes.clone();
                let dataset = ws.project.dataset_dir(&ws.path);
                let missing = !dataset.is_dir();
                self.project = Some(ProjectState::new(ws));
                self.settings.remember(path);
                self.save_settings();
                for n in notes {
                    self.info(n);
                }
                if missing {
                    self.error(format!(
                        "The dataset folder {} is missing. Use Project > Locate dataset… to re-link it (images are found by content).",
                        dataset.display()
                    ));
                }
                self.viewer_open = false;
                if !self.sweep.is_running() {
                    sweep_view::on_project_opened(self);
                }
            }
            Err(e) => self.error(format!("{e}")),
        }
    }

    fn save_settings(&mut self) {
        if let Some(p) = &self.settings_path
            && let Err(e) = self.settings.save(p)
        {
            tracing::warn!("could not save settings: {e}");
        }
    }

    /// The one place where state changes.
    pub fn apply(&mut self, cmd: Command) {
        match cmd {
            Command::OpenProject(p) => self.open(&p),
            Command::NewProject {
                source,
                layout,
                output,
            } => self.start_import(source, layout, output),
            Command::Save => self.save(),
            Command::SaveAs(path) => self.save_as(&path),
            Command::ExportLabels(path) => self.export_labels(&path),
            Command::Relink(dir) => self.relink(&dir),
            Command::SetAnnotator(name) => {
                let name = name.trim().to_string();
                if !name.is_empty() {
                    self.settings.annotator = Some(name);
                    self.save_settings();
                }
            }
            Command::DismissMessage => {
                self.messages.pop();
            }
            Command::ToggleAutoAdvance => {
                self.settings.auto_advance = !self.settings.auto_advance;
                self.save_settings();
            }
            Command::SetThumbSize(s) => self.settings.thumb_size = s.clamp(48.0, 320.0),
            Command::ShowPredictions(b) => self.settings.show_predictions = b,
            Command::StartSweep(config) => {
                self.sweep.resume_offer.clear();
                if let Err(e) = sweep_view::start(self, config) {
                    self.error(format!("could not start the sweep: {e}"));
                }
            }
            Command::CancelSweep => {
                self.sweep.cancel();
                self.sweep.paused = false;
            }
            Command::PauseSweep => {
                self.sweep.cancel();
                self.sweep.paused = true;
            }
            Command::ShowSavedSweep(name) => {
                if let Some(p) = &self.project {
                    match crate::sweep::saved_sweeps(&p.ws.path)
                        .into_iter()
                        .find(|s| s.name() == name)
                    {
                        Some(s) => {
                            self.sweep.show_saved(&s);
                            self.sweep.resume_offer.clear();
                        }
                        None => self.error(format!("no stored sweep named \"{name}\"")),
                    }
                }
            }
            Command::DismissResumeOffer => self.sweep.resume_offer.clear(),
            Command::ExportSweepReport => match sweep_view::export_report(self) {
                Ok(dir) => self.info(format!("report written to {}", dir.display())),
                Err(e) => self.error(format!("could not write the report: {e}")),
            },
            Command::SaveSweepPngs => match sweep_view::report_dir(self) {
                Some(dir) => {
                    self.sweep.png_export = Some(dir);
                    self.sweep.png_request = true;
                }
                None => self.error("no sweep to export".to_string()),
            },
            Command::Notify(text, error) => {
                if error {
                    self.error(text)
                } else {
                    self.info(text)
                }
            }
            Command::SetSweepMatrixSize(n) => self.sweep.matrix_size = Some(n),
            Command::ShowSweepRun(key) => self.sweep.shown_run = key,
            Command::OpenViewer => self.viewer_open = self.project.is_some(),
            Command::OpenExplain => self.explain.open = self.project.is_some(),
            Command::CloseViewer => self.viewer_open = false,
            other => self.apply_project(other),
        }
    }

    fn apply_project(&mut self, cmd: Command) {
        let annotator = self.annotator();
        let auto_advance = self.settings.auto_advance;
        let Some(p) = &mut self.project else {
            return;
        };
        let mut errors = Vec::new();
        match cmd {
            Command::Select(ids) => {
                p.selection = Selection {
                    cursor: ids.first().copied(),
                    ids,
                }
            }
            Command::ToggleSelect(id) => {
                if let Some(k) = p.selection.ids.iter().position(|&i| i == id) {
                    p.selection.ids.remove(k);
                } else {
                    p.selection.ids.push(id);
                }
                p.selection.cursor = Some(id);
            }
            Command::SelectRangeTo(id) => {
                let from = p.selection.cursor.and_then(|c| p.position(c)).unwrap_or(0);
                if let Some(to) = p.position(id) {
                    let (a, b) = (from.min(to), from.max(to));
                    p.selection.ids = p.order[a..=b].to_vec();
                    p.selection.cursor = Some(id);
                }
            }
            Command::Assign(class) => {
                let ids = p.selection.ids.clone();
                if ids.is_empty() {
                    return;
                }
                match p.ws.set_labels(&ids, class, &annotator) {
                    Ok(changes) => {
                        p.undo.push(changes);
                        // Auto-advance moves a single selection to the next image.
                        if auto_advance && ids.len() == 1 {
                            let next = p.position(ids[0]).and_then(|k| p.order.get(k + 1).copied());
                            p.refresh_order();
                            if let Some(n) = next.filter(|n| p.order.contains(n)) {
                                p.selection = Selection {
                                    cursor: Some(n),
                                    ids: vec![n],
                                };
                            }
                        } else {
                            p.refresh_order();
                        }
                    }
                    Err(e) => errors.push(format!("label not changed: {e}")),
                }
            }
            Command::Undo | Command::Redo => {
                let undo = cmd == Command::Undo;
                let r = if undo {
                    p.undo.undo(&mut p.ws, &annotator)
                } else {
                    p.undo.redo(&mut p.ws, &annotator)
                };
                match r {
                    // The images the step touched become the selection.
                    Ok(Some(changes)) => {
                        p.selection.ids = changes.iter().map(|c| c.image).collect();
                        p.selection.cursor = p.selection.ids.first().copied();
                        p.refresh_order();
                    }
                    Ok(None) => {}
                    Err(e) => errors.push(format!(
                        "{} failed: {e}",
                        if undo { "undo" } else { "redo" }
                    )),
                }
            }
            Command::NextUnreviewed => {
                match query::next_unreviewed(&p.ws.project, &p.order, p.selection.cursor) {
                    Some(n) => {
                        p.selection = Selection {
                            cursor: Some(n),
                            ids: vec![n],
                        }
                    }
                    None => errors.push("every image shown has been reviewed".into()),
                }
            }
            Command::Step(d) => {
                if p.order.is_empty() {
                    return;
                }
                let cur = p.selection.cursor.and_then(|c| p.position(c)).unwrap_or(0) as isize;
                let n = (cur + d).clamp(0, p.order.len() as isize - 1) as usize;
                let id = p.order[n];
                p.selection = Selection {
                    cursor: Some(id),
                    ids: vec![id],
                };
            }
            Command::SetFilter(f) => {
                p.filter = f;
                p.refresh_order();
                p.selection.ids.retain(|id| p.order.contains(id));
                if p.selection.cursor.is_none_or(|c| !p.order.contains(&c)) {
                    p.selection.cursor = p.order.first().copied();
                    p.selection.ids = p.selection.cursor.into_iter().collect();
                }
            }
            Command::SetSort(s) => {
                p.sort = s;
                p.refresh_order();
            }
            Command::Taxonomy(edit) => {
                let t = &mut p.ws.project.taxonomy;
                let r: Result<(), TaxonomyError> = match edit {
                    TaxonomyEdit::Rename(id, name) => t.rename(id, &name),
                    TaxonomyEdit::SetCode(id, code) => t.set_code(id, &code),
                    TaxonomyEdit::Add(name) => t.add(&name, false).map(|_| ()),
                    TaxonomyEdit::Recolor(id, c) => t.recolor(id, c),
                    TaxonomyEdit::SetHotkey(id, k) => t.set_hotkey(id, k),
                    TaxonomyEdit::SetPositive(id, b) => t.set_positive(id, b),
                    TaxonomyEdit::Move(id, up) => t.move_class(id, up),
                };
                match r {
                    Ok(()) => {
                        p.ws.mark_dirty();
                        if let Err(e) = p.ws.save() {
                            errors.push(format!("could not save: {e}"));
                        }
                    }
                    Err(e) => errors.push(format!("refused: {e}")),
                }
            }
            _ => {}
        }
        for e in errors {
            self.error(e);
        }
    }

    fn save(&mut self) {
        if let Some(p) = &mut self.project
            && let Err(e) = p.ws.save()
        {
            let msg = format!("could not save: {e}");
            self.error(msg);
        }
    }

    fn save_as(&mut self, path: &Path) {
        let Some(p) = &mut self.project else { return };
        let mut project = p.ws.project.clone();
        // Keep the dataset where it is, expressed relative to the new location.
        let dataset = project.dataset_dir(&p.ws.path);
        project.dataset_root =
            crate::project::relative_path(crate::project::project_dir(path), &dataset);
        project.journal_seq = 0;
        match Workspace::create(path, project) {
            Ok(ws) => {
                self.info(format!("saved as {}", path.display()));
                self.project = Some(ProjectState::new(ws));
                self.settings.remember(path);
                self.save_settings();
            }
            Err(e) => self.error(format!("could not save as {}: {e}", path.display())),
        }
    }

    fn export_labels(&mut self, path: &Path) {
        let Some(p) = &self.project else { return };
        let text = export_csv(p.project());
        match crate::project::atomic_write(path, text.as_bytes()) {
            Ok(()) => self.info(format!("labels exported to {}", path.display())),
            Err(e) => self.error(format!("could not export to {}: {e}", path.display())),
        }
    }

    /// Hashes the folder in the background; the re-link itself happens in `poll_jobs`.
    fn relink(&mut self, dir: &Path) {
        if self.project.is_none() {
            return;
        }
        let tx = self.results.0.clone();
        let dir = dir.to_path_buf();
        let spawned = self.jobs.spawn("relink", move |ctx| {
            let progress = |d: usize, t: usize| ctx.progress(d, t, "hashing");
            let tree = crate::dataset::hash_tree(&dir, &progress).map_err(|e| e.to_string())?;
            let _ = tx.send(JobResult::Hashed { dir, tree });
            Ok(())
        });
        match spawned {
            Ok(_) => self.menu.import_running = Some(("hashing".into(), 0, 0)),
            Err(e) => self.error(format!("could not start re-linking: {e}")),
        }
    }

    fn finish_relink(&mut self, dir: &Path, tree: &[(String, String)]) {
        let Some(p) = &mut self.project else { return };
        let path = p.ws.path.clone();
        let found = p.ws.project.relink_with(&path, dir, tree);
        let total = p.ws.project.images.len();
        if found == 0 {
            self.error(format!(
                "none of the {total} images is in {} (compared by content); nothing changed",
                dir.display()
            ));
            return;
        }
        p.ws.mark_dirty();
        let saved = p.ws.save();
        p.thumbs = Thumbnails::new(&path);
        match saved {
            Ok(()) => self.info(format!("re-linked: found {found} of {total} images")),
            Err(e) => self.error(format!("re-linked but could not save: {e}")),
        }
    }

    fn start_import(&mut self, source: PathBuf, layout: Option<Layout>, output: PathBuf) {
        if output.exists() {
            self.error(format!(
                "{} already exists; choose another name",
                output.display()
            ));
            return;
        }
        let tx = self.results.0.clone();
        let spawned = self.jobs.spawn("import", move |ctx| {
            let progress = |d: usize, t: usize| ctx.progress(d, t, "importing");
            let outcome = crate::dataset::import(
                &source,
                layout,
                crate::taxonomy::Taxonomy::default_allidb(),
                &progress,
            )
            .map_err(|e| e.to_string())?;
            ctx.send(EventKind::Message(outcome.report.to_string()));
            let name = output
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "project".into());
            let project = Project::from_import(&name, &output, &outcome, 2021);
            Workspace::create(&output, project).map_err(|e| e.to_string())?;
            let _ = tx.send(JobResult::Imported(output));
            Ok(())
        });
        match spawned {
            Ok(_job) => self.menu.import_running = Some(("importing".into(), 0, 0)),
            Err(e) => self.error(format!("could not start the import: {e}")),
        }
    }

    /// Drains background events and results (called once per frame).
    pub fn poll_jobs(&mut self) {
        while let Ok(r) = self.results.1.try_recv() {
            match r {
                JobResult::Imported(path) => self.open(&path),
                JobResult::Hashed { dir, tree } => self.finish_relink(&dir, &tree),
            }
        }
        for ev in self.jobs.drain() {
            match ev.kind {
                EventKind::Progress { done, total, what } => {
                    if what != "sweep" {
                        self.menu.import_running = Some((what, done, total))
                    }
                }
                EventKind::Message(m) => self.info(m),
                EventKind::Finished(r) => {
                    if !self.sweep.is_running() {
                        self.menu.import_running = None;
                    }
                    if let Err(e) = r {
                        self.error(e);
                    }
                }
                EventKind::Train(_) => {}
            }
        }
    }

    /// Saves pending changes (autosave; the journal already holds every label).
    pub fn autosave(&mut self) {
        if let Some(p) = &mut self.project
            && p.ws.is_dirty()
            && let Err(e) = p.ws.save()
        {
            tracing::warn!("autosave failed: {e}");
        }
    }

    /// Draws one frame and applies what the screens asked for.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.poll_jobs();
        if let Some(p) = &mut self.project {
            p.thumbs.poll(ui.ctx());
        }
        project_menu::show(self, ui);
        if self.show_stats && self.project.is_some() {
            egui::Panel::right("stats")
                .resizable(true)
                .default_size(300.0)
                .show(ui, |ui| stats::show(self, ui));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if self.project.is_some() {
                super::gallery::show(self, ui);
            } else {
                ui.centered_and_justified(|ui| {
                    ui.label("No project open. Project > New… imports a dataset folder; Project > Open… opens a .ron file. You can also drop a folder or a .ron file here.");
                });
            }
        });
        if self.viewer_open {
            viewer::show(self, ui);
        }
        taxonomy_editor::show(self, ui);
        sweep_view::show(self, ui);
        explain_view::show(self, ui);
        project_menu::annotator_prompt(self, ui);
        self.apply_queued();
    }
}

/// The labels as CSV: one row per image with original and current class.
pub fn export_csv(p: &Project) -> String {
    let mut out = String::from("image_id,path,hash,source_label,original,current,reviewed\n");
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    for im in &p.images {
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            im.id.0,
            q(&im.path),
            im.hash,
            q(&im.source_label),
            q(&p.taxonomy.name(im.original)),
            q(&p.taxonomy.name(im.current)),
            im.reviewed
        ));
    }
    out
}
