//! The log writer: records into pages, pages into segments.
//!
//! The page-filling algorithm is Prometheus's own, so for the same sequence
//! of [`Wal::log`] calls the segment files are byte-identical to what
//! Prometheus writes (without compression; snappy output bytes may differ
//! between implementations, but are valid snappy either way).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::background_sync::BackgroundSync;
use crate::error::{Error, Result};
use crate::fragment::{self, Compression, FragmentType, HEADER_SIZE};
use crate::naming::segment_path;
use crate::segment::{self, DEFAULT_SEGMENT_SIZE, PAGE_SIZE};

mod recovery;

/// When the writer calls `fsync`.
///
/// Whatever the policy, when [`Wal::log`] returns `Ok` the batch has been
/// handed to the operating system with `write(2)`: it survives a crash of
/// the process. The policy decides what survives a crash of the machine
/// (power loss, kernel panic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// `fdatasync` the segment before [`Wal::log`] returns. A batch that was
    /// acknowledged survives power loss. Costs one disk flush per batch.
    EveryLog,
    /// Never flush on [`Wal::log`]. Data reaches the disk when the kernel
    /// writes it back (seconds), when a segment is completed (a background
    /// thread flushes it once the writer has moved to the next one), on
    /// [`Wal::sync`] and on [`Wal::close`]. After power loss, acknowledged
    /// batches since the last of those may be missing; what remains is a
    /// prefix (the torn tail is cut on open; damage at the end of the
    /// second-to-last segment is cut by the head's repair on replay). This
    /// is Prometheus's behaviour.
    #[default]
    OnRotate,
}

/// Options of a [`Wal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// Maximum size of a segment in bytes; a multiple of
    /// [`PAGE_SIZE`]. A single record larger than a whole segment still gets
    /// written, into a segment of its own that ends up larger.
    pub segment_size: u64,
    /// Compression of records written from now on. Readers accept both.
    pub compression: Compression,
    /// When to flush to disk.
    pub sync: SyncPolicy,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_size: DEFAULT_SEGMENT_SIZE,
            compression: Compression::None,
            sync: SyncPolicy::default(),
        }
    }
}

impl WalOptions {
    pub(crate) fn validate(&self) -> Result<()> {
        let s = self.segment_size;
        if s < PAGE_SIZE as u64 || s % PAGE_SIZE as u64 != 0 {
            return Err(Error::InvalidOptions(format!(
                "segment size {s} is not a positive multiple of the page size {PAGE_SIZE}"
            )));
        }
        if self.compression == Compression::Zstd {
            return Err(Error::InvalidOptions(
                "zstd compression is not supported; use snappy".into(),
            ));
        }
        Ok(())
    }

    fn pages_per_segment(&self) -> u64 {
        self.segment_size / PAGE_SIZE as u64
    }
}

/// The page being filled, kept in memory until it is flushed.
struct Page {
    buf: Box<[u8]>,
    /// Bytes used (header + data of fragments so far).
    alloc: usize,
    /// Bytes already written to the file.
    flushed: usize,
}

impl Page {
    fn new() -> Self {
        Page {
            buf: vec![0; PAGE_SIZE].into_boxed_slice(),
            alloc: 0,
            flushed: 0,
        }
    }

    fn remaining(&self) -> usize {
        PAGE_SIZE - self.alloc
    }

    /// No room for another fragment header.
    fn full(&self) -> bool {
        self.remaining() < HEADER_SIZE
    }
}

/// The active segment file.
struct ActiveSegment {
    file: File,
    index: u32,
    /// Complete pages in the file.
    done_pages: u64,
}

/// A write-ahead log open for appending.
///
/// One writer per directory: the TSDB takes a lock on the data directory.
/// Methods take `&mut self`; share a writer between threads with a mutex.
///
/// ```
/// use aion_wal::{Wal, WalOptions, WalReader};
/// let dir = tempfile::tempdir().unwrap();
/// let (mut wal, _report) = Wal::open(dir.path(), WalOptions::default()).unwrap();
/// wal.log(&[b"first record", b"second"]).unwrap();
/// wal.close().unwrap();
///
/// let mut reader = WalReader::open(dir.path(), ..).unwrap();
/// assert_eq!(reader.next_record().unwrap(), Some(&b"first record"[..]));
/// assert_eq!(reader.next_record().unwrap(), Some(&b"second"[..]));
/// assert_eq!(reader.next_record().unwrap(), None);
/// ```
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    segment: ActiveSegment,
    page: Page,
    compressed: Vec<u8>,
    snappy: snap::raw::Encoder,
    /// Set by a failed write: why, and what to cut (see `recovery.rs`).
    failed: Option<recovery::Failure>,
    /// Flushes completed segments under [`SyncPolicy::OnRotate`].
    background: BackgroundSync,
}

impl Wal {
    /// Starts writing segment `index` in `dir` (which must exist); the file
    /// must not exist yet.
    pub(crate) fn create(dir: &Path, index: u32, options: WalOptions) -> Result<Wal> {
        options.validate()?;
        let segment = create_segment(dir, index)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            options,
            segment,
            page: Page::new(),
            compressed: Vec::new(),
            snappy: snap::raw::Encoder::new(),
            failed: None,
            background: BackgroundSync::default(),
        })
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options in effect.
    pub fn options(&self) -> &WalOptions {
        &self.options
    }

    /// Number of the segment being written.
    pub fn active_segment(&self) -> u32 {
        self.segment.index
    }

    /// The active segment and the offset up to which it holds records
    /// (Prometheus's `LastSegmentAndOffset`).
    pub fn position(&self) -> (u32, u64) {
        (
            self.segment.index,
            self.segment.done_pages * PAGE_SIZE as u64 + self.page.alloc as u64,
        )
    }

    /// Appends a batch of records.
    ///
    /// Records are written in order; each is compressed (if configured and
    /// worthwhile) and split into fragments. When this returns `Ok`, all
    /// bytes have been written to the file (see [`SyncPolicy`] for what
    /// that means after a crash). Records never span segments: one that
    /// does not fit the rest of the active segment starts a new one.
    ///
    /// If a write fails (a full disk, an I/O error) the error names the
    /// cause, and the batch is not in the log: the next call first cuts
    /// whatever part of it was written and moves to a new segment, as
    /// Prometheus does, then writes its own batch. While that cannot be
    /// done, calls fail with [`Error::Failed`] naming the first cause.
    pub fn log(&mut self, records: &[&[u8]]) -> Result<()> {
        self.recover()?;
        let began = self.position();
        let result = self.log_batch(records);
        if let Err(e) = &result {
            self.fail(e, began);
        }
        result
    }

    fn log_batch(&mut self, records: &[&[u8]]) -> Result<()> {
        self.background.check()?;
        for (i, rec) in records.iter().enumerate() {
            self.log_one(rec, i + 1 == records.len())?;
        }
        if self.options.sync == SyncPolicy::EveryLog && !records.is_empty() {
            self.sync_segment(false)?;
        }
        Ok(())
    }

    fn log_one(&mut self, record: &[u8], last_of_batch: bool) -> Result<()> {
        if self.page.full() {
            self.flush_page(true)?;
        }

        // `self.compressed` only grows; its first `n` bytes hold the
        // snappy form when `n` is smaller than the record.
        let mut compressed_len = None;
        if self.options.compression == Compression::Snappy && !record.is_empty() {
            let max = snap::raw::max_compress_len(record.len());
            if max > 0 {
                if self.compressed.len() < max {
                    self.compressed.resize(max, 0);
                }
                let n = self
                    .snappy
                    .compress(record, &mut self.compressed)
                    .map_err(|e| Error::InvalidRequest(format!("snappy: {e}")))?;
                // Stored compressed only if strictly smaller, as Prometheus
                // does; readers rely on this to spot flipped header bits.
                if n < record.len() {
                    compressed_len = Some(n);
                }
            }
        }
        // Take the buffer out so `self` can be borrowed mutably below.
        let buf = std::mem::take(&mut self.compressed);
        let result = match compressed_len {
            Some(n) => self.write_fragments(&buf[..n], true),
            None => self.write_fragments(record, false),
        };
        self.compressed = buf;
        result?;

        if last_of_batch && self.page.alloc > 0 {
            self.flush_page(false)?;
        }
        Ok(())
    }

    fn write_fragments(&mut self, mut rec: &[u8], compressed: bool) -> Result<()> {
        let compression = if compressed {
            Compression::Snappy
        } else {
            Compression::None
        };
        // Room left in this segment: the rest of this page plus every
        // further page, each less one header.
        let frag_room = (PAGE_SIZE - HEADER_SIZE) as i128;
        let left = (self.page.remaining() as i128 - HEADER_SIZE as i128)
            + frag_room
                * (self.options.pages_per_segment() as i128 - self.segment.done_pages as i128 - 1);
        if rec.len() as i128 > left {
            self.next_segment()?;
        }

        let mut first = true;
        while first || !rec.is_empty() {
            let page = &mut self.page;
            let n = rec.len().min(page.remaining() - HEADER_SIZE);
            let (part, rest) = rec.split_at(n);
            let typ = match (first, rest.is_empty()) {
                (true, true) => FragmentType::Full,
                (false, true) => FragmentType::Last,
                (true, false) => FragmentType::First,
                (false, false) => FragmentType::Middle,
            };
            let at = page.alloc;
            fragment::write_header(&mut page.buf[at..at + HEADER_SIZE], typ, compression, part);
            page.buf[at + HEADER_SIZE..at + HEADER_SIZE + n].copy_from_slice(part);
            page.alloc += HEADER_SIZE + n;
            if page.full() {
                self.flush_page(true)?;
            }
            rec = rest;
            first = false;
        }
        Ok(())
    }

    /// Writes the unwritten part of the page. With `clear` (or when no
    /// further fragment fits) the page is padded with zeros to its end and
    /// a new one begins.
    fn flush_page(&mut self, clear: bool) -> Result<()> {
        let page = &mut self.page;
        let clear = clear || page.full();
        if clear {
            page.buf[page.alloc..].fill(0);
            page.alloc = PAGE_SIZE;
        }
        let bytes = &page.buf[page.flushed..page.alloc];
        self.segment.file.write_all(bytes).map_err(|e| {
            Error::io(
                "writing segment",
                segment_path(&self.dir, self.segment.index),
                e,
            )
        })?;
        page.flushed = page.alloc;
        if clear {
            page.alloc = 0;
            page.flushed = 0;
            self.segment.done_pages += 1;
        }
        Ok(())
    }

    /// Flushes the active segment to disk (`fdatasync`): everything logged
    /// so far survives power loss.
    pub fn sync(&mut self) -> Result<()> {
        self.recover()?;
        let began = self.position();
        let result = self
            .background
            .wait()
            .and_then(|()| self.sync_segment(false));
        if let Err(e) = &result {
            self.fail(e, began);
        }
        result
    }

    fn sync_segment(&mut self, metadata: bool) -> Result<()> {
        let r = if metadata {
            self.segment.file.sync_all()
        } else {
            self.segment.file.sync_data()
        };
        r.map_err(|e| {
            Error::io(
                "syncing segment",
                segment_path(&self.dir, self.segment.index),
                e,
            )
        })
    }

    /// Completes the active segment (padding its last page and flushing it
    /// to disk) and starts the next one. Returns the new segment's number.
    ///
    /// Checkpointing uses this to seal the segments it folds.
    pub fn next_segment(&mut self) -> Result<u32> {
        self.recover()?;
        let began = self.position();
        let r = self.rotate();
        if let Err(e) = &r {
            self.fail(e, began);
        }
        r
    }

    fn rotate(&mut self) -> Result<u32> {
        if self.page.alloc > 0 {
            self.flush_page(true)?;
        }
        let next = self.segment.index.checked_add(1).ok_or_else(|| {
            Error::InvalidRequest("segment numbers exhausted (u32::MAX reached)".into())
        })?;
        if self.options.sync == SyncPolicy::EveryLog {
            // Every acknowledged batch is on disk already; the padding
            // too, before the next segment exists, so the new segment's
            // flushes never vouch for an unflushed one.
            self.sync_segment(true)?;
            self.segment = create_segment(&self.dir, next)?;
        } else {
            let finished = std::mem::replace(&mut self.segment, create_segment(&self.dir, next)?);
            self.background
                .flush_later(finished.file, segment_path(&self.dir, finished.index))?;
        }
        Ok(next)
    }

    /// Pads the current page, flushes the segment to disk and closes the
    /// log.
    pub fn close(mut self) -> Result<()> {
        self.recover()?;
        if self.page.alloc > 0 {
            self.flush_page(true)?;
        }
        self.background.wait()?;
        self.sync_segment(true)
    }

    /// Deletes the segments numbered below `before` (after a checkpoint
    /// has folded them), oldest first. The active segment is never deleted.
    pub fn truncate(&mut self, before: u32) -> Result<Vec<u32>> {
        let before = before.min(self.segment.index);
        segment::delete_segments_before(&self.dir, before)
    }

    pub(crate) fn has_data_in_active_segment(&self) -> bool {
        self.segment.done_pages > 0 || self.page.alloc > 0
    }

    /// Replaces the active segment by a new file (after repair deleted it).
    pub(crate) fn restart_at(&mut self, index: u32) -> Result<()> {
        self.segment = create_segment(&self.dir, index)?;
        self.page = Page::new();
        self.failed = None;
        Ok(())
    }
}

fn create_segment(dir: &Path, index: u32) -> Result<ActiveSegment> {
    let path = segment_path(dir, index);
    let file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Error::io("creating segment", &path, e))?;
    // The directory entry must be durable before records in the file can
    // be.
    segment::sync_dir(dir)?;
    Ok(ActiveSegment {
        file,
        index,
        done_pages: 0,
    })
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.dir)
            .field("options", &self.options)
            .field("segment", &self.segment.index)
            .field("page_alloc", &self.page.alloc)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::WalReader;
    use std::fs;

    fn options(pages: u64) -> WalOptions {
        WalOptions {
            segment_size: pages * PAGE_SIZE as u64,
            ..WalOptions::default()
        }
    }

    fn read_all(dir: &Path) -> Vec<Vec<u8>> {
        let mut r = WalReader::open(dir, ..).unwrap();
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            out.push(rec.to_vec());
        }
        out
    }

    fn header(typ: u8, data: &[u8]) -> Vec<u8> {
        let mut h = vec![typ];
        h.extend_from_slice(&(data.len() as u16).to_be_bytes());
        h.extend_from_slice(&aion_model::encoding::crc32c(data).to_be_bytes());
        h
    }

    #[test]
    fn rejects_bad_segment_sizes() {
        let dir = tempfile::tempdir().unwrap();
        for size in [0, 1000, PAGE_SIZE as u64 + 1] {
            let o = WalOptions {
                segment_size: size,
                ..WalOptions::default()
            };
            assert!(matches!(
                Wal::create(dir.path(), 0, o),
                Err(Error::InvalidOptions(_))
            ));
        }
    }

    #[test]
    fn small_records_share_a_page_and_flush_per_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::create(dir.path(), 0, options(4)).unwrap();
        w.log(&[b"abc", b"", b"defg"]).unwrap();
        let mut want = header(1, b"abc");
        want.extend_from_slice(b"abc");
        want.extend(header(1, b""));
        want.extend(header(1, b"defg"));
        want.extend_from_slice(b"defg");
        // Everything logged is in the file when `log` returns.
        assert_eq!(fs::read(segment_path(dir.path(), 0)).unwrap(), want);
        assert_eq!(w.position(), (0, want.len() as u64));
        w.close().unwrap();
        let bytes = fs::read(segment_path(dir.path(), 0)).unwrap();
        assert_eq!(bytes.len(), PAGE_SIZE);
        assert!(bytes[want.len()..].iter().all(|&b| b == 0));
        assert_eq!(read_all(dir.path()), [&b"abc"[..], b"", b"defg"]);
    }

    #[test]
    fn seven_free_bytes_start_a_zero_length_first_fragment() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::create(dir.path(), 0, options(4)).unwrap();
        let a = vec![0xaa; PAGE_SIZE - 2 * HEADER_SIZE];
        let b = vec![0xbb; 10];
        w.log(&[&a]).unwrap();
        assert_eq!(w.position(), (0, (PAGE_SIZE - HEADER_SIZE) as u64));
        w.log(&[&b]).unwrap();
        let bytes = fs::read(segment_path(dir.path(), 0)).unwrap();
        let mut want = header(1, &a);
        want.extend_from_slice(&a);
        want.extend(header(2, b""));
        assert_eq!(want.len(), PAGE_SIZE);
        want.extend(header(4, &b));
        want.extend_from_slice(&b);
        assert_eq!(bytes, want);
        w.close().unwrap();
        assert_eq!(read_all(dir.path()), [a, b]);
    }

    #[test]
    fn fewer_than_seven_free_bytes_are_padding() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::create(dir.path(), 0, options(4)).unwrap();
        let a = vec![1; PAGE_SIZE - HEADER_SIZE - 3];
        w.log(&[&a, b"x"]).unwrap();
        let bytes = fs::read(segment_path(dir.path(), 0)).unwrap();
        assert_eq!(&bytes[PAGE_SIZE - 3..PAGE_SIZE], &[0, 0, 0]);
        assert_eq!(bytes[PAGE_SIZE], 1);
        assert_eq!(bytes.len(), PAGE_SIZE + HEADER_SIZE + 1);
        w.close().unwrap();
        assert_eq!(read_all(dir.path()), [a, b"x".to_vec()]);
    }

    #[test]
    fn large_records_span_pages_as_first_middle_last() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::create(dir.path(), 0, options(8)).unwrap();
        let rec: Vec<u8> = (0..3 * PAGE_SIZE as u32).map(|i| (i % 251) as u8).collect();
        w.log(&[&rec]).unwrap();
        let bytes = fs::read(segment_path(dir.path(), 0)).unwrap();
        let types: Vec<u8> = (0..4).map(|p| bytes[p * PAGE_SIZE]).collect();
        assert_eq!(types, [2, 3, 3, 4]);
        let last_len = rec.len() - 3 * (PAGE_SIZE - HEADER_SIZE);
        assert_eq!(bytes.len(), 3 * PAGE_SIZE + HEADER_SIZE + last_len);
        w.close().unwrap();
        assert_eq!(read_all(dir.path()), [rec]);
    }

    #[test]
    fn records_never_span_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::create(dir.path(), 0, options(2)).unwrap();
        let a = vec![1; 40_000];
        let b = vec![2; 30_000];
        w.log(&[&a]).unwrap();
        assert_eq!(w.active_segment(), 0);
        w.log(&[&b]).unwrap();
        assert_eq!(w.active_segment(), 1);
        // The finished segment was padded to whole pages.
        assert_eq!(
            fs::metadata(segment_path(dir.path(), 0)).unwrap().len(),
            2 * PAGE_SIZE as u64
        );
        w.close().unwrap();
        assert_eq!(read_all(dir.path()), [a, b]);
    }

    #[test]
    fn oversized_record_gets_its_own_segment() {
        // As in Prometheus: the record does not fit the empty active
        // segment either, which is left empty.
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::create(dir.path(), 0, options(1)).unwrap();
        let big = vec![3; 40_000];
        w.log(&[&big]).unwrap();
        w.log(&[b"after"]).unwrap();
        w.close().unwrap();
        let sizes: Vec<u64> = (0..3)
            .map(|i| fs::metadata(segment_path(dir.path(), i)).unwrap().len())
            .collect();
        assert_eq!(sizes, [0, 2 * PAGE_SIZE as u64, PAGE_SIZE as u64]);
        assert_eq!(read_all(dir.path()), [big, b"after".to_vec()]);
    }

    #[test]
    fn snappy_only_when_smaller() {
        let dir = tempfile::tempdir().unwrap();
        let o = WalOptions {
            compression: Compression::Snappy,
            ..options(4)
        };
        let mut w = Wal::create(dir.path(), 0, o).unwrap();
        let compressible = vec![7u8; 5000];
        let incompressible: Vec<u8> = (0..64u32).map(|i| (i * 97 % 256) as u8).collect();
        w.log(&[&compressible, &incompressible, b""]).unwrap();
        let bytes = fs::read(segment_path(dir.path(), 0)).unwrap();
        assert_eq!(bytes[0], 0b1001, "full + snappy");
        let n = u16::from_be_bytes([bytes[1], bytes[2]]) as usize;
        assert!(n < 5000);
        assert_eq!(
            bytes[HEADER_SIZE + n],
            1,
            "stored plain: snappy would not shrink it"
        );
        w.close().unwrap();
        assert_eq!(read_all(dir.path()), [compressible, incompressible, vec![]]);
    }

    #[test]
    fn next_segment_and_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::create(dir.path(), 0, options(4)).unwrap();
        for i in 0u8..4 {
            w.log(&[&[i]]).unwrap();
            assert_eq!(w.next_segment().unwrap(), u32::from(i) + 1);
        }
        assert_eq!(w.truncate(2).unwrap(), [0, 1]);
        // The active segment is never deleted.
        assert_eq!(w.truncate(100).unwrap(), [2, 3]);
        assert_eq!(
            crate::segment::segment_range(dir.path()).unwrap(),
            Some((4, 4))
        );
        w.log(&[b"z"]).unwrap();
        w.close().unwrap();
        assert_eq!(read_all(dir.path()), [b"z".to_vec()]);
    }

    #[test]
    fn sync_every_log() {
        let dir = tempfile::tempdir().unwrap();
        let o = WalOptions {
            sync: SyncPolicy::EveryLog,
            ..options(4)
        };
        let mut w = Wal::create(dir.path(), 0, o).unwrap();
        w.log(&[b"durable"]).unwrap();
        w.sync().unwrap();
        w.close().unwrap();
        assert_eq!(read_all(dir.path()), [b"durable".to_vec()]);
    }

    mod properties {
        use super::*;
        use crate::live_reader::LiveReader;
        use proptest::collection::vec;
        use proptest::prelude::*;

        fn record() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                4 => vec(any::<u8>(), 0..200),
                // Compressible, page-spanning records.
                1 => (1usize..80_000, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
                1 => vec(any::<u8>(), 30_000..70_000),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(40))]

            /// Whatever the records, batching, segment size and
            /// compression, readers return exactly what was logged.
            #[test]
            fn logged_records_read_back(
                batches in vec(vec(record(), 0..4), 1..12),
                pages in 1u64..5,
                snappy in any::<bool>(),
                rotate_every in 0usize..5,
            ) {
                let dir = tempfile::tempdir().unwrap();
                let options = WalOptions {
                    segment_size: pages * PAGE_SIZE as u64,
                    compression: if snappy { Compression::Snappy } else { Compression::None },
                    ..WalOptions::default()
                };
                let mut w = Wal::create(dir.path(), 0, options).unwrap();
                let mut tail = LiveReader::new(dir.path(), 0);
                let mut tailed = Vec::new();
                for (i, batch) in batches.iter().enumerate() {
                    let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
                    w.log(&refs).unwrap();
                    if rotate_every > 0 && i % rotate_every == 0 {
                        w.next_segment().unwrap();
                    }
                    while let Some(r) = tail.next_record().unwrap() {
                        tailed.push(r.to_vec());
                    }
                }
                w.close().unwrap();
                let want: Vec<Vec<u8>> = batches.concat();
                prop_assert_eq!(&read_all(dir.path()), &want);
                prop_assert_eq!(&tailed, &want);
            }

            /// The property of the `wal_segment` fuzz target: a reader over
            /// arbitrary segment bytes never panics, and opening the log
            /// (which may cut a torn tail) either fails cleanly or leaves a
            /// log that reads without error.
            #[test]
            fn arbitrary_segments_never_panic(bytes in vec(any::<u8>(), 0..3 * PAGE_SIZE)) {
                let dir = tempfile::tempdir().unwrap();
                fs::write(segment_path(dir.path(), 0), &bytes).unwrap();
                let mut r = WalReader::open(dir.path(), ..).unwrap();
                while let Ok(Some(_)) = r.next_record() {}
                if Wal::open(dir.path(), WalOptions::default()).is_ok() {
                    let mut r = WalReader::open(dir.path(), ..).unwrap();
                    while r.next_record().unwrap().is_some() {}
                }
            }
        }
    }
}
