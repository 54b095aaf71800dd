//! Atomic file writes and path helpers (a leaf: it imports nothing of the crate, so the
//! dataset and sweep modules use it without depending on the project module).

use std::fs::File;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// Folder that holds a project file.
pub fn project_dir(project_path: &Path) -> &Path {
    match project_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `<path>.bak`: the previous version of a file, kept by [`save_with_backup`].
pub fn backup_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".bak");
    PathBuf::from(s)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename,
/// fsync of the folder. Readers see the old or the new content, never a mix.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    check_folder_path(path)?;
    std::fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    // A failed write (a full disk) or rename leaves no temporary file behind.
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // Persist the rename itself (best effort; not supported on every platform).
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Fails, in words, when a folder on the way to `path` is a file ("x is a file, not a
/// folder"), instead of the system's "File exists" or "Not a directory" later.
pub fn check_folder_path(path: &Path) -> std::io::Result<()> {
    for a in path.ancestors().skip(1) {
        if a.as_os_str().is_empty() {
            break;
        }
        match std::fs::metadata(a) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotADirectory,
                    format!("{} is a file, not a directory", a.display()),
                ));
            }
            Err(_) => continue,
        }
    }
    Ok(())
}

/// Saves atomically and keeps the previous content as `<path>.bak` (also atomically), but only
/// when the previous content was itself a readable file.
pub(crate) fn save_with_backup(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Ok(old) = std::fs::read(path)
        && old != bytes
    {
        atomic_write(&backup_path(path), &old)?;
    }
    atomic_write(path, bytes)
}

/// `target` expressed relative to `base` when both are on the same root, else absolute.
/// Both are made absolute against the current directory first.
pub fn relative_path(base: &Path, target: &Path) -> String {
    let abs = |p: &Path| -> PathBuf {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        normalize(&p)
    };
    let (b, t) = (abs(base), abs(target));
    let bc: Vec<Component> = b.components().collect();
    let tc: Vec<Component> = t.components().collect();
    let common = bc.iter().zip(&tc).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return t.to_string_lossy().into_owned();
    }
    let mut rel = PathBuf::new();
    for _ in common..bc.len() {
        rel.push("..");
    }
    for c in &tc[common..] {
        rel.push(c.as_os_str());
    }
    if rel.as_os_str().is_empty() {
        ".".into()
    } else {
        rel.to_string_lossy().replace('\\', "/")
    }
}

/// Removes `.` and resolves `..` lexically.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_path(Path::new("/a/b/projects"), Path::new("/a/b/data/pbc")),
            "../data/pbc"
        );
        assert_eq!(
            relative_path(Path::new("/a/p"), Path::new("/a/p/images")),
            "images"
        );
        assert_eq!(relative_path(Path::new("/a/p"), Path::new("/a/p")), ".");
    }
}
