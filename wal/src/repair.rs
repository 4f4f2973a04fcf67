//! Cutting damaged logs back to their intact prefix.
//!
//! Two situations differ in what may be dropped silently:
//!
//! * A **torn tail**: the last write before a crash was cut short, leaving
//!   a partial record, a partial page, or unwritten (zero or garbage)
//!   bytes at the end of the newest segment. Only incomplete data is lost
//!   by cutting it, so [`Wal::open`](crate::Wal::open) does that itself and
//!   reports it ([`TornTail`]).
//! * **Damage before the tail**: intact records follow the damaged bytes.
//!   Cutting would drop them, so reading reports [`Error::Corrupt`] naming
//!   the segment and offset, and the caller decides to call [`repair`],
//!   which keeps everything before the damage and deletes everything after
//!   it (later records may depend on the lost ones, as Prometheus reasons).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::cursor::{CursorErrorKind, SegmentCursor, Step};
use crate::error::{Error, Result, SegmentPosition};
use crate::fragment::{self, Parsed};
use crate::reader::cursor_error;
use crate::segment::{list_segments, remove_file_if_exists, segment_path, sync_dir, PAGE_SIZE};
use crate::writer::Wal;

/// A torn write cut from the end of the newest segment on open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// Where the segment was cut: the start of the incomplete record. Every
    /// record before it is intact.
    pub at: SegmentPosition,
    /// Bytes removed (the file's length beyond `at.offset`).
    pub dropped_bytes: u64,
    /// Records begun but not completed before the crash (0 or 1): the
    /// tail held no complete record.
    pub dropped_records: u64,
    /// What the damage looked like.
    pub corruption: crate::error::Corruption,
}

/// What [`repair`] removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairReport {
    /// Where the damaged segment now ends (a record boundary at or before
    /// the damage).
    pub cut_at: SegmentPosition,
    /// Bytes removed from the damaged segment.
    pub dropped_bytes: u64,
    /// Later segments deleted entirely, with their sizes.
    pub deleted_segments: Vec<(u32, u64)>,
}

/// Keeps everything before `at` and removes the rest: segments after
/// `at.segment` are deleted (newest first, so the remaining ones stay
/// consecutive should this be interrupted), and `at.segment` is cut at the
/// last record boundary not after `at.offset` and padded to a whole page.
///
/// `at` is normally the position of an [`Error::Corrupt`] or
/// [`Error::Unsupported`] from reading. Damage inside a checkpoint cannot be
/// repaired (the checkpoint replaces segments that no longer exist).
///
/// ```no_run
/// # use aion_wal::{repair, WalReader};
/// let mut r = WalReader::replay("data/wal")?;
/// loop {
///     match r.next_record() {
///         Ok(Some(_record)) => { /* apply */ }
///         Ok(None) => break,
///         Err(e) => {
///             let Some(at) = e.position() else { return Err(e) };
///             eprintln!("{e}; keeping everything before it");
///             repair(at)?;
///             break;
///         }
///     }
/// }
/// # Ok::<(), aion_wal::Error>(())
/// ```
pub fn repair(at: &SegmentPosition) -> Result<RepairReport> {
    let dir = at.dir.as_path();
    let in_checkpoint = dir
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("checkpoint."));
    if in_checkpoint {
        return Err(Error::InvalidRequest(format!(
            "cannot repair damage inside checkpoint {}: its segments replace deleted ones",
            dir.display()
        )));
    }
    let segments = list_segments(dir)?;
    if !segments.iter().any(|s| s.index == at.segment) {
        return Err(Error::InvalidRequest(format!(
            "cannot repair {at}: no such segment"
        )));
    }
    let mut deleted_segments = Vec::new();
    for s in segments.iter().rev().filter(|s| s.index > at.segment) {
        remove_file_if_exists(&segment_path(dir, s.index))?;
        deleted_segments.push((s.index, s.size));
    }
    deleted_segments.reverse();

    let path = at.path();
    let cut = last_boundary_before(&path, at.offset)?;
    let dropped_bytes = cut_segment(&path, cut)?;
    sync_dir(dir)?;
    Ok(RepairReport {
        cut_at: SegmentPosition {
            offset: cut,
            ..at.clone()
        },
        dropped_bytes,
        deleted_segments,
    })
}

/// The end of the last complete record (or its padding) at or before
/// `limit`.
fn last_boundary_before(path: &Path, limit: u64) -> Result<u64> {
    let file = File::open(path).map_err(|e| Error::io("opening segment", path, e))?;
    let mut cursor = SegmentCursor::new(file);
    let mut cut = 0;
    loop {
        match cursor.advance(true) {
            Ok(Step::Record(_)) | Ok(Step::End) if cursor.clean_end() > limit => break,
            Ok(Step::Record(_)) => cut = cursor.clean_end(),
            Ok(Step::End) => {
                cut = cursor.clean_end();
                break;
            }
            Err(e) => {
                if let CursorErrorKind::Io(source) = e.kind {
                    return Err(Error::io("reading segment", path, source));
                }
                cut = cut.max(e.offset.min(limit));
                break;
            }
        }
    }
    Ok(cut)
}

/// Cuts a segment file at `cut`, zero-fills the rest of that page, and
/// flushes it. Returns the number of bytes dropped.
fn cut_segment(path: &Path, cut: u64) -> Result<u64> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io("opening segment for repair", path, e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io("reading metadata of", path, e))?
        .len();
    let page = PAGE_SIZE as u64;
    let padded = cut.div_ceil(page) * page;
    // Shrinking then growing leaves zeros after `cut`.
    let resize = |n| {
        file.set_len(n)
            .map_err(|e| Error::io("truncating segment", path, e))
    };
    resize(cut)?;
    resize(padded)?;
    file.sync_all()
        .map_err(|e| Error::io("syncing segment", path, e))?;
    Ok(len.saturating_sub(cut))
}

/// Checks the newest non-empty segment of `dir` and cuts a torn tail.
/// Damage followed by intact records is returned as an error.
pub(crate) fn cut_torn_tail(dir: &Path) -> Result<Option<TornTail>> {
    let segments = list_segments(dir)?;
    let Some(last) = segments.iter().rev().find(|s| s.size > 0) else {
        return Ok(None);
    };
    let path = segment_path(dir, last.index);
    let file = File::open(&path).map_err(|e| Error::io("opening segment", &path, e))?;
    let mut cursor = SegmentCursor::new(file);
    let err = loop {
        match cursor.advance(true) {
            Ok(Step::Record(_)) => {}
            Ok(Step::End) => return Ok(None),
            Err(e) => break e,
        }
    };
    let offset = err.offset;
    let record_begun = err.record_begun;
    let corruption = match err.kind {
        CursorErrorKind::Corrupt(c) => c,
        _ => return Err(cursor_error(dir, last.index, err)),
    };
    let at = SegmentPosition {
        dir: dir.to_path_buf(),
        segment: last.index,
        offset,
    };
    if record_starts_after(&path, offset)? {
        return Err(Error::Corrupt { at, corruption });
    }
    let dropped_records = u64::from(record_begun);
    let dropped_bytes = cut_segment(&path, offset)?;
    sync_dir(dir)?;
    Ok(Some(TornTail {
        at,
        dropped_bytes,
        dropped_records,
        corruption,
    }))
}

/// Whether an intact record start (a `full` or `first` fragment with data
/// and a matching checksum) exists after `damage`: at any byte of the
/// damaged page, or at the start of any later page (writers start every
/// page with a fragment).
fn record_starts_after(path: &Path, damage: u64) -> Result<bool> {
    let mut file = File::open(path).map_err(|e| Error::io("opening segment", path, e))?;
    let page = PAGE_SIZE as u64;
    let mut page_start = damage / page * page;
    let mut buf = vec![0u8; PAGE_SIZE];
    loop {
        file.seek(SeekFrom::Start(page_start))
            .map_err(|e| Error::io("reading segment", path, e))?;
        let n =
            read_up_to(&mut file, &mut buf).map_err(|e| Error::io("reading segment", path, e))?;
        if n == 0 {
            return Ok(false);
        }
        let bytes = &buf[..n];
        let first_candidate = if page_start <= damage {
            (damage - page_start) as usize + 1
        } else {
            0
        };
        let last_candidate = if page_start <= damage { n } else { 1.min(n) };
        for at in first_candidate..last_candidate {
            if is_record_start(&bytes[at..], page_start + at as u64) {
                return Ok(true);
            }
        }
        page_start += page;
    }
}

fn is_record_start(bytes: &[u8], offset: u64) -> bool {
    matches!(
        fragment::parse(bytes, offset),
        Ok(Parsed::Fragment(f)) if f.typ.starts_record() && !f.data.is_empty()
    )
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl Wal {
    /// [`repair`] for a log already open for writing: cuts the log at `at`
    /// and continues writing in a new segment after it.
    ///
    /// Call it after replay found damage and before logging anything: the
    /// active segment is deleted with every other segment after the damage,
    /// so this refuses if records were already written to it.
    pub fn repair(&mut self, at: &SegmentPosition) -> Result<RepairReport> {
        if self.has_data_in_active_segment() {
            return Err(Error::InvalidRequest(
                "repair would delete records logged since the log was opened; repair before logging"
                    .into(),
            ));
        }
        if at.dir != self.dir() {
            return Err(Error::InvalidRequest(format!(
                "{at} is not in this log's directory {}",
                self.dir().display()
            )));
        }
        if at.segment >= self.active_segment() {
            return Err(Error::InvalidRequest(format!(
                "{at} is not before the active segment {:08}",
                self.active_segment()
            )));
        }
        let report = repair(at)?;
        self.restart_at(at.segment + 1)?;
        Ok(report)
    }
}
