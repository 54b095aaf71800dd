//! Training several runs together as one stacked network ([`crate::nn::stacked`]), with
//! results equal to training each alone with [`super::train`].
//!
//! Every run keeps its own state exactly as the one-at-a-time loop does: its seeded generator
//! (epoch order, then the augmentation of each image of each batch, in that order), its
//! position in the epoch, its validation after its own last batch of an epoch, its early
//! stopping and its best-validation weights. Each step of the stack takes the next batch of
//! every run still training; a run with a shorter epoch simply starts its next epoch sooner, a
//! short last batch is padded with masked samples, and a run that has stopped only contributes
//! masked samples (its best weights are already kept). All runs must share the input size, the
//! number of outputs and the optimiser settings, as the runs of a sweep do.
//!
//! The batches come from a producer thread ([`producer`]); the loop here ([`StackTrainer`])
//! steps the stack, reads the losses when an epoch ends, validates, keeps the best weights and
//! lets stopped runs leave the stack. [`optimizer`] holds the stack's own RMSprop and Adam.

mod optimizer;
mod producer;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::{
    EpochStats, Patience, Prediction, RunStatus, TrainConfig, TrainEvent, TrainOutcome,
    TrainRequest, check_indices, derive_seed, mean_cross_entropy, no_results, quality,
    test_summary,
};
use crate::nn::stacked::{StackedCnn, stacked_losses};
use crate::nn::{FusedPath, ModelSpec, PaperCnn};
use optimizer::StackOptimizer;
use producer::{Batch, Pixels, Shared, produce};

/// One run's progress inside the stack.
struct RunState {
    epoch: usize,
    loss_sum: f64,
    seen: usize,
    /// Its best validation so far; with a best epoch, its best weights are a row of the `best`
    /// stack or, once it left the stack, in `best_models`.
    patience: Patience,
    history: Vec<EpochStats>,
    done: bool,
    failed: Option<String>,
}

impl RunState {
    fn new() -> Self {
        Self {
            epoch: 1,
            loss_sum: 0.0,
            seen: 0,
            patience: Patience::new(),
            history: Vec::new(),
            done: false,
            failed: None,
        }
    }

    /// Ends the run as failed, and tells the batch producer to stop drawing for it.
    fn fail(&mut self, why: String, stopped: &AtomicBool) {
        self.failed = Some(why);
        self.done = true;
        stopped.store(true, Ordering::Relaxed);
    }

    /// Ends the run's epoch with a (finite) validation loss: early stopping, the epoch's
    /// numbers, and the run stopped after its last epoch or when its patience is spent, else
    /// its next epoch begun. Returns the numbers and whether the epoch is the best so far.
    fn end_epoch(
        &mut self,
        val_loss: f64,
        val_metric: Option<f64>,
        cfg: &TrainConfig,
        stopped: &AtomicBool,
    ) -> (EpochStats, bool) {
        let improved = self.patience.improved(self.epoch, val_loss);
        let stats = EpochStats {
            epoch: self.epoch,
            train_loss: self.loss_sum / self.seen.max(1) as f64,
            val_loss,
            val_metric,
            best_epoch: self.patience.best_epoch,
        };
        self.history.push(stats.clone());
        if self.patience.since_best >= cfg.patience || self.epoch >= cfg.max_epochs {
            self.done = true;
            stopped.store(true, Ordering::Relaxed);
        } else {
            self.epoch += 1;
            self.loss_sum = 0.0;
            self.seen = 0;
        }
        (stats, improved)
    }
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
) -> Result<Vec<Vec<Prediction>>, String> {
    let e = sets.len();
    let mut out: Vec<Vec<Prediction>> = sets.iter().map(|s| Vec::with_capacity(s.len())).collect();
    let Some(first) = reqs.first() else {
        return Ok(out);
    };
    let side = first.cache.side() as usize;
    let plane = side * side;
    let vmax = sets.iter().map(|s| s.len()).max().unwrap_or(0);
    let fused = FusedPath::for_device(device).is_fused();
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
                out[j].push(Prediction {
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

/// Checks that runs can train as one stack: one configuration and output count, caches that
/// fit it, training and validation images for every run, and every index and target in range.
fn check_requests(reqs: &[TrainRequest<'_>]) -> Result<(), String> {
    let Some(first) = reqs.first() else {
        return Ok(());
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
        // As one at a time: an index or target out of range is an error, not an unchecked
        // read on the GPU.
        check_indices(r)?;
    }
    Ok(())
}

/// The stacked training loop's state: the stack of the networks still training (row r trains
/// run `rows[r]`), their optimiser, every run's progress and best weights.
struct StackTrainer<'s, 'a> {
    reqs: &'s [TrainRequest<'a>],
    cfg: &'a TrainConfig,
    shared: &'s Shared,
    spec: ModelSpec,
    /// The device without autodiff, and with it.
    plain: Device,
    train_dev: Device,
    /// On the GPU the pixels travel as bytes and are unpacked there.
    bytes: bool,
    net: StackedCnn,
    optim: StackOptimizer,
    states: Vec<RunState>,
    /// The runs still in the stack, in row order; runs leave it as they stop (see
    /// [`Self::compact`]).
    rows: Vec<usize>,
    /// The best-validation weights of the runs in `rows`, as a stack without autodiff.
    best: Option<StackedCnn>,
    /// Best weights of the runs that left the stack (the others are rows of `best`).
    best_models: Vec<Option<PaperCnn>>,
    /// Each step's losses per row (on the device) and real samples per row, since the losses
    /// were last read (see [`Self::read_losses`]).
    pending: Vec<(Tensor<1>, Vec<f32>)>,
    /// Times stopped runs left the stack.
    compactions: usize,
}

impl<'s, 'a> StackTrainer<'s, 'a> {
    /// Every run's fresh network (seeded as one at a time), stacked on the autodiff twin of
    /// `device`. `reqs` must not be empty.
    fn new(
        reqs: &'s [TrainRequest<'a>],
        device: &Device,
        shared: &'s Shared,
    ) -> Result<Self, String> {
        let first = reqs.first().ok_or("no runs to stack")?;
        let cfg = first.config;
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
        let net = StackedCnn::from_models(&nets, &train_dev)?;
        let m = reqs.len();
        Ok(Self {
            reqs,
            cfg,
            shared,
            spec,
            bytes: FusedPath::for_device(device) == FusedPath::Gpu,
            plain,
            train_dev,
            net,
            optim: StackOptimizer::new(cfg.optimizer),
            states: (0..m).map(|_| RunState::new()).collect(),
            rows: (0..m).collect(),
            best: None,
            best_models: (0..m).map(|_| None).collect(),
            pending: Vec::new(),
            compactions: 0,
        })
    }

    /// Reports every run's start.
    fn report_started(&self, device: &Device, on_event: &mut dyn FnMut(usize, TrainEvent)) {
        let m = self.reqs.len();
        for (i, r) in self.reqs.iter().enumerate() {
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
    }

    fn training(&self) -> bool {
        self.states.iter().any(|s| !s.done)
    }

    /// Trains on the producer's batches until every run is done; returns whether training was
    /// cancelled first.
    fn consume(
        &mut self,
        rx: &Receiver<Batch>,
        cancel: &AtomicBool,
        on_event: &mut dyn FnMut(usize, TrainEvent),
    ) -> Result<bool, String> {
        while self.training() {
            if cancel.load(Ordering::Relaxed) {
                return Ok(true);
            }
            let Ok(batch) = rx.recv() else {
                // The producer has nothing more. It ends normally only after every run's last
                // batch, so a run still training here means the producer saw a cancel first.
                return Ok(cancel.load(Ordering::Relaxed) || self.training());
            };
            let mut ending = self.step(batch)?;
            if ending.is_empty() {
                continue;
            }
            self.read_losses()?;
            ending.retain(|&r| !self.states[self.rows[r]].done);
            if ending.is_empty() {
                continue;
            }
            let improved = self.validate(&ending, on_event)?;
            self.keep_best(&improved);
            if self.worth_compacting() {
                self.compact()?;
            }
        }
        Ok(false)
    }

    /// One optimiser step of the stack on `batch`; returns the rows whose run's epoch ends
    /// with it.
    fn step(&mut self, batch: Batch) -> Result<Vec<usize>, String> {
        let Batch {
            x,
            y,
            taken,
            epoch_end,
            rows: had,
        } = batch;
        let (rn, bs) = (self.rows.len(), self.cfg.batch_size);
        let mut w = vec![0f32; rn * bs];
        for (r, &i) in self.rows.iter().enumerate() {
            if !self.states[i].done {
                w[r * bs..r * bs + taken[i]].fill(1.0);
            }
        }
        let x = self.input(x, &had)?;
        let y: Vec<i64> = self
            .rows
            .iter()
            .flat_map(|&i| y[i * bs..(i + 1) * bs].iter().copied())
            .collect();
        let yt = Tensor::<2, Int>::from_data(TensorData::new(y, [rn, bs]), &self.train_dev);
        let wt = Tensor::<2>::from_data(TensorData::new(w, [rn, bs]), &self.train_dev);
        let losses = stacked_losses(self.net.forward(x), yt, wt);
        // Each step's losses stay on the device and are read together only when an epoch
        // ends: no step waits for the device to report back, so the host prepares the next
        // step while the device computes.
        let real: Vec<f32> = self
            .rows
            .iter()
            .map(|&i| {
                if self.states[i].done {
                    0.0
                } else {
                    taken[i] as f32
                }
            })
            .collect();
        self.pending.push((losses.clone().without_autodiff(), real));
        let grads = losses.sum().backward();
        self.net = self.optim.step(self.cfg.learning_rate, &self.net, &grads)?;
        Ok(self.count_seen(&taken, &epoch_end))
    }

    /// The batch's pixels (drawn for the runs `had`) as the stack's input `[R, 3, B, S, S]` on
    /// the autodiff device, for the rows still in the stack.
    fn input(&self, x: Pixels, had: &[usize]) -> Result<Tensor<5>, String> {
        let (rn, bs) = (self.rows.len(), self.cfg.batch_size);
        let side = self.cfg.input_size as usize;
        let block = bs * 3 * side * side;
        Ok(match x {
            Pixels::Floats(v) => Tensor::<5>::from_data(
                TensorData::new(
                    take_rows(v, block, &self.rows, had),
                    [rn, 3, bs, side, side],
                ),
                &self.train_dev,
            ),
            // [R, B, 3, S, S] seen as [R, 3, B, S, S] (the stacked network's input view;
            // its fused path swaps it back without a copy).
            Pixels::Bytes(v) => bytes_to_device(
                take_rows(v, block, &self.rows, had),
                [rn, bs, 3, side, side],
                &self.plain,
            )?
            .swap_dims(1, 2)
            .autodiff(),
        })
    }

    /// Counts each training run's real samples of the step; returns the rows whose run's
    /// epoch ends with it.
    fn count_seen(&mut self, taken: &[usize], epoch_end: &[bool]) -> Vec<usize> {
        let mut ending = Vec::new();
        for (r, &i) in self.rows.iter().enumerate() {
            let s = &mut self.states[i];
            if s.done {
                continue;
            }
            s.seen += taken[i];
            if epoch_end[i] {
                ending.push(r);
            }
        }
        ending
    }

    /// Reads the losses of every step since the last read from the device at once, and adds
    /// them to each run's sum in f64 in step order, as one at a time. A diverged network's NaN
    /// or infinite loss fails its own run only: the networks share no values.
    fn read_losses(&mut self) -> Result<(), String> {
        let rn = self.rows.len();
        let steps: Vec<(Tensor<1>, Vec<f32>)> = std::mem::take(&mut self.pending);
        let (tensors, taken): (Vec<Tensor<1>>, Vec<Vec<f32>>) = steps.into_iter().unzip();
        let values = Tensor::stack::<2>(tensors, 0)
            .try_into_vec_as::<f32>()
            .map_err(|e| format!("reading the losses failed: {e:?}"))?;
        for (k, taken) in taken.iter().enumerate() {
            for (r, &i) in self.rows.iter().enumerate() {
                let s = &mut self.states[i];
                if s.done || taken[r] == 0.0 {
                    continue;
                }
                let v = values[k * rn + r] as f64;
                if !v.is_finite() {
                    let why = super::diverged(v, s.epoch);
                    s.fail(why, &self.shared.stopped[i]);
                    continue;
                }
                s.loss_sum += v * taken[r] as f64;
            }
        }
        Ok(())
    }

    /// Validates every run whose epoch ends (rows `ending`), as the one-at-a-time loop does
    /// after its own last batch of an epoch, but all at once: their networks are taken out of
    /// the stack on the device and run together. Reports each epoch; returns per row whether
    /// its run improved.
    fn validate(
        &mut self,
        ending: &[usize],
        on_event: &mut dyn FnMut(usize, TrainEvent),
    ) -> Result<Vec<bool>, String> {
        let now = self.net.subset(ending);
        let sets: Vec<&[usize]> = ending
            .iter()
            .map(|&r| &self.reqs[self.rows[r]].split.val[..])
            .collect();
        let ending_reqs: Vec<&TrainRequest<'_>> =
            ending.iter().map(|&r| &self.reqs[self.rows[r]]).collect();
        let vals = predict_stacked(&now, &ending_reqs, &sets, &self.plain, self.bytes)?;
        let mut improved = vec![false; self.rows.len()];
        for (&r, val) in ending.iter().zip(vals) {
            let i = self.rows[r];
            let s = &mut self.states[i];
            let stopped = &self.shared.stopped[i];
            let val_loss = mean_cross_entropy(&val);
            if !val_loss.is_finite() {
                let why = super::diverged_in_validation(val_loss, s.epoch);
                s.fail(why, stopped);
                continue;
            }
            let metric = quality(&val, self.reqs[i].n_classes);
            let (stats, better) = s.end_epoch(val_loss, metric, self.cfg, stopped);
            improved[r] = better;
            on_event(i, TrainEvent::Epoch(stats));
        }
        Ok(improved)
    }

    /// Copies the networks of the rows that `improved` into the best weights (exactly, by a
    /// mask); the best weights stay on the device, as one more stack.
    fn keep_best(&mut self, improved: &[bool]) {
        if !improved.iter().any(|&b| b) {
            return;
        }
        self.best = Some(match self.best.take() {
            None => self.net.subset(&(0..self.rows.len()).collect::<Vec<_>>()),
            Some(b) => b.take_where(&self.net, improved),
        });
    }

    /// The rows whose run still trains.
    fn active_rows(&self) -> Vec<usize> {
        (0..self.rows.len())
            .filter(|&r| !self.states[self.rows[r]].done)
            .collect()
    }

    /// Whether the stopped runs should leave the stack: when at most half the rows still
    /// train (a stopped run's row would otherwise be computed, masked, until the last run
    /// ends).
    fn worth_compacting(&self) -> bool {
        let active = self.active_rows().len();
        active > 0 && active * 2 <= self.rows.len()
    }

    /// Takes each run's best weights out of the `best` stack where `leaving` holds for the run
    /// and they were not taken out before.
    fn copy_out_best(&mut self, leaving: impl Fn(&RunState) -> bool) -> Result<(), String> {
        let Some(b) = &self.best else {
            return Ok(());
        };
        for (r, &i) in self.rows.iter().enumerate() {
            let s = &self.states[i];
            if leaving(s) && s.patience.has_best() && self.best_models[i].is_none() {
                self.best_models[i] = Some(b.model(r, self.spec, &self.plain)?);
            }
        }
        Ok(())
    }

    /// The stopped runs leave the stack: their best weights are copied out first; the
    /// optimiser state and the best weights follow the remaining rows, and the producer draws
    /// pixels for these rows only from its next batch on.
    fn compact(&mut self) -> Result<(), String> {
        let active = self.active_rows();
        self.copy_out_best(|s| s.done)?;
        let sub = self.net.subset(&active);
        self.net = sub.with_tensors(sub.tensors().into_iter().map(|t| t.autodiff()).collect());
        self.optim.keep_rows(&Tensor::<1, Int>::from_data(
            TensorData::new(
                active.iter().map(|&r| r as i64).collect::<Vec<_>>(),
                [active.len()],
            ),
            &self.plain,
        ));
        self.best = self.best.take().map(|b| b.subset(&active));
        self.rows = active.iter().map(|&r| self.rows[r]).collect();
        self.shared.set_rows(&self.rows);
        self.compactions += 1;
        Ok(())
    }

    /// Every run's outcome, in the order of the requests: tested with its best weights, or
    /// failed or cancelled without results. Reports each run's end.
    fn finish(
        mut self,
        cancelled: bool,
        on_event: &mut dyn FnMut(usize, TrainEvent),
    ) -> Result<Vec<TrainOutcome>, String> {
        self.copy_out_best(|_| true)?;
        let mut out = Vec::with_capacity(self.reqs.len());
        for (i, (s, r)) in self.states.into_iter().zip(self.reqs).enumerate() {
            let summary = if let Some(msg) = s.failed {
                // As one at a time, where a diverged run ends with an error and no history.
                no_results(RunStatus::Failed(msg), Vec::new(), 0)
            } else if let Some(best) = self.best_models[i].as_ref() {
                let stopped_early = cancelled && !s.done;
                let best_epoch = s.patience.best_epoch;
                test_summary(best, r, stopped_early, s.history, best_epoch, &self.plain)?
            } else {
                no_results(RunStatus::Cancelled, s.history, 0)
            };
            on_event(i, TrainEvent::Finished(summary.clone()));
            let model = if matches!(summary.status, RunStatus::Failed(_)) {
                None
            } else {
                self.best_models[i].take()
            };
            out.push(TrainOutcome { summary, model });
        }
        Ok(out)
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
        Ok((v, _)) => v,
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

/// [`train_stacked`], failing as a whole on an error; also returns how many times stopped runs
/// left the stack.
fn train_stacked_inner(
    reqs: &[TrainRequest<'_>],
    device: &Device,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(usize, TrainEvent),
) -> Result<(Vec<TrainOutcome>, usize), String> {
    let Some(first) = reqs.first() else {
        return Ok((Vec::new(), 0));
    };
    check_requests(reqs)?;
    let cfg = first.config;
    let shared = Shared::new(reqs.len());
    let mut trainer = StackTrainer::new(reqs, device, &shared)?;
    trainer.report_started(device, on_event);
    // Batches are drawn and augmented on a producer thread, one step ahead of the device.
    // Each run's generator is used in exactly the order of the one-at-a-time loop (epoch order,
    // then each image of each batch); validation never touches it, so drawing the next epoch's
    // order before the consumer has validated changes nothing. A run that stops early may have
    // had one more batch prepared: its samples are masked and the run's results do not change.
    let bytes = trainer.bytes;
    let cancelled = std::thread::scope(|scope| -> Result<bool, String> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(1);
        let shared = &shared;
        std::thread::Builder::new()
            .name("stack-batches".into())
            .spawn_scoped(scope, move || produce(reqs, cfg, shared, cancel, bytes, tx))
            .map_err(|e| e.to_string())?;
        let cancelled = trainer.consume(&rx, cancel, on_event)?;
        // Let the producer end (it stops when the channel closes or every run has stopped).
        shared.stop_all();
        drop(rx);
        Ok(cancelled)
    })?;
    let compactions = trainer.compactions;
    Ok((trainer.finish(cancelled, on_event)?, compactions))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::train::{ImageCache, Split, TrainConfig, train};

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
            for (i, net) in nets.iter().enumerate() {
                let a = ours.model(i, spec, &dev).unwrap().parameters();
                let b = theirs.model(i, spec, &dev).unwrap().parameters();
                crate::nn::stacked::tests::close(&a, &b, 1e-6);
                let fresh = net.parameters();
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
        let (stacked, compactions) = train_stacked_inner(&reqs, stack_dev, &no, &mut |i, e| {
            if let TrainEvent::Epoch(_) = e {
                epochs_seen[i] += 1;
            }
        })
        .unwrap();
        assert_eq!(stacked.len(), 3);
        // Runs stopped at different epochs, and the ones that stopped left the stack.
        assert!(compactions >= 1, "the stack was never compacted");
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
