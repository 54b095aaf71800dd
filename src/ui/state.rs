//! The application state the screens read: the open project ([`ProjectState`]), the
//! [`Selection`], the [`Message`]s, and [`Ctx`], the read-only view of all of it that every
//! screen's `show` receives.

use std::collections::HashMap;

use crate::jobs::{JobId, Jobs};
use crate::project::query::{self, Filter, Sort};
use crate::project::undo::UndoStack;
use crate::project::{ImageId, Project, Workspace};
use crate::quality::blind::{blind_order, own_labels};
use crate::quality::prelabels::{PreLabels, accept_prelabel};
use crate::taxonomy::ClassId;

use super::command::TaxonomyEdit;

use super::settings::Settings;
use super::thumbs::Thumbnails;

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
    /// One image, which is also the cursor.
    pub fn single(id: ImageId) -> Self {
        Self {
            cursor: Some(id),
            ids: vec![id],
        }
    }

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
    /// The model's suggestions (`leukolens predict`) matched to the images, when stored.
    pub prelabels: Option<PreLabels>,
    /// Blind mode: on when `Some` (the Review panel's switch is the same state).
    pub blind: Option<Blind>,
}

/// What blind mode shows: only the labels the annotator gave.
#[derive(Clone, Debug, Default)]
pub struct Blind {
    pub annotator: String,
    /// The last class this annotator gave each image (from the journal).
    pub own: HashMap<ImageId, ClassId>,
}

impl ProjectState {
    /// The state of a project just opened: no filter, the first image selected.
    pub fn new(ws: Workspace) -> Self {
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
            prelabels: None,
            blind: None,
        };
        s.refresh_order();
        if let Some(&first) = s.order.first() {
            s.selection = Selection::single(first);
        }
        s
    }

    pub fn project(&self) -> &Project {
        &self.ws.project
    }

    /// The gallery order: filtered and sorted, or in blind mode the seeded random order
    /// (`quality::blind`), whose own labels are read again from the project.
    pub fn refresh_order(&mut self) {
        let order = query::select_with(&self.ws.project, &self.filter, self.sort, &self.predicted);
        self.order = match &mut self.blind {
            None => order,
            Some(b) => {
                b.own = own_labels(&self.ws.project, &b.annotator);
                blind_order(&self.ws.project, &order)
            }
        };
    }

    pub fn is_blind(&self) -> bool {
        self.blind.is_some()
    }

    /// Turns blind mode on (for `annotator`) or off. Turning it on clears the gallery's
    /// filter, which could show what the labels are.
    pub fn set_blind(&mut self, on: bool, annotator: &str) {
        self.blind = on.then(|| Blind {
            annotator: annotator.to_string(),
            own: HashMap::new(),
        });
        if on {
            self.filter = Filter::default();
        }
        self.refresh_order();
    }

    /// (Re)reads the stored suggestions; says how many images have one.
    pub fn load_prelabels(&mut self) -> Result<Option<String>, String> {
        self.prelabels = None;
        let pre = PreLabels::load(&self.ws.project, &self.ws.path)
            .map_err(|e| format!("suggestions not loaded: {e}"))?;
        let note = pre.as_ref().map(|pre| {
            let lost = if pre.unmatched > 0 {
                format!(" ({} for images the project no longer has)", pre.unmatched)
            } else {
                String::new()
            };
            format!(
                "suggestions of \"{}\" for {} images{lost}",
                pre.model,
                pre.len()
            )
        });
        self.prelabels = pre;
        Ok(note)
    }

    /// Accepts the model's suggestion for `id` (`quality::prelabels::accept_prelabel`; one
    /// undoable action). Refused in blind mode, where suggestions are hidden.
    pub fn accept_prelabel(&mut self, id: ImageId, annotator: &str) -> Result<(), String> {
        if self.is_blind() {
            return Err("blind mode is on: suggestions are hidden and Enter accepts none".into());
        }
        let pre = self
            .prelabels
            .as_ref()
            .ok_or("no suggestions: `leukolens predict` makes them")?;
        let change = accept_prelabel(&mut self.ws, pre, id, annotator)?;
        self.undo.push(vec![change]);
        self.refresh_order();
        Ok(())
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

    /// Replaces the selection; the first image becomes the cursor.
    pub fn select(&mut self, ids: Vec<ImageId>) {
        self.selection = Selection {
            cursor: ids.first().copied(),
            ids,
        }
    }

    /// Adds an image to the selection or removes it (Ctrl-click); it becomes the cursor.
    pub fn toggle_select(&mut self, id: ImageId) {
        if let Some(k) = self.selection.ids.iter().position(|&i| i == id) {
            self.selection.ids.remove(k);
        } else {
            self.selection.ids.push(id);
        }
        self.selection.cursor = Some(id);
    }

    /// Selects from the cursor to `id` in gallery order (Shift-click).
    pub fn select_range_to(&mut self, id: ImageId) {
        let from = self
            .selection
            .cursor
            .and_then(|c| self.position(c))
            .unwrap_or(0);
        if let Some(to) = self.position(id) {
            let (a, b) = (from.min(to), from.max(to));
            self.selection.ids = self.order[a..=b].to_vec();
            self.selection.cursor = Some(id);
        }
    }

    /// Assigns `class` to every selected image as one undoable action (in blind mode too: a class
    /// the image has already is recorded as the annotator's confirmation). With `auto_advance`, a single selection moves on to the
    /// next image.
    pub fn assign(
        &mut self,
        class: ClassId,
        annotator: &str,
        auto_advance: bool,
    ) -> Result<(), String> {
        let ids = self.selection.ids.clone();
        if ids.is_empty() {
            return Ok(());
        }
        let changes = self
            .ws
            .set_labels(&ids, class, annotator)
            .map_err(|e| format!("label not changed: {e}"))?;
        self.undo.push(changes);
        if auto_advance && ids.len() == 1 {
            let next = self
                .position(ids[0])
                .and_then(|k| self.order.get(k + 1).copied());
            self.refresh_order();
            if let Some(n) = next.filter(|n| self.order.contains(n)) {
                self.selection = Selection::single(n);
            }
        } else {
            self.refresh_order();
        }
        Ok(())
    }

    /// Undoes (or redoes) one action; the images it touched become the selection.
    pub fn undo_redo(&mut self, undo: bool, annotator: &str) -> Result<(), String> {
        let r = if undo {
            self.undo.undo(&mut self.ws, annotator)
        } else {
            self.undo.redo(&mut self.ws, annotator)
        };
        match r {
            Ok(Some(changes)) => {
                self.selection.ids = changes.iter().map(|c| c.image).collect();
                self.selection.cursor = self.selection.ids.first().copied();
                self.refresh_order();
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(format!(
                "{} failed: {e}",
                if undo { "undo" } else { "redo" }
            )),
        }
    }

    /// Moves the cursor to the next image nobody has reviewed.
    pub fn next_unreviewed(&mut self) -> Result<(), String> {
        match query::next_unreviewed(&self.ws.project, &self.order, self.selection.cursor) {
            Some(n) => {
                self.selection = Selection::single(n);
                Ok(())
            }
            None => Err("every image shown has been reviewed".into()),
        }
    }

    /// Moves the cursor by `d` images in gallery order (clamped to the ends).
    pub fn step(&mut self, d: isize) {
        if self.order.is_empty() {
            return;
        }
        let cur = self
            .selection
            .cursor
            .and_then(|c| self.position(c))
            .unwrap_or(0) as isize;
        let n = (cur + d).clamp(0, self.order.len() as isize - 1) as usize;
        self.selection = Selection::single(self.order[n]);
    }

    /// A new filter; the selection keeps only the images still shown.
    pub fn set_filter(&mut self, f: Filter) {
        self.filter = f;
        self.refresh_order();
        let order = &self.order;
        self.selection.ids.retain(|id| order.contains(id));
        if self.selection.cursor.is_none_or(|c| !order.contains(&c)) {
            self.selection.cursor = order.first().copied();
            self.selection.ids = self.selection.cursor.into_iter().collect();
        }
    }

    pub fn set_sort(&mut self, s: Sort) {
        self.sort = s;
        self.refresh_order();
    }

    /// Edits the taxonomy and saves the project; refusals come from the core taxonomy.
    pub fn edit_taxonomy(&mut self, edit: TaxonomyEdit) -> Result<(), String> {
        self.ws
            .check_writable()
            .map_err(|e| format!("class not changed: {e}"))?;
        let t = &mut self.ws.project.taxonomy;
        let r = match edit {
            TaxonomyEdit::Rename(id, name) => t.rename(id, &name),
            TaxonomyEdit::SetCode(id, code) => t.set_code(id, &code),
            TaxonomyEdit::Add(name) => t.add(&name, false).map(|_| ()),
            TaxonomyEdit::Recolor(id, c) => t.recolor(id, c),
            TaxonomyEdit::SetHotkey(id, k) => t.set_hotkey(id, k),
            TaxonomyEdit::SetPositive(id, b) => t.set_positive(id, b),
            TaxonomyEdit::Move(id, up) => t.move_class(id, up),
        };
        r.map_err(|e| format!("refused: {e}"))?;
        self.ws.mark_dirty();
        self.ws.save().map_err(|e| format!("could not save: {e}"))
    }
}

/// The progress of the background job shown in the status bar (import, hashing, embedding).
#[derive(Clone, Debug, PartialEq)]
pub struct JobStatus {
    pub job: JobId,
    pub what: String,
    pub done: usize,
    pub total: usize,
}

/// What the sweep screen shows, as far as other screens care (the explain screen follows it).
#[derive(Clone, Debug, Default)]
pub struct SweepShown {
    /// The name of the sweep shown, if any.
    pub name: Option<String>,
    /// Its finished runs so far.
    pub finished_runs: usize,
}

/// The read-only context every screen draws from. Screens read it and return commands.
pub struct Ctx<'a> {
    pub project: Option<&'a ProjectState>,
    pub settings: &'a Settings,
    pub messages: &'a [Message],
    /// The background job whose progress the status bar shows.
    pub status: Option<&'a JobStatus>,
    pub viewer_open: bool,
    /// The statistics panel is shown.
    pub show_stats: bool,
    /// A modal dialog (the annotator prompt) owns the keyboard.
    pub modal_open: bool,
    /// Where screens start the background work of their own views (the explain screen).
    pub jobs: &'a Jobs,
    pub sweep: SweepShown,
    /// The explanation overlay of the cursor image, for the large viewer (when asked for).
    pub overlay: Option<egui::TextureHandle>,
    /// The large viewer draws the overlay (the check box's state).
    pub overlay_in_viewer: bool,
}
