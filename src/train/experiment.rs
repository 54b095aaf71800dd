//! One training run of a project's experiment: choose the images the task uses (current
//! labels), split them (seeded), decode them once into the cache, train, keep the model.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::{ExperimentConfig, ImageCache, Split, TrainEvent, TrainOutcome, TrainRequest};
use crate::dataset::Progress;
use crate::project::{ImageId, Project};

/// The data of an experiment, ready to train on.
pub struct PreparedData {
    /// Project image of each cache entry.
    pub images: Vec<ImageId>,
    pub targets: Vec<usize>,
    pub n_classes: usize,
    pub output_names: Vec<String>,
    pub cache: ImageCache,
    /// Images the task uses but that could not be decoded, with the reason.
    pub unreadable: Vec<(ImageId, String)>,
    /// Images smaller than the input size (by the size stored at import): they are upscaled.
    pub upscaled: usize,
}

/// Selects the task's images by their current labels and decodes them at the input size.
pub fn prepare(
    project: &Project,
    project_path: &Path,
    exp: &ExperimentConfig,
    progress: Progress<'_>,
) -> Result<PreparedData, String> {
    exp.train.validate()?;
    exp.task.check(&project.taxonomy)?;
    let root = project.dataset_dir(project_path);
    if !root.is_dir() {
        return Err(format!(
            "the dataset folder {} is missing; if the images moved, point the project at them \
             (`leukolens relink <project> <folder>`, or Project > Locate dataset… in the app)",
            root.display()
        ));
    }
    let mut ids = Vec::new();
    let mut targets = Vec::new();
    let mut paths = Vec::new();
    let mut hashes = Vec::new();
    let mut upscaled = 0;
    for im in &project.images {
        if let Some(t) = exp.task.target(&project.taxonomy, im.current) {
            ids.push(im.id);
            targets.push(t);
            paths.push(project.image_path(project_path, im));
            hashes.push(im.hash.clone());
            if im.width.min(im.height) < exp.train.input_size {
                upscaled += 1;
            }
        }
    }
    images_present(&root, &paths)?;
    let labels: Vec<_> = project.images.iter().map(|im| im.current).collect();
    exp.task.check_has_images(&project.taxonomy, &labels)?;
    let n_classes = exp.task.n_outputs();
    // Every file is checked against the hash the project stored: a swapped file is skipped.
    let (cache, kept, failed) =
        ImageCache::load_checked(&paths, Some(&hashes), exp.train.input_size, progress);
    let unreadable = failed
        .into_iter()
        .map(|(i, e)| {
            (
                ids[i],
                format!("{}: {e}", crate::quote::quote_path(&paths[i])),
            )
        })
        .collect();
    Ok(PreparedData {
        images: kept.iter().map(|&i| ids[i]).collect(),
        targets: kept.iter().map(|&i| targets[i]).collect(),
        n_classes,
        output_names: exp.task.output_names(&project.taxonomy),
        cache,
        unreadable,
        upscaled,
    })
}

/// Stops at once, with the remedy first, when most of the images are not where the project
/// says (a wrong or stale dataset folder), instead of listing hundreds of unreadable files.
fn images_present(root: &Path, paths: &[PathBuf]) -> Result<(), String> {
    let missing = paths.iter().filter(|p| !p.is_file()).count();
    if missing > 0 && missing * 2 >= paths.len() {
        return Err(format!(
            "the dataset folder {} does not hold this project's images ({missing} of {} are \
             missing): run `leukolens relink <project> <folder>` (or Project > Locate dataset… \
             in the app) to point the project at them",
            root.display(),
            paths.len()
        ));
    }
    Ok(())
}

/// The seeded split of an experiment over prepared data.
pub fn split_for(exp: &ExperimentConfig, data: &PreparedData) -> Split {
    super::split(
        &data.targets,
        data.n_classes,
        exp.n_train,
        exp.n_val,
        exp.n_test,
        exp.seed,
    )
}

/// Trains the experiment on prepared data.
pub fn run(
    exp: &ExperimentConfig,
    data: &PreparedData,
    split: &Split,
    device: &burn::tensor::Device,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(TrainEvent),
) -> TrainOutcome {
    let req = TrainRequest {
        config: &exp.train,
        cache: &data.cache,
        targets: &data.targets,
        n_classes: data.n_classes,
        split,
        seed: exp.seed,
    };
    super::train(&req, device, cancel, on_event)
}

/// Folder that holds a project's trained models: `<project stem>.models/` beside the file.
pub fn models_dir(project_path: &Path) -> PathBuf {
    let stem = project_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    crate::project::store::project_dir(project_path).join(format!("{stem}.models"))
}

/// A file-name-safe version of an experiment name.
pub fn safe_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "experiment".into() } else { s }
}
