//! Errors of query preparation and evaluation, worded as Prometheus words
//! them (the HTTP API returns these texts; test scripts match them).

use crate::ast::{PreprocessError, ValueType};
use crate::parser::ParseError;

/// Why a query could not be prepared or evaluated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The query text does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),

    /// A duration expression could not be evaluated for this query.
    #[error(transparent)]
    Preprocess(#[from] PreprocessError),

    /// A range query over an expression that is not a scalar or instant
    /// vector.
    #[error("invalid expression type \"{}\" for range query, must be Scalar or instant Vector", .0.documented_name())]
    InvalidRangeQueryType(ValueType),

    /// The range query's step is not positive, or its end precedes its
    /// start.
    #[error("{0}")]
    InvalidRange(&'static str),

    /// `@` was used but is disabled in the engine options.
    #[error("@ modifier is disabled")]
    AtModifierDisabled,

    /// A negative `offset` was used but is disabled in the engine options.
    #[error("negative offset is disabled")]
    NegativeOffsetDisabled,

    /// The query would hold more samples in memory than
    /// [`super::EngineOptions::max_samples`] allows.
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,

    /// The query would hold more bytes in memory than
    /// [`super::EngineOptions::max_query_bytes`] allows: `needed` bytes
    /// (everything held at that moment) while taking `what`.
    #[error(
        "query processing would use too much memory: {needed} bytes needed while holding {what}, \
         above the per-query limit of {limit} bytes (max_query_bytes; raise it, e.g. with \
         --max-query-bytes, or narrow the query)"
    )]
    QueryMemoryLimit {
        /// The limit, in bytes.
        limit: usize,
        /// The bytes the query would have held.
        needed: usize,
        /// What was being held when the limit was crossed.
        what: &'static str,
    },

    /// The query's deadline passed.
    #[error("query timed out in expression evaluation")]
    Timeout,

    /// The query's cancellation token was triggered.
    #[error("query was canceled in expression evaluation")]
    Canceled,

    /// The storage could not open a querier.
    #[error(transparent)]
    Querier(aion_storage::Error),

    /// The storage failed while series were read.
    #[error("expanding series: {0}")]
    Storage(Box<dyn std::error::Error + Send + Sync + 'static>),

    /// The data or query uses something this engine does not implement yet
    /// (native histogram samples, for one).
    #[error("{0}")]
    Unsupported(String),

    /// An evaluation error with Prometheus's wording, e.g. `vector cannot
    /// contain metrics with the same labelset` or `multiple matches for
    /// labels: many-to-one matching must be explicit (group_left/group_right)`.
    #[error("{0}")]
    Evaluation(String),
}

impl Error {
    pub(crate) fn eval(msg: impl Into<String>) -> Self {
        Error::Evaluation(msg.into())
    }

    pub(crate) fn duplicate_labelset() -> Self {
        Error::eval("vector cannot contain metrics with the same labelset")
    }
}

/// Convenience alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
