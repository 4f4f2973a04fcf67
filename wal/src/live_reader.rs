//! Following a log while it is written, for shipping records elsewhere
//! (agent-mode forwarding, replication) as Prometheus's WAL watcher does.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cursor::{SegmentCursor, Step};
use crate::error::{Error, Result, SegmentPosition};
use crate::naming::segment_path;
use crate::reader::cursor_error;

/// Reads records as soon as they are complete, following the active
/// segment as it grows and moving on when the writer starts the next one.
///
/// A segment is left only once its successor exists *and* it has been read
/// to its end: the writer finishes a segment before creating the next, so
/// nothing written to it is skipped. Reading never blocks except in
/// [`LiveReader::wait_record`].
///
/// ```
/// use aion_wal::{LiveReader, Wal, WalOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let (mut wal, report) = Wal::open(dir.path(), WalOptions::default()).unwrap();
/// let mut tail = LiveReader::new(dir.path(), report.active_segment);
/// assert_eq!(tail.next_record().unwrap(), None);
/// wal.log(&[b"a"]).unwrap();
/// assert_eq!(tail.next_record().unwrap(), Some(&b"a"[..]));
/// wal.next_segment().unwrap();
/// wal.log(&[b"b"]).unwrap();
/// assert_eq!(tail.next_record().unwrap(), Some(&b"b"[..]));
/// assert_eq!(tail.segment(), report.active_segment + 1);
/// ```
pub struct LiveReader {
    dir: PathBuf,
    segment: u32,
    cursor: Option<SegmentCursor<File>>,
    last_record: Option<(u32, u64)>,
    failed: bool,
}

impl LiveReader {
    /// Follows the log in `dir` from the start of segment `segment` (which
    /// need not exist yet).
    pub fn new(dir: impl AsRef<Path>, segment: u32) -> LiveReader {
        LiveReader {
            dir: dir.as_ref().to_path_buf(),
            segment,
            cursor: None,
            last_record: None,
            failed: false,
        }
    }

    /// The segment being read.
    pub fn segment(&self) -> u32 {
        self.segment
    }

    /// Where the record last returned starts.
    pub fn position(&self) -> Option<SegmentPosition> {
        self.last_record.map(|(segment, offset)| SegmentPosition {
            dir: self.dir.clone(),
            segment,
            offset,
        })
    }

    /// The next complete record, or `None` if none is available yet. Call
    /// again later; nothing is lost in between.
    ///
    /// Errors (damage, a segment deleted before it was read) are final:
    /// afterwards the reader only returns `None`; start a new one from a
    /// known position (e.g. the newest checkpoint).
    pub fn next_record(&mut self) -> Result<Option<&[u8]>> {
        if self.advance()? {
            Ok(Some(self.record()))
        } else {
            Ok(None)
        }
    }

    /// Like [`LiveReader::next_record`], but waits up to `timeout` for a
    /// record, checking every `poll` interval.
    pub fn wait_record(&mut self, timeout: Duration, poll: Duration) -> Result<Option<&[u8]>> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.advance()? {
                return Ok(Some(self.record()));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep(poll.min(deadline - now));
        }
    }

    fn record(&self) -> &[u8] {
        self.cursor.as_ref().map_or(&[], |c| c.record())
    }

    /// Moves to the next record; `true` if one is available.
    fn advance(&mut self) -> Result<bool> {
        if self.failed {
            return Ok(false);
        }
        let r = self.advance_inner();
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    fn advance_inner(&mut self) -> Result<bool> {
        loop {
            if self.cursor.is_none() {
                let path = segment_path(&self.dir, self.segment);
                match File::open(&path) {
                    Ok(f) => self.cursor = Some(SegmentCursor::new(f)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        if self.next_exists() {
                            // Deleted (truncated away) before it was read.
                            return Err(Error::SegmentGap {
                                dir: self.dir.clone(),
                                missing: self.segment,
                            });
                        }
                        return Ok(false);
                    }
                    Err(e) => return Err(Error::io("opening segment", &path, e)),
                }
            }
            let cursor = self.cursor.as_mut().expect("opened above");
            let step = cursor.advance(false);
            match step {
                Ok(Step::Record(start)) => {
                    self.last_record = Some((self.segment, start));
                    return Ok(true);
                }
                Ok(Step::End) => {}
                Err(e) => return Err(cursor_error(&self.dir, self.segment, e)),
            }
            if !self.next_exists() {
                return Ok(false);
            }
            // The writer finished this segment before creating the next:
            // read what remains, then the segment must end cleanly.
            let cursor = self.cursor.as_mut().expect("opened above");
            match cursor.advance(true) {
                Ok(Step::Record(start)) => {
                    self.last_record = Some((self.segment, start));
                    return Ok(true);
                }
                Ok(Step::End) => {
                    self.cursor = None;
                    self.segment += 1;
                }
                Err(e) => return Err(cursor_error(&self.dir, self.segment, e)),
            }
        }
    }

    fn next_exists(&self) -> bool {
        self.segment
            .checked_add(1)
            .is_some_and(|n| segment_path(&self.dir, n).exists())
    }
}

impl std::fmt::Debug for LiveReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveReader")
            .field("dir", &self.dir)
            .field("segment", &self.segment)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::{Wal, WalOptions};
    use crate::PAGE_SIZE;
    use std::sync::mpsc;

    /// Record `i`: its number, then filler; every 50th spans pages.
    fn record(i: u32) -> Vec<u8> {
        let len = if i % 50 == 7 {
            3 * PAGE_SIZE
        } else {
            (i as usize * 37) % 900
        };
        let mut r = i.to_be_bytes().to_vec();
        r.extend((0..len).map(|k| (k as u32 ^ i) as u8));
        r
    }

    #[test]
    fn follows_a_writer_thread_across_segments() {
        const N: u32 = 3000;
        let dir = tempfile::tempdir().unwrap();
        let wal_dir = dir.path().join("wal");
        let (ready_tx, ready_rx) = mpsc::channel();
        let writer_dir = wal_dir.clone();
        let writer = std::thread::spawn(move || {
            let options = WalOptions {
                segment_size: 4 * PAGE_SIZE as u64,
                compression: crate::Compression::Snappy,
                ..WalOptions::default()
            };
            let (mut wal, report) = Wal::open(&writer_dir, options).unwrap();
            ready_tx.send(report.active_segment).unwrap();
            let mut i = 0;
            while i < N {
                let batch: Vec<Vec<u8>> = (i..(i + 1 + i % 4).min(N)).map(record).collect();
                let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
                wal.log(&refs).unwrap();
                i += batch.len() as u32;
                if i % 97 == 0 {
                    wal.next_segment().unwrap();
                }
                if i % 13 == 0 {
                    std::thread::yield_now();
                }
            }
            wal.close().unwrap();
            wal_segments(&writer_dir)
        });

        let first = ready_rx.recv().unwrap();
        let mut tail = LiveReader::new(&wal_dir, first);
        for i in 0..N {
            let got = tail
                .wait_record(Duration::from_secs(30), Duration::from_millis(1))
                .unwrap()
                .unwrap_or_else(|| panic!("record {i} did not arrive"));
            assert_eq!(got, record(i), "record {i}");
        }
        let last_segment = writer.join().unwrap();
        assert_eq!(tail.next_record().unwrap(), None);
        assert_eq!(tail.segment(), last_segment);
        assert!(last_segment > 10, "the writer rotated segments");
    }

    fn wal_segments(dir: &Path) -> u32 {
        crate::segment::segment_range(dir).unwrap().unwrap().1
    }

    #[test]
    fn waits_for_a_segment_that_does_not_exist_yet() {
        let dir = tempfile::tempdir().unwrap();
        let mut tail = LiveReader::new(dir.path().join("not-yet"), 0);
        assert_eq!(tail.next_record().unwrap(), None);
        let (mut wal, _) = Wal::open(dir.path().join("not-yet"), WalOptions::default()).unwrap();
        wal.log(&[b"x"]).unwrap();
        assert_eq!(tail.next_record().unwrap(), Some(&b"x"[..]));
        assert_eq!(tail.position().map(|p| p.offset), Some(0));
    }

    #[test]
    fn reports_a_segment_deleted_before_it_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
        wal.log(&[b"x"]).unwrap();
        wal.next_segment().unwrap();
        wal.truncate(1).unwrap();
        let mut tail = LiveReader::new(dir.path(), 0);
        assert!(matches!(
            tail.next_record(),
            Err(Error::SegmentGap { missing: 0, .. })
        ));
    }
}
