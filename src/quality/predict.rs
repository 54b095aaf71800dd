//! Pre-labels from a model: for each chosen image, the most probable output of a saved network
//! (a sweep run's or a trained experiment's, loaded by `explain::source`) and its probability,
//! stored beside the project in `<project>.suggestions.ron` (atomically). A suggestion is only
//! a suggestion: no label changes here (`quality::prelabels` matches them to the images and
//! accepts them).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::explain::source::LoadedModel;
use crate::explain::{chw_u8_to_f32, probabilities};
use crate::project::ids::ImageId;
use crate::project::{Project, atomic_write};
use crate::taxonomy::ClassId;
use crate::train::cache::ImageCache;

/// One image's suggestion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    pub image: ImageId,
    /// The image's content hash, to find it again after ids changed.
    pub hash: String,
    /// The suggested output's name.
    pub output: String,
    /// The class of that output when it is one class (multiclass models).
    pub class: Option<ClassId>,
    pub probability: f32,
    /// The most probable output's probability minus the second's (how sure the model is;
    /// `None` in older files), which orders Unlabelled cells in the Label next queue.
    #[serde(default)]
    pub margin: Option<f32>,
    /// The image's current label when the suggestion was made: a different label now means
    /// someone relabelled it since, and the suggestion is stale (`quality::prelabels`). Absent
    /// in files written before it was stored (such suggestions count as stale).
    #[serde(default)]
    pub label: Option<ClassId>,
}

/// What `leukolens predict` stores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Suggestions {
    /// Which network made them (e.g. `sweep "quick" fold 2, 20 training images`).
    pub model: String,
    pub suggestions: Vec<Suggestion>,
}

/// Which images get a suggestion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Only {
    All,
    /// Images nobody has reviewed.
    Unreviewed,
    /// Images of the "Unlabelled" class (`Taxonomy::unlabelled`).
    Unlabelled,
}

/// `<project>.suggestions.ron`.
pub fn suggestions_path(project_path: &Path) -> PathBuf {
    let mut s = project_path.as_os_str().to_os_string();
    s.push(".suggestions.ron");
    PathBuf::from(s)
}

/// The images `only` chooses; an error when `Unlabelled` is asked for and the project has no
/// "Unlabelled" class (`Taxonomy::unlabelled`).
pub fn chosen_images(project: &Project, only: Only) -> Result<Vec<ImageId>, String> {
    let unlabelled = project.taxonomy.unlabelled();
    if only == Only::Unlabelled && unlabelled.is_none() {
        return Err("the project has no class \"Unlabelled\"".into());
    }
    Ok(project
        .images
        .iter()
        .filter(|im| match only {
            Only::All => true,
            Only::Unreviewed => !im.reviewed,
            Only::Unlabelled => Some(im.current) == unlabelled,
        })
        .map(|im| im.id)
        .collect())
}

/// Runs the model on the images (decoded on all cores) and returns their suggestions; images
/// that cannot be read are listed in the second value.
pub fn predict(
    project: &Project,
    project_path: &Path,
    model: &LoadedModel,
    images: &[ImageId],
) -> Result<(Suggestions, Vec<String>), String> {
    let entries: Vec<_> = images.iter().filter_map(|&id| project.image(id)).collect();
    let paths: Vec<PathBuf> = entries
        .iter()
        .map(|im| project.image_path(project_path, im))
        .collect();
    let (cache, kept, failed) = ImageCache::load(&paths, model.spec.input_size, &|_, _| {});
    let classes: Vec<Option<ClassId>> = model
        .output_names
        .iter()
        .map(|n| project.taxonomy.find(n))
        .collect();
    let mut suggestions = Vec::with_capacity(kept.len());
    for (slot, &i) in kept.iter().enumerate() {
        let p = probabilities(&model.model, &chw_u8_to_f32(cache.image(slot)))?;
        let best = (0..p.len())
            .max_by(|&a, &b| p[a].total_cmp(&p[b]).then(b.cmp(&a)))
            .unwrap_or(0);
        suggestions.push(Suggestion {
            image: entries[i].id,
            hash: entries[i].hash.clone(),
            output: model.output_names.get(best).cloned().unwrap_or_default(),
            class: classes.get(best).copied().flatten(),
            probability: p.get(best).copied().unwrap_or(0.0),
            margin: Some(margin_of(&p)),
            label: Some(entries[i].current),
        });
    }
    let failed = failed
        .into_iter()
        .map(|(i, e)| format!("{}: {e}", entries[i].path))
        .collect();
    Ok((
        Suggestions {
            model: model.description.clone(),
            suggestions,
        },
        failed,
    ))
}

/// The largest probability minus the second largest (1 with a single output).
fn margin_of(p: &[f32]) -> f32 {
    let probs: Vec<f64> = p.iter().map(|&x| f64::from(x)).collect();
    super::suspects::top_two_margin(&probs) as f32
}

/// Writes the suggestions beside the project (replacing earlier ones).
pub fn save_suggestions(project_path: &Path, s: &Suggestions) -> Result<PathBuf, String> {
    let path = suggestions_path(project_path);
    let text =
        ron::ser::to_string_pretty(s, ron::ser::PrettyConfig::new()).map_err(|e| e.to_string())?;
    atomic_write(&path, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Reads the stored suggestions (`None` when there are none).
pub fn load_suggestions(project_path: &Path) -> Result<Option<Suggestions>, String> {
    let path = suggestions_path(project_path);
    match std::fs::read_to_string(&path) {
        Ok(text) => ron::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}
