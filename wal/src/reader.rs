//! Sequential reading of complete logs: a range of segments, or replay
//! (the newest checkpoint followed by the segments after it).

use std::fs::File;
use std::io::Read;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::checkpoint_dirs::last_checkpoint;
use crate::cursor::{CursorError, CursorErrorKind, SegmentCursor, Step};
use crate::error::{Error, Result, SegmentPosition};
use crate::naming::segment_path;
use crate::segment::{list_segments, newest_written};

/// One segment file to read.
#[derive(Debug, Clone)]
struct Source {
    dir: Arc<Path>,
    index: u32,
}

struct Current {
    source: usize,
    cursor: SegmentCursor<File>,
}

/// Reads the records of a sequence of segments, in order.
///
/// Records never span segments; each segment must end cleanly (after a
/// complete record or in zero padding). A segment that ends inside a record
/// is reported as [`Error::Corrupt`] with [`crate::Corruption::is_truncation`]
/// true, unless [`WalReader::tolerate_torn_tail`] allows it for the last
/// segment. After an error the reader is exhausted.
///
/// The returned slices borrow the reader's buffer until the next call, so a
/// full replay allocates only while records keep growing.
pub struct WalReader {
    sources: Vec<Source>,
    next: usize,
    current: Option<Current>,
    last_record: Option<(usize, u64)>,
    checkpoint: Option<u32>,
    tolerate_torn_tail: bool,
    torn_tail: Option<SegmentPosition>,
    /// The source that is the log directory's newest non-empty segment
    /// (what [`Wal::open`](crate::Wal::open) checks for a torn tail), if
    /// this reader reads it.
    newest: Option<usize>,
    /// See [`WalReader::defer_newest_damage`].
    defer_newest_damage: bool,
    deferred_damage: Option<SegmentPosition>,
    /// `newest` was read to a clean end.
    newest_verified: bool,
}

impl WalReader {
    /// A reader over the segments of `dir` whose numbers lie in `range`
    /// (e.g. `..` for all, `3..=7`). An explicit bound that is missing from
    /// the directory is an error ([`Error::SegmentGap`]).
    pub fn open(dir: impl AsRef<Path>, range: impl RangeBounds<u32>) -> Result<WalReader> {
        let dir = dir.as_ref();
        let listed = list_segments(dir)?;
        let selected: Vec<u32> = listed
            .iter()
            .map(|s| s.index)
            .filter(|i| range.contains(i))
            .collect();
        let first_required = match range.start_bound() {
            Bound::Included(&s) => Some(s),
            Bound::Excluded(&s) => s.checked_add(1),
            Bound::Unbounded => None,
        };
        let last_required = match range.end_bound() {
            Bound::Included(&e) => Some(e),
            Bound::Excluded(&e) => e.checked_sub(1),
            Bound::Unbounded => None,
        };
        if let (Some(f), Some(l)) = (first_required, last_required) {
            if f > l {
                return Ok(Self::from_sources(Vec::new(), None));
            }
        }
        if let Some(f) = first_required {
            if selected.first() != Some(&f) {
                return Err(Error::SegmentGap {
                    dir: dir.to_path_buf(),
                    missing: f,
                });
            }
        }
        if let Some(l) = last_required {
            if selected.last() != Some(&l) {
                return Err(Error::SegmentGap {
                    dir: dir.to_path_buf(),
                    missing: selected.last().map_or(l, |x| x + 1),
                });
            }
        }
        let dir: Arc<Path> = Arc::from(dir);
        let sources = selected
            .into_iter()
            .map(|index| Source {
                dir: dir.clone(),
                index,
            })
            .collect();
        Ok(Self::from_sources(sources, None))
    }

    /// A reader for replaying the log in `dir`: the newest checkpoint (if
    /// any), then every segment numbered after it.
    ///
    /// Leftovers of an interrupted checkpoint or truncation (a `.tmp`
    /// checkpoint, older checkpoints, segments the checkpoint already
    /// covers) are ignored.
    pub fn replay(dir: impl AsRef<Path>) -> Result<WalReader> {
        let dir = dir.as_ref();
        let mut sources = Vec::new();
        let checkpoint = last_checkpoint(dir)?;
        if let Some((_, cp_dir)) = &checkpoint {
            let cp_dir: Arc<Path> = Arc::from(cp_dir.as_path());
            for s in list_segments(&cp_dir)? {
                sources.push(Source {
                    dir: cp_dir.clone(),
                    index: s.index,
                });
            }
        }
        let after = checkpoint.as_ref().map(|(i, _)| *i);
        let listed = list_segments(dir)?;
        let newest_index = newest_written(&listed).map(|s| s.index);
        let segments: Vec<u32> = listed
            .into_iter()
            .map(|s| s.index)
            .filter(|&i| after.is_none_or(|c| i > c))
            .collect();
        if let (Some(c), Some(&first)) = (after, segments.first()) {
            if first != c + 1 {
                return Err(Error::SegmentGap {
                    dir: dir.to_path_buf(),
                    missing: c + 1,
                });
            }
        }
        let wal_dir: Arc<Path> = Arc::from(dir);
        let first_of_log = sources.len();
        sources.extend(segments.into_iter().map(|index| Source {
            dir: wal_dir.clone(),
            index,
        }));
        let mut reader = Self::from_sources(sources, after);
        reader.newest = newest_index.and_then(|n| {
            (first_of_log..reader.sources.len()).find(|&i| reader.sources[i].index == n)
        });
        Ok(reader)
    }

    /// A reader over explicit segments, e.g. a checkpoint's followed by a
    /// range of the log's.
    pub(crate) fn from_segments(segments: Vec<(Arc<Path>, u32)>) -> WalReader {
        let sources = segments
            .into_iter()
            .map(|(dir, index)| Source { dir, index })
            .collect();
        Self::from_sources(sources, None)
    }

    fn from_sources(sources: Vec<Source>, checkpoint: Option<u32>) -> WalReader {
        WalReader {
            sources,
            next: 0,
            current: None,
            last_record: None,
            checkpoint,
            tolerate_torn_tail: false,
            torn_tail: None,
            newest: None,
            defer_newest_damage: false,
            deferred_damage: None,
            newest_verified: false,
        }
    }

    /// Lets the last segment end inside a record, as it does after a crash
    /// of a writer that has not been reopened since: the partial record is
    /// skipped and reported by [`WalReader::torn_tail`]. For read-only
    /// tools; a writer cuts the torn tail when it opens the log.
    pub fn tolerate_torn_tail(mut self, tolerate: bool) -> Self {
        self.tolerate_torn_tail = tolerate;
        self
    }

    /// Where the skipped partial record starts, if
    /// [`WalReader::tolerate_torn_tail`] skipped one.
    pub fn torn_tail(&self) -> Option<&SegmentPosition> {
        self.torn_tail.as_ref()
    }

    /// For a writer's replay (a [`WalReader::replay`] reader): damage in
    /// the log's newest non-empty segment ends the reading quietly, as if
    /// the log ended there, and its position is kept
    /// ([`WalReader::deferred_damage`]). What it is is then decided by
    /// [`Wal::open_after_replay`](crate::Wal::open_after_replay), as by
    /// [`Wal::open`](crate::Wal::open): a torn tail, cut there, or damage
    /// followed by intact records, an error. Either way the records this
    /// reader returned are the ones a replay after that open would read.
    ///
    /// A writer reads the newest segment once this way, instead of once to
    /// open the log and once more to replay it.
    pub fn defer_newest_damage(mut self, defer: bool) -> Self {
        self.defer_newest_damage = defer;
        self
    }

    /// Where damage [`WalReader::defer_newest_damage`] deferred is.
    pub fn deferred_damage(&self) -> Option<&SegmentPosition> {
        self.deferred_damage.as_ref()
    }

    /// The number of the log's newest non-empty segment if this reader has
    /// read it to a clean end (every fragment's checksum and framing
    /// checked, no torn tail): what
    /// [`Wal::open_after_replay`](crate::Wal::open_after_replay) need not
    /// read again.
    pub fn verified_newest_segment(&self) -> Option<u32> {
        let newest = self.newest?;
        self.newest_verified.then(|| self.sources[newest].index)
    }

    /// The checkpoint a replay reads first, if any.
    pub fn checkpoint(&self) -> Option<u32> {
        self.checkpoint
    }

    /// The segment files this reader covers, in reading order.
    pub fn segments(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.sources.iter().map(|s| segment_path(&s.dir, s.index))
    }

    /// The next record, or `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<&[u8]>> {
        loop {
            if self.current.is_none() {
                if self.next >= self.sources.len() {
                    return Ok(None);
                }
                let source = self.next;
                self.next += 1;
                let path = segment_path(&self.sources[source].dir, self.sources[source].index);
                let file = File::open(&path).map_err(|e| {
                    self.next = self.sources.len();
                    Error::io("opening segment", &path, e)
                })?;
                self.current = Some(Current {
                    source,
                    cursor: SegmentCursor::new(file),
                });
            }
            let current = self.current.as_mut().expect("opened above");
            match current.cursor.advance(true) {
                Ok(Step::Record(start)) => {
                    self.last_record = Some((current.source, start));
                    break;
                }
                Ok(Step::End) => {
                    if Some(current.source) == self.newest {
                        self.newest_verified = true;
                    }
                    self.current = None;
                }
                Err(e) => {
                    let source = current.source;
                    self.current = None;
                    if self.defer_newest_damage
                        && Some(source) == self.newest
                        && matches!(e.kind, CursorErrorKind::Corrupt(_))
                    {
                        self.deferred_damage = self.error(source, e).position().cloned();
                        self.next = self.sources.len();
                        return Ok(None);
                    }
                    let is_last = source + 1 == self.sources.len();
                    let truncated =
                        matches!(&e.kind, CursorErrorKind::Corrupt(c) if c.is_truncation());
                    let err = self.error(source, e);
                    self.next = self.sources.len();
                    if is_last && truncated && self.tolerate_torn_tail {
                        self.torn_tail = err.position().cloned();
                        return Ok(None);
                    }
                    return Err(err);
                }
            }
        }
        Ok(Some(
            self.current
                .as_ref()
                .expect("a record was just read")
                .cursor
                .record(),
        ))
    }

    /// Where the record last returned by [`WalReader::next_record`] starts.
    pub fn position(&self) -> Option<SegmentPosition> {
        self.last_record.map(|(source, offset)| {
            let s = &self.sources[source];
            SegmentPosition {
                dir: s.dir.to_path_buf(),
                segment: s.index,
                offset,
            }
        })
    }

    fn error(&self, source: usize, e: CursorError) -> Error {
        let s = &self.sources[source];
        cursor_error(&s.dir, s.index, e)
    }
}

/// Reads the records of one segment from any byte source: a file, a
/// buffer, a download.
///
/// The source's end is the segment's end: a record cut short there is
/// [`Error::Corrupt`] (see [`crate::Corruption::is_truncation`]). Errors
/// name the segment given to [`SegmentReader::named`] (empty dir and
/// segment 0 by default).
///
/// ```
/// use aion_wal::{SegmentReader, Wal, WalOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let (mut wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
/// wal.log(&[b"hello"]).unwrap();
/// let bytes = std::fs::read(aion_wal::segment_path(dir.path(), 0)).unwrap();
/// let mut r = SegmentReader::new(&bytes[..]);
/// assert_eq!(r.next_record().unwrap(), Some(&b"hello"[..]));
/// assert_eq!(r.next_record().unwrap(), None);
/// ```
pub struct SegmentReader<R> {
    cursor: SegmentCursor<R>,
    dir: PathBuf,
    segment: u32,
    last_record: Option<u64>,
    done: bool,
}

impl<R: Read> SegmentReader<R> {
    /// Reads the segment bytes `src` yields.
    pub fn new(src: R) -> Self {
        Self::named(src, PathBuf::new(), 0)
    }

    /// Like [`SegmentReader::new`], naming the segment in errors and
    /// positions.
    pub fn named(src: R, dir: impl Into<PathBuf>, segment: u32) -> Self {
        SegmentReader {
            cursor: SegmentCursor::new(src),
            dir: dir.into(),
            segment,
            last_record: None,
            done: false,
        }
    }

    /// The next record, or `None` at the end. After an error, `None`.
    pub fn next_record(&mut self) -> Result<Option<&[u8]>> {
        if self.done {
            return Ok(None);
        }
        match self.cursor.advance(true) {
            Ok(Step::Record(start)) => {
                self.last_record = Some(start);
                Ok(Some(self.cursor.record()))
            }
            Ok(Step::End) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(cursor_error(&self.dir, self.segment, e))
            }
        }
    }

    /// Where the record last returned starts.
    pub fn position(&self) -> Option<SegmentPosition> {
        self.last_record.map(|offset| SegmentPosition {
            dir: self.dir.clone(),
            segment: self.segment,
            offset,
        })
    }
}

/// Attaches a segment's location to a cursor error.
pub(crate) fn cursor_error(dir: &Path, segment: u32, e: CursorError) -> Error {
    let at = SegmentPosition {
        dir: dir.to_path_buf(),
        segment,
        offset: e.offset,
    };
    match e.kind {
        CursorErrorKind::Corrupt(corruption) => Error::Corrupt { at, corruption },
        CursorErrorKind::Unsupported(feature) => Error::Unsupported { at, feature },
        CursorErrorKind::Io(source) => Error::io("reading segment", at.path(), source),
    }
}

impl std::fmt::Debug for WalReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalReader")
            .field("segments", &self.sources.len())
            .field("next", &self.next)
            .field("checkpoint", &self.checkpoint)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Corruption;
    use crate::writer::{Wal, WalOptions};
    use std::fs;

    /// Segments 0..=3, each holding two records named after it.
    fn four_segments(dir: &Path) {
        let mut w = Wal::create(dir, 0, WalOptions::default()).unwrap();
        for s in 0..4u8 {
            w.log(&[&[s, 0], &[s, 1]]).unwrap();
            if s < 3 {
                w.next_segment().unwrap();
            }
        }
        w.close().unwrap();
    }

    fn collect(mut r: WalReader) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            out.push(rec.to_vec());
        }
        out
    }

    #[test]
    fn reads_ranges() {
        let dir = tempfile::tempdir().unwrap();
        four_segments(dir.path());
        let got = collect(WalReader::open(dir.path(), 1..=2).unwrap());
        assert_eq!(got, [[1, 0], [1, 1], [2, 0], [2, 1]]);
        assert_eq!(collect(WalReader::open(dir.path(), 3..).unwrap()).len(), 2);
        assert_eq!(collect(WalReader::open(dir.path(), ..).unwrap()).len(), 8);
        assert_eq!(collect(WalReader::open(dir.path(), 2..2).unwrap()).len(), 0);
        assert!(matches!(
            WalReader::open(dir.path(), 2..=9),
            Err(Error::SegmentGap { missing: 4, .. })
        ));
    }

    #[test]
    fn positions_name_segment_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        four_segments(dir.path());
        let mut r = WalReader::open(dir.path(), 2..=2).unwrap();
        r.next_record().unwrap();
        r.next_record().unwrap();
        let p = r.position().unwrap();
        assert_eq!((p.segment, p.offset), (2, 9));
        assert!(p.to_string().ends_with("00000002 at offset 9"), "{p}");
    }

    #[test]
    fn torn_tail_is_an_error_unless_tolerated() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::create(dir.path(), 0, WalOptions::default()).unwrap();
        w.log(&[b"complete", &[9; 40_000]]).unwrap();
        drop(w);
        let path = segment_path(dir.path(), 0);
        let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(33_000).unwrap();

        let mut r = WalReader::open(dir.path(), ..).unwrap();
        assert_eq!(r.next_record().unwrap(), Some(&b"complete"[..]));
        let err = r.next_record().unwrap_err();
        match &err {
            Error::Corrupt { at, corruption } => {
                assert_eq!(at.offset, 15);
                assert_eq!(*corruption, Corruption::TruncatedRecord);
            }
            e => panic!("{e}"),
        }
        assert_eq!(r.next_record().unwrap(), None, "exhausted after an error");

        let mut r = WalReader::open(dir.path(), ..)
            .unwrap()
            .tolerate_torn_tail(true);
        assert_eq!(r.next_record().unwrap(), Some(&b"complete"[..]));
        assert_eq!(r.next_record().unwrap(), None);
        assert_eq!(r.torn_tail().map(|p| p.offset), Some(15));
    }

    #[test]
    fn short_segments_read_as_if_padded() {
        // Prometheus starts a new segment after a crash without padding the
        // old one; a segment ending mid-page after a record is fine.
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::create(dir.path(), 0, WalOptions::default()).unwrap();
        w.log(&[b"a"]).unwrap();
        drop(w);
        let mut w = Wal::create(dir.path(), 1, WalOptions::default()).unwrap();
        w.log(&[b"b"]).unwrap();
        drop(w);
        assert_eq!(
            collect(WalReader::open(dir.path(), ..).unwrap()),
            [b"a", b"b"]
        );
    }

    #[test]
    fn zero_filled_tail_is_padding() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::create(dir.path(), 0, WalOptions::default()).unwrap();
        w.log(&[b"a"]).unwrap();
        drop(w);
        let f = fs::OpenOptions::new()
            .write(true)
            .open(segment_path(dir.path(), 0))
            .unwrap();
        f.set_len(3 * crate::PAGE_SIZE as u64 + 100).unwrap();
        assert_eq!(collect(WalReader::open(dir.path(), ..).unwrap()), [b"a"]);
    }
}
