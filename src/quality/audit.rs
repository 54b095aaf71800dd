//! The audit: out-of-fold probabilities for every image, by the sweep machinery. An audit is a
//! sweep with one training size, "every training image of the fold": k networks are trained
//! on the current labels, each image is tested exactly once by the network that did not train
//! on it, and the sweep folder keeps the snapshot of the labels and the probabilities (so it
//! resumes, shards and merges like any sweep). `leukolens audit` and the GUI build the
//! configuration here and start it with `sweep::start`.

use std::collections::HashMap;
use std::path::Path;

use crate::project::Project;
use crate::project::ids::ImageId;
use crate::sweep::config::{Snapshot, SweepConfig};
use crate::sweep::design::{self, SweepDesign, ValSize};
use crate::sweep::start::take_snapshot;
use crate::sweep::store::SweepDir;
use crate::train::config::{Task, TrainConfig};

/// Default number of folds of an audit.
pub const DEFAULT_AUDIT_FOLDS: usize = 5;
/// Default number of validation images per fold (early stopping).
pub const DEFAULT_AUDIT_VAL: usize = 25;

/// What an audit asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRequest {
    pub name: String,
    /// `None`: one output per class that has images (the usual audit).
    pub task: Option<Task>,
    pub train: TrainConfig,
    pub k_folds: usize,
    pub n_val: usize,
    pub seed: u64,
}

/// The seed of a project's audits (derived from its master seed).
pub fn audit_seed(project: &Project) -> u64 {
    crate::train::derive_seed(project.seed, 300)
}

/// Every class that has at least one image, in taxonomy order, "Unlabelled" left out
/// (`Project::trainable_classes`).
pub fn classes_with_images(project: &Project) -> Vec<crate::taxonomy::ClassId> {
    project.trainable_classes()
}

/// The sweep configuration of an audit, checked: at least two outputs with images, and every
/// output with at least `k_folds` images (else an error naming the classes). Its one training
/// size is the smallest fold's whole training pool (the folds' pools differ by at most one
/// image per class), so every fold trains on all its training images.
pub fn audit_config(project: &Project, req: &AuditRequest) -> Result<SweepConfig, String> {
    let task = match &req.task {
        Some(t) => t.clone(),
        None => Task::Multiclass {
            classes: classes_with_images(project),
        },
    };
    check_classes(project, &task, req.k_folds)?;
    let mut config = SweepConfig {
        name: req.name.clone(),
        task,
        train: req.train.clone(),
        design: SweepDesign {
            k_folds: req.k_folds,
            val: ValSize::Count(req.n_val),
            sizes: vec![project.images.len()],
            seed: req.seed,
        },
    };
    let snapshot = take_snapshot(project, &config)?;
    let plan = design::plan(
        &snapshot.targets,
        snapshot.output_names.len(),
        &config.design,
    )
    .map_err(|e| format!("the audit cannot run: {e}"))?;
    let pool = plan.folds.iter().map(|f| f.pool.len()).min().unwrap_or(0);
    config.design.sizes = vec![pool];
    Ok(config)
}

/// Errors naming the classes (or groups) that are empty or too small for `k` folds.
fn check_classes(project: &Project, task: &Task, k: usize) -> Result<(), String> {
    let tax = &project.taxonomy;
    let names = task.output_names(tax);
    let mut counts = vec![0usize; task.n_outputs()];
    for im in &project.images {
        if let Some(t) = task.target(tax, im.current) {
            counts[t] += 1;
        }
    }
    let with_images = counts.iter().filter(|&&n| n > 0).count();
    if with_images < 2 {
        let only = names
            .iter()
            .zip(&counts)
            .find(|(_, n)| **n > 0)
            .map_or("no class".to_string(), |(name, _)| {
                format!("only \"{name}\"")
            });
        return Err(format!(
            "an audit needs images of at least two classes; the project has {only}"
        ));
    }
    let small: Vec<String> = names
        .iter()
        .zip(&counts)
        .filter(|(_, n)| **n < k)
        .map(|(name, n)| format!("\"{name}\" ({n} images)"))
        .collect();
    if !small.is_empty() {
        return Err(format!(
            "classes too small for {k} folds (each needs at least {k} images): {}; use fewer \
             folds, or leave them out with --task multiclass --classes …",
            small.join(", ")
        ));
    }
    Ok(())
}

/// An audit's out-of-fold results: for every image of its snapshot, the label it had then
/// (an output index) and the probabilities of the network that did not train on it.
#[derive(Clone, Debug)]
pub struct AuditResults {
    pub snapshot: Snapshot,
    /// Parallel to `snapshot.images`.
    pub probabilities: Vec<Vec<f64>>,
}

impl AuditResults {
    /// The labels the audit trained on (output indices), parallel to `snapshot.images`.
    pub fn labels(&self) -> &[usize] {
        &self.snapshot.targets
    }
}

/// Reads a finished audit from its sweep folder. Errors when the folder has no snapshot, the
/// sweep has more than one training size (it is not an audit) or some images have no usable
/// out-of-fold prediction (a fold failed or its network collapsed, or the audit is unfinished:
/// run it again to resume).
pub fn read_audit(project_path: &Path, name: &str) -> Result<AuditResults, String> {
    let dir = SweepDir::of(project_path, name);
    if !dir.has_snapshot() {
        return Err(format!(
            "no audit named \"{name}\" (no folder {}); run `leukolens audit` first",
            dir.path().display()
        ));
    }
    let snapshot = dir.read_snapshot()?;
    if snapshot.config.design.sizes.len() != 1 {
        return Err(format!(
            "\"{name}\" is a training-size sweep with {} sizes, not an audit",
            snapshot.config.design.sizes.len()
        ));
    }
    let runs = dir.runs();
    let mut found: HashMap<ImageId, Vec<f64>> = HashMap::new();
    for r in runs
        .iter()
        .filter(|r| !r.failed() && !r.network_collapsed())
    {
        for (id, _, p) in &r.predictions {
            found.insert(*id, p.iter().map(|&x| f64::from(x)).collect());
        }
    }
    let missing = snapshot
        .images
        .iter()
        .filter(|id| !found.contains_key(id))
        .count();
    if missing > 0 {
        let k = snapshot.config.design.k_folds;
        let failed: Vec<_> = runs.iter().filter(|r| r.failed()).collect();
        if let Some(first) = failed.first() {
            return Err(format!(
                "the audit \"{name}\" has {} failed fold(s) (fold {}: {}), so {missing} of {} \
                 images have no out-of-fold probabilities; start a new audit with another --name",
                failed.len(),
                first.key.fold + 1,
                first.status,
                snapshot.images.len()
            ));
        }
        let collapsed: Vec<_> = runs.iter().filter(|r| r.network_collapsed()).collect();
        if let Some(first) = collapsed.first() {
            return Err(format!(
                "the audit \"{name}\" has {} fold(s) whose network collapsed (fold {}: the same \
                 output for every image), so {missing} of {} images have no usable out-of-fold \
                 probabilities; start a new audit under another name with another seed \
                 (`leukolens audit --seed`, or Own seed in the audit dialog) or another preset",
                collapsed.len(),
                first.key.fold + 1,
                snapshot.images.len()
            ));
        }
        let done = runs.len();
        return Err(format!(
            "the audit \"{name}\" is not finished: {missing} of {} images have no out-of-fold \
             probabilities ({done} of {k} folds done); run `leukolens audit` with --name \
             \"{name}\" again to resume",
            snapshot.images.len()
        ));
    }
    let probabilities = snapshot
        .images
        .iter()
        .map(|id| found.remove(id).unwrap_or_default())
        .collect();
    Ok(AuditResults {
        snapshot,
        probabilities,
    })
}
