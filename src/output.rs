//! The one rule for every file written to a path a person names (`explain -o`, `report --out`,
//! `train --save-as`, the desktop application's exports): [`check_output`] decides, and the
//! command line and the GUI both call it.
//!
//! - Never written over, whatever the flags: the project file and every file beside it whose
//!   name starts with the project file's name (its backup, its journal, its lock), anything in
//!   its sweeps folder except the `report/` and `explain/` folders, anything in its models and
//!   thumbnails folders, and the project's dataset images.
//! - Any other file that exists is replaced only when the caller says so ([`Overwrite::Allowed`]:
//!   `--force` on the command line, a confirmation in the GUI).

use std::fmt;
use std::path::{Component, Path, PathBuf};

use crate::project::Project;
use crate::project::store::project_dir;
use crate::sweep::store::sweeps_root;
use crate::train::experiment::models_dir;

/// Whether an existing (unprotected) file may be replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overwrite {
    /// Only new files are written.
    Refused,
    /// Existing files are replaced (`--force`, or the person confirmed).
    Allowed,
}

impl Overwrite {
    /// `Allowed` when `force` is set.
    pub fn from_force(force: bool) -> Overwrite {
        if force {
            Overwrite::Allowed
        } else {
            Overwrite::Refused
        }
    }
}

/// Why a path may not be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputError {
    /// The path holds the project's own data (`what` says which); no flag allows it.
    Protected { path: PathBuf, what: &'static str },
    /// The file exists; it is replaced only with `--force` (or a confirmation).
    Exists(PathBuf),
    /// The path is a folder.
    IsFolder(PathBuf),
}

impl fmt::Display for OutputError {
    /// The command line's words (the GUI asks instead of naming `--force`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::Protected { path, what } => write!(
                f,
                "refusing to write over {}: it is {what}; choose another file",
                path.display()
            ),
            OutputError::Exists(path) => write!(
                f,
                "{} exists; give --force to replace it, or choose another file",
                path.display()
            ),
            OutputError::IsFolder(path) => {
                write!(f, "{} is a folder; name a file", path.display())
            }
        }
    }
}

/// Checks that `target` may be written for the project at `project_path` (its `project`, when
/// open, for the dataset images). `Ok` when it is new, or exists and `overwrite` allows it.
pub fn check_output(
    project_path: &Path,
    project: Option<&Project>,
    target: &Path,
    overwrite: Overwrite,
) -> Result<(), OutputError> {
    let resolved = resolve(target);
    if let Some(what) = protected_kind(project_path, project, &resolved) {
        return Err(OutputError::Protected {
            path: target.to_path_buf(),
            what,
        });
    }
    match std::fs::metadata(target) {
        Ok(m) if m.is_dir() => Err(OutputError::IsFolder(target.to_path_buf())),
        Ok(_) if overwrite == Overwrite::Refused => Err(OutputError::Exists(target.to_path_buf())),
        _ => Ok(()),
    }
}

/// Which of the project's own files `resolved` is, if any.
fn protected_kind(
    project_path: &Path,
    project: Option<&Project>,
    resolved: &Path,
) -> Option<&'static str> {
    let project_file = resolve(project_path);
    if resolved == project_file {
        return Some("the project file");
    }
    let name = project_file.file_name()?.to_string_lossy().into_owned();
    if resolved.parent() == project_file.parent()
        && resolved
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{name}.")))
    {
        return Some("a file of the project (its backup, journal or lock)");
    }
    let sweeps = resolve(&sweeps_root(project_path));
    if let Ok(inside) = resolved.strip_prefix(&sweeps) {
        // <sweeps>/<sweep>/report/… and <sweeps>/<sweep>/explain/… are exports.
        let parts: Vec<Component> = inside.components().collect();
        let export =
            parts.len() > 2 && matches!(parts[1].as_os_str().to_str(), Some("report" | "explain"));
        if !export {
            return Some("part of a sweep's results (snapshot, run records, models, image cache)");
        }
    }
    if resolved.starts_with(resolve(&models_dir(project_path))) {
        return Some("a saved model of the project");
    }
    if resolved.starts_with(resolve(&thumbs_dir(project_path))) {
        return Some("the project's thumbnail cache");
    }
    if let Some(p) = project
        && is_dataset_image(project_path, p, resolved)
    {
        return Some("an image of the project's dataset");
    }
    None
}

/// `<project stem>.thumbs/` beside the project file.
fn thumbs_dir(project_path: &Path) -> PathBuf {
    let stem = project_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    project_dir(project_path).join(format!("{stem}.thumbs"))
}

/// Whether `resolved` is one of the project's images (only images with the same file name are
/// resolved on disk).
fn is_dataset_image(project_path: &Path, project: &Project, resolved: &Path) -> bool {
    let Some(name) = resolved.file_name() else {
        return false;
    };
    let name = name.to_string_lossy();
    project
        .images
        .iter()
        .filter(|im| {
            Path::new(&im.path)
                .file_name()
                .is_some_and(|n| n.to_string_lossy() == name)
        })
        .any(|im| resolve(&project.image_path(project_path, im)) == resolved)
}

/// `path` absolute, with links resolved as far as it exists (the rest appended).
fn resolve(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = cur.canonicalize() {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projects_files_are_protected_and_other_files_need_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = crate::demo::create_demo_project(&dir.path().join("d"), 2, 32, 1).unwrap();
        let project = Project::load(&path).unwrap();
        let sweep = dir.path().join("d/demo.sweeps/q");
        std::fs::create_dir_all(sweep.join("models")).unwrap();
        std::fs::create_dir_all(sweep.join("report")).unwrap();
        std::fs::write(sweep.join("snapshot.ron"), "x").unwrap();
        std::fs::write(sweep.join("report/report.html"), "x").unwrap();
        let image = project.image_path(&path, &project.images[0]);
        let allowed = Overwrite::Allowed;
        let protected = [
            path.clone(),
            crate::project::backup_path(&path),
            crate::project::Journal::path_for(&path),
            sweep.join("snapshot.ron"),
            sweep.join("models/f00-n0010.bpk"),
            dir.path().join("d/demo.models/q.bpk"),
            image.clone(),
            // The same image by another spelling of its path.
            image.parent().unwrap().join("..").join(
                image
                    .strip_prefix(image.parent().unwrap().parent().unwrap())
                    .unwrap(),
            ),
        ];
        for p in &protected {
            let e = check_output(&path, Some(&project), p, allowed).unwrap_err();
            assert!(matches!(e, OutputError::Protected { .. }), "{p:?}: {e}");
        }
        // An export in the sweep's report folder, and a file elsewhere: --force replaces it.
        let other = dir.path().join("out.png");
        std::fs::write(&other, "x").unwrap();
        for p in [sweep.join("report/report.html"), other] {
            assert_eq!(
                check_output(&path, Some(&project), &p, Overwrite::Refused),
                Err(OutputError::Exists(p.clone()))
            );
            check_output(&path, Some(&project), &p, allowed).unwrap();
        }
        check_output(
            &path,
            Some(&project),
            &dir.path().join("new.png"),
            Overwrite::Refused,
        )
        .unwrap();
        assert_eq!(
            check_output(&path, None, dir.path(), allowed),
            Err(OutputError::IsFolder(dir.path().to_path_buf()))
        );
    }
}
