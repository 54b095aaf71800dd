//! The batch producer of the stacked trainer: a thread that draws every run's batches in the
//! one-at-a-time order (each run's seeded generator gives its epoch order, then the
//! augmentation of each image of each batch, in that order), augments their pixels on all
//! cores and hands them to the training loop one step ahead of the device.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::train::{
    AugmentParams, TrainConfig, TrainRequest, augment_into, derive_seed, epoch_order,
};

/// One step's input for every run of the stack, in the stacked layout.
pub(super) struct Batch {
    /// The pixels (zeros where a run has fewer samples).
    pub x: Pixels,
    /// `[M, B]` targets.
    pub y: Vec<i64>,
    /// Real samples per run.
    pub taken: Vec<usize>,
    /// Whether this batch is the last of the run's epoch.
    pub epoch_end: Vec<bool>,
    /// The runs whose pixels `x` holds, in its row order: the stack's rows when the batch was
    /// drawn (`x` has no rows for runs that had already left the stack).
    pub rows: Vec<usize>,
}

/// A batch's pixels as the device takes them.
pub(super) enum Pixels {
    /// Values in [0, 1].
    Floats(Vec<f32>),
    /// The bytes themselves, image-major `[R, B, 3, S, S]` (R: the batch's `rows`) and padded to
    /// a multiple of 4, for the GPU to unpack (`gpu_block::unpack_unit_bytes`): a quarter of
    /// the upload, no conversion on the host.
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    Bytes(Vec<u8>),
}

/// What the producer and the training loop share.
pub(super) struct Shared {
    /// Per run: whether it has stopped training (the producer draws nothing more for it).
    pub stopped: Vec<AtomicBool>,
    /// The runs still in the stack, in row order: the producer draws pixels for these only.
    live_rows: Mutex<Vec<usize>>,
}

impl Shared {
    /// `m` runs, all training, all in the stack.
    pub fn new(m: usize) -> Self {
        Self {
            stopped: (0..m).map(|_| AtomicBool::new(false)).collect(),
            live_rows: Mutex::new((0..m).collect()),
        }
    }

    /// The runs still in the stack.
    fn rows(&self) -> Vec<usize> {
        self.live_rows
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Sets the runs still in the stack (from the producer's next batch on).
    pub fn set_rows(&self, rows: &[usize]) {
        match self.live_rows.lock() {
            Ok(mut l) => *l = rows.to_vec(),
            Err(p) => *p.into_inner() = rows.to_vec(),
        }
    }

    /// Tells the producer that every run has stopped.
    pub fn stop_all(&self) {
        for f in &self.stopped {
            f.store(true, Ordering::Relaxed);
        }
    }
}

/// One run's drawing state: its generator and its place in its epoch.
struct Draw {
    rng: ChaCha8Rng,
    order: Vec<usize>,
    pos: usize,
    epoch: usize,
    /// Its last epoch has been drawn.
    finished: bool,
}

/// One image of a batch to augment.
#[derive(Clone, Copy)]
struct Sample {
    /// The run, then (see [`in_rows`]) its row in the batch's pixels.
    row: usize,
    /// Position in the run's batch.
    slot: usize,
    /// Index into the run's cache.
    image: usize,
    params: AugmentParams,
}

/// One step's draw for every run: the images with their augmentation, the targets, the real
/// samples per run and where epochs end.
struct Drawn {
    samples: Vec<Sample>,
    y: Vec<i64>,
    taken: Vec<usize>,
    epoch_end: Vec<bool>,
}

impl Draw {
    /// A run's drawing state before its first epoch (its first epoch order drawn).
    fn new(r: &TrainRequest<'_>, cfg: &TrainConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(r.seed, 2));
        let order = epoch_order(&r.split.train, r.targets, r.n_classes, cfg, &mut rng);
        Self {
            rng,
            order,
            pos: 0,
            epoch: 1,
            finished: false,
        }
    }

    /// Draws the run's next batch into `out` as run `i`: the images and their augmentation;
    /// after the last batch of an epoch, the next epoch's order.
    fn next_batch(&mut self, i: usize, r: &TrainRequest<'_>, cfg: &TrainConfig, out: &mut Drawn) {
        let bs = cfg.batch_size;
        let end = (self.pos + bs).min(self.order.len());
        for (b, &idx) in self.order[self.pos..end].iter().enumerate() {
            let params = if cfg.augment {
                AugmentParams::random(&mut self.rng)
            } else {
                AugmentParams::IDENTITY
            };
            out.samples.push(Sample {
                row: i,
                slot: b,
                image: idx,
                params,
            });
            out.y[i * bs + b] = r.targets[idx] as i64;
        }
        out.taken[i] = end - self.pos;
        self.pos = end;
        if self.pos >= self.order.len() {
            out.epoch_end[i] = true;
            if self.epoch >= cfg.max_epochs {
                self.finished = true;
            } else {
                self.epoch += 1;
                self.order =
                    epoch_order(&r.split.train, r.targets, r.n_classes, cfg, &mut self.rng);
                self.pos = 0;
            }
        }
    }
}

/// Draws the next batch of every run still training, run by run; `None` when none is.
fn draw_step(
    draws: &mut [Draw],
    reqs: &[TrainRequest<'_>],
    cfg: &TrainConfig,
    stopped: &[AtomicBool],
) -> Option<Drawn> {
    let m = reqs.len();
    let mut out = Drawn {
        samples: Vec::new(),
        y: vec![0i64; m * cfg.batch_size],
        taken: vec![0usize; m],
        epoch_end: vec![false; m],
    };
    let mut any = false;
    for (i, (d, r)) in draws.iter_mut().zip(reqs).enumerate() {
        if d.finished || stopped[i].load(Ordering::Relaxed) {
            continue;
        }
        any = true;
        d.next_batch(i, r, cfg, &mut out);
    }
    any.then_some(out)
}

/// The samples of the runs `rows` (the stack's rows), each with its row there; the samples of
/// runs that left the stack are dropped.
fn in_rows(samples: Vec<Sample>, rows: &[usize], m: usize) -> Vec<Sample> {
    let mut slot_of = vec![None; m];
    for (r, &i) in rows.iter().enumerate() {
        slot_of[i] = Some(r);
    }
    samples
        .into_iter()
        .filter_map(|s| {
            Some(Sample {
                row: slot_of[s.row]?,
                ..s
            })
        })
        .collect()
}

/// The augmented pixels of `samples` as bytes, image-major `[R, B, 3, S, S]` (R: `rows`),
/// padded to a multiple of 4: every image is one contiguous block, augmented in place by its
/// own task on rayon's pool, with no copy afterwards.
fn pixels_as_bytes(
    reqs: &[TrainRequest<'_>],
    rows: &[usize],
    samples: &[Sample],
    cfg: &TrainConfig,
) -> Vec<u8> {
    use rayon::prelude::*;
    let side = cfg.input_size as usize;
    let per_image = 3 * side * side;
    let bs = cfg.batch_size;
    let rn = rows.len();
    let mut x = vec![0u8; (rn * bs * per_image).div_ceil(4) * 4];
    let mut slots: Vec<Option<&mut [u8]>> = x[..rn * bs * per_image]
        .chunks_mut(per_image)
        .map(Some)
        .collect();
    let work: Vec<(&[u8], &mut [u8], AugmentParams)> = samples
        .iter()
        .filter_map(|s| {
            Some((
                reqs[rows[s.row]].cache.image(s.image),
                slots[s.row * bs + s.slot].take()?,
                s.params,
            ))
        })
        .collect();
    work.into_par_iter()
        .for_each(|(src, dst, p)| augment_into(src, dst, 3, side, p));
    x
}

/// The augmented pixels of `samples` as floats in [0, 1], in the stacked layout
/// `[R, 3, B, S, S]` (R: `rows`).
fn pixels_as_floats(
    reqs: &[TrainRequest<'_>],
    rows: &[usize],
    samples: &[Sample],
    cfg: &TrainConfig,
) -> Vec<f32> {
    let side = cfg.input_size as usize;
    let plane = side * side;
    let per_image = 3 * plane;
    let bs = cfg.batch_size;
    let pictures = crate::dataset::par_map(samples.len(), &|_, _| {}, |k| {
        let s = samples[k];
        let mut buf = vec![0u8; per_image];
        augment_into(
            reqs[rows[s.row]].cache.image(s.image),
            &mut buf,
            3,
            side,
            s.params,
        );
        buf
    });
    let mut x = vec![0f32; rows.len() * per_image * bs];
    for (s, pic) in samples.iter().zip(pictures) {
        let Some(pic) = pic else { continue };
        for c in 0..3 {
            let to = ((s.row * 3 + c) * bs + s.slot) * plane;
            for (d, &v) in x[to..to + plane]
                .iter_mut()
                .zip(&pic[c * plane..(c + 1) * plane])
            {
                *d = v as f32 / 255.0;
            }
        }
    }
    x
}

/// Draws and augments every run's batches in the one-at-a-time order, until every run has
/// stopped, reached its last epoch, or the receiver is gone. `bytes`: the pixels travel as
/// bytes (for the GPU to unpack).
pub(super) fn produce(
    reqs: &[TrainRequest<'_>],
    cfg: &TrainConfig,
    shared: &Shared,
    cancel: &AtomicBool,
    bytes: bool,
    tx: SyncSender<Batch>,
) {
    let mut draws: Vec<Draw> = reqs.iter().map(|r| Draw::new(r, cfg)).collect();
    loop {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let Some(drawn) = draw_step(&mut draws, reqs, cfg, &shared.stopped) else {
            return;
        };
        // Pixels only for the runs still in the stack (the others have stopped and are masked).
        // The pixel work of all images runs in parallel; the draws above were sequential per run.
        let rows = shared.rows();
        let samples = in_rows(drawn.samples, &rows, reqs.len());
        let x = if bytes {
            Pixels::Bytes(pixels_as_bytes(reqs, &rows, &samples, cfg))
        } else {
            Pixels::Floats(pixels_as_floats(reqs, &rows, &samples, cfg))
        };
        let batch = Batch {
            x,
            y: drawn.y,
            taken: drawn.taken,
            epoch_end: drawn.epoch_end,
            rows,
        };
        if tx.send(batch).is_err() {
            return;
        }
    }
}
