//! Label queries: the names and values among a store's series, without
//! their samples (Prometheus's `LabelQuerier`).

use aion_model::Matcher;

use crate::Result;

/// Answers label queries over a querier's time range. Every [`Querier`]
/// and [`ChunkQuerier`] is one; a metadata-only backend can be just this.
///
/// [`Querier`]: crate::Querier
/// [`ChunkQuerier`]: crate::ChunkQuerier
pub trait LabelQuerier: Send + Sync {
    /// Sorted, unique values of label `name` among series matching
    /// `matchers` (all series when empty).
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>>;

    /// Sorted, unique label names among series matching `matchers`.
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>>;

    /// Non-fatal problems of the data this querier reads, known when it
    /// was opened (a block skipped as unreadable, a WAL cut at a damaged
    /// record): each answer read through it may be missing data for them,
    /// so the engine reports them with the result as warnings, as
    /// Prometheus's `storage.Warnings` become the API's `warnings`.
    /// Problems met while reading a select belong to
    /// [`SeriesSet::warnings`](crate::SeriesSet::warnings) instead.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}
