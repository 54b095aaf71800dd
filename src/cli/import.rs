//! `leukolens import`: a dataset folder into a new project file.

use std::path::Path;

use anyhow::{Result, bail};

use super::progress::{bar, follow};
use crate::dataset::{self, Layout, MappingOverrides};
use crate::project::{Project, Workspace, store};
use crate::taxonomy::Taxonomy;

/// Imports `source` (in `layout`, or detected) into the new project file `output`, with the
/// class mapping of `map` (a `source,class` CSV) over the proposed one. The report, with the
/// mapping, is printed before the project is written.
pub(crate) fn run(
    source: &Path,
    layout: Option<Layout>,
    output: &Path,
    name: Option<String>,
    seed: u64,
    map: Option<&Path>,
) -> Result<()> {
    if output.exists() {
        bail!(
            "{} already exists; choose another name, or use `leukolens relink` to point it at a moved dataset",
            output.display()
        );
    }
    store::check_folder_path(output)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", output.display()))?;
    let overrides = match map {
        Some(m) => dataset::read_mapping_csv(m)?,
        None => MappingOverrides::new(),
    };
    let pb = bar(0, "importing");
    let outcome = dataset::import_with(
        source,
        layout,
        Taxonomy::default_allidb(),
        &overrides,
        &follow(&pb),
    )?;
    pb.finish_and_clear();
    print!("{}", outcome.report);
    let name = name.unwrap_or_else(|| {
        output
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "project".into())
    });
    let project = Project::from_import(&name, output, &outcome, seed);
    Workspace::create(output, project)?;
    println!("wrote {}", output.display());
    Ok(())
}
