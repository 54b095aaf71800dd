//! `leukolens gui` (the default) and `leukolens bench gallery`: the parts of the command line
//! that open the desktop application, or say that this build has none.

use std::path::PathBuf;

use anyhow::Result;
#[cfg(not(feature = "gui"))]
use anyhow::bail;

/// Opens the desktop application.
#[cfg(feature = "gui")]
pub(crate) fn run(
    project: Option<PathBuf>,
    screenshots: Option<PathBuf>,
    annotator: Option<String>,
) -> Result<()> {
    crate::ui::run(project, screenshots, annotator).map_err(anyhow::Error::msg)
}

/// The gallery benchmark (it measures the desktop application's gallery).
#[cfg(feature = "gui")]
pub(crate) fn bench_gallery(images: usize, frames: usize, keep: Option<PathBuf>) -> Result<()> {
    crate::ui::bench::gallery(images, frames, keep).map_err(anyhow::Error::msg)
}

/// The gallery benchmark: this build has no desktop application.
#[cfg(not(feature = "gui"))]
pub(crate) fn bench_gallery(_images: usize, _frames: usize, _keep: Option<PathBuf>) -> Result<()> {
    bail!("this build has no desktop application (built without the `gui` feature)")
}

/// The desktop application: this build has none.
#[cfg(not(feature = "gui"))]
pub(crate) fn run(
    _project: Option<PathBuf>,
    _screenshots: Option<PathBuf>,
    _annotator: Option<String>,
) -> Result<()> {
    bail!("this build has no desktop application (built without the `gui` feature); see --help")
}
