//! What a replay found on disk and rebuilt, for the host to report (the
//! CLI prints it; `Db::replay_report` returns it).

use std::collections::BTreeMap;
use std::time::Duration;

use aion_wal::{RepairReport, SegmentPosition};

use super::ooo::replay::WblReplayReport;

/// What opening the database found on disk and rebuilt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Wall time of the whole replay.
    pub duration: Duration,
    /// Chunks loaded from `chunks_head/`.
    pub mmapped_chunks: usize,
    /// Chunks in `chunks_head/` not loaded: older than the head's minimum
    /// valid time, or of series the WAL no longer knows.
    pub mmapped_chunks_ignored: usize,
    /// Chunks in `chunks_head/` of an encoding this build cannot read
    /// (Prometheus 3.14's start-timestamp histogram chunks): not loaded,
    /// and their samples read from the WAL if it still has them. By
    /// encoding byte.
    pub mmapped_chunks_unreadable: BTreeMap<u8, usize>,
    /// Damage found in `chunks_head/`: the files from the damaged one on
    /// were dropped (deleted unless read-only) and their samples replayed
    /// from the WAL instead.
    pub chunk_file_corruption: Option<String>,
    /// Bytes of the dropped chunk files.
    pub chunk_file_bytes_dropped: u64,
    /// The checkpoint replayed, if any.
    pub checkpoint: Option<u32>,
    /// WAL segments replayed (first, last).
    pub segments: Option<(u32, u32)>,
    /// Series records read.
    pub series_records: usize,
    /// Series in the head after replay.
    pub series: usize,
    /// Float samples read from the WAL.
    pub samples_read: u64,
    /// Native histogram samples (integer and float) read from the WAL.
    pub histograms_read: u64,
    /// Histogram samples the WAL holds that no chunk can take (malformed:
    /// spans not matching their buckets): skipped.
    pub histograms_invalid: u64,
    /// Samples (floats and histograms) appended to open chunks.
    pub samples_appended: u64,
    /// Samples already in mmapped chunks, or older than the minimum valid
    /// time.
    pub samples_skipped: u64,
    /// Samples, tombstones and other records naming a series the WAL never
    /// created.
    pub unknown_series_refs: u64,
    /// Tombstone intervals restored.
    pub tombstones: usize,
    /// Exemplar and metadata records: read, and not applied (the head
    /// keeps neither).
    pub exemplar_and_metadata_records: u64,
    /// Records of types this build does not know (a newer Prometheus's),
    /// or of a type that has no place in a WAL (mmap markers), by type
    /// byte (`None`: an empty record): skipped.
    pub unknown_records: BTreeMap<Option<u8>, u64>,
    /// A torn write at the end of the WAL that was cut (or, read-only,
    /// skipped).
    pub wal_torn_tail: Option<String>,
    /// Bytes dropped by cutting the torn tail.
    pub wal_torn_bytes: u64,
    /// Damage inside the WAL: replay stopped there, and (unless read-only)
    /// the log was repaired by cutting it at that point.
    pub wal_corruption: Option<String>,
    /// Where the damage inside the WAL starts (segment or checkpoint file
    /// and offset).
    pub wal_corruption_at: Option<SegmentPosition>,
    /// What the repair removed.
    pub wal_repair: Option<RepairReport>,
    /// The out-of-order part: chunks from `chunks_head/` and the WBL.
    pub wbl: WblReplayReport,
}
