//! Sweeps on CPU: resume after cancel, and shard + merge, both equal to an uninterrupted run.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use leukolens::backend::Backend;
use leukolens::project::Project;
use leukolens::sweep::run::{self, RunOptions, SweepEvent};
use leukolens::sweep::start::load_or_snapshot;
use leukolens::sweep::{RunRecord, SweepConfig, SweepDesign, SweepDir, ValSize};
use leukolens::train::{Task, TrainConfig, TrainEvent};

fn demo(dir: &Path) -> (std::path::PathBuf, Project) {
    let path = leukolens::demo::create_demo_project(&dir.join("demo"), 10, 190, 5).unwrap();
    let project = Project::load(&path).unwrap();
    (path, project)
}

fn config(p: &Project) -> SweepConfig {
    let t = &p.taxonomy;
    SweepConfig {
        name: "tiny".into(),
        task: Task::Groups {
            positive: vec![t.find("Typical lymphocyte").unwrap()],
            negative: vec![t.find("Segmented neutrophil").unwrap()],
        },
        train: TrainConfig {
            input_size: 190,
            max_epochs: 3,
            patience: 3,
            ..TrainConfig::quick()
        },
        design: SweepDesign {
            k_folds: 2,
            val: ValSize::Count(4),
            sizes: vec![4, 8],
            seed: 77,
        },
    }
}

/// Run options: `shard` and `out` as [`RunOptions`], the rest automatic.
fn opts(shard: Option<(usize, usize)>, out: Option<&Path>) -> RunOptions {
    RunOptions {
        shard,
        out: out.map(Path::to_path_buf),
        ..RunOptions::default()
    }
}

/// Runs (or resumes) a sweep on the CPU without watching it; `shard` and `out` as `run_sweep`.
fn sweep(
    project: &Project,
    path: &Path,
    cfg: &SweepConfig,
    shard: Option<(usize, usize)>,
    out: Option<&Path>,
) -> Vec<RunRecord> {
    sweep_with(project, path, cfg, &opts(shard, out))
}

/// [`sweep`] with any options.
fn sweep_with(
    project: &Project,
    path: &Path,
    cfg: &SweepConfig,
    options: &RunOptions,
) -> Vec<RunRecord> {
    let no = AtomicBool::new(false);
    run::run_sweep(
        project,
        path,
        cfg,
        &mut Backend::cpu(),
        options,
        &no,
        &mut |_| {},
    )
    .unwrap()
}

/// The parts of a record that must not depend on how the sweep was run.
fn essence(r: &[RunRecord]) -> Vec<String> {
    r.iter()
        .map(|r| {
            format!(
                "{:?} {} {} {:?} {:?} {:?}",
                r.key, r.status, r.epochs, r.val_loss, r.test_auc, r.predictions
            )
        })
        .collect()
}

#[test]
fn resume_after_cancel_and_shards_give_the_uninterrupted_results() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = demo(dir.path());
    let cfg = config(&project);
    let no = AtomicBool::new(false);
    let mut cpu = Backend::cpu();

    let full_dir = dir.path().join("full");
    let full = sweep(&project, &path, &cfg, None, Some(&full_dir));
    assert_eq!(full.len(), 4, "2 folds × 2 sizes");
    assert!(
        full.iter().all(|r| r.predictions.len() == 10),
        "every image tested once per fold (20 / 2)"
    );

    // Cancel after the first finished run, then resume.
    let part_dir = dir.path().join("part");
    let cancel = AtomicBool::new(false);
    let mut started = 0;
    let first = run::run_sweep(
        &project,
        &path,
        &cfg,
        &mut cpu,
        &opts(None, Some(&part_dir)),
        &cancel,
        &mut |e| {
            if let SweepEvent::RunFinished(_) = e {
                cancel.store(true, Ordering::Relaxed);
            }
            if let SweepEvent::RunStarted { .. } = e {
                started += 1;
            }
        },
    )
    .unwrap();
    assert_eq!(first.len(), 1, "one run finished before the cancel");
    let mut planned_done = None;
    let mut reran = 0;
    let resumed = run::run_sweep(
        &project,
        &path,
        &cfg,
        &mut cpu,
        &opts(None, Some(&part_dir)),
        &no,
        &mut |e| match e {
            SweepEvent::Planned { already_done, .. } => planned_done = Some(already_done),
            SweepEvent::RunStarted { .. } => reran += 1,
            _ => {}
        },
    )
    .unwrap();
    assert_eq!(planned_done, Some(1));
    assert_eq!(reran, 3, "finished runs are not run again");
    assert_eq!(essence(&resumed), essence(&full));

    // Two shards in separate folders, merged.
    let s1 = dir.path().join("s1");
    let s2 = dir.path().join("s2");
    let a = sweep(&project, &path, &cfg, Some((1, 2)), Some(&s1));
    let b = sweep(&project, &path, &cfg, Some((2, 2)), Some(&s2));
    assert_eq!(a.len() + b.len(), 4);
    assert!(
        a.iter().all(|r| !b.iter().any(|q| q.key == r.key)),
        "shards are disjoint"
    );
    let merged_dir = dir.path().join("merged");
    let merged = SweepDir::at(&merged_dir);
    let shards = [SweepDir::at(&s1), SweepDir::at(&s2)];
    assert_eq!(merged.merge(&shards, Some(&cfg)).unwrap().copied, 4);
    assert_eq!(essence(&merged.runs()), essence(&full));
    // Merging again copies nothing new, and says which runs it skipped.
    let again = merged.merge(&shards, Some(&cfg)).unwrap();
    assert_eq!((again.copied, again.skipped.len()), (0, 4));

    // A damaged run file is left out of the results and named, not silently dropped.
    assert!(merged.damaged_runs().is_empty());
    let bad = merged_dir.join("runs/f09-n0999.ron");
    std::fs::write(&bad, "RunRecord(key: (fold: 9, si").unwrap();
    assert_eq!(merged.runs().len(), 4);
    let damaged = merged.damaged_runs();
    assert_eq!(damaged.len(), 1);
    assert_eq!(damaged[0].0, bad);
}

#[test]
fn a_sweep_keeps_its_label_snapshot_and_refuses_a_changed_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut project) = demo(dir.path());
    let cfg = config(&project);
    let out = SweepDir::at(dir.path().join("snap"));
    let snap = load_or_snapshot(&out, &project, &cfg).unwrap();
    assert_eq!(snap.images.len(), 20);
    // Relabel every lymphocyte: the stored snapshot does not change.
    let lym = project.taxonomy.find("Typical lymphocyte").unwrap();
    let bas = project.taxonomy.find("Basophil").unwrap();
    for im in &mut project.images {
        if im.current == lym {
            im.current = bas;
        }
    }
    let again = load_or_snapshot(&out, &project, &cfg).unwrap();
    assert_eq!(again, snap);
    let mut other = cfg.clone();
    other.design.k_folds = 3;
    let err = load_or_snapshot(&out, &project, &other).unwrap_err();
    assert!(err.contains("another configuration"), "{err}");
    let _ = path;
}

/// The study's point on the bundled demo data: more training images, better AUC (on average
/// over folds), here band vs segmented neutrophils (the demo's subtlest pair: nucleus shape).
#[test]
fn auc_rises_with_training_size_on_demo_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = leukolens::demo::create_demo_project(&dir.path().join("demo"), 40, 190, 11).unwrap();
    let project = Project::load(&path).unwrap();
    let t = &project.taxonomy;
    let cfg = SweepConfig {
        name: "rise".into(),
        task: Task::Groups {
            positive: vec![t.find("Band neutrophil").unwrap()],
            negative: vec![t.find("Segmented neutrophil").unwrap()],
        },
        train: TrainConfig {
            input_size: 190,
            max_epochs: 20,
            patience: 8,
            ..TrainConfig::quick()
        },
        design: SweepDesign {
            k_folds: 3,
            val: ValSize::Count(10),
            sizes: vec![4, 40],
            seed: 2021,
        },
    };
    let recs = sweep(&project, &path, &cfg, None, None);
    let mean = |n: usize| {
        let v: Vec<f64> = recs
            .iter()
            .filter(|r| r.key.size == n)
            .filter_map(|r| r.test_auc)
            .collect();
        assert_eq!(v.len(), 3, "every fold has a test AUC at size {n}");
        v.iter().sum::<f64>() / v.len() as f64
    };
    for r in &recs {
        eprintln!(
            "fold {} size {}: AUC {:?}, {} epochs (best {})",
            r.key.fold, r.key.size, r.test_auc, r.epochs, r.best_epoch
        );
    }
    let (small, large) = (mean(4), mean(40));
    eprintln!("mean test AUC: {small:.3} with 4 images, {large:.3} with 40");
    assert!(
        large > small,
        "AUC did not rise: {small:.3} (4 images) vs {large:.3} (40 images)"
    );
    // The stored sweep is found beside the project, complete.
    let saved = leukolens::sweep::saved_sweeps(&path);
    assert_eq!(saved.len(), 1);
    assert!(saved[0].is_complete() && saved[0].done == 6);

    // The headless report: HTML, tables, figures and one learning curve per run.
    let bin = env!("CARGO_BIN_EXE_leukolens");
    let out = std::process::Command::new(bin)
        .args(["report", path.to_str().unwrap(), "--name", "rise"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = SweepDir::of(&path, "rise").report_dir();
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("rise") && html.contains("<svg") && html.contains("k_folds: 3"));
    assert_eq!(std::fs::read_dir(report.join("curves")).unwrap().count(), 6);
    let preds = std::fs::read_to_string(report.join("predictions.csv")).unwrap();
    assert_eq!(
        preds.lines().count(),
        1 + 2 * 80,
        "every image tested once per size"
    );
    let bad = std::process::Command::new(bin)
        .args(["report", path.to_str().unwrap(), "--name", "nope"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no sweep \"nope\""));
}

/// Runs packed into stacks (trained together as one network) give the results of the same runs
/// trained one at a time.
#[test]
fn a_stacked_sweep_equals_the_one_at_a_time_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = demo(dir.path());
    let cfg = config(&project);
    let no = AtomicBool::new(false);
    let alone = sweep(&project, &path, &cfg, None, Some(&dir.path().join("alone")));
    let mut started = 0;
    let stacked = run::run_sweep(
        &project,
        &path,
        &cfg,
        &mut Backend::cpu(),
        &RunOptions {
            stack: 4,
            ..opts(None, Some(&dir.path().join("stacked")))
        },
        &no,
        &mut |e| {
            if let SweepEvent::RunStarted { .. } = e {
                started += 1;
            }
        },
    )
    .unwrap();
    assert_eq!(started, 4);
    assert_same_runs(&alone, &stacked, "stack of 4", 1e-4);
}

/// `other` has the runs of `alone`, trained on a device whose description contains `device`,
/// with the same epochs and best epoch, and validation losses and test probabilities within
/// `tol`.
fn assert_same_runs(alone: &[RunRecord], other: &[RunRecord], device: &str, tol: f64) {
    assert_eq!(other.len(), alone.len());
    for (a, s) in alone.iter().zip(other) {
        assert_eq!(a.key, s.key);
        assert!(s.device.contains(device), "{}", s.device);
        assert_eq!((a.epochs, a.best_epoch), (s.epochs, s.best_epoch));
        for (x, y) in a.val_loss.iter().zip(&s.val_loss) {
            assert!((x - y).abs() < tol, "{x} vs {y}");
        }
        assert_eq!(a.predictions.len(), s.predictions.len());
        for (p, q) in a.predictions.iter().zip(&s.predictions) {
            assert_eq!((p.0, p.1), (q.0, q.1));
            for (u, v) in p.2.iter().zip(&q.2) {
                assert!(((u - v).abs() as f64) < tol, "{u} vs {v}");
            }
        }
    }
}

/// A sweep on the GPU (fused kernels, stacked runs ordered by size, pixels unpacked there,
/// stopped runs leaving the stack) gives the CPU's one-at-a-time results. Runs on lavapipe where
/// no GPU exists, and says "skipped" where no Vulkan adapter does.
#[test]
fn a_sweep_on_the_gpu_equals_the_cpu_sweep() {
    let mut gpu = match leukolens::backend::resolve(leukolens::backend::BackendChoice::Gpu) {
        Ok(b) => b,
        Err(why) => {
            eprintln!("skipped: no GPU adapter ({why})");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = demo(dir.path());
    let cfg = config(&project);
    let cpu = sweep(&project, &path, &cfg, None, Some(&dir.path().join("cpu")));
    let no = AtomicBool::new(false);
    let on_gpu = run::run_sweep(
        &project,
        &path,
        &cfg,
        &mut gpu,
        &opts(None, Some(&dir.path().join("gpu"))),
        &no,
        &mut |_| {},
    )
    .unwrap();
    assert_same_runs(&cpu, &on_gpu, "stack of 4", 1e-3);
}

/// Runs trained at the same time on worker threads (the CPU's way of filling a machine) give the
/// results of the same runs one at a time; cancelling stops the runs in flight, and none is stored.
#[test]
fn a_sweep_on_two_workers_equals_the_one_at_a_time_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = demo(dir.path());
    let cfg = config(&project);
    // One at a time, whatever the machine's core count.
    let one_at_a_time = RunOptions {
        workers: 1,
        ..opts(None, Some(&dir.path().join("alone")))
    };
    let alone = sweep_with(&project, &path, &cfg, &one_at_a_time);

    let two = |out: &str| RunOptions {
        workers: 2,
        ..opts(None, Some(&dir.path().join(out)))
    };
    let no = AtomicBool::new(false);
    let (mut started, mut epochs) = (0, std::collections::HashMap::new());
    let pooled = run::run_sweep(
        &project,
        &path,
        &cfg,
        &mut Backend::cpu(),
        &two("pooled"),
        &no,
        &mut |e| match e {
            SweepEvent::RunStarted { .. } => started += 1,
            SweepEvent::Train(key, TrainEvent::Epoch(_)) => *epochs.entry(key).or_insert(0) += 1,
            _ => {}
        },
    )
    .unwrap();
    assert_eq!(started, 4);
    assert_eq!(essence(&pooled), essence(&alone));
    for r in &pooled {
        assert!(r.device.contains("2 runs at a time"), "{}", r.device);
        // Every epoch event reached the caller under its own run.
        assert_eq!(epochs[&r.key], r.epochs, "{:?}", r.key);
    }

    // Cancel during the first epoch of long runs: the runs in flight stop and none is stored
    // (each would need 100 epochs to finish on its own).
    let mut long = cfg.clone();
    long.name = "long".into();
    (long.train.max_epochs, long.train.patience) = (100, 100);
    let cancel = AtomicBool::new(false);
    let mut finished = 0;
    let partial = run::run_sweep(
        &project,
        &path,
        &long,
        &mut Backend::cpu(),
        &two("cancelled"),
        &cancel,
        &mut |e| match e {
            SweepEvent::Train(_, TrainEvent::Epoch(_)) => cancel.store(true, Ordering::Relaxed),
            SweepEvent::RunFinished(_) => finished += 1,
            _ => {}
        },
    )
    .unwrap();
    assert_eq!((partial.len(), finished), (0, 0));
}

/// A multiclass sweep (the paper's six-class protocol in miniature): weighted F1 per run, a
/// pooled confusion matrix over all classes, no ROC, and a report.
#[test]
fn a_multiclass_sweep_reports_weighted_f1_and_a_confusion_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = demo(dir.path());
    let t = &project.taxonomy;
    let classes: Vec<_> = [
        "Lymphoblast",
        "Typical lymphocyte",
        "Monocyte",
        "Eosinophil",
    ]
    .iter()
    .map(|n| t.find(n).unwrap())
    .collect();
    let mut cfg = config(&project);
    cfg.name = "multi".into();
    cfg.task = Task::Multiclass { classes };
    cfg.train.balance_to = Some(6);
    cfg.design.sizes = vec![8];
    let recs = sweep(&project, &path, &cfg, None, None);
    assert_eq!(recs.len(), 2);
    for r in &recs {
        assert!(r.test_auc.is_none());
        let f1 = r.test_weighted_f1.expect("weighted F1 per run");
        assert!((0.0..=1.0).contains(&f1));
        assert!(r.predictions.iter().all(|p| p.2.len() == 4));
    }
    let c = leukolens::sweep::results::confusion_at(&recs, 8, 4).unwrap();
    assert_eq!(
        c.matrix.total(),
        40,
        "every image of the 4 classes tested once"
    );
    assert!(leukolens::sweep::results::roc_at(&recs, 8).is_none());
    let snap = SweepDir::of(&path, "multi").read_snapshot().unwrap();
    assert_eq!(snap.output_names.len(), 4);
    let files = leukolens::sweep::report::write_report(
        &dir.path().join("report"),
        &snap,
        &recs,
        Some(&project),
        None,
    )
    .unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"confusion_n8.svg".to_string()));
    assert!(!names.iter().any(|n| n.starts_with("roc_")));
}
