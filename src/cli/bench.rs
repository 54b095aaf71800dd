//! `leukolens bench`: performance figures (benchmarks, not tests), each checked by the parser
//! before anything runs.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

use super::args::{at_least_one, bench_side, seconds_arg};
use crate::backend::BackendChoice;
use crate::bench;

#[derive(Subcommand)]
pub(crate) enum BenchWhat {
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
    /// How well an audit finds flipped labels: precision, recall, ROC-AUC, wall time.
    Audit(super::bench_audit::BenchAuditArgs),
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

/// Runs the benchmark asked for.
pub(crate) fn run(what: BenchWhat) -> Result<()> {
    match what {
        BenchWhat::Train {
            backend,
            size,
            seconds,
        } => bench::train_throughput(backend, size, seconds).map_err(anyhow::Error::msg),
        BenchWhat::Stack {
            backend,
            size,
            batch,
            models,
            seconds,
        } => bench::stack_throughput(backend, size, batch, &models, seconds)
            .map_err(anyhow::Error::msg),
        BenchWhat::All {
            backend,
            seconds,
            paper_epochs,
        } => bench::train_throughput(backend, 257, seconds)
            .and_then(|_| bench::stack_throughput(backend, 257, 5, &[1, 8, 32, 200], seconds))
            .and_then(|_| bench::sweep_wall_time(backend, paper_epochs, false, 0))
            .map_err(anyhow::Error::msg),
        BenchWhat::Sweep {
            backend,
            paper_epochs,
            skip_paper,
            workers,
        } => bench::sweep_wall_time(backend, paper_epochs, skip_paper, workers)
            .map_err(anyhow::Error::msg),
        BenchWhat::Ops {
            backend,
            size,
            batch,
            reps,
            blocks,
        } => bench::op_profile(backend, size, batch, reps, blocks).map_err(anyhow::Error::msg),
        BenchWhat::Audit(args) => super::bench_audit::run(args),
        BenchWhat::Gallery {
            images,
            frames,
            keep,
        } => super::gui::bench_gallery(images, frames, keep),
    }
}
