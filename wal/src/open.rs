//! Opening a log for writing: recover what a crash left, then start a
//! fresh segment.

use std::fs;
use std::path::Path;

use crate::checkpoint_dirs::{last_checkpoint, remove_temporary_checkpoints};
use crate::error::{Error, Result};
use crate::repair::{cut_torn_tail, TornTail};
use crate::segment::segment_range;
use crate::writer::{Wal, WalOptions};

/// What [`Wal::open`] found and did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpenReport {
    /// A torn write cut from the newest segment, if there was one.
    pub torn_tail: Option<TornTail>,
    /// Unfinished checkpoint directories deleted.
    pub removed_temporary_checkpoints: usize,
    /// Segments present before opening (first, last).
    pub segments: Option<(u32, u32)>,
    /// The newest checkpoint, if any.
    pub checkpoint: Option<u32>,
    /// The segment new records go to.
    pub active_segment: u32,
}

impl Wal {
    /// Opens (creating if needed) the log in `dir` for appending.
    ///
    /// Recovery first: unfinished checkpoints are deleted, and a torn tail
    /// of the newest segment (a partial record, partial page or unwritten
    /// bytes from a crash) is cut at the last complete record and reported
    /// in [`OpenReport::torn_tail`]. Damage followed by intact records is
    /// not cut: it is returned as [`Error::Corrupt`] naming segment and
    /// offset; call [`repair`](crate::repair()) with its position to keep
    /// what precedes it, then open again. Older segments are not read here;
    /// replay ([`WalReader::replay`](crate::WalReader::replay)) finds
    /// damage in them.
    ///
    /// Writing then starts in a new segment after every existing segment
    /// and checkpoint, as Prometheus does.
    pub fn open(dir: impl AsRef<Path>, options: WalOptions) -> Result<(Wal, OpenReport)> {
        let dir = dir.as_ref();
        options.validate()?;
        fs::create_dir_all(dir).map_err(|e| Error::io("creating WAL directory", dir, e))?;
        let removed_temporary_checkpoints = remove_temporary_checkpoints(dir)?;
        let torn_tail = cut_torn_tail(dir)?;
        let segments = segment_range(dir)?;
        let checkpoint = last_checkpoint(dir)?.map(|(i, _)| i);
        let after = |x: Option<u32>| x.map_or(Ok(0), |i| i.checked_add(1).ok_or(()));
        let active_segment = after(segments.map(|(_, last)| last))
            .and_then(|a| after(checkpoint).map(|b| a.max(b)))
            .map_err(|()| Error::InvalidRequest("segment numbers exhausted".into()))?;
        let wal = Wal::create(dir, active_segment, options)?;
        Ok((
            wal,
            OpenReport {
                torn_tail,
                removed_temporary_checkpoints,
                segments,
                checkpoint,
                active_segment,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::checkpoint_dir;
    use crate::naming::segment_path;
    use crate::reader::WalReader;
    use crate::segment::PAGE_SIZE;

    fn read_all(dir: &Path) -> Vec<Vec<u8>> {
        let mut r = WalReader::replay(dir).unwrap();
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            out.push(rec.to_vec());
        }
        out
    }

    #[test]
    fn every_open_starts_a_new_segment() {
        let dir = tempfile::tempdir().unwrap();
        let wal_dir = dir.path().join("wal");
        let (mut w, r) = Wal::open(&wal_dir, WalOptions::default()).unwrap();
        assert_eq!((r.active_segment, r.segments), (0, None));
        w.log(&[b"one"]).unwrap();
        w.close().unwrap();
        let (w, r) = Wal::open(&wal_dir, WalOptions::default()).unwrap();
        assert_eq!(
            (r.active_segment, r.segments, r.torn_tail),
            (1, Some((0, 0)), None)
        );
        drop(w);
        // A checkpoint newer than every segment moves the start past it.
        fs::create_dir(checkpoint_dir(&wal_dir, 7)).unwrap();
        let (_, r) = Wal::open(&wal_dir, WalOptions::default()).unwrap();
        assert_eq!((r.active_segment, r.checkpoint), (8, Some(7)));
    }

    #[test]
    fn cuts_a_torn_tail_behind_empty_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
        let big = vec![5u8; 2 * PAGE_SIZE];
        w.log(&[b"kept", &big]).unwrap();
        drop(w);
        let path = segment_path(dir.path(), 0);
        let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(PAGE_SIZE as u64 + 10).unwrap();
        // A crash right after the next open created segment 1.
        fs::write(segment_path(dir.path(), 1), b"").unwrap();

        let (w, r) = Wal::open(dir.path(), WalOptions::default()).unwrap();
        drop(w);
        let torn = r.torn_tail.expect("torn tail reported");
        assert_eq!((torn.at.segment, torn.at.offset), (0, 11));
        assert_eq!(torn.dropped_bytes, PAGE_SIZE as u64 + 10 - 11);
        assert_eq!(torn.dropped_records, 1);
        assert_eq!(r.active_segment, 2);
        assert_eq!(fs::metadata(&path).unwrap().len(), PAGE_SIZE as u64);
        assert_eq!(read_all(dir.path()), [b"kept".to_vec()]);
    }

    #[test]
    fn removes_unfinished_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("checkpoint.00000003.tmp");
        fs::create_dir(&tmp).unwrap();
        fs::write(tmp.join("00000000"), b"partial").unwrap();
        let (_, r) = Wal::open(dir.path(), WalOptions::default()).unwrap();
        assert_eq!(r.removed_temporary_checkpoints, 1);
        assert!(!tmp.exists());
        assert_eq!(r.checkpoint, None);
    }

    #[test]
    fn rejects_zstd_writing() {
        let dir = tempfile::tempdir().unwrap();
        let o = WalOptions {
            compression: crate::Compression::Zstd,
            ..WalOptions::default()
        };
        assert!(matches!(
            Wal::open(dir.path(), o),
            Err(Error::InvalidOptions(_))
        ));
    }
}
