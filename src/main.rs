//! The `leukolens` command line.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use leukolens::backend::{self, BackendChoice};
use leukolens::dataset::{self, Layout};
use leukolens::jobs::{EventKind, Jobs};
use leukolens::project::{Project, Workspace};
use leukolens::taxonomy::{ClassId, Taxonomy};
use leukolens::train::{self, ExperimentConfig, Task, TrainConfig, TrainEvent, experiment};
use leukolens::{bench, demo};

#[derive(Parser)]
#[command(
    name = "leukolens",
    version,
    about = "Re-annotate single white blood cells and train the tiny CNN of Schouten et al. (2021) on them",
    long_about = "leukolens turns the study \"Tens of images can suffice to train neural networks for \
malignant leukocyte detection\" (Schouten et al., Sci Rep 11:7995, 2021) into a tool: import single-cell \
images, re-annotate them, and train the paper's 7,210-parameter CNN on as few as ten images.\n\n\
Start with `leukolens demo --train`: it generates a synthetic demo data set (no download) and trains a \
network on it."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Open the desktop application (the default): the given project, else the last one, else
    /// the bundled demo project (generated on first start).
    Gui {
        project: Option<PathBuf>,
        /// Render every screen to PNG files in this folder and quit (needs a display).
        #[arg(long)]
        screenshots: Option<PathBuf>,
        /// Annotate as this person (written into every journal line; otherwise asked once).
        #[arg(long)]
        annotator: Option<String>,
    },
    /// Import a folder of single-cell images into a new project file.
    Import {
        /// The dataset folder (or, for the csv layout, the CSV file).
        source: PathBuf,
        /// How the dataset is organised.
        #[arg(long, default_value = "auto")]
        layout: LayoutArg,
        /// The project file to write, e.g. projects/pbc.ron.
        #[arg(short, long)]
        output: PathBuf,
        /// Project name (default: the file name).
        #[arg(long)]
        name: Option<String>,
        /// Master seed for splits, initialisation and augmentation.
        #[arg(long, default_value_t = 2021)]
        seed: u64,
    },
    /// Generate the synthetic demo data set and its project (deterministic, no download).
    Demo {
        /// Folder for the demo project.
        #[arg(short, long, default_value = "projects/demo")]
        output: PathBuf,
        /// Images per class (ten classes).
        #[arg(long, default_value_t = 60)]
        per_class: usize,
        /// Image side in pixels.
        #[arg(long, default_value_t = 257)]
        size: u32,
        #[arg(long, default_value_t = 2021)]
        seed: u64,
        /// Regenerate even if the demo project exists.
        #[arg(long)]
        force: bool,
        /// Then train a quick lymphoblast-vs-rest network on it and show the result.
        #[arg(long)]
        train: bool,
        #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
        backend: BackendChoice,
    },
    /// Train one network on a project's current labels and test it on held-out images.
    Train(TrainArgs),
    /// Run (or resume) a training-size sweep: k-fold cross-validation over nested training sets.
    Sweep(SweepArgs),
    /// Merge the results of sweep shards (`sweep --shard i/n --out DIR`) into the project.
    Merge {
        project: PathBuf,
        /// The sweep's name.
        #[arg(long)]
        name: String,
        /// Shard result folders.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
    },
    /// Write a sweep's report: report.html, runs.csv, predictions.csv and SVG figures.
    Report {
        project: PathBuf,
        /// The sweep's name.
        #[arg(long, visible_alias = "experiment")]
        name: String,
        /// Training size of the ROC curves and confusion matrix (default: the largest).
        #[arg(long)]
        size: Option<usize>,
        /// Output folder (default: `<project>.sweeps/<name>/report`).
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Summarise a project: classes, labels changed, reviewed, annotators, experiments.
    Info { project: PathBuf },
    /// Point a project at a moved dataset folder (images are found again by content hash).
    Relink {
        project: PathBuf,
        /// The dataset's new folder.
        folder: PathBuf,
    },
    /// Explain a network's decision on one image: its saliency or LRP map over the image, as PNG.
    Explain {
        project: PathBuf,
        /// The sweep (with --fold and --size) or the trained experiment (without) to explain.
        #[arg(long)]
        experiment: String,
        /// Fold of the sweep run (from 1, as `sweep` prints it).
        #[arg(long)]
        fold: Option<usize>,
        /// Training size of the sweep run.
        #[arg(long)]
        size: Option<usize>,
        /// The image: its id in the project, or its file name or path in the dataset.
        #[arg(long)]
        image: String,
        /// saliency or lrp.
        #[arg(long, default_value = "lrp")]
        method: String,
        /// LRP rules: paper, eps-gamma-zb (default) or eps-alpha-flat.
        #[arg(long)]
        preset: Option<String>,
        /// The output to explain, by index or name (default: the predicted one).
        #[arg(long)]
        class: Option<String>,
        /// Strength of the map over the image, 0–1.
        #[arg(long, default_value_t = 0.7)]
        opacity: f32,
        /// The PNG to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Print performance figures (benchmarks, not tests).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// The gallery on a generated project: first paint, frame times while scrolling, memory.
    Gallery {
        /// Number of images (18,365 = AML-Cytomorphology_LMU).
        #[arg(long, default_value_t = 18_365, value_parser = at_least_one)]
        images: usize,
        /// Frames to scroll.
        #[arg(long, default_value_t = 600, value_parser = at_least_one)]
        frames: usize,
        /// Keep (and reuse) the generated project in this folder.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
    /// Training and inference images/s of the paper network (synthetic input).
    Train {
        #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
        backend: BackendChoice,
        /// Input side in pixels.
        #[arg(long, default_value_t = 257, value_parser = bench_side)]
        size: u32,
        /// Seconds to measure each figure.
        #[arg(long, default_value_t = 10.0, value_parser = seconds_arg)]
        seconds: f64,
    },
    /// Training images/s of many networks trained together as one stacked network.
    Stack {
        #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
        backend: BackendChoice,
        #[arg(long, default_value_t = 257, value_parser = bench_side)]
        size: u32,
        /// Images per network per step (the paper's batch is 5).
        #[arg(long, default_value_t = 5, value_parser = at_least_one)]
        batch: usize,
        /// Stack sizes to measure.
        #[arg(long, value_delimiter = ',', default_value = "1,8,32,200", value_parser = at_least_one)]
        models: Vec<usize>,
        /// Seconds to measure each stack size.
        #[arg(long, default_value_t = 10.0, value_parser = seconds_arg)]
        seconds: f64,
    },
    /// Every training figure in one run: one model (train), stacks of 1, 8, 32 and 200, the
    /// PyTorch twin's ratio, and the sweep wall times (the paper fold at a fixed epoch count).
    All {
        #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
        backend: BackendChoice,
        /// Seconds to measure each throughput figure.
        #[arg(long, default_value_t = 5.0, value_parser = seconds_arg)]
        seconds: f64,
        /// Fixed epoch count of the paper fold.
        #[arg(long, default_value_t = 5, value_parser = at_least_one)]
        paper_epochs: usize,
    },
    /// Wall time of the "Quick demo" sweep and of one fold of "Paper ALL binary" on demo data.
    Sweep {
        #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
        backend: BackendChoice,
        /// Epoch cap for the paper fold (the paper: 500 with early stopping).
        #[arg(long, default_value_t = 500, value_parser = at_least_one)]
        paper_epochs: usize,
        /// Only the quick demo sweep.
        #[arg(long)]
        skip_paper: bool,
        /// On the CPU, runs trained at the same time (0 = automatic, as `sweep --workers`).
        #[arg(long, default_value_t = 0)]
        workers: usize,
    },
    /// Per-layer convolution timings (forward; forward + backward), to see where time goes.
    Ops {
        #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
        backend: BackendChoice,
        #[arg(long, default_value_t = 257, value_parser = bench_side)]
        size: u32,
        #[arg(long, default_value_t = 32, value_parser = at_least_one)]
        batch: usize,
        /// Timed repetitions per figure.
        #[arg(long, default_value_t = 5, value_parser = at_least_one)]
        reps: usize,
        /// Only the first N blocks.
        #[arg(long, default_value_t = 6)]
        blocks: usize,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LayoutArg {
    Auto,
    Imagefolder,
    Allidb,
    AmlLmu,
    Pbc,
    Csv,
}

impl LayoutArg {
    fn layout(self) -> Option<Layout> {
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
enum TaskArg {
    /// Positive classes (blasts) vs the rest.
    Binary,
    /// One output per class given with --classes.
    Multiclass,
    /// --positive classes vs --negative classes.
    Groups,
}

#[derive(Clone, Copy, ValueEnum)]
enum Preset {
    /// 193 px, RMSprop 1e-3, batch 5, ≤ 40 epochs, patience 10: minutes on 2 CPU cores.
    Quick,
    /// The paper's binary protocol: 257 px, RMSprop 1e-3, batch 5, ≤ 500 epochs, patience 50.
    PaperBinary,
    /// The paper's multiclass protocol: Adam 1e-4, 150 per class by augmentation.
    PaperMulticlass,
}

/// What the network learns (shared by `train` and `sweep`).
#[derive(clap::Args)]
struct TaskArgs {
    #[arg(long, value_enum, default_value_t = TaskArg::Binary)]
    task: TaskArg,
    /// Multiclass: the classes, by name or code, comma-separated.
    #[arg(long, value_delimiter = ',')]
    classes: Vec<String>,
    /// Groups: the positive classes.
    #[arg(long, value_delimiter = ',')]
    positive: Vec<String>,
    /// Groups: the negative classes.
    #[arg(long, value_delimiter = ',')]
    negative: Vec<String>,
}

#[derive(clap::Args)]
struct SweepArgs {
    /// The project file.
    project: PathBuf,
    /// The sweep's name: a saved sweep of the project is resumed; a new one is saved in it.
    #[arg(long, visible_alias = "experiment")]
    name: String,
    #[command(flatten)]
    task: TaskArgs,
    #[arg(long, value_enum, default_value_t = Preset::Quick)]
    preset: Preset,
    /// Number of folds.
    #[arg(long, default_value_t = 10)]
    folds: usize,
    /// Validation images per fold (early stopping needs at least 1).
    #[arg(long, default_value_t = 25, value_parser = at_least_one)]
    n_val: usize,
    /// Training sizes (default 10, 20, …, 200).
    #[arg(long, value_delimiter = ',')]
    sizes: Vec<usize>,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    patience: Option<usize>,
    #[arg(long)]
    input_size: Option<u32>,
    /// Run only shard i of n (1-based), e.g. 3/10, for a SLURM job array.
    #[arg(long)]
    shard: Option<String>,
    /// Write results to this folder instead of the project's (for shards; then `merge`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Train this many runs together as one stacked network (0 = automatic: as many as fit on
    /// a GPU, one at a time on the CPU). Results equal one-at-a-time training.
    #[arg(long, default_value_t = 0)]
    stack: usize,
    /// On the CPU, train this many runs at the same time, each on its own thread (0 = automatic:
    /// half the cores on machines with 4 or more, else 1). Results equal one-at-a-time training.
    #[arg(long, default_value_t = 0)]
    workers: usize,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// The project file.
    project: PathBuf,
    /// Run a saved experiment of the project (other options are then ignored).
    #[arg(long)]
    experiment: Option<String>,
    #[command(flatten)]
    task: TaskArgs,
    #[arg(long, value_enum, default_value_t = Preset::Quick)]
    preset: Preset,
    /// Training images (balanced across classes).
    #[arg(long, default_value_t = 50)]
    n_train: usize,
    /// Validation images for early stopping.
    #[arg(long, default_value_t = 25)]
    n_val: usize,
    /// Test images (default: all the rest).
    #[arg(long)]
    n_test: Option<usize>,
    #[arg(long)]
    input_size: Option<u32>,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    patience: Option<usize>,
    #[arg(long)]
    batch_size: Option<usize>,
    #[arg(long)]
    lr: Option<f64>,
    /// Switch augmentation off.
    #[arg(long)]
    no_augment: bool,
    /// Seed of this run (default: from the project's master seed).
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// Save this configuration in the project under this name.
    #[arg(long)]
    save_as: Option<String>,
}

/// A count that must be at least 1 (batch, repetitions, images, epochs, stack sizes).
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Seconds to measure a benchmark figure: a finite number from 0.1 to 3600.
fn seconds_arg(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && (0.1..=3600.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be from 0.1 to 3600 seconds ({s} given)"))
    }
}

/// A benchmark's input side: the paper network takes 190 px and more; above 1024 px one batch
/// would need gigabytes.
fn bench_side(s: &str) -> Result<u32, String> {
    let v: u32 = s.trim().parse().map_err(|e| format!("{e}"))?;
    if (190..=1024).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be from 190 to 1024 px ({v} given)"))
    }
}

fn main() {
    // Output piped into a program that stops reading (`leukolens info … | head`) ends the
    // process quietly, as for other command-line tools, instead of a panic in `println!`.
    #[cfg(unix)]
    // SAFETY: restores the default action of one signal before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Gui {
        project: None,
        screenshots: None,
        annotator: None,
    }) {
        Command::Gui {
            project,
            screenshots,
            annotator,
        } => gui(project, screenshots, annotator),
        Command::Import {
            source,
            layout,
            output,
            name,
            seed,
        } => cmd_import(&source, layout.layout(), &output, name, seed),
        Command::Demo {
            output,
            per_class,
            size,
            seed,
            force,
            train,
            backend,
        } => cmd_demo(&output, per_class, size, seed, force, train, backend),
        Command::Train(args) => cmd_train(args),
        Command::Sweep(args) => cmd_sweep(args),
        Command::Merge {
            project,
            name,
            shards,
        } => {
            // The project must exist (and open): its sweep folder sits beside it.
            let dir = leukolens::sweep::SweepDir::of(&project, &name);
            let shards: Vec<_> = shards
                .into_iter()
                .map(leukolens::sweep::SweepDir::at)
                .collect();
            Workspace::open(&project)
                .map_err(anyhow::Error::from)
                .and_then(|_| dir.merge(&shards).map_err(anyhow::Error::msg))
                .map(|n| println!("merged {n} run(s) into {}", dir.path().display()))
        }
        Command::Report {
            project,
            name,
            size,
            out,
        } => cmd_report(&project, &name, size, out),
        Command::Info { project } => cmd_info(&project),
        Command::Relink { project, folder } => cmd_relink(&project, &folder),
        Command::Explain {
            project,
            experiment,
            fold,
            size,
            image,
            method,
            preset,
            class,
            opacity,
            output,
        } => leukolens::explain::Method::from_cli(&method, preset.as_deref())
            .and_then(|method| {
                leukolens::explain::explain_to_png(&leukolens::explain::ExplainRequest {
                    project,
                    experiment,
                    fold,
                    size,
                    image,
                    method,
                    class,
                    output,
                    opacity,
                })
            })
            .map(|report| println!("{}", report.summary()))
            .map_err(anyhow::Error::msg),
        Command::Bench {
            what:
                BenchWhat::Train {
                    backend,
                    size,
                    seconds,
                },
        } => bench::train_throughput(backend, size, seconds).map_err(anyhow::Error::msg),
        Command::Bench {
            what:
                BenchWhat::Stack {
                    backend,
                    size,
                    batch,
                    models,
                    seconds,
                },
        } => bench::stack_throughput(backend, size, batch, &models, seconds)
            .map_err(anyhow::Error::msg),
        Command::Bench {
            what:
                BenchWhat::All {
                    backend,
                    seconds,
                    paper_epochs,
                },
        } => bench::train_throughput(backend, 257, seconds)
            .and_then(|_| bench::stack_throughput(backend, 257, 5, &[1, 8, 32, 200], seconds))
            .and_then(|_| bench::sweep_wall_time(backend, paper_epochs, false, 0))
            .map_err(anyhow::Error::msg),
        Command::Bench {
            what:
                BenchWhat::Sweep {
                    backend,
                    paper_epochs,
                    skip_paper,
                    workers,
                },
        } => bench::sweep_wall_time(backend, paper_epochs, skip_paper, workers)
            .map_err(anyhow::Error::msg),
        Command::Bench {
            what:
                BenchWhat::Ops {
                    backend,
                    size,
                    batch,
                    reps,
                    blocks,
                },
        } => bench::op_profile(backend, size, batch, reps, blocks).map_err(anyhow::Error::msg),
        Command::Bench {
            what:
                BenchWhat::Gallery {
                    images,
                    frames,
                    keep,
                },
        } => bench_gallery(images, frames, keep),
    };
    if let Err(e) = result {
        eprintln!("error: {}", error_text(&e));
        std::process::exit(1);
    }
}

/// The error and its causes, each cause once: our errors often already name their cause in
/// their own message ("cannot read x: No such file"), and anyhow's `{:#}` would repeat it.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text = format!("{text}: {c}");
        }
    }
    text
}

#[cfg(feature = "gui")]
fn gui(
    project: Option<PathBuf>,
    screenshots: Option<PathBuf>,
    annotator: Option<String>,
) -> Result<()> {
    leukolens::ui::run(project, screenshots, annotator).map_err(anyhow::Error::msg)
}

#[cfg(feature = "gui")]
fn bench_gallery(images: usize, frames: usize, keep: Option<PathBuf>) -> Result<()> {
    leukolens::ui::bench::gallery(images, frames, keep).map_err(anyhow::Error::msg)
}

#[cfg(not(feature = "gui"))]
fn bench_gallery(_images: usize, _frames: usize, _keep: Option<PathBuf>) -> Result<()> {
    bail!("this build has no desktop application (built without the `gui` feature)")
}

#[cfg(not(feature = "gui"))]
fn gui(
    _project: Option<PathBuf>,
    _screenshots: Option<PathBuf>,
    _annotator: Option<String>,
) -> Result<()> {
    bail!("this build has no desktop application (built without the `gui` feature); see --help")
}

/// Prints a line above a progress bar, or plainly when the bar is hidden (not a terminal: CI
/// logs, cluster jobs), so that no line is lost.
fn say(pb: &ProgressBar, line: String) {
    if pb.is_hidden() {
        println!("{line}");
    } else {
        pb.println(line);
    }
}

fn bar(total: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(total as u64);
    pb.set_style(
        ProgressStyle::with_template(
            "{msg:>12} [{bar:40}] {pos}/{len} {elapsed_precise} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

fn cmd_import(
    source: &Path,
    layout: Option<Layout>,
    output: &Path,
    name: Option<String>,
    seed: u64,
) -> Result<()> {
    if output.exists() {
        bail!(
            "{} already exists; choose another name, or use `leukolens relink` to point it at a moved dataset",
            output.display()
        );
    }
    let pb = bar(0, "importing");
    let progress = |done: usize, total: usize| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    };
    let outcome = dataset::import(source, layout, Taxonomy::default_allidb(), &progress)?;
    pb.finish_and_clear();
    print!("{}", outcome.report);
    let name = name.unwrap_or_else(|| {
        output
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "project".into())
    });
    let project = Project::from_import(&name, output, &outcome, seed);
    Workspace::create(output, project)?;
    println!("wrote {}", output.display());
    Ok(())
}

fn cmd_demo(
    output: &Path,
    per_class: usize,
    size: u32,
    seed: u64,
    force: bool,
    train_after: bool,
    backend: BackendChoice,
) -> Result<()> {
    let project_path = output.join("demo.ron");
    if project_path.exists() && !force {
        println!(
            "{} exists; using it (--force regenerates)",
            project_path.display()
        );
    } else {
        let started = Instant::now();
        demo::create_demo_project(output, per_class, size, seed).map_err(anyhow::Error::msg)?;
        let n = per_class * demo::DEMO_CLASSES.len();
        println!(
            "generated {n} synthetic cells ({per_class} per class, {size} px) and {} in {:.1} s",
            project_path.display(),
            started.elapsed().as_secs_f64()
        );
    }
    if train_after {
        let lymphoblast = "Lymphoblast".to_string();
        let args = TrainArgs {
            project: project_path,
            experiment: None,
            task: TaskArgs {
                task: TaskArg::Groups,
                classes: Vec::new(),
                positive: vec![lymphoblast],
                negative: vec!["Typical lymphocyte".into(), "Atypical lymphocyte".into()],
            },
            preset: Preset::Quick,
            n_train: 20,
            n_val: 20,
            n_test: None,
            input_size: None,
            epochs: None,
            patience: None,
            batch_size: None,
            lr: None,
            no_augment: false,
            seed: None,
            backend,
            // Saved, so that `leukolens explain <project> --experiment demo …` works next.
            save_as: Some("demo".into()),
        };
        cmd_train(args)?;
    }
    Ok(())
}

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

fn task_from_args(tax: &Taxonomy, a: &TaskArgs) -> Result<Task> {
    let (classes, positive, negative) = (&a.classes, &a.positive, &a.negative);
    let task = match a.task {
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
struct Overrides {
    input_size: Option<u32>,
    epochs: Option<usize>,
    patience: Option<usize>,
    batch_size: Option<usize>,
    lr: Option<f64>,
    no_augment: bool,
}

/// A preset with the user's changes, checked.
fn configured(p: Preset, o: Overrides) -> Result<TrainConfig> {
    let mut cfg = match p {
        Preset::Quick => TrainConfig::quick(),
        Preset::PaperBinary => TrainConfig::paper_binary(),
        Preset::PaperMulticlass => TrainConfig::paper_multiclass(),
    };
    cfg.input_size = o.input_size.unwrap_or(cfg.input_size);
    cfg.max_epochs = o.epochs.unwrap_or(cfg.max_epochs);
    cfg.patience = o.patience.unwrap_or(cfg.patience);
    cfg.batch_size = o.batch_size.unwrap_or(cfg.batch_size);
    cfg.learning_rate = o.lr.unwrap_or(cfg.learning_rate);
    cfg.augment &= !o.no_augment;
    cfg.validate().map_err(anyhow::Error::msg)?;
    Ok(cfg)
}

fn cmd_sweep(args: SweepArgs) -> Result<()> {
    use leukolens::sweep::run::{self, RunOptions, SweepEvent};
    use leukolens::sweep::{SweepConfig, SweepDesign, ValSize};
    let mut ws = Workspace::open(&args.project)?;
    let shard = match &args.shard {
        None => None,
        Some(s) => {
            let (i, n) = s
                .split_once('/')
                .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)))
                .with_context(|| format!("--shard {s}: expected i/n, e.g. 3/10"))?;
            Some((i, n))
        }
    };
    let options = RunOptions {
        stack: args.stack,
        workers: args.workers,
        shard,
        out: args.out.clone(),
        fold: None,
    };
    options.check().map_err(anyhow::Error::msg)?;
    let started = leukolens::sweep::start(&mut ws, &args.name, |project| {
        let task = task_from_args(&project.taxonomy, &args.task).map_err(|e| error_text(&e))?;
        let train = configured(
            args.preset,
            Overrides {
                input_size: args.input_size,
                epochs: args.epochs,
                patience: args.patience,
                ..Default::default()
            },
        )
        .map_err(|e| error_text(&e))?;
        let mut design = SweepDesign {
            k_folds: args.folds,
            val: ValSize::Count(args.n_val),
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
    })
    .map_err(anyhow::Error::msg)?;
    if started.resumed {
        println!("resuming the saved sweep \"{}\"", started.config.name);
    }
    let config = started.config;
    let mut backend = backend::resolve(args.backend).map_err(anyhow::Error::msg)?;
    println!("device: {}", backend.description);
    for n in &backend.notes {
        println!("note: {n}");
    }
    let runs_bar = bar(0, "runs");
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let mut on_event = |ev: SweepEvent| match ev {
        SweepEvent::Planned {
            total,
            already_done,
            notices,
        } => {
            for n in notices {
                say(&runs_bar, format!("note: {n}"));
            }
            runs_bar.set_length(total as u64);
            runs_bar.set_position(already_done as u64);
            if already_done > 0 {
                say(
                    &runs_bar,
                    format!("{already_done} of {total} runs already done; resuming"),
                );
            }
        }
        SweepEvent::RunStarted { index, total, key } => {
            runs_bar.set_message(format!("fold {} size {}", key.fold + 1, key.size));
            runs_bar.set_position(index as u64 - 1);
            let _ = total;
        }
        SweepEvent::RunFinished(r) => {
            runs_bar.inc(1);
            let score = r
                .test_auc
                .map(|a| format!("AUC {a:.3}"))
                .or(r.test_weighted_f1.map(|f| format!("weighted F1 {f:.3}")))
                .unwrap_or_default();
            say(
                &runs_bar,
                format!(
                    "fold {:>2} size {:>4}: {} ({} epochs, best {}) {:.0} s {}",
                    r.key.fold + 1,
                    r.key.size,
                    score,
                    r.epochs,
                    r.best_epoch,
                    r.seconds,
                    if r.collapsed {
                        "COLLAPSED".to_string()
                    } else if r.failed() {
                        r.status.to_string()
                    } else {
                        String::new()
                    }
                ),
            );
        }
        SweepEvent::Notice(n) => say(&runs_bar, format!("note: {n}")),
        SweepEvent::Train(..) => {}
    };
    let records = run::run_sweep(
        &ws.project,
        &args.project,
        &config,
        &mut backend,
        &options,
        &cancel,
        &mut on_event,
    )
    .map_err(anyhow::Error::msg)?;
    runs_bar.finish_and_clear();
    let failed: Vec<&leukolens::sweep::RunRecord> = records.iter().filter(|r| r.failed()).collect();
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
    // AUC (or weighted F1) per training size over the folds.
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
        if let Some(m) = leukolens::metrics::mean_sd(&vals) {
            match m.n {
                1 => println!("size {s:>4}: {m}, one fold"),
                n => println!("size {s:>4}: {m} over {n} folds"),
            }
        }
    }
    Ok(())
}

fn cmd_train(args: TrainArgs) -> Result<()> {
    let mut ws = Workspace::open(&args.project)?;
    for n in &ws.open_notes {
        println!("note: {n}");
    }
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
        ws.project.experiments.retain(|e| e.name != exp.name);
        ws.project.experiments.push(exp.clone());
        ws.save()?;
        println!(
            "saved experiment \"{}\" in {}",
            exp.name,
            args.project.display()
        );
    }

    let mut backend = backend::resolve(args.backend).map_err(anyhow::Error::msg)?;
    println!("device: {}", backend.description);
    for n in &backend.notes {
        println!("note: {n}");
    }

    let pb = bar(0, "decoding");
    let progress = |done: usize, total: usize| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    };
    let data = experiment::prepare(&ws.project, &args.project, &exp, &progress)
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
    let split = experiment::split_for(&exp, &data);
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
    let started = Instant::now();
    let epochs = bar(exp.train.max_epochs, "epochs");
    let binary = data.n_classes == 2;
    // Train on a named background thread; this thread shows its events.
    let jobs = Jobs::new();
    let (result_tx, result_rx) = std::sync::mpsc::channel();
    let job_exp = exp.clone();
    let job = jobs.spawn("train", move |ctx| {
        let cancel = ctx.cancel_flag();
        let outcome = backend::run_guarded(&mut backend, |device| {
            experiment::run(&job_exp, &data, &split, device, &cancel, &mut |ev| {
                ctx.send(EventKind::Train(ev))
            })
        })?;
        let _ = result_tx.send((outcome, data));
        Ok(())
    })?;
    while let Some(ev) = jobs.recv() {
        match ev.kind {
            EventKind::Train(TrainEvent::Epoch(e)) => {
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
            EventKind::Finished(r) if ev.job == job.id => {
                r.map_err(anyhow::Error::msg)?;
                break;
            }
            _ => {}
        }
    }
    job.join();
    let (outcome, data) = result_rx
        .recv()
        .context("the training thread ended without a result")?;
    epochs.finish_and_clear();
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
    if !binary && let Some(f1) = s.test_weighted_f1 {
        println!("test weighted F1: {f1:.3}");
    }
    if let Some(model) = &outcome.model {
        let dir = experiment::models_dir(&args.project);
        let path = dir.join(format!("{}.bpk", experiment::safe_name(&exp.name)));
        model.save(&path).map_err(anyhow::Error::msg)?;
        let csv = dir.join(format!(
            "{}.predictions.csv",
            experiment::safe_name(&exp.name)
        ));
        write_predictions(&csv, &ws.project, &data, s)?;
        println!("model: {}\npredictions: {}", path.display(), csv.display());
        if args.save_as.is_none() && args.experiment.is_none() {
            println!(
                "note: its settings were not saved in the project, so `leukolens explain` cannot \
                 use this model; train with --save-as NAME to keep them"
            );
        }
    }
    if let train::RunStatus::Failed(m) = &s.status {
        bail!("training failed: {m}");
    }
    Ok(())
}

fn write_predictions(
    path: &Path,
    project: &Project,
    data: &experiment::PreparedData,
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
    leukolens::project::atomic_write(path, out.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn cmd_info(path: &Path) -> Result<()> {
    let ws = Workspace::open(path)?;
    let p = &ws.project;
    println!("project: {} ({})", p.name, path.display());
    println!(
        "dataset: {}{}",
        p.dataset_dir(path).display(),
        if p.dataset_dir(path).is_dir() {
            ""
        } else {
            "  (MISSING: use `leukolens relink`)"
        }
    );
    if let Some(l) = p.layout {
        println!("layout: {l}");
    }
    let changed = p.images.iter().filter(|i| i.current != i.original).count();
    let reviewed = p.images.iter().filter(|i| i.reviewed).count();
    println!(
        "images: {} · changed {} · reviewed {}",
        p.images.len(),
        changed,
        reviewed
    );
    println!(
        "{:<28} {:>5} {:>7} {:>9}  blast",
        "class", "key", "current", "original"
    );
    for (id, cur, orig) in p.counts() {
        let c = p.taxonomy.get(id).expect("counts come from the taxonomy");
        println!(
            "{:<28} {:>5} {:>7} {:>9}  {}",
            format!("{} ({})", c.name, c.code),
            c.hotkey.map(String::from).unwrap_or_default(),
            cur,
            orig,
            if c.positive { "yes" } else { "" }
        );
    }
    if !p.annotators.is_empty() {
        println!("annotators: {}", p.annotators.join(", "));
    }
    for e in &p.experiments {
        println!(
            "experiment \"{}\": {:?}, n_train {}, {} px",
            e.name, e.task, e.n_train, e.train.input_size
        );
    }
    for n in &ws.open_notes {
        println!("note: {n}");
    }
    Ok(())
}

fn cmd_relink(path: &Path, folder: &Path) -> Result<()> {
    let mut ws = Workspace::open(path)?;
    let pb = bar(0, "hashing");
    let progress = |done: usize, total: usize| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    };
    let found = ws.project.relink(path, folder, &progress)?;
    pb.finish_and_clear();
    let total = ws.project.images.len();
    if found == 0 {
        bail!(
            "none of the {total} images is in {} (compared by content); the project is unchanged",
            folder.display()
        );
    }
    ws.mark_dirty();
    ws.save()?;
    println!("found {found} of {total} images in {}", folder.display());
    if found < total {
        println!(
            "{} images were not found there; they keep pointing at their old files",
            total - found
        );
    }
    Ok(())
}

fn cmd_report(project: &Path, name: &str, size: Option<usize>, out: Option<PathBuf>) -> Result<()> {
    use leukolens::sweep::store::{ReadError, SweepDir};
    let ws = leukolens::project::Workspace::open(project)?;
    let dir = SweepDir::of(project, name);
    let snapshot = match dir.read_snapshot() {
        Ok(s) => s,
        Err(ReadError::Io(e)) => bail!("the project has no sweep \"{name}\" ({e})"),
        Err(e) => bail!("{e}"),
    };
    let (records, damaged) = dir.read_runs();
    for (path, why) in damaged {
        println!(
            "note: {} left out, it cannot be read ({why}); resuming the sweep trains that run again",
            path.display()
        );
    }
    if records.is_empty() {
        anyhow::bail!("the sweep \"{name}\" has no finished run yet");
    }
    if let Some(s) = size {
        let sizes = leukolens::sweep::results::sizes(&records);
        if !sizes.contains(&s) {
            anyhow::bail!("no finished run has {s} training images; the sizes are {sizes:?}");
        }
    }
    let out = out.unwrap_or_else(|| dir.report_dir());
    let files =
        leukolens::sweep::report::write_report(&out, &snapshot, &records, Some(&ws.project), size)
            .map_err(anyhow::Error::msg)?;
    println!(
        "{} runs; wrote {} files to {}",
        records.len(),
        files.len(),
        out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Benchmark arguments that would panic or allocate without end are refused by the parser.
    #[test]
    fn bench_arguments_are_checked_before_anything_runs() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(["leukolens", "bench"].iter().chain(args)).map(|_| ())
        };
        for bad in [
            &["train", "--seconds", "inf"][..],
            &["train", "--seconds", "NaN"],
            &["train", "--seconds", "0"],
            &["train", "--size", "100000"],
            &["stack", "--batch", "0"],
            &["stack", "--models", "1,0"],
            &["ops", "--reps", "0"],
            &["gallery", "--images", "0"],
            &["sweep", "--paper-epochs", "0"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
        for good in [
            &["train", "--seconds", "0.5", "--size", "190"][..],
            &["stack", "--batch", "1", "--models", "1,8"],
            &["ops", "--reps", "1"],
        ] {
            assert!(parse(good).is_ok(), "{good:?} was refused");
        }
    }
}
