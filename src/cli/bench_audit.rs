//! `leukolens bench audit`: flip a seeded share of the labels of a scratch copy of a labelled
//! set, audit it on the CPU, and print how well the suspects match the flipped images
//! (`quality::noise`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::args::{Overrides, Preset, configured};
use super::progress::{bar, follow};
use super::sweep::show;
use crate::backend::{self, BackendChoice};
use crate::dataset;
use crate::project::{Project, Workspace};
use crate::quality::audit::DEFAULT_AUDIT_FOLDS;
use crate::quality::noise::{NoiseBench, run_noise_bench, subsample, write_rows_csv};
use crate::sweep::run::RunOptions;
use crate::taxonomy::Taxonomy;
use crate::train::Task;

/// The shared PBC set, used by default when present.
const SHARED_PBC: &str = "../shared/data/pbc";

#[derive(clap::Args)]
pub(crate) struct BenchAuditArgs {
    /// Share of the labels flipped to another class.
    #[arg(long, default_value_t = 0.1)]
    pub(crate) noise: f64,
    /// A labelled dataset folder (default: ../shared/data/pbc when present, else demo data).
    #[arg(long)]
    pub(crate) dataset: Option<PathBuf>,
    /// At most this many images per class (seeded), to bound the time.
    #[arg(long)]
    pub(crate) per_class: Option<usize>,
    /// Audit only these two groups (e.g. --positive lymphocyte --negative neutrophil).
    #[arg(long, value_delimiter = ',', requires = "negative")]
    pub(crate) positive: Vec<String>,
    #[arg(long, value_delimiter = ',', requires = "positive")]
    pub(crate) negative: Vec<String>,
    #[arg(long, default_value_t = DEFAULT_AUDIT_FOLDS)]
    pub(crate) folds: usize,
    #[arg(long, default_value_t = 25)]
    pub(crate) n_val: usize,
    #[arg(long)]
    pub(crate) epochs: Option<usize>,
    #[arg(long)]
    pub(crate) patience: Option<usize>,
    #[arg(long)]
    pub(crate) input_size: Option<u32>,
    /// Out-of-fold probabilities of the plain images only, without the mean over the eight
    /// flip and quarter-turn views.
    #[arg(long)]
    pub(crate) no_test_views: bool,
    #[arg(long, default_value_t = 0)]
    pub(crate) workers: usize,
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    pub(crate) backend: BackendChoice,
    /// A `source,class` CSV mapping the dataset's class names, as `leukolens import --map` takes
    /// (e.g. PBC's subclasses back onto its eight folder classes).
    #[arg(long)]
    pub(crate) map: Option<PathBuf>,
    /// Which images are flagged (as `leukolens suspects --flag-by`).
    #[arg(long, value_enum, default_value_t = super::suspects::FilterArg::NoiseRate)]
    pub(crate) flag_by: super::suspects::FilterArg,
    /// Write one row per image (given label, flipped, flagged, out-of-fold probabilities).
    #[arg(long)]
    pub(crate) csv: Option<PathBuf>,
    /// Keep the scratch project in this folder (default: a temporary folder).
    #[arg(long)]
    pub(crate) keep: Option<PathBuf>,
}

/// Runs the benchmark and prints its figures.
pub(crate) fn run(args: BenchAuditArgs) -> Result<()> {
    let scratch = tempfile_dir(args.keep.as_deref())?;
    let path = scratch.join("bench-audit.ron");
    let mut ws = scratch_project(&args, &path)?;
    if let Some(n) = args.per_class {
        subsample(&mut ws.project, n, args.seed);
        ws.mark_dirty();
        ws.save()?;
    }
    let task = group_task(&ws.project.taxonomy, &args)?;
    let mut train = configured(
        Preset::Quick,
        Overrides {
            input_size: args.input_size,
            epochs: args.epochs,
            patience: args.patience,
            ..Default::default()
        },
    )?;
    train.test_views = !args.no_test_views;
    let bench = NoiseBench {
        name: "bench-audit".into(),
        task,
        fraction: args.noise,
        seed: args.seed,
        train: train.clone(),
        k_folds: args.folds,
        n_val: args.n_val,
        options: RunOptions {
            workers: args.workers,
            ..RunOptions::default()
        },
        filter: args.flag_by.filter(),
    };
    let mut backend = backend::resolve(args.backend).map_err(anyhow::Error::msg)?;
    println!("device: {}", backend.description);
    println!(
        "{} images, {} % of labels flipped (seed {}), {} folds, {} px, ≤ {} epochs, patience {}",
        ws.project.images.len(),
        args.noise * 100.0,
        args.seed,
        args.folds,
        train.input_size,
        train.max_epochs,
        train.patience
    );
    let runs_bar = bar(0, "folds");
    let report = run_noise_bench(&mut ws, &bench, &mut backend, &mut |ev| show(&runs_bar, ev))
        .map_err(anyhow::Error::msg)?;
    runs_bar.finish_and_clear();
    let f = &report.figures;
    println!(
        "images {} · flipped {} · flagged {} · flipped among flagged {}",
        f.images, f.flipped, f.flagged, f.hits
    );
    println!("precision {:.3} · recall {:.3}", f.precision, f.recall);
    if let Some(p) = f.best_precision_at_target_recall {
        println!(
            "best precision of any cutoff of the ranking at recall ≥ {}: {p:.3}",
            crate::quality::noise::TARGET_RECALL
        );
    }
    if let Some(a) = f.clean_accuracy {
        println!("out-of-fold accuracy on the labels not flipped {a:.3}");
    }
    match f.auc {
        Some(a) => println!("ranking ROC-AUC (self-confidence) {a:.3}"),
        None => println!("ranking ROC-AUC: undefined (no or every label flipped)"),
    }
    println!(
        "estimated number of issues {} · true {}",
        f.estimated_issues, f.flipped
    );
    println!("audit wall time {:.1} s", report.seconds);
    if let Some(out) = &args.csv {
        let file = std::fs::File::create(out)
            .with_context(|| format!("cannot create {}", out.display()))?;
        write_rows_csv(&report, file).map_err(anyhow::Error::msg)?;
        println!("rows written to {}", out.display());
    }
    if args.keep.is_none() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    Ok(())
}

/// The folder of the scratch project: the one asked for, or a new temporary one.
fn tempfile_dir(keep: Option<&Path>) -> Result<PathBuf> {
    let dir = match keep {
        Some(k) => k.to_path_buf(),
        None => std::env::temp_dir().join(format!("leukolens-bench-audit-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// A new project of the dataset (or of demo data) at `path`.
fn scratch_project(args: &BenchAuditArgs, path: &Path) -> Result<Workspace> {
    let source = args.dataset.clone().or_else(|| {
        let shared = PathBuf::from(SHARED_PBC);
        shared.is_dir().then_some(shared)
    });
    let Some(source) = source else {
        println!("dataset: generated demo data (60 per class, 96 px)");
        let dir = path.parent().unwrap_or(Path::new("."));
        let demo = crate::demo::create_demo_project(&dir.join("demo"), 60, 96, args.seed)
            .map_err(anyhow::Error::msg)?;
        return Ok(Workspace::open(&demo)?);
    };
    println!("dataset: {}", source.display());
    let pb = bar(0, "importing");
    let overrides = match &args.map {
        Some(m) => dataset::read_mapping_csv(m)?,
        None => dataset::MappingOverrides::new(),
    };
    let outcome = dataset::import_with(
        &source,
        None,
        Taxonomy::default_allidb(),
        &overrides,
        &follow(&pb),
    )?;
    pb.finish_and_clear();
    let project = Project::from_import("bench-audit", path, &outcome, args.seed);
    Ok(Workspace::create(path, project)?)
}

/// The groups task of --positive/--negative, if given.
fn group_task(tax: &Taxonomy, args: &BenchAuditArgs) -> Result<Option<Task>> {
    if args.positive.is_empty() {
        return Ok(None);
    }
    let find = |names: &[String]| -> Result<Vec<_>> {
        names
            .iter()
            .map(|n| {
                tax.find(n)
                    .with_context(|| format!("no class \"{n}\" in the dataset"))
            })
            .collect()
    };
    Ok(Some(Task::Groups {
        positive: find(&args.positive)?,
        negative: find(&args.negative)?,
    }))
}
