//! Importing single-cell image collections: layout detection, label mapping onto the
//! taxonomy, decoding checks and content hashes.
//!
//! Import never aborts for one bad file: every file that cannot be used is listed in the
//! [`ImportReport`] with a reason.

pub mod decode;
mod layouts;
pub mod thumbs;
mod types;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::taxonomy::Taxonomy;
pub use decode::{DecodeError, content_hash, decode_rgb8, load_rgb8, to_chw_u8};
pub use layouts::detect_layout;
pub(crate) use types::Candidate;
pub use types::{ImportError, ImportOutcome, ImportReport, ImportedImage, Layout};

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
    if !source.exists() {
        return Err(ImportError::NotFound(source.to_path_buf()));
    }
    let (layout, detected) = match layout {
        Some(l) => (l, false),
        None => (
            detect_layout(source)?.ok_or_else(|| ImportError::UnknownLayout(source.into()))?,
            true,
        ),
    };
    let mut taxonomy = taxonomy;
    let mut report = ImportReport {
        layout: Some(layout),
        detected,
        ..Default::default()
    };
    let scan = layouts::scan(source, layout, &mut report)?;
    let root = scan.root;
    let mut mapper = layouts::LabelMapper::new(layout);

    let checked = check_files(&scan.candidates, progress);
    let mut images = Vec::with_capacity(checked.len());
    let mut first_by_hash: std::collections::HashMap<String, PathBuf> = Default::default();
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
                if let Some(first) = first_by_hash.get(&hash) {
                    report.duplicates.push((cand.path.clone(), first.clone()));
                } else {
                    first_by_hash.insert(hash.clone(), cand.path.clone());
                }
                let class = mapper.map(&cand.source_label, &mut taxonomy);
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
    report.notes.extend(mapper.notes());
    report.imported = images.len();
    if images.is_empty() {
        // Why, in short: the first reasons files were skipped and the layout's notes.
        let mut why: Vec<String> = report
            .skipped
            .iter()
            .take(5)
            .map(|(p, r)| format!("{}: {r}", p.display()))
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
        return Err(ImportError::NoImages(source.to_path_buf(), why));
    }
    Ok(ImportOutcome {
        root,
        images,
        taxonomy,
        report,
    })
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
