//! Training several runs together as one stacked network ([`crate::stacked`]), with results
//! equal to training each alone with [`super::train`].
//!
//! Every run keeps its own state exactly as the one-at-a-time loop does: its seeded generator
//! (epoch order, then the augmentation of each image of each batch, in that order), its
//! position in the epoch, its validation after its own last batch of an epoch, its early
//! stopping and its best-validation weights. Each step of the stack takes the next batch of
//! every run still training; a run with a shorter epoch simply starts its next epoch sooner, a
//! short last batch is padded with masked samples, and a run that has stopped only contributes
//! masked samples (its best weights are already kept). All runs must share the input size, the
//! number of outputs and the optimiser settings, as the runs of a sweep do.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{
    AugmentParams, EpochStats, RunStatus, TrainEvent, TrainOutcome, TrainRequest, augment_into,
    derive_seed, epoch_order, is_collapsed, mean_cross_entropy, no_results, predict, quality,
    summarise,
};
use crate::nn::stacked::{StackedCnn, stacked_losses};
use crate::nn::{ModelSpec, PaperCnn};

/// One run's progress inside the stack.
struct RunState {
    epoch: usize,
    loss_sum: f64,
    seen: usize,
    best_loss: f64,
    best_epoch: usize,
    /// Whether the run has best-validation weights (in the `best` stack).
    has_best: bool,
    since_best: usize,
    history: Vec<EpochStats>,
    done: bool,
    failed: Option<String>,
}

impl RunState {
    /// Ends the run as failed, and tells the batch producer to stop drawing for it.
    fn fail(&mut self, why: String, stopped: &AtomicBool) {
        self.failed = Some(why);
        self.done = true;
        stopped.store(true, Ordering::Relaxed);
    }
}

/// One step's input for every run of the stack, in the stacked layout.
struct Batch {
    /// The pixels (zeros where a run has fewer samples).
    x: Pixels,
    /// `[M, B]` targets.
    y: Vec<i64>,
    /// Real samples per run.
    taken: Vec<usize>,
    /// Whether this batch is the last of the run's epoch.
    epoch_end: Vec<bool>,
    /// The runs whose pixels `x` holds, in its row order: the stack's rows when the batch was
    /// drawn (`x` has no rows for runs that had already left the stack).
    rows: Vec<usize>,
}

/// A batch's pixels as the device takes them.
enum Pixels {
    /// Values in [0, 1].
    Floats(Vec<f32>),
    /// The bytes themselves, image-major `[R, B, 3, S, S]` (R: the batch's `rows`) and padded to
    /// a multiple of 4, for
    /// the GPU to unpack (`gpu_block::unpack_unit_bytes`): a quarter of the upload, no
    /// conversion on the host.
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    Bytes(Vec<u8>),
}

/// The blocks (each `block` values) of runs `rows` from `v`, whose blocks are those of runs
/// `had`, in that order. Runs only ever leave the stack, keeping their order, so `rows` is a
/// subsequence of `had`; the same runs mean the same buffer, unchanged.
fn take_rows<T: Copy>(v: Vec<T>, block: usize, rows: &[usize], had: &[usize]) -> Vec<T> {
    if rows == had {
        return v;
    }
    let mut out = Vec::with_capacity(rows.len() * block);
    let mut k = 0;
    for &i in rows {
        while had[k] != i {
            k += 1;
        }
        out.extend_from_slice(&v[k * block..(k + 1) * block]);
    }
    out
}

/// RMSprop and Adam for a stack with the settings of [`optimizer`], written out here so that its
/// state can follow the stack when runs leave it (see `compact` in the training loop). The
/// arithmetic is burn's, operation for operation (burn-optim 0.22: `SquareAvgState`,
/// `RmsPropMomentum` without momentum; `AdaptiveMomentum` without amsgrad), so a stack trains as
/// it did with burn's optimiser; a test compares the two.
struct StackOptimizer {
    kind: super::Optimizer,
    /// Per parameter tensor (in `StackedCnn::tensors` order): RMSprop's square average, or
    /// Adam's first and second moments.
    state: Vec<(Tensor<3>, Option<Tensor<3>>)>,
    /// Adam's step count (every tensor steps every time, so one count serves all).
    time: i32,
}

impl StackOptimizer {
    const RMS_ALPHA: f32 = 0.9;
    const EPSILON: f32 = 1e-7;
    const BETA_1: f32 = 0.9;
    const BETA_2: f32 = 0.999;

    fn new(kind: super::Optimizer) -> Self {
        Self {
            kind,
            state: Vec::new(),
            time: 0,
        }
    }

    /// One step on every parameter of `stack` (on the autodiff device) with its gradient in
    /// `grads`; returns the updated stack, trainable again.
    fn step(
        &mut self,
        lr: f64,
        stack: &StackedCnn,
        grads: &burn::tensor::Gradients,
    ) -> Result<StackedCnn, String> {
        let tensors = stack.tensors();
        let first = self.state.is_empty();
        self.time += 1;
        let mut new_state = Vec::with_capacity(tensors.len());
        let mut updated = Vec::with_capacity(tensors.len());
        for (k, t) in tensors.into_iter().enumerate() {
            let g = t.grad(grads).ok_or("a stacked parameter got no gradient")?;
            let p = t.without_autodiff();
            let (delta, st) = match self.kind {
                super::Optimizer::RmsProp => {
                    let a = Self::RMS_ALPHA;
                    let sq = if first {
                        g.clone().square().mul_scalar(1. - a)
                    } else {
                        self.state[k]
                            .0
                            .clone()
                            .mul_scalar(a)
                            .add(g.clone().square().mul_scalar(1. - a))
                    };
                    let step = g.div(sq.clone().sqrt().add_scalar(Self::EPSILON));
                    (step, (sq, None))
                }
                super::Optimizer::Adam => {
                    let (b1, b2) = (Self::BETA_1, Self::BETA_2);
                    let (m1, m2) = if first {
                        (
                            g.clone().mul_scalar(1.0 - b1),
                            g.square().mul_scalar(1.0 - b2),
                        )
                    } else {
                        let (m1, m2) = &self.state[k];
                        let m2 = m2.clone().ok_or("Adam state without a second moment")?;
                        (
                            m1.clone()
                                .mul_scalar(b1)
                                .add(g.clone().mul_scalar(1.0 - b1)),
                            m2.mul_scalar(b2).add(g.square().mul_scalar(1.0 - b2)),
                        )
                    };
                    let bc2 = (1.0 - b2.powi(self.time)).sqrt();
                    let factor = bc2 / (1.0 - b1.powi(self.time));
                    let step = m1
                        .clone()
                        .mul_scalar(factor)
                        .div(m2.clone().sqrt().add_scalar(Self::EPSILON * bc2));
                    (step, (m1, Some(m2)))
                }
            };
            updated.push(p.sub(delta.mul_scalar(lr)).autodiff());
            new_state.push(st);
        }
        self.state = new_state;
        Ok(stack.with_tensors(updated))
    }

    /// Keeps the state of stack rows `ids` only, in that order (runs leaving the stack).
    fn keep_rows(&mut self, ids: &Tensor<1, Int>) {
        for (a, b) in &mut self.state {
            *a = a.clone().select(0, ids.clone());
            if let Some(b) = b {
                *b = b.clone().select(0, ids.clone());
            }
        }
    }
}

/// Pixel bytes (`shape`, padded to a multiple of 4) as floats in [0, 1] on the GPU `device`,
/// unpacked there.
#[cfg(feature = "gpu")]
fn bytes_to_device(
    mut v: Vec<u8>,
    shape: [usize; 5],
    device: &Device,
) -> Result<Tensor<5>, String> {
    v.resize(v.len().div_ceil(4) * 4, 0);
    let words = v.len() / 4;
    let packed = Tensor::<1, Int>::from_data(
        TensorData::from_bytes_vec(v, [words], burn::tensor::DType::I32),
        device,
    );
    Ok(crate::nn::gpu_block::unpack_unit_bytes(packed)
        .narrow(0, 0, shape.iter().product())
        .reshape(shape))
}

#[cfg(not(feature = "gpu"))]
fn bytes_to_device(_: Vec<u8>, _: [usize; 5], _: &Device) -> Result<Tensor<5>, String> {
    Err("pixels as bytes need the GPU build".into())
}

/// Class probabilities of the images `sets[j]` (of `reqs[j]`'s cache) through network j of
/// `net` (a stack without autodiff, one network per set), in chunks that keep the input under
/// the buffer cap. All networks run at once: one forward pass per chunk instead of one model
/// extraction and inference per run.
fn predict_stacked(
    net: &StackedCnn,
    reqs: &[&TrainRequest<'_>],
    sets: &[&[usize]],
    device: &Device,
    bytes: bool,
) -> Result<Vec<Vec<super::Prediction>>, String> {
    let e = sets.len();
    let mut out: Vec<Vec<super::Prediction>> =
        sets.iter().map(|s| Vec::with_capacity(s.len())).collect();
    let Some(first) = reqs.first() else {
        return Ok(out);
    };
    let side = first.cache.side() as usize;
    let plane = side * side;
    let vmax = sets.iter().map(|s| s.len()).max().unwrap_or(0);
    let fused = crate::nn::FusedPath::for_device(device) != crate::nn::FusedPath::None;
    let per_image = crate::nn::stacked::largest_tensor_bytes(e, 1, side, fused);
    let vb = (crate::nn::stacked::buffer_limit(device) / per_image.max(1)).clamp(1, vmax.max(1));
    let mut v0 = 0;
    while v0 < vmax {
        let n = vb.min(vmax - v0);
        // Image-major [E, n, 3, S, S], seen as the network's [E, 3, n, S, S] input.
        let per_image = 3 * plane;
        let mut x = vec![0u8; e * n * per_image];
        for (j, set) in sets.iter().enumerate() {
            for (b, &idx) in set.iter().skip(v0).take(n).enumerate() {
                let to = (j * n + b) * per_image;
                x[to..to + per_image].copy_from_slice(reqs[j].cache.image(idx));
            }
        }
        let shape = [e, n, 3, side, side];
        let xt = if bytes {
            bytes_to_device(x, shape, device)?
        } else {
            let v: Vec<f32> = x.iter().map(|&p| p as f32 / 255.0).collect();
            Tensor::<5>::from_data(TensorData::new(v, shape), device)
        }
        .swap_dims(1, 2);
        let probs = burn::tensor::activation::softmax(net.forward(xt), 2)
            .try_into_vec_as::<f32>()
            .map_err(|e| format!("reading predictions failed: {e:?}"))?;
        let k = probs.len() / (e * n).max(1);
        for (j, set) in sets.iter().enumerate() {
            for (b, &idx) in set.iter().skip(v0).take(n).enumerate() {
                let at = (j * n + b) * k;
                out[j].push(super::Prediction {
                    index: idx,
                    target: reqs[j].targets[idx],
                    probs: probs[at..at + k].to_vec(),
                });
            }
        }
        v0 += n;
    }
    Ok(out)
}

/// Draws and augments every run's batches in the one-at-a-time order, until every run has
/// stopped, reached its last epoch, or the receiver is gone.
fn produce(
    reqs: &[TrainRequest<'_>],
    cfg: &super::TrainConfig,
    stopped: &[AtomicBool],
    cancel: &AtomicBool,
    bytes: bool,
    live_rows: &std::sync::Mutex<Vec<usize>>,
    tx: std::sync::mpsc::SyncSender<Batch>,
) {
    struct Draw {
        rng: ChaCha8Rng,
        order: Vec<usize>,
        pos: usize,
        epoch: usize,
        finished: bool,
    }
    let m = reqs.len();
    let side = cfg.input_size as usize;
    let per_image = 3 * side * side;
    let plane = side * side;
    let bs = cfg.batch_size;
    let mut draws: Vec<Draw> = reqs
        .iter()
        .map(|r| {
            let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(r.seed, 2));
            let order = epoch_order(&r.split.train, r.targets, r.n_classes, cfg, &mut rng);
            Draw {
                rng,
                order,
                pos: 0,
                epoch: 1,
                finished: false,
            }
        })
        .collect();
    loop {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let mut jobs: Vec<(usize, usize, usize, AugmentParams)> = Vec::new(); // (run, slot, image, params)
        let mut y = vec![0i64; m * bs];
        let mut taken = vec![0usize; m];
        let mut epoch_end = vec![false; m];
        let mut any = false;
        for (i, (d, r)) in draws.iter_mut().zip(reqs).enumerate() {
            if d.finished || stopped[i].load(Ordering::Relaxed) {
                continue;
            }
            any = true;
            let end = (d.pos + bs).min(d.order.len());
            for (b, &idx) in d.order[d.pos..end].iter().enumerate() {
                let p = if cfg.augment {
                    AugmentParams::random(&mut d.rng)
                } else {
                    AugmentParams::IDENTITY
                };
                jobs.push((i, b, idx, p));
                y[i * bs + b] = r.targets[idx] as i64;
            }
            taken[i] = end - d.pos;
            d.pos = end;
            if d.pos >= d.order.len() {
                epoch_end[i] = true;
                if d.epoch >= cfg.max_epochs {
                    d.finished = true;
                } else {
                    d.epoch += 1;
                    d.order = epoch_order(&r.split.train, r.targets, r.n_classes, cfg, &mut d.rng);
                    d.pos = 0;
                }
            }
        }
        if !any {
            return;
        }
        // Pixels only for the runs still in the stack (the others have stopped and are masked).
        let rows = live_rows
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        let mut slot_of = vec![None; m];
        for (r, &i) in rows.iter().enumerate() {
            slot_of[i] = Some(r);
        }
        let jobs: Vec<(usize, usize, usize, AugmentParams)> = jobs
            .into_iter()
            .filter_map(|(i, b, idx, p)| Some((slot_of[i]?, b, idx, p)))
            .collect();
        let rn = rows.len();
        // The pixel work of all images in parallel; the draws above were sequential per run.
        let x = if bytes {
            // Image-major `[R, B, 3, S, S]`: every image is one contiguous block, augmented in
            // place by its own task on rayon's pool, with no copy afterwards.
            let mut x = vec![0u8; (rn * bs * per_image).div_ceil(4) * 4];
            {
                let mut slots: Vec<Option<&mut [u8]>> = x[..rn * bs * per_image]
                    .chunks_mut(per_image)
                    .map(Some)
                    .collect();
                let work: Vec<(&[u8], &mut [u8], AugmentParams)> = jobs
                    .iter()
                    .filter_map(|&(r, b, idx, p)| {
                        Some((reqs[rows[r]].cache.image(idx), slots[r * bs + b].take()?, p))
                    })
                    .collect();
                use rayon::prelude::*;
                work.into_par_iter()
                    .for_each(|(src, dst, p)| augment_into(src, dst, 3, side, p));
            }
            Pixels::Bytes(x)
        } else {
            let pictures = crate::dataset::par_map(jobs.len(), &|_, _| {}, |k| {
                let (r, _, idx, p) = jobs[k];
                let mut buf = vec![0u8; per_image];
                augment_into(reqs[rows[r]].cache.image(idx), &mut buf, 3, side, p);
                buf
            });
            let mut x = vec![0f32; rn * per_image * bs];
            for (k, pic) in pictures.into_iter().enumerate() {
                let (r, b, _, _) = jobs[k];
                let Some(pic) = pic else { continue };
                for c in 0..3 {
                    let to = ((r * 3 + c) * bs + b) * plane;
                    for (d, &v) in x[to..to + plane]
                        .iter_mut()
                        .zip(&pic[c * plane..(c + 1) * plane])
                    {
                        *d = v as f32 / 255.0;
                    }
                }
            }
            Pixels::Floats(x)
        };
        if tx
            .send(Batch {
                x,
                y,
                taken,
                epoch_end,
                rows,
            })
            .is_err()
        {
            return;
        }
    }
}

/// Trains `reqs` together on `device`. `on_event(i, event)` reports run `i`'s events; the
/// outcomes come back in the order of `reqs`.
pub fn train_stacked(
    reqs: &[TrainRequest<'_>],
    device: &Device,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(usize, TrainEvent),
) -> Vec<TrainOutcome> {
    match train_stacked_inner(reqs, device, cancel, on_event) {
        Ok(v) => v,
        Err(message) => reqs
            .iter()
            .enumerate()
            .map(|(i, _)| {
                let summary = no_results(RunStatus::Failed(message.clone()), Vec::new(), 0);
                on_event(i, TrainEvent::Finished(summary.clone()));
                TrainOutcome {
                    summary,
                    model: None,
                }
            })
            .collect(),
    }
}

fn train_stacked_inner(
    reqs: &[TrainRequest<'_>],
    device: &Device,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(usize, TrainEvent),
) -> Result<Vec<TrainOutcome>, String> {
    let Some(first) = reqs.first() else {
        return Ok(Vec::new());
    };
    let cfg = first.config;
    cfg.validate()?;
    for r in reqs {
        if r.config != cfg || r.n_classes != first.n_classes {
            return Err("stacked runs must share one configuration and output count".into());
        }
        if r.cache.side() != cfg.input_size || r.targets.len() != r.cache.len() {
            return Err("the image cache does not match the configuration".into());
        }
        if r.split.train.is_empty() || r.split.val.is_empty() {
            return Err("every stacked run needs training and validation images".into());
        }
        // As one at a time (`train_inner`): an index or target out of range is an error, not an
        // unchecked read on the GPU.
        if let Some(&bad) = r
            .split
            .train
            .iter()
            .chain(&r.split.val)
            .chain(&r.split.test)
            .find(|&&i| i >= r.cache.len() || r.targets[i] >= r.n_classes)
        {
            return Err(format!("sample {bad} is out of range"));
        }
    }
    let m = reqs.len();
    let spec = ModelSpec {
        input_size: cfg.input_size,
        n_classes: first.n_classes,
    };
    let plain = device.clone().without_autodiff();
    let train_dev = device.clone().autodiff();
    let nets: Vec<PaperCnn> = reqs
        .iter()
        .map(|r| PaperCnn::new(spec, derive_seed(r.seed, 1), &plain))
        .collect::<Result<_, _>>()?;
    let mut stack = StackedCnn::from_models(&nets, &train_dev)?;
    drop(nets);
    // Batches are drawn and augmented on a producer thread, one step ahead of the device.
    // Each run's generator is used in exactly the order of the one-at-a-time loop (epoch order,
    // then each image of each batch); validation never touches it, so drawing the next epoch's
    // order before the consumer has validated changes nothing. A run that stops early may have
    // had one more batch prepared: its samples are masked and the run's results do not change.
    let mut states: Vec<RunState> = reqs
        .iter()
        .map(|_| RunState {
            epoch: 1,
            loss_sum: 0.0,
            seen: 0,
            best_loss: f64::INFINITY,
            best_epoch: 0,
            has_best: false,
            since_best: 0,
            history: Vec::new(),
            done: false,
            failed: None,
        })
        .collect();
    for (i, r) in reqs.iter().enumerate() {
        on_event(
            i,
            TrainEvent::Started {
                n_train: r.split.train.len(),
                n_val: r.split.val.len(),
                n_test: r.split.test.len(),
                device: format!("{device:?} (stack of {m})"),
            },
        );
    }
    let mut optim = StackOptimizer::new(cfg.optimizer);
    let side = cfg.input_size as usize;
    let bs = cfg.batch_size;
    let stopped: Vec<AtomicBool> = (0..m).map(|_| AtomicBool::new(false)).collect();
    let mut cancelled = false;
    // On the GPU the pixels travel as bytes and are unpacked there.
    let bytes = crate::nn::FusedPath::for_device(device) == crate::nn::FusedPath::Gpu;
    // Every run's best-validation weights, as a stack without autodiff.
    let mut best: Option<StackedCnn> = None;
    // Each step's losses per row (on the device) and real samples per row, since the losses
    // were last read (see below).
    let mut pending: Vec<(Tensor<1>, Vec<f32>)> = Vec::new();
    // Stack row r trains run rows[r]; runs leave the stack as they stop (see below).
    let mut rows: Vec<usize> = (0..m).collect();
    let live_rows = std::sync::Mutex::new(rows.clone());
    // Best weights of the runs that left the stack (the others are rows of `best`).
    let mut best_models: Vec<Option<PaperCnn>> = (0..m).map(|_| None).collect();

    std::thread::scope(|scope| -> Result<(), String> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(1);
        let stopped = &stopped;
        let live_rows = &live_rows;
        std::thread::Builder::new()
            .name("stack-batches".into())
            .spawn_scoped(scope, move || {
                produce(reqs, cfg, stopped, cancel, bytes, live_rows, tx)
            })
            .map_err(|e| e.to_string())?;
        while states.iter().any(|s| !s.done) {
            if cancel.load(Ordering::Relaxed) {
                cancelled = true;
                break;
            }
            let Ok(batch) = rx.recv() else {
                // The producer has nothing more. It ends normally only after every run's last
                // batch, so a run still training here means the producer saw a cancel first.
                cancelled |= cancel.load(Ordering::Relaxed) || states.iter().any(|s| !s.done);
                break;
            };
            let rn = rows.len();
            let mut w = vec![0f32; rn * bs];
            for (r, &i) in rows.iter().enumerate() {
                if !states[i].done {
                    w[r * bs..r * bs + batch.taken[i]].fill(1.0);
                }
            }
            let block = bs * 3 * side * side;
            let x = match batch.x {
                Pixels::Floats(v) => Tensor::<5>::from_data(
                    TensorData::new(
                        take_rows(v, block, &rows, &batch.rows),
                        [rn, 3, bs, side, side],
                    ),
                    &train_dev,
                ),
                // [R, B, 3, S, S] seen as [R, 3, B, S, S] (the stacked network's input view;
                // its fused path swaps it back without a copy).
                Pixels::Bytes(v) => bytes_to_device(
                    take_rows(v, block, &rows, &batch.rows),
                    [rn, bs, 3, side, side],
                    &plain,
                )?
                .swap_dims(1, 2)
                .autodiff(),
            };
            let y: Vec<i64> = rows
                .iter()
                .flat_map(|&i| batch.y[i * bs..(i + 1) * bs].iter().copied())
                .collect();
            let yt = Tensor::<2, Int>::from_data(TensorData::new(y, [rn, bs]), &train_dev);
            let wt = Tensor::<2>::from_data(TensorData::new(w, [rn, bs]), &train_dev);
            let losses = stacked_losses(stack.forward(x), yt, wt);
            // Each step's losses stay on the device and are read together only when an epoch
            // ends: no step waits for the device to report back, so the host prepares the next
            // step while the device computes. They are then added in f64 in step order, as one
            // at a time. A diverged network's NaN or infinite loss is its own: the networks
            // share no values.
            let taken: Vec<f32> = rows
                .iter()
                .map(|&i| {
                    if states[i].done {
                        0.0
                    } else {
                        batch.taken[i] as f32
                    }
                })
                .collect();
            pending.push((losses.clone().without_autodiff(), taken));
            let grads = losses.sum().backward();
            stack = optim.step(cfg.learning_rate, &stack, &grads)?;

            // The rows whose run's epoch ends here are validated together below.
            let mut ending = Vec::new();
            for (r, &i) in rows.iter().enumerate() {
                let s = &mut states[i];
                if s.done {
                    continue;
                }
                s.seen += batch.taken[i];
                if batch.epoch_end[i] {
                    ending.push(r);
                }
            }
            if ending.is_empty() {
                continue;
            }
            let steps: Vec<(Tensor<1>, Vec<f32>)> = std::mem::take(&mut pending);
            let (tensors, taken): (Vec<Tensor<1>>, Vec<Vec<f32>>) = steps.into_iter().unzip();
            let values = Tensor::stack::<2>(tensors, 0)
                .try_into_vec_as::<f32>()
                .map_err(|e| format!("reading the losses failed: {e:?}"))?;
            for (k, taken) in taken.iter().enumerate() {
                for (r, &i) in rows.iter().enumerate() {
                    let s = &mut states[i];
                    if s.done || taken[r] == 0.0 {
                        continue;
                    }
                    let v = values[k * rn + r] as f64;
                    if !v.is_finite() {
                        let why = super::diverged(v, s.epoch);
                        s.fail(why, &stopped[i]);
                        continue;
                    }
                    s.loss_sum += v * taken[r] as f64;
                }
            }
            ending.retain(|&r| !states[rows[r]].done);
            if ending.is_empty() {
                continue;
            }
            // Validate every run whose epoch ends, as the one-at-a-time loop does after its own
            // last batch of an epoch, but all at once: their networks are taken out of the
            // stack on the device and run together.
            let now = stack.subset(&ending);
            let sets: Vec<&[usize]> = ending
                .iter()
                .map(|&r| &reqs[rows[r]].split.val[..])
                .collect();
            let ending_reqs: Vec<&TrainRequest<'_>> =
                ending.iter().map(|&r| &reqs[rows[r]]).collect();
            let vals = predict_stacked(&now, &ending_reqs, &sets, &plain, bytes)?;
            let mut improved = vec![false; rn];
            for (&r, val) in ending.iter().zip(vals) {
                let i = rows[r];
                let s = &mut states[i];
                let val_loss = mean_cross_entropy(&val);
                if !val_loss.is_finite() {
                    let why = super::diverged_in_validation(val_loss, s.epoch);
                    s.fail(why, &stopped[i]);
                    continue;
                }
                if val_loss < s.best_loss {
                    s.best_loss = val_loss;
                    s.best_epoch = s.epoch;
                    s.has_best = true;
                    improved[r] = true;
                    s.since_best = 0;
                } else {
                    s.since_best += 1;
                }
                let stats = EpochStats {
                    epoch: s.epoch,
                    train_loss: s.loss_sum / s.seen.max(1) as f64,
                    val_loss,
                    val_metric: quality(&val, reqs[i].n_classes),
                    best_epoch: s.best_epoch,
                };
                on_event(i, TrainEvent::Epoch(stats.clone()));
                s.history.push(stats);
                if s.since_best >= cfg.patience || s.epoch >= cfg.max_epochs {
                    s.done = true;
                    stopped[i].store(true, Ordering::Relaxed);
                } else {
                    s.epoch += 1;
                    s.loss_sum = 0.0;
                    s.seen = 0;
                }
            }
            // The best-validation weights stay on the device, as one more stack: the networks
            // that improved are copied into it (exactly, by a mask).
            if improved.iter().any(|&b| b) {
                best = Some(match best.take() {
                    None => stack.subset(&(0..rn).collect::<Vec<_>>()),
                    Some(b) => b.take_where(&stack, &improved),
                });
            }
            // When at most half the rows still train, the stopped runs leave the stack: a
            // stopped run's row would otherwise be computed (masked) until the last run ends.
            // Their best weights are copied out first; the optimiser state follows the rows.
            let active: Vec<usize> = (0..rn).filter(|&r| !states[rows[r]].done).collect();
            if !active.is_empty() && active.len() * 2 <= rn {
                if let Some(b) = &best {
                    for (r, &i) in rows.iter().enumerate() {
                        if states[i].done && states[i].has_best && best_models[i].is_none() {
                            best_models[i] = Some(b.model(r, spec, &plain)?);
                        }
                    }
                }
                let sub = stack.subset(&active);
                stack = sub.with_tensors(sub.tensors().into_iter().map(|t| t.autodiff()).collect());
                optim.keep_rows(&Tensor::<1, Int>::from_data(
                    TensorData::new(
                        active.iter().map(|&r| r as i64).collect::<Vec<_>>(),
                        [active.len()],
                    ),
                    &plain,
                ));
                best = best.take().map(|b| b.subset(&active));
                rows = active.iter().map(|&r| rows[r]).collect();
                // The producer draws pixels for these rows only from its next batch on.
                match live_rows.lock() {
                    Ok(mut l) => *l = rows.clone(),
                    Err(p) => *p.into_inner() = rows.clone(),
                }
                #[cfg(test)]
                tests::COMPACTIONS.with(|c| c.set(c.get() + 1));
            }
        }
        // Let the producer end (it stops when the channel closes or every run has stopped).
        for f in stopped {
            f.store(true, Ordering::Relaxed);
        }
        drop(rx);
        Ok(())
    })?;

    if let Some(b) = &best {
        for (r, &i) in rows.iter().enumerate() {
            if states[i].has_best && best_models[i].is_none() {
                best_models[i] = Some(b.model(r, spec, &plain)?);
            }
        }
    }
    let mut out = Vec::with_capacity(m);
    for (i, (s, r)) in states.into_iter().zip(reqs).enumerate() {
        let summary = if let Some(msg) = s.failed {
            // As one at a time, where a diverged run ends with an error and no history.
            no_results(RunStatus::Failed(msg), Vec::new(), 0)
        } else if let Some(best) = best_models[i].as_ref() {
            let test = predict(best, r.cache, &r.split.test, r.targets, &plain)?;
            let status = if cancelled && !s.done {
                RunStatus::Cancelled
            } else if is_collapsed(&test) {
                RunStatus::Collapsed
            } else {
                RunStatus::Completed
            };
            summarise(status, s.history, s.best_epoch, test, r.n_classes)
        } else {
            no_results(RunStatus::Cancelled, s.history, 0)
        };
        on_event(i, TrainEvent::Finished(summary.clone()));
        let model = if matches!(summary.status, RunStatus::Failed(_)) {
            None
        } else {
            best_models[i].take()
        };
        out.push(TrainOutcome { summary, model });
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::train::{ImageCache, Split, TrainConfig, train};

    thread_local! {
        /// Times a stack was compacted by `train_stacked` on this thread.
        pub(crate) static COMPACTIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// The proof at the level of whole runs: three runs with different training-set
    /// sizes (so their epochs end at different steps), trained stacked, give the histories,
    /// best epochs and test predictions of the same runs trained one at a time.
    #[test]
    fn stacked_runs_equal_one_at_a_time_runs() {
        stacked_on_equals_alone_on_the_cpu(&Device::flex());
    }

    /// The same on the GPU (fused kernels, pixels unpacked there), against the CPU's
    /// one-at-a-time runs; skipped without an adapter.
    #[cfg(feature = "gpu")]
    #[test]
    fn stacked_runs_on_the_gpu_equal_one_at_a_time_runs_on_the_cpu() {
        if let Some(gpu) = crate::nn::gpu_block::tests::gpu() {
            stacked_on_equals_alone_on_the_cpu(&gpu);
        }
    }

    /// The stack's own RMSprop and Adam step exactly as burn's optimisers with the same settings.
    #[test]
    fn the_stack_optimiser_steps_as_burns() {
        use crate::nn::stacked::tests::{S, images};
        use crate::nn::stacked::{stack_input, stacked_loss};
        use burn::optim::GradientsParams;
        let dev = Device::flex();
        let ad = dev.clone().autodiff();
        let spec = ModelSpec {
            input_size: S as u32,
            n_classes: 2,
        };
        for kind in [
            super::super::Optimizer::RmsProp,
            super::super::Optimizer::Adam,
        ] {
            let cfg = TrainConfig {
                optimizer: kind,
                ..TrainConfig::quick()
            };
            let nets: Vec<PaperCnn> = (0..2)
                .map(|i| PaperCnn::new(spec, i, &dev).unwrap())
                .collect();
            let mut ours = StackedCnn::from_models(&nets, &ad).unwrap();
            let mut theirs = StackedCnn::from_models(&nets, &ad).unwrap();
            let mut opt_ours = StackOptimizer::new(kind);
            let mut opt_theirs = super::super::optimizer(&cfg);
            let y = Tensor::<2, Int>::from_data(TensorData::new(vec![0i64, 1, 1, 0], [2, 2]), &ad);
            let w = Tensor::<2>::ones([2, 2], &ad);
            for step in 0..3 {
                let per: Vec<Vec<f32>> = (0..2).map(|i| images(10 * i + step, 2)).collect();
                let x = stack_input(&per, 2, S, &ad);
                let loss = stacked_loss(ours.forward(x.clone()), y.clone(), w.clone());
                ours = opt_ours.step(1e-3, &ours, &loss.backward()).unwrap();
                let loss = stacked_loss(theirs.forward(x), y.clone(), w.clone());
                let grads = GradientsParams::from_grads(loss.backward(), &theirs);
                theirs = opt_theirs.step(1e-3, theirs, grads);
            }
            for i in 0..2 {
                let a = ours.model(i, spec, &dev).unwrap().parameters();
                let b = theirs.model(i, spec, &dev).unwrap().parameters();
                crate::nn::stacked::tests::close(&a, &b, 1e-6);
                let fresh = nets[i].parameters();
                assert_ne!(a, fresh, "{kind:?} changed nothing");
            }
        }
    }

    /// Demo cells (classes 1 and 4 alternating) as a cache, with their 0/1 targets.
    fn cells(n: usize, side: u32, seed: u64) -> (ImageCache, Vec<usize>) {
        let images: Vec<image::RgbImage> = (0..n)
            .map(|k| {
                crate::demo::render_cell(if k % 2 == 0 { 1 } else { 4 }, side, seed + k as u64)
            })
            .collect();
        (
            ImageCache::from_images(&images, side),
            (0..n).map(|k| k % 2).collect(),
        )
    }

    /// One binary request per split, seeds `seed`, `seed + 1`, …
    fn requests<'a>(
        cfg: &'a TrainConfig,
        cache: &'a ImageCache,
        targets: &'a [usize],
        splits: &'a [Split],
        seed: u64,
    ) -> Vec<TrainRequest<'a>> {
        splits
            .iter()
            .enumerate()
            .map(|(i, split)| TrainRequest {
                config: cfg,
                cache,
                targets,
                n_classes: 2,
                split,
                seed: seed + i as u64,
            })
            .collect()
    }

    /// Diverging runs in a stack end as failed, with the reason, as one at a time (the stacked
    /// loop reads its losses only when an epoch ends).
    #[test]
    fn diverging_stacked_runs_fail_with_the_reason() {
        let side = 190u32;
        let (cache, targets) = cells(12, side, 0);
        let cfg = TrainConfig {
            input_size: side,
            max_epochs: 3,
            batch_size: 2,
            learning_rate: 1e300,
            ..TrainConfig::quick()
        };
        let splits: Vec<Split> = [4usize, 6]
            .iter()
            .map(|&n| Split {
                train: (0..n).collect(),
                val: (6..9).collect(),
                test: (9..12).collect(),
            })
            .collect();
        let reqs = requests(&cfg, &cache, &targets, &splits, 7);
        let mut finished = 0;
        let out = train_stacked(
            &reqs,
            &Device::flex(),
            &AtomicBool::new(false),
            &mut |_, e| {
                if let TrainEvent::Finished(_) = e {
                    finished += 1;
                }
            },
        );
        assert_eq!(finished, 2);
        for o in &out {
            match &o.summary.status {
                RunStatus::Failed(m) => assert!(m.contains("diverged"), "{m}"),
                other => panic!("expected a failed run, got {other}"),
            }
            assert!(o.model.is_none());
            // As one at a time: a diverged run keeps no history.
            assert!(o.summary.history.is_empty());
        }

        // A sample index past the cache fails the runs with the reason, and nothing panics.
        let bad = vec![Split {
            train: vec![0, 1, 99],
            val: vec![6],
            test: vec![9],
        }];
        let cfg = TrainConfig {
            learning_rate: 1e-3,
            ..cfg
        };
        let reqs = requests(&cfg, &cache, &targets, &bad, 1);
        let out = train_stacked(
            &reqs,
            &Device::flex(),
            &AtomicBool::new(false),
            &mut |_, _| {},
        );
        match &out[0].summary.status {
            RunStatus::Failed(m) => assert!(m.contains("sample 99 is out of range"), "{m}"),
            other => panic!("expected a failed run, got {other}"),
        }
    }

    #[test]
    fn a_batch_drawn_before_runs_left_gives_the_rows_that_remain() {
        // Runs 0..4, two values each; runs 1 and 3 have left the stack since.
        let v: Vec<u8> = (0..8).collect();
        assert_eq!(
            take_rows(v.clone(), 2, &[0, 2], &[0, 1, 2, 3]),
            [0, 1, 4, 5]
        );
        assert_eq!(take_rows(v.clone(), 2, &[3], &[0, 1, 2, 3]), [6, 7]);
        // A batch drawn after the change holds exactly the remaining runs.
        assert_eq!(take_rows(vec![4u8, 5], 2, &[2], &[2]), [4, 5]);
        assert_eq!(take_rows(v.clone(), 2, &[0, 1, 2, 3], &[0, 1, 2, 3]), v);
    }

    fn stacked_on_equals_alone_on_the_cpu(stack_dev: &Device) {
        let side = 190u32;
        let (cache, targets) = cells(30, side, 40);
        let cfg = TrainConfig {
            input_size: side,
            max_epochs: 6,
            patience: 1,
            batch_size: 4,
            ..TrainConfig::quick()
        };
        let splits: Vec<Split> = [6usize, 9, 4]
            .iter()
            .map(|&n| Split {
                train: (0..n).collect(),
                val: (20..24).collect(),
                test: (24..30).collect(),
            })
            .collect();
        let reqs = requests(&cfg, &cache, &targets, &splits, 100);
        let dev = Device::flex();
        let no = AtomicBool::new(false);
        let alone: Vec<TrainOutcome> = reqs
            .iter()
            .map(|r| train(r, &dev, &no, &mut |_| {}))
            .collect();
        let mut epochs_seen = vec![0usize; 3];
        COMPACTIONS.with(|c| c.set(0));
        let stacked = train_stacked(&reqs, stack_dev, &no, &mut |i, e| {
            if let TrainEvent::Epoch(_) = e {
                epochs_seen[i] += 1;
            }
        });
        assert_eq!(stacked.len(), 3);
        // Runs stopped at different epochs, and the ones that stopped left the stack.
        assert!(
            COMPACTIONS.with(|c| c.get()) >= 1,
            "the stack was never compacted"
        );
        for (a, s) in alone.iter().zip(&stacked) {
            let (a, s) = (&a.summary, &s.summary);
            assert_eq!(a.status, RunStatus::Completed);
            assert_eq!(s.status, a.status);
            assert_eq!(s.history.len(), a.history.len());
            assert_eq!(s.best_epoch, a.best_epoch);
            for (x, y) in a.history.iter().zip(&s.history) {
                assert!(
                    (x.val_loss - y.val_loss).abs() < 1e-4,
                    "{} vs {}",
                    x.val_loss,
                    y.val_loss
                );
                assert!((x.train_loss - y.train_loss).abs() < 1e-4);
            }
            for (p, q) in a.test.iter().zip(&s.test) {
                assert_eq!(p.index, q.index);
                for (u, v) in p.probs.iter().zip(&q.probs) {
                    assert!((u - v).abs() < 1e-4, "{u} vs {v}");
                }
            }
        }
        assert_eq!(
            epochs_seen,
            stacked
                .iter()
                .map(|o| o.summary.history.len())
                .collect::<Vec<_>>()
        );
        // The weights really are the stacked ones, not a copy of the alone runs.
        let m = stacked[1].model.as_ref().unwrap().parameters();
        let fresh = PaperCnn::new(
            ModelSpec {
                input_size: side,
                n_classes: 2,
            },
            derive_seed(101, 1),
            &dev,
        )
        .unwrap()
        .parameters();
        assert_ne!(m, fresh);
    }
}
