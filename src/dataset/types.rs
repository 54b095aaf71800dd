//! The types an import's steps share: the layout, a file found by a scan, an imported image,
//! the report of what was skipped and why, and the outcome.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::quote::{quote, quote_path};
use crate::taxonomy::{ClassId, Taxonomy};

/// How a dataset is organised on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// One folder per class; the class is the folder name.
    ImageFolder,
    /// ALL-IDB2: `ImNNN_L.tif`, L = 1 blast, L = 0 non-blast.
    AllIdb,
    /// AML-Cytomorphology_LMU: folders named by 3-letter codes (BAS, EBO, … PMO).
    AmlLmu,
    /// PBC (Acevedo et al. 2020): folder per class plus file-name prefix subclasses.
    Pbc,
    /// A CSV file with `path,label` rows, paths relative to the CSV's folder.
    Csv,
}

impl Layout {
    pub const ALL: [Layout; 5] = [
        Layout::ImageFolder,
        Layout::AllIdb,
        Layout::AmlLmu,
        Layout::Pbc,
        Layout::Csv,
    ];

    /// The name used on the command line.
    pub fn cli_name(self) -> &'static str {
        match self {
            Layout::ImageFolder => "imagefolder",
            Layout::AllIdb => "allidb",
            Layout::AmlLmu => "aml-lmu",
            Layout::Pbc => "pbc",
            Layout::Csv => "csv",
        }
    }

    pub fn from_cli_name(s: &str) -> Option<Layout> {
        Self::ALL.into_iter().find(|l| l.cli_name() == s)
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.cli_name())
    }
}

/// Errors that stop an import as a whole (a missing folder, an unreadable CSV). Problems with
/// single files never do: they go into the report.
#[derive(Debug, Error)]
pub enum ImportError {
    #[error("{0}: no such file or folder")]
    NotFound(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "could not recognise the layout of {0}; name one with --layout (imagefolder, allidb, aml-lmu, pbc, csv)"
    )]
    UnknownLayout(PathBuf),
    #[error("{path}: {message}")]
    Csv { path: PathBuf, message: String },
    #[error("{0}: no usable images found{1}")]
    NoImages(PathBuf, String),
}

/// A file found by a layout scan, with the label its source gives it.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub path: PathBuf,
    /// The label as the source spells it, e.g. "neutrophil/BNE" or "MYO".
    pub source_label: String,
}

/// One source name and the class it becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappingRow {
    /// The name as the source spells it.
    pub source: String,
    /// The taxonomy class it becomes.
    pub class: String,
    /// Files carrying it (found by the scan; some may still be skipped as unreadable).
    pub count: usize,
    /// The class is not in the taxonomy yet: the import adds it.
    pub new_class: bool,
    /// The class is positive in the binary task.
    pub positive: bool,
}

/// Two files with the same content under different classes (a label conflict of the source).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelConflict {
    pub first: PathBuf,
    pub first_class: String,
    pub second: PathBuf,
    pub second_class: String,
}

/// One usable image.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedImage {
    /// Path relative to the dataset root, '/'-separated.
    pub rel_path: String,
    pub hash: String,
    pub source_label: String,
    pub class: ClassId,
    pub width: u32,
    pub height: u32,
}

/// What happened to the files that were not imported, and other notes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportReport {
    pub layout: Option<Layout>,
    /// The layout was detected rather than given.
    pub detected: bool,
    pub imported: usize,
    /// Which class each source name became, with the images imported under it.
    pub mapping: Vec<MappingRow>,
    pub skipped: Vec<(PathBuf, String)>,
    /// Files whose content equals an earlier file of the same class (kept, but listed).
    pub duplicates: Vec<(PathBuf, PathBuf)>,
    /// Files whose content equals an earlier file of another class (kept, listed, and shown by
    /// the gallery's "label conflicts" filter).
    pub conflicts: Vec<LabelConflict>,
    /// Images smaller than the paper network's input ([`SMALL_SIDE`] px): training upscales
    /// them.
    pub small: usize,
    pub notes: Vec<String>,
}

/// The side of the paper network's input (px): smaller images are upscaled for training.
pub const SMALL_SIDE: u32 = 257;

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(l) = self.layout {
            writeln!(
                f,
                "layout: {l}{}",
                if self.detected { " (detected)" } else { "" }
            )?;
        }
        if !self.mapping.is_empty() {
            f.write_str(&mapping_table(&self.mapping))?;
        }
        writeln!(f, "imported: {} images", self.imported)?;
        if !self.skipped.is_empty() {
            writeln!(f, "skipped: {} files", self.skipped.len())?;
            for (p, why) in &self.skipped {
                writeln!(f, "  {}: {why}", quote_path(p))?;
            }
        }
        if !self.duplicates.is_empty() {
            writeln!(
                f,
                "identical content, same class: {} files",
                self.duplicates.len()
            )?;
            for (a, b) in &self.duplicates {
                writeln!(f, "  {} = {}", quote_path(a), quote_path(b))?;
            }
        }
        if !self.conflicts.is_empty() {
            writeln!(
                f,
                "label conflicts: {} file(s) with the same content as a file of another class \
                 (both imported; the gallery's \"label conflicts\" filter shows them):",
                self.conflicts.len()
            )?;
            for c in &self.conflicts {
                writeln!(
                    f,
                    "  {} ({}) = {} ({})",
                    quote_path(&c.second),
                    c.second_class,
                    quote_path(&c.first),
                    c.first_class
                )?;
            }
        }
        if self.small > 0 {
            writeln!(
                f,
                "warning: {} images are smaller than the network input ({SMALL_SIDE}×{SMALL_SIDE} px); \
                 training upscales them",
                self.small
            )?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}

/// A source name as the mapping table shows it: quoted, or "(no class)" for the cells without
/// one (they become "Unlabelled").
fn source_text(source: &str) -> String {
    if source.is_empty() {
        "(no class)".into()
    } else {
        quote(source)
    }
}

/// The mapping as `leukolens import` prints it: one line per source name.
pub fn mapping_table(rows: &[MappingRow]) -> String {
    let width = rows
        .iter()
        .map(|r| source_text(&r.source).chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::from("class mapping (source name → class, files):\n");
    for r in rows {
        let q = source_text(&r.source);
        let pad = width.saturating_sub(q.chars().count());
        let mut tags = Vec::new();
        if r.new_class {
            tags.push("new class");
        }
        if r.positive {
            tags.push("positive");
        }
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!(" ({})", tags.join(", "))
        };
        out.push_str(&format!(
            "  {q}{} → {}{tags}, {}\n",
            " ".repeat(pad),
            r.class,
            r.count
        ));
    }
    out
}

/// The result of an import: the dataset root, the images, the taxonomy extended with any
/// classes the source has and the taxonomy lacked, and the report.
#[derive(Clone, Debug)]
pub struct ImportOutcome {
    pub root: PathBuf,
    pub images: Vec<ImportedImage>,
    pub taxonomy: Taxonomy,
    pub report: ImportReport,
}
