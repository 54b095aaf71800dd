//! Running a sweep: one training per (fold, size) of the plan, each stored in the project folder
//! the moment it finishes, so that a cancelled or crashed sweep resumes where it stopped and
//! shards run on several machines merge into one result set.
//!
//! Layout on disk, beside the project file:
//! ```text
//! <project>.sweeps/<sweep name>/snapshot.ron        labels and configuration used (frozen)
//! <project>.sweeps/<sweep name>/runs/f00-n0010.ron  one finished run
//! <project>.sweeps/<sweep name>/models/f00-n0010.bpk its best-validation weights
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use super::design::{self, RunKey, SweepDesign, SweepPlan};
use crate::project::{ImageId, Project, atomic_write};
use crate::train::{self, ImageCache, RunStatus, Split, Task, TrainConfig, TrainEvent};

/// A sweep as stored in the project: what to learn, how, and the study design.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepConfig {
    pub name: String,
    pub task: Task,
    pub train: TrainConfig,
    pub design: SweepDesign,
}

/// The labels a sweep was started with: later relabelling does not change its results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub config: SweepConfig,
    pub images: Vec<ImageId>,
    pub targets: Vec<usize>,
    pub output_names: Vec<String>,
    /// Classes with fewer than 5 images that were left out, and similar notices.
    pub notices: Vec<String>,
}

/// One finished run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub key: RunKey,
    pub status: String,
    pub collapsed: bool,
    pub epochs: usize,
    pub best_epoch: usize,
    pub train_loss: Vec<f64>,
    pub val_loss: Vec<f64>,
    pub test_auc: Option<f64>,
    pub test_accuracy: Option<f64>,
    pub test_weighted_f1: Option<f64>,
    /// (image, target, probabilities) for every test image.
    pub predictions: Vec<(ImageId, usize, Vec<f32>)>,
    pub device: String,
    pub seconds: f64,
}

impl RunRecord {
    /// Whether the run ended with an error (its status is `RunStatus::Failed`'s text).
    pub fn failed(&self) -> bool {
        self.status.starts_with("failed")
    }
}

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

/// The folder of a sweep's results.
pub fn sweep_dir(project_path: &Path, name: &str) -> PathBuf {
    let stem = project_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    crate::project::project_dir(project_path)
        .join(format!("{stem}.sweeps"))
        .join(crate::train::experiment::safe_name(name))
}

fn run_file(dir: &Path, key: RunKey) -> PathBuf {
    dir.join("runs")
        .join(format!("f{:02}-n{:04}.ron", key.fold, key.size))
}

/// The best-validation weights of one run of the sweep in `dir`.
pub fn model_file(dir: &Path, key: RunKey) -> PathBuf {
    dir.join("models")
        .join(format!("f{:02}-n{:04}.bpk", key.fold, key.size))
}

/// Seed of one run: a function of the sweep seed, the fold and the size.
pub fn run_seed(seed: u64, key: RunKey) -> u64 {
    train::derive_seed(seed, 1_000_000 + key.fold as u64 * 10_000 + key.size as u64)
}

/// Takes the snapshot of the current labels for a sweep (classes with fewer than 5 images are
/// left out of a multiclass task with a notice).
pub fn take_snapshot(project: &Project, config: &SweepConfig) -> Result<Snapshot, String> {
    config.task.check(&project.taxonomy)?;
    let mut task = config.task.clone();
    let mut notices = Vec::new();
    if let Task::Multiclass { classes } = &mut task {
        classes.retain(|&c| {
            let n = project.images.iter().filter(|i| i.current == c).count();
            if n < 5 {
                notices.push(format!(
                    "class \"{}\" left out: only {n} images (at least 5 needed)",
                    project.taxonomy.name(c)
                ));
                false
            } else {
                true
            }
        });
        if classes.len() < 2 {
            return Err("fewer than two classes with at least 5 images".into());
        }
    }
    let mut images = Vec::new();
    let mut targets = Vec::new();
    for im in &project.images {
        if let Some(t) = task.target(&project.taxonomy, im.current) {
            images.push(im.id);
            targets.push(t);
        }
    }
    let mut config = config.clone();
    config.task = task;
    Ok(Snapshot {
        output_names: config.task.output_names(&project.taxonomy),
        config,
        images,
        targets,
        notices,
    })
}

fn read_ron<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    ron::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn write_ron<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let text = ron::ser::to_string_pretty(value, ron::ser::PrettyConfig::new().depth_limit(3))
        .map_err(|e| e.to_string())?;
    atomic_write(path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}

/// The snapshot of an existing sweep, or a new one written now.
pub fn load_or_snapshot(
    dir: &Path,
    project: &Project,
    config: &SweepConfig,
) -> Result<Snapshot, String> {
    let path = dir.join("snapshot.ron");
    if path.exists() {
        let snap: Snapshot = read_ron(&path)?;
        if snap.config.train != config.train
            || snap.config.design != config.design
            || snap.config.name != config.name
        {
            return Err(format!(
                "the sweep \"{}\" already has results with another configuration; give the new one another name",
                config.name
            ));
        }
        return Ok(snap);
    }
    let snap = take_snapshot(project, config)?;
    write_ron(&path, &snap)?;
    Ok(snap)
}

/// The finished runs stored in a sweep folder.
/// The finished runs of the sweep folder `dir` (by key), and the run files there that cannot
/// be read, with the reason (left out; resuming the sweep trains those runs again). One pass
/// over the folder.
pub fn read_runs(dir: &Path) -> (Vec<RunRecord>, Vec<(PathBuf, String)>) {
    let (mut runs, mut damaged) = (Vec::new(), Vec::new());
    if let Ok(rd) = std::fs::read_dir(dir.join("runs")) {
        for e in rd.flatten() {
            if e.path().extension().is_some_and(|x| x == "ron") {
                match read_ron::<RunRecord>(&e.path()) {
                    Ok(r) => runs.push(r),
                    Err(why) => damaged.push((e.path(), why)),
                }
            }
        }
    }
    runs.sort_by_key(|r| r.key);
    damaged.sort();
    (runs, damaged)
}

/// The finished runs of the sweep folder `dir` ([`read_runs`] without the damaged files).
pub fn load_runs(dir: &Path) -> Vec<RunRecord> {
    read_runs(dir).0
}

/// The run files of `dir` that cannot be read ([`read_runs`]).
pub fn damaged_runs(dir: &Path) -> Vec<(PathBuf, String)> {
    read_runs(dir).1
}

/// Runs (or resumes) a sweep. Finished runs are skipped; with `shard = Some((i, n))` only that
/// share of the runs is done. Returns the records of all runs finished in the folder.
#[allow(clippy::too_many_arguments)]
pub fn run_sweep(
    project: &Project,
    project_path: &Path,
    config: &SweepConfig,
    backend: &mut crate::backend::Backend,
    shard: Option<(usize, usize)>,
    out_dir: Option<&Path>,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(SweepEvent),
) -> Result<Vec<RunRecord>, String> {
    run_sweep_where(
        project,
        project_path,
        config,
        backend,
        shard,
        &|_| true,
        out_dir,
        cancel,
        on_event,
    )
}

/// [`run_sweep`] restricted to the runs `keep` accepts (e.g. one fold, for a benchmark).
#[allow(clippy::too_many_arguments)]
pub fn run_sweep_where(
    project: &Project,
    project_path: &Path,
    config: &SweepConfig,
    backend: &mut crate::backend::Backend,
    shard: Option<(usize, usize)>,
    keep: &dyn Fn(&RunKey) -> bool,
    out_dir: Option<&Path>,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(SweepEvent),
) -> Result<Vec<RunRecord>, String> {
    config.train.validate()?;
    let dir = out_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| sweep_dir(project_path, &config.name));
    std::fs::create_dir_all(dir.join("runs")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let snap = load_or_snapshot(&dir, project, config)?;
    let n_classes = snap.output_names.len();
    let plan: SweepPlan = design::plan(&snap.targets, n_classes, &snap.config.design)?;
    let mut runs = plan.runs();
    if let Some((i, n)) = shard {
        runs = design::shard(&runs, i, n)?;
    }
    runs.retain(|k| keep(k));
    let done: std::collections::HashSet<RunKey> = load_runs(&dir).iter().map(|r| r.key).collect();
    let todo: Vec<RunKey> = runs.iter().copied().filter(|k| !done.contains(k)).collect();
    let mut notices = snap.notices.clone();
    notices.extend(plan.notices.iter().cloned());
    on_event(SweepEvent::Planned {
        total: runs.len(),
        already_done: runs.len() - todo.len(),
        notices,
    });
    if todo.is_empty() {
        return Ok(load_runs(&dir));
    }
    // Decode the images once for the whole sweep.
    let paths: Vec<PathBuf> = snap
        .images
        .iter()
        .map(|&id| {
            project
                .image(id)
                .map(|im| project.image_path(project_path, im))
                .unwrap_or_default()
        })
        .collect();
    // Decoded once per sweep and kept on disk, so that resuming decodes nothing.
    let hashes: Vec<String> = snap
        .images
        .iter()
        .map(|&id| {
            project
                .image(id)
                .map(|im| im.hash.clone())
                .unwrap_or_default()
        })
        .collect();
    let side = snap.config.train.input_size;
    let (cache, kept, failed) = ImageCache::load_cached(
        &dir.join(format!("images-{side}px.cache")),
        &paths,
        &hashes,
        side,
        &|_, _| {},
    );
    if !failed.is_empty() {
        return Err(format!(
            "{} image(s) of the sweep cannot be read (first: {}): relink the dataset",
            failed.len(),
            paths[failed[0].0].display()
        ));
    }
    debug_assert_eq!(kept.len(), snap.images.len());
    let split_of = |key: &RunKey| {
        let fold = &plan.folds[key.fold];
        Split {
            train: fold.train_set(key.size).to_vec(),
            val: fold.val.clone(),
            test: fold.test.clone(),
        }
    };
    let stack = stack_size(backend, &snap.config.train);
    let workers = if stack > 1 { 1 } else { worker_count(backend) };
    // Stacked runs step together until the longest of them ends: stack runs of the same
    // training-set size (all folds of a size, then the next size), so that their epochs have
    // the same number of batches. Results do not depend on the order.
    let todo = if stack > 1 {
        let mut t = todo;
        t.sort_by_key(|k| (k.size, k.fold));
        t
    } else {
        todo
    };
    if workers > 1 {
        let pool = Pool {
            snap: &snap,
            dir: &dir,
            cache: &cache,
            n_classes,
            split_of: &split_of,
            device: backend.device.clone(),
            description: format!(
                "{} ({} runs at a time)",
                backend.description,
                workers.min(todo.len())
            ),
        };
        pool.run(
            &todo,
            runs.len() - todo.len(),
            runs.len(),
            workers,
            cancel,
            on_event,
        )?;
        return Ok(load_runs(&dir));
    }
    let mut index = runs.len() - todo.len();
    'chunks: for chunk in todo.chunks(stack) {
        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        for key in chunk {
            index += 1;
            on_event(SweepEvent::RunStarted {
                index,
                total: runs.len(),
                key: *key,
            });
        }
        let splits: Vec<Split> = chunk.iter().map(split_of).collect();
        let started = std::time::Instant::now();
        let reqs: Vec<train::TrainRequest> = chunk
            .iter()
            .zip(&splits)
            .map(|(key, split)| train::TrainRequest {
                config: &snap.config.train,
                cache: &cache,
                targets: &snap.targets,
                n_classes,
                split,
                seed: run_seed(snap.config.design.seed, *key),
            })
            .collect();
        // A GPU failure switches the backend to the CPU; the runs are then tried once more there.
        let mut tries = 0;
        let outcomes = loop {
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
                Ok(o) => break o,
                Err(e) if tries < 2 => on_event(SweepEvent::Notice(e)),
                Err(e) => return Err(e),
            }
        };
        let seconds = started.elapsed().as_secs_f64() / chunk.len() as f64;
        let device = if chunk.len() > 1 {
            format!("{} (stack of {})", backend.description, chunk.len())
        } else {
            backend.description.clone()
        };
        for (key, outcome) in chunk.iter().zip(outcomes) {
            if outcome.summary.status == RunStatus::Cancelled {
                break 'chunks; // not stored: it runs again on resume
            }
            store_run(&dir, &snap, *key, &outcome, &device, seconds, on_event)?;
        }
    }
    Ok(load_runs(&dir))
}

/// Writes a finished run's record (and its best model) into the sweep folder and reports it.
fn store_run(
    dir: &Path,
    snap: &Snapshot,
    key: RunKey,
    outcome: &train::TrainOutcome,
    device: &str,
    seconds: f64,
    on_event: &mut dyn FnMut(SweepEvent),
) -> Result<(), String> {
    let s = &outcome.summary;
    let record = RunRecord {
        key,
        status: s.status.to_string(),
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
    };
    if let Some(m) = &outcome.model {
        m.save(&model_file(dir, key))?;
    }
    write_ron(&run_file(dir, key), &record)?;
    on_event(SweepEvent::RunFinished(Box::new(record)));
    Ok(())
}

/// Several runs trained at the same time, each on its own thread (`sweep-worker-N`), on the CPU.
/// Every run's result depends only on its seed and data, so it equals the one-at-a-time result;
/// only the order in which runs finish changes. Events and records are handled on the calling
/// thread.
struct Pool<'a> {
    snap: &'a Snapshot,
    dir: &'a Path,
    cache: &'a ImageCache,
    n_classes: usize,
    split_of: &'a (dyn Fn(&RunKey) -> Split + Sync),
    device: burn::tensor::Device,
    description: String,
}

enum PoolMsg {
    Started(usize),
    Train(usize, TrainEvent),
    Done(usize, Box<train::TrainOutcome>, f64),
    Panicked(usize, String),
}

impl Pool<'_> {
    fn run(
        &self,
        todo: &[RunKey],
        already_done: usize,
        total: usize,
        workers: usize,
        cancel: &AtomicBool,
        on_event: &mut dyn FnMut(SweepEvent),
    ) -> Result<(), String> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::mpsc::RecvTimeoutError;
        /// Sets the flag when dropped, also while unwinding from a panic on the calling thread.
        struct HaltOnDrop<'a>(&'a AtomicBool);
        impl Drop for HaltOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
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
                    .spawn_scoped(scope, move || {
                        loop {
                            if halt.load(Ordering::Relaxed) || cancel.load(Ordering::Relaxed) {
                                break;
                            }
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(&key) = todo.get(i) else { break };
                            let _ = tx.send(PoolMsg::Started(i));
                            let started = std::time::Instant::now();
                            let result =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                    let split = (self.split_of)(&key);
                                    let req = train::TrainRequest {
                                        config: &self.snap.config.train,
                                        cache: self.cache,
                                        targets: &self.snap.targets,
                                        n_classes: self.n_classes,
                                        split: &split,
                                        seed: run_seed(self.snap.config.design.seed, key),
                                    };
                                    train::train(&req, &self.device, halt, &mut |e| {
                                        let _ = tx.send(PoolMsg::Train(i, e));
                                    })
                                }));
                            let msg = match result {
                                Ok(outcome) => PoolMsg::Done(
                                    i,
                                    Box::new(outcome),
                                    started.elapsed().as_secs_f64(),
                                ),
                                Err(p) => {
                                    PoolMsg::Panicked(i, crate::jobs::panic_message(p.as_ref()))
                                }
                            };
                            let _ = tx.send(msg);
                        }
                    });
                if let Err(e) = spawned {
                    halt.store(true, Ordering::Relaxed);
                    first_error = Some(format!("cannot start a sweep worker thread: {e}"));
                    break;
                }
            }
            drop(tx);
            let mut index = already_done;
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
                            total,
                            key: todo[i],
                        });
                    }
                    PoolMsg::Train(i, e) => on_event(SweepEvent::Train(todo[i], e)),
                    PoolMsg::Done(i, outcome, seconds) => {
                        // A cancelled run is not stored: it runs again on resume.
                        if outcome.summary.status == RunStatus::Cancelled || store_failed {
                            continue;
                        }
                        let stored = store_run(
                            self.dir,
                            self.snap,
                            todo[i],
                            &outcome,
                            &self.description,
                            seconds,
                            on_event,
                        );
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
        })
    }
}

thread_local! {
    /// Runs trained together (see `train::stack`) by sweeps started on this thread; 0 = the
    /// default (a stack as large as the memory cap allows on a GPU, one at a time on the CPU,
    /// where burn's CPU backend runs the stacked layers no faster).
    static STACK_OVERRIDE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Chooses how many runs the sweeps started on this thread train together (0 = automatic).
pub fn set_stack_size(n: usize) {
    STACK_OVERRIDE.with(|c| c.set(n));
}

thread_local! {
    /// Runs trained at the same time on the CPU by sweeps started on this thread; 0 = automatic.
    static WORKERS_OVERRIDE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Chooses how many runs the sweeps started on this thread train at the same time on the CPU,
/// each on its own thread (0 = automatic: half the cores on machines with 4 or more, else 1).
/// Results equal one-at-a-time training. Ignored on a GPU, where runs are stacked instead.
pub fn set_workers(n: usize) {
    WORKERS_OVERRIDE.with(|c| c.set(n));
}

fn worker_count(backend: &crate::backend::Backend) -> usize {
    if backend.kind != crate::backend::BackendKind::Cpu {
        return 1;
    }
    match WORKERS_OVERRIDE.with(|c| c.get()) {
        0 => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            if cores >= 4 { cores / 2 } else { 1 }
        }
        n => n,
    }
}

/// Runs per stack on a GPU when the user does not choose: moderate stacks of runs of one
/// training-set size (the order below) keep their epochs in step, where one huge stack would
/// mix every size (stopped runs leave a stack once half of it has stopped: `train::stack`).
pub const AUTO_GPU_STACK: usize = 64;

fn stack_size(backend: &crate::backend::Backend, cfg: &TrainConfig) -> usize {
    let fused = crate::nn::FusedPath::for_device(&backend.device) != crate::nn::FusedPath::None;
    let limit = crate::nn::stacked::buffer_limit(&backend.device);
    let cap = crate::nn::stacked::max_stack(cfg.batch_size, cfg.input_size as usize, fused, limit);
    match STACK_OVERRIDE.with(|c| c.get()) {
        0 if backend.kind == crate::backend::BackendKind::Gpu => cap.min(AUTO_GPU_STACK),
        0 => 1,
        n => n.min(cap),
    }
}

/// Merges the runs of shard folders into `target` (a sweep folder). Every shard must have been
/// made from the same snapshot. Returns the number of runs copied.
pub fn merge(target: &Path, shards: &[PathBuf]) -> Result<usize, String> {
    let mut snapshot: Option<Snapshot> = if target.join("snapshot.ron").exists() {
        Some(read_ron(&target.join("snapshot.ron"))?)
    } else {
        None
    };
    let mut copied = 0;
    for s in shards {
        let snap: Snapshot = read_ron(&s.join("snapshot.ron"))?;
        match &snapshot {
            Some(t) if *t != snap => {
                return Err(format!(
                    "{} was made from other labels or another configuration than {}",
                    s.display(),
                    target.display()
                ));
            }
            Some(_) => {}
            None => {
                write_ron(&target.join("snapshot.ron"), &snap)?;
                snapshot = Some(snap);
            }
        }
        std::fs::create_dir_all(target.join("runs")).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(target.join("models")).map_err(|e| e.to_string())?;
        for r in load_runs(s) {
            let dst = run_file(target, r.key);
            if !dst.exists() {
                write_ron(&dst, &r)?;
                let m = model_file(s, r.key);
                if m.exists() {
                    std::fs::copy(&m, model_file(target, r.key)).map_err(|e| e.to_string())?;
                }
                copied += 1;
            }
        }
    }
    Ok(copied)
}

/// A sweep stored beside a project.
#[derive(Clone, Debug)]
pub struct SavedSweep {
    pub dir: PathBuf,
    pub snapshot: Snapshot,
    /// Finished runs.
    pub done: usize,
    /// Runs in its plan.
    pub total: usize,
}

impl SavedSweep {
    pub fn name(&self) -> &str {
        &self.snapshot.config.name
    }

    pub fn is_complete(&self) -> bool {
        self.done >= self.total
    }
}

/// The sweeps stored beside the project file (unreadable folders are skipped), by name.
pub fn saved_sweeps(project_path: &Path) -> Vec<SavedSweep> {
    let Some(root) = sweep_dir(project_path, "x").parent().map(Path::to_path_buf) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(&root) else {
        return out;
    };
    for e in rd.flatten() {
        let dir = e.path();
        let Ok(snapshot) = read_ron::<Snapshot>(&dir.join("snapshot.ron")) else {
            continue;
        };
        let total = design::plan(
            &snapshot.targets,
            snapshot.output_names.len(),
            &snapshot.config.design,
        )
        .map(|p| p.runs().len())
        .unwrap_or(0);
        let done = load_runs(&dir).len();
        out.push(SavedSweep {
            dir,
            snapshot,
            done,
            total,
        });
    }
    out.sort_by(|a, b| a.name().cmp(b.name()));
    out
}
