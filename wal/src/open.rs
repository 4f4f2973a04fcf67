//! Opening a log for writing: recover what a crash left, then start a
//! fresh segment.

use std::fs;
use std::path::Path;

use crate::checkpoint_dirs::{last_checkpoint, remove_temporary_checkpoints};
use crate::error::{Error, Result};
use crate::repair::{cut_torn_tail, TornTail};
use crate::segment::{list_segments, newest_written, segment_range};
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
        Self::open_checking(dir.as_ref(), options, None)
    }

    /// [`Wal::open`] after a replay read the log with a reader that
    /// [deferred damage](crate::WalReader::defer_newest_damage) in the
    /// newest segment: `verified` is its
    /// [`verified_newest_segment`](crate::WalReader::verified_newest_segment).
    /// If that is still the newest non-empty segment, its check for a torn
    /// tail is skipped (the replay read all of it and found none);
    /// otherwise this is [`Wal::open`], which reads it.
    ///
    /// ```
    /// use aion_wal::{Wal, WalOptions, WalReader};
    /// let dir = tempfile::tempdir().unwrap();
    /// let (mut wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
    /// wal.log(&[b"a record"]).unwrap();
    /// wal.close().unwrap();
    ///
    /// let mut replay = WalReader::replay(dir.path()).unwrap().defer_newest_damage(true);
    /// while replay.next_record().unwrap().is_some() {}
    /// assert_eq!(replay.verified_newest_segment(), Some(0));
    /// let (_wal, report) =
    ///     Wal::open_after_replay(dir.path(), WalOptions::default(), replay.verified_newest_segment())
    ///         .unwrap();
    /// assert_eq!((report.active_segment, report.torn_tail), (1, None));
    /// ```
    pub fn open_after_replay(
        dir: impl AsRef<Path>,
        options: WalOptions,
        verified: Option<u32>,
    ) -> Result<(Wal, OpenReport)> {
        Self::open_checking(dir.as_ref(), options, verified)
    }

    fn open_checking(
        dir: &Path,
        options: WalOptions,
        verified: Option<u32>,
    ) -> Result<(Wal, OpenReport)> {
        options.validate()?;
        fs::create_dir_all(dir).map_err(|e| Error::io("creating WAL directory", dir, e))?;
        let removed_temporary_checkpoints = remove_temporary_checkpoints(dir)?;
        let torn_tail = match verified {
            Some(v) if newest_written(&list_segments(dir)?).map(|s| s.index) == Some(v) => None,
            _ => cut_torn_tail(dir)?,
        };
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
        drain(&mut WalReader::replay(dir).unwrap()).unwrap()
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

    /// What a writer's open and replay amount to: the records replay
    /// reads and the open's torn-tail report, or the open's error.
    type Outcome = std::result::Result<(Vec<Vec<u8>>, Option<(u64, u64, u64)>), String>;

    /// Open first (it cuts a torn tail), then replay.
    fn open_then_replay(dir: &Path) -> Outcome {
        let report = Wal::open(dir, WalOptions::default())
            .map_err(|e| e.to_string())?
            .1;
        let mut reader = WalReader::replay(dir).map_err(|e| e.to_string())?;
        Ok((drain(&mut reader)?, torn_of(report)))
    }

    /// Replay first, deferring damage in the newest segment, then open.
    fn replay_then_open(dir: &Path) -> Outcome {
        let mut reader = WalReader::replay(dir)
            .map_err(|e| e.to_string())?
            .defer_newest_damage(true);
        let records = drain(&mut reader)?;
        let verified = reader.verified_newest_segment();
        assert_eq!(
            verified.is_some(),
            reader.deferred_damage().is_none(),
            "a newest segment is verified or its damage deferred"
        );
        let report = Wal::open_after_replay(dir, WalOptions::default(), verified)
            .map_err(|e| e.to_string())?
            .1;
        Ok((records, torn_of(report)))
    }

    /// Every record `reader` returns, or its error.
    fn drain(reader: &mut WalReader) -> std::result::Result<Vec<Vec<u8>>, String> {
        let mut records = Vec::new();
        while let Some(rec) = reader.next_record().map_err(|e| e.to_string())? {
            records.push(rec.to_vec());
        }
        Ok(records)
    }

    /// Where an open cut a torn tail, and what it dropped.
    fn torn_of(report: OpenReport) -> Option<(u64, u64, u64)> {
        report
            .torn_tail
            .map(|t| (t.at.offset, t.dropped_bytes, t.dropped_records))
    }

    /// Replaying once with the newest segment's damage deferred, then
    /// opening, reads the same records and cuts the same torn tail (or
    /// fails the same way) as opening and then replaying, for the newest
    /// segment cut short (at every length near a page boundary or its end,
    /// every 61st elsewhere) and with a byte flipped (every 97th, and each
    /// of the first 40).
    #[test]
    fn replay_then_open_matches_open_then_replay() {
        let base = tempfile::tempdir().unwrap();
        let (mut w, _) = Wal::open(base.path(), WalOptions::default()).unwrap();
        w.log(&[b"older segment"]).unwrap();
        w.next_segment().unwrap();
        let big = vec![7u8; PAGE_SIZE + 100];
        w.log(&[b"one", &big, b"three"]).unwrap();
        w.log(&[b"four"]).unwrap();
        drop(w);
        let newest = segment_path(base.path(), 1);
        let bytes = fs::read(&newest).unwrap();
        // Cut at every length near a page boundary or the end, and every
        // 61st elsewhere; a byte flipped every 97 bytes.
        let near = |n: usize| n % PAGE_SIZE < 40 || PAGE_SIZE - n % PAGE_SIZE < 40;
        let mut damaged: Vec<Vec<u8>> = (0..bytes.len())
            .filter(|&n| near(n) || bytes.len() - n < 40 || n % 61 == 0)
            .map(|n| bytes[..n].to_vec())
            .collect();
        for at in (0..bytes.len()).step_by(97).chain(0..40) {
            let mut b = bytes.clone();
            b[at] ^= 0x41;
            damaged.push(b);
        }
        let (mut cut, mut failed, mut clean) = (0, 0, 0);
        for b in damaged {
            let runs: Vec<Outcome> = [open_then_replay, replay_then_open]
                .iter()
                .map(|run| {
                    let dir = tempfile::tempdir().unwrap();
                    for i in 0..2 {
                        fs::copy(segment_path(base.path(), i), segment_path(dir.path(), i))
                            .unwrap();
                    }
                    fs::write(segment_path(dir.path(), 1), &b).unwrap();
                    let path = dir.path().to_str().unwrap().to_string();
                    let outcome = run(dir.path()).map_err(|e| e.replace(&path, "DIR"));
                    // What either leaves behind opens the same way again.
                    if outcome.is_ok() {
                        assert_eq!(open_then_replay(dir.path()).unwrap().1, None);
                    }
                    outcome
                })
                .collect();
            assert_eq!(runs[0], runs[1], "segment of {} bytes", b.len());
            match &runs[0] {
                Ok((_, Some(_))) => cut += 1,
                Ok((_, None)) => clean += 1,
                Err(_) => failed += 1,
            }
        }
        assert!(cut > 0 && failed > 0 && clean > 0, "{cut} {failed} {clean}");
    }

    #[test]
    fn a_verified_segment_is_not_read_again_unless_it_is_no_longer_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
        w.log(&[b"kept"]).unwrap();
        drop(w);
        // Torn after the replay said segment 0 was clean: the open trusts
        // the replay, as nothing writes between the two.
        let path = segment_path(dir.path(), 0);
        let mut b = fs::read(&path).unwrap();
        b.extend_from_slice(&[1, 0, 9]);
        fs::write(&path, &b).unwrap();
        let (w, r) = Wal::open_after_replay(dir.path(), WalOptions::default(), Some(0)).unwrap();
        drop(w);
        assert_eq!((r.torn_tail, r.active_segment), (None, 1));
        // A verified number that is not the newest non-empty segment is
        // ignored: the newest one is checked.
        fs::write(segment_path(dir.path(), 1), [1, 0, 9]).unwrap();
        let (w, r) = Wal::open_after_replay(dir.path(), WalOptions::default(), Some(0)).unwrap();
        drop(w);
        assert_eq!(
            r.torn_tail.map(|t| (t.at.segment, t.dropped_bytes)),
            Some((1, 3))
        );
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
