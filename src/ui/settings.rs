//! User settings kept between sessions: the annotator's name, recent projects, gallery options.
//! Stored as RON in `$XDG_CONFIG_HOME/leukolens/settings.ron` (or `~/.config/...`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Written into every journal line; asked once.
    pub annotator: Option<String>,
    /// Most recent first.
    pub recent: Vec<PathBuf>,
    /// After assigning a class to one image, move to the next.
    pub auto_advance: bool,
    /// Thumbnail tile size in points.
    pub thumb_size: f32,
    /// Show the latest cross-validated prediction on every tile.
    pub show_predictions: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            annotator: None,
            recent: Vec::new(),
            auto_advance: true,
            thumb_size: 112.0,
            show_predictions: false,
        }
    }
}

impl Settings {
    /// The default settings file.
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(base.join("leukolens").join("settings.ron"))
    }

    /// Loads settings; a missing or damaged file gives the defaults (settings are not precious).
    pub fn load(path: &Path) -> Self {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| ron::from_str(&t).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .map_err(std::io::Error::other)?;
        crate::project::atomic_write(path, text.as_bytes())
    }

    /// Puts a project at the top of the recent list (at most 10 kept).
    pub fn remember(&mut self, project: &Path) {
        let p = project
            .canonicalize()
            .unwrap_or_else(|_| project.to_path_buf());
        self.recent.retain(|r| r != &p);
        self.recent.insert(0, p);
        self.recent.truncate(10);
    }

    /// The project to open at start: the most recent one that still exists.
    pub fn last_project(&self) -> Option<&PathBuf> {
        self.recent.iter().find(|p| p.is_file())
    }
}
