//! Going on after a failed write (a full disk, an I/O error), as
//! Prometheus's writer does: the batch that failed was not acknowledged,
//! so whatever part of it reached the active segment is cut off, and the
//! next batch goes to a fresh segment. Until that succeeds every call says
//! why the writer stopped, naming the first cause.
//!
//! Cutting matters for more than space: bytes of a failed batch left in a
//! segment that later ones follow would read as damage in the middle of
//! the log on replay, and the replay would stop there.

use super::{create_segment, ActiveSegment, Page, Wal};
use crate::error::{Error, Result};
use crate::naming::segment_path;
use crate::segment::PAGE_SIZE;

/// Why the writer stopped, and where its last acknowledged batch ends.
pub(super) struct Failure {
    /// The first error, as text (the `io::Error` went to the caller).
    pub(super) cause: String,
    /// The active segment's length at the end of the last batch that
    /// succeeded in it (0: none did).
    pub(super) good_len: u64,
}

impl Wal {
    /// Records `err` (the error a batch, sync or rotation is about to
    /// return) as the reason the writer stopped; the first cause is kept.
    /// `(segment, len)` is where the failed call began.
    pub(super) fn fail(&mut self, err: &Error, began: (u32, u64)) {
        if self.failed.is_some() {
            return;
        }
        let good_len = if self.segment.index == began.0 {
            began.1
        } else {
            // The failed batch started this segment: none of it counts.
            0
        };
        self.failed = Some(Failure {
            cause: err.to_string(),
            good_len,
        });
    }

    /// Makes a failed writer usable again: cuts the active segment back to
    /// its last acknowledged batch and, if that left records in it, pads
    /// it to a page, flushes it and starts the next segment. A no-op when
    /// nothing failed. If recovering fails too (the disk still refuses),
    /// the writer stays failed and the error names both causes.
    pub(super) fn recover(&mut self) -> Result<()> {
        let Some(failure) = self.failed.take() else {
            return Ok(());
        };
        match self.restart(failure.good_len) {
            Ok(()) => Ok(()),
            Err(e) => {
                let err = Error::Failed {
                    cause: failure.cause.clone(),
                    recovery: e.to_string(),
                };
                self.failed = Some(failure);
                Err(err)
            }
        }
    }

    fn restart(&mut self, good_len: u64) -> Result<()> {
        let path = segment_path(&self.dir, self.segment.index);
        let cut = |file: &std::fs::File, len: u64| {
            file.set_len(len)
                .map_err(|e| Error::io("cutting a failed write from segment", &path, e))
        };
        // A background flush that failed is part of what went wrong; it
        // was reported by the failed call.
        let _ = self.background.check();
        cut(&self.segment.file, good_len)?;
        self.page = Page::new();
        if good_len == 0 {
            self.segment.done_pages = 0;
            return Ok(());
        }
        // Zero padding to the page end, as a completed page has (growing a
        // file this way needs no free space).
        let padded = good_len.div_ceil(PAGE_SIZE as u64) * PAGE_SIZE as u64;
        cut(&self.segment.file, padded)?;
        self.segment.done_pages = padded / PAGE_SIZE as u64;
        let next = self.segment.index.checked_add(1).ok_or_else(|| {
            Error::InvalidRequest("segment numbers exhausted (u32::MAX reached)".into())
        })?;
        let fresh: ActiveSegment = create_segment(&self.dir, next)?;
        let finished = std::mem::replace(&mut self.segment, fresh);
        finished
            .file
            .sync_all()
            .map_err(|e| Error::io("syncing segment", &path, e))
    }
}

#[cfg(test)]
mod tests {
    use std::fs::{File, OpenOptions};
    use std::io::Write;

    use super::*;
    use crate::reader::WalReader;
    use crate::WalOptions;

    fn read_all(dir: &std::path::Path) -> Vec<Vec<u8>> {
        let mut r = WalReader::open(dir, ..).unwrap();
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            out.push(rec.to_vec());
        }
        out
    }

    fn reopen(path: &std::path::Path) -> File {
        OpenOptions::new().append(true).open(path).unwrap()
    }

    /// A full device (`/dev/full` stands in for the segment), then a
    /// partial write, then space again: every failure names the cause, and
    /// the log holds exactly the acknowledged records.
    #[test]
    fn failed_writes_name_the_cause_and_the_log_keeps_only_acknowledged_records() {
        let Ok(full) = OpenOptions::new().append(true).open("/dev/full") else {
            eprintln!("note: no /dev/full; skipping");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
        wal.log(&[b"one", b"two"]).unwrap();
        let path = segment_path(dir.path(), wal.active_segment());
        let first = wal.active_segment();

        let real = std::mem::replace(&mut wal.segment.file, full);
        let err = wal.log(&[b"lost"]).unwrap_err().to_string();
        assert!(err.contains("No space left on device"), "{err}");
        // The next call cannot cut /dev/full: it says why it stopped.
        let err = wal.log(&[b"also lost"]).unwrap_err();
        assert!(matches!(err, Error::Failed { .. }), "{err:?}");
        assert!(err.to_string().contains("No space left on device"), "{err}");

        // Part of the failed batch reached the file before the failure.
        drop(real);
        let mut f = reopen(&path);
        f.write_all(&[0x55; 100]).unwrap();
        wal.segment.file = f;
        wal.log(&[b"three"]).unwrap();
        assert_eq!(wal.active_segment(), first + 1, "a fresh segment");
        wal.log(&[b"four"]).unwrap();
        wal.close().unwrap();
        assert_eq!(
            read_all(dir.path()),
            [&b"one"[..], b"two", b"three", b"four"]
        );
        // The cut segment ends at a page boundary after its records.
        assert_eq!(std::fs::metadata(&path).unwrap().len(), PAGE_SIZE as u64);
    }

    /// A failure in a segment no batch succeeded in reuses it.
    #[test]
    fn a_failure_in_an_empty_segment_reuses_it() {
        let Ok(full) = OpenOptions::new().append(true).open("/dev/full") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
        let path = segment_path(dir.path(), wal.active_segment());
        let real = std::mem::replace(&mut wal.segment.file, full);
        assert!(wal.log(&[b"lost"]).is_err());
        drop(real);
        let mut f = reopen(&path);
        f.write_all(&[0x55; 10]).unwrap();
        wal.segment.file = f;
        let seg = wal.active_segment();
        wal.log(&[b"kept"]).unwrap();
        assert_eq!(wal.active_segment(), seg);
        wal.close().unwrap();
        assert_eq!(read_all(dir.path()), [&b"kept"[..]]);
    }
}
