//! The trainer on CPU: determinism, real learning (demo data and, when present, the PBC
//! images), cancellation, divergence and collapse.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::atomic::AtomicBool;

use burn::tensor::Device;
use leukolens::dataset::{self, Layout};
use leukolens::demo;
use leukolens::nn::{ModelSpec, PaperCnn};
use leukolens::project::Project;
use leukolens::taxonomy::Taxonomy;
use leukolens::train::{
    self, ExperimentConfig, ImageCache, RunStatus, Split, Task, TrainConfig, TrainEvent,
    TrainRequest, experiment,
};

/// Demo cells of two classes: (cache, targets).
fn demo_pair(
    class_neg: usize,
    class_pos: usize,
    per_class: usize,
    side: u32,
) -> (ImageCache, Vec<usize>) {
    let mut images = Vec::new();
    let mut targets = Vec::new();
    for i in 0..per_class {
        for (t, c) in [(0usize, class_neg), (1usize, class_pos)] {
            images.push(demo::render_cell(c, side, 1000 + i as u64 * 7 + c as u64));
            targets.push(t);
        }
    }
    (ImageCache::from_images(&images, side), targets)
}

fn small_config(epochs: usize) -> TrainConfig {
    TrainConfig {
        input_size: 190,
        max_epochs: epochs,
        patience: epochs,
        ..TrainConfig::quick()
    }
}

fn run(
    cfg: &TrainConfig,
    cache: &ImageCache,
    targets: &[usize],
    split: &Split,
    seed: u64,
    cancel: &AtomicBool,
) -> (train::TrainOutcome, Vec<TrainEvent>) {
    let req = TrainRequest {
        config: cfg,
        cache,
        targets,
        n_classes: 2,
        split,
        seed,
    };
    let mut events = Vec::new();
    let out = train::train(&req, &Device::flex(), cancel, &mut |e| events.push(e));
    (out, events)
}

#[test]
fn seeded_cpu_runs_are_bit_identical() {
    let (cache, targets) = demo_pair(1, 4, 12, 190);
    let split = train::split(&targets, 2, 8, 6, None, 3);
    let cfg = small_config(3);
    let no = AtomicBool::new(false);
    let (a, ev_a) = run(&cfg, &cache, &targets, &split, 11, &no);
    let (b, _) = run(&cfg, &cache, &targets, &split, 11, &no);
    assert_eq!(a.summary.status, RunStatus::Completed);
    assert_eq!(a.summary.history.len(), 3);
    let bits = |h: &[train::EpochStats]| -> Vec<(u64, u64)> {
        h.iter()
            .map(|e| (e.train_loss.to_bits(), e.val_loss.to_bits()))
            .collect()
    };
    assert_eq!(bits(&a.summary.history), bits(&b.summary.history));
    assert_eq!(a.summary.test, b.summary.test, "test outputs bit-identical");
    assert_eq!(
        a.model.as_ref().unwrap().parameters(),
        b.model.as_ref().unwrap().parameters()
    );
    // Another seed gives another run.
    let (c, _) = run(&cfg, &cache, &targets, &split, 12, &no);
    assert_ne!(bits(&a.summary.history), bits(&c.summary.history));
    // Events: Started, one per epoch, Finished.
    assert!(matches!(
        ev_a.first(),
        Some(TrainEvent::Started {
            n_train: 8,
            n_val: 6,
            ..
        })
    ));
    assert_eq!(
        ev_a.iter()
            .filter(|e| matches!(e, TrainEvent::Epoch(_)))
            .count(),
        3
    );
    assert!(matches!(ev_a.last(), Some(TrainEvent::Finished(_))));
}

#[test]
fn best_validation_weights_are_restored_before_testing() {
    let (cache, targets) = demo_pair(1, 4, 12, 190);
    let split = train::split(&targets, 2, 8, 6, None, 5);
    let cfg = small_config(6);
    let (out, _) = run(&cfg, &cache, &targets, &split, 21, &AtomicBool::new(false));
    let s = &out.summary;
    let best = s
        .history
        .iter()
        .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss))
        .unwrap();
    assert_eq!(s.best_epoch, best.epoch);
    // The returned model reproduces the best epoch's validation loss exactly.
    let model = out.model.unwrap();
    let val = train::predict(&model, &cache, &split.val, &targets, &Device::flex()).unwrap();
    let loss: f64 = val
        .iter()
        .map(|p| -(p.probs[p.target].max(1e-12) as f64).ln())
        .sum::<f64>()
        / val.len() as f64;
    assert!(
        (loss - best.val_loss).abs() < 1e-9,
        "{loss} vs {}",
        best.val_loss
    );
}

/// With test-time views the test probabilities are the mean over the eight flip and
/// quarter-turn views, a group: a cell turned by 90° or mirrored gets the probabilities of the
/// cell itself, which the plain test does not give. `train` uses them for its test set only.
#[test]
fn test_views_average_the_eight_flips_and_turns_of_each_test_cell() {
    let (cache, targets) = demo_pair(1, 4, 12, 190);
    let split = train::split(&targets, 2, 8, 6, None, 5);
    let cfg = TrainConfig {
        test_views: true,
        ..small_config(2)
    };
    let (out, _) = run(&cfg, &cache, &targets, &split, 21, &AtomicBool::new(false));
    let model = out.model.unwrap();
    let dev = Device::flex();
    let views = train::square_views();
    let averaged =
        train::predict_views(&model, &cache, &split.test, &targets, &dev, &views).unwrap();
    assert_eq!(
        out.summary.test, averaged,
        "the run's test set is tested on 8 views"
    );
    // The plain probabilities differ from the mean over the views.
    let plain = train::predict(&model, &cache, &split.test, &targets, &dev).unwrap();
    let largest_gap = plain
        .iter()
        .zip(&averaged)
        .flat_map(|(p, a)| p.probs.iter().zip(&a.probs).map(|(x, y)| (x - y).abs()))
        .fold(0.0f32, f32::max);
    assert!(
        largest_gap > 1e-4,
        "plain and averaged differ by {largest_gap}"
    );

    let cell = leukolens::demo::render_cell(4, 190, 77);
    let turned = image::imageops::rotate90(&cell);
    let mirrored = image::imageops::flip_horizontal(&cell);
    let three = ImageCache::from_images(&[cell, turned, mirrored], 190);
    let probs = |views: &[train::AugmentParams]| -> Vec<Vec<f32>> {
        train::predict_views(&model, &three, &[0, 1, 2], &[0, 0, 0], &dev, views)
            .unwrap()
            .into_iter()
            .map(|p| p.probs)
            .collect()
    };
    let gap = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    };
    let with_views = probs(&views);
    for other in &with_views[1..] {
        assert!(
            gap(other, &with_views[0]) < 1e-5,
            "{other:?} vs {:?}",
            with_views[0]
        );
    }
    let alone = probs(&[train::AugmentParams::IDENTITY]);
    assert!(
        gap(&alone[1], &alone[0]) > 1e-4 || gap(&alone[2], &alone[0]) > 1e-4,
        "the plain network is not invariant: {alone:?}"
    );
    assert!(train::predict_views(&model, &three, &[0], &[0, 0, 0], &dev, &[]).is_err());
}

/// A configuration without test-time views is written as before the option existed, so the
/// digests of saved sweeps stay the same; with it, it reads back.
#[test]
fn test_views_are_left_out_of_files_when_off() {
    let plain = ron::to_string(&TrainConfig::quick()).unwrap();
    assert!(!plain.contains("test_views"), "{plain}");
    let on = TrainConfig {
        test_views: true,
        ..TrainConfig::quick()
    };
    let text = ron::to_string(&on).unwrap();
    assert_eq!(ron::from_str::<TrainConfig>(&text).unwrap(), on);
    assert_eq!(
        ron::from_str::<TrainConfig>(&plain).unwrap(),
        TrainConfig::quick()
    );
}

#[test]
fn early_stopping_stops_after_patience() {
    let (cache, targets) = demo_pair(1, 4, 10, 190);
    let split = train::split(&targets, 2, 6, 6, None, 5);
    let cfg = TrainConfig {
        patience: 1,
        // Updates of 1e-30 vanish in f32: the weights never change, so the validation loss never
        // improves after the first epoch.
        learning_rate: 1e-30,
        ..small_config(50)
    };
    let (out, _) = run(&cfg, &cache, &targets, &split, 2, &AtomicBool::new(false));
    let h = &out.summary.history;
    assert_eq!(out.summary.best_epoch, 1);
    assert_eq!(h.len(), 2, "stops `patience` epochs after the best");
}

#[test]
fn cancel_divergence_and_bad_requests_end_cleanly() {
    let (cache, targets) = demo_pair(1, 4, 6, 190);
    let split = train::split(&targets, 2, 4, 4, None, 1);
    let cancelled = AtomicBool::new(true);
    let (out, _) = run(&small_config(3), &cache, &targets, &split, 1, &cancelled);
    assert_eq!(out.summary.status, RunStatus::Cancelled);
    assert!(out.model.is_none());

    let cfg = TrainConfig {
        learning_rate: 1e300,
        ..small_config(5)
    };
    let (out, events) = run(&cfg, &cache, &targets, &split, 1, &AtomicBool::new(false));
    match &out.summary.status {
        RunStatus::Failed(m) => assert!(m.contains("diverged"), "{m}"),
        other => panic!("expected a failed run, got {other}"),
    }
    assert!(matches!(events.last(), Some(TrainEvent::Finished(_))));

    let empty = Split {
        train: vec![],
        val: vec![0],
        test: vec![1],
    };
    let (out, _) = run(
        &small_config(1),
        &cache,
        &targets,
        &empty,
        1,
        &AtomicBool::new(false),
    );
    assert!(matches!(out.summary.status, RunStatus::Failed(_)));
    let wrong_size = TrainConfig {
        input_size: 257,
        ..small_config(1)
    };
    let (out, _) = run(
        &wrong_size,
        &cache,
        &targets,
        &split,
        1,
        &AtomicBool::new(false),
    );
    assert!(matches!(out.summary.status, RunStatus::Failed(ref m) if m.contains("px")));
}

#[test]
fn a_constant_network_is_detected_as_collapsed() {
    let (cache, targets) = demo_pair(1, 4, 4, 190);
    let dev = Device::flex();
    let spec = ModelSpec {
        input_size: 190,
        n_classes: 2,
    };
    let idx: Vec<usize> = (0..targets.len()).collect();
    let dead = PaperCnn::new(spec, 1, &dev).unwrap().scaled(0.0);
    let preds = train::predict(&dead, &cache, &idx, &targets, &dev).unwrap();
    assert!(train::is_collapsed(&preds));
    let (auc, _, _) = train::test_scores(&preds, 2);
    assert_eq!(auc, Some(0.5));
    // Outputs that differ between images are not a collapse.
    let varied = vec![
        train::Prediction {
            index: 0,
            target: 0,
            probs: vec![0.5, 0.5],
        },
        train::Prediction {
            index: 1,
            target: 1,
            probs: vec![0.2, 0.8],
        },
    ];
    assert!(!train::is_collapsed(&varied));
}

#[test]
fn a_network_learns_the_demo_data() {
    // Typical lymphocyte (small, dense nucleus) vs segmented neutrophil (lobed nucleus).
    let (cache, targets) = demo_pair(1, 4, 40, 193);
    let split = train::split(&targets, 2, 30, 16, None, 8);
    let cfg = TrainConfig {
        input_size: 193,
        max_epochs: 30,
        patience: 8,
        ..TrainConfig::quick()
    };
    let (out, _) = run(&cfg, &cache, &targets, &split, 4, &AtomicBool::new(false));
    let s = out.summary;
    eprintln!(
        "demo: {} epochs, best {}, test AUC {:?} on {} images",
        s.history.len(),
        s.best_epoch,
        s.test_auc,
        s.test.len()
    );
    assert_eq!(s.status, RunStatus::Completed);
    assert!(s.test_auc.unwrap() >= 0.9, "test AUC {:?}", s.test_auc);
}

/// The real-data learning test (PBC, CC BY 4.0). Skips when `../shared/data/pbc` is absent.
#[test]
fn pbc_lymphocyte_vs_neutrophil_reaches_auc_090_with_50_images() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pbc");
    if !root.join("lymphocyte").is_dir() {
        eprintln!("skipped: {} not present", root.display());
        return;
    }
    let out = dataset::import(
        &root,
        Some(Layout::Pbc),
        Taxonomy::default_allidb(),
        &|_, _| {},
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let project_path = dir.path().join("pbc.ron");
    let mut project = Project::from_import("pbc", &project_path, &out, 7);
    // The dataset stays where it is: store it absolute.
    project.dataset_root = root.canonicalize().unwrap().to_string_lossy().into_owned();
    let t = &project.taxonomy;
    let task = Task::Groups {
        positive: vec![t.find("Typical lymphocyte").unwrap()],
        negative: [
            "Segmented neutrophil",
            "Band neutrophil",
            "Neutrophil (unspecified)",
        ]
        .iter()
        .map(|n| t.find(n).unwrap())
        .collect(),
    };
    let exp = ExperimentConfig {
        name: "ly-vs-ne".into(),
        task,
        train: TrainConfig {
            input_size: 193,
            max_epochs: 60,
            patience: 15,
            ..TrainConfig::quick()
        },
        n_train: 50,
        n_val: 25,
        n_test: None,
        seed: 2021,
    };
    let data = experiment::prepare(&project, &project_path, &exp, &|_, _| {}).unwrap();
    assert!(data.unreadable.is_empty());
    assert_eq!(data.cache.len(), 300);
    let split = experiment::split_for(&exp, &data);
    assert_eq!(split.train.len(), 50);
    let out = experiment::run(
        &exp,
        &data,
        &split,
        &Device::flex(),
        &AtomicBool::new(false),
        &mut |_| {},
    );
    let s = out.summary;
    eprintln!(
        "PBC: {} epochs, best {}, test AUC {:?} on {} held-out images",
        s.history.len(),
        s.best_epoch,
        s.test_auc,
        s.test.len()
    );
    assert_eq!(s.test.len(), 225);
    assert!(s.test_auc.unwrap() >= 0.90, "test AUC {:?}", s.test_auc);
}

#[test]
fn training_runs_as_a_background_job_and_cancels_mid_run() {
    use leukolens::jobs::{EventKind, Jobs};
    let (cache, targets) = demo_pair(1, 4, 8, 190);
    let split = train::split(&targets, 2, 6, 4, None, 1);
    let jobs = Jobs::new();
    let job = jobs
        .spawn("train-test", move |ctx| {
            let cancel = ctx.cancel_flag();
            let cfg = small_config(100);
            let req = TrainRequest {
                config: &cfg,
                cache: &cache,
                targets: &targets,
                n_classes: 2,
                split: &split,
                seed: 3,
            };
            train::train(&req, &Device::flex(), &cancel, &mut |e| {
                ctx.send(EventKind::Train(e))
            });
            Ok(())
        })
        .unwrap();
    assert_eq!(
        std::thread::current().name(),
        Some("training_runs_as_a_background_job_and_cancels_mid_run")
    );
    let mut finished = None;
    while let Some(ev) = jobs.recv() {
        match ev.kind {
            EventKind::Train(TrainEvent::Epoch(e)) if e.epoch == 1 => job.cancel(),
            EventKind::Train(TrainEvent::Finished(s)) => finished = Some(s),
            EventKind::Finished(r) => {
                r.unwrap();
                break;
            }
            _ => {}
        }
    }
    job.join();
    let s = finished.expect("a Finished event");
    assert_eq!(s.status, RunStatus::Cancelled);
    assert!(
        s.history.len() <= 2,
        "stopped within the next epoch, ran {}",
        s.history.len()
    );
    assert!(
        !s.test.is_empty(),
        "the best weights so far are still tested"
    );
}

/// A project whose dataset folder has gone says so, and how to fix it, before anything trains.
#[test]
fn a_missing_dataset_folder_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo::create_demo_project(&dir.path().join("d"), 2, 48, 3).unwrap();
    let project = Project::load(&path).unwrap();
    let t = &project.taxonomy;
    let exp = ExperimentConfig {
        name: "x".into(),
        task: Task::Groups {
            positive: vec![t.find("Lymphoblast").unwrap()],
            negative: vec![t.find("Monocyte").unwrap()],
        },
        train: TrainConfig {
            input_size: 190,
            ..TrainConfig::quick()
        },
        n_train: 2,
        n_val: 1,
        n_test: None,
        seed: 1,
    };
    assert!(experiment::prepare(&project, &path, &exp, &|_, _| {}).is_ok());
    std::fs::rename(dir.path().join("d/images"), dir.path().join("gone")).unwrap();
    let err = experiment::prepare(&project, &path, &exp, &|_, _| {})
        .err()
        .expect("an error");
    assert!(err.contains("missing") && err.contains("relink"), "{err}");
}
