//! `leukolens predict`: pre-labels from a saved network (`quality::predict`), stored beside
//! the project; no label changes.

use std::path::PathBuf;

use anyhow::Result;
use clap::ValueEnum;

use crate::explain::source::{load_experiment_model, load_sweep_model};
use crate::project::Workspace;
use crate::quality::predict::{Only, chosen_images, predict, save_suggestions};
use crate::sweep::design::RunKey;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum OnlyArg {
    /// Every image.
    All,
    /// Images nobody has reviewed.
    Unreviewed,
    /// Images of the class "Unlabelled".
    Unlabelled,
}

#[derive(clap::Args)]
pub(crate) struct PredictArgs {
    /// The project file.
    pub(crate) project: PathBuf,
    /// The sweep (with --fold and --size) or the trained experiment (without).
    #[arg(long)]
    pub(crate) model: String,
    /// Fold of the sweep run (from 1, as `sweep` prints it).
    #[arg(long, requires = "size")]
    pub(crate) fold: Option<usize>,
    /// Training size of the sweep run.
    #[arg(long, requires = "fold")]
    pub(crate) size: Option<usize>,
    #[arg(long, value_enum, default_value_t = OnlyArg::All)]
    pub(crate) only: OnlyArg,
}

/// Predicts, stores the suggestions and prints a summary.
pub(crate) fn run(args: PredictArgs) -> Result<()> {
    let ws = Workspace::open(&args.project)?;
    let device = burn::tensor::Device::flex();
    let model = match (args.fold, args.size) {
        (Some(f), Some(size)) if f >= 1 => load_sweep_model(
            &args.project,
            &args.model,
            RunKey { fold: f - 1, size },
            &device,
        ),
        (Some(_), _) => Err("--fold counts from 1".to_string()),
        _ => load_experiment_model(&ws.project, &args.project, &args.model, &device),
    }
    .map_err(anyhow::Error::msg)?;
    let only = match args.only {
        OnlyArg::All => Only::All,
        OnlyArg::Unreviewed => Only::Unreviewed,
        OnlyArg::Unlabelled => Only::Unlabelled,
    };
    let images = chosen_images(&ws.project, only).map_err(anyhow::Error::msg)?;
    println!("model: {}; {} images", model.description, images.len());
    let (suggestions, failed) =
        predict(&ws.project, &args.project, &model, &images).map_err(anyhow::Error::msg)?;
    for f in &failed {
        println!("skipped {f}");
    }
    let path = save_suggestions(&args.project, &suggestions).map_err(anyhow::Error::msg)?;
    println!(
        "{} suggestions written to {}",
        suggestions.suggestions.len(),
        path.display()
    );
    Ok(())
}
