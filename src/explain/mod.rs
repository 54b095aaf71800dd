//! Explaining the network (issue 5): which pixels made it say "blast"?
//!
//! - [`saliency`]: the gradient of a class's logit with respect to the pixels (burn autodiff).
//! - [`lrp`]: layer-wise relevance propagation with per-layer rules and three presets,
//!   computed exactly on the host.
//! - [`tsne`]: a seeded 2-d t-SNE of the 32-d last hidden layer ([`hidden_features`]).
//! - [`colour`]: colour maps, the overlay on the image and a colour scale bar.
//! - [`source`]: finding a sweep's (or an experiment's) saved model and an image of the project.
//! - [`explain_to_png`]: everything together, behind `leukolens explain`.
//!
//! No GUI code: the desktop application builds its views on these functions.

pub mod colour;
pub mod embedding;
mod input;
pub mod lrp;
mod map;
pub mod saliency;
pub mod source;
pub mod tsne;

use std::path::PathBuf;

use burn::tensor::{Tensor, TensorData, activation};

pub use input::chw_u8_to_f32;
pub(crate) use input::{check_image, check_model_side};
pub use lrp::{LayerRules, Preset, Relevance, Rule};
pub use map::Map;
pub use tsne::{Embedding, TsneParams};

use crate::nn::{HIDDEN, PaperCnn};
use crate::project::{ImageId, Workspace};
use crate::train::ImageCache;

/// How to explain a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// |∂ logit / ∂ pixel|, in [0, 1].
    Saliency,
    /// Signed relevance (for the class > 0 > against it).
    Lrp(Preset),
}

impl Default for Method {
    fn default() -> Self {
        Method::Lrp(Preset::default())
    }
}

impl Method {
    /// Name shown to users.
    pub fn label(self) -> String {
        match self {
            Method::Saliency => "Saliency (gradient)".into(),
            Method::Lrp(p) => format!("LRP: {}", p.label()),
        }
    }

    /// Parses the command line's `--method` (`saliency` or `lrp`) and `--preset`.
    pub fn from_cli(method: &str, preset: Option<&str>) -> Result<Self, String> {
        let preset = match preset {
            None => None,
            Some(p) => Some(Preset::from_cli_name(p).ok_or_else(|| {
                let names: Vec<&str> = Preset::ALL.iter().map(|p| p.cli_name()).collect();
                format!("unknown LRP preset \"{p}\" (one of: {})", names.join(", "))
            })?),
        };
        match method.trim().to_ascii_lowercase().as_str() {
            "saliency" | "gradient" => {
                if preset.is_some() {
                    return Err("--preset applies to --method lrp only".into());
                }
                Ok(Method::Saliency)
            }
            "lrp" => Ok(Method::Lrp(preset.unwrap_or_default())),
            other => Err(format!(
                "unknown method \"{other}\" (one of: saliency, lrp)"
            )),
        }
    }
}

/// The explanation of `image` (`[3, S, S]`, values in [0, 1], S the network's input size) for
/// output `class`.
pub fn explain_image(
    model: &PaperCnn,
    image: &[f32],
    class: usize,
    method: Method,
) -> Result<Map, String> {
    let side = check_image(image)?;
    let (values, signed) = match method {
        Method::Saliency => (saliency::saliency(model, image, class)?, false),
        Method::Lrp(preset) => (lrp::lrp(model, image, class, &preset.rules())?.map, true),
    };
    Ok(Map {
        width: side,
        height: side,
        values,
        signed,
    })
}

/// Softmax probabilities of one image `[3, S, S]`.
pub fn probabilities(model: &PaperCnn, image: &[f32]) -> Result<Vec<f32>, String> {
    let side = check_image(image)?;
    check_model_side(model, side)?;
    let dev = model.out.weight.val().device();
    let x = Tensor::<4>::from_data(TensorData::new(image.to_vec(), [1, 3, side, side]), &dev);
    activation::softmax(model.forward(x), 1)
        .try_into_vec_as::<f32>()
        .map_err(|e| format!("reading the prediction failed: {e:?}"))
}

/// The 32-d last hidden layer (after ReLU) of every image of `cache`, for the embedding.
pub fn hidden_features(model: &PaperCnn, cache: &ImageCache) -> Result<Vec<[f32; HIDDEN]>, String> {
    let dev = model.out.weight.val().device();
    let side = cache.side() as usize;
    if cache.is_empty() {
        return Ok(Vec::new());
    }
    check_model_side(model, side)?;
    let indices: Vec<usize> = (0..cache.len()).collect();
    let mut out = Vec::with_capacity(cache.len());
    for chunk in indices.chunks(32) {
        let mut x = Vec::with_capacity(chunk.len() * 3 * side * side);
        for &i in chunk {
            x.extend(cache.image(i).iter().map(|&v| v as f32 / 255.0));
        }
        let xt = Tensor::<4>::from_data(TensorData::new(x, [chunk.len(), 3, side, side]), &dev);
        let h = model
            .hidden(xt)
            .try_into_vec_as::<f32>()
            .map_err(|e| format!("reading the hidden layer failed: {e:?}"))?;
        if h.len() != chunk.len() * HIDDEN {
            return Err(format!(
                "the hidden layer has {} values per image, expected {HIDDEN}",
                h.len() / chunk.len().max(1)
            ));
        }
        out.extend(
            h.chunks_exact(HIDDEN)
                .map(|c| std::array::from_fn(|k| c[k])),
        );
    }
    Ok(out)
}

/// What `leukolens explain` should do.
#[derive(Clone, Debug)]
pub struct ExplainRequest {
    pub project: PathBuf,
    /// A sweep's name (with `fold` and `size`) or a trained experiment's name (without).
    pub experiment: String,
    /// 1-based fold of the sweep, as printed by `leukolens sweep`.
    pub fold: Option<usize>,
    /// Training size of the sweep run.
    pub size: Option<usize>,
    /// Image id (the number in the project file) or file name / relative path.
    pub image: String,
    pub method: Method,
    /// Output to explain, by index or name; the predicted output when `None`.
    pub class: Option<String>,
    pub output: PathBuf,
    /// Strength of the colour over the image, 0..1.
    pub opacity: f32,
    /// Whether an existing `output` may be replaced (`--force`); the project's own files never
    /// are (see [`crate::output`]).
    pub overwrite: crate::output::Overwrite,
}

/// What `leukolens explain` did.
#[derive(Clone, Debug)]
pub struct ExplainReport {
    pub model: source::LoadedModel,
    pub image: ImageId,
    pub image_path: PathBuf,
    /// Current label of the image, by name.
    pub label: String,
    /// The output explained.
    pub class: usize,
    pub method: Method,
    /// Softmax output per output name.
    pub probabilities: Vec<(String, f32)>,
    pub map: Map,
    pub output: PathBuf,
}

impl ExplainReport {
    /// What the command line prints.
    pub fn summary(&self) -> String {
        let probs: Vec<String> = self
            .probabilities
            .iter()
            .map(|(n, p)| format!("{n} {p:.3}"))
            .collect();
        let name = self
            .model
            .output_names
            .get(self.class)
            .cloned()
            .unwrap_or_default();
        format!(
            "network: {} ({})\nimage: {} (id {}, label {})\nprediction: {}\nexplained: output {} \"{name}\" ({}{})\nwrote {}",
            self.model.description,
            self.model.path.display(),
            self.image_path.display(),
            self.image.0,
            self.label,
            probs.join(", "),
            self.class,
            self.method.label(),
            if self.map.signed {
                "; red = for, blue = against"
            } else {
                ""
            },
            self.output.display()
        )
    }
}

/// Loads the model and the image, explains the chosen output and writes the overlay PNG (the
/// image as the network sees it, at its input size, with the map over it and a colour scale
/// bar below). Runs on the CPU.
pub fn explain_to_png(req: &ExplainRequest) -> Result<ExplainReport, String> {
    if !(0.0..=1.0).contains(&req.opacity) {
        return Err(format!(
            "the opacity must be in [0, 1], not {}",
            req.opacity
        ));
    }
    let ws = Workspace::open_read_only(&req.project).map_err(|e| e.to_string())?;
    let project = &ws.project;
    crate::output::check_output(&req.project, Some(project), &req.output, req.overwrite)
        .map_err(|e| e.to_string())?;
    let device = burn::tensor::Device::flex();
    let model = match (req.fold, req.size) {
        (Some(fold), Some(size)) => {
            if fold == 0 {
                return Err("folds are numbered from 1".into());
            }
            source::load_sweep_model(
                &req.project,
                &req.experiment,
                crate::sweep::RunKey {
                    fold: fold - 1,
                    size,
                },
                &device,
            )?
        }
        (None, None) => {
            source::load_experiment_model(project, &req.project, &req.experiment, &device)?
        }
        _ => return Err("give both --fold and --size (for a sweep) or neither".into()),
    };
    let id = source::find_image(project, &req.image)?;
    let entry = project
        .image(id)
        .ok_or_else(|| format!("no image with id {}", id.0))?;
    let image_path = project.image_path(&req.project, entry);
    let side = model.spec.input_size;
    let (rgb, x) = source::load_image(&image_path, side)?;
    let probs = probabilities(&model.model, &x)?;
    let class = match &req.class {
        None => probs
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap_or(0),
        Some(c) => model.output_index(c)?,
    };
    let map = explain_image(&model.model, &x, class, req.method)?;
    let picture = colour::with_scale_bar(&colour::overlay(&rgb, &map, req.opacity), map.signed);
    if let Some(dir) = req.output.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    picture
        .save_with_format(&req.output, image::ImageFormat::Png)
        .map_err(|e| format!("cannot write {}: {e}", req.output.display()))?;
    Ok(ExplainReport {
        probabilities: model
            .output_names
            .iter()
            .cloned()
            .zip(probs.iter().copied())
            .collect(),
        label: project.taxonomy.name(entry.current),
        model,
        image: id,
        image_path,
        class,
        method: req.method,
        map,
        output: req.output.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::ModelSpec;
    use burn::tensor::Device;

    #[test]
    fn methods_parse_from_the_command_line() {
        assert_eq!(
            Method::from_cli("saliency", None).unwrap(),
            Method::Saliency
        );
        assert_eq!(
            Method::from_cli("LRP", None).unwrap(),
            Method::Lrp(Preset::EpsGammaZb)
        );
        for p in Preset::ALL {
            assert_eq!(
                Method::from_cli("lrp", Some(p.cli_name())).unwrap(),
                Method::Lrp(p)
            );
        }
        assert!(Method::from_cli("lrp", Some("nope")).is_err());
        assert!(Method::from_cli("saliency", Some("paper")).is_err());
        assert!(Method::from_cli("shap", None).is_err());
    }

    #[test]
    fn hidden_features_are_the_networks_hidden_layer() {
        let side = 190u32;
        let images: Vec<image::RgbImage> = (0..5)
            .map(|i| crate::demo::render_cell(i % 10, side, i as u64 + 1))
            .collect();
        let cache = ImageCache::from_images(&images, side);
        let dev = Device::flex();
        let spec = ModelSpec {
            input_size: side,
            n_classes: 2,
        };
        let m = PaperCnn::new(spec, 3, &dev).unwrap();
        let h = hidden_features(&m, &cache).unwrap();
        assert_eq!(h.len(), 5);
        for (i, hi) in h.iter().enumerate() {
            let x = chw_u8_to_f32(cache.image(i));
            let xt = Tensor::<4>::from_data(
                TensorData::new(x, [1, 3, side as usize, side as usize]),
                &dev,
            );
            let t = m.forward_trace(xt).hidden.try_into_vec_as::<f32>().unwrap();
            // `hidden_features` runs the fused CPU blocks, `forward_trace` burn's operations.
            for (a, b) in t.iter().zip(hi) {
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{t:?} vs {hi:?}");
            }
            assert!(hi.iter().all(|v| *v >= 0.0), "after ReLU");
        }
        assert_ne!(h[0], h[1]);
        // The features go straight into the embedding.
        let e = tsne::tsne(&h, &TsneParams::default(), |_, _| true).unwrap();
        assert_eq!(e.points.len(), 5);
    }

    #[test]
    fn explain_image_checks_its_input_and_returns_the_map() {
        let spec = ModelSpec {
            input_size: 190,
            n_classes: 2,
        };
        let m = PaperCnn::new(spec, 6, &Device::flex()).unwrap();
        let img: Vec<f32> = (0..3 * 190 * 190).map(|i| (i % 17) as f32 / 17.0).collect();
        let s = explain_image(&m, &img, 0, Method::Saliency).unwrap();
        assert_eq!((s.width, s.height, s.signed), (190, 190, false));
        let l = explain_image(&m, &img, 0, Method::default()).unwrap();
        assert!(l.signed && !l.is_constant());
        assert!(explain_image(&m, &img[1..], 0, Method::Saliency).is_err());
        assert!(explain_image(&m, &img, 5, Method::default()).is_err());
        let small = vec![0.5f32; 3 * 100 * 100];
        assert!(
            explain_image(&m, &small, 0, Method::Saliency)
                .unwrap_err()
                .contains("at least")
        );
        let big = vec![0.5f32; 3 * 257 * 257];
        assert!(
            explain_image(&m, &big, 0, Method::Saliency)
                .unwrap_err()
                .contains("input size")
        );
        assert!(explain_image(&m, &big, 0, Method::default()).is_err());
        assert!(probabilities(&m, &big).is_err());
        let mut nan = img.clone();
        nan[7] = f32::NAN;
        assert!(explain_image(&m, &nan, 0, Method::default()).is_err());
        let p = probabilities(&m, &img).unwrap();
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}
