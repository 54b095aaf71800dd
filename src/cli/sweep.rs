//! `leukolens sweep`: start (or resume) a training-size sweep through `sweep::start`, then run
//! it here with a progress bar and print the score per training size.

use std::path::PathBuf;

use anyhow::{Result, bail};
use indicatif::ProgressBar;

use super::args::{
    Overrides, Preset, RunFlags, TaskArgs, at_least_one, configured, task_from_args,
};
use super::progress::{bar, say};
use crate::backend;
use crate::project::{Project, Workspace};
use crate::sweep::run::{self, SweepEvent};
use crate::sweep::{RunRecord, SweepConfig, SweepDesign, ValSize};
use crate::train;

#[derive(clap::Args)]
pub(crate) struct SweepArgs {
    /// The project file.
    pub(crate) project: PathBuf,
    /// The sweep's name: a saved sweep of the project is resumed; a new one is saved in it.
    #[arg(long, visible_alias = "experiment")]
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) task: TaskArgs,
    /// Training settings to start from [default: quick].
    #[arg(long, value_enum)]
    pub(crate) preset: Option<Preset>,
    /// Number of folds [default: 10].
    #[arg(long)]
    pub(crate) folds: Option<usize>,
    /// Validation images per fold (early stopping needs at least 1) [default: 25].
    #[arg(long, value_parser = at_least_one)]
    pub(crate) n_val: Option<usize>,
    /// Training sizes (default 10, 20, …, 200).
    #[arg(long, value_delimiter = ',')]
    pub(crate) sizes: Vec<usize>,
    #[arg(long)]
    pub(crate) epochs: Option<usize>,
    #[arg(long)]
    pub(crate) patience: Option<usize>,
    #[arg(long)]
    pub(crate) input_size: Option<u32>,
    #[command(flatten)]
    pub(crate) run: RunFlags,
}

/// Starts or resumes the sweep, runs it and prints the summary. Everything that can be checked
/// is checked before the first write (the options, the flags of a resumed sweep, the device,
/// then `sweep::start`'s checks).
pub(crate) fn run(args: SweepArgs) -> Result<()> {
    let mut ws = Workspace::open(&args.project)?;
    let options = args.run.options()?;
    if let Some(saved) = ws.project.sweeps.iter().find(|s| s.name == args.name) {
        let differences = saved.differences(&resumed_config(&ws.project, saved, &args)?);
        if !differences.is_empty() {
            bail!(
                "the saved sweep \"{}\" has other settings than the flags given:\n  {}\nA saved \
                 sweep resumes with its own settings: leave those flags out to resume it, or give \
                 the new sweep another --name",
                args.name,
                differences.join("\n  ")
            );
        }
    }
    let mut backend = backend::resolve(args.run.backend).map_err(anyhow::Error::msg)?;
    let started = crate::sweep::start(&mut ws, &args.name, |project| {
        // One message each (no causes), so `{:#}` is the text `error_text` would give.
        new_config(project, &args).map_err(|e| format!("{e:#}"))
    })
    .map_err(anyhow::Error::msg)?;
    // The lock is needed only to register the sweep: runs go to the sweep's own folder, so the
    // project can be opened for labelling while the sweep runs.
    let project = ws.into_project();
    if started.resumed {
        println!("resuming the saved sweep \"{}\"", started.config.name);
    }
    println!("device: {}", backend.description);
    for n in &backend.notes {
        println!("note: {n}");
    }
    let runs_bar = bar(0, "runs");
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let records = run::run_sweep(
        &project,
        &args.project,
        &started.config,
        &mut backend,
        &options,
        &cancel,
        &mut |ev| show(&runs_bar, ev),
    )
    .map_err(anyhow::Error::msg)?;
    runs_bar.finish_and_clear();
    print_summary(&records)
}

/// The saved sweep `saved` with the flags that were given applied (those not given keep
/// their saved values), for comparing with it.
fn resumed_config(project: &Project, saved: &SweepConfig, args: &SweepArgs) -> Result<SweepConfig> {
    let mut c = saved.clone();
    if args.task.given() {
        c.task = task_from_args(&project.taxonomy, &args.task)?;
    }
    let overrides = Overrides {
        input_size: args.input_size,
        epochs: args.epochs,
        patience: args.patience,
        ..Default::default()
    };
    match args.preset {
        Some(p) => c.train = configured(p, overrides)?,
        None => {
            c.train.input_size = args.input_size.unwrap_or(c.train.input_size);
            c.train.max_epochs = args.epochs.unwrap_or(c.train.max_epochs);
            c.train.patience = args.patience.unwrap_or(c.train.patience);
        }
    }
    c.design.k_folds = args.folds.unwrap_or(c.design.k_folds);
    if let Some(n) = args.n_val {
        c.design.val = ValSize::Count(n);
    }
    if !args.sizes.is_empty() {
        c.design.sizes = args.sizes.clone();
    }
    Ok(c)
}

/// The configuration of a new sweep from the arguments.
fn new_config(project: &Project, args: &SweepArgs) -> Result<SweepConfig> {
    let task = task_from_args(&project.taxonomy, &args.task)?;
    let train = configured(
        args.preset.unwrap_or(Preset::Quick),
        Overrides {
            input_size: args.input_size,
            epochs: args.epochs,
            patience: args.patience,
            ..Default::default()
        },
    )?;
    let mut design = SweepDesign {
        k_folds: args.folds.unwrap_or(10),
        val: ValSize::Count(args.n_val.unwrap_or(25)),
        seed: train::derive_seed(project.seed, 200),
        ..Default::default()
    };
    if !args.sizes.is_empty() {
        design.sizes = args.sizes.clone();
    }
    Ok(SweepConfig {
        name: args.name.clone(),
        task,
        train,
        design,
    })
}

/// Shows one event of the running sweep on the bar (and above it); also used by `audit`.
pub(super) fn show(runs_bar: &ProgressBar, ev: SweepEvent) {
    match ev {
        SweepEvent::Planned {
            total,
            already_done,
            notices,
        } => {
            for n in notices {
                say(runs_bar, format!("note: {n}"));
            }
            runs_bar.set_length(total as u64);
            runs_bar.set_position(already_done as u64);
            if already_done > 0 {
                say(
                    runs_bar,
                    format!("{already_done} of {total} runs already done; resuming"),
                );
            }
        }
        SweepEvent::RunStarted { index, key, .. } => {
            runs_bar.set_message(format!("fold {} size {}", key.fold + 1, key.size));
            runs_bar.set_position(index as u64 - 1);
        }
        SweepEvent::RunFinished(r) => {
            runs_bar.inc(1);
            say(runs_bar, finished_line(&r));
        }
        SweepEvent::Notice(n) => say(runs_bar, format!("note: {n}")),
        SweepEvent::Train(..) => {}
    }
}

/// The line printed for a finished run.
fn finished_line(r: &RunRecord) -> String {
    let score = r
        .test_auc
        .map(|a| format!("AUC {a:.3}"))
        .or(r.test_weighted_f1.map(|f| format!("weighted F1 {f:.3}")))
        .unwrap_or_default();
    let flag = if r.collapsed {
        "COLLAPSED".to_string()
    } else if r.failed() {
        r.status.to_string()
    } else {
        String::new()
    };
    format!(
        "fold {:>2} size {:>4}: {} ({} epochs, best {}) {:.0} s {}",
        r.key.fold + 1,
        r.key.size,
        score,
        r.epochs,
        r.best_epoch,
        r.seconds,
        flag
    )
}

/// The failed runs, if any, and the score (AUC or weighted F1) per training size over the folds.
fn print_summary(records: &[RunRecord]) -> Result<()> {
    let failed: Vec<&RunRecord> = records.iter().filter(|r| r.failed()).collect();
    if let Some(first) = failed.first() {
        println!(
            "{} of {} runs failed; the first (fold {}, size {}): {}",
            failed.len(),
            records.len(),
            first.key.fold + 1,
            first.key.size,
            first.status
        );
        if failed.len() == records.len() {
            bail!("every run of the sweep failed");
        }
    }
    let mut sizes: Vec<usize> = records.iter().map(|r| r.key.size).collect();
    sizes.sort();
    sizes.dedup();
    println!("{} runs finished", records.len());
    for s in sizes {
        let vals: Vec<f64> = records
            .iter()
            .filter(|r| r.key.size == s)
            .filter_map(|r| r.test_auc.or(r.test_weighted_f1))
            .collect();
        if let Some(m) = crate::metrics::mean_sd(&vals) {
            match m.n {
                1 => println!("size {s:>4}: {m}, one fold"),
                n => println!("size {s:>4}: {m} over {n} folds"),
            }
        }
    }
    Ok(())
}
