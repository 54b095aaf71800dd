//! `leukolens report`: a sweep's report (HTML, CSV tables, SVG figures) written to disk.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::output::{Overwrite, check_output};
use crate::sweep::start::damaged_snapshot;
use crate::sweep::store::{ReadError, SweepDir};

/// Writes the report of the sweep `name` (ROC and confusion at `size`, default the largest)
/// into `out` (default: the sweep folder's `report`, rewritten each time). In a folder `out`
/// of the user's, existing files are replaced only with `force`.
pub(crate) fn run(
    project: &Path,
    name: &str,
    size: Option<usize>,
    out: Option<PathBuf>,
    force: bool,
) -> Result<()> {
    let ws = crate::project::Workspace::open_read_only(project)?;
    let dir = SweepDir::of(project, name);
    let listed = ws.project.sweeps.iter().any(|s| s.name == name);
    let snapshot = match dir.read_snapshot() {
        Ok(s) => s,
        Err(ReadError::Io(e)) if !listed => bail!("the project has no sweep \"{name}\" ({e})"),
        Err(ReadError::Io(e)) => bail!(
            "the project lists the sweep \"{name}\", but its snapshot is missing ({e}); run \
             `leukolens sweep {} --name {name}` to take a new one from the current labels (runs \
             trained on other labels are then left out and trained again)",
            project.display()
        ),
        Err(e) => bail!("{}", damaged_snapshot(name, &dir, &e)),
    };
    let (records, left_out) = dir.read_runs();
    for (path, why) in left_out {
        println!(
            "note: {} left out ({why}); resuming the sweep trains that run again",
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
    let overwrite = match &out {
        // The sweep's own report folder is leukolens's: rewritten each time.
        None => Overwrite::Allowed,
        Some(_) => Overwrite::from_force(force),
    };
    let out = out.unwrap_or_else(|| dir.report_dir());
    let files = crate::sweep::report::write_report_checked(
        &out,
        &snapshot,
        &records,
        Some(&ws.project),
        size,
        &mut |p| check_output(project, Some(&ws.project), p, overwrite).map_err(|e| e.to_string()),
    )
    .map_err(anyhow::Error::msg)?;
    println!(
        "{} runs; wrote {} files to {}",
        records.len(),
        files.len(),
        out.display()
    );
    Ok(())
}
