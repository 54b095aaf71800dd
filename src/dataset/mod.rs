//! Importing single-cell image collections: layout detection, label mapping onto the
//! taxonomy, decoding checks and content hashes.
//!
//! Import never aborts for one bad file: every file that cannot be used is listed in the
//! [`ImportReport`] with a reason.

pub mod decode;
mod layouts;
pub mod mapping;
pub mod synonyms;
pub mod thumbs;
mod types;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::quote::quote_path;
use crate::taxonomy::{ClassId, Taxonomy};
pub use decode::{DecodeError, content_hash, decode_rgb8, load_rgb8, to_chw_u8};
pub use layouts::detect_layout;
use mapping::{LabelMapper, unused_overrides};
pub use mapping::{MappingOverrides, ProposedMapping, propose_mapping, read_mapping_csv};
pub use synonyms::is_blast_name;
pub(crate) use types::Candidate;
pub use types::{
    ImportError, ImportOutcome, ImportReport, ImportedImage, LabelConflict, Layout, MappingRow,
    SMALL_SIDE, mapping_table,
};

/// Progress callback: (done, total).
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// Imports `source` (a folder, or a CSV file for the csv layout). `layout = None` detects it.
/// Labels are mapped onto `taxonomy`; classes it lacks are added.
pub fn import(
    source: &Path,
    layout: Option<Layout>,
    taxonomy: Taxonomy,
    progress: Progress<'_>,
) -> Result<ImportOutcome, ImportError> {
    import_with(source, layout, taxonomy, &MappingOverrides::new(), progress)
}

/// [`import`] with the user's class mapping: source name → class name (from `--map` or the
/// GUI's mapping dialog); other source names are mapped as [`propose_mapping`] proposes.
pub fn import_with(
    source: &Path,
    layout: Option<Layout>,
    taxonomy: Taxonomy,
    overrides: &MappingOverrides,
    progress: Progress<'_>,
) -> Result<ImportOutcome, ImportError> {
    let (layout, detected) = layouts::resolve_layout(source, layout)?;
    let mut taxonomy = taxonomy;
    let before: Vec<ClassId> = taxonomy.classes.iter().map(|c| c.id).collect();
    let mut report = ImportReport {
        layout: Some(layout),
        detected,
        ..Default::default()
    };
    let scan = layouts::scan(source, layout, &mut report)?;
    let root = scan.root;
    let mut mapper = LabelMapper::new(layout, overrides.clone());

    let checked = check_files(&scan.candidates, progress);
    let mut images = Vec::with_capacity(checked.len());
    let mut first_by_hash: HashMap<String, (PathBuf, ClassId)> = HashMap::new();
    for (cand, res) in scan.candidates.iter().zip(checked) {
        // A path is stored as text: one that is not valid UTF-8 could not be found again.
        if cand
            .path
            .strip_prefix(&root)
            .unwrap_or(&cand.path)
            .to_str()
            .is_none()
        {
            report.skipped.push((
                cand.path.clone(),
                "the file or folder name is not valid UTF-8; rename it to import it".into(),
            ));
            continue;
        }
        match res {
            Err(e) => report.skipped.push((cand.path.clone(), e.to_string())),
            Ok((hash, width, height)) => {
                let class = mapper.map(&cand.source_label, &mut taxonomy);
                note_same_content(
                    &mut report,
                    &mut first_by_hash,
                    &hash,
                    &cand.path,
                    class,
                    &taxonomy,
                );
                if width.min(height) < SMALL_SIDE {
                    report.small += 1;
                }
                images.push(ImportedImage {
                    rel_path: rel_slash_path(&root, &cand.path),
                    hash,
                    source_label: cand.source_label.clone(),
                    class,
                    width,
                    height,
                });
            }
        }
    }
    report.mapping = imported_mapping(&mut mapper, &mut taxonomy, &before, &images);
    let sources: Vec<String> = report.mapping.iter().map(|r| r.source.clone()).collect();
    report.notes.extend(unused_overrides(overrides, &sources));
    report.notes.extend(mapper.notes());
    report.imported = images.len();
    if images.is_empty() {
        return Err(no_images(source, &report));
    }
    Ok(ImportOutcome {
        root,
        images,
        taxonomy,
        report,
    })
}

/// Lists a file whose content an earlier file has: a duplicate when both have the same class,
/// a label conflict when they do not.
fn note_same_content(
    report: &mut ImportReport,
    first_by_hash: &mut HashMap<String, (PathBuf, ClassId)>,
    hash: &str,
    path: &Path,
    class: ClassId,
    taxonomy: &Taxonomy,
) {
    match first_by_hash.get(hash) {
        Some((first, c)) if *c == class => {
            report.duplicates.push((path.to_path_buf(), first.clone()))
        }
        Some((first, c)) => report.conflicts.push(LabelConflict {
            first: first.clone(),
            first_class: taxonomy.name(*c),
            second: path.to_path_buf(),
            second_class: taxonomy.name(class),
        }),
        None => {
            first_by_hash.insert(hash.to_string(), (path.to_path_buf(), class));
        }
    }
}

/// The mapping rows of the images imported (source names in order, with their counts).
fn imported_mapping(
    mapper: &mut LabelMapper,
    taxonomy: &mut Taxonomy,
    before: &[ClassId],
    images: &[ImportedImage],
) -> Vec<MappingRow> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for im in images {
        *counts.entry(im.source_label.clone()).or_default() += 1;
    }
    let counts: Vec<(String, usize)> = counts.into_iter().collect();
    mapping::mapping_rows(mapper, taxonomy, before, &counts)
}

/// The error for an import that found nothing usable: why, in short (the first reasons files
/// were skipped and the layout's notes).
fn no_images(source: &Path, report: &ImportReport) -> ImportError {
    let mut why: Vec<String> = report
        .skipped
        .iter()
        .take(5)
        .map(|(p, r)| format!("{}: {r}", quote_path(p)))
        .collect();
    if report.skipped.len() > 5 {
        why.push(format!(
            "… and {} more skipped files",
            report.skipped.len() - 5
        ));
    }
    why.extend(report.notes.iter().take(5).cloned());
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(":\n  {}", why.join("\n  "))
    };
    ImportError::NoImages(source.to_path_buf(), why)
}

/// Maps `f` over `0..n` on all cores (a shared work counter, so slow items do not hold up a
/// whole chunk), reporting progress after every item. Results come back in index order; an item
/// whose worker panicked is `None`.
pub fn par_map<T: Send>(
    n: usize,
    progress: Progress<'_>,
    f: impl Fn(usize) -> T + Sync,
) -> Vec<Option<T>> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(8);
    let parts: Vec<Vec<(usize, T)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        out.push((i, f(i)));
                        progress(done.fetch_add(1, Ordering::Relaxed) + 1, n);
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut results: Vec<Option<T>> = (0..n).map(|_| None).collect();
    for part in parts {
        for (i, r) in part {
            results[i] = Some(r);
        }
    }
    results
}

/// Reads, hashes and fully decodes each candidate on all cores. Returns (hash, w, h) or why not.
fn check_files(
    candidates: &[Candidate],
    progress: Progress<'_>,
) -> Vec<Result<(String, u32, u32), DecodeError>> {
    par_map(candidates.len(), progress, |i| {
        check_one(&candidates[i].path)
    })
    .into_iter()
    .map(|r| r.unwrap_or_else(|| Err(DecodeError::Corrupt("the decoder failed".into()))))
    .collect()
}

fn check_one(path: &Path) -> Result<(String, u32, u32), DecodeError> {
    let bytes = decode::read_limited(path)?;
    let img = decode_rgb8(&bytes)?;
    Ok((content_hash(&bytes), img.width(), img.height()))
}

/// `path` relative to `root` with '/' separators (falls back to the full path).
pub fn rel_slash_path(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Hashes every image file under `dir` (recursively), for re-linking a moved dataset.
/// Returns (hash, path relative to `dir`).
pub fn hash_tree(dir: &Path, progress: Progress<'_>) -> Result<Vec<(String, String)>, ImportError> {
    let mut files = Vec::new();
    layouts::walk_files(dir, 0, &mut files)?;
    files.retain(|p| decode::has_image_extension(p));
    let hashed = par_map(files.len(), progress, |i| {
        decode::read_limited(&files[i])
            .ok()
            .map(|bytes| (content_hash(&bytes), rel_slash_path(dir, &files[i])))
    });
    let mut v: Vec<(String, String)> = hashed.into_iter().flatten().flatten().collect();
    v.sort();
    Ok(v)
}
