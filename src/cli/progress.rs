//! Progress on the terminal: indicatif bars, lines printed above them, and the one loop that
//! shows a background job's events until it ends.

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::jobs::{EventKind, JobContext, Jobs};

/// A bar of `total` steps labelled `what` (its length can change later).
pub(crate) fn bar(total: usize, what: &str) -> ProgressBar {
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

/// A `(done, total)` progress callback that moves `pb`.
pub(crate) fn follow(pb: &ProgressBar) -> impl Fn(usize, usize) + Sync + '_ {
    move |done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    }
}

/// Prints a line above a progress bar, or plainly when the bar is hidden (not a terminal: CI
/// logs, cluster jobs), so that no line is lost.
pub(crate) fn say(pb: &ProgressBar, line: String) {
    if pb.is_hidden() {
        println!("{line}");
    } else {
        pb.println(line);
    }
}

/// Runs `work` on a named background thread (a job) and hands its events to `on_event` on
/// this thread until it ends; returns what it returned, or its error.
pub(crate) fn run_job<T: Send + 'static>(
    name: &str,
    work: impl FnOnce(&JobContext) -> Result<T, String> + Send + 'static,
    mut on_event: impl FnMut(EventKind),
) -> Result<T> {
    let jobs = Jobs::new();
    let (result_tx, result_rx) = std::sync::mpsc::channel();
    let job = jobs.spawn(name, move |ctx| {
        let value = work(ctx)?;
        let _ = result_tx.send(value);
        Ok(())
    })?;
    while let Some(ev) = jobs.recv() {
        match ev.kind {
            EventKind::Finished(r) if ev.job == job.id => {
                r.map_err(anyhow::Error::msg)?;
                break;
            }
            kind => on_event(kind),
        }
    }
    job.join();
    result_rx
        .recv()
        .with_context(|| format!("the {name} thread ended without a result"))
}
