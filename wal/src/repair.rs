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
use crate::naming::segment_path;
use crate::reader::cursor_error;
use crate::segment::{list_segments, newest_written, remove_file_if_exists, sync_dir, PAGE_SIZE};
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
    let Some(last) = newest_written(&segments) else {
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

/// Whether `bytes` (at segment `offset`) begin with an intact fragment that
/// starts a record. Cheap layout checks come before the checksum, since
/// this runs at every byte of a damaged page: a writer ends a `first`
/// fragment exactly at the page end, and follows a `full` one by padding,
/// the page end, the end of the data, or another record start.
fn is_record_start(bytes: &[u8], offset: u64) -> bool {
    let starts_record = |b: u8| matches!(b, 1 | 2 | 9 | 10);
    if bytes.len() < 8 || !starts_record(bytes[0]) {
        return false;
    }
    let Some(len) = aion_model::encoding::be16_at(bytes, 1) else {
        return false;
    };
    let len = usize::from(len);
    let end = 7 + len;
    let to_page_end = PAGE_SIZE - (offset % PAGE_SIZE as u64) as usize;
    let plausible = match bytes[0] & 0b111 {
        2 => end == to_page_end,
        _ => {
            end == to_page_end
                || end == bytes.len()
                || (end < bytes.len().min(to_page_end)
                    && (bytes[end] == 0 || starts_record(bytes[end])))
        }
    };
    plausible
        && len > 0
        && matches!(
            fragment::parse(bytes, offset),
            Ok(Parsed::Fragment(f)) if f.typ.starts_record()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::WalReader;
    use crate::writer::WalOptions;
    use std::fs;

    /// Segments 0..=3 with records `[s, i]` for i in 0..3.
    fn log_with_four_segments(dir: &Path) {
        let (mut w, _) = Wal::open(dir, WalOptions::default()).unwrap();
        for s in 0..4u8 {
            w.log(&[&[s, 0], &[s, 1], &[s, 2]]).unwrap();
            if s < 3 {
                w.next_segment().unwrap();
            }
        }
        w.close().unwrap();
    }

    fn replay(dir: &Path) -> Result<Vec<Vec<u8>>> {
        let mut r = WalReader::replay(dir)?;
        let mut out = Vec::new();
        while let Some(rec) = r.next_record()? {
            out.push(rec.to_vec());
        }
        Ok(out)
    }

    #[test]
    fn keeps_everything_before_the_damage() {
        let dir = tempfile::tempdir().unwrap();
        log_with_four_segments(dir.path());
        // Damage the data of the second record of segment 1 (offset 9).
        let path = segment_path(dir.path(), 1);
        let mut bytes = fs::read(&path).unwrap();
        bytes[9 + 7] ^= 0x40;
        fs::write(&path, bytes).unwrap();

        let (mut w, open) = Wal::open(dir.path(), WalOptions::default()).unwrap();
        assert!(open.torn_tail.is_none(), "segment 3 is intact");
        let err = replay(dir.path()).unwrap_err();
        let at = err.position().unwrap().clone();
        assert_eq!((at.segment, at.offset), (1, 9), "{err}");

        // Once records were logged, repairing would delete them.
        w.log(&[b"too early"]).unwrap();
        assert!(matches!(w.repair(&at), Err(Error::InvalidRequest(_))));
        drop(w);

        let (mut w, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
        let report = w.repair(&at).unwrap();
        assert_eq!(report.cut_at.offset, 9);
        let deleted: Vec<u32> = report.deleted_segments.iter().map(|d| d.0).collect();
        assert_eq!(deleted, [2, 3, 4, 5]);
        assert_eq!(w.active_segment(), 2);
        w.log(&[b"after repair"]).unwrap();
        w.close().unwrap();
        assert_eq!(
            replay(dir.path()).unwrap(),
            [
                vec![0, 0],
                vec![0, 1],
                vec![0, 2],
                vec![1, 0],
                b"after repair".to_vec()
            ]
        );
    }

    #[test]
    fn cuts_at_a_record_boundary_before_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        log_with_four_segments(dir.path());
        // An offset in the middle of the third record of segment 2.
        let at = SegmentPosition {
            dir: dir.path().to_path_buf(),
            segment: 2,
            offset: 20,
        };
        let report = repair(&at).unwrap();
        assert_eq!(report.cut_at.offset, 18);
        assert_eq!(report.dropped_bytes, PAGE_SIZE as u64 - 18);
        assert_eq!(report.deleted_segments, [(3, PAGE_SIZE as u64)]);
        assert_eq!(replay(dir.path()).unwrap().len(), 8);
    }

    #[test]
    fn refuses_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let at = SegmentPosition {
            dir: dir.path().join("checkpoint.00000001"),
            segment: 0,
            offset: 0,
        };
        assert!(matches!(repair(&at), Err(Error::InvalidRequest(_))));
    }

    #[test]
    fn unsupported_records_are_not_cut_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
        w.log(&[b"plain"]).unwrap();
        drop(w);
        // Append a zstd-flagged record, as Prometheus ≥ 2.46 may write.
        let path = segment_path(dir.path(), 0);
        let mut bytes = fs::read(&path).unwrap();
        let data = b"zstd frame";
        bytes.push(0x11);
        bytes.extend_from_slice(&(data.len() as u16).to_be_bytes());
        bytes.extend_from_slice(&aion_model::encoding::crc32c(data).to_be_bytes());
        bytes.extend_from_slice(data);
        fs::write(&path, &bytes).unwrap();
        let err = Wal::open(dir.path(), WalOptions::default()).unwrap_err();
        assert!(
            matches!(&err, Error::Unsupported { at, .. } if at.offset == 12),
            "{err}"
        );
        assert!(err.to_string().contains("zstd"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), bytes, "nothing was cut");
    }
}
