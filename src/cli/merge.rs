//! `leukolens merge`: the results of sweep shards into the project's sweep folder.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::project::Workspace;
use crate::sweep::SweepDir;

/// Merges the shard folders `shards` into the folder of the sweep `name` of `project`.
pub(crate) fn run(project: &Path, name: &str, shards: Vec<PathBuf>) -> Result<()> {
    // The project must exist (and open): its sweep folder sits beside it.
    Workspace::open_read_only(project)?;
    let dir = SweepDir::of(project, name);
    let shards: Vec<SweepDir> = shards.into_iter().map(SweepDir::at).collect();
    let n = dir.merge(&shards).map_err(anyhow::Error::msg)?;
    println!("merged {n} run(s) into {}", dir.path().display());
    Ok(())
}
