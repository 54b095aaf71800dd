//! The project file (RON, versioned, saved atomically), its label journal, and the
//! [`Workspace`] that applies label changes journal-first.

pub mod disk;
pub mod ids;
pub mod journal;
pub mod labels;
pub mod lock;
pub mod query;
pub mod store;
pub mod undo;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::dataset::{self, ImportOutcome, Layout};
use crate::sweep::config::SweepConfig;
use crate::taxonomy::{ClassId, Taxonomy};
use crate::train::config::ExperimentConfig;
use disk::{Disk, RealDisk};
pub use ids::ImageId;
pub use journal::{Journal, JournalEntry};
use lock::{Holder, LockInfo, ProjectLock};
pub use store::{atomic_write, backup_path, project_dir, relative_path};

/// Version of the project file format written by this build. Version 2 added each image's
/// per-annotator labels ([`ImageEntry::given`]); version 1 files get them from the journal
/// when they are read (`migrate`).
pub const PROJECT_VERSION: u32 = 2;

/// One image of the project: where it is, what it is, what it was.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageEntry {
    pub id: ImageId,
    /// Path relative to the dataset root, '/'-separated.
    pub path: String,
    /// BLAKE3 content hash (hex): finds the file again after the dataset moved.
    pub hash: String,
    /// The label exactly as the source dataset gave it (folder, code, prefix).
    #[serde(default)]
    pub source_label: String,
    /// The label from the source dataset, mapped onto the taxonomy. Never changed.
    pub original: ClassId,
    /// The current label (after re-annotation).
    pub current: ClassId,
    /// A person has looked at it (assigned or confirmed a class).
    #[serde(default)]
    pub reviewed: bool,
    /// Each annotator's own label of this image: the last class they gave it (annotator →
    /// class; a confirmation of the label it had counts, and so does an undo: see
    /// [`Workspace::apply_from`]). `current` stays the consensus. Written only for images
    /// somebody labelled.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub given: BTreeMap<String, ClassId>,
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
}

/// The project file's contents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub version: u32,
    pub name: String,
    /// Dataset root, relative to the project file's folder where possible.
    pub dataset_root: String,
    #[serde(default)]
    pub layout: Option<Layout>,
    pub taxonomy: Taxonomy,
    /// Everyone who changed a label, in order of first appearance.
    #[serde(default)]
    pub annotators: Vec<String>,
    /// Master seed: splits, initialisation and augmentation derive from it.
    pub seed: u64,
    #[serde(default)]
    pub experiments: Vec<ExperimentConfig>,
    /// Training-size sweeps (k-fold cross-validation over nested training sets).
    #[serde(default)]
    pub sweeps: Vec<SweepConfig>,
    /// Sequence number of the last journal entry included in this file.
    #[serde(default)]
    pub journal_seq: u64,
    pub images: Vec<ImageEntry>,
}

#[derive(Debug, Error)]
pub enum ProjectError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: line {line}, column {column}: {message} (the file was left untouched; {backup})"
    )]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        /// Where the last backup is, or that there is none.
        backup: String,
    },
    #[error(
        "{path} was written by a newer leukolens (format version {found}; this build reads up to {PROJECT_VERSION})"
    )]
    TooNew { path: PathBuf, found: u32 },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(
        "{path} is open for writing by {holder}; close it there first (info, report and explain \
         still work meanwhile)"
    )]
    Locked { path: PathBuf, holder: Holder },
    #[error("cannot lock {path} for writing: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is open read-only here ({reason}): nothing was changed")]
    ReadOnly { path: PathBuf, reason: String },
    #[error(
        "could not write to the journal {path}: {source}. The label was not applied and nothing \
         saved was touched"
    )]
    Journal {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "could not save {path}: {source}. Every label is safe in the journal {journal}; the next \
         save that succeeds catches up"
    )]
    Save {
        path: PathBuf,
        journal: PathBuf,
        source: std::io::Error,
    },
    #[error("no image with id {0:?}")]
    UnknownImage(ImageId),
    #[error("no class with id {0}")]
    UnknownClass(ClassId),
}

#[derive(Deserialize)]
#[serde(rename = "Project")]
struct VersionProbe {
    version: u32,
}

impl Project {
    /// A project from an import. `project_path` is where the file will live; the dataset root
    /// is stored relative to its folder where possible.
    pub fn from_import(
        name: &str,
        project_path: &Path,
        outcome: &ImportOutcome,
        seed: u64,
    ) -> Self {
        let images = outcome
            .images
            .iter()
            .enumerate()
            .map(|(i, im)| ImageEntry {
                id: ImageId(i as u32),
                path: im.rel_path.clone(),
                hash: im.hash.clone(),
                source_label: im.source_label.clone(),
                original: im.class,
                current: im.class,
                reviewed: false,
                given: BTreeMap::new(),
                width: im.width,
                height: im.height,
            })
            .collect();
        Self {
            version: PROJECT_VERSION,
            name: name.to_string(),
            dataset_root: relative_path(project_dir(project_path), &outcome.root),
            layout: outcome.report.layout,
            taxonomy: outcome.taxonomy.clone(),
            annotators: Vec::new(),
            seed,
            experiments: Vec::new(),
            sweeps: Vec::new(),
            journal_seq: 0,
            images,
        }
    }

    /// Parses a project file's text; `path` is used in messages only.
    pub fn from_ron(text: &str, path: &Path) -> Result<Self, ProjectError> {
        let backup = backup_words(path);
        if text.trim().is_empty() {
            return Err(ProjectError::Invalid {
                path: path.to_path_buf(),
                message: format!("the file is empty ({backup})"),
            });
        }
        let syntax = |e: ron::error::SpannedError| ProjectError::Syntax {
            path: path.to_path_buf(),
            line: e.span.start.line,
            column: e.span.start.col,
            message: crate::quote::clip(&e.code.to_string()),
            backup: backup.clone(),
        };
        let probe: VersionProbe = ron::from_str(text).map_err(syntax)?;
        check_version(probe.version, path)?;
        let mut project: Project = ron::from_str(text).map_err(syntax)?;
        migrate(&mut project, probe.version, path)?;
        project.validate(path)?;
        Ok(project)
    }

    /// Serialises to pretty RON.
    pub fn to_ron(&self) -> String {
        let cfg = ron::ser::PrettyConfig::new()
            .depth_limit(4)
            .indentor("  ".to_string())
            .compact_arrays(true);
        ron::ser::to_string_pretty(self, cfg).expect("a project always serialises")
    }

    /// Reads a project file (without replaying the journal: see [`Workspace::open`]).
    pub fn load(path: &Path) -> Result<Self, ProjectError> {
        let bytes = std::fs::read(path).map_err(|source| ProjectError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            let (line, column) = line_column(&bytes[..e.valid_up_to()]);
            ProjectError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                message: "the file is not valid UTF-8 text (a damaged or foreign file)".into(),
                backup: backup_words(path),
            }
        })?;
        Self::from_ron(text, path)
    }

    /// Saves atomically (temp file, fsync, rename), keeping the previous file as a backup.
    pub fn save(&self, path: &Path) -> Result<(), ProjectError> {
        store::save_with_backup(path, self.to_ron().as_bytes()).map_err(|source| {
            ProjectError::Write {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// Absolute (or project-relative-resolved) dataset root.
    pub fn dataset_dir(&self, project_path: &Path) -> PathBuf {
        let root = Path::new(&self.dataset_root);
        if root.is_absolute() {
            root.to_path_buf()
        } else {
            project_dir(project_path).join(root)
        }
    }

    /// Full path of an image file.
    pub fn image_path(&self, project_path: &Path, image: &ImageEntry) -> PathBuf {
        self.dataset_dir(project_path).join(&image.path)
    }

    pub fn image(&self, id: ImageId) -> Option<&ImageEntry> {
        // Ids are assigned densely at import; fall back to a search if they were not.
        match self.images.get(id.0 as usize) {
            Some(im) if im.id == id => Some(im),
            _ => self.images.iter().find(|im| im.id == id),
        }
    }

    fn image_mut(&mut self, id: ImageId) -> Option<&mut ImageEntry> {
        let index = match self.images.get(id.0 as usize) {
            Some(im) if im.id == id => Some(id.0 as usize),
            _ => self.images.iter().position(|im| im.id == id),
        };
        index.map(move |i| &mut self.images[i])
    }

    /// Number of images per class (current labels), in taxonomy order.
    pub fn counts(&self) -> Vec<(ClassId, usize, usize)> {
        self.taxonomy
            .classes
            .iter()
            .map(|c| {
                let cur = self.images.iter().filter(|im| im.current == c.id).count();
                let orig = self.images.iter().filter(|im| im.original == c.id).count();
                (c.id, cur, orig)
            })
            .collect()
    }

    /// The classes a task can train on: every class with images (current labels) except the
    /// "Unlabelled" one, in taxonomy order. The default class list of multiclass tasks.
    pub fn trainable_classes(&self) -> Vec<ClassId> {
        self.taxonomy
            .classes
            .iter()
            .map(|c| c.id)
            .filter(|&id| !self.taxonomy.is_unlabelled(id))
            .filter(|&id| self.images.iter().any(|im| im.current == id))
            .collect()
    }

    /// How many images are in the "Unlabelled" class (left out of every training).
    pub fn unlabelled_count(&self) -> usize {
        match self.taxonomy.unlabelled() {
            Some(u) => self.images.iter().filter(|im| im.current == u).count(),
            None => 0,
        }
    }

    /// Re-links the project to a moved dataset folder: every image is found again by its content
    /// hash. Returns how many images were found; paths of the others are left as they were.
    pub fn relink(
        &mut self,
        project_path: &Path,
        new_root: &Path,
        progress: dataset::Progress<'_>,
    ) -> Result<usize, dataset::ImportError> {
        let tree = dataset::hash_tree(new_root, progress)?;
        Ok(self.relink_with(project_path, new_root, &tree))
    }

    /// Re-links with an already computed `dataset::hash_tree` of `new_root` (so the hashing can
    /// run in the background). Returns how many images were found.
    pub fn relink_with(
        &mut self,
        project_path: &Path,
        new_root: &Path,
        tree: &[(String, String)],
    ) -> usize {
        // Every file of each content, so that two images with the same content (copies) keep
        // two files: an image takes the file with its own relative path, else one with its
        // file name, else the first not yet taken.
        let mut by_hash: std::collections::HashMap<&str, Vec<&str>> = Default::default();
        for (h, p) in tree {
            by_hash.entry(h.as_str()).or_default().push(p.as_str());
        }
        let mut taken: std::collections::HashSet<&str> = Default::default();
        let mut new_path: Vec<Option<String>> = vec![None; self.images.len()];
        let file_name = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
        for pass in 0..3 {
            for (k, im) in self.images.iter().enumerate() {
                if new_path[k].is_some() {
                    continue;
                }
                let Some(files) = by_hash.get(im.hash.as_str()) else {
                    continue;
                };
                let pick =
                    files
                        .iter()
                        .copied()
                        .filter(|f| !taken.contains(f))
                        .find(|f| match pass {
                            0 => *f == im.path,
                            1 => file_name(f) == file_name(&im.path),
                            _ => true,
                        });
                if let Some(f) = pick {
                    taken.insert(f);
                    new_path[k] = Some(f.to_string());
                }
            }
        }
        let found = new_path.iter().filter(|p| p.is_some()).count();
        if found == 0 {
            // Nothing is there: the project stays exactly as it was.
            return 0;
        }
        // Images not found keep pointing at their old files, now relative to the new root.
        let old_root = self.dataset_dir(project_path);
        for (im, p) in self.images.iter_mut().zip(new_path) {
            im.path = match p {
                Some(p) => p,
                None => relative_path(new_root, &old_root.join(&im.path)),
            };
        }
        self.dataset_root = relative_path(project_dir(project_path), new_root);
        found
    }

    /// The image a journal entry names: its id when the content hash agrees, else the image
    /// with the entry's hash (ids renumbered), else none.
    pub fn journal_image(&self, e: &JournalEntry) -> Option<ImageId> {
        match self.image(e.image) {
            Some(im) if im.hash == e.hash => Some(e.image),
            _ => self
                .images
                .iter()
                .find(|im| im.hash == e.hash)
                .map(|im| im.id),
        }
    }

    /// Applies one journal entry: the image's current label and its annotator's own label
    /// ([`ImageEntry::given`]) become the entry's class, the image is reviewed and the
    /// annotator listed. The same rule for a change as it is made and for the replay. An
    /// entry naming an unknown class or image changes nothing; the error says which.
    fn apply_entry(&mut self, e: &JournalEntry) -> Result<(), &'static str> {
        if self.taxonomy.get(e.new).is_none() {
            return Err("names an unknown class");
        }
        let id = self.journal_image(e).ok_or("names an unknown image")?;
        if let Some(im) = self.image_mut(id) {
            im.current = e.new;
            im.reviewed = true;
            im.given.insert(e.annotator.clone(), e.new);
        }
        if !self.annotators.contains(&e.annotator) {
            self.annotators.push(e.annotator.clone());
        }
        Ok(())
    }

    /// Rebuilds every image's per-annotator labels ([`ImageEntry::given`]) from journal
    /// entries, in sequence order, taking only those this file already includes (sequence
    /// number up to `journal_seq`): the migration of version 1 files. Entries naming an unknown
    /// class or image are skipped, as the replay skips them. Current labels are not touched.
    pub fn rebuild_given(&mut self, entries: &[JournalEntry]) {
        let mut sorted: Vec<&JournalEntry> = entries
            .iter()
            .filter(|e| e.seq <= self.journal_seq)
            .collect();
        sorted.sort_by_key(|e| e.seq);
        for im in &mut self.images {
            im.given.clear();
        }
        for e in sorted {
            if self.taxonomy.get(e.new).is_none() {
                continue;
            }
            if let Some(id) = self.journal_image(e)
                && let Some(im) = self.image_mut(id)
            {
                im.given.insert(e.annotator.clone(), e.new);
            }
        }
    }

    fn validate(&self, path: &Path) -> Result<(), ProjectError> {
        let invalid = |message: String| ProjectError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        self.taxonomy
            .validate()
            .map_err(|e| invalid(crate::quote::clip(&format!("taxonomy: {e}"))))?;
        let mut ids = std::collections::HashMap::new();
        for im in &self.images {
            if let Some(first) = ids.insert(im.id, &im.path) {
                return Err(invalid(format!(
                    "image id {} is used twice (by {} and {}); every image needs its own id \
                     (the file was left untouched)",
                    im.id.0,
                    crate::quote::quote(first),
                    crate::quote::quote(&im.path)
                )));
            }
            let given = im
                .given
                .iter()
                .map(|(who, &c)| (format!("{}'s", crate::quote::quote(who)), c));
            for (what, c) in [
                ("original".to_string(), im.original),
                ("current".to_string(), im.current),
            ]
            .into_iter()
            .chain(given)
            {
                if self.taxonomy.get(c).is_none() {
                    return Err(invalid(format!(
                        "image {} ({}): {what} label {c} is not in the taxonomy",
                        im.id.0,
                        crate::quote::quote(&im.path)
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Where the last backup of a project file is, or that there is none (for error messages).
fn backup_words(path: &Path) -> String {
    let backup = backup_path(path);
    if backup.is_file() {
        format!("its last backup is {}", backup.display())
    } else {
        "there is no backup of it".to_string()
    }
}

/// The 1-based line and column (in characters) just after `valid`, a valid UTF-8 prefix.
fn line_column(valid: &[u8]) -> (usize, usize) {
    let text = std::str::from_utf8(valid).unwrap_or_default();
    let line = text.matches('\n').count() + 1;
    let column = text.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// Refuses versions this build cannot read, before the rest of the file is parsed (a newer
/// file may have fields this build does not know).
fn check_version(version: u32, path: &Path) -> Result<(), ProjectError> {
    match version {
        1..=PROJECT_VERSION => Ok(()),
        v if v > PROJECT_VERSION => Err(ProjectError::TooNew {
            path: path.to_path_buf(),
            found: v,
        }),
        v => Err(ProjectError::Invalid {
            path: path.to_path_buf(),
            message: format!("unknown format version {v}"),
        }),
    }
}

/// Brings a project read from an older format up to the current one (the migration hook).
/// Version 1 has no per-annotator labels: they are rebuilt from the journal beside `path`
/// ([`Project::rebuild_given`], from the entries the file already includes; newer ones are
/// replayed by [`Workspace::open`]). The next save writes the current version.
fn migrate(project: &mut Project, version: u32, path: &Path) -> Result<(), ProjectError> {
    if version < 2 {
        let jpath = Journal::path_for(path);
        let read = Journal::read(&jpath).map_err(|source| ProjectError::Read {
            path: jpath.clone(),
            source,
        })?;
        project.rebuild_given(&read.entries);
    }
    project.version = PROJECT_VERSION;
    Ok(())
}

/// One label change as the caller asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelChange {
    pub image: ImageId,
    pub old: ClassId,
    pub new: ClassId,
}

/// An open project: the file, its journal and who is annotating. Label changes go to the journal
/// (synced) before they change the in-memory project, so no acknowledged label is ever lost.
///
/// One writer per project: [`Workspace::open`] and [`Workspace::create`] take the project's OS
/// lock ([`lock`]) and fail with [`ProjectError::Locked`] while another process holds it.
/// [`Workspace::open_read_only`] takes no lock; such a workspace refuses every change.
#[derive(Debug)]
pub struct Workspace {
    pub path: PathBuf,
    pub project: Project,
    journal: Journal,
    /// Changes since the last save.
    dirty: bool,
    /// Messages about the opening (journal entries replayed, damaged lines ignored).
    pub open_notes: Vec<String>,
    /// The project file as this workspace last read or wrote it (path, length, modification
    /// time): a different file on disk at the next save means another process wrote it.
    disk: Option<(PathBuf, u64, std::time::SystemTime)>,
    /// The writer's lock; `None` in a read-only workspace.
    lock: Option<ProjectLock>,
    /// Why this workspace is read-only (who holds the lock), `None` for the writer.
    read_only: Option<String>,
    /// Where the journal appends and saves go (the file system; tests inject failures).
    storage: Arc<dyn Disk>,
}

/// Length and modification time of a file, for noticing that someone else wrote it.
fn disk_stamp(path: &Path) -> Option<(PathBuf, u64, std::time::SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    Some((path.to_path_buf(), m.len(), m.modified().ok()?))
}

impl Workspace {
    /// Creates a new project file (and an empty journal) at `path`.
    pub fn create(path: &Path, project: Project) -> Result<Self, ProjectError> {
        // The lock file lives beside the project: its folder first.
        std::fs::create_dir_all(project_dir(path)).map_err(|source| ProjectError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        let lock = take_lock(path, &default_annotator())?;
        project.save(path)?;
        let jpath = Journal::path_for(path);
        // A journal left from an older project of the same name must not be replayed into this one.
        if jpath.exists() {
            let _ = std::fs::rename(&jpath, backup_path(&jpath));
        }
        let journal =
            Journal::open(&jpath, project.journal_seq).map_err(|source| ProjectError::Read {
                path: jpath.clone(),
                source,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            project,
            journal,
            dirty: false,
            open_notes: Vec::new(),
            disk: disk_stamp(path),
            lock: Some(lock),
            read_only: None,
            storage: Arc::new(RealDisk),
        })
    }

    /// Opens a project for writing (taking its lock; see [`Workspace::open_as`]) as the user
    /// the environment names.
    pub fn open(path: &Path) -> Result<Self, ProjectError> {
        Self::open_as(path, &default_annotator())
    }

    /// Opens a project for writing: takes its lock, recording `annotator` as the holder, then
    /// reads it and replays journal entries newer than its last save. Fails with
    /// [`ProjectError::Locked`] while another process holds the lock.
    pub fn open_as(path: &Path, annotator: &str) -> Result<Self, ProjectError> {
        std::fs::metadata(path).map_err(|source| ProjectError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let lock = take_lock(path, annotator)?;
        Self::read(path, Some(lock), None)
    }

    /// Opens a project for reading only (no lock; every change is refused), as it is on disk
    /// now, journal included. `reason` is what the GUI's banner says; by default who holds the
    /// lock, if anyone.
    pub fn open_read_only(path: &Path) -> Result<Self, ProjectError> {
        let reason = match ProjectLock::holder(path) {
            Some(holder) => format!("{holder} holds it for writing"),
            None => "opened for reading only".to_string(),
        };
        Self::open_read_only_because(path, reason)
    }

    /// [`Workspace::open_read_only`] with the reason given.
    pub fn open_read_only_because(path: &Path, reason: String) -> Result<Self, ProjectError> {
        Self::read(path, None, Some(reason))
    }

    /// Reads a project and replays journal entries newer than its last save.
    fn read(
        path: &Path,
        lock: Option<ProjectLock>,
        read_only: Option<String>,
    ) -> Result<Self, ProjectError> {
        let mut project = Project::load(path)?;
        let jpath = Journal::path_for(path);
        let read = Journal::read(&jpath).map_err(|source| ProjectError::Read {
            path: jpath.clone(),
            source,
        })?;
        let mut notes = read.bad_line_notes(&jpath);
        let mut replayed = 0;
        let saved_seq = project.journal_seq;
        let mut max_seq = saved_seq;
        for e in read.entries.iter().filter(|e| e.seq > saved_seq) {
            max_seq = max_seq.max(e.seq);
            match project.apply_entry(e) {
                Ok(()) => replayed += 1,
                Err(why) => notes.push(format!("journal entry {} {why}; ignored", e.seq)),
            }
        }
        if replayed > 0 {
            notes.push(format!(
                "recovered {replayed} label change(s) from the journal that were not yet saved"
            ));
        }
        let dirty = max_seq > project.journal_seq && read_only.is_none();
        project.journal_seq = max_seq;
        let journal = Journal::open(&jpath, max_seq).map_err(|source| ProjectError::Read {
            path: jpath.clone(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            project,
            journal,
            dirty,
            open_notes: notes,
            disk: disk_stamp(path),
            lock,
            read_only,
            storage: Arc::new(RealDisk),
        })
    }

    /// Changes since the last save (never in a read-only workspace: it cannot save).
    pub fn is_dirty(&self) -> bool {
        self.dirty && self.read_only.is_none()
    }

    /// Why this workspace is read-only (e.g. who holds the project's lock); `None` when it is
    /// the project's writer.
    pub fn read_only(&self) -> Option<&str> {
        self.read_only.as_deref()
    }

    /// The writer's lock details (this process), `None` when read-only.
    pub fn lock_info(&self) -> Option<&LockInfo> {
        self.lock.as_ref().map(|l| l.info())
    }

    /// An error in words when this workspace may not change anything.
    pub fn check_writable(&self) -> Result<(), ProjectError> {
        match &self.read_only {
            Some(reason) => Err(ProjectError::ReadOnly {
                path: self.path.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Records who annotates in the lock file, for a second opener to read.
    pub fn set_annotator(&mut self, annotator: &str) {
        if let Some(lock) = &mut self.lock
            && let Err(e) = lock.set_annotator(annotator)
        {
            tracing::warn!("could not update {}: {e}", lock.path().display());
        }
    }

    /// Sends the journal's appends and the saves through `disk` (tests make the disk fail).
    pub fn set_disk(&mut self, disk: Arc<dyn Disk>) {
        self.journal.set_disk(disk.clone());
        self.storage = disk;
    }

    /// The project, releasing the lock (for work that reads it long after, like a sweep).
    pub fn into_project(self) -> Project {
        self.project
    }

    /// Sets `class` as the current label of each image; returns the changes made. An image
    /// that already had that class is marked reviewed, and when `annotator` had not given it
    /// that class yet, their confirmation is journaled (a line with old = new: it becomes
    /// their own label, [`ImageEntry::given`]) but not returned (there is nothing to undo).
    /// Journal first, then memory.
    pub fn set_labels(
        &mut self,
        images: &[ImageId],
        class: ClassId,
        annotator: &str,
    ) -> Result<Vec<LabelChange>, ProjectError> {
        self.check_writable()?;
        if self.project.taxonomy.get(class).is_none() {
            return Err(ProjectError::UnknownClass(class));
        }
        let mut changes = Vec::new();
        let mut confirmations = Vec::new();
        for &id in images {
            let im = self
                .project
                .image(id)
                .ok_or(ProjectError::UnknownImage(id))?;
            let change = LabelChange {
                image: id,
                old: im.current,
                new: class,
            };
            if im.current != class {
                changes.push(change);
            } else if im.given.get(annotator) != Some(&class) {
                confirmations.push(change);
            }
        }
        self.apply(&[changes.as_slice(), &confirmations].concat(), annotator)?;
        for &id in images {
            if let Some(im) = self.project.image_mut(id)
                && !im.reviewed
            {
                im.reviewed = true;
                self.dirty = true;
            }
        }
        Ok(changes)
    }

    /// Applies explicit changes (used by undo/redo: the reverse of a change is a change).
    /// Each change is journaled before it takes effect, and becomes `annotator`'s own label of
    /// the image ([`ImageEntry::given`]) as well as the current one. An undo is such a change
    /// by whoever undoes: afterwards their label is the class the undo put back (they saw the
    /// image return to it and left it there), exactly as the journal, read again, says.
    pub fn apply(&mut self, changes: &[LabelChange], annotator: &str) -> Result<(), ProjectError> {
        self.apply_from(changes, annotator, None)
    }

    /// [`Workspace::apply`] with the changes' source in their journal lines (an accepted
    /// suggestion: "audit NAME").
    pub fn apply_from(
        &mut self,
        changes: &[LabelChange],
        annotator: &str,
        source: Option<&str>,
    ) -> Result<(), ProjectError> {
        self.check_writable()?;
        if changes.is_empty() {
            return Ok(());
        }
        let mut rows = Vec::with_capacity(changes.len());
        for c in changes {
            let im = self
                .project
                .image(c.image)
                .ok_or(ProjectError::UnknownImage(c.image))?;
            if self.project.taxonomy.get(c.new).is_none() {
                return Err(ProjectError::UnknownClass(c.new));
            }
            rows.push((c.image, im.hash.clone(), c.old, c.new));
        }
        let written = self
            .journal
            .append_from(annotator, source, &rows)
            .map_err(|source| ProjectError::Journal {
                path: self.journal.path().to_path_buf(),
                source,
            })?;
        for e in &written {
            // Checked above: the image and the class exist.
            let _ = self.project.apply_entry(e);
        }
        self.project.journal_seq = self.journal.last_seq();
        self.dirty = true;
        Ok(())
    }

    /// Saves the project file (atomically). The journal stays: it is the audit trail. When the
    /// save fails the journal still holds every label, and the error says so.
    pub fn save(&mut self) -> Result<(), ProjectError> {
        self.check_writable()?;
        self.project.journal_seq = self.journal.last_seq();
        self.keep_what_others_saved();
        self.storage
            .save(&self.path, self.project.to_ron().as_bytes())
            .map_err(|source| ProjectError::Save {
                path: self.path.clone(),
                journal: self.journal.path().to_path_buf(),
                source,
            })?;
        self.journal.reopen_later();
        self.disk = disk_stamp(&self.path);
        self.dirty = false;
        Ok(())
    }

    /// When another process (the command line beside the app, say) has written this project
    /// file since this workspace read it, the experiments, sweeps and annotators it added are
    /// kept: this save would otherwise drop them. Labels need nothing here: this workspace's
    /// are current, and the other's are in the shared journal, replayed at the next opening.
    fn keep_what_others_saved(&mut self) {
        let now = disk_stamp(&self.path);
        if now.is_none() || self.disk.is_none() || now == self.disk {
            return;
        }
        if self.disk.as_ref().map(|d| &d.0) != Some(&self.path) {
            return; // saved under a new name: that file is not this project's past
        }
        let Ok(theirs) = Project::load(&self.path) else {
            return;
        };
        let p = &mut self.project;
        for e in theirs.experiments {
            if !p.experiments.iter().any(|x| x.name == e.name) {
                p.experiments.push(e);
            }
        }
        for w in theirs.sweeps {
            if !p.sweeps.iter().any(|x| x.name == w.name) {
                p.sweeps.push(w);
            }
        }
        for a in theirs.annotators {
            if !p.annotators.contains(&a) {
                p.annotators.push(a);
            }
        }
    }

    /// Marks the project as changed in ways the journal does not cover (taxonomy, experiments).
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// The whole audit trail of this project.
    pub fn history(&self) -> std::io::Result<Vec<JournalEntry>> {
        Ok(Journal::read(self.journal.path())?.entries)
    }
}

/// Takes the writer lock of the project at `path`, or says who holds it.
fn take_lock(path: &Path, annotator: &str) -> Result<ProjectLock, ProjectError> {
    match ProjectLock::acquire(path, annotator) {
        Ok(Ok(lock)) => Ok(lock),
        Ok(Err(holder)) => Err(ProjectError::Locked {
            path: path.to_path_buf(),
            holder,
        }),
        Err(source) => Err(ProjectError::Lock {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Who annotates when nobody said (the lock file, `leukolens label`): the login name, else
/// "unknown".
pub fn default_annotator() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}
