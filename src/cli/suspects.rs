//! `leukolens suspects`: the ranked likely mislabels of an audit (`quality::suspects`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::ValueEnum;

use crate::project::Workspace;
use crate::quality::confident::{Filter, Rank};
use crate::quality::suspects::{suspects, suspects_csv};

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum RankArg {
    /// Lowest probability of the given class first (the default).
    SelfConfidence,
    /// Smallest margin between the given class and the most probable other one first.
    NormalizedMargin,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum FilterArg {
    /// cleanlab's `prune_by_noise_rate` (its `find_label_issues` default; ours too).
    NoiseRate,
    /// The N lowest-ranked images, N being confident learning's count of off-diagonal
    /// samples (cleanlab's `low_self_confidence` / `low_normalized_margin`): fewer false flags
    /// when the network is weak, too few flags when it is accurate.
    LowestScores,
}

impl FilterArg {
    pub(crate) fn filter(self) -> Filter {
        match self {
            FilterArg::LowestScores => Filter::LowestScores,
            FilterArg::NoiseRate => Filter::PruneByNoiseRate,
        }
    }
}

#[derive(clap::Args)]
pub(crate) struct SuspectsArgs {
    /// The project file.
    pub(crate) project: PathBuf,
    /// The audit's name (`leukolens audit --name`).
    #[arg(long, default_value = "audit")]
    pub(crate) audit: String,
    /// Print only the first N suspects (the CSV has all).
    #[arg(long)]
    pub(crate) top: Option<usize>,
    /// Also write every suspect to this CSV file.
    #[arg(long)]
    pub(crate) csv: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = RankArg::SelfConfidence)]
    pub(crate) rank: RankArg,
    /// Which images are flagged (the ranking then orders them).
    #[arg(long, value_enum, default_value_t = FilterArg::NoiseRate)]
    pub(crate) flag_by: FilterArg,
}

/// Prints the ranked suspects (and writes the CSV).
pub(crate) fn run(args: SuspectsArgs) -> Result<()> {
    let ws = Workspace::open(&args.project)?;
    let rank = match args.rank {
        RankArg::SelfConfidence => Rank::SelfConfidence,
        RankArg::NormalizedMargin => Rank::NormalizedMargin,
    };
    let list = suspects(
        &ws.project,
        &args.project,
        &args.audit,
        rank,
        args.flag_by.filter(),
    )
    .map_err(anyhow::Error::msg)?;
    println!(
        "audit \"{}\": {} images, {} likely mislabelled (estimated number of label issues: {})",
        list.audit,
        list.images,
        list.suspects.len(),
        list.estimated_issues
    );
    let shown = args
        .top
        .unwrap_or(list.suspects.len())
        .min(list.suspects.len());
    if shown > 0 {
        println!("rank  image  given → suggested (probability)  path");
    }
    for s in &list.suspects[..shown] {
        println!(
            "{:>4}  {:>5}  {} → {} ({:.3})  {}{}",
            s.rank,
            s.image.0,
            s.given,
            s.suggested,
            s.probability,
            s.path,
            if s.stale {
                "  [stale: relabelled since the audit]"
            } else {
                ""
            }
        );
    }
    if shown < list.suspects.len() {
        println!("… {} more (--top, --csv)", list.suspects.len() - shown);
    }
    if let Some(path) = &args.csv {
        let text = suspects_csv(&list).map_err(anyhow::Error::msg)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
