//! What agent storage reports.

use thiserror::Error;

/// Errors of agent storage, with Prometheus's messages for refused samples.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The WAL could not be opened, replayed, written or checkpointed.
    #[error(transparent)]
    Wal(#[from] aion_wal::Error),

    /// A sample older than its series' newest committed sample
    /// (Prometheus: `storage.ErrOutOfOrderSample`).
    #[error("out of order sample")]
    OutOfOrderSample,

    /// A series with no labels.
    #[error("invalid sample: empty labelset")]
    EmptyLabels,

    /// A WAL record named a series reference no series record introduced.
    #[error("WAL replay: sample for unknown series reference {0}")]
    UnknownSeries(u64),
}

impl Error {
    /// The storage traits' kind for this error.
    pub fn kind(&self) -> aion_storage::ErrorKind {
        use aion_storage::ErrorKind;
        match self {
            Error::OutOfOrderSample => ErrorKind::OutOfOrderSample,
            Error::EmptyLabels => ErrorKind::InvalidSeries,
            Error::Wal(e) if e.position().is_some() => ErrorKind::Corruption,
            Error::Wal(_) => ErrorKind::Io,
            Error::UnknownSeries(_) => ErrorKind::Corruption,
        }
    }
}

impl From<Error> for aion_storage::Error {
    fn from(e: Error) -> Self {
        aion_storage::Error::new(e.kind(), e)
    }
}

/// Convenience alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
