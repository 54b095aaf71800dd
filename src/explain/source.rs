//! Where the networks and images to explain come from: a sweep's saved run models
//! (`<project>.sweeps/<name>/models/fNN-nNNNN.bpk`, with the shape from the sweep's frozen
//! snapshot), a trained experiment's model (`<project>.models/<name>.bpk`), and a project's
//! images by id or file name.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use image::RgbImage;

use crate::nn::{ModelSpec, PaperCnn};
use crate::project::{ImageId, Project};
use crate::sweep::design::RunKey;
use crate::sweep::store::SweepDir;
use crate::train::experiment::{models_dir, safe_name};

/// A network loaded for explanation, with what its outputs mean.
#[derive(Clone, Debug)]
pub struct LoadedModel {
    pub model: PaperCnn,
    pub spec: ModelSpec,
    /// Name of each output.
    pub output_names: Vec<String>,
    pub path: PathBuf,
    /// E.g. `sweep "quick" fold 2, 20 training images`.
    pub description: String,
}

impl LoadedModel {
    /// An output by index (`0`, `1`, …) or by name (case-insensitive).
    pub fn output_index(&self, class: &str) -> Result<usize, String> {
        let c = class.trim();
        if let Ok(i) = c.parse::<usize>() {
            if i < self.output_names.len() {
                return Ok(i);
            }
            return Err(format!(
                "output {i} does not exist; the network has {} outputs: {}",
                self.output_names.len(),
                self.list_outputs()
            ));
        }
        self.output_names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(c))
            .ok_or_else(|| {
                format!(
                    "the network has no output \"{c}\"; its outputs are {}",
                    self.list_outputs()
                )
            })
    }

    fn list_outputs(&self) -> String {
        self.output_names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{i} = {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The file of a sweep run's model (fold 0-based), where the sweep writes it.
pub fn sweep_model_path(project_path: &Path, sweep: &str, key: RunKey) -> PathBuf {
    SweepDir::of(project_path, sweep).model_path(key)
}

/// Loads the model of one run of a saved sweep (`key.fold` is 0-based).
pub fn load_sweep_model(
    project_path: &Path,
    sweep: &str,
    key: RunKey,
    device: &Device,
) -> Result<LoadedModel, String> {
    let dir = SweepDir::of(project_path, sweep);
    if !dir.has_snapshot() {
        return Err(format!(
            "the project has no results of a sweep \"{sweep}\" (no {}); run `leukolens sweep` first",
            dir.snapshot_path().display()
        ));
    }
    let snap = dir.read_snapshot()?;
    let spec = ModelSpec {
        input_size: snap.config.train.input_size,
        n_classes: snap.output_names.len(),
    };
    let path = sweep_model_path(project_path, sweep, key);
    if !path.is_file() {
        let have = dir.models();
        let list = if have.is_empty() {
            "none yet".to_string()
        } else {
            have.iter()
                .map(|k| format!("fold {} size {}", k.fold + 1, k.size))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!(
            "the sweep \"{sweep}\" has no model for fold {} size {} (models saved: {list})",
            key.fold + 1,
            key.size
        ));
    }
    let model = PaperCnn::load(&path, spec, device)?;
    Ok(LoadedModel {
        model,
        spec,
        output_names: snap.output_names,
        path,
        description: format!(
            "sweep \"{sweep}\" fold {}, {} training images",
            key.fold + 1,
            key.size
        ),
    })
}

/// Loads the model `leukolens train --save-as NAME` (or `--experiment NAME`) saved.
pub fn load_experiment_model(
    project: &Project,
    project_path: &Path,
    name: &str,
    device: &Device,
) -> Result<LoadedModel, String> {
    let Some(exp) = project.experiments.iter().find(|e| e.name == name) else {
        let is_sweep = project.sweeps.iter().any(|s| s.name == name)
            || SweepDir::of(project_path, name).has_snapshot();
        let sweeps = if is_sweep {
            " (it is a sweep: give --fold and --size)"
        } else {
            ""
        };
        return Err(format!("the project has no experiment \"{name}\"{sweeps}"));
    };
    let path = models_dir(project_path).join(format!("{}.bpk", safe_name(name)));
    if !path.is_file() {
        return Err(format!(
            "the experiment \"{name}\" has no trained model ({} is missing); train it first",
            path.display()
        ));
    }
    let spec = ModelSpec {
        input_size: exp.train.input_size,
        n_classes: exp.task.n_outputs(),
    };
    let model = PaperCnn::load(&path, spec, device)?;
    Ok(LoadedModel {
        model,
        spec,
        output_names: exp.task.output_names(&project.taxonomy),
        path,
        description: format!("experiment \"{name}\""),
    })
}

/// Finds an image by its id (the number in the project file), its path relative to the
/// dataset, or its file name (which must then be unique).
pub fn find_image(project: &Project, query: &str) -> Result<ImageId, String> {
    let q = query.trim();
    if q.is_empty() {
        return Err("no image given".into());
    }
    if let Ok(n) = q.parse::<u32>()
        && project.image(ImageId(n)).is_some()
    {
        return Ok(ImageId(n));
    }
    let q_slash = q.replace('\\', "/");
    if let Some(im) = project.images.iter().find(|im| im.path == q_slash) {
        return Ok(im.id);
    }
    let file_name = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    let want = file_name(&q_slash);
    let hits: Vec<&crate::project::ImageEntry> = project
        .images
        .iter()
        .filter(|im| file_name(&im.path) == want)
        .collect();
    match hits.as_slice() {
        [one] => Ok(one.id),
        [] => Err(format!(
            "the project has no image \"{q}\" (give its id or its file name)"
        )),
        many => Err(format!(
            "{} images are called \"{want}\": give the path relative to the dataset (e.g. {}) or the id",
            many.len(),
            many.iter()
                .take(3)
                .map(|im| format!("\"{}\" = id {}", im.path, im.id.0))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Decodes an image file and resizes it to the network's input: the RGB picture and the
/// `[3, side, side]` input in [0, 1].
pub fn load_image(path: &Path, side: u32) -> Result<(RgbImage, Vec<f32>), String> {
    let img = crate::dataset::load_rgb8(path)
        .map_err(|e| format!("cannot read the image {}: {e}", path.display()))?;
    let chw = crate::dataset::to_chw_u8(&img, side);
    let n = (side * side) as usize;
    let rgb = RgbImage::from_fn(side, side, |x, y| {
        let i = (y * side + x) as usize;
        image::Rgb([chw[i], chw[n + i], chw[2 * n + i]])
    });
    Ok((rgb, super::input::chw_u8_to_f32(&chw)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_found_by_id_path_or_unique_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = crate::demo::create_demo_project(dir.path(), 2, 48, 3).unwrap();
        let p = Project::load(&path).unwrap();
        let some = &p.images[3];
        assert_eq!(find_image(&p, &some.id.0.to_string()).unwrap(), some.id);
        assert_eq!(find_image(&p, &some.path).unwrap(), some.id);
        let name = some.path.rsplit('/').next().unwrap();
        let unique = p
            .images
            .iter()
            .filter(|im| im.path.ends_with(&format!("/{name}")) || im.path == name)
            .count()
            == 1;
        if unique {
            assert_eq!(find_image(&p, name).unwrap(), some.id);
        } else {
            assert!(
                find_image(&p, name)
                    .unwrap_err()
                    .contains("images are called")
            );
        }
        assert!(
            find_image(&p, "no-such-file.png")
                .unwrap_err()
                .contains("no image")
        );
        assert!(find_image(&p, "99999").is_err());
        assert!(find_image(&p, " ").is_err());
    }

    #[test]
    fn missing_sweeps_and_models_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let proj = dir.path().join("p.ron");
        let dev = Device::flex();
        let err = load_sweep_model(&proj, "nope", RunKey { fold: 0, size: 10 }, &dev).unwrap_err();
        assert!(err.contains("no results of a sweep \"nope\""), "{err}");
        assert_eq!(
            sweep_model_path(&proj, "a b", RunKey { fold: 1, size: 20 }),
            dir.path().join("p.sweeps/a_b/models/f01-n0020.bpk")
        );
        std::fs::create_dir_all(dir.path().join("p.sweeps/s/models")).unwrap();
        std::fs::write(dir.path().join("p.sweeps/s/models/f00-n0010.bpk"), b"x").unwrap();
        std::fs::write(dir.path().join("p.sweeps/s/models/junk.txt"), b"x").unwrap();
        assert_eq!(
            SweepDir::at(dir.path().join("p.sweeps/s")).models(),
            vec![RunKey { fold: 0, size: 10 }]
        );
    }
}
