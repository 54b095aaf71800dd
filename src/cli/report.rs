//! `leukolens report`: a sweep's report (HTML, CSV tables, SVG figures) written to disk.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::sweep::store::{ReadError, SweepDir};

/// Writes the report of the sweep `name` (ROC and confusion at `size`, default the largest)
/// into `out` (default: the sweep folder's `report`).
pub(crate) fn run(
    project: &Path,
    name: &str,
    size: Option<usize>,
    out: Option<PathBuf>,
) -> Result<()> {
    let ws = crate::project::Workspace::open_read_only(project)?;
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
        bail!("the sweep \"{name}\" has no finished run yet");
    }
    if let Some(s) = size {
        let sizes = crate::sweep::results::sizes(&records);
        if !sizes.contains(&s) {
            bail!("no finished run has {s} training images; the sizes are {sizes:?}");
        }
    }
    let out = out.unwrap_or_else(|| dir.report_dir());
    let files =
        crate::sweep::report::write_report(&out, &snapshot, &records, Some(&ws.project), size)
            .map_err(anyhow::Error::msg)?;
    println!(
        "{} runs; wrote {} files to {}",
        records.len(),
        files.len(),
        out.display()
    );
    Ok(())
}
