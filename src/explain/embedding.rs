//! What the embedding of a sweep run's model shows, without any GUI: the images the model did
//! not train on (test, validation and the unused pool of its fold), a seeded sample of them
//! when there are more than the exact tSNE takes, and the model's prediction for each, from
//! the last hidden layer through the output layer on the host.
//!
//! The desktop application's explain screen runs [`prepare`] on a background job and then the
//! tSNE ([`super::tsne`]) of [`Prepared::hidden`].

use std::collections::HashSet;
use std::path::Path;

use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::source::LoadedModel;
use crate::nn::{HIDDEN, PaperCnn};
use crate::project::{ImageId, Project};
use crate::sweep::{RunKey, SweepDesign};

/// The images of a sweep's snapshot that one run's model did not train on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unseen {
    /// Indices into the snapshot's images, ascending; at most the `max` asked for.
    pub indices: Vec<usize>,
    /// How many images the model did not train on, before sampling.
    pub total: usize,
}

impl Unseen {
    /// True when `indices` is a sample of the unseen images rather than all of them.
    pub fn sampled(&self) -> bool {
        self.indices.len() < self.total
    }
}

/// The images (indices into `targets`, the snapshot's targets) that the run `run` of a sweep
/// with this design did not train on. When there are more than `max`, a random sample of `max`
/// of them, seeded by `seed`. The fold plan is made again from the snapshot, exactly as the
/// sweep made it.
pub fn unseen_images(
    targets: &[usize],
    n_outputs: usize,
    design: &SweepDesign,
    run: RunKey,
    max: usize,
    seed: u64,
) -> Result<Unseen, String> {
    let plan = crate::sweep::plan(targets, n_outputs, design)?;
    let fold = plan
        .folds
        .get(run.fold)
        .ok_or_else(|| format!("the sweep has no fold {}", run.fold + 1))?;
    let train: HashSet<usize> = fold.train_set(run.size).iter().copied().collect();
    let mut indices: Vec<usize> = (0..targets.len()).filter(|i| !train.contains(i)).collect();
    let total = indices.len();
    if total > max {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        indices.shuffle(&mut rng);
        indices.truncate(max);
        indices.sort_unstable();
    }
    Ok(Unseen { indices, total })
}

/// The output layer of a network on the host: weights `[hidden × outputs]` row-major, and the
/// bias (empty when the layer has none).
pub fn output_layer(model: &PaperCnn) -> Result<(Vec<f32>, Vec<f32>), String> {
    let w = model
        .out
        .weight
        .val()
        .try_into_vec_as::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    let b = match &model.out.bias {
        Some(b) => b
            .val()
            .try_into_vec_as::<f32>()
            .map_err(|e| format!("{e:?}"))?,
        None => Vec::new(),
    };
    Ok((w, b))
}

/// The output each hidden vector is predicted as: the largest of `bias + h · weights`, with
/// `weights` `[hidden × outputs]` row-major (a missing bias or weight counts as 0).
pub fn predict_from_hidden(
    hidden: &[[f32; HIDDEN]],
    weights: &[f32],
    bias: &[f32],
    outputs: usize,
) -> Vec<usize> {
    hidden
        .iter()
        .map(|h| {
            (0..outputs)
                .map(|c| {
                    bias.get(c).copied().unwrap_or(0.0)
                        + (0..h.len())
                            .map(|j| h[j] * weights.get(j * outputs + c).copied().unwrap_or(0.0))
                            .sum::<f32>()
                })
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(i, _)| i)
                .unwrap_or(0)
        })
        .collect()
}

/// The line above the embedding: which model, and which images (all or a sample).
pub fn describe(model: &str, shown: usize, unseen: usize) -> String {
    if shown < unseen {
        format!("{model}: a random {shown} of the {unseen} images it did not train on")
    } else {
        format!("{model}: {shown} images it did not train on (test, validation and unused pool)")
    }
}

/// A sweep's snapshot, as far as the embedding needs it.
pub struct SnapshotView<'a> {
    pub images: &'a [ImageId],
    pub targets: &'a [usize],
    pub output_names: &'a [String],
    pub design: &'a SweepDesign,
}

/// Everything the embedding draws except the tSNE points.
pub struct Prepared {
    pub ids: Vec<ImageId>,
    pub target: Vec<usize>,
    pub predicted: Vec<usize>,
    pub names: Vec<String>,
    pub description: String,
    /// The 32-d last hidden layer of each image, for the tSNE.
    pub hidden: Vec<[f32; HIDDEN]>,
}

/// The unseen images of `run` (at most [`super::tsne::MAX_POINTS`], sampled with `seed`),
/// decoded at the model's input size (unreadable ones are left out), their hidden features and
/// the model's predictions.
pub fn prepare(
    project: &Project,
    project_path: &Path,
    snap: &SnapshotView,
    m: &LoadedModel,
    run: RunKey,
    seed: u64,
) -> Result<Prepared, String> {
    let unseen = unseen_images(
        snap.targets,
        snap.output_names.len(),
        snap.design,
        run,
        super::tsne::MAX_POINTS,
        seed,
    )?;
    let paths: Vec<std::path::PathBuf> = unseen
        .indices
        .iter()
        .filter_map(|&i| project.image(*snap.images.get(i)?))
        .map(|e| project.image_path(project_path, e))
        .collect();
    let (cache, kept, _failed) =
        crate::train::ImageCache::load(&paths, m.spec.input_size, &|_, _| {});
    let idx: Vec<usize> = kept.iter().map(|&k| unseen.indices[k]).collect();
    let hidden = super::hidden_features(&m.model, &cache)?;
    let (w, b) = output_layer(&m.model)?;
    let predicted = predict_from_hidden(&hidden, &w, &b, m.output_names.len());
    Ok(Prepared {
        ids: idx.iter().map(|&i| snap.images[i]).collect(),
        target: idx.iter().map(|&i| snap.targets[i]).collect(),
        predicted,
        names: snap.output_names.to_vec(),
        description: describe(&m.description, idx.len(), unseen.total),
        hidden,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::ValSize;

    fn design() -> SweepDesign {
        SweepDesign {
            k_folds: 2,
            val: ValSize::Count(4),
            sizes: vec![4, 8],
            seed: 3,
        }
    }

    /// 20 images of two classes.
    fn targets() -> Vec<usize> {
        (0..20).map(|i| i % 2).collect()
    }

    #[test]
    fn unseen_is_everything_but_the_runs_training_set() {
        let t = targets();
        let run = RunKey { fold: 1, size: 8 };
        let u = unseen_images(&t, 2, &design(), run, 1000, 0).unwrap();
        let plan = crate::sweep::plan(&t, 2, &design()).unwrap();
        let train = plan.train_set(run).unwrap();
        assert_eq!(u.total, 20 - train.len());
        assert_eq!(u.indices.len(), u.total);
        assert!(!u.sampled());
        assert!(u.indices.windows(2).all(|w| w[0] < w[1]), "ascending");
        assert!(u.indices.iter().all(|i| !train.contains(i)));
        // A smaller training set leaves more images unseen, and those include the larger's.
        let small = unseen_images(&t, 2, &design(), RunKey { fold: 1, size: 4 }, 1000, 0).unwrap();
        assert!(small.total > u.total);
        assert!(u.indices.iter().all(|i| small.indices.contains(i)));
    }

    #[test]
    fn more_unseen_images_than_the_tsne_takes_are_a_seeded_sample() {
        let t = targets();
        let run = RunKey { fold: 0, size: 4 };
        let all = unseen_images(&t, 2, &design(), run, 1000, 0).unwrap();
        let a = unseen_images(&t, 2, &design(), run, 5, 9).unwrap();
        let b = unseen_images(&t, 2, &design(), run, 5, 9).unwrap();
        assert_eq!(a, b, "the same seed gives the same sample");
        assert_eq!(a.indices.len(), 5);
        assert_eq!(a.total, all.total);
        assert!(a.sampled());
        assert!(a.indices.windows(2).all(|w| w[0] < w[1]));
        assert!(a.indices.iter().all(|i| all.indices.contains(i)));
    }

    #[test]
    fn a_fold_the_sweep_does_not_have_is_an_error() {
        let e = unseen_images(&targets(), 2, &design(), RunKey { fold: 5, size: 4 }, 10, 0);
        assert_eq!(e.unwrap_err(), "the sweep has no fold 6");
    }

    #[test]
    fn predictions_are_the_largest_output_of_the_output_layer() {
        let mut h1 = [0.0f32; HIDDEN];
        h1[0] = 1.0;
        let mut h2 = [0.0f32; HIDDEN];
        h2[1] = 2.0;
        // weights [hidden × 2]: h[0] votes for output 1, h[1] for output 0.
        let mut w = vec![0.0f32; HIDDEN * 2];
        w[1] = 1.0;
        w[2] = 1.0;
        let bias = [0.5, 0.0];
        let p = predict_from_hidden(&[h1, h2, [0.0; HIDDEN]], &w, &bias, 2);
        // h1: [0.5, 1.0] → 1; h2: [2.5, 0.0] → 0; zeros: the bias → 0.
        assert_eq!(p, vec![1, 0, 0]);
        // Without a bias.
        assert_eq!(predict_from_hidden(&[h1], &w, &[], 2), vec![1]);
    }

    #[test]
    fn the_description_says_whether_it_is_a_sample() {
        assert_eq!(
            describe("m", 5, 9),
            "m: a random 5 of the 9 images it did not train on"
        );
        assert_eq!(
            describe("m", 9, 9),
            "m: 9 images it did not train on (test, validation and unused pool)"
        );
    }
}
