//! The head as an [`IndexReader`], so label selection runs the index
//! crate's shared implementation (`postings_for_matchers` and friends)
//! over the head exactly as over a block.

use aion_index::postings::BoxPostings;
use aion_index::{IndexReader, SeriesRef};
use aion_model::Labels;

use super::Head;

/// The head is an [`IndexReader`] over its series and postings.
impl IndexReader for Head {
    fn label_names(&self) -> aion_index::Result<Vec<String>> {
        Ok(self.postings.label_names())
    }

    fn label_values(&self, name: &str) -> aion_index::Result<Vec<String>> {
        Ok(self.postings.label_values(name))
    }

    fn postings<'b>(&'b self, name: &str, values: &[&str]) -> aion_index::Result<BoxPostings<'b>> {
        Ok(self.postings.postings_for_values(name, values))
    }

    fn postings_for_label_matching<'b>(
        &'b self,
        name: &str,
        accept: &mut dyn FnMut(&str) -> bool,
    ) -> aion_index::Result<BoxPostings<'b>> {
        Ok(self.postings.postings_for_label_matching(name, accept))
    }

    fn all_postings(&self) -> aion_index::Result<BoxPostings<'_>> {
        Ok(self.postings.all_postings())
    }

    /// A series removed by head truncation after the postings were read
    /// has no labels any more: it reads as the empty set, which adds no
    /// names or values, rather than failing the query.
    fn series_labels(&self, r: SeriesRef) -> aion_index::Result<Labels> {
        Ok(self.series_labels(r).unwrap_or_default())
    }
}
