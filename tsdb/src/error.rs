//! Errors of the TSDB.

use std::path::PathBuf;

use thiserror::Error;

/// Everything the TSDB and its querier traits can report.
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

    /// An error from a storage backend that is not Aion's own (a host's
    /// `Queryable` implementation).
    #[error("storage: {0}")]
    Storage(Box<dyn std::error::Error + Send + Sync + 'static>),

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

    /// A chunk could not be decoded.
    #[error(transparent)]
    Chunk(#[from] aion_chunkenc::Error),

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
        labels: aion_index::Labels,
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
}

/// Convenience alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
