//! Argument types and parsers shared by several subcommands: the dataset layout, the task,
//! the training presets with their overrides, the shard, and the checks of benchmark numbers.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;

use crate::backend::BackendChoice;
use crate::dataset::Layout;
use crate::sweep::run::RunOptions;
use crate::taxonomy::{ClassId, Taxonomy};
use crate::train::{Task, TrainConfig, TrainPreset};

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum LayoutArg {
    Auto,
    Imagefolder,
    Allidb,
    AmlLmu,
    Pbc,
    Csv,
}

impl LayoutArg {
    /// The layout, or `None` for `auto` (detected from the folder).
    pub(crate) fn layout(self) -> Option<Layout> {
        match self {
            LayoutArg::Auto => None,
            LayoutArg::Imagefolder => Some(Layout::ImageFolder),
            LayoutArg::Allidb => Some(Layout::AllIdb),
            LayoutArg::AmlLmu => Some(Layout::AmlLmu),
            LayoutArg::Pbc => Some(Layout::Pbc),
            LayoutArg::Csv => Some(Layout::Csv),
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum TaskArg {
    /// Positive classes (blasts) vs the rest.
    Binary,
    /// One output per class given with --classes.
    Multiclass,
    /// --positive classes vs --negative classes.
    Groups,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Preset {
    /// 193 px, RMSprop 1e-3, batch 5, ≤ 40 epochs, patience 10: minutes on 2 CPU cores.
    Quick,
    /// The paper's binary protocol: 257 px, RMSprop 1e-3, batch 5, ≤ 500 epochs, patience 50.
    PaperBinary,
    /// The paper's multiclass protocol: Adam 1e-4, 150 per class by augmentation.
    PaperMulticlass,
}

/// What the network learns (shared by `train` and `sweep`).
#[derive(clap::Args)]
pub(crate) struct TaskArgs {
    /// What the network learns [default: binary].
    #[arg(long, value_enum)]
    pub(crate) task: Option<TaskArg>,
    /// Multiclass: the classes, by name or code, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub(crate) classes: Vec<String>,
    /// Groups: the positive classes.
    #[arg(long, value_delimiter = ',')]
    pub(crate) positive: Vec<String>,
    /// Groups: the negative classes.
    #[arg(long, value_delimiter = ',')]
    pub(crate) negative: Vec<String>,
}

impl TaskArgs {
    /// Whether any task flag was given (a resumed sweep compares only what was given).
    pub(crate) fn given(&self) -> bool {
        self.task.is_some()
            || !self.classes.is_empty()
            || !self.positive.is_empty()
            || !self.negative.is_empty()
    }
}

/// The classes named (by name or code), or an error that lists the project's classes.
fn classes_of(taxonomy: &Taxonomy, names: &[String]) -> Result<Vec<ClassId>> {
    names
        .iter()
        .map(|n| {
            taxonomy.find(n).with_context(|| {
                format!(
                    "no class \"{n}\"; the project has: {}",
                    taxonomy
                        .classes
                        .iter()
                        .map(|c| format!("{} ({})", c.name, c.code))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
        })
        .collect()
}

/// The task the arguments describe, checked against the taxonomy.
pub(crate) fn task_from_args(tax: &Taxonomy, a: &TaskArgs) -> Result<Task> {
    let (classes, positive, negative) = (&a.classes, &a.positive, &a.negative);
    let task = match a.task.unwrap_or(TaskArg::Binary) {
        TaskArg::Binary => {
            if !tax.classes.iter().any(|c| c.positive) {
                bail!("no class is marked positive (blast) in this project; use --task groups");
            }
            Task::Binary
        }
        TaskArg::Multiclass => {
            if classes.len() < 2 {
                bail!("--task multiclass needs at least two --classes");
            }
            Task::Multiclass {
                classes: classes_of(tax, classes)?,
            }
        }
        TaskArg::Groups => {
            if positive.is_empty() || negative.is_empty() {
                bail!("--task groups needs --positive and --negative classes");
            }
            Task::Groups {
                positive: classes_of(tax, positive)?,
                negative: classes_of(tax, negative)?,
            }
        }
    };
    task.check(tax).map_err(anyhow::Error::msg)?;
    Ok(task)
}

/// Command-line changes to a preset.
#[derive(Default)]
pub(crate) struct Overrides {
    pub(crate) input_size: Option<u32>,
    pub(crate) epochs: Option<usize>,
    pub(crate) patience: Option<usize>,
    pub(crate) batch_size: Option<usize>,
    pub(crate) lr: Option<f64>,
    pub(crate) no_augment: bool,
}

/// A preset with the user's changes, checked.
pub(crate) fn configured(p: Preset, o: Overrides) -> Result<TrainConfig> {
    let mut cfg = match p {
        Preset::Quick => TrainPreset::Quick,
        Preset::PaperBinary => TrainPreset::PaperBinary,
        Preset::PaperMulticlass => TrainPreset::PaperMulticlass,
    }
    .config();
    cfg.input_size = o.input_size.unwrap_or(cfg.input_size);
    cfg.max_epochs = o.epochs.unwrap_or(cfg.max_epochs);
    cfg.patience = o.patience.unwrap_or(cfg.patience);
    cfg.batch_size = o.batch_size.unwrap_or(cfg.batch_size);
    cfg.learning_rate = o.lr.unwrap_or(cfg.learning_rate);
    cfg.augment &= !o.no_augment;
    cfg.validate().map_err(anyhow::Error::msg)?;
    Ok(cfg)
}

/// `--shard i/n`: the shard's number and the number of shards, as written (checked later).
pub(crate) fn parse_shard(s: &str) -> Result<(usize, usize)> {
    s.split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)))
        .with_context(|| format!("--shard {s}: expected i/n, e.g. 3/10"))
}

/// A count that must be at least 1 (batch, repetitions, images, epochs, stack sizes).
pub(crate) fn at_least_one(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Seconds to measure a benchmark figure: a finite number from 0.1 to 3600.
pub(crate) fn seconds_arg(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && (0.1..=3600.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be from 0.1 to 3600 seconds ({s} given)"))
    }
}

/// A benchmark's input side: the paper network takes 190 px and more; above 1024 px one batch
/// would need gigabytes.
pub(crate) fn bench_side(s: &str) -> Result<u32, String> {
    let v: u32 = s.trim().parse().map_err(|e| format!("{e}"))?;
    if (190..=1024).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be from 190 to 1024 px ({v} given)"))
    }
}

/// How a sweep or an audit runs: shards, output folder, stacking, CPU workers and device (the
/// same flags for `sweep` and `audit`).
#[derive(clap::Args)]
pub(crate) struct RunFlags {
    /// Run only shard i of n (1-based), e.g. 3/10, for a SLURM job array; then `leukolens
    /// merge --name NAME`.
    #[arg(long)]
    pub(crate) shard: Option<String>,
    /// Write results to this folder instead of the project's (for shards; then `merge`).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Train this many runs together as one stacked network (0 = automatic: as many as fit on
    /// a GPU, one at a time on the CPU). Results equal one-at-a-time training.
    #[arg(long, default_value_t = 0)]
    pub(crate) stack: usize,
    /// On the CPU, train this many runs at the same time, each on its own thread (0 = automatic:
    /// half the cores on machines with 4 or more, else 1). Results equal one-at-a-time training.
    #[arg(long, default_value_t = 0)]
    pub(crate) workers: usize,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub(crate) backend: BackendChoice,
}

impl RunFlags {
    /// The run options the flags give, checked (a shard that parses, an `--out` that is no file).
    pub(crate) fn options(&self) -> Result<RunOptions> {
        let options = RunOptions {
            stack: self.stack,
            workers: self.workers,
            shard: self.shard.as_deref().map(parse_shard).transpose()?,
            out: self.out.clone(),
            fold: None,
        };
        options.check().map_err(anyhow::Error::msg)?;
        Ok(options)
    }
}
