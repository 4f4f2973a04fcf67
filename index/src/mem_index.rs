//! A complete in-memory index: series labels by reference plus
//! [`MemPostings`].

use std::collections::HashMap;

use parking_lot::RwLock;

use crate::error::{Error, Result};
use crate::index_reader::IndexReader;
use crate::postings::{BoxPostings, MemPostings, SeriesRef};
use aion_model::Labels;

/// An in-memory [`IndexReader`] that callers fill with
/// [`insert`](Self::insert): hosts that keep series elsewhere, tests and
/// benchmarks. The TSDB head uses [`MemPostings`] directly with its own
/// series map.
///
/// Safe to insert into while other threads query.
#[derive(Default)]
pub struct MemIndex {
    postings: MemPostings,
    series: RwLock<HashMap<SeriesRef, Labels>>,
}

impl MemIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Indexes series `r` with `labels`, replacing what `r` had before.
    pub fn insert(&self, r: SeriesRef, labels: Labels) {
        // The series map is updated before the postings, so a reader that
        // finds `r` in a postings list always finds its labels.
        let old = self.series.write().insert(r, labels.clone());
        if let Some(old) = old {
            self.postings.delete(r, &old);
        }
        self.postings.add(r, &labels);
    }

    /// Removes series `r`, returning its labels.
    pub fn remove(&self, r: SeriesRef) -> Option<Labels> {
        // Postings first, for the same reason as in `insert`.
        let labels = self.series.read().get(&r).cloned()?;
        self.postings.delete(r, &labels);
        self.series.write().remove(&r)
    }

    /// The labels of series `r`.
    pub fn get(&self, r: SeriesRef) -> Option<Labels> {
        self.series.read().get(&r).cloned()
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.read().len()
    }

    /// Whether the index holds no series.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The postings part.
    pub fn mem_postings(&self) -> &MemPostings {
        &self.postings
    }
}

impl IndexReader for MemIndex {
    fn label_names(&self) -> Result<Vec<String>> {
        Ok(self.postings.label_names())
    }

    fn label_values(&self, name: &str) -> Result<Vec<String>> {
        Ok(self.postings.label_values(name))
    }

    fn postings<'a>(&'a self, name: &str, values: &[&str]) -> Result<BoxPostings<'a>> {
        Ok(self.postings.postings_for_values(name, values))
    }

    fn postings_for_label_matching<'a>(
        &'a self,
        name: &str,
        accept: &mut dyn FnMut(&str) -> bool,
    ) -> Result<BoxPostings<'a>> {
        Ok(self.postings.postings_for_label_matching(name, accept))
    }

    fn all_postings(&self) -> Result<BoxPostings<'_>> {
        Ok(self.postings.all_postings())
    }

    fn series_labels(&self, r: SeriesRef) -> Result<Labels> {
        self.get(r).ok_or(Error::SeriesNotFound(r))
    }
}
