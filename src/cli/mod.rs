//! The `leukolens` command line: the clap types, the dispatch to one file per subcommand, and
//! the text of errors. The commands call the same core functions as the desktop application
//! (`sweep::start`, `train::experiment`, …); nothing here is needed by a screen.

mod agreement;
mod args;
mod audit;
mod bench;
mod bench_audit;
mod demo;
mod explain;
mod gui;
mod import;
mod info;
mod label;
mod merge;
mod predict;
mod progress;
mod relink;
mod report;
mod suspects;
mod sweep;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use self::args::LayoutArg;
use self::bench::BenchWhat;
use self::sweep::SweepArgs;
use self::train::TrainArgs;
use crate::backend::BackendChoice;

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
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
        /// A CSV of `source,class` rows: the class each source name (folder, CSV label, code)
        /// becomes, overriding the proposed mapping.
        #[arg(long, value_name = "MAPPING.CSV")]
        map: Option<PathBuf>,
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
        /// Output folder (default: `<project>.sweeps/<name>/report`, rewritten each time). In a
        /// folder of your own, existing files are replaced only with --force.
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Replace existing files in the --out folder.
        #[arg(long)]
        force: bool,
    },
    /// Set labels from a script: one image (`--image`, `--class`) or a CSV file of them
    /// (`--from`). Each label is journaled (synced) before it is printed; a bad row changes
    /// nothing. Needs the project's lock: fails while the GUI (or another writer) has it open.
    Label {
        project: PathBuf,
        /// The image: its id in the project, its path in the dataset, or its file name.
        #[arg(long, requires = "class", conflicts_with = "from")]
        image: Option<String>,
        /// The class: its name or code.
        #[arg(long, requires = "image", conflicts_with = "from")]
        class: Option<String>,
        /// A CSV file of labels, one per row: path,class[,annotator] (a header row is allowed);
        /// `-` reads them from standard input.
        #[arg(long, required_unless_present = "image")]
        from: Option<PathBuf>,
        /// Who labels (written into every journal line; default: the login name).
        #[arg(long)]
        annotator: Option<String>,
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
        /// The PNG to write (an existing file only with --force; never a file of the project).
        #[arg(short, long)]
        output: PathBuf,
        /// Replace the output file when it exists.
        #[arg(long)]
        force: bool,
    },
    /// Find likely mislabels: train k networks on the current labels and keep every image's
    /// out-of-fold probabilities (a resumable sweep with one training size).
    Audit(audit::AuditArgs),
    /// The likely mislabelled images of an audit, ranked (confident learning).
    Suspects(suspects::SuspectsArgs),
    /// Agreement between annotators: Cohen's or Fleiss' κ and the per-class matrix.
    Agreement(agreement::AgreementArgs),
    /// Pre-labels from a saved network: the suggested class and probability of each image,
    /// stored in `<project>.suggestions.ron` (no label changes).
    Predict(predict::PredictArgs),
    /// Print performance figures (benchmarks, not tests).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

/// Parses the command line and runs the command; an error is printed as `error: …` on stderr
/// and ends the process with status 1.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Gui {
        project: None,
        screenshots: None,
        annotator: None,
    });
    match dispatch(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::from(1)
        }
    }
}

/// Runs one command.
fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Gui {
            project,
            screenshots,
            annotator,
        } => gui::run(project, screenshots, annotator),
        Command::Import {
            source,
            layout,
            output,
            name,
            seed,
            map,
        } => import::run(
            &source,
            layout.layout(),
            &output,
            name,
            seed,
            map.as_deref(),
        ),
        Command::Demo {
            output,
            per_class,
            size,
            seed,
            force,
            train,
            backend,
        } => demo::run(demo::DemoArgs {
            output: &output,
            per_class,
            size,
            seed,
            force,
            train,
            backend,
        }),
        Command::Train(args) => train::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Merge {
            project,
            name,
            shards,
        } => merge::run(&project, &name, shards),
        Command::Report {
            project,
            name,
            size,
            out,
            force,
        } => report::run(&project, &name, size, out, force),
        Command::Label {
            project,
            image,
            class,
            from,
            annotator,
        } => label::run(label::LabelArgs {
            project,
            image,
            class,
            from,
            annotator,
        }),
        Command::Info { project } => info::run(&project),
        Command::Relink { project, folder } => relink::run(&project, &folder),
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
            force,
        } => explain::run(&method, preset.as_deref(), |method| {
            crate::explain::ExplainRequest {
                project,
                experiment,
                fold,
                size,
                image,
                method,
                class,
                output,
                opacity,
                overwrite: crate::output::Overwrite::from_force(force),
            }
        }),
        Command::Audit(args) => audit::run(args),
        Command::Suspects(args) => suspects::run(args),
        Command::Agreement(args) => agreement::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Bench { what } => bench::run(what),
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
