//! The application: [`LeukoApp`] owns the state ([`AppState`]) and every screen's view
//! ([`Views`]), draws a frame by handing each screen a read-only [`Ctx`] and collecting the
//! [`Command`]s it returns, and applies them in [`LeukoApp::apply`], the one place where the
//! state changes. It also runs the background imports and re-links and polls every job.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::dataset::Layout;
use crate::jobs::{Event, EventKind, Job, Jobs, drain_all};
use crate::project::{Project, ProjectError, Workspace};
use crate::quality::audit::AuditRequest;
use crate::sweep::{SweepConfig, SweepDir, saved_sweeps};

use super::audit_dialog::{self, AuditDialog};
use super::command::{Command, Window};
use super::explain::{self, ExplainView, Tab};
use super::gallery::{self, GalleryView};
use super::import_mapping::{self, ImportMappingView, PendingImport};
use super::project_menu::{self, ProjectMenu};
use super::review::{self, ReviewView};
use super::review_apply;
use super::settings::Settings;
use super::state::{Ctx, JobStatus, Message, ProjectState};
use super::stats;
use super::sweep::{self, SweepView};
use super::taxonomy_editor::{self, TaxonomyEditor};
use super::thumbs::Thumbnails;
use super::viewer::{self, ViewerView};

/// What a background job of the app hands back to the UI thread.
enum JobResult {
    /// A new project file was written by an import: open it.
    Imported(PathBuf),
    /// The proposed class mapping of a dataset: open the mapping dialog.
    Proposed(Box<PendingImport>),
    /// The content hashes of a folder, for re-linking the open project to it.
    Hashed {
        dir: PathBuf,
        tree: Vec<(String, String)>,
    },
}

/// The application state the screens read (through [`Ctx`]) and only `apply` changes.
pub struct AppState {
    pub settings: Settings,
    pub project: Option<ProjectState>,
    pub messages: Vec<Message>,
    pub viewer_open: bool,
    pub show_stats: bool,
    /// The background job whose progress the status bar shows.
    pub status: Option<JobStatus>,
    jobs: Jobs,
    /// Where the settings live (None in tests: nothing is written).
    settings_path: Option<PathBuf>,
}

/// Every screen's own state.
#[derive(Default)]
pub struct Views {
    pub gallery: GalleryView,
    pub viewer: ViewerView,
    pub taxonomy_editor: TaxonomyEditor,
    pub menu: ProjectMenu,
    pub sweep: SweepView,
    pub explain: ExplainView,
    pub overwrite: crate::ui::overwrite::OverwriteView,
    pub import_mapping: ImportMappingView,
    pub review: ReviewView,
    pub audit: AuditDialog,
}

/// The whole application. `show` draws one frame; `apply` is the only place state changes.
pub struct LeukoApp {
    pub(crate) state: AppState,
    pub(crate) views: Views,
    /// Imports and re-links running.
    background: Vec<Job<JobResult>>,
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
            state: AppState {
                settings,
                project: None,
                messages: Vec::new(),
                viewer_open: false,
                show_stats: true,
                status: None,
                jobs,
                settings_path,
            },
            views: Views::default(),
            background: Vec::new(),
        }
    }

    /// The open project.
    pub fn project(&self) -> Option<&ProjectState> {
        self.state.project.as_ref()
    }

    /// Messages shown to the user, the last one in the status bar.
    pub fn messages(&self) -> &[Message] {
        &self.state.messages
    }

    pub fn settings(&self) -> &Settings {
        &self.state.settings
    }

    /// The large viewer is open.
    pub fn viewer_open(&self) -> bool {
        self.state.viewer_open
    }

    /// The gallery's widget state (its columns, the tiles drawn).
    pub fn gallery(&self) -> &GalleryView {
        &self.views.gallery
    }

    /// The sweep screen's state.
    pub fn sweep(&self) -> &SweepView {
        &self.views.sweep
    }

    /// The sweep screen's widget state, to edit its form as a user would (tests).
    pub fn sweep_mut(&mut self) -> &mut SweepView {
        &mut self.views.sweep
    }

    /// The import waiting for its class mapping to be confirmed (the New-project dialog).
    pub fn pending_import(&self) -> Option<&PendingImport> {
        self.views.import_mapping.pending.as_ref()
    }

    /// The audit dialog's state (Train → Audit labels…).
    pub fn audit_dialog(&self) -> &AuditDialog {
        &self.views.audit
    }

    /// The Review panel's state.
    pub fn review(&self) -> &ReviewView {
        &self.views.review
    }

    /// The explain screen's state.
    pub fn explain(&self) -> &ExplainView {
        &self.views.explain
    }

    fn info(&mut self, text: impl Into<String>) {
        self.state.messages.push(Message {
            text: text.into(),
            error: false,
        });
    }

    fn error(&mut self, text: impl Into<String>) {
        self.state.messages.push(Message {
            text: text.into(),
            error: true,
        });
    }

    fn annotator(&self) -> String {
        self.state
            .settings
            .annotator
            .clone()
            .unwrap_or_else(|| "unknown".into())
    }

    /// Opens a project file (replaying its journal).
    pub fn open(&mut self, path: &Path) {
        if let Some(p) = &mut self.state.project
            && p.ws.is_dirty()
            && let Err(e) = p.ws.save()
        {
            self.error(format!("could not save the current project: {e}"));
            return;
        }
        // Opening the project that is open here again: this workspace holds its lock, so let
        // go of it first (it was saved just above), or the project would open read-only.
        if self
            .state
            .project
            .as_ref()
            .is_some_and(|p| p.ws.path == path)
        {
            self.state.project = None;
        }
        match open_or_read_only(path, &self.annotator()) {
            Ok(ws) => self.opened(path, ws),
            Err(e) => self.error(format!("{e}")),
        }
    }

    /// A project was opened: it becomes the state, with its notes and a missing dataset said.
    fn opened(&mut self, path: &Path, ws: Workspace) {
        let mut notes = ws.open_notes.clone();
        if let Some(reason) = ws.read_only() {
            notes.push(format!("opened read-only: {reason}"));
        }
        let dataset = ws.project.dataset_dir(&ws.path);
        let missing = !dataset.is_dir();
        let project_path = ws.path.clone();
        self.state.project = Some(ProjectState::new(ws));
        self.state_opened();
        self.state.settings.remember(path);
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
        self.state.viewer_open = false;
        if !self.views.sweep.is_running() {
            self.views.sweep.project_opened(saved_sweeps(&project_path));
        }
    }

    /// A new `ProjectState` stays blind when blind mode was on, and reads the stored
    /// suggestions (`quality::prelabels`), saying how many there are.
    fn state_opened(&mut self) {
        let annotator = self.annotator();
        let Some(p) = &mut self.state.project else {
            return;
        };
        if self.views.review.blind {
            p.set_blind(true, &annotator);
        }
        match p.load_prelabels() {
            Ok(Some(note)) => self.info(note),
            Ok(None) => {}
            Err(e) => self.error(e),
        }
    }

    fn save_settings(&mut self) {
        if let Some(p) = &self.state.settings_path
            && let Err(e) = self.state.settings.save(p)
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
            } => self.propose_import(source, layout, output),
            Command::Import {
                source,
                layout,
                output,
                mapping,
            } => self.start_import(source, layout, output, mapping),
            Command::Save => self.save(),
            Command::SaveAs(path) => self.save_as(&path),
            Command::ExportLabels(path) => self.export_labels(&path),
            Command::Relink(dir) => self.relink(&dir),
            Command::SetAnnotator(name) => self.set_annotator(&name),
            Command::DismissMessage => {
                self.state.messages.pop();
            }
            Command::ToggleAutoAdvance => {
                self.state.settings.auto_advance = !self.state.settings.auto_advance;
                self.save_settings();
            }
            Command::SetThumbSize(s) => self.state.settings.thumb_size = s.clamp(48.0, 320.0),
            Command::ShowPredictions(b) => self.state.settings.show_predictions = b,
            Command::Notify(text, error) => {
                if error {
                    self.error(text)
                } else {
                    self.info(text)
                }
            }
            Command::WriteFiles(files, done) => self.write_files(files, done),
            Command::AnswerOverwrite(yes) => {
                if let Some(p) = self.views.overwrite.pending.take() {
                    if yes {
                        self.write_now(p.files, p.done);
                    } else {
                        self.info("nothing was written");
                    }
                }
            }
            Command::OpenViewer => self.state.viewer_open = self.state.project.is_some(),
            Command::CloseViewer => self.state.viewer_open = false,
            Command::OpenExplain => self.views.explain.open = self.state.project.is_some(),
            Command::SetWindow(w, open) => self.set_window(w, open),
            Command::SetOverlayInViewer(b) => self.views.explain.overlay_in_viewer = b,
            Command::StartSweep(_)
            | Command::CancelSweep
            | Command::PauseSweep
            | Command::ShowSavedSweep(_)
            | Command::DismissResumeOffer
            | Command::ExportSweepReport
            | Command::SaveSweepPngs
            | Command::SetSweepMatrixSize(_)
            | Command::ShowSweepRun(_) => self.apply_sweep(cmd),
            Command::StartAudit(request) => match self.start_audit(&request) {
                Ok(()) => {
                    self.views.audit.open = false;
                    self.views.audit.error = None;
                }
                Err(e) => {
                    self.views.audit.error = Some(e.clone());
                    self.error(format!("could not start the audit: {e}"));
                }
            },
            Command::LoadReview
            | Command::SetReviewQueue(_)
            | Command::ReviewStep(_)
            | Command::SetSpread(_)
            | Command::SetSuspectMethod(..)
            | Command::SetBlind(_)
            | Command::AcceptSuggestion(_)
            | Command::ConfirmLabel(_)
            | Command::Adjudicate(..) => self.apply_review(cmd),
            Command::AcceptPreLabel(id) => {
                let annotator = self.annotator();
                if let Some(p) = &mut self.state.project
                    && let Err(e) = p.accept_prelabel(id, &annotator)
                {
                    self.error(e);
                }
            }
            Command::ReloadSuggestions => self.reload_suggestions(),
            Command::Assign(_) if self.views.review.open => {
                let ids = self
                    .project()
                    .map(|p| p.selection.ids.clone())
                    .unwrap_or_default();
                self.apply_project(cmd);
                if let Some(p) = &mut self.state.project {
                    review_apply::labelled(&mut self.views.review, p, &ids);
                }
            }
            Command::Select(_)
            | Command::ToggleSelect(_)
            | Command::SelectRangeTo(_)
            | Command::Assign(_)
            | Command::Undo
            | Command::Redo
            | Command::NextUnreviewed
            | Command::Step(_)
            | Command::SetFilter(_)
            | Command::SetSort(_)
            | Command::Taxonomy(_) => self.apply_project(cmd),
        }
    }

    /// Reads the stored suggestions again and says what was found.
    fn reload_suggestions(&mut self) {
        let Some(p) = &mut self.state.project else {
            return;
        };
        match p.load_prelabels() {
            Ok(note) => self.info(note.unwrap_or_else(|| "no stored suggestions".into())),
            Err(e) => self.error(e),
        }
    }

    fn set_annotator(&mut self, name: &str) {
        let name = name.trim().to_string();
        if !name.is_empty() {
            if let Some(p) = &mut self.state.project {
                p.ws.set_annotator(&name);
                if p.is_blind() {
                    p.set_blind(true, &name);
                }
            }
            self.state.settings.annotator = Some(name);
            self.save_settings();
        }
    }

    fn set_window(&mut self, w: Window, open: bool) {
        match w {
            Window::Stats => self.state.show_stats = open,
            Window::Taxonomy => self.views.taxonomy_editor.open = open,
            Window::Sweep => self.views.sweep.open = open,
            Window::Explain => self.views.explain.open = open,
            Window::Audit => self.views.audit.open = open && self.state.project.is_some(),
            Window::Review => {
                self.views.review.open = open && self.state.project.is_some();
                if self.views.review.open {
                    self.apply_review(Command::LoadReview);
                }
            }
        }
    }

    /// The Review panel's commands (`review_apply`).
    fn apply_review(&mut self, cmd: Command) {
        let annotator = self.annotator();
        let v = &mut self.views.review;
        let Some(p) = &mut self.state.project else {
            return;
        };
        let r = match cmd {
            Command::LoadReview => {
                // Suggestions first: Label next takes the Unlabelled cells from them.
                let pre = p.load_prelabels();
                review_apply::load(v, p);
                if let Err(e) = pre {
                    v.note = Some(e);
                }
                let q = v.queue;
                review_apply::set_queue(v, p, q);
                Ok(())
            }
            Command::SetReviewQueue(q) => {
                review_apply::set_queue(v, p, q);
                Ok(())
            }
            Command::ReviewStep(forward) => {
                if let Some(next) = v.step_from(p.selection.cursor, forward) {
                    p.select(vec![next]);
                }
                Ok(())
            }
            Command::SetSpread(on) => {
                v.spread = on;
                let q = v.queue;
                review_apply::set_queue(v, p, q);
                Ok(())
            }
            Command::SetSuspectMethod(rank, filter) => {
                v.rank = rank;
                v.filter = filter;
                review_apply::load(v, p);
                let q = v.queue;
                review_apply::set_queue(v, p, q);
                Ok(())
            }
            Command::SetBlind(b) => {
                p.set_blind(b, &annotator);
                v.blind = b;
                let q = v.queue;
                review_apply::set_queue(v, p, q);
                Ok(())
            }
            Command::AcceptSuggestion(id) => review_apply::accept(v, p, id, &annotator),
            Command::ConfirmLabel(id) => review_apply::confirm(v, p, id, &annotator),
            Command::Adjudicate(id, class) => review_apply::adjudicate(v, p, id, class, &annotator),
            _ => Ok(()),
        };
        if let Err(e) = r {
            self.error(e);
        }
    }

    /// Selection, labels, filter, sort and taxonomy: changes of the open project.
    fn apply_project(&mut self, cmd: Command) {
        let annotator = self.annotator();
        let auto_advance = self.state.settings.auto_advance;
        let Some(p) = &mut self.state.project else {
            return;
        };
        let r = match cmd {
            Command::Assign(class) => p.assign(class, &annotator, auto_advance),
            Command::Undo => p.undo_redo(true, &annotator),
            Command::Redo => p.undo_redo(false, &annotator),
            Command::NextUnreviewed => p.next_unreviewed(),
            Command::Taxonomy(edit) => p.edit_taxonomy(edit),
            other => {
                match other {
                    Command::Select(ids) => p.select(ids),
                    Command::ToggleSelect(id) => p.toggle_select(id),
                    Command::SelectRangeTo(id) => p.select_range_to(id),
                    Command::Step(d) => p.step(d),
                    Command::SetFilter(f) => p.set_filter(f),
                    Command::SetSort(s) => p.set_sort(s),
                    _ => {}
                }
                Ok(())
            }
        };
        if let Err(e) = r {
            self.error(e);
        }
    }

    /// The sweep screen's commands.
    fn apply_sweep(&mut self, cmd: Command) {
        let v = &mut self.views.sweep;
        match cmd {
            Command::StartSweep(config) => {
                v.resume_offer.clear();
                if let Err(e) = self.start_sweep(config) {
                    self.error(format!("could not start the sweep: {e}"));
                }
            }
            Command::CancelSweep => {
                v.cancel();
                v.paused = false;
            }
            Command::PauseSweep => {
                v.cancel();
                v.paused = true;
            }
            Command::ShowSavedSweep(name) => self.show_saved_sweep(&name),
            Command::DismissResumeOffer => v.resume_offer.clear(),
            Command::ExportSweepReport => self.export_sweep_report(),
            Command::SaveSweepPngs => {
                let dir = match &self.state.project {
                    Some(p) => sweep::export::report_dir(v, &p.ws.path),
                    None => None,
                };
                match dir {
                    Some(dir) => v.request_png_export(dir),
                    None => self.error("no sweep to export".to_string()),
                }
            }
            Command::SetSweepMatrixSize(n) => v.matrix_size = Some(n),
            Command::ShowSweepRun(key) => v.shown_run = key,
            _ => {}
        }
    }

    /// The audit dialog's Start: resumes the saved audit of the request's name, or checks a
    /// new one with `quality::audit::audit_config` (as `leukolens audit` does), then starts it
    /// as any sweep, on the sweep screen.
    fn start_audit(&mut self, request: &AuditRequest) -> Result<(), String> {
        let Some(p) = &self.state.project else {
            return Err("open a project first".into());
        };
        let project = p.project();
        let config = match project.sweeps.iter().find(|s| s.name == request.name) {
            Some(saved) => saved.clone(),
            None => crate::quality::audit::audit_config(project, request)?,
        };
        self.start_sweep(config)?;
        self.views.sweep.open = true;
        Ok(())
    }

    /// Starts `config` on the open project in the background, through `sweep::start` as the
    /// command line does: a saved sweep of this name is resumed (its finished runs are kept),
    /// else the new one is checked, snapshotted and saved in the project. Nothing is written
    /// when a check fails.
    fn start_sweep(&mut self, config: SweepConfig) -> Result<(), String> {
        let Some(p) = &mut self.state.project else {
            return Err("open a project first".into());
        };
        if self.views.sweep.is_running() {
            return Err("a sweep is already running".into());
        }
        let name = config.name.clone();
        let started = crate::sweep::start(&mut p.ws, &name, move |_| Ok(config))?;
        // Results already stored for this sweep are shown at once.
        let records = SweepDir::of(&p.ws.path, &started.config.name).runs();
        let job = sweep::spawn(
            &self.state.jobs,
            p.project().clone(),
            p.ws.path.clone(),
            started.config.clone(),
        )
        .map_err(|e| e.to_string())?;
        self.views
            .sweep
            .started(job, started.config, started.output_names, records);
        Ok(())
    }

    fn show_saved_sweep(&mut self, name: &str) {
        let Some(p) = &self.state.project else { return };
        match saved_sweeps(&p.ws.path)
            .into_iter()
            .find(|s| s.name() == name)
        {
            Some(s) => {
                let records = s.dir.runs();
                self.views.sweep.show_saved(&s, records);
                self.views.sweep.resume_offer.clear();
            }
            None => self.error(format!("no stored sweep named \"{name}\"")),
        }
    }

    fn export_sweep_report(&mut self) {
        let r = match &self.state.project {
            Some(p) => sweep::export::report(&self.views.sweep, p),
            None => Err("open a project first".into()),
        };
        match r {
            Ok((dir, files)) => {
                self.write_files(files, format!("report written to {}", dir.display()))
            }
            Err(e) => self.error(format!("could not write the report: {e}")),
        }
    }

    /// Writes files for the user (`Command::WriteFiles`): refused when one is a file of the
    /// project (`output::check_output`); when some exist, the user is asked first.
    fn write_files(&mut self, files: Vec<(PathBuf, Vec<u8>)>, done: String) {
        use crate::output::{OutputError, Overwrite, check_output};
        let checked = match &self.state.project {
            None => Err("open a project first".to_string()),
            Some(p) => {
                let mut existing = Vec::new();
                let mut refused = None;
                for (path, _) in &files {
                    match check_output(&p.ws.path, Some(p.project()), path, Overwrite::Refused) {
                        Ok(()) => {}
                        Err(OutputError::Exists(path)) => existing.push(path),
                        Err(e) => {
                            refused = Some(format!("nothing was written: {e}"));
                            break;
                        }
                    }
                }
                refused.map_or(Ok(existing), Err)
            }
        };
        let existing = match checked {
            Ok(existing) => existing,
            Err(e) => return self.error(e),
        };
        if existing.is_empty() {
            self.write_now(files, done);
        } else {
            self.views.overwrite.pending = Some(crate::ui::overwrite::PendingWrite {
                files,
                done,
                existing,
            });
        }
    }

    /// Writes the files (each atomically) and says how it went.
    fn write_now(&mut self, files: Vec<(PathBuf, Vec<u8>)>, done: String) {
        for (path, bytes) in &files {
            if let Err(e) = crate::project::atomic_write(path, bytes) {
                return self.error(format!("could not write {}: {e}", path.display()));
            }
        }
        self.info(done);
    }

    fn save(&mut self) {
        if let Some(p) = &mut self.state.project
            && let Err(e) = p.ws.save()
        {
            let msg = format!("could not save: {e}");
            self.error(msg);
        }
    }

    fn save_as(&mut self, path: &Path) {
        let Some(p) = &mut self.state.project else {
            return;
        };
        // The file dialog asked before replacing a file; the project's own files are never
        // written over (the same rule as the command line's, `output::check_output`).
        if let Err(e) = crate::output::check_output(
            &p.ws.path,
            Some(&p.ws.project),
            path,
            crate::output::Overwrite::Allowed,
        ) {
            let e = e.to_string();
            self.error(format!("could not save as {}: {e}", path.display()));
            return;
        }
        let mut project = p.ws.project.clone();
        // Keep the dataset where it is, expressed relative to the new location.
        let dataset = project.dataset_dir(&p.ws.path);
        project.dataset_root =
            crate::project::relative_path(crate::project::project_dir(path), &dataset);
        project.journal_seq = 0;
        match Workspace::create(path, project) {
            Ok(ws) => {
                self.info(format!("saved as {}", path.display()));
                self.state.project = Some(ProjectState::new(ws));
                self.state_opened();
                self.state.settings.remember(path);
                self.save_settings();
            }
            Err(e) => self.error(format!("could not save as {}: {e}", path.display())),
        }
    }

    fn export_labels(&mut self, path: &Path) {
        let Some(p) = &self.state.project else { return };
        let text = export_csv(p.project());
        // The file dialog asked before replacing a file; the project's own files never are.
        let allowed = crate::output::check_output(
            &p.ws.path,
            Some(p.project()),
            path,
            crate::output::Overwrite::Allowed,
        )
        .map_err(|e| std::io::Error::other(e.to_string()));
        match allowed.and_then(|()| crate::project::atomic_write(path, text.as_bytes())) {
            Ok(()) => self.info(format!("labels exported to {}", path.display())),
            Err(e) => self.error(format!("could not export to {}: {e}", path.display())),
        }
    }

    /// Hashes the folder in the background; the re-link itself happens in `poll_jobs`.
    fn relink(&mut self, dir: &Path) {
        if self.state.project.is_none() {
            return;
        }
        let dir = dir.to_path_buf();
        let spawned = self.state.jobs.spawn_with("relink", move |ctx, out| {
            let progress = |d: usize, t: usize| ctx.progress(d, t, "hashing");
            let tree = crate::dataset::hash_tree(&dir, &progress).map_err(|e| e.to_string())?;
            out.send(JobResult::Hashed { dir, tree });
            Ok(())
        });
        match spawned {
            Ok(job) => self.background_started(job, "hashing"),
            Err(e) => self.error(format!("could not start re-linking: {e}")),
        }
    }

    /// The status bar shows a background job from its start.
    fn background_started(&mut self, job: Job<JobResult>, what: &str) {
        self.state.status = Some(JobStatus {
            job: job.id,
            what: what.into(),
            done: 0,
            total: 0,
        });
        self.background.push(job);
    }

    fn finish_relink(&mut self, dir: &Path, tree: &[(String, String)]) {
        let Some(p) = &mut self.state.project else {
            return;
        };
        if let Err(e) = p.ws.check_writable() {
            self.error(format!("not re-linked: {e}"));
            return;
        }
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

    /// Scans the dataset in the background (no decoding) and then opens the mapping dialog with
    /// the proposed classes.
    fn propose_import(&mut self, source: PathBuf, layout: Option<Layout>, output: PathBuf) {
        if let Err(e) = check_new_project_path(&output) {
            self.error(e);
            return;
        }
        let spawned = self.state.jobs.spawn_with("scan", move |_, out| {
            let taxonomy = crate::taxonomy::Taxonomy::default_allidb();
            let proposal =
                crate::dataset::propose_mapping(&source, layout, &taxonomy, &Default::default())
                    .map_err(|e| format!("could not import: {e}"))?;
            out.send(JobResult::Proposed(Box::new(PendingImport::new(
                source, layout, output, proposal, taxonomy,
            ))));
            Ok(())
        });
        match spawned {
            Ok(job) => self.background_started(job, "reading the dataset's classes"),
            Err(e) => self.error(format!("could not start the import: {e}")),
        }
    }

    fn start_import(
        &mut self,
        source: PathBuf,
        layout: Option<Layout>,
        output: PathBuf,
        mapping: crate::dataset::MappingOverrides,
    ) {
        if let Err(e) = check_new_project_path(&output) {
            self.error(e);
            return;
        }
        let spawned = self.state.jobs.spawn_with("import", move |ctx, out| {
            let progress = |d: usize, t: usize| ctx.progress(d, t, "importing");
            let outcome = crate::dataset::import_with(
                &source,
                layout,
                crate::taxonomy::Taxonomy::default_allidb(),
                &mapping,
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
            out.send(JobResult::Imported(output));
            Ok(())
        });
        match spawned {
            Ok(job) => self.background_started(job, "importing"),
            Err(e) => self.error(format!("could not start the import: {e}")),
        }
    }

    /// Drains background events and results (called once per frame).
    pub fn poll_jobs(&mut self) {
        for r in drain_all(&mut self.background) {
            match r {
                JobResult::Imported(path) => self.open(&path),
                JobResult::Proposed(pending) => self.views.import_mapping.pending = Some(*pending),
                JobResult::Hashed { dir, tree } => self.finish_relink(&dir, &tree),
            }
        }
        for ev in self.state.jobs.drain() {
            self.on_event(ev);
        }
        self.views.sweep.poll();
        self.views.explain.poll();
        // Whenever runs finish (or another sweep is shown), the gallery gets its predictions.
        if let Some(p) = &mut self.state.project
            && let Some((predicted, names)) = self.views.sweep.take_changed_predictions()
        {
            p.set_predictions(predicted, names);
        }
    }

    /// Progress and messages of every job, and their ends.
    fn on_event(&mut self, ev: Event) {
        match ev.kind {
            EventKind::Progress { done, total, what } => {
                self.state.status = Some(JobStatus {
                    job: ev.job,
                    what,
                    done,
                    total,
                })
            }
            EventKind::Message(m) => self.info(m),
            EventKind::Finished(r) => {
                if self.state.status.as_ref().is_some_and(|s| s.job == ev.job) {
                    self.state.status = None;
                }
                if let Err(e) = r {
                    self.error(e);
                }
            }
            EventKind::Train(_) => {}
        }
    }

    /// Saves pending changes (autosave; the journal already holds every label).
    pub fn autosave(&mut self) {
        if let Some(p) = &mut self.state.project
            && p.ws.is_dirty()
            && let Err(e) = p.ws.save()
        {
            tracing::warn!("autosave failed: {e}");
        }
    }

    /// Shows the explain screen's tab and computes what it shows (the screenshot script).
    pub(crate) fn explain_tab(&mut self, tab: Tab) {
        let v = &mut self.views.explain;
        v.tab = tab;
        let Some(p) = &self.state.project else { return };
        match tab {
            Tab::Cell => {}
            Tab::Focus => explain::work::request_focus(v, p, &self.state.jobs),
            Tab::Embedding => explain::work::request_embedding(v, p, &self.state.jobs),
        }
    }

    /// Draws one frame and applies what the screens asked for.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.poll_jobs();
        if let Some(p) = &self.state.project {
            p.thumbs.poll(ui.ctx());
        }
        let cursor = self.project().and_then(|p| p.selection.cursor);
        let overlay = self.views.explain.viewer_overlay(ui.ctx(), cursor);
        let ctx = Ctx {
            project: self.state.project.as_ref(),
            settings: &self.state.settings,
            messages: &self.state.messages,
            status: self.state.status.as_ref(),
            viewer_open: self.state.viewer_open,
            show_stats: self.state.show_stats,
            modal_open: self.views.menu.modal_open() || self.views.import_mapping.is_open(),
            jobs: &self.state.jobs,
            sweep: self.views.sweep.shown(),
            overlay,
            overlay_in_viewer: self.views.explain.overlay_in_viewer,
        };
        let mut cmds = Vec::new();
        self.views.draw(&ctx, ui, &mut cmds);
        for c in cmds {
            self.apply(c);
        }
    }
}

/// The statistics panel's widest share of the window.
const STATS_MAX_FRACTION: f32 = 0.4;

impl Views {
    /// Lays out the screens, in order: menus, statistics, gallery, then the windows.
    fn draw(&mut self, ctx: &Ctx, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
        project_menu::show(&mut self.menu, ctx, ui, cmds);
        review::keyboard(&self.review, ctx, ui, cmds);
        // Blind mode hides the statistics: their tables are filters by label.
        if ctx.show_stats && ctx.project.is_some_and(|p| !p.is_blind()) {
            // The gallery keeps at least 60 % of the width, however many classes the tables
            // have: the panel's own tables scroll instead of widening it.
            let max = (ui.available_width() * STATS_MAX_FRACTION).max(160.0);
            egui::Panel::right("stats")
                .resizable(true)
                .default_size(300.0_f32.min(max))
                .max_size(max)
                .show(ui, |ui| stats::show(ctx, ui, cmds));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if ctx.project.is_some() {
                gallery::show(&mut self.gallery, ctx, ui, cmds);
            } else {
                ui.centered_and_justified(|ui| {
                    ui.label("No project open. Project > New… imports a dataset folder; Project > Open… opens a .ron file. You can also drop a folder or a .ron file here.");
                });
            }
        });
        if ctx.viewer_open {
            viewer::show(&mut self.viewer, ctx, ui, cmds);
        }
        taxonomy_editor::show(&mut self.taxonomy_editor, ctx, ui, cmds);
        sweep::show(&mut self.sweep, ctx, ui, cmds);
        explain::show(&mut self.explain, ctx, ui, cmds);
        review::show(&mut self.review, ctx, ui, cmds);
        audit_dialog::show(&mut self.audit, ctx, ui, cmds);
        project_menu::annotator_prompt(&mut self.menu, ctx, ui, cmds);
        crate::ui::overwrite::show(&self.overwrite, ui, cmds);
        import_mapping::show(&mut self.import_mapping, ctx, ui, cmds);
    }
}

/// Why a new project cannot be written at `output` (it exists, or a folder on the way is a
/// file), in words.
fn check_new_project_path(output: &Path) -> Result<(), String> {
    if output.exists() {
        return Err(format!(
            "{} already exists; choose another name",
            output.display()
        ));
    }
    crate::project::store::check_folder_path(output)
        .map_err(|e| format!("cannot write {}: {e}", output.display()))
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

/// Opens a project for writing; when another process holds it (or it cannot be locked), opens
/// it read-only instead, saying why (the banner shows it).
fn open_or_read_only(path: &Path, annotator: &str) -> Result<Workspace, ProjectError> {
    match Workspace::open_as(path, annotator) {
        Err(ProjectError::Locked { holder, .. }) => {
            Workspace::open_read_only_because(path, format!("{holder} holds it for writing"))
        }
        Err(ProjectError::Lock { source, .. }) => Workspace::open_read_only_because(
            path,
            format!("it cannot be locked for writing: {source}"),
        ),
        other => other,
    }
}
