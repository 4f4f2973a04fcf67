//! The storage interface: the traits every reader and writer of samples
//! meets at, as Prometheus's `storage` package is.
//!
//! A [`Queryable`] opens a [`Querier`] over a time range; its
//! [`Querier::select`] streams a [`SeriesSet`] of [`Series`], each with a
//! [`SampleIterator`] that yields one sample at a time (or a batch into the
//! caller's buffers, [`SampleIterator::read_floats`]). Nothing in this
//! chain materialises a whole result. The chunk-level twins
//! ([`ChunkQueryable`], [`ChunkQuerier`], [`ChunkSeriesSet`]) hand out
//! stored chunks instead, for remote read and block writers. Writes go
//! through [`Appendable`] / [`Appender`].
//!
//! The TSDB implements these traits; the PromQL engine, the rules engine
//! and remote read/write use only them, so a host's own backend (an object
//! store, a remote TSDB, a `BTreeMap`) gets all of them by implementing a
//! few methods with the helpers in [`vec`](crate::VecSeriesSet).
//!
//! | file | holds |
//! |---|---|
//! | `series.rs` | [`Queryable`], [`Querier`], [`SeriesSet`], [`Series`] |
//! | `labels.rs` | [`LabelQuerier`]: label names and values |
//! | `hints.rs` | [`SelectHints`], borrowed so a select allocates nothing |
//! | `chunk.rs` | the chunk-level traits; [`SeriesChunk`] |
//! | `appender.rs` | [`Appendable`], [`Appender`] |
//! | `dedup/` | [`DedupQueryable`](dedup::DedupQueryable): HA replicas deduplicated (Thanos's penalty and chain modes) |
//! | `merge/` | [`MergeQuerier`] (samples and chunks, one implementation), [`MergeQueryable`], [`ChainIterator`], [`merge_chunks`] |
//! | `vec.rs` | [`SliceIterator`], [`ValueSliceIterator`], [`VecSeriesSet`], [`matches_all`] for in-memory backends |
//! | `memory/` | [`MemStorage`], a small snapshot-consistent in-memory store (floats and native histograms) |
//! | `error.rs` | [`Error`] with an [`ErrorKind`] and the backend's error as source |
//!
//! Sample iterators are `aion_chunkenc`'s [`SampleIterator`] (re-exported),
//! the cursor every layer speaks, with histogram accessors for native
//! histogram samples.
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

mod appender;
mod chunk;
pub mod dedup;
mod error;
mod hints;
mod labels;
mod memory;
pub mod merge;
mod series;
mod vec;

pub use aion_chunkenc::{EmptyIterator, SampleIterator, ValueType};
pub use appender::{Appendable, Appender};
pub use chunk::{
    ChunkIterator, ChunkQuerier, ChunkQueryable, ChunkSeries, ChunkSeriesSet, EmptyChunkSeriesSet,
    ErrorChunkSeriesSet, RawChunk, SeriesChunk,
};
pub use error::{Error, ErrorKind, Result};
pub use hints::SelectHints;
pub use labels::LabelQuerier;
pub use memory::{AppendError, MemStorage, SampleValue};
pub use merge::{
    merge_chunks, ChainIterator, MergeChunkQuerier, MergeChunkSeriesSet, MergeQuerier,
    MergeQueryable, MergeSeriesSet, VecChunks,
};
pub use series::{EmptySeriesSet, ErrorSeriesSet, Querier, Queryable, Series, SeriesSet};
pub use vec::{matches_all, BorrowedSamples, SliceIterator, ValueSliceIterator, VecSeriesSet};

/// Queryables are shared by reference and by pointer: a querier over
/// `&db` is a querier over `db`.
impl<T: Queryable + ?Sized> Queryable for &T {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>> {
        (**self).querier(mint, maxt)
    }
}

impl<T: Queryable + ?Sized> Queryable for std::sync::Arc<T> {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>> {
        (**self).querier(mint, maxt)
    }
}

impl<T: Appendable + ?Sized> Appendable for &T {
    fn appender(&self) -> Box<dyn Appender + '_> {
        (**self).appender()
    }
}

impl<T: Appendable + ?Sized> Appendable for std::sync::Arc<T> {
    fn appender(&self) -> Box<dyn Appender + '_> {
        (**self).appender()
    }
}
