//! Errors of the TSDB.

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
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Convenience alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
