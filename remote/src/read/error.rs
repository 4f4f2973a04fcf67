//! What can go wrong answering a remote read, and the status it maps to.

use crate::read::FrameError;
use crate::DecodeError;

/// A remote read that could not be answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The request body is not a snappy `ReadRequest`.
    #[error("remote read request: {0}")]
    Decode(#[from] DecodeError),
    /// A matcher of a query cannot be built (bad regex).
    #[error("query {query}: {source}")]
    Matcher {
        /// Index of the query in the request.
        query: usize,
        /// Why.
        #[source]
        source: aion_model::Error,
    },
    /// A matcher type outside the four operators.
    #[error("query {query}: unknown matcher type {value}")]
    MatcherType {
        /// Index of the query.
        query: usize,
        /// The type number sent.
        value: i32,
    },
    /// None of the client's accepted response types is implemented.
    #[error("none of the accepted response types {0:?} is supported")]
    NoAcceptedResponseType(Vec<i32>),
    /// A SAMPLES query answered more samples than the limit.
    #[error("query {query}: exceeded sample limit ({limit})")]
    SampleLimit {
        /// Index of the query.
        query: usize,
        /// The limit.
        limit: usize,
    },
    /// The store failed.
    #[error("query {query}: {source}")]
    Storage {
        /// Index of the query.
        query: usize,
        /// The store's error.
        #[source]
        source: aion_storage::Error,
    },
    /// Writing a frame failed (the client went away).
    #[error("writing remote read answer: {0}")]
    Write(#[from] FrameError),
}

impl ReadError {
    /// The HTTP status to answer with if nothing was sent yet: 400 for
    /// the client's mistakes (as Prometheus answers a sample-limit
    /// overrun), 500 for the store's.
    pub fn status(&self) -> u16 {
        match self {
            ReadError::Decode(_)
            | ReadError::Matcher { .. }
            | ReadError::MatcherType { .. }
            | ReadError::NoAcceptedResponseType(_)
            | ReadError::SampleLimit { .. } => 400,
            ReadError::Storage { .. } | ReadError::Write(_) => 500,
        }
    }
}
