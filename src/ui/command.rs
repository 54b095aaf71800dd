//! What a screen may ask for. Screens never change the application state themselves: they
//! return [`Command`]s, which [`LeukoApp::apply`](super::app::LeukoApp::apply) executes in one
//! place. Screens import this module, never `app.rs`.

use std::path::PathBuf;

use crate::dataset::{Layout, MappingOverrides};
use crate::project::ImageId;
use crate::project::query::{Filter, Sort};
use crate::sweep::SweepConfig;
use crate::taxonomy::ClassId;

/// Everything a screen may ask for.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    OpenProject(PathBuf),
    /// Propose the class mapping of a folder (or CSV) and show it for editing before import.
    NewProject {
        source: PathBuf,
        layout: Option<Layout>,
        output: PathBuf,
    },
    /// Import a folder (or CSV) into a new project file with this class mapping (source name →
    /// class), in the background.
    Import {
        source: PathBuf,
        layout: Option<Layout>,
        output: PathBuf,
        mapping: MappingOverrides,
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
    /// Show or hide a window or panel.
    SetWindow(Window, bool),
    /// Draw the explanation of the current cell over the large viewer.
    SetOverlayInViewer(bool),
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
    /// Start (or resume, when the project has a saved sweep of this name) a training-size
    /// sweep in the background, through `sweep::start`.
    StartSweep(SweepConfig),
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
    /// Write these files (path, bytes) together, then show the message; when some exist, ask
    /// first (see `ui::overwrite`). The project's own files are never written.
    WriteFiles(Vec<(PathBuf, Vec<u8>)>, String),
    /// The answer to "Replace existing files?": write them (true) or not.
    AnswerOverwrite(bool),
    /// Which training size's confusion matrix the sweep screen shows.
    SetSweepMatrixSize(usize),
    /// Which finished run's learning curve the sweep screen shows (`None`: the current run, or
    /// the last finished one).
    ShowSweepRun(Option<crate::sweep::design::RunKey>),
    /// Start (or resume, when a saved audit has the name) an audit of the current labels in
    /// the background, as a sweep shown on the sweep screen (from the audit dialog).
    StartAudit(crate::quality::audit::AuditRequest),
    /// (Re)load the Review panel's queues from the latest audit and the journal.
    LoadReview,
    /// Move to the next (`true`) or previous image of the Review panel's queue.
    ReviewStep(bool),
    /// Show another queue of the Review panel.
    SetReviewQueue(Queue),
    /// Blind mode: hide the original label, other annotators' labels, predictions and
    /// suggestions on the gallery, the viewer and the Review panel, in a seeded random order.
    SetBlind(bool),
    /// Accept the model's stored suggestion for this image (`leukolens predict`; journaled
    /// with the model as source).
    AcceptPreLabel(ImageId),
    /// Read the stored suggestions again.
    ReloadSuggestions,
    /// Show the Label next queue spread over the audit's probabilities (`quality::spread`).
    SetSpread(bool),
    /// Order the Likely mislabelled queue by this score and flag this set
    /// (`quality::confident`); the queue is computed again.
    SetSuspectMethod(
        crate::quality::confident::Rank,
        crate::quality::confident::Filter,
    ),
    /// Accept the audit's suggestion for this image (journaled with the audit as source).
    AcceptSuggestion(ImageId),
    /// The image's label is right as it is (journaled confirmation; it leaves the queue).
    ConfirmLabel(ImageId),
    /// Set the consensus label of an image annotators disagree on.
    Adjudicate(ImageId, ClassId),
}

/// The queues of the Review panel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Queue {
    /// The audit's suspects, most suspicious first.
    #[default]
    Mislabelled,
    /// Images nobody reviewed, most uncertain first.
    LabelNext,
    /// Images annotators labelled differently.
    Disagreements,
}

/// The windows and panels that other screens open and close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The statistics panel at the right.
    Stats,
    Taxonomy,
    Sweep,
    Explain,
    Review,
    /// Train → Audit labels…: the audit's settings.
    Audit,
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

/// A filter that shows exactly these images (e.g. a confusion-matrix cell).
pub fn only(ids: Vec<ImageId>) -> Filter {
    Filter {
        only: Some(ids),
        ..Default::default()
    }
}
