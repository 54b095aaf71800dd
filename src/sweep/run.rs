//! Running a sweep: one training per (fold, size) of the plan, each stored in the sweep's
//! folder (see [`super::store`]) the moment it finishes, so that a cancelled or crashed sweep
//! resumes where it stopped and shards run on several machines merge into one result set.
//!
//! This file only schedules: which runs are left, in what order, one at a time, as stacks
//! trained together (GPU), or on several worker threads (CPU).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{RecvTimeoutError, Sender};

use super::config::{RunRecord, Snapshot, SweepConfig};
use super::design::{self, RunKey, SweepPlan};
use super::start::load_or_snapshot;
use super::store::SweepDir;
use crate::backend::{Backend, BackendKind};
use crate::project::Project;
use crate::train::{self, ImageCache, RunStatus, Split, TrainConfig, TrainEvent, TrainOutcome};

/// What a running sweep reports.
#[derive(Clone, Debug)]
pub enum SweepEvent {
    Planned {
        total: usize,
        already_done: usize,
        notices: Vec<String>,
    },
    RunStarted {
        index: usize,
        total: usize,
        key: RunKey,
    },
    Train(RunKey, TrainEvent),
    RunFinished(Box<RunRecord>),
    /// Something the user should know (a GPU fallback, say).
    Notice(String),
}

/// How a sweep runs (none of it changes its results).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Runs trained together as one stacked network (see `train::stack`); 0 = automatic: a
    /// stack as large as the memory cap allows (at most [`AUTO_GPU_STACK`]) on a GPU, one at a
    /// time on the CPU, where burn's CPU backend runs the stacked layers no faster.
    pub stack: usize,
    /// Runs trained at the same time on the CPU, each on its own thread; 0 = automatic: half
    /// the cores on machines with 4 or more, else 1. Ignored on a GPU, where runs are stacked.
    pub workers: usize,
    /// Only shard `i` of `n` (1-based) of the runs.
    pub shard: Option<(usize, usize)>,
    /// Write the results to this folder instead of the project's sweep folder (for shards).
    pub out: Option<PathBuf>,
    /// Only the runs of this fold (0-based; a benchmark's one fold).
    pub fold: Option<usize>,
}

impl RunOptions {
    /// Checks the options that do not depend on the sweep (the shard), so that a caller can
    /// refuse them before it writes anything.
    pub fn check(&self) -> Result<(), String> {
        if let Some(out) = &self.out
            && out.exists()
            && !out.is_dir()
        {
            return Err(format!(
                "the output folder {} is a file; name a folder",
                out.display()
            ));
        }
        match self.shard {
            Some((i, n)) => design::shard(&[], i, n).map(|_| ()),
            None => Ok(()),
        }
    }
}

/// Runs per stack on a GPU when the user does not choose: moderate stacks of runs of one
/// training-set size (the order below) keep their epochs in step, where one huge stack would
/// mix every size (stopped runs leave a stack once half of it has stopped: `train::stack`).
pub const AUTO_GPU_STACK: usize = 64;

/// Seed of one run: a function of the sweep seed, the fold and the size.
pub fn run_seed(seed: u64, key: RunKey) -> u64 {
    train::derive_seed(seed, 1_000_000 + key.fold as u64 * 10_000 + key.size as u64)
}

/// Runs (or resumes) a sweep. Finished runs are skipped; `options` choose the share of the
/// runs, the folder and how runs share the machine. Returns the records of all runs finished
/// in the folder.
pub fn run_sweep(
    project: &Project,
    project_path: &Path,
    config: &SweepConfig,
    backend: &mut Backend,
    options: &RunOptions,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(SweepEvent),
) -> Result<Vec<RunRecord>, String> {
    config.train.validate()?;
    let dir = match &options.out {
        Some(out) => SweepDir::at(out),
        None => SweepDir::of(project_path, &config.name),
    };
    dir.create()?;
    let snap = load_or_snapshot(&dir, project, config)?;
    let plan = design::plan(&snap.targets, snap.output_names.len(), &snap.config.design)?;
    let (total, todo, left_out) = runs_left(&plan, &dir, options)?;
    let mut notices = snap.notices.clone();
    notices.extend(plan.notices.iter().cloned());
    notices.extend(left_out);
    on_event(SweepEvent::Planned {
        total,
        already_done: total - todo.len(),
        notices,
    });
    if todo.is_empty() {
        return Ok(dir.runs());
    }
    let cache = decode_images(project, project_path, &snap, &dir)?;
    let sweep = Prepared {
        dir: &dir,
        snap: &snap,
        plan: &plan,
        cache: &cache,
        total,
    };
    let stack = stack_size(backend, &snap.config.train, options.stack);
    let workers = if stack > 1 {
        1
    } else {
        worker_count(backend, options.workers)
    };
    if workers > 1 {
        let description = format!(
            "{} ({} runs at a time)",
            backend.description,
            workers.min(todo.len())
        );
        let pool = Pool {
            sweep: &sweep,
            device: backend.device.clone(),
            description,
        };
        pool.run(&todo, workers, cancel, on_event)?;
    } else {
        run_in_stacks(&sweep, backend, &todo, stack, cancel, on_event)?;
    }
    Ok(dir.runs())
}

/// The runs of the plan this call is for (its shard, its fold), those of them not finished
/// yet, in the order they run, and a line for each run file left out (it runs again).
fn runs_left(
    plan: &SweepPlan,
    dir: &SweepDir,
    options: &RunOptions,
) -> Result<(usize, Vec<RunKey>, Vec<String>), String> {
    let mut runs = plan.runs();
    if let Some((i, n)) = options.shard {
        runs = design::shard(&runs, i, n)?;
    }
    if let Some(fold) = options.fold {
        runs.retain(|k| k.fold == fold);
    }
    let (finished, left_out) = dir.read_runs();
    let done: std::collections::HashSet<RunKey> = finished.iter().map(|r| r.key).collect();
    let todo = runs.iter().copied().filter(|k| !done.contains(k)).collect();
    let left_out = left_out
        .into_iter()
        .map(|(path, why)| format!("{} left out and trained again: {why}", path.display()))
        .collect();
    Ok((runs.len(), todo, left_out))
}

/// Decodes the snapshot's images once for the whole sweep, kept on disk in the sweep folder so
/// that resuming decodes nothing. An image that cannot be read stops the sweep.
fn decode_images(
    project: &Project,
    project_path: &Path,
    snap: &Snapshot,
    dir: &SweepDir,
) -> Result<ImageCache, String> {
    let entries: Vec<_> = snap.images.iter().map(|&id| project.image(id)).collect();
    let paths: Vec<PathBuf> = entries
        .iter()
        .map(|im| {
            im.map(|im| project.image_path(project_path, im))
                .unwrap_or_default()
        })
        .collect();
    let hashes: Vec<String> = entries
        .iter()
        .map(|im| im.map(|im| im.hash.clone()).unwrap_or_default())
        .collect();
    let side = snap.config.train.input_size;
    let (cache, kept, failed) = ImageCache::load_cached(
        &dir.image_cache_path(side),
        &paths,
        &hashes,
        side,
        &|_, _| {},
    );
    let changed: Vec<&PathBuf> = failed
        .iter()
        .filter(|(_, e)| matches!(e, crate::dataset::DecodeError::Changed))
        .map(|(i, _)| &paths[*i])
        .collect();
    if let Some(first) = changed.first() {
        return Err(format!(
            "{} image file(s) of the sweep changed since import: their content no longer matches \
             the hash the project stored (first: {}). Put the original files back, or import the \
             dataset again as a new project",
            changed.len(),
            first.display()
        ));
    }
    if let Some((first, e)) = failed.first() {
        return Err(format!(
            "{} image(s) of the sweep cannot be read (first: {}: {e}): relink the dataset",
            failed.len(),
            paths[*first].display()
        ));
    }
    debug_assert_eq!(kept.len(), snap.images.len());
    Ok(cache)
}

/// What every run of one sweep call shares: the folder, the frozen labels, the plan and the
/// decoded images.
struct Prepared<'a> {
    dir: &'a SweepDir,
    snap: &'a Snapshot,
    plan: &'a SweepPlan,
    cache: &'a ImageCache,
    /// Runs of this call (finished before or not).
    total: usize,
}

impl Prepared<'_> {
    /// The images of one run: its fold's test and validation sets, and its training set.
    fn split(&self, key: RunKey) -> Split {
        let fold = &self.plan.folds[key.fold];
        Split {
            train: fold.train_set(key.size).to_vec(),
            val: fold.val.clone(),
            test: fold.test.clone(),
        }
    }

    /// The training request of one run over its split.
    fn request<'s>(&'s self, key: RunKey, split: &'s Split) -> train::TrainRequest<'s> {
        train::TrainRequest {
            config: &self.snap.config.train,
            cache: self.cache,
            targets: &self.snap.targets,
            n_classes: self.snap.output_names.len(),
            split,
            seed: run_seed(self.snap.config.design.seed, key),
        }
    }

    /// Stores a finished run's record (and its best model) and reports it.
    fn store(
        &self,
        key: RunKey,
        outcome: &TrainOutcome,
        device: &str,
        seconds: f64,
        on_event: &mut dyn FnMut(SweepEvent),
    ) -> Result<(), String> {
        let record = record_of(self.snap, key, outcome, device, seconds);
        self.dir
            .write_run(&record, outcome.model.as_ref())
            .map_err(|e| {
                format!(
                    "could not store the finished run (fold {}, size {}): {e}. The sweep stopped; \
                     the runs stored before are kept, and starting the same sweep again resumes it",
                    key.fold + 1,
                    key.size
                )
            })?;
        on_event(SweepEvent::RunFinished(Box::new(record)));
        Ok(())
    }
}

/// The record of a finished run.
fn record_of(
    snap: &Snapshot,
    key: RunKey,
    outcome: &TrainOutcome,
    device: &str,
    seconds: f64,
) -> RunRecord {
    let s = &outcome.summary;
    RunRecord {
        key,
        status: s.status.clone(),
        collapsed: s.status == RunStatus::Collapsed,
        epochs: s.history.len(),
        best_epoch: s.best_epoch,
        train_loss: s.history.iter().map(|e| e.train_loss).collect(),
        val_loss: s.history.iter().map(|e| e.val_loss).collect(),
        test_auc: s.test_auc,
        test_accuracy: s.test_accuracy,
        test_weighted_f1: s.test_weighted_f1,
        predictions: s
            .test
            .iter()
            .map(|p| (snap.images[p.index], p.target, p.probs.clone()))
            .collect(),
        device: device.to_string(),
        seconds,
        snapshot_digest: Some(snap.digest()),
    }
}

/// Trains the runs `todo` on the calling thread, `stack` at a time (one network per run,
/// trained together as one stacked network when `stack` > 1).
fn run_in_stacks(
    sweep: &Prepared,
    backend: &mut Backend,
    todo: &[RunKey],
    stack: usize,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(SweepEvent),
) -> Result<(), String> {
    // Stacked runs step together until the longest of them ends: stack runs of the same
    // training-set size (all folds of a size, then the next size), so that their epochs have
    // the same number of batches. Results do not depend on the order.
    let mut todo = todo.to_vec();
    if stack > 1 {
        todo.sort_by_key(|k| (k.size, k.fold));
    }
    let mut index = sweep.total - todo.len();
    for chunk in todo.chunks(stack) {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        for key in chunk {
            index += 1;
            on_event(SweepEvent::RunStarted {
                index,
                total: sweep.total,
                key: *key,
            });
        }
        let started = std::time::Instant::now();
        let outcomes = train_chunk(sweep, backend, chunk, cancel, on_event)?;
        let seconds = started.elapsed().as_secs_f64() / chunk.len() as f64;
        let device = if chunk.len() > 1 {
            format!("{} (stack of {})", backend.description, chunk.len())
        } else {
            backend.description.clone()
        };
        for (key, outcome) in chunk.iter().zip(outcomes) {
            if outcome.summary.status == RunStatus::Cancelled {
                return Ok(()); // not stored: it runs again on resume
            }
            sweep.store(*key, &outcome, &device, seconds, on_event)?;
        }
    }
    Ok(())
}

/// Trains the runs of one chunk (alone, or as one stack). A GPU failure switches the backend
/// to the CPU; the runs are then tried once more there.
fn train_chunk(
    sweep: &Prepared,
    backend: &mut Backend,
    chunk: &[RunKey],
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(SweepEvent),
) -> Result<Vec<TrainOutcome>, String> {
    let splits: Vec<Split> = chunk.iter().map(|k| sweep.split(*k)).collect();
    let reqs: Vec<train::TrainRequest> = chunk
        .iter()
        .zip(&splits)
        .map(|(key, split)| sweep.request(*key, split))
        .collect();
    let mut tries = 0;
    loop {
        tries += 1;
        let r = crate::backend::run_guarded(backend, |dev| {
            if reqs.len() == 1 {
                vec![train::train(&reqs[0], dev, cancel, &mut |e| {
                    on_event(SweepEvent::Train(chunk[0], e))
                })]
            } else {
                train::stack::train_stacked(&reqs, dev, cancel, &mut |i, e| {
                    on_event(SweepEvent::Train(chunk[i], e))
                })
            }
        });
        match r {
            Ok(o) => return Ok(o),
            Err(e) if tries < 2 => on_event(SweepEvent::Notice(e)),
            Err(e) => return Err(e),
        }
    }
}

/// Several runs trained at the same time, each on its own thread (`sweep-worker-N`), on the CPU.
/// Every run's result depends only on its seed and data, so it equals the one-at-a-time result;
/// only the order in which runs finish changes. Events and records are handled on the calling
/// thread.
struct Pool<'a> {
    sweep: &'a Prepared<'a>,
    device: burn::tensor::Device,
    /// The device as the records name it.
    description: String,
}

/// What a worker thread tells the calling thread.
enum PoolMsg {
    Started(usize),
    Train(usize, TrainEvent),
    Done(usize, Box<TrainOutcome>, f64),
    Panicked(usize, String),
}

/// Sets the flag when dropped, also while unwinding from a panic on the calling thread.
struct HaltOnDrop<'a>(&'a AtomicBool);

impl Drop for HaltOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Pool<'_> {
    /// Trains `todo` on `workers` threads; returns the first error (a run that panicked, a
    /// record that could not be stored, a thread that could not start).
    fn run(
        &self,
        todo: &[RunKey],
        workers: usize,
        cancel: &AtomicBool,
        on_event: &mut dyn FnMut(SweepEvent),
    ) -> Result<(), String> {
        let next = AtomicUsize::new(0);
        // The workers' cancel flag: the user's cancel (mirrored below), a run that panicked, a
        // record that could not be stored. Runs in flight then end as cancelled (not stored:
        // they run again on resume) and no further run starts.
        let halt = AtomicBool::new(false);
        let (tx, rx) = std::sync::mpsc::channel::<PoolMsg>();
        std::thread::scope(|scope| {
            let _halt_on_exit = HaltOnDrop(&halt);
            let mut first_error = None;
            for w in 0..workers.min(todo.len()) {
                let tx = tx.clone();
                let (next, halt) = (&next, &halt);
                let spawned = std::thread::Builder::new()
                    .name(format!("sweep-worker-{}", w + 1))
                    .spawn_scoped(scope, move || self.work(todo, next, halt, cancel, &tx));
                if let Err(e) = spawned {
                    halt.store(true, Ordering::Relaxed);
                    first_error = Some(format!("cannot start a sweep worker thread: {e}"));
                    break;
                }
            }
            drop(tx);
            let received = self.receive(todo, &rx, &halt, cancel, on_event);
            match first_error.or(received.err()) {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
    }

    /// One worker thread: takes the next run until none is left or the pool halts.
    fn work(
        &self,
        todo: &[RunKey],
        next: &AtomicUsize,
        halt: &AtomicBool,
        cancel: &AtomicBool,
        tx: &Sender<PoolMsg>,
    ) {
        loop {
            if halt.load(Ordering::Relaxed) || cancel.load(Ordering::Relaxed) {
                break;
            }
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&key) = todo.get(i) else { break };
            let _ = tx.send(PoolMsg::Started(i));
            let started = std::time::Instant::now();
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let split = self.sweep.split(key);
                let req = self.sweep.request(key, &split);
                train::train(&req, &self.device, halt, &mut |e| {
                    let _ = tx.send(PoolMsg::Train(i, e));
                })
            }));
            let msg = match result {
                Ok(outcome) => PoolMsg::Done(i, Box::new(outcome), started.elapsed().as_secs_f64()),
                Err(p) => PoolMsg::Panicked(i, crate::jobs::panic_message(p.as_ref())),
            };
            let _ = tx.send(msg);
        }
    }

    /// The calling thread's side: reports the workers' messages and stores finished runs until
    /// every worker has ended. Returns the first error.
    fn receive(
        &self,
        todo: &[RunKey],
        rx: &std::sync::mpsc::Receiver<PoolMsg>,
        halt: &AtomicBool,
        cancel: &AtomicBool,
        on_event: &mut dyn FnMut(SweepEvent),
    ) -> Result<(), String> {
        let mut index = self.sweep.total - todo.len();
        let mut first_error = None;
        let mut store_failed = false;
        loop {
            // The user's cancel reaches the runs in flight within one message or 100 ms
            // (it may be set by `on_event` itself, on this thread).
            if cancel.load(Ordering::Relaxed) {
                halt.store(true, Ordering::Relaxed);
            }
            let msg = match rx.recv_timeout(std::time::Duration::from_millis(100)) {
                Ok(msg) => msg,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            match msg {
                PoolMsg::Started(i) => {
                    index += 1;
                    on_event(SweepEvent::RunStarted {
                        index,
                        total: self.sweep.total,
                        key: todo[i],
                    });
                }
                PoolMsg::Train(i, e) => on_event(SweepEvent::Train(todo[i], e)),
                PoolMsg::Done(i, outcome, seconds) => {
                    // A cancelled run is not stored: it runs again on resume.
                    if outcome.summary.status == RunStatus::Cancelled || store_failed {
                        continue;
                    }
                    let key = todo[i];
                    let stored =
                        self.sweep
                            .store(key, &outcome, &self.description, seconds, on_event);
                    if let Err(e) = stored {
                        halt.store(true, Ordering::Relaxed);
                        store_failed = true;
                        first_error.get_or_insert(e);
                    }
                }
                PoolMsg::Panicked(i, message) => {
                    halt.store(true, Ordering::Relaxed);
                    let k = todo[i];
                    first_error.get_or_insert(format!(
                        "internal error in run fold {} size {}: {message}",
                        k.fold + 1,
                        k.size
                    ));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Runs trained at the same time on `backend` when `requested` (0 = automatic).
fn worker_count(backend: &Backend, requested: usize) -> usize {
    if backend.kind != BackendKind::Cpu {
        return 1;
    }
    match requested {
        0 => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            if cores >= 4 { cores / 2 } else { 1 }
        }
        n => n,
    }
}

/// Runs per stack on `backend` when `requested` (0 = automatic), within what fits.
fn stack_size(backend: &Backend, cfg: &TrainConfig, requested: usize) -> usize {
    let fused = crate::nn::FusedPath::for_device(&backend.device) != crate::nn::FusedPath::None;
    let limit = crate::nn::stacked::buffer_limit(&backend.device);
    let cap = crate::nn::stacked::max_stack(cfg.batch_size, cfg.input_size as usize, fused, limit);
    match requested {
        0 if backend.kind == BackendKind::Gpu => cap.min(AUTO_GPU_STACK),
        0 => 1,
        n => n.min(cap),
    }
}
