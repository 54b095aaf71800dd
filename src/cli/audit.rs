//! `leukolens audit`: out-of-fold probabilities for every image (an audit is a sweep with one
//! training size, every training image of the fold; `quality::audit`), started through
//! `sweep::start` and run like a sweep, resumable and shardable.

use std::path::PathBuf;

use anyhow::Result;

use super::args::{
    Overrides, Preset, RunFlags, TaskArg, TaskArgs, at_least_one, configured, task_from_args,
};
use super::progress::bar;
use super::sweep::show;
use crate::backend;
use crate::project::{Project, Workspace};
use crate::quality::audit::{AuditRequest, DEFAULT_AUDIT_FOLDS, audit_config};
use crate::sweep::SweepConfig;
use crate::sweep::run;

#[derive(clap::Args)]
pub(crate) struct AuditArgs {
    /// The project file.
    pub(crate) project: PathBuf,
    /// The audit's name (a saved audit of that name is resumed).
    #[arg(long, default_value = "audit")]
    pub(crate) name: String,
    /// What to learn (default, and `multiclass` without `--classes`: one output per class that
    /// has images).
    #[arg(long, value_enum)]
    pub(crate) task: Option<TaskArg>,
    /// Multiclass: the classes, by name or code, comma-separated (default: every class that
    /// has images).
    #[arg(long, value_delimiter = ',')]
    pub(crate) classes: Vec<String>,
    /// Groups: the positive classes.
    #[arg(long, value_delimiter = ',')]
    pub(crate) positive: Vec<String>,
    /// Groups: the negative classes.
    #[arg(long, value_delimiter = ',')]
    pub(crate) negative: Vec<String>,
    #[arg(long, value_enum, default_value_t = Preset::Quick)]
    pub(crate) preset: Preset,
    /// Number of folds: every image is tested once, by the network of the fold that did not
    /// train on it.
    #[arg(long, default_value_t = DEFAULT_AUDIT_FOLDS)]
    pub(crate) folds: usize,
    /// Validation images per fold (early stopping needs at least 1).
    #[arg(long, default_value_t = crate::quality::audit::DEFAULT_AUDIT_VAL, value_parser = at_least_one)]
    pub(crate) n_val: usize,
    #[arg(long)]
    pub(crate) epochs: Option<usize>,
    #[arg(long)]
    pub(crate) patience: Option<usize>,
    #[arg(long)]
    pub(crate) input_size: Option<u32>,
    /// Seed of the folds and the networks (default: derived from the project's seed). Another
    /// seed is the remedy when a fold's network collapsed.
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Test each image as it is only, not as the mean over its eight flips and quarter turns
    /// (eight times fewer test passes, a worse ranking; training is the same).
    #[arg(long)]
    pub(crate) no_test_views: bool,
    #[command(flatten)]
    pub(crate) run: RunFlags,
}

/// Starts or resumes the audit and runs it; then says how to see the suspects.
pub(crate) fn run(args: AuditArgs) -> Result<()> {
    let mut ws = Workspace::open(&args.project)?;
    let options = args.run.options()?;
    let started = crate::sweep::start(&mut ws, &args.name, |project| {
        new_config(project, &args).map_err(|e| format!("{e:#}"))
    })
    .map_err(anyhow::Error::msg)?;
    if started.resumed {
        println!("resuming the saved audit \"{}\"", started.config.name);
    }
    let mut backend = backend::resolve(args.run.backend).map_err(anyhow::Error::msg)?;
    println!("device: {}", backend.description);
    let runs_bar = bar(0, "folds");
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let records = run::run_sweep(
        &ws.project,
        &args.project,
        &started.config,
        &mut backend,
        &options,
        &cancel,
        &mut |ev| show(&runs_bar, ev),
    )
    .map_err(anyhow::Error::msg)?;
    runs_bar.finish_and_clear();
    let failed = records.iter().filter(|r| r.failed()).count();
    println!(
        "{} of {} folds finished{}",
        records.len() - failed,
        started.config.design.k_folds,
        if failed > 0 {
            format!(", {failed} failed")
        } else {
            String::new()
        }
    );
    println!(
        "suspects: leukolens suspects {} --audit \"{}\"",
        args.project.display(),
        started.config.name
    );
    Ok(())
}

/// The audit's configuration from the arguments.
fn new_config(project: &Project, args: &AuditArgs) -> Result<SweepConfig> {
    let task = match args.task {
        None => None,
        Some(TaskArg::Multiclass) if args.classes.is_empty() => None,
        Some(task) => Some(task_from_args(
            &project.taxonomy,
            &TaskArgs {
                task: Some(task),
                classes: args.classes.clone(),
                positive: args.positive.clone(),
                negative: args.negative.clone(),
            },
        )?),
    };
    let mut train = configured(
        args.preset,
        Overrides {
            input_size: args.input_size,
            epochs: args.epochs,
            patience: args.patience,
            ..Default::default()
        },
    )?;
    train.test_views = !args.no_test_views;
    let request = AuditRequest {
        name: args.name.clone(),
        task,
        train,
        k_folds: args.folds,
        n_val: args.n_val,
        seed: args
            .seed
            .unwrap_or_else(|| crate::quality::audit::audit_seed(project)),
    };
    audit_config(project, &request).map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parsed(args: &[&str]) -> AuditArgs {
        let cli = Cli::try_parse_from(["leukolens", "audit", "p.ron"].iter().chain(args)).unwrap();
        match cli.command {
            Some(Command::Audit(a)) => a,
            _ => panic!("not an audit"),
        }
    }

    /// A demo project (6 cells per class) and the folder that holds it.
    fn demo_project() -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        let path = crate::demo::create_demo_project(&dir.path().join("d"), 6, 32, 1).unwrap();
        let project = Project::load(&path).unwrap();
        (dir, project)
    }

    /// `--task multiclass` alone is the usual audit (every class with images), as no `--task`
    /// is; with `--classes` it audits those classes.
    #[test]
    fn multiclass_without_classes_means_every_class_with_images() {
        let (_dir, project) = demo_project();
        let plain = new_config(&project, &parsed(&[])).unwrap();
        let multi = new_config(&project, &parsed(&["--task", "multiclass"])).unwrap();
        assert_eq!(multi.task, plain.task);
        assert_eq!(multi.task.n_outputs(), 10, "{:?}", multi.task);
        let two = parsed(&["--task", "multiclass", "--classes", "Monocyte,Basophil"]);
        assert_eq!(new_config(&project, &two).unwrap().task.n_outputs(), 2);
    }

    /// Audits average each image's eight views unless told not to; sweeps and `train` keep the
    /// paper's plain test.
    #[test]
    fn audits_test_the_eight_views_unless_told_not_to() {
        let (_dir, project) = demo_project();
        assert!(new_config(&project, &parsed(&[])).unwrap().train.test_views);
        let plain = new_config(&project, &parsed(&["--no-test-views"])).unwrap();
        assert!(!plain.train.test_views);
        assert!(!crate::train::TrainPreset::Quick.config().test_views);
    }

    /// `--seed` replaces the project's audit seed (the remedy for a collapsed fold).
    #[test]
    fn the_seed_is_the_projects_unless_given() {
        let (_dir, project) = demo_project();
        let plain = new_config(&project, &parsed(&[])).unwrap();
        assert_eq!(
            plain.design.seed,
            crate::quality::audit::audit_seed(&project)
        );
        let seeded = new_config(&project, &parsed(&["--seed", "9"])).unwrap();
        assert_eq!(seeded.design.seed, 9);
    }
}
