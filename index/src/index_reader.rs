//! The read interface every index offers: the in-memory head index and the
//! on-disk block index alike. Selection ([`crate::select`]) is written
//! once against it.

use std::collections::BTreeSet;

use crate::error::Result;
use crate::postings::{BoxPostings, Postings, SeriesRef};
use aion_model::Labels;

/// Read access to an inverted index of series.
///
/// Implementations: [`MemIndex`](crate::MemIndex) (in memory) and
/// [`IndexFileReader`](crate::disk::IndexFileReader) (index v2 files); the
/// TSDB head implements it over its own series map.
pub trait IndexReader: Send + Sync {
    /// Sorted, unique label names of all series.
    fn label_names(&self) -> Result<Vec<String>>;

    /// Sorted, unique values of label `name` over all series (empty if no
    /// series has it).
    fn label_values(&self, name: &str) -> Result<Vec<String>>;

    /// The series having label `name` with any of `values` (in any order;
    /// unknown values contribute nothing).
    fn postings<'a>(&'a self, name: &str, values: &[&str]) -> Result<BoxPostings<'a>>;

    /// The series whose value of label `name` satisfies `accept`. Series
    /// without the label are never passed to `accept` nor included.
    fn postings_for_label_matching<'a>(
        &'a self,
        name: &str,
        accept: &mut dyn FnMut(&str) -> bool,
    ) -> Result<BoxPostings<'a>>;

    /// Every series of the index.
    fn all_postings(&self) -> Result<BoxPostings<'_>>;

    /// The series having label `name` at all (with any value).
    fn postings_for_all_label_values<'a>(&'a self, name: &str) -> Result<BoxPostings<'a>> {
        self.postings_for_label_matching(name, &mut |_| true)
    }

    /// The labels of series `r`; [`Error::SeriesNotFound`](crate::Error)
    /// if it is not in the index.
    fn series_labels(&self, r: SeriesRef) -> Result<Labels>;

    /// Sorted, unique label names of the series in `postings`.
    fn label_names_for(&self, postings: &mut dyn Postings) -> Result<Vec<String>> {
        let mut names = BTreeSet::new();
        while let Some(r) = postings.next() {
            let l = self.series_labels(r)?;
            for label in &l {
                if !names.contains(label.name) {
                    names.insert(label.name.to_string());
                }
            }
        }
        Ok(names.into_iter().collect())
    }
}

impl<T: IndexReader + ?Sized> IndexReader for &T {
    fn label_names(&self) -> Result<Vec<String>> {
        (**self).label_names()
    }
    fn label_values(&self, name: &str) -> Result<Vec<String>> {
        (**self).label_values(name)
    }
    fn postings<'a>(&'a self, name: &str, values: &[&str]) -> Result<BoxPostings<'a>> {
        (**self).postings(name, values)
    }
    fn postings_for_label_matching<'a>(
        &'a self,
        name: &str,
        accept: &mut dyn FnMut(&str) -> bool,
    ) -> Result<BoxPostings<'a>> {
        (**self).postings_for_label_matching(name, accept)
    }
    fn all_postings(&self) -> Result<BoxPostings<'_>> {
        (**self).all_postings()
    }
    fn postings_for_all_label_values<'a>(&'a self, name: &str) -> Result<BoxPostings<'a>> {
        (**self).postings_for_all_label_values(name)
    }
    fn series_labels(&self, r: SeriesRef) -> Result<Labels> {
        (**self).series_labels(r)
    }
    fn label_names_for(&self, postings: &mut dyn Postings) -> Result<Vec<String>> {
        (**self).label_names_for(postings)
    }
}
