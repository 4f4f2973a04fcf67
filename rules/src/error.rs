//! Why a rule's evaluation failed, worded as Prometheus words it (the
//! text becomes the rule's `lastError`).

/// A rule evaluation failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The query failed.
    #[error(transparent)]
    Query(#[from] aion_promql::Error),
    /// The expression gave a string or range vector.
    #[error("rule result is not a vector or scalar")]
    NotVectorOrScalar,
    /// Two output series of a recording rule have the same labels.
    #[error("vector contains metrics with the same labelset after applying rule labels")]
    DuplicateRecordedSeries,
    /// Two alerts of an alerting rule have the same labels.
    #[error("vector contains metrics with the same labelset after applying alert labels")]
    DuplicateAlert,
    /// A recording rule produced more series than the group's limit.
    #[error("exceeded limit of {limit} with {got} series")]
    SeriesLimit {
        /// The group's limit.
        limit: i64,
        /// Series produced.
        got: usize,
    },
    /// An alerting rule has more pending or firing alerts than the
    /// group's limit.
    #[error("exceeded limit of {limit} with {got} alerts")]
    AlertLimit {
        /// The group's limit.
        limit: i64,
        /// Alerts pending or firing.
        got: usize,
    },
    /// Writing the output failed.
    #[error(transparent)]
    Append(#[from] aion_storage::Error),
    /// An output label set is invalid (an empty label name).
    #[error("invalid output labels: {0}")]
    Labels(#[from] aion_model::Error),
}
