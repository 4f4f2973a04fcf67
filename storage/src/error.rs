//! The storage error: what a backend reports through the traits, with a
//! kind the caller can act on and the backend's own error as its source.

use std::error::Error as StdError;
use std::fmt;

/// What kind of failure an [`Error`] is, so a caller can decide without
/// reading text: a remote-write receiver answers 400 for the sample
/// kinds and 5xx for the rest, a query engine aborts either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A sample older than its series' newest sample (Prometheus's
    /// `ErrOutOfOrderSample`).
    OutOfOrderSample,
    /// A sample outside the time range the storage accepts
    /// (`ErrOutOfBounds`).
    OutOfBounds,
    /// A sample older than the out-of-order window (`ErrTooOldSample`).
    TooOldSample,
    /// A second, different value at a timestamp the series already has
    /// (`ErrDuplicateSampleForTimestamp`).
    DuplicateSampleForTimestamp,
    /// A series identity the storage refuses: empty, unsorted or duplicate
    /// labels, an invalid name.
    InvalidSeries,
    /// A sample the storage can never store, whatever else it holds: a
    /// malformed native histogram (Prometheus's histogram validation
    /// errors).
    InvalidSample,
    /// A configured limit was reached (series, samples, bytes).
    Limit,
    /// The backend does not support what was asked (a sample type, an
    /// operation).
    Unsupported,
    /// Stored data is damaged.
    Corruption,
    /// Reading or writing failed in the operating system.
    Io,
    /// The operation was canceled or timed out.
    Canceled,
    /// Anything else the backend reports.
    Other,
}

impl ErrorKind {
    /// Whether the failure is the caller's input (the request would fail
    /// again unchanged) rather than the storage's: what maps to HTTP 4xx.
    pub fn is_bad_input(self) -> bool {
        matches!(
            self,
            ErrorKind::OutOfOrderSample
                | ErrorKind::OutOfBounds
                | ErrorKind::TooOldSample
                | ErrorKind::DuplicateSampleForTimestamp
                | ErrorKind::InvalidSeries
                | ErrorKind::InvalidSample
        )
    }
}

/// An error from a storage backend: an [`ErrorKind`] and the backend's own
/// error, whose message it displays unchanged.
///
/// `source()` is the backend error's own source, so a chain prints each
/// cause once. [`Error::downcast_ref`] recovers the backend's type.
///
/// ```
/// use aion_storage::{Error, ErrorKind};
/// let e = Error::msg(ErrorKind::Unsupported, "histograms are not stored here");
/// assert_eq!(e.kind(), ErrorKind::Unsupported);
/// assert_eq!(e.to_string(), "histograms are not stored here");
/// ```
pub struct Error {
    kind: ErrorKind,
    inner: Box<dyn StdError + Send + Sync + 'static>,
}

impl Error {
    /// Wraps a backend error.
    pub fn new(kind: ErrorKind, err: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        Error {
            kind,
            inner: err.into(),
        }
    }

    /// An error that is only a message.
    pub fn msg(kind: ErrorKind, msg: impl Into<String>) -> Self {
        Error::new(kind, msg.into())
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The backend's error.
    pub fn get_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.inner
    }

    /// The backend's error as `T`, if it is one.
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.inner.downcast_ref::<T>()
    }

    /// The backend's error, owned.
    pub fn into_inner(self) -> Box<dyn StdError + Send + Sync + 'static> {
        self.inner
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("inner", &self.inner)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner.source()
    }
}

impl From<aion_model::Error> for Error {
    fn from(e: aion_model::Error) -> Self {
        Error::new(ErrorKind::InvalidSeries, e)
    }
}

impl From<aion_chunkenc::Error> for Error {
    fn from(e: aion_chunkenc::Error) -> Self {
        Error::new(ErrorKind::Corruption, e)
    }
}

/// The result of a storage call.
pub type Result<T, E = Error> = std::result::Result<T, E>;
