//! `leukolens train`: one network on a project's current labels, tested on held-out images;
//! its model and test predictions are saved beside the project.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::args::{Overrides, Preset, TaskArgs, configured, task_from_args};
use super::progress::{bar, follow, run_job, say};
use crate::backend::{self, Backend, BackendChoice};
use crate::jobs::EventKind;
use crate::project::{Project, Workspace};
use crate::train::experiment::{self, PreparedData};
use crate::train::{self, ExperimentConfig, Split, TrainEvent, TrainOutcome};

#[derive(clap::Args)]
pub(crate) struct TrainArgs {
    /// The project file.
    pub(crate) project: PathBuf,
    /// Run a saved experiment of the project (other options are then ignored).
    #[arg(long)]
    pub(crate) experiment: Option<String>,
    #[command(flatten)]
    pub(crate) task: TaskArgs,
    #[arg(long, value_enum, default_value_t = Preset::Quick)]
    pub(crate) preset: Preset,
    /// Training images (balanced across classes).
    #[arg(long, default_value_t = 50)]
    pub(crate) n_train: usize,
    /// Validation images for early stopping.
    #[arg(long, default_value_t = 25)]
    pub(crate) n_val: usize,
    /// Test images (default: all the rest).
    #[arg(long)]
    pub(crate) n_test: Option<usize>,
    #[arg(long)]
    pub(crate) input_size: Option<u32>,
    #[arg(long)]
    pub(crate) epochs: Option<usize>,
    #[arg(long)]
    pub(crate) patience: Option<usize>,
    #[arg(long)]
    pub(crate) batch_size: Option<usize>,
    #[arg(long)]
    pub(crate) lr: Option<f64>,
    /// Switch augmentation off.
    #[arg(long)]
    pub(crate) no_augment: bool,
    /// Seed of this run (default: from the project's master seed).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub(crate) backend: BackendChoice,
    /// Save this configuration in the project under this name (an experiment of that name, or
    /// its model, is replaced only with --force).
    #[arg(long)]
    pub(crate) save_as: Option<String>,
    /// With --save-as: replace the saved experiment of that name and its model.
    #[arg(long)]
    pub(crate) force: bool,
}

/// Trains as `args` asks and prints the result.
pub(crate) fn run(args: TrainArgs) -> Result<()> {
    let mut ws = Workspace::open(&args.project)?;
    for n in &ws.open_notes {
        println!("note: {n}");
    }
    let exp = experiment_of(&mut ws, &args)?;
    let backend = backend::resolve(args.backend).map_err(anyhow::Error::msg)?;
    println!("device: {}", backend.description);
    for n in &backend.notes {
        println!("note: {n}");
    }
    let (data, split) = prepare(&ws.project, &args.project, &exp)?;
    let started = Instant::now();
    let (outcome, data) = train_in_background(&exp, data, split, backend)?;
    let s = &outcome.summary;
    println!(
        "{} after {} epochs (best validation epoch {}) in {:.1} s",
        s.status,
        s.history.len(),
        s.best_epoch,
        started.elapsed().as_secs_f64()
    );
    if let Some(auc) = s.test_auc {
        println!("test ROC-AUC: {auc:.3} on {} images", s.test.len());
    }
    if let Some(acc) = s.test_accuracy {
        println!("test accuracy: {acc:.3}");
    }
    if data.n_classes != 2
        && let Some(f1) = s.test_weighted_f1
    {
        println!("test weighted F1: {f1:.3}");
    }
    save_results(&args, &ws.project, &exp, &outcome, &data)?;
    if let train::RunStatus::Failed(m) = &s.status {
        bail!("training failed: {m}");
    }
    Ok(())
}

/// The experiment to train: the saved one `--experiment` names, else one from the arguments
/// (saved in the project with `--save-as`).
fn experiment_of(ws: &mut Workspace, args: &TrainArgs) -> Result<ExperimentConfig> {
    let exp = if let Some(name) = &args.experiment {
        ws.project
            .experiments
            .iter()
            .find(|e| &e.name == name)
            .cloned()
            .with_context(|| format!("the project has no experiment \"{name}\""))?
    } else {
        let task = task_from_args(&ws.project.taxonomy, &args.task)?;
        let cfg = configured(
            args.preset,
            Overrides {
                input_size: args.input_size,
                epochs: args.epochs,
                patience: args.patience,
                batch_size: args.batch_size,
                lr: args.lr,
                no_augment: args.no_augment,
            },
        )?;
        ExperimentConfig {
            name: args.save_as.clone().unwrap_or_else(|| "cli".into()),
            task,
            train: cfg,
            n_train: args.n_train,
            n_val: args.n_val,
            n_test: args.n_test,
            seed: args
                .seed
                .unwrap_or_else(|| train::derive_seed(ws.project.seed, 100)),
        }
    };
    if args.save_as.is_some() {
        if !args.force {
            refuse_replacing(ws, &args.project, &exp.name)?;
        }
        ws.project.experiments.retain(|e| e.name != exp.name);
        ws.project.experiments.push(exp.clone());
        ws.save()?;
        println!(
            "saved experiment \"{}\" in {}",
            exp.name,
            args.project.display()
        );
    }
    Ok(exp)
}

/// Refuses `--save-as NAME` when the project already has an experiment NAME or its model.
fn refuse_replacing(ws: &Workspace, project: &Path, name: &str) -> Result<()> {
    let model =
        experiment::models_dir(project).join(format!("{}.bpk", experiment::safe_name(name)));
    let has_experiment = ws.project.experiments.iter().any(|e| e.name == name);
    if has_experiment || model.exists() {
        bail!(
            "the project already has {} \"{name}\"{}; give --force to replace {}, or choose \
             another name",
            if has_experiment {
                "an experiment"
            } else {
                "a model of an experiment"
            },
            if model.exists() {
                format!(" ({})", model.display())
            } else {
                String::new()
            },
            if has_experiment && model.exists() {
                "them"
            } else {
                "it"
            }
        );
    }
    Ok(())
}

/// Decodes the experiment's images and splits them; says what was skipped and what will run.
fn prepare(
    project: &Project,
    project_path: &Path,
    exp: &ExperimentConfig,
) -> Result<(PreparedData, Split)> {
    let pb = bar(0, "decoding");
    let data = experiment::prepare(project, project_path, exp, &follow(&pb))
        .map_err(anyhow::Error::msg)?;
    pb.finish_and_clear();
    for (id, why) in data.unreadable.iter().take(10) {
        println!("skipped image {}: {why}", id.0);
    }
    if data.unreadable.len() > 10 {
        println!(
            "… {} more images skipped; if the dataset moved, run `leukolens relink`",
            data.unreadable.len() - 10
        );
    }
    let unlabelled = project.unlabelled_count();
    if unlabelled > 0 {
        println!(
            "note: {}",
            crate::sweep::start::unlabelled_notice(unlabelled)
        );
    }
    if data.upscaled > 0 {
        println!(
            "warning: {} images are smaller than the network input ({} px) and are upscaled",
            data.upscaled, exp.train.input_size
        );
    }
    let split = experiment::split_for(exp, &data);
    if split.train.len() < exp.n_train {
        println!(
            "note: {} training images asked, {} used: the task has {} images in all",
            exp.n_train,
            split.train.len(),
            data.targets.len()
        );
    }
    if split.val.is_empty() {
        bail!(
            "no image is left for validation (the task has {} images, {} of them for training); \
             ask for fewer training images (--n-train)",
            data.targets.len(),
            split.train.len()
        );
    }
    println!(
        "task: {} | train {} · validation {} · test {} | {} px, {:?} lr {}, batch {}, ≤ {} epochs, patience {}",
        data.output_names.join(" vs "),
        split.train.len(),
        split.val.len(),
        split.test.len(),
        exp.train.input_size,
        exp.train.optimizer,
        exp.train.learning_rate,
        exp.train.batch_size,
        exp.train.max_epochs,
        exp.train.patience
    );
    Ok((data, split))
}

/// Trains on a named background thread; this thread shows its epochs.
fn train_in_background(
    exp: &ExperimentConfig,
    data: PreparedData,
    split: Split,
    mut backend: Backend,
) -> Result<(TrainOutcome, PreparedData)> {
    let epochs = bar(exp.train.max_epochs, "epochs");
    let binary = data.n_classes == 2;
    let job_exp = exp.clone();
    let result = run_job(
        "train",
        move |ctx| {
            let cancel = ctx.cancel_flag();
            let outcome = backend::run_guarded(&mut backend, |device| {
                experiment::run(&job_exp, &data, &split, device, &cancel, &mut |ev| {
                    ctx.send(EventKind::Train(ev))
                })
            })?;
            Ok((outcome, data))
        },
        |kind| {
            if let EventKind::Train(TrainEvent::Epoch(e)) = kind {
                epochs.set_position(e.epoch as u64);
                let metric = e
                    .val_metric
                    .map(|m| format!("{m:.3}"))
                    .unwrap_or_else(|| "-".into());
                say(
                    &epochs,
                    format!(
                        "epoch {:>3}  train loss {:.4}  val loss {:.4}  val {} {}  best epoch {}",
                        e.epoch,
                        e.train_loss,
                        e.val_loss,
                        if binary { "AUC" } else { "acc" },
                        metric,
                        e.best_epoch
                    ),
                );
            }
        },
    )?;
    epochs.finish_and_clear();
    Ok(result)
}

/// Saves the best model and its test predictions beside the project, and says where.
fn save_results(
    args: &TrainArgs,
    project: &Project,
    exp: &ExperimentConfig,
    outcome: &TrainOutcome,
    data: &PreparedData,
) -> Result<()> {
    let Some(model) = &outcome.model else {
        return Ok(());
    };
    let dir = experiment::models_dir(&args.project);
    let path = dir.join(format!("{}.bpk", experiment::safe_name(&exp.name)));
    model.save(&path).map_err(anyhow::Error::msg)?;
    let csv = dir.join(format!(
        "{}.predictions.csv",
        experiment::safe_name(&exp.name)
    ));
    write_predictions(&csv, project, data, &outcome.summary)?;
    println!("model: {}\npredictions: {}", path.display(), csv.display());
    if args.save_as.is_none() && args.experiment.is_none() {
        println!(
            "note: its settings were not saved in the project, so `leukolens explain` cannot \
             use this model; train with --save-as NAME to keep them"
        );
    }
    Ok(())
}

/// The test predictions as CSV: image, path, target, predicted and each output's probability.
fn write_predictions(
    path: &Path,
    project: &Project,
    data: &PreparedData,
    s: &train::TrainSummary,
) -> Result<()> {
    let mut out = String::from("image_id,path,target,predicted");
    for n in &data.output_names {
        out.push_str(&format!(",p_{}", n.replace([',', '"'], " ")));
    }
    out.push('\n');
    for p in &s.test {
        let id = data.images[p.index];
        let path = project.image(id).map(|im| im.path.as_str()).unwrap_or("");
        out.push_str(&format!(
            "{},\"{}\",{},{}",
            id.0,
            path.replace('"', "\"\""),
            p.target,
            p.predicted()
        ));
        for v in &p.probs {
            out.push_str(&format!(",{v:.6}"));
        }
        out.push('\n');
    }
    crate::project::store::atomic_write(path, out.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}
