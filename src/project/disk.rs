//! Where a workspace's bytes go: the two writes that keep labels (a journal append with its
//! fsync, a project save) behind a trait, so that tests can make the disk say no (full, gone)
//! at exactly those points. [`RealDisk`] is the file system; nothing else is used outside tests.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::store;

/// The writes a [`Workspace`](super::Workspace) makes. Each default method is the real one.
pub trait Disk: Send + Sync + std::fmt::Debug {
    /// Writes `bytes` at the end of the journal file `file` (opened for appending) and syncs
    /// them to the disk: one write and one fsync per labelling action.
    fn append(&self, file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
        file.write_all(bytes)?;
        file.sync_data()
    }

    /// Saves a project file atomically, keeping the previous one as `<path>.bak`.
    fn save(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        store::save_with_backup(path, bytes)
    }
}

/// The file system, as it is.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealDisk;

impl Disk for RealDisk {}
