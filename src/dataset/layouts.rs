//! Finding files and their source labels for each [`Layout`], detecting the layout, and
//! mapping source labels onto the taxonomy.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::decode::has_image_extension;
use super::types::{Candidate, ImportError, ImportReport, Layout};
use crate::taxonomy::{ClassId, Taxonomy};

/// AML-Cytomorphology_LMU codes: (code, class name in our taxonomy, positive).
/// Codes without a counterpart in the default taxonomy become extra classes.
const AML_CODES: [(&str, &str, bool); 15] = [
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
fn pbc_class(label: &str) -> (String, bool) {
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
        (other, _) => return (other.to_string(), is_blast_name(other)),
    };
    (name.to_string(), positive)
}

/// Whether a class name names a blast (a word ending in "blast": blast, myeloblast, lymphoblast,
/// monoblast, …), which makes a new class positive in the binary task. Erythroblasts and
/// normoblasts are nucleated red cells, not leukaemic blasts.
pub fn is_blast_name(name: &str) -> bool {
    name.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .any(|w| {
            let w = w.strip_suffix('s').unwrap_or(w);
            w.ends_with("blast") && w != "erythroblast" && w != "normoblast"
        })
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
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let here = dir.canonicalize().ok();
    for entry in sorted_entries(dir)? {
        if entry.is_dir() {
            let is_link =
                std::fs::symlink_metadata(&entry).is_ok_and(|m| m.file_type().is_symlink());
            if is_link
                && let (Some(here), Ok(target)) = (&here, entry.canonicalize())
                && here.starts_with(&target)
            {
                continue;
            }
            walk_files(&entry, depth + 1, out)?;
        } else if entry.is_file() {
            out.push(entry);
        }
    }
    Ok(())
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let rd = std::fs::read_dir(dir).map_err(|source| ImportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    v.sort();
    Ok(v)
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
    Ok(sorted_entries(dir)?
        .into_iter()
        .filter(|p| p.is_dir())
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
            for d in subdirs(&root)? {
                let folder = file_name(&d);
                if layout == Layout::AmlLmu && !AML_CODES.iter().any(|(c, _, _)| *c == folder) {
                    report.notes.push(format!(
                        "folder {folder} is not an AML-Cytomorphology_LMU code; kept as its own class"
                    ));
                }
                let mut files = Vec::new();
                walk_files(&d, 1, &mut files)?;
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
            for f in sorted_entries(&root)?.into_iter().filter(|p| p.is_file()) {
                if has_image_extension(&f) {
                    report.skipped.push((
                        f,
                        "image outside a class folder: its class is unknown".into(),
                    ));
                }
            }
        }
        Layout::AllIdb => {
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
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 1;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                report
                    .notes
                    .push(format!("{}: line {line}: {e}", csv_path.display()));
                continue;
            }
        };
        let (Some(path), Some(label)) = (rec.get(0), rec.get(1)) else {
            report.notes.push(format!(
                "{}: line {line}: expected `path,label`",
                csv_path.display()
            ));
            continue;
        };
        if i == 0 && path.eq_ignore_ascii_case("path") {
            continue; // header
        }
        if path.is_empty() || label.is_empty() {
            report.notes.push(format!(
                "{}: line {line}: empty path or label",
                csv_path.display()
            ));
            continue;
        }
        let full = root.join(path);
        if !seen.insert(full.clone()) {
            report.notes.push(format!(
                "{}: line {line}: {path} listed twice, first label kept",
                csv_path.display()
            ));
            continue;
        }
        if !full.is_file() {
            report
                .skipped
                .push((full, "listed in the CSV but not found".into()));
            continue;
        }
        candidates.push(Candidate {
            path: full,
            source_label: label.to_string(),
        });
    }
    Ok(Scan { root, candidates })
}

/// Maps source labels onto taxonomy classes, adding classes the taxonomy lacks.
pub(crate) struct LabelMapper {
    layout: Layout,
    cache: BTreeMap<String, ClassId>,
    added: Vec<String>,
}

impl LabelMapper {
    pub fn new(layout: Layout) -> Self {
        Self {
            layout,
            cache: BTreeMap::new(),
            added: Vec::new(),
        }
    }

    pub fn map(&mut self, source_label: &str, taxonomy: &mut Taxonomy) -> ClassId {
        if let Some(id) = self.cache.get(source_label) {
            return *id;
        }
        let (name, positive): (String, bool) = match self.layout {
            Layout::AmlLmu => AML_CODES
                .iter()
                .find(|(c, _, _)| *c == source_label)
                .map(|(_, n, p)| (n.to_string(), *p))
                .unwrap_or_else(|| (source_label.to_string(), false)),
            Layout::Pbc => pbc_class(source_label),
            Layout::AllIdb => {
                if source_label == "1" {
                    // The first class flagged positive (Lymphoblast by default).
                    match taxonomy.classes.iter().find(|c| c.positive) {
                        Some(c) => (c.name.clone(), true),
                        None => ("Blast".into(), true),
                    }
                } else {
                    ("Non-blast".into(), false)
                }
            }
            Layout::ImageFolder | Layout::Csv => {
                (source_label.to_string(), is_blast_name(source_label))
            }
        };
        let id = match find_loose(taxonomy, &name) {
            Some(id) => id,
            None => {
                let pretty = prettify(&name);
                match taxonomy.add(&pretty, positive) {
                    Ok(id) => {
                        self.added.push(pretty);
                        id
                    }
                    // add() only fails for an empty or duplicate name; both are covered by
                    // find_loose, but never panic on user data.
                    Err(_) => find_loose(taxonomy, &pretty)
                        .unwrap_or_else(|| taxonomy.add("Unlabelled", false).unwrap_or(ClassId(0))),
                }
            }
        };
        self.cache.insert(source_label.to_string(), id);
        id
    }

    pub fn notes(&self) -> Vec<String> {
        if self.added.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "classes added to the taxonomy: {}",
                self.added.join(", ")
            )]
        }
    }
}

/// Finds a class by name or code, treating '_' and '-' as spaces ("typical_lymphocyte").
fn find_loose(t: &Taxonomy, name: &str) -> Option<ClassId> {
    t.find(name)
        .or_else(|| t.find(&prettify(name)))
        .or_else(|| t.find(&name.replace(['_', '-'], " ")))
}

fn prettify(name: &str) -> String {
    let s = name.replace('_', " ");
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.is_empty() { "Unlabelled".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_blast_names_are_blasts() {
        for name in [
            "blast",
            "Blasts",
            "myeloblast",
            "Lymphoblast",
            "monoblast",
            "BLAST_cells",
        ] {
            assert!(is_blast_name(name), "{name}");
        }
        for name in [
            "erythroblast",
            "Erythroblasts",
            "normoblast",
            "immature granulocyte",
            "Metamyelocyte",
            "Promyelocyte",
            "lymphocyte",
            "blastoid-free",
        ] {
            assert!(!is_blast_name(name), "{name}");
        }
    }

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

    #[test]
    fn loose_names_match_the_taxonomy() {
        let t = Taxonomy::default_allidb();
        assert_eq!(
            find_loose(&t, "typical_lymphocyte"),
            t.find("Typical lymphocyte")
        );
        assert_eq!(find_loose(&t, "NGS"), t.find("Segmented neutrophil"));
        assert_eq!(find_loose(&t, "plasma_cell"), None);
    }
}
