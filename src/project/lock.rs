//! One writer per project: an OS advisory lock on `<project>.lock`, beside the project file.
//!
//! The lock is the operating system's (`flock` on Unix, `LockFileEx` on Windows, through
//! `std::fs::File::try_lock`): it belongs to the open file, so the OS releases it when the
//! process ends in any way, `kill -9` included, and a lock is never left stale. The file itself
//! stays; while a process holds the lock, it holds who that is ([`LockInfo`]: host, process id,
//! annotator, since when), so that a second opener can say who holds it. A leaf: it imports
//! nothing of the crate.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How long a busy lock is retried before it counts as held. A child process of the holder's
/// process (any `Command` spawned while a lock file was open, between its fork and its exec)
/// shares the open file for a moment and so holds a lock the parent has already released.
const BUSY_RETRY: std::time::Duration = std::time::Duration::from_millis(300);

/// Takes the lock on `file`, retrying for [`BUSY_RETRY`] while it is busy; `Err(holder)` when
/// it stays held.
fn try_lock_briefly(file: &File, path: &Path) -> std::io::Result<Result<(), Holder>> {
    let start = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Ok(())),
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < BUSY_RETRY => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::WouldBlock) => return Ok(Err(read_holder(path))),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// Who holds a project's lock, as the holder wrote it into the lock file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub host: String,
    pub pid: u32,
    pub annotator: String,
    /// RFC 3339 UTC time at which the lock was taken.
    pub since: String,
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (process {} on {}, since {})",
            self.annotator, self.pid, self.host, self.since
        )
    }
}

/// The holder of a lock someone else has, as far as the lock file tells (`None` when the
/// holder has not written its details yet, or they cannot be read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder(pub Option<LockInfo>);

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(info) => write!(f, "{info}"),
            None => write!(f, "another process (it has not said who it is)"),
        }
    }
}

/// A held lock. Dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct ProjectLock {
    file: File,
    path: PathBuf,
    info: LockInfo,
}

impl ProjectLock {
    /// The lock file of a project file: `<project>.lock` beside it.
    pub fn path_for(project_path: &Path) -> PathBuf {
        let mut s = project_path.as_os_str().to_os_string();
        s.push(".lock");
        PathBuf::from(s)
    }

    /// Takes the lock of the project at `project_path` without waiting. `Ok(Err(holder))`
    /// when another process (or another open workspace of this one) holds it.
    pub fn acquire(
        project_path: &Path,
        annotator: &str,
    ) -> std::io::Result<Result<ProjectLock, Holder>> {
        let path = Self::path_for(project_path);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)?;
        if let Err(holder) = try_lock_briefly(&file, &path)? {
            return Ok(Err(holder));
        }
        let info = LockInfo {
            host: host_name(),
            pid: std::process::id(),
            annotator: annotator.to_string(),
            since: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        };
        let mut lock = ProjectLock { file, path, info };
        lock.write_info()?;
        Ok(Ok(lock))
    }

    /// Who holds the lock of the project at `project_path` now; `None` when nobody does.
    pub fn holder(project_path: &Path) -> Option<Holder> {
        let path = Self::path_for(project_path);
        let file = OpenOptions::new().read(true).write(true).open(&path).ok()?;
        match file.try_lock() {
            Ok(()) => None, // released when `file` drops
            Err(_) => Some(read_holder(&path)),
        }
    }

    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records a new annotator as the holder (the GUI asks for the name after opening).
    pub fn set_annotator(&mut self, annotator: &str) -> std::io::Result<()> {
        if self.info.annotator != annotator {
            self.info.annotator = annotator.to_string();
            self.write_info()?;
        }
        Ok(())
    }

    /// Replaces the lock file's content with this holder's details (no fsync: they matter only
    /// while this process lives).
    fn write_info(&mut self) -> std::io::Result<()> {
        let text = ron::to_string(&self.info).map_err(std::io::Error::other)?;
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(text.as_bytes())?;
        self.file.write_all(b"\n")
    }
}

/// The details in a lock file held by someone else.
fn read_holder(path: &Path) -> Holder {
    let mut text = String::new();
    let read = File::open(path).and_then(|mut f| f.read_to_string(&mut text));
    Holder(
        read.ok()
            .and_then(|_| ron::from_str::<LockInfo>(text.trim()).ok()),
    )
}

/// This machine's name ("unknown host" when the OS does not say).
fn host_name() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
            if !name.is_empty() {
                return name;
            }
        }
    }
    for var in ["HOSTNAME", "COMPUTERNAME"] {
        if let Ok(v) = std::env::var(var)
            && !v.trim().is_empty()
        {
            return v.trim().to_string();
        }
    }
    "unknown host".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holders_details_and_dropping_releases_it() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("p.ron");
        let first = ProjectLock::acquire(&project, "ann").unwrap().unwrap();
        assert_eq!(first.info().pid, std::process::id());
        let Err(holder) = ProjectLock::acquire(&project, "bob").unwrap() else {
            panic!("a second lock was granted");
        };
        assert_eq!(holder.0.as_ref(), Some(first.info()));
        assert_eq!(ProjectLock::holder(&project), Some(holder));
        drop(first);
        assert_eq!(ProjectLock::holder(&project), None);
        let second = ProjectLock::acquire(&project, "bob").unwrap().unwrap();
        assert_eq!(second.info().annotator, "bob");
    }
}
