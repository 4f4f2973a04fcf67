//! Several queryables as one: a Db and a host's own backend, two Dbs, a
//! live store and an archive.

use super::MergeQuerier;
use crate::{Querier, Queryable, Result};

/// A [`Queryable`] whose queriers merge those of its sources: a series in
/// several sources is one series, a timestamp in several is taken from the
/// earliest source.
///
/// ```
/// use aion_model::Labels;
/// use aion_storage::{MemStorage, MergeQueryable, Querier, Queryable};
///
/// let (recent, archive) = (MemStorage::new(), MemStorage::new());
/// let up = Labels::from_pairs(&[("__name__", "up")]).unwrap();
/// recent.append(&up, 2_000, 1.0).unwrap();
/// archive.append(&up, 1_000, 1.0).unwrap();
/// let both = MergeQueryable::new(vec![Box::new(&recent), Box::new(&archive)]);
/// let q = both.querier(0, 10_000).unwrap();
/// assert_eq!(q.label_values("__name__", &[]).unwrap(), vec!["up"]);
/// ```
pub struct MergeQueryable<'a> {
    sources: Vec<Box<dyn Queryable + 'a>>,
}

impl<'a> MergeQueryable<'a> {
    /// Merges `sources`, in order of preference for duplicate timestamps.
    pub fn new(sources: Vec<Box<dyn Queryable + 'a>>) -> Self {
        MergeQueryable { sources }
    }

    /// Adds a source after the others.
    pub fn push(&mut self, source: impl Queryable + 'a) {
        self.sources.push(Box::new(source));
    }
}

impl Queryable for MergeQueryable<'_> {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>> {
        let queriers = self
            .sources
            .iter()
            .map(|s| s.querier(mint, maxt))
            .collect::<Result<Vec<_>>>()?;
        if queriers.len() == 1 {
            return Ok(queriers.into_iter().next().expect("one querier"));
        }
        Ok(Box::new(MergeQuerier::new(queriers)))
    }
}
