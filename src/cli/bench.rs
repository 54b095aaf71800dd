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
    /// Crash safety: `leukolens label` children killed with SIGKILL at seeded moments; prints
    /// runs, kills, labels acknowledged and labels lost (must be 0). Unix only.
    Crash {
        /// Children started (each killed at a random moment unless it finished first).
        #[arg(long, default_value_t = 100, value_parser = at_least_one)]
        runs: usize,
        /// Labels each child tries.
        #[arg(long, default_value_t = 30, value_parser = at_least_one)]
        labels: usize,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// How well an audit finds flipped labels: precision, recall, ROC-AUC, wall time.
    Audit(Box<super::bench_audit::BenchAuditArgs>),
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
        BenchWhat::Crash { runs, labels, seed } => crash(runs, labels, seed),
        BenchWhat::Audit(args) => super::bench_audit::run(*args),
        BenchWhat::Gallery {
            images,
            frames,
            keep,
        } => super::gui::bench_gallery(images, frames, keep),
    }
}

/// `bench crash`: the long version of `tests/crash.rs`, on a demo project in a temporary folder.
#[cfg(unix)]
fn crash(runs: usize, labels: usize, seed: u64) -> Result<()> {
    use crate::crash::{CrashPlan, crash_project, label_crashes};
    let bin = std::env::current_exe()?;
    let dir = std::env::temp_dir().join(format!("leukolens-crash-{}", std::process::id()));
    let project = crash_project(&dir, 8).map_err(anyhow::Error::msg)?;
    let plan = CrashPlan {
        runs,
        labels_per_run: labels,
        kill_after_ms: (5, 1500),
        seed,
    };
    println!(
        "{runs} runs of up to {labels} `leukolens label` calls, killed with SIGKILL after 5–1500 ms (seed {seed})"
    );
    let figures = label_crashes(&bin, &project, &plan, &mut |run, f| {
        if run % 10 == 0 {
            println!(
                "  after {run} runs: {} kills, {} acknowledged, {} lost",
                f.kills,
                f.acknowledged,
                f.lost.len()
            );
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    let f = figures.map_err(anyhow::Error::msg)?;
    println!("runs: {}", f.runs);
    println!("kills: {}", f.kills);
    println!("labels acknowledged: {}", f.acknowledged);
    println!("labels lost: {}", f.lost.len());
    println!("failed openings: {}", f.open_failures.len());
    println!(
        "journal lines cut short by a kill (skipped on opening): {}",
        f.torn_lines
    );
    println!("time: {:.1} s", f.seconds);
    for l in f.lost.iter().chain(&f.open_failures) {
        println!("  {l}");
    }
    if !f.lost.is_empty() || !f.open_failures.is_empty() {
        anyhow::bail!("labels were lost or the project did not open after a kill");
    }
    Ok(())
}

#[cfg(not(unix))]
fn crash(_runs: usize, _labels: usize, _seed: u64) -> Result<()> {
    anyhow::bail!("bench crash needs a Unix system (SIGKILL, process groups)")
}
