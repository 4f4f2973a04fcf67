//! The streaming querier traits shared by the TSDB, the PromQL engine and
//! hosts' own storage backends.
//!
//! The shape follows Prometheus's `storage` package: a [`Queryable`] opens a
//! [`Querier`] over a time range; the querier's [`Querier::select`] returns a
//! [`SeriesSet`] that yields one [`Series`] at a time, each with a
//! [`SampleIterator`] that yields one sample at a time. Nothing in this chain
//! materialises a whole result: a query over a billion samples holds one
//! series' cursor per open series, not the samples.
//!
//! A host that stores data elsewhere (an object store, a remote TSDB)
//! implements these traits and gets the PromQL engine for free.

use aion_chunkenc::SampleIterator;
use aion_index::{Labels, Matcher};

use crate::Result;

/// Hints a query engine passes to `select` so a backend can prune work. A
/// backend may ignore them; results must be correct either way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectHints {
    /// Start of the data the caller needs (ms, inclusive).
    pub start: i64,
    /// End of the data the caller needs (ms, inclusive).
    pub end: i64,
    /// Query resolution step (ms); 0 for instant queries.
    pub step: i64,
    /// Range of a range selector (ms), 0 for instant vector selectors.
    pub range: i64,
    /// The function the selector feeds, e.g. `rate`; `series` for metadata
    /// calls that need no samples.
    pub func: Option<String>,
    /// Labels of the enclosing aggregation's `by`/`without` clause.
    pub grouping: Vec<String>,
    /// Whether `grouping` is a `by` (true) or `without` (false) list.
    pub by: bool,
}

/// Something that can be queried over a time range: a DB, a block, a head,
/// or a host's own backend.
pub trait Queryable: Send + Sync {
    /// Opens a querier over samples with `mint <= t <= maxt`.
    ///
    /// The querier sees a consistent snapshot: everything committed before
    /// this call, nothing committed after it.
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>>;
}

/// A read view over a time range.
pub trait Querier: Send + Sync {
    /// The series matching all `matchers` (an AND), restricted to the
    /// querier's time range. With `sorted`, series come in label-set order
    /// (needed for merging); without, in any order the backend finds
    /// cheapest.
    fn select<'a>(
        &'a self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet<'a> + 'a>;

    /// Sorted, unique values of label `name` among series matching
    /// `matchers` (all series when empty).
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>>;

    /// Sorted, unique label names among series matching `matchers`.
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>>;
}

/// One series: its labels and a cursor over its samples within the
/// querier's range.
pub struct Series<'a> {
    /// The series' identity.
    pub labels: Labels,
    /// Its samples, oldest first.
    pub samples: Box<dyn SampleIterator + 'a>,
}

impl std::fmt::Debug for Series<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Series")
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

/// A stream of series. An `Err` item ends the stream.
pub trait SeriesSet<'a>: Send {
    /// The next series, `None` when done.
    fn next(&mut self) -> Option<Result<Series<'a>>>;

    /// Non-fatal problems met so far (e.g. a block skipped), reported to the
    /// user alongside the result as Prometheus reports annotations.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A series set with nothing in it.
#[derive(Debug, Default)]
pub struct EmptySeriesSet;

impl<'a> SeriesSet<'a> for EmptySeriesSet {
    fn next(&mut self) -> Option<Result<Series<'a>>> {
        None
    }
}

/// A series set that yields a single error (for backends that fail before
/// producing anything).
#[derive(Debug)]
pub struct ErrorSeriesSet(Option<crate::Error>);

impl ErrorSeriesSet {
    /// A set whose first and only item is `err`.
    pub fn new(err: crate::Error) -> Self {
        ErrorSeriesSet(Some(err))
    }
}

impl<'a> SeriesSet<'a> for ErrorSeriesSet {
    fn next(&mut self) -> Option<Result<Series<'a>>> {
        self.0.take().map(Err)
    }
}

mod chunk;
pub use chunk::{
    ChunkIterator, ChunkQuerier, ChunkQueryable, ChunkSeries, ChunkSeriesSet, EmptyChunkSeriesSet,
    ErrorChunkSeriesSet, RawChunk,
};

mod merge;
pub use merge::{ChainIterator, MergeQuerier, MergeSeriesSet};

mod chunk_merge;
mod label_merge;
pub(crate) use chunk_merge::VecChunks;
pub use chunk_merge::{BlockChunkQuerier, MergeChunkQuerier};
pub(crate) use label_merge::LabelMerge;
