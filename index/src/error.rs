//! Errors of the index crate.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong building labels and matchers or reading and
/// writing index data.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A label set or matcher that could not be built.
    #[error(transparent)]
    Model(#[from] aion_model::Error),

    /// A combination of matchers that cannot be evaluated.
    #[error("invalid selector: {0}")]
    InvalidSelector(String),

    /// Index bytes do not follow the format: truncated, bad checksum, a
    /// reference pointing outside its section, and so on.
    #[error("corrupt index: {section} at offset {offset}: {reason}")]
    Corrupt {
        /// The part of the index being decoded (`"TOC"`, `"symbol table"`,
        /// `"series"`, `"postings"`, ...).
        section: &'static str,
        /// Absolute byte offset in the index where the problem was found.
        offset: u64,
        /// What was wrong.
        reason: String,
    },

    /// A series reference that does not name a series of this index.
    #[error("series {0} not found")]
    SeriesNotFound(u64),

    /// The index writer was used against its contract (symbols or series out
    /// of order, a label not in the symbol table, calls in the wrong stage,
    /// invalid chunk metadata, size limits of the format exceeded).
    #[error("index writer: {0}")]
    Writer(String),

    /// An I/O error, with the file it happened on.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// An error while reading or writing the index file `path`.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The index file.
        path: PathBuf,
        /// What went wrong in it.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// A [`Error::Corrupt`] for `section` at `offset`.
    pub(crate) fn corrupt(section: &'static str, offset: u64, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            section,
            offset,
            reason: reason.into(),
        }
    }

    /// Wraps an I/O error with its path.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether the error means the data on disk is damaged (as opposed to
    /// misuse or I/O failure), looking through [`Error::InFile`].
    pub fn is_corruption(&self) -> bool {
        match self {
            Error::Corrupt { .. } => true,
            Error::InFile { source, .. } => source.is_corruption(),
            _ => false,
        }
    }
}

/// Convenience alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
