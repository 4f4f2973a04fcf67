//! Errors of the TSDB.

use std::path::PathBuf;

use thiserror::Error;

use aion_model::gotext::GoFloat;
use aion_storage::ErrorKind;

/// Everything the TSDB and its querier traits can report.
///
/// The append errors ([`Error::OutOfOrderSample`], [`Error::OutOfBounds`],
/// [`Error::TooOldSample`], [`Error::DuplicateSampleForTimestamp`]) print exactly Prometheus's
/// messages, so logs and remote-write responses read the same.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// Label or matcher construction, or index data, was invalid.
    #[error(transparent)]
    Index(#[from] aion_index::Error),

    /// The write-ahead log failed or holds damage that could not be
    /// repaired.
    #[error("WAL: {0}")]
    Wal(#[from] aion_wal::Error),

    /// A chunk could not be decoded.
    #[error(transparent)]
    Chunk(#[from] aion_chunkenc::Error),

    /// An error that came through the storage traits (from a merged
    /// source, a chunk merge, a host's backend).
    #[error(transparent)]
    Storage(#[from] aion_storage::Error),

    /// The sample is older than the newest sample of its series
    /// (Prometheus: `storage.ErrOutOfOrderSample`).
    #[error("out of order sample")]
    OutOfOrderSample,

    /// The sample is older than the oldest time the head still accepts
    /// (Prometheus: `storage.ErrOutOfBounds`).
    #[error("out of bounds")]
    OutOfBounds,

    /// Out-of-order ingestion is on and the sample is older than the
    /// out-of-order time window allows (Prometheus:
    /// `storage.ErrTooOldSample`).
    #[error("too old sample")]
    TooOldSample,

    /// The series already has a different value at this timestamp
    /// (Prometheus: `storage.ErrDuplicateSampleForTimestamp`). Sending the
    /// identical value again is accepted silently.
    #[error(
        "duplicate sample for timestamp {timestamp}; overrides not allowed: existing {}, new value {}",
        GoFloat(*.existing),
        GoFloat(*.new_value)
    )]
    DuplicateSampleForTimestamp {
        /// The timestamp (ms).
        timestamp: i64,
        /// The value stored.
        existing: f64,
        /// The value refused.
        new_value: f64,
    },

    /// The series' newest sample at this timestamp is a native histogram
    /// and a float was appended (Prometheus:
    /// `NewDuplicateHistogramToFloatErr`).
    #[error(
        "duplicate sample for timestamp {timestamp}; overrides not allowed: existing is a histogram, new value {}",
        GoFloat(*.new_value)
    )]
    DuplicateHistogramToFloat {
        /// The timestamp (ms).
        timestamp: i64,
        /// The float refused.
        new_value: f64,
    },

    /// A native histogram was appended at the timestamp of the series'
    /// newest sample, and differs from it (or that sample is not a
    /// histogram of the same kind). Prometheus's message for this case
    /// names no timestamp: `ErrDuplicateSampleForTimestamp`.
    #[error("duplicate sample for timestamp")]
    DuplicateHistogramSample {
        /// The timestamp (ms).
        timestamp: i64,
    },

    /// A native histogram that can never be stored: an invalid schema,
    /// spans not matching the buckets, negative counts, a count that does
    /// not add up (Prometheus's `Validate`, whose messages these are).
    #[error(transparent)]
    InvalidHistogram(#[from] aion_model::histogram::HistogramError),

    /// A sample that can never be stored, e.g. for an empty label set.
    #[error("invalid sample: {0}")]
    InvalidSample(String),

    /// `append_ref` named a series the head does not hold (never created,
    /// or removed by head truncation). Append by labels instead.
    #[error("unknown series reference {0}")]
    UnknownSeriesRef(u64),

    /// Creating the series would exceed [`Options::max_head_series`](crate::Options::max_head_series).
    #[error("head series limit of {limit} reached: new series are refused, existing ones still accept samples")]
    SeriesLimit {
        /// The configured limit.
        limit: usize,
    },

    /// Another process (or another `Db` in this one) holds the data
    /// directory's lock.
    #[error(
        "data directory {} is locked by another process (lock file {}); open it read-only to inspect it",
        dir.display(),
        lock.display()
    )]
    Locked {
        /// The data directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },

    /// The DB was opened read-only.
    #[error("the database is open read-only")]
    ReadOnly,

    /// The DB has been closed.
    #[error("the database is closed")]
    Closed,

    /// A head chunk file (`chunks_head/`) is damaged.
    #[error("corrupt head chunk file {} at offset {offset}: {reason}", file.display())]
    CorruptHeadChunk {
        /// The file.
        file: PathBuf,
        /// Byte offset of the damaged record.
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// The WAL checkpoint is damaged. Unlike damage in a segment this is not
    /// repaired automatically (as in Prometheus): the checkpoint holds the
    /// only copy of what it folded, and an operator must decide.
    #[error("the WAL checkpoint is damaged and is not repaired automatically: {0}")]
    DamagedCheckpoint(String),

    /// Strict opening ([`Options::refuse_damaged_data`](crate::Options::refuse_damaged_data))
    /// met damage the default would have skipped, cut or moved aside with a
    /// warning; the message is that warning (file, offset, what is lost).
    /// Nothing on disk was changed, as `promtool` refuses.
    #[error("refusing to open a damaged data directory (strict mode): {0}")]
    Damaged(String),

    /// Options that cannot work together, or a feature not built yet.
    #[error("invalid options: {0}")]
    InvalidOptions(String),

    /// A file of a block (chunk segment, tombstones, `meta.json`) does not
    /// follow its format.
    #[error("corrupt {}: at offset {offset}: {reason}", file.display())]
    Corrupt {
        /// The damaged file (or directory, for a reference into files that
        /// do not exist).
        file: PathBuf,
        /// Byte offset of the damaged part.
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// A block could not be opened or read; names the block directory.
    #[error("block {}: {source}", dir.display())]
    Block {
        /// The block directory.
        dir: PathBuf,
        /// What went wrong in it.
        #[source]
        source: Box<Error>,
    },

    /// A block or index writer was used against its contract (series out
    /// of order, a sample older than the previous one of its series, …).
    #[error("block writer: {0}")]
    Writer(String),

    /// OpenMetrics text could not be parsed.
    #[error(transparent)]
    OpenMetrics(#[from] crate::textparse::ParseError),

    /// The same series has two different values at one timestamp in data
    /// being backfilled.
    #[error("duplicate sample for timestamp {timestamp} with different values in series {labels}")]
    DuplicateSample {
        /// The series.
        labels: aion_model::Labels,
        /// The timestamp (ms).
        timestamp: i64,
    },

    /// A test-only failpoint fired (see `failpoint`).
    #[cfg(test)]
    #[error("injected failure at {0}")]
    Injected(&'static str),
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// A [`Error::Corrupt`] in `file` at `offset`.
    pub(crate) fn corrupt(
        file: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        Error::Corrupt {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }

    /// Wraps an error with the block directory it happened in (once).
    pub(crate) fn in_block(self, dir: impl Into<PathBuf>) -> Self {
        match self {
            e @ Error::Block { .. } => e,
            e => Error::Block {
                dir: dir.into(),
                source: Box::new(e),
            },
        }
    }

    /// Whether this is one of the per-sample append errors
    /// (out of order, out of bounds, duplicate) after which the appender
    /// stays usable: the sample is refused, the batch goes on.
    pub fn is_sample_error(&self) -> bool {
        matches!(
            self,
            Error::OutOfOrderSample
                | Error::OutOfBounds
                | Error::TooOldSample
                | Error::DuplicateSampleForTimestamp { .. }
                | Error::DuplicateHistogramToFloat { .. }
                | Error::DuplicateHistogramSample { .. }
                | Error::InvalidHistogram(_)
                | Error::InvalidSample(_)
                | Error::SeriesLimit { .. }
                | Error::UnknownSeriesRef(_)
        )
    }
}

impl Error {
    /// The storage traits' kind for this error, as a receiver or engine
    /// sees it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::OutOfOrderSample => ErrorKind::OutOfOrderSample,
            Error::OutOfBounds => ErrorKind::OutOfBounds,
            Error::TooOldSample => ErrorKind::TooOldSample,
            Error::DuplicateSampleForTimestamp { .. }
            | Error::DuplicateHistogramToFloat { .. }
            | Error::DuplicateHistogramSample { .. }
            | Error::DuplicateSample { .. } => ErrorKind::DuplicateSampleForTimestamp,
            Error::InvalidHistogram(_) => ErrorKind::InvalidSample,
            Error::InvalidSample(_) | Error::Index(aion_index::Error::Model(_)) => {
                ErrorKind::InvalidSeries
            }
            Error::SeriesLimit { .. } => ErrorKind::Limit,
            Error::Io { .. } => ErrorKind::Io,
            Error::Storage(e) => e.kind(),
            Error::Block { source, .. } => source.kind(),
            Error::CorruptHeadChunk { .. }
            | Error::Corrupt { .. }
            | Error::Chunk(_)
            | Error::Damaged(_)
            | Error::DamagedCheckpoint(_) => ErrorKind::Corruption,
            Error::Index(e) if e.is_corruption() => ErrorKind::Corruption,
            _ => ErrorKind::Other,
        }
    }
}

impl From<aion_model::Error> for Error {
    fn from(e: aion_model::Error) -> Self {
        Error::Index(e.into())
    }
}

/// TSDB errors cross the storage traits with their kind; a storage error
/// that wraps a TSDB error comes back as that error.
impl From<Error> for aion_storage::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Storage(inner) => inner,
            e => aion_storage::Error::new(e.kind(), e),
        }
    }
}

/// Convenience alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
