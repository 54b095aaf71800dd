//! The label journal: one line per label change, appended and synced to disk at once, so a
//! crash or `kill -9` loses no label. Opening a project replays the entries newer than its
//! last save.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::disk::{Disk, RealDisk};
use super::ids::ImageId;
use crate::taxonomy::ClassId;

/// One label change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Monotonic sequence number within the project.
    pub seq: u64,
    /// RFC 3339 UTC time.
    pub time: String,
    pub annotator: String,
    pub image: ImageId,
    /// Content hash of the image, to find it even if ids were renumbered.
    pub hash: String,
    pub old: ClassId,
    pub new: ClassId,
    /// Where the change came from when a person accepted a suggestion (e.g. "audit NAME");
    /// absent for labels typed by hand and in journals written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What reading a journal found.
#[derive(Debug, Default)]
pub struct JournalRead {
    pub entries: Vec<JournalEntry>,
    /// Lines that could not be parsed (e.g. a line cut short by a crash), with their numbers
    /// and why (cut to a few hundred characters).
    pub bad_lines: Vec<(usize, String)>,
    /// The number of the last line that is not blank: only it can have been cut short by a
    /// crash (appends never rewrite earlier lines).
    pub last_line: usize,
}

impl JournalRead {
    /// One note per damaged line: the last line is likely torn by a crash; a damaged line
    /// before it was changed by something else.
    pub fn bad_line_notes(&self, path: &Path) -> Vec<String> {
        self.bad_lines
            .iter()
            .map(|(line, err)| {
                let why = if *line == self.last_line {
                    "damaged, likely cut short by a crash"
                } else {
                    "damaged; not the last line, so not cut short by a crash: the journal was \
                     changed by something else"
                };
                format!("{}: line {line} ignored ({why}): {err}", path.display())
            })
            .collect()
    }
}

/// An open, append-only journal file.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Option<File>,
    next_seq: u64,
    disk: std::sync::Arc<dyn Disk>,
}

impl Journal {
    /// The journal that belongs to a project file: `<project>.journal` beside it.
    pub fn path_for(project_path: &Path) -> PathBuf {
        let mut s = project_path.as_os_str().to_os_string();
        s.push(".journal");
        PathBuf::from(s)
    }

    /// Reads all entries of a journal file; a missing file is an empty journal.
    pub fn read(path: &Path) -> std::io::Result<JournalRead> {
        let f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(JournalRead::default());
            }
            Err(e) => return Err(e),
        };
        Self::read_from(BufReader::new(f))
    }

    /// Parses journal lines from any reader (what [`Journal::read`] does with the file).
    pub fn read_from(reader: impl BufRead) -> std::io::Result<JournalRead> {
        let mut out = JournalRead::default();
        for (i, line) in reader.split(b'\n').enumerate() {
            let line = line?;
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            out.last_line = i + 1;
            match ron::from_str::<JournalEntry>(text) {
                Ok(e) => out.entries.push(e),
                Err(e) => out
                    .bad_lines
                    .push((i + 1, crate::quote::clip(&e.to_string()))),
            }
        }
        Ok(out)
    }

    /// Opens a journal for appending; new entries continue after `after_seq` or after the
    /// largest sequence number already in the file, whichever is larger.
    pub fn open(path: &Path, after_seq: u64) -> std::io::Result<Self> {
        let existing = Self::read(path)?;
        let max = existing.entries.iter().map(|e| e.seq).max().unwrap_or(0);
        let next_seq = max.max(after_seq).checked_add(1).ok_or_else(exhausted)?;
        Ok(Self {
            path: path.to_path_buf(),
            file: None,
            next_seq,
            disk: std::sync::Arc::new(RealDisk),
        })
    }

    /// Writes through `disk` from now on (tests make it fail; see [`Disk`]).
    pub fn set_disk(&mut self, disk: std::sync::Arc<dyn Disk>) {
        self.disk = disk;
    }

    /// Closes the file; the next append opens `path` again (creating it if it was removed).
    /// Called after the project was saved: a journal removed since then is started anew
    /// without losing anything, since the saved file holds every label.
    pub fn reopen_later(&mut self) {
        self.file = None;
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sequence number of the last entry written (0 if none).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Appends one entry per change and syncs the file before returning: one write and one
    /// fsync. On failure nothing of it stays in the file (a partly written line is cut off
    /// again, as far as the disk lets us) and the sequence numbers do not move, so the caller
    /// can refuse the change and leave everything as it was.
    pub fn append(
        &mut self,
        annotator: &str,
        changes: &[(ImageId, String, ClassId, ClassId)],
    ) -> std::io::Result<Vec<JournalEntry>> {
        self.append_from(annotator, None, changes)
    }

    /// [`Journal::append`] with the changes' source (an accepted suggestion) on every line.
    pub fn append_from(
        &mut self,
        annotator: &str,
        source: Option<&str>,
        changes: &[(ImageId, String, ClassId, ClassId)],
    ) -> std::io::Result<Vec<JournalEntry>> {
        // Checked before anything is written.
        let after = self
            .next_seq
            .checked_add(changes.len() as u64)
            .ok_or_else(exhausted)?;
        let time = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        let mut buf = String::new();
        let mut entries = Vec::with_capacity(changes.len());
        for (image, hash, old, new) in changes {
            let e = JournalEntry {
                seq: self.next_seq + entries.len() as u64,
                time: time.clone(),
                annotator: annotator.to_string(),
                image: *image,
                hash: hash.clone(),
                old: *old,
                new: *new,
                source: source.map(str::to_string),
            };
            buf.push_str(&ron::to_string(&e).map_err(std::io::Error::other)?);
            buf.push('\n');
            entries.push(e);
        }
        let disk = self.disk.clone();
        let f = self.open_file()?;
        let before = f.metadata()?.len();
        if let Err(e) = disk.append(f, buf.as_bytes()) {
            // Best effort: the disk may refuse this too. A line left cut short is skipped on
            // replay, and the next append starts on a new line (`open_file`).
            let _ = f.set_len(before);
            let _ = f.sync_data();
            self.file = None;
            return Err(e);
        }
        self.next_seq = after;
        Ok(entries)
    }

    /// The open journal file, opened (and created) on first use. A file removed or replaced
    /// behind our back is an error: appending to a removed file would lose every line.
    fn open_file(&mut self) -> std::io::Result<&mut File> {
        if let Some(f) = &self.file {
            check_still_there(&self.path, f)?;
        } else {
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .read(true)
                .open(&self.path)?;
            end_torn_line(&mut f)?;
            self.file = Some(f);
        }
        self.file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the journal file is not open"))
    }
}

/// A line cut short by a crash must not swallow the next entry: ends it first.
fn end_torn_line(f: &mut File) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let len = f.metadata()?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        f.seek(SeekFrom::Start(len - 1))?;
        f.read_exact(&mut last)?;
        if last[0] != b'\n' {
            f.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// An error when the journal's path no longer leads to the open file (removed, or replaced
/// by another file).
fn check_still_there(path: &Path, open: &File) -> std::io::Result<()> {
    let gone = || {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "the journal {} was removed or replaced while the project was open",
                path.display()
            ),
        )
    };
    let on_disk = std::fs::metadata(path).map_err(|_| gone())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let open = open.metadata()?;
        if (on_disk.dev(), on_disk.ino()) != (open.dev(), open.ino()) {
            return Err(gone());
        }
    }
    #[cfg(not(unix))]
    let _ = (on_disk, open);
    Ok(())
}

/// The error for a sequence number that cannot grow (a damaged or hand-edited journal or
/// project file: real use never comes near 2^64 changes).
fn exhausted() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "the journal's sequence numbers are at their maximum (18446744073709551615): the journal \
         or the project file's journal_seq is damaged",
    )
}
