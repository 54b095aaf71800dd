//! Training one network: seeded splits and augmentation, the paper's optimiser presets, early
//! stopping on validation loss with the best-validation weights restored before testing,
//! class balancing by augmentation, per-epoch events, cancellation, and honest failure modes
//! (NaN loss, collapse to a constant output).

pub mod augment;
pub mod cache;
pub mod config;
pub mod experiment;
pub mod split;
pub mod stack;

use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams, RmsPropConfig};
use burn::tensor::{Device, Int, Tensor, TensorData, activation};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::metrics;
use crate::nn::{ModelSpec, PaperCnn};
pub use augment::{AugmentParams, augment_into};
pub use cache::ImageCache;
pub use config::{ExperimentConfig, Optimizer, Task, TrainConfig, TrainPreset};
pub use split::{Split, split};

/// Per-epoch numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochStats {
    /// 1-based epoch number.
    pub epoch: usize,
    pub train_loss: f64,
    pub val_loss: f64,
    /// Binary: validation ROC-AUC; multiclass: validation accuracy.
    pub val_metric: Option<f64>,
    /// The epoch with the lowest validation loss so far.
    pub best_epoch: usize,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    Completed,
    /// The network gives (nearly) the same output for every image: it learnt nothing usable.
    Collapsed,
    Cancelled,
    Failed(String),
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunStatus::Completed => f.write_str("completed"),
            RunStatus::Collapsed => f.write_str("collapsed (near-constant output for every image)"),
            RunStatus::Cancelled => f.write_str("cancelled"),
            RunStatus::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

/// The network's output for one test image.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Index into the image cache.
    pub index: usize,
    pub target: usize,
    /// Softmax probabilities.
    pub probs: Vec<f32>,
}

impl Prediction {
    pub fn predicted(&self) -> usize {
        self.probs
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap_or(0)
    }
}

/// What training reports while it runs.
#[derive(Clone, Debug)]
pub enum TrainEvent {
    Started {
        n_train: usize,
        n_val: usize,
        n_test: usize,
        device: String,
    },
    Epoch(EpochStats),
    Finished(TrainSummary),
}

/// The result of a run without the model (small, cloneable, sent as an event).
#[derive(Clone, Debug)]
pub struct TrainSummary {
    pub status: RunStatus,
    pub history: Vec<EpochStats>,
    pub best_epoch: usize,
    pub test: Vec<Prediction>,
    /// Binary: test ROC-AUC of the positive output.
    pub test_auc: Option<f64>,
    pub test_accuracy: Option<f64>,
    /// Multiclass: support-weighted F1 on the test set.
    pub test_weighted_f1: Option<f64>,
}

/// The full result: the summary and the best-validation model (on a non-autodiff device).
pub struct TrainOutcome {
    pub summary: TrainSummary,
    pub model: Option<PaperCnn>,
}

/// Everything one training run needs.
pub struct TrainRequest<'a> {
    pub config: &'a TrainConfig,
    pub cache: &'a ImageCache,
    /// Target class of every image in the cache (indices into the outputs).
    pub targets: &'a [usize],
    pub n_classes: usize,
    pub split: &'a Split,
    pub seed: u64,
}

/// Mixes a seed with a stream number (SplitMix64 finaliser) for independent sub-seeds.
pub fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Largest spread of any output probability over the images below which a run counts as
/// collapsed.
pub const COLLAPSE_SPREAD: f32 = 1e-3;

/// Trains one network. Never panics on data problems: they end as `RunStatus::Failed`.
/// `cancel` is checked before every batch.
pub fn train(
    req: &TrainRequest<'_>,
    device: &Device,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(TrainEvent),
) -> TrainOutcome {
    match train_inner(req, device, cancel, on_event) {
        Ok(o) => o,
        Err(message) => {
            let summary = no_results(RunStatus::Failed(message), Vec::new(), 0);
            on_event(TrainEvent::Finished(summary.clone()));
            TrainOutcome {
                summary,
                model: None,
            }
        }
    }
}

/// The failure of a run whose training loss became `loss` (NaN or infinite) in `epoch`; one at
/// a time and stacked runs fail with the same words.
pub(crate) fn diverged(loss: f64, epoch: usize) -> String {
    format!(
        "training diverged: the loss became {loss} in epoch {epoch}; try a smaller learning rate"
    )
}

/// As [`diverged`], for the validation loss.
pub(crate) fn diverged_in_validation(loss: f64, epoch: usize) -> String {
    format!("training diverged: the validation loss became {loss} in epoch {epoch}")
}

/// An epoch's step losses (each with its batch size), read from the device together and added
/// in f64 in step order: (sum of loss × batch size, samples). The first non-finite loss is the
/// run's divergence error.
fn epoch_losses(steps: Vec<(Tensor<1>, usize)>, epoch: usize) -> Result<(f64, usize), String> {
    if steps.is_empty() {
        return Ok((0.0, 0));
    }
    let (tensors, sizes): (Vec<Tensor<1>>, Vec<usize>) = steps.into_iter().unzip();
    let values = Tensor::cat(tensors, 0)
        .try_into_vec_as::<f32>()
        .map_err(|e| format!("reading the losses failed: {e:?}"))?;
    let mut sum = 0.0;
    let mut seen = 0usize;
    for (&v, &b) in values.iter().zip(&sizes) {
        let loss = v as f64;
        if !loss.is_finite() {
            return Err(diverged(loss, epoch));
        }
        sum += loss * b as f64;
        seen += b;
    }
    Ok((sum, seen))
}

/// Checks a request before any work: the cache fits the configuration and the split, the
/// training and validation sets are not empty, and every index and target is in range.
fn check_request(req: &TrainRequest<'_>) -> Result<(), String> {
    let cfg = req.config;
    cfg.validate()?;
    if req.cache.side() != cfg.input_size {
        return Err(format!(
            "the image cache is {} px but the configuration asks for {} px",
            req.cache.side(),
            cfg.input_size
        ));
    }
    if req.targets.len() != req.cache.len() {
        return Err("targets and images differ in number".into());
    }
    let split = req.split;
    if split.train.is_empty() {
        return Err("the training set is empty".into());
    }
    if split.val.is_empty() {
        return Err("the validation set is empty (early stopping needs one)".into());
    }
    check_indices(req)
}

/// An index past the cache or a target past the outputs is an error, not an unchecked read.
fn check_indices(req: &TrainRequest<'_>) -> Result<(), String> {
    let split = req.split;
    match split
        .train
        .iter()
        .chain(&split.val)
        .chain(&split.test)
        .find(|&&i| i >= req.cache.len() || req.targets[i] >= req.n_classes)
    {
        Some(&bad) => Err(format!("sample {bad} is out of range")),
        None => Ok(()),
    }
}

/// The best validation loss so far and the epochs since, for early stopping; one at a time
/// and stacked runs keep one each.
#[derive(Clone, Debug)]
struct Patience {
    best_loss: f64,
    /// The epoch of the best validation loss (0 before the first validation).
    best_epoch: usize,
    /// Epochs since the best one.
    since_best: usize,
}

impl Patience {
    fn new() -> Self {
        Self {
            best_loss: f64::INFINITY,
            best_epoch: 0,
            since_best: 0,
        }
    }

    /// Records epoch `epoch`'s validation loss; true when it is the best so far.
    fn improved(&mut self, epoch: usize, val_loss: f64) -> bool {
        if val_loss < self.best_loss {
            self.best_loss = val_loss;
            self.best_epoch = epoch;
            self.since_best = 0;
            true
        } else {
            self.since_best += 1;
            false
        }
    }

    /// Whether some epoch has been the best yet (so best weights exist).
    fn has_best(&self) -> bool {
        self.best_epoch > 0
    }
}

/// How an epoch of one run ended.
enum EpochEnd {
    /// All its batches ran: (sum of loss × batch size, samples).
    Trained(f64, usize),
    /// `cancel` was set before one of its batches.
    Cancelled,
}

/// One run's training state besides the network: the request, its seeded generator, the
/// optimiser and the loss.
struct OneRun<'r, 'a> {
    req: &'r TrainRequest<'a>,
    train_dev: Device,
    rng: ChaCha8Rng,
    optim: burn::optim::ModuleOptimizer,
    loss_fn: burn::nn::loss::CrossEntropyLoss,
}

impl<'r, 'a> OneRun<'r, 'a> {
    /// The run's fresh network on the autodiff twin of `device`, and its state.
    fn new(req: &'r TrainRequest<'a>, device: &Device) -> Result<(Self, PaperCnn), String> {
        let train_dev = device.clone().autodiff();
        let spec = ModelSpec {
            input_size: req.config.input_size,
            n_classes: req.n_classes,
        };
        let model = PaperCnn::new(spec, derive_seed(req.seed, 1), &train_dev)?;
        let run = Self {
            req,
            rng: ChaCha8Rng::seed_from_u64(derive_seed(req.seed, 2)),
            optim: optimizer(req.config),
            loss_fn: CrossEntropyLossConfig::new().init(&train_dev),
            train_dev,
        };
        Ok((run, model))
    }

    /// One epoch: a fresh order of the training set, then one optimiser step per batch.
    /// `model` is the network before the epoch; it comes back trained.
    fn train_epoch(
        &mut self,
        mut model: PaperCnn,
        epoch: usize,
        cancel: &AtomicBool,
    ) -> Result<(PaperCnn, EpochEnd), String> {
        let (req, cfg) = (self.req, self.req.config);
        let order = epoch_order(
            &req.split.train,
            req.targets,
            req.n_classes,
            cfg,
            &mut self.rng,
        );
        // Each step's loss stays on the device until the epoch ends: no step waits for the
        // device to report back, so the next batch is augmented while the device computes.
        let mut step_losses: Vec<(Tensor<1>, usize)> = Vec::new();
        for batch in order.chunks(cfg.batch_size) {
            if cancel.load(Ordering::Relaxed) {
                // A loss that diverged before the cancel still ends the run as diverged.
                epoch_losses(step_losses, epoch)?;
                return Ok((model, EpochEnd::Cancelled));
            }
            let (next, loss) = self.step(model, batch);
            model = next;
            step_losses.push((loss, batch.len()));
        }
        let (loss_sum, seen) = epoch_losses(step_losses, epoch)?;
        Ok((model, EpochEnd::Trained(loss_sum, seen)))
    }

    /// One optimiser step on the images `batch` (indices into the cache), augmented; returns
    /// the updated network and the step's loss, still on the device.
    fn step(&mut self, model: PaperCnn, batch: &[usize]) -> (PaperCnn, Tensor<1>) {
        let side = self.req.config.input_size as usize;
        let x = self.augmented(batch);
        let y: Vec<i64> = batch.iter().map(|&i| self.req.targets[i] as i64).collect();
        let b = batch.len();
        let xt = Tensor::<4>::from_data(TensorData::new(x, [b, 3, side, side]), &self.train_dev);
        let yt = Tensor::<1, Int>::from_data(TensorData::new(y, [b]), &self.train_dev);
        let loss = self.loss_fn.forward(model.forward(xt), yt);
        let step_loss = loss.clone().without_autodiff().reshape([1]);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = self.optim.step(self.req.config.learning_rate, model, grads);
        (model, step_loss)
    }

    /// The images `batch` augmented, as floats in [0, 1], `[B, 3, S, S]`. The random choices
    /// are drawn in order on this thread; the pixel work runs on all cores (the result does
    /// not depend on the thread count).
    fn augmented(&mut self, batch: &[usize]) -> Vec<f32> {
        let cfg = self.req.config;
        let side = cfg.input_size as usize;
        let per_image = 3 * side * side;
        let params: Vec<AugmentParams> = batch
            .iter()
            .map(|_| {
                if cfg.augment {
                    AugmentParams::random(&mut self.rng)
                } else {
                    AugmentParams::IDENTITY
                }
            })
            .collect();
        let cache = self.req.cache;
        let mut x = vec![0f32; batch.len() * per_image];
        x.par_chunks_mut(per_image)
            .zip(batch.par_iter().zip(&params))
            .for_each_init(
                || vec![0u8; per_image],
                |buf, (dst, (&i, &p))| {
                    augment_into(cache.image(i), buf, 3, side, p);
                    for (d, &v) in dst.iter_mut().zip(buf.iter()) {
                        *d = v as f32 / 255.0;
                    }
                },
            );
        x
    }
}

fn train_inner(
    req: &TrainRequest<'_>,
    device: &Device,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<TrainOutcome, String> {
    check_request(req)?;
    let (cfg, split) = (req.config, req.split);
    let (mut run, mut model) = OneRun::new(req, device)?;
    on_event(TrainEvent::Started {
        n_train: split.train.len(),
        n_val: split.val.len(),
        n_test: split.test.len(),
        device: format!("{device:?}"),
    });
    let mut history = Vec::new();
    let mut patience = Patience::new();
    let mut best_model: Option<PaperCnn> = None;
    let mut cancelled = false;
    for epoch in 1..=cfg.max_epochs {
        let (trained, end) = run.train_epoch(model, epoch, cancel)?;
        model = trained;
        let EpochEnd::Trained(loss_sum, seen) = end else {
            cancelled = true;
            break;
        };
        let valid = model.valid();
        let val = predict(&valid, req.cache, &split.val, req.targets, device)?;
        let val_loss = mean_cross_entropy(&val);
        if !val_loss.is_finite() {
            return Err(diverged_in_validation(val_loss, epoch));
        }
        if patience.improved(epoch, val_loss) {
            best_model = Some(valid);
        }
        let stats = EpochStats {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            val_loss,
            val_metric: quality(&val, req.n_classes),
            best_epoch: patience.best_epoch,
        };
        on_event(TrainEvent::Epoch(stats.clone()));
        history.push(stats);
        if patience.since_best >= cfg.patience {
            break;
        }
    }
    let Some(best) = best_model else {
        // Cancelled before the first epoch ended.
        let summary = no_results(RunStatus::Cancelled, history, 0);
        on_event(TrainEvent::Finished(summary.clone()));
        return Ok(TrainOutcome {
            summary,
            model: None,
        });
    };
    let summary = test_summary(&best, req, cancelled, history, patience.best_epoch, device)?;
    on_event(TrainEvent::Finished(summary.clone()));
    Ok(TrainOutcome {
        summary,
        model: Some(best),
    })
}

/// The summary of a run whose best-validation network is `best`: its test predictions and
/// scores, and its status (cancelled, collapsed or completed).
fn test_summary(
    best: &PaperCnn,
    req: &TrainRequest<'_>,
    cancelled: bool,
    history: Vec<EpochStats>,
    best_epoch: usize,
    device: &Device,
) -> Result<TrainSummary, String> {
    let test = predict_test(best, req, device)?;
    let status = if cancelled {
        RunStatus::Cancelled
    } else if is_collapsed(&test) {
        RunStatus::Collapsed
    } else {
        RunStatus::Completed
    };
    Ok(summarise(status, history, best_epoch, test, req.n_classes))
}

/// The configured optimiser with Keras's defaults, as in the paper: RMSprop rho 0.9, no
/// momentum, epsilon 1e-7; Adam beta 0.9/0.999, epsilon 1e-7.
fn optimizer(cfg: &TrainConfig) -> burn::optim::ModuleOptimizer {
    match cfg.optimizer {
        config::Optimizer::RmsProp => RmsPropConfig::new()
            .with_alpha(0.9)
            .with_momentum(0.0)
            .with_epsilon(1e-7)
            .with_centered(false)
            .init(),
        config::Optimizer::Adam => AdamConfig::new()
            .with_beta_1(0.9)
            .with_beta_2(0.999)
            .with_epsilon(1e-7)
            .init(),
    }
}

/// A summary without test results (a failed or cancelled run).
fn no_results(status: RunStatus, history: Vec<EpochStats>, best_epoch: usize) -> TrainSummary {
    TrainSummary {
        status,
        history,
        best_epoch,
        test: Vec::new(),
        test_auc: None,
        test_accuracy: None,
        test_weighted_f1: None,
    }
}

/// Builds the summary's test scores.
fn summarise(
    status: RunStatus,
    history: Vec<EpochStats>,
    best_epoch: usize,
    test: Vec<Prediction>,
    n_classes: usize,
) -> TrainSummary {
    let (auc, acc, wf1) = test_scores(&test, n_classes);
    TrainSummary {
        status,
        history,
        best_epoch,
        test,
        test_auc: auc,
        test_accuracy: acc,
        test_weighted_f1: wf1,
    }
}

/// (binary AUC, accuracy, weighted F1) of predictions.
pub fn test_scores(
    preds: &[Prediction],
    n_classes: usize,
) -> (Option<f64>, Option<f64>, Option<f64>) {
    let auc = if n_classes == 2 {
        let scores: Vec<f64> = preds.iter().map(|p| p.probs[1] as f64).collect();
        let pos: Vec<bool> = preds.iter().map(|p| p.target == 1).collect();
        metrics::auc(&scores, &pos)
    } else {
        None
    };
    let truth: Vec<usize> = preds.iter().map(|p| p.target).collect();
    let pred: Vec<usize> = preds.iter().map(Prediction::predicted).collect();
    let cm = metrics::ConfusionMatrix::from_pairs(n_classes, &truth, &pred).ok();
    let acc = cm.as_ref().and_then(|c| c.accuracy());
    let wf1 = cm.as_ref().and_then(|c| c.weighted_f1());
    (auc, acc, wf1)
}

/// Validation quality: AUC for two classes, accuracy otherwise.
fn quality(preds: &[Prediction], n_classes: usize) -> Option<f64> {
    let (auc, acc, _) = test_scores(preds, n_classes);
    if n_classes == 2 { auc } else { acc }
}

/// Whether every output probability is (nearly) the same for all images.
pub fn is_collapsed(preds: &[Prediction]) -> bool {
    if preds.len() < 2 {
        return false;
    }
    let k = preds[0].probs.len();
    (0..k).all(|c| {
        let (lo, hi) = preds
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.probs[c]), hi.max(p.probs[c]))
            });
        hi - lo < COLLAPSE_SPREAD
    })
}

/// Mean cross-entropy of predictions against their targets (computed on the host, f64).
fn mean_cross_entropy(preds: &[Prediction]) -> f64 {
    if preds.is_empty() {
        return f64::NAN;
    }
    preds
        .iter()
        .map(|p| -(p.probs[p.target].max(1e-12) as f64).ln())
        .sum::<f64>()
        / preds.len() as f64
}

/// The order of training samples in one epoch: shuffled, and for class balancing each class
/// repeated (cyclically, augmented differently each time) up to `balance_to`.
fn epoch_order(
    train: &[usize],
    targets: &[usize],
    n_classes: usize,
    cfg: &TrainConfig,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let mut order: Vec<usize> = match cfg.balance_to {
        Some(per_class) => {
            let mut v = Vec::new();
            for c in 0..n_classes {
                let members: Vec<usize> =
                    train.iter().copied().filter(|&i| targets[i] == c).collect();
                if members.is_empty() {
                    continue;
                }
                let n = per_class.max(members.len());
                v.extend(members.iter().cycle().take(n).copied());
            }
            v
        }
        _ => train.to_vec(),
    };
    order.shuffle(rng);
    order
}

/// Softmax outputs for the given samples with a non-training model, in batches.
pub fn predict(
    model: &PaperCnn,
    cache: &ImageCache,
    indices: &[usize],
    targets: &[usize],
    device: &Device,
) -> Result<Vec<Prediction>, String> {
    predict_views(
        model,
        cache,
        indices,
        targets,
        device,
        &[AugmentParams::IDENTITY],
    )
}

/// The eight flip and quarter-turn views of an image (the dihedral group of the square): every
/// one an exact permutation of the pixels.
pub fn square_views() -> [AugmentParams; 8] {
    let view = |flip_h: bool, degrees: f32| AugmentParams {
        flip_h,
        flip_v: false,
        degrees,
    };
    [
        view(false, 0.0),
        view(false, 90.0),
        view(false, 180.0),
        view(false, 270.0),
        view(true, 0.0),
        view(true, 90.0),
        view(true, 180.0),
        view(true, 270.0),
    ]
}

/// The test predictions of a run: the mean over [`square_views`] when the configuration asks
/// for test-time augmentation, else of the plain images.
fn predict_test(
    model: &PaperCnn,
    req: &TrainRequest<'_>,
    device: &Device,
) -> Result<Vec<Prediction>, String> {
    let (cache, test, targets) = (req.cache, &req.split.test, req.targets);
    if req.config.test_views {
        predict_views(model, cache, test, targets, device, &square_views())
    } else {
        predict(model, cache, test, targets, device)
    }
}

/// Softmax outputs for the given samples, each the mean over `views` of the image (at least
/// one view), in batches.
pub fn predict_views(
    model: &PaperCnn,
    cache: &ImageCache,
    indices: &[usize],
    targets: &[usize],
    device: &Device,
    views: &[AugmentParams],
) -> Result<Vec<Prediction>, String> {
    if views.is_empty() {
        return Err("prediction needs at least one view of each image".into());
    }
    let dev = device.clone().without_autodiff();
    let side = cache.side() as usize;
    let per_image = 3 * side * side;
    let mut out = Vec::with_capacity(indices.len());
    let mut buf = vec![0u8; per_image];
    for chunk in indices.chunks(32) {
        let mut sum: Vec<f32> = Vec::new();
        for &view in views {
            let mut x = Vec::with_capacity(chunk.len() * per_image);
            for &i in chunk {
                let pixels = if view == AugmentParams::IDENTITY {
                    cache.image(i)
                } else {
                    augment_into(cache.image(i), &mut buf, 3, side, view);
                    &buf
                };
                x.extend(pixels.iter().map(|&v| v as f32 / 255.0));
            }
            let xt = Tensor::<4>::from_data(TensorData::new(x, [chunk.len(), 3, side, side]), &dev);
            let probs = activation::softmax(model.forward(xt), 1)
                .try_into_vec_as::<f32>()
                .map_err(|e| format!("reading predictions failed: {e:?}"))?;
            if sum.is_empty() {
                sum = probs;
            } else {
                sum.iter_mut().zip(&probs).for_each(|(s, p)| *s += p);
            }
        }
        let n_views = views.len() as f32;
        let k = sum.len() / chunk.len().max(1);
        for (j, &i) in chunk.iter().enumerate() {
            out.push(Prediction {
                index: i,
                target: targets[i],
                probs: sum[j * k..(j + 1) * k]
                    .iter()
                    .map(|s| s / n_views)
                    .collect(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_balancing_repeats_small_classes_up_to_the_target() {
        // class 0: 2 images, class 1: 5 images, class 2: 9 images
        let targets: Vec<usize> = [vec![0; 2], vec![1; 5], vec![2; 9]].concat();
        let train: Vec<usize> = (0..targets.len()).collect();
        let cfg = TrainConfig {
            balance_to: Some(6),
            ..TrainConfig::paper_multiclass()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let order = epoch_order(&train, &targets, 3, &cfg, &mut rng);
        let count = |c: usize| order.iter().filter(|&&i| targets[i] == c).count();
        assert_eq!((count(0), count(1), count(2)), (6, 6, 9));
        // Every training image appears at least once.
        assert!(train.iter().all(|i| order.contains(i)));
        // Without balancing: each image exactly once, shuffled.
        let plain = TrainConfig::paper_binary();
        let order = epoch_order(&train, &targets, 3, &plain, &mut rng);
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, train);
        assert_ne!(order, train);
    }

    #[test]
    fn derived_seeds_differ_by_stream() {
        assert_ne!(derive_seed(1, 1), derive_seed(1, 2));
        assert_ne!(derive_seed(1, 1), derive_seed(2, 1));
        assert_eq!(derive_seed(5, 3), derive_seed(5, 3));
    }
}
