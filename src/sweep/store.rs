//! A sweep's folder on disk, and the only code that reads or writes one.
//!
//! Layout, beside the project file:
//! ```text
//! <project>.sweeps/<sweep name>/snapshot.ron          labels and configuration used (frozen)
//! <project>.sweeps/<sweep name>/runs/f00-n0010.ron    one finished run
//! <project>.sweeps/<sweep name>/models/f00-n0010.bpk  its best-validation weights
//! <project>.sweeps/<sweep name>/images-257px.cache    the images, decoded once per sweep
//! <project>.sweeps/<sweep name>/report/, explain/     what the report and the explanations write
//! ```
//! Every file is written atomically (temporary file, then rename): a crash leaves the old
//! file or the new one, never a torn one.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::{RunRecord, Snapshot};
use super::design::{self, RunKey};
use crate::nn::PaperCnn;
use crate::project::store::{atomic_write, project_dir};
use crate::train::experiment::safe_name;

/// A file of a sweep folder that could not be read. Its text is `<path>: <reason>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The file cannot be read at all (it does not exist, say).
    Io(String),
    /// The file was read but does not hold what it should.
    Invalid(String),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(m) | ReadError::Invalid(m) => f.write_str(m),
        }
    }
}

impl From<ReadError> for String {
    fn from(e: ReadError) -> String {
        e.to_string()
    }
}

/// The folder of one sweep's results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepDir {
    path: PathBuf,
}

impl SweepDir {
    /// The folder of the sweep `name` of the project at `project_path`:
    /// `<project>.sweeps/<name, file-name-safe>`.
    pub fn of(project_path: &Path, name: &str) -> SweepDir {
        SweepDir::at(sweeps_root(project_path).join(safe_name(name)))
    }

    /// A sweep folder anywhere (a shard's `--out` folder, say).
    pub fn at(path: impl Into<PathBuf>) -> SweepDir {
        SweepDir { path: path.into() }
    }

    /// The folder itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The snapshot file.
    pub fn snapshot_path(&self) -> PathBuf {
        self.path.join("snapshot.ron")
    }

    /// Whether the folder holds a snapshot (the sweep has been started).
    pub fn has_snapshot(&self) -> bool {
        self.snapshot_path().is_file()
    }

    /// The snapshot the sweep was started with.
    pub fn read_snapshot(&self) -> Result<Snapshot, ReadError> {
        read_ron(&self.snapshot_path())
    }

    /// Writes the snapshot (creating the folder).
    pub fn write_snapshot(&self, snapshot: &Snapshot) -> Result<(), String> {
        write_ron(&self.snapshot_path(), snapshot)
    }

    /// Creates the folder and its `runs` folder.
    pub fn create(&self) -> Result<(), String> {
        let runs = self.path.join("runs");
        std::fs::create_dir_all(&runs).map_err(|e| format!("{}: {e}", self.path.display()))
    }

    fn run_path(&self, key: RunKey) -> PathBuf {
        self.path
            .join("runs")
            .join(format!("f{:02}-n{:04}.ron", key.fold, key.size))
    }

    /// The best-validation weights of one run.
    pub fn model_path(&self, key: RunKey) -> PathBuf {
        self.path
            .join("models")
            .join(format!("f{:02}-n{:04}.bpk", key.fold, key.size))
    }

    /// The decoded images of the sweep at `side` pixels (kept so that resuming decodes nothing).
    pub fn image_cache_path(&self, side: u32) -> PathBuf {
        self.path.join(format!("images-{side}px.cache"))
    }

    /// Where the report (HTML, CSV, SVG and PNG figures) is written by default.
    pub fn report_dir(&self) -> PathBuf {
        self.path.join("report")
    }

    /// Where the desktop application saves explanation images.
    pub fn explain_dir(&self) -> PathBuf {
        self.path.join("explain")
    }

    /// The finished runs (by key), and the run files left out, with the reason: files that
    /// cannot be read, and runs trained under another snapshot than the folder's (other labels
    /// or settings: [`Snapshot::accepts`]). Resuming the sweep trains those runs again. One
    /// pass over the folder.
    pub fn read_runs(&self) -> (Vec<RunRecord>, Vec<(PathBuf, String)>) {
        let snapshot = self.read_snapshot().ok();
        let (mut runs, mut left_out) = (Vec::new(), Vec::new());
        if let Ok(rd) = std::fs::read_dir(self.path.join("runs")) {
            for e in rd.flatten() {
                if e.path().extension().is_some_and(|x| x == "ron") {
                    match read_ron::<RunRecord>(&e.path()) {
                        Ok(r) => match snapshot.as_ref().map(|s| s.accepts(&r)) {
                            Some(Err(why)) => left_out.push((e.path(), why)),
                            _ => runs.push(r),
                        },
                        Err(why) => left_out.push((e.path(), format!("it cannot be read: {why}"))),
                    }
                }
            }
        }
        runs.sort_by_key(|r| r.key);
        left_out.sort();
        (runs, left_out)
    }

    /// The finished runs ([`SweepDir::read_runs`] without the files left out).
    pub fn runs(&self) -> Vec<RunRecord> {
        self.read_runs().0
    }

    /// The run files left out, with the reason ([`SweepDir::read_runs`]).
    pub fn damaged_runs(&self) -> Vec<(PathBuf, String)> {
        self.read_runs().1
    }

    /// The runs that have a saved model, in order.
    pub fn models(&self) -> Vec<RunKey> {
        let mut keys = Vec::new();
        if let Ok(rd) = std::fs::read_dir(self.path.join("models")) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let parsed = name
                    .strip_suffix(".bpk")
                    .and_then(|s| s.strip_prefix('f'))
                    .and_then(|s| s.split_once("-n"))
                    .and_then(|(f, n)| Some((f.parse().ok()?, n.parse().ok()?)));
                if let Some((fold, size)) = parsed {
                    keys.push(RunKey { fold, size });
                }
            }
        }
        keys.sort();
        keys
    }

    /// Stores a finished run: its model first (when it has one, with its digest), then its
    /// record, so that a stored record always has its model.
    pub fn write_run(&self, record: &RunRecord, model: Option<&PaperCnn>) -> Result<(), String> {
        if let Some(m) = model {
            // Atomic (temporary file synced, then renamed) with its digest beside it: a crash
            // leaves the old model or the whole new one.
            m.save(&self.model_path(record.key))?;
        }
        write_ron(&self.run_path(record.key), record)
    }

    /// Merges the runs of shard folders into this folder, all or nothing. Everything is checked
    /// before anything is written: every shard's snapshot is readable and the same as this
    /// folder's (when it has one; `expected`, when given, must match too), every run file parses
    /// and belongs to that snapshot, and every model loads. Any problem refuses the whole merge
    /// and lists every problem found. Runs already here, or in an earlier shard, are skipped
    /// and listed.
    pub fn merge(
        &self,
        shards: &[SweepDir],
        expected: Option<&super::config::SweepConfig>,
    ) -> Result<MergeReport, String> {
        let plan = self.plan_merge(shards, expected)?;
        self.create()?;
        if !self.has_snapshot() {
            self.write_snapshot(&plan.snapshot)?;
        }
        for (shard, r) in &plan.copy {
            self.copy_run_from(shard, r)?;
        }
        Ok(MergeReport {
            copied: plan.copy.len(),
            skipped: plan.skipped,
        })
    }

    /// The checks of [`SweepDir::merge`]; writes nothing.
    fn plan_merge<'s>(
        &self,
        shards: &'s [SweepDir],
        expected: Option<&super::config::SweepConfig>,
    ) -> Result<MergePlan<'s>, String> {
        let mut problems = Vec::new();
        let here = if self.snapshot_path().exists() {
            Some(self.read_snapshot()?)
        } else {
            None
        };
        let mut snapshot = here;
        for s in shards {
            match s.read_snapshot() {
                Err(e) => problems.push(format!(
                    "{}: the snapshot cannot be read ({e})",
                    s.path.display()
                )),
                Ok(snap) => match &snapshot {
                    Some(t) if t.digest() != snap.digest() => problems.push(format!(
                        "{} was made from other labels or another configuration than {}",
                        s.path.display(),
                        self.path.display()
                    )),
                    Some(_) => {}
                    None => snapshot = Some(snap),
                },
            }
        }
        if let (Some(snap), Some(cfg)) = (&snapshot, expected)
            && !snap.is_of(cfg)
        {
            problems.push(format!(
                "the shards were made for another sweep or configuration than the project's sweep \"{}\"",
                cfg.name
            ));
        }
        let Some(snapshot) = snapshot else {
            problems.push("no shard was given".into());
            return Err(merge_refused(&problems));
        };
        let spec = crate::nn::ModelSpec {
            input_size: snapshot.config.train.input_size,
            n_classes: snapshot.output_names.len(),
        };
        let device = burn::tensor::Device::flex();
        let mut have: std::collections::HashSet<RunKey> =
            self.runs().iter().map(|r| r.key).collect();
        let (mut copy, mut skipped) = (Vec::new(), Vec::new());
        for s in shards {
            let (runs, left_out) = s.read_runs();
            for (path, why) in left_out {
                problems.push(format!("{}: {why}", path.display()));
            }
            for r in runs {
                let model = s.model_path(r.key);
                if model.exists()
                    && let Err(e) = PaperCnn::load(&model, spec, &device)
                {
                    problems.push(e);
                    continue;
                }
                if have.insert(r.key) {
                    copy.push((s, r));
                } else {
                    skipped.push(format!(
                        "{}: fold {} size {} is already in {}",
                        s.run_path(r.key).display(),
                        r.key.fold + 1,
                        r.key.size,
                        self.path.display()
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(merge_refused(&problems));
        }
        Ok(MergePlan {
            snapshot,
            copy,
            skipped,
        })
    }

    /// Copies one run of `shard` here: its model (if it has one, with its digest), then its
    /// record.
    fn copy_run_from(&self, shard: &SweepDir, r: &RunRecord) -> Result<(), String> {
        let m = shard.model_path(r.key);
        if m.exists() {
            crate::nn::copy_model(&m, &self.model_path(r.key))?;
        }
        write_ron(&self.run_path(r.key), r)
    }
}

/// What [`SweepDir::merge`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Runs copied into the folder.
    pub copied: usize,
    /// Runs not copied because the folder (or an earlier shard) already had them, one line each.
    pub skipped: Vec<String>,
}

/// What a merge will copy, once every check passed.
struct MergePlan<'s> {
    snapshot: Snapshot,
    copy: Vec<(&'s SweepDir, RunRecord)>,
    skipped: Vec<String>,
}

/// The error of a refused merge: every problem, one per line.
fn merge_refused(problems: &[String]) -> String {
    format!(
        "nothing was merged: {} problem(s) found\n  {}",
        problems.len(),
        problems.join("\n  ")
    )
}

/// The folder that holds all sweeps of a project: `<project stem>.sweeps/` beside the file.
pub fn sweeps_root(project_path: &Path) -> PathBuf {
    let stem = project_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    project_dir(project_path).join(format!("{stem}.sweeps"))
}

/// A sweep stored beside a project.
#[derive(Clone, Debug)]
pub struct SavedSweep {
    pub dir: SweepDir,
    pub snapshot: Snapshot,
    /// Finished runs.
    pub done: usize,
    /// Runs in its plan.
    pub total: usize,
}

impl SavedSweep {
    /// The sweep's name.
    pub fn name(&self) -> &str {
        &self.snapshot.config.name
    }

    /// Whether every run of its plan has finished.
    pub fn is_complete(&self) -> bool {
        self.done >= self.total
    }
}

/// The sweeps stored beside the project file (unreadable folders are skipped), by name.
pub fn saved_sweeps(project_path: &Path) -> Vec<SavedSweep> {
    let Ok(rd) = std::fs::read_dir(sweeps_root(project_path)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let dir = SweepDir::at(e.path());
        let Ok(snapshot) = dir.read_snapshot() else {
            continue;
        };
        let total = design::plan(
            &snapshot.targets,
            snapshot.output_names.len(),
            &snapshot.config.design,
        )
        .map(|p| p.runs().len())
        .unwrap_or(0);
        let done = dir.runs().len();
        out.push(SavedSweep {
            dir,
            snapshot,
            done,
            total,
        });
    }
    out.sort_by(|a, b| a.name().cmp(b.name()));
    out
}

fn read_ron<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ReadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ReadError::Io(format!("{}: {e}", path.display())))?;
    ron::from_str(&text).map_err(|e| {
        ReadError::Invalid(format!(
            "{}: {}",
            path.display(),
            crate::quote::clip(&e.to_string())
        ))
    })
}

fn write_ron<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let text = ron::ser::to_string_pretty(value, ron::ser::PrettyConfig::new().depth_limit(3))
        .map_err(|e| e.to_string())?;
    atomic_write(path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}
