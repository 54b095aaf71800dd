//! `leukolens explain` end to end: a tiny sweep on the demo project leaves models; the library
//! function behind the command and the binary itself write overlay PNGs of them, and refuse
//! missing sweeps, models and images with clear messages.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

use leukolens::backend::Backend;
use leukolens::explain::{self, ExplainRequest, Method, Preset, colour, source};
use leukolens::nn::{ModelSpec, PaperCnn};
use leukolens::project::{Project, Workspace};
use leukolens::sweep::run::{self, RunOptions};
use leukolens::sweep::{RunKey, SweepConfig, SweepDesign, ValSize};
use leukolens::train::{ExperimentConfig, Task, TrainConfig, experiment};

const S: u32 = 190;

fn tiny_sweep(dir: &Path) -> (PathBuf, Project) {
    let path = leukolens::demo::create_demo_project(&dir.join("demo"), 10, S, 5).unwrap();
    let project = Project::load(&path).unwrap();
    let t = &project.taxonomy;
    let cfg = SweepConfig {
        name: "tiny".into(),
        task: Task::Groups {
            positive: vec![t.find("Typical lymphocyte").unwrap()],
            negative: vec![t.find("Segmented neutrophil").unwrap()],
        },
        train: TrainConfig {
            input_size: S,
            max_epochs: 2,
            patience: 2,
            ..TrainConfig::quick()
        },
        design: SweepDesign {
            k_folds: 2,
            val: ValSize::Count(4),
            sizes: vec![4],
            seed: 3,
        },
    };
    let no = AtomicBool::new(false);
    let runs = run::run_sweep(
        &project,
        &path,
        &cfg,
        &mut Backend::cpu(),
        &RunOptions::default(),
        &no,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(runs.len(), 2, "2 folds × 1 size");
    (path, project)
}

fn png_size(path: &Path) -> (u32, u32) {
    let img = image::open(path).unwrap();
    (img.width(), img.height())
}

fn request(project: &Path, out: PathBuf, method: Method, image: &str) -> ExplainRequest {
    ExplainRequest {
        project: project.to_path_buf(),
        experiment: "tiny".into(),
        fold: Some(1),
        size: Some(4),
        image: image.into(),
        method,
        class: None,
        output: out,
        opacity: 0.7,
        overwrite: leukolens::output::Overwrite::Allowed,
    }
}

#[test]
fn explain_writes_overlays_of_a_sweep_model_and_refuses_missing_things() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = tiny_sweep(dir.path());
    // The sweep wrote its models where the explanation looks for them.
    for fold in 0..2 {
        let m = source::sweep_model_path(&path, "tiny", RunKey { fold, size: 4 });
        assert!(m.is_file(), "{} missing", m.display());
    }
    let lym = project.taxonomy.find("Typical lymphocyte").unwrap();
    let im = project.images.iter().find(|i| i.current == lym).unwrap();
    let bar = colour::BAR_GAP + colour::BAR_HEIGHT;

    // Library: LRP (default preset) and saliency, by id.
    let out_lrp = dir.path().join("out/lrp.png");
    let r = explain::explain_to_png(&request(
        &path,
        out_lrp.clone(),
        Method::Lrp(Preset::EpsGammaZb),
        &im.id.0.to_string(),
    ))
    .unwrap();
    assert_eq!(png_size(&out_lrp), (S, S + bar));
    assert_eq!(r.map.values.len(), (S * S) as usize);
    assert!(r.map.signed);
    assert!(!r.map.is_constant(), "the LRP map is constant");
    assert_eq!(r.image, im.id);
    assert_eq!(r.probabilities.len(), 2);
    assert!(r.summary().contains("fold 1"));
    // The picture differs from the plain image: the map is drawn over it.
    let (plain, _) = source::load_image(&r.image_path, S).unwrap();
    let drawn = image::open(&out_lrp).unwrap().to_rgb8();
    let changed = plain
        .pixels()
        .zip(drawn.pixels())
        .filter(|(a, b)| a != b)
        .count();
    assert!(changed > 100, "only {changed} pixels changed");

    let out_sal = dir.path().join("sal.png");
    let mut req = request(&path, out_sal.clone(), Method::Saliency, &im.path);
    req.class = Some("1".into());
    let r = explain::explain_to_png(&req).unwrap();
    assert_eq!(png_size(&out_sal), (S, S + bar));
    assert!(!r.map.signed && !r.map.is_constant());
    assert_eq!(r.class, 1);
    let max = r.map.values.iter().copied().fold(0.0f32, f32::max);
    assert_eq!(max, 1.0);

    // Clear errors, no panics.
    let err = |mut req: ExplainRequest, f: &dyn Fn(&mut ExplainRequest)| {
        f(&mut req);
        explain::explain_to_png(&req).unwrap_err()
    };
    let base = request(&path, dir.path().join("x.png"), Method::Saliency, "0");
    let e = err(base.clone(), &|r| r.experiment = "nope".into());
    assert!(e.contains("no results of a sweep \"nope\""), "{e}");
    let e = err(base.clone(), &|r| r.size = Some(99));
    assert!(
        e.contains("no model for fold 1 size 99") && e.contains("fold 2 size 4"),
        "{e}"
    );
    let e = err(base.clone(), &|r| r.image = "missing.png".into());
    assert!(e.contains("no image \"missing.png\""), "{e}");
    let e = err(base.clone(), &|r| r.class = Some("Basophil".into()));
    assert!(e.contains("no output \"Basophil\""), "{e}");
    let e = err(base.clone(), &|r| r.fold = None);
    assert!(e.contains("both --fold and --size"), "{e}");
    let e = err(base.clone(), &|r| r.fold = Some(0));
    assert!(e.contains("from 1"), "{e}");
    let e = err(base.clone(), &|r| {
        r.fold = None;
        r.size = None
    });
    assert!(
        e.contains("no experiment \"tiny\"") && e.contains("it is a sweep"),
        "{e}"
    );
    // A damaged model file.
    let m = source::sweep_model_path(&path, "tiny", RunKey { fold: 1, size: 4 });
    std::fs::write(&m, b"not a model").unwrap();
    let e = err(base.clone(), &|r| r.fold = Some(2));
    assert!(e.contains("changed or damaged after it was saved"), "{e}");
    // Without its digest (a model from before digests), burn's reader refuses it.
    std::fs::remove_file(leukolens::nn::digest_path(&m)).unwrap();
    let e = err(base.clone(), &|r| r.fold = Some(2));
    assert!(e.contains("cannot load the model"), "{e}");
    // An image file that disappeared.
    let gone = project.image_path(&path, &project.images[1]);
    std::fs::remove_file(&gone).unwrap();
    let e = err(base.clone(), &|r| r.image = "1".into());
    assert!(e.contains("cannot read the image"), "{e}");

    // A trained experiment's model (no fold and size).
    let mut ws = Workspace::open(&path).unwrap();
    let t = &ws.project.taxonomy;
    let exp = ExperimentConfig {
        name: "one net".into(),
        task: Task::Groups {
            positive: vec![t.find("Typical lymphocyte").unwrap()],
            negative: vec![t.find("Segmented neutrophil").unwrap()],
        },
        train: TrainConfig {
            input_size: S,
            ..TrainConfig::quick()
        },
        n_train: 4,
        n_val: 2,
        n_test: None,
        seed: 1,
    };
    ws.project.experiments.push(exp);
    ws.mark_dirty();
    ws.save().unwrap();
    let spec = ModelSpec {
        input_size: S,
        n_classes: 2,
    };
    let net = PaperCnn::new(spec, 4, &burn::tensor::Device::flex()).unwrap();
    net.save(&experiment::models_dir(&path).join("one_net.bpk"))
        .unwrap();
    let mut req = request(
        &path,
        dir.path().join("exp.png"),
        Method::Lrp(Preset::Paper),
        "0",
    );
    req.experiment = "one net".into();
    req.fold = None;
    req.size = None;
    let r = explain::explain_to_png(&req).unwrap();
    assert!(r.model.description.contains("experiment \"one net\""));
    assert_eq!(png_size(&dir.path().join("exp.png")), (S, S + bar));
}

#[test]
fn the_explain_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = tiny_sweep(dir.path());
    let exe = env!("CARGO_BIN_EXE_leukolens");
    let name = project.images[2]
        .path
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let unique = project
        .images
        .iter()
        .filter(|i| i.path.rsplit('/').next() == Some(name.as_str()))
        .count()
        == 1;
    let image = if unique {
        name
    } else {
        project.images[2].path.clone()
    };
    let out = dir.path().join("cli.png");
    let run = |args: &[&str]| {
        Command::new(exe)
            .arg("explain")
            .arg(&path)
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&[
        "--experiment",
        "tiny",
        "--fold",
        "2",
        "--size",
        "4",
        "--image",
        &image,
        "--method",
        "lrp",
        "--preset",
        "eps-alpha-flat",
        "-o",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("wrote"), "{stdout}");
    let bar = colour::BAR_GAP + colour::BAR_HEIGHT;
    assert_eq!(png_size(&out), (S, S + bar));

    for (args, expected) in [
        (
            vec!["--experiment", "nope", "--fold", "1", "--size", "4"],
            "no results of a sweep",
        ),
        (
            vec!["--experiment", "tiny", "--fold", "1", "--size", "5"],
            "no model for fold 1 size 5",
        ),
        (
            vec![
                "--experiment",
                "tiny",
                "--fold",
                "1",
                "--size",
                "4",
                "--method",
                "x",
            ],
            "unknown method",
        ),
        (
            vec![
                "--experiment",
                "tiny",
                "--fold",
                "1",
                "--size",
                "4",
                "--preset",
                "bogus",
            ],
            "unknown LRP preset",
        ),
    ] {
        let mut a = args.clone();
        a.extend(["--image", "0", "-o", "unused.png"]);
        let o = run(&a);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let o = run(&[
        "--experiment",
        "tiny",
        "--fold",
        "1",
        "--size",
        "4",
        "--image",
        "no-such-cell.png",
        "-o",
        "unused.png",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no image"));
}
