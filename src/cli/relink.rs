//! `leukolens relink`: point a project at its moved dataset (images found by content hash).

use std::path::Path;

use anyhow::{Result, bail};

use super::progress::{bar, follow};
use crate::project::Workspace;

/// Finds the images of the project at `path` in `folder` and saves the project.
pub(crate) fn run(path: &Path, folder: &Path) -> Result<()> {
    let mut ws = Workspace::open(path)?;
    let pb = bar(0, "hashing");
    let found = ws.project.relink(path, folder, &follow(&pb))?;
    pb.finish_and_clear();
    let total = ws.project.images.len();
    if found == 0 {
        bail!(
            "none of the {total} images is in {} (compared by content); the project is unchanged",
            folder.display()
        );
    }
    ws.mark_dirty();
    ws.save()?;
    println!("found {found} of {total} images in {}", folder.display());
    if found < total {
        println!(
            "{} images were not found there; they keep pointing at their old files",
            total - found
        );
    }
    Ok(())
}
