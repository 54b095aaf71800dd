//! `leukolens merge`: the results of sweep shards into the project's sweep folder.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::project::Workspace;
use crate::sweep::SweepDir;

/// Merges the shard folders `shards` into the folder of the sweep `name` of `project`: all or
/// nothing (every shard is checked first), and only for a sweep the project has.
pub(crate) fn run(project: &Path, name: &str, shards: Vec<PathBuf>) -> Result<()> {
    let ws = Workspace::open_read_only(project)?;
    let Some(config) = ws.project.sweeps.iter().find(|s| s.name == name) else {
        let names: Vec<String> = ws
            .project
            .sweeps
            .iter()
            .map(|s| format!("\"{}\"", s.name))
            .collect();
        bail!(
            "the project has no sweep \"{name}\" (its sweeps: {}); start it with `leukolens sweep \
             --name {name}` (as the shards were) before merging",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    };
    let dir = SweepDir::of(project, name);
    let shards: Vec<SweepDir> = shards.into_iter().map(SweepDir::at).collect();
    let report = dir
        .merge(&shards, Some(config))
        .map_err(anyhow::Error::msg)?;
    for line in &report.skipped {
        println!("skipped {line}");
    }
    println!(
        "merged {} run(s) into {}{}",
        report.copied,
        dir.path().display(),
        match report.skipped.len() {
            0 => String::new(),
            n => format!(" ({n} skipped: already there)"),
        }
    );
    Ok(())
}
