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
}
