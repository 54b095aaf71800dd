//! Finding files and their source labels for each [`Layout`], detecting the layout, and
//! mapping source labels onto the taxonomy.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::decode::{has_image_extension, special_file_kind};
use super::synonyms::by_synonym;
use super::types::{Candidate, ImportError, ImportReport, Layout};
use crate::quote::{clip, quote, quote_path};

/// AML-Cytomorphology_LMU codes: (code, class name in our taxonomy, positive).
/// Codes without a counterpart in the default taxonomy become extra classes.
pub(crate) const AML_CODES: [(&str, &str, bool); 15] = [
    ("BAS", "Basophil", false),
    ("EBO", "Erythroblast", false),
    ("EOS", "Eosinophil", false),
    ("KSC", "Smudge cell", false),
    ("LYA", "Atypical lymphocyte", false),
    ("LYT", "Typical lymphocyte", false),
    ("MMZ", "Metamyelocyte", false),
    ("MOB", "Monoblast", true),
    ("MON", "Monocyte", false),
    ("MYB", "Myelocyte", false),
    ("MYO", "Myeloblast", true),
    ("NGB", "Band neutrophil", false),
    ("NGS", "Segmented neutrophil", false),
    ("PMB", "Promyelocyte (bilobed)", false),
    ("PMO", "Promyelocyte", false),
];

/// PBC folders.
const PBC_CLASSES: [&str; 8] = [
    "basophil",
    "eosinophil",
    "erythroblast",
    "ig",
    "lymphocyte",
    "monocyte",
    "neutrophil",
    "platelet",
];

/// PBC label `folder/prefix` → (class name, positive). The prefix refines `ig` and `neutrophil`;
/// an unknown folder is kept as its own class. PBC has no blasts, so no class is positive:
/// immature granulocytes are not blasts (a binary study on PBC chooses two groups instead).
pub(crate) fn pbc_class(label: &str) -> (String, bool) {
    let (folder, prefix) = label.split_once('/').unwrap_or((label, ""));
    let (name, positive) = match (folder, prefix) {
        ("ig", "PMY") => ("Promyelocyte", false),
        ("ig", "MY") => ("Myelocyte", false),
        ("ig", "MMY") => ("Metamyelocyte", false),
        ("ig", _) => ("Immature granulocyte", false),
        ("neutrophil", "BNE") => ("Band neutrophil", false),
        ("neutrophil", "SNE") => ("Segmented neutrophil", false),
        ("neutrophil", _) => ("Neutrophil (unspecified)", false),
        ("basophil", _) => ("Basophil", false),
        ("eosinophil", _) => ("Eosinophil", false),
        ("erythroblast", _) => ("Erythroblast", false),
        ("lymphocyte", _) => ("Typical lymphocyte", false),
        ("monocyte", _) => ("Monocyte", false),
        ("platelet", _) => ("Thrombocyte", false),
        (other, _) => return by_synonym(other),
    };
    (name.to_string(), positive)
}

/// Whether a file name starts like PBC's (`BNE_123.jpg`: capitals, then '_').
fn has_pbc_prefix(name: &str) -> bool {
    name.split_once('_')
        .is_some_and(|(p, _)| !p.is_empty() && p.chars().all(|c| c.is_ascii_uppercase()))
}

/// Result of a layout scan.
pub(crate) struct Scan {
    /// The dataset root: image paths are stored relative to it.
    pub root: PathBuf,
    pub candidates: Vec<Candidate>,
}

const MAX_DEPTH: usize = 8;

/// All regular files under `dir`, sorted, skipping hidden entries; follows no deeper than
/// [`MAX_DEPTH`] levels, and never into a linked folder that contains the folder the link is in
/// (a link loop would list the same images again, under the wrong class).
pub(crate) fn walk_files(
    dir: &Path,
    depth: usize,
    out: &mut Vec<PathBuf>,
) -> Result<(), ImportError> {
    walk_listing(dir, depth, out, &mut Vec::new())
}

/// [`walk_files`], listing in `passed` every entry it does not take and why: hidden entries,
/// link loops, broken links, named pipes and other special files, folders named like images.
pub(crate) fn walk_listing(
    dir: &Path,
    depth: usize,
    out: &mut Vec<PathBuf>,
    passed: &mut Vec<(PathBuf, String)>,
) -> Result<(), ImportError> {
    if depth > MAX_DEPTH {
        passed.push((
            dir.to_path_buf(),
            format!("more than {MAX_DEPTH} folders deep; not searched"),
        ));
        return Ok(());
    }
    let here = dir.canonicalize().ok();
    let (visible, hidden) = entries_split(dir)?;
    for entry in visible {
        match entry_kind(&entry, here.as_deref()) {
            EntryKind::File => out.push(entry),
            EntryKind::Dir => walk_listing(&entry, depth + 1, out, passed)?,
            EntryKind::Skip(why) => passed.push((entry, why)),
        }
    }
    passed.extend(hidden.into_iter().map(|h| (h, HIDDEN.to_string())));
    Ok(())
}

/// Why a hidden entry is not imported.
pub(crate) const HIDDEN: &str = "hidden (its name starts with '.'); not imported";

/// What a folder entry is to a scan.
pub(crate) enum EntryKind {
    File,
    Dir,
    /// Not taken, and why.
    Skip(String),
}

/// Classifies an entry: a regular file, a folder to search, or something to list and skip.
/// `here` is the canonical folder the entry is in (for noticing link loops).
pub(crate) fn entry_kind(entry: &Path, here: Option<&Path>) -> EntryKind {
    let is_link = std::fs::symlink_metadata(entry).is_ok_and(|m| m.file_type().is_symlink());
    let meta = match std::fs::metadata(entry) {
        Ok(m) => m,
        Err(e) if is_link && e.kind() == std::io::ErrorKind::NotFound => {
            return EntryKind::Skip("a broken symbolic link (its target does not exist)".into());
        }
        Err(e) if is_link && e.raw_os_error() == Some(libc::ELOOP) => {
            return EntryKind::Skip("a symbolic link loop (the link leads back to itself)".into());
        }
        Err(e) => return EntryKind::Skip(format!("cannot read it: {e}")),
    };
    if meta.is_dir() {
        if is_link
            && let (Some(here), Ok(target)) = (here, entry.canonicalize())
            && here.starts_with(&target)
        {
            return EntryKind::Skip(
                "a link to a folder that contains it (a loop); not followed".into(),
            );
        }
        if has_image_extension(entry) {
            return EntryKind::Skip("a folder named like an image file; not imported".into());
        }
        return EntryKind::Dir;
    }
    if meta.is_file() {
        return EntryKind::File;
    }
    EntryKind::Skip(format!(
        "{}, not a regular file; not imported",
        special_file_kind(&meta.file_type())
    ))
}

/// The entries of `dir`, sorted: (visible, hidden). Hidden names start with '.'.
fn entries_split(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), ImportError> {
    let rd = std::fs::read_dir(dir).map_err(|source| ImportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let (hidden, mut visible): (Vec<PathBuf>, Vec<PathBuf>) =
        rd.filter_map(|e| e.ok()).map(|e| e.path()).partition(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        });
    let mut hidden = hidden;
    visible.sort();
    hidden.sort();
    Ok((visible, hidden))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
    Ok(entries_split(dir)?.0)
}

/// The folders in `dir` a scan searches (see [`entry_kind`]).
fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let here = dir.canonicalize().ok();
    Ok(sorted_entries(dir)?
        .into_iter()
        .filter(|p| matches!(entry_kind(p, here.as_deref()), EntryKind::Dir))
        .collect())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Parses an ALL-IDB file name `ImNNN_L.ext` into L.
fn allidb_label(name: &str) -> Option<u8> {
    let stem = name.rsplit_once('.')?.0;
    let rest = stem.strip_prefix("Im")?;
    let (num, label) = rest.split_once('_')?;
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    match label {
        "0" => Some(0),
        "1" => Some(1),
        _ => None,
    }
}

/// The layout to import `source` with: `layout`, or the detected one (then `true`).
pub(crate) fn resolve_layout(
    source: &Path,
    layout: Option<Layout>,
) -> Result<(Layout, bool), ImportError> {
    if !source.exists() {
        return Err(ImportError::NotFound(source.to_path_buf()));
    }
    match layout {
        Some(l) => Ok((l, false)),
        None => Ok((
            detect_layout(source)?.ok_or_else(|| ImportError::UnknownLayout(source.into()))?,
            true,
        )),
    }
}

/// Detects the layout of `source`. `Ok(None)` when nothing fits.
pub fn detect_layout(source: &Path) -> Result<Option<Layout>, ImportError> {
    if source.is_file() {
        let is_csv = source
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        return Ok(is_csv.then_some(Layout::Csv));
    }
    let dirs: Vec<String> = subdirs(source)?.iter().map(|d| file_name(d)).collect();
    let aml = dirs
        .iter()
        .filter(|d| AML_CODES.iter().any(|(c, _, _)| c == d))
        .count();
    if aml >= 3 && aml * 2 > dirs.len() {
        return Ok(Some(Layout::AmlLmu));
    }
    let pbc = dirs
        .iter()
        .filter(|d| PBC_CLASSES.iter().any(|c| c == d))
        .count();
    if pbc >= 3 && pbc * 2 > dirs.len() {
        // Folder names alone could be any image folder: PBC files also carry a class prefix.
        let mut files = Vec::new();
        for d in subdirs(source)? {
            walk_files(&d, 1, &mut files)?;
        }
        let prefixed = files
            .iter()
            .filter(|p| has_pbc_prefix(&file_name(p)))
            .count();
        if prefixed * 2 > files.len() {
            return Ok(Some(Layout::Pbc));
        }
    }
    let files: Vec<PathBuf> = sorted_entries(source)?
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    let images: Vec<&PathBuf> = files.iter().filter(|p| has_image_extension(p)).collect();
    let allidb = images
        .iter()
        .filter(|p| allidb_label(&file_name(p)).is_some())
        .count();
    if allidb > 0 && allidb * 2 > images.len() {
        return Ok(Some(Layout::AllIdb));
    }
    let mut with_images = 0;
    for d in subdirs(source)? {
        let mut f = Vec::new();
        walk_files(&d, 1, &mut f)?;
        if f.iter().any(|p| has_image_extension(p)) {
            with_images += 1;
        }
    }
    if with_images > 0 {
        return Ok(Some(Layout::ImageFolder));
    }
    let csvs: Vec<&PathBuf> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
        .collect();
    if csvs.len() == 1 {
        return Ok(Some(Layout::Csv));
    }
    if !images.is_empty() {
        // Images and no class folders: a folder of cells nobody has classified yet.
        return Ok(Some(Layout::ImageFolder));
    }
    Ok(None)
}

/// Lists candidate files and their source labels.
pub(crate) fn scan(
    source: &Path,
    layout: Layout,
    report: &mut ImportReport,
) -> Result<Scan, ImportError> {
    let mut candidates = Vec::new();
    let root = match layout {
        Layout::Csv => return scan_csv(source, report),
        _ => {
            if !source.is_dir() {
                return Err(ImportError::NotFound(source.to_path_buf()));
            }
            source.to_path_buf()
        }
    };
    match layout {
        Layout::ImageFolder | Layout::AmlLmu | Layout::Pbc => {
            list_root_passed(&root, report)?;
            for d in subdirs(&root)? {
                let folder = file_name(&d);
                if layout == Layout::AmlLmu && !AML_CODES.iter().any(|(c, _, _)| *c == folder) {
                    report.notes.push(format!(
                        "folder {} is not an AML-Cytomorphology_LMU code; mapped by name",
                        quote(&folder)
                    ));
                }
                let mut files = Vec::new();
                walk_listing(&d, 1, &mut files, &mut report.skipped)?;
                for path in files {
                    let source_label = if layout == Layout::Pbc {
                        let prefix = file_name(&path)
                            .split('_')
                            .next()
                            .unwrap_or_default()
                            .to_string();
                        format!("{folder}/{prefix}")
                    } else {
                        folder.clone()
                    };
                    candidates.push(Candidate { path, source_label });
                }
            }
            let loose = sorted_entries(&root)?.into_iter();
            for f in loose.filter(|p| p.is_file() && has_image_extension(p)) {
                if layout == Layout::ImageFolder {
                    // No class folder: the image has no class yet ("Unlabelled").
                    candidates.push(Candidate {
                        path: f,
                        source_label: String::new(),
                    });
                } else {
                    report.skipped.push((
                        f,
                        "image outside a class folder: its class is unknown".into(),
                    ));
                }
            }
        }
        Layout::AllIdb => {
            list_root_passed(&root, report)?;
            for path in sorted_entries(&root)?.into_iter().filter(|p| p.is_file()) {
                match allidb_label(&file_name(&path)) {
                    Some(l) => candidates.push(Candidate {
                        path,
                        source_label: l.to_string(),
                    }),
                    None if has_image_extension(&path) => report.skipped.push((
                        path,
                        "name does not follow ALL-IDB's ImNNN_L pattern".into(),
                    )),
                    None => {}
                }
            }
        }
        Layout::Csv => unreachable!("handled above"),
    }
    Ok(Scan { root, candidates })
}

/// Lists what the root of a folder layout holds besides class folders and files: hidden
/// entries, broken links, link loops, named pipes, folders named like images.
fn list_root_passed(root: &Path, report: &mut ImportReport) -> Result<(), ImportError> {
    let here = root.canonicalize().ok();
    let (visible, hidden) = entries_split(root)?;
    for entry in visible {
        if let EntryKind::Skip(why) = entry_kind(&entry, here.as_deref()) {
            report.skipped.push((entry, why));
        }
    }
    report
        .skipped
        .extend(hidden.into_iter().map(|h| (h, HIDDEN.to_string())));
    Ok(())
}

fn scan_csv(source: &Path, report: &mut ImportReport) -> Result<Scan, ImportError> {
    let csv_path = if source.is_file() {
        source.to_path_buf()
    } else {
        let csvs: Vec<PathBuf> = sorted_entries(source)?
            .into_iter()
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
            .collect();
        match csvs.as_slice() {
            [one] => one.clone(),
            [] => return Err(ImportError::NotFound(source.join("*.csv"))),
            _ => {
                return Err(ImportError::Csv {
                    path: source.into(),
                    message: "several CSV files; name the one to import".into(),
                });
            }
        }
    };
    let root = csv_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(&csv_path)
        .map_err(|e| ImportError::Csv {
            path: csv_path.clone(),
            message: e.to_string(),
        })?;
    let mut candidates = Vec::new();
    let mut seen = BTreeSet::new();
    let mut notes = RowNotes::new(&csv_path);
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 1;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                notes.add("unreadable", line, clip(&e.to_string()));
                continue;
            }
        };
        // A row with an empty class (`path,`) is an image nobody has classified: it gets the
        // class "Unlabelled". A row of one field is still a mistake (`path,label` expected).
        let (Some(path), Some(label)) = (rec.get(0), rec.get(1)) else {
            notes.add("not `path,label`", line, "expected `path,label`".into());
            continue;
        };
        if i == 0 && path.eq_ignore_ascii_case("path") {
            continue; // header
        }
        if path.is_empty() {
            notes.add("empty", line, "empty path".into());
            continue;
        }
        let full = root.join(path);
        if !seen.insert(full.clone()) {
            notes.add(
                "repeated",
                line,
                format!("{} listed twice, first label kept", quote(path)),
            );
            continue;
        }
        match entry_kind(&full, None) {
            EntryKind::File => candidates.push(Candidate {
                path: full,
                source_label: label.to_string(),
            }),
            EntryKind::Dir => report.skipped.push((
                full,
                "listed in the CSV but a folder, not an image file".into(),
            )),
            EntryKind::Skip(_) if !full.exists() && std::fs::symlink_metadata(&full).is_err() => {
                report
                    .skipped
                    .push((full, "listed in the CSV but not found".into()))
            }
            EntryKind::Skip(why) => report
                .skipped
                .push((full, format!("listed in the CSV but {why}"))),
        }
    }
    report.notes.extend(notes.finish());
    Ok(Scan { root, candidates })
}

/// Notes about CSV rows, a few of each kind in full and the rest counted (100,000 repeated
/// rows give one line, not 100,000).
struct RowNotes {
    csv: String,
    /// kind → (rows, the first few notes).
    kinds: BTreeMap<&'static str, (usize, Vec<String>)>,
}

/// Rows of one kind noted in full before the rest are only counted.
const NOTES_PER_KIND: usize = 5;

impl RowNotes {
    fn new(csv: &Path) -> Self {
        Self {
            csv: quote_path(csv),
            kinds: BTreeMap::new(),
        }
    }

    fn add(&mut self, kind: &'static str, line: usize, text: String) {
        let (n, first) = self.kinds.entry(kind).or_default();
        *n += 1;
        if first.len() < NOTES_PER_KIND {
            first.push(format!("{}: line {line}: {text}", self.csv));
        }
    }

    fn finish(self) -> Vec<String> {
        let mut out = Vec::new();
        for (kind, (n, first)) in self.kinds {
            let shown = first.len();
            out.extend(first);
            if n > shown {
                out.push(format!(
                    "{}: {} more rows like these ({kind}), {n} in all",
                    self.csv,
                    n - shown
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbc_flags_no_class_positive() {
        for label in [
            "ig/PMY",
            "ig/MY",
            "ig/MMY",
            "ig/IG",
            "erythroblast/ERB",
            "neutrophil/SNE",
        ] {
            assert!(!pbc_class(label).1, "{label}");
        }
    }

    #[test]
    fn allidb_names() {
        assert_eq!(allidb_label("Im001_1.tif"), Some(1));
        assert_eq!(allidb_label("Im260_0.tif"), Some(0));
        assert_eq!(allidb_label("Im260_2.tif"), None);
        assert_eq!(allidb_label("image_1.tif"), None);
        assert_eq!(allidb_label("Im_1.tif"), None);
    }
}
