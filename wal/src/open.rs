//! Opening a log for writing: recover what a crash left, then start a
//! fresh segment.

use std::fs;
use std::path::Path;

use crate::checkpoint::{last_checkpoint, remove_temporary_checkpoints};
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
