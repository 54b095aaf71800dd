//! The label journal: one line per label change, appended and synced to disk at once, so a
//! crash or `kill -9` loses no label. Opening a project replays the entries newer than its
//! last save.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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
    /// Lines that could not be parsed (e.g. a line cut short by a crash), with their numbers.
    pub bad_lines: Vec<(usize, String)>,
}

/// An open, append-only journal file.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Option<File>,
    next_seq: u64,
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
        let mut out = JournalRead::default();
        let f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for (i, line) in BufReader::new(f).split(b'\n').enumerate() {
            let line = line?;
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            match ron::from_str::<JournalEntry>(text) {
                Ok(e) => out.entries.push(e),
                Err(e) => out.bad_lines.push((i + 1, e.to_string())),
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
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sequence number of the last entry written (0 if none).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Appends one entry per change and syncs the file before returning.
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
        if self.file.is_none() {
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .read(true)
                .open(&self.path)?;
            // A line cut short by a crash must not swallow the next entry: end it first.
            let len = f.metadata()?.len();
            if len > 0 {
                use std::io::{Read, Seek, SeekFrom};
                let mut last = [0u8; 1];
                f.seek(SeekFrom::Start(len - 1))?;
                f.read_exact(&mut last)?;
                if last[0] != b'\n' {
                    f.write_all(b"\n")?;
                }
            }
            self.file = Some(f);
        }
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
        let f = self.file.as_mut().expect("opened above");
        f.write_all(buf.as_bytes())?;
        f.sync_data()?;
        self.next_seq = after;
        Ok(entries)
    }
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
