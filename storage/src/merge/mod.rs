//! Merging: one sorted view over several sources (a Db's head and every
//! block overlapping a query, a Db and a host's own backend), as
//! Prometheus's merge querier does.
//!
//! One implementation serves both levels. [`MergeQuerier`] fans a select
//! out to its queriers and unites their label queries; [`MergeSet`] walks
//! the label-sorted results in lockstep ([`LabelMerge`]) and hands every
//! label set found in several sources to the item type's
//! [`Mergeable::merge`]: samples are chained by timestamp
//! (`samples.rs`), chunks merged and re-encoded where they overlap
//! (`chunks.rs`). The first source wins a timestamp present in several.
//!
//! | file | holds |
//! |---|---|
//! | `label_walk.rs` | [`LabelMerge`], the lockstep walk; [`sorted_union`] of label queries |
//! | `samples.rs` | [`ChainIterator`]; sample-level merging |
//! | `chunks.rs` | [`merge_chunks`], [`VecChunks`]; chunk-level merging |
//! | `encode.rs` | [`encode_series`]: merged samples back into chunks |
//! | `queryable.rs` | [`MergeQueryable`]: several queryables as one |

mod chunks;
mod encode;
mod label_walk;
mod queryable;
mod samples;

pub use chunks::{merge_chunks, merge_chunks_encoding, VecChunks};
pub use encode::{encode_series, MERGED_CHUNK_SAMPLES};
pub use label_walk::{sorted_union, LabelMerge, Labelled};
pub use queryable::MergeQueryable;
pub use samples::ChainIterator;

use aion_model::Matcher;

use crate::{ChunkQuerier, LabelQuerier, Querier, Result};

/// A querier over the union of several queriers' series: `Q` is
/// `dyn Querier` (samples) or `dyn ChunkQuerier` (chunks). A series present
/// in several (the same labels in two overlapping blocks, or in a block and
/// the head) becomes one series; a timestamp present in several sources
/// appears once, taken from the earliest source in the list.
///
/// ```
/// use aion_model::{Labels, Matcher};
/// use aion_storage::{MemStorage, MergeQuerier, Querier, Queryable, SampleIterator};
///
/// let (a, b) = (MemStorage::new(), MemStorage::new());
/// let up = Labels::from_pairs(&[("__name__", "up")]).unwrap();
/// a.append(&up, 1_000, 1.0).unwrap();
/// b.append(&up, 2_000, 2.0).unwrap();
/// let q = MergeQuerier::new(vec![a.querier(0, 5_000).unwrap(), b.querier(0, 5_000).unwrap()]);
/// let mut set = q.select(true, None, &[Matcher::equal("__name__", "up")]);
/// let mut s = set.next().unwrap().unwrap();
/// let mut n = 0;
/// while s.samples.next() != aion_storage::ValueType::None { n += 1 }
/// assert_eq!(n, 2);
/// ```
pub struct MergeQuerier<'a, Q: ?Sized + 'a> {
    queriers: Vec<Box<Q>>,
    _sources: std::marker::PhantomData<&'a ()>,
}

/// The chunk-level [`MergeQuerier`].
pub type MergeChunkQuerier<'a> = MergeQuerier<'a, dyn ChunkQuerier + 'a>;

/// The sorted union of sorted sample series sets.
pub type MergeSeriesSet<'a> = MergeSet<'a, crate::Series<'a>>;

/// The sorted union of sorted chunk series sets.
pub type MergeChunkSeriesSet<'a> = MergeSet<'a, crate::ChunkSeries<'a>>;

impl<'a, Q: ?Sized + 'a> MergeQuerier<'a, Q> {
    /// Merges `queriers`, in order of preference for duplicate timestamps.
    pub fn new(queriers: Vec<Box<Q>>) -> Self {
        MergeQuerier {
            queriers,
            _sources: std::marker::PhantomData,
        }
    }
}

impl<'a, Q: ?Sized + LabelQuerier + 'a> LabelQuerier for MergeQuerier<'a, Q> {
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        sorted_union(self.queriers.iter().map(|q| q.label_values(name, matchers)))
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        sorted_union(self.queriers.iter().map(|q| q.label_names(matchers)))
    }

    /// Every source's warnings, in source order, each once (sources
    /// sharing a store report the same problems).
    fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for w in self.queriers.iter().flat_map(|q| q.warnings()) {
            if !out.contains(&w) {
                out.push(w);
            }
        }
        out
    }
}

// Keep the bound visible in docs: both querier kinds are label queriers.
const _: fn() = || {
    fn is_label_querier<T: ?Sized + LabelQuerier>() {}
    is_label_querier::<dyn Querier>();
    is_label_querier::<dyn ChunkQuerier>();
};

/// What differs between merging sample series and chunk series: how a
/// source set is read, and what one label set found in several sources
/// becomes.
pub trait Mergeable<'a>: Labelled + Sized + 'a {
    /// The series set this item comes from (`dyn SeriesSet` or
    /// `dyn ChunkSeriesSet`).
    type Set: ?Sized + Send + 'a;

    /// The set's next item.
    fn pull(set: &mut Box<Self::Set>) -> Option<Result<Self>>;

    /// The set's warnings.
    fn warnings(set: &Self::Set) -> Vec<String>;

    /// One item from two or more with equal labels, given with their
    /// source's rank, in rank order (drained by the call).
    fn merge(group: &mut Vec<(usize, Self)>) -> Result<Self>;
}

/// The sorted union of label-sorted series sets, generic over the item
/// kind (see [`MergeSeriesSet`], [`MergeChunkSeriesSet`]).
pub struct MergeSet<'a, T: Mergeable<'a>> {
    merge: LabelMerge<Box<T::Set>, T>,
    group: Vec<(usize, T)>,
}

impl<'a, T: Mergeable<'a>> MergeSet<'a, T> {
    /// Merges `sets`, each sorted by labels, in order of preference.
    pub fn new(sets: Vec<Box<T::Set>>) -> Self {
        MergeSet {
            merge: LabelMerge::new(sets, T::pull),
            group: Vec::new(),
        }
    }

    fn advance(&mut self) -> Result<Option<T>> {
        if !self.merge.next_group(&mut self.group)? {
            return Ok(None);
        }
        if self.group.len() == 1 {
            return Ok(self.group.pop().map(|(_, s)| s));
        }
        T::merge(&mut self.group).map(Some)
    }

    /// The next merged item; an error ends the walk, as a read error does.
    fn next_merged(&mut self) -> Option<Result<T>> {
        let r = self.advance().transpose();
        if matches!(r, Some(Err(_))) {
            self.merge.stop();
        }
        r
    }

    fn source_warnings(&self) -> Vec<String> {
        self.merge
            .sources()
            .iter()
            .flat_map(|s| T::warnings(s))
            .collect()
    }
}
