//! The sample-level querier traits: queryables, queriers, series sets and
//! series.
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
use aion_model::{Labels, Matcher};

use crate::{Error, LabelQuerier, Result, SelectHints};

/// Something that can be queried over a time range: a DB, a block, a head,
/// or a host's own backend.
pub trait Queryable: Send + Sync {
    /// Opens a querier over samples with `mint <= t <= maxt`.
    ///
    /// The querier sees a consistent snapshot: everything committed before
    /// this call, nothing committed after it.
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>>;
}

/// A read view over a time range: series with their samples, and (through
/// [`LabelQuerier`]) the label names and values among them.
pub trait Querier: LabelQuerier {
    /// The series matching all `matchers` (an AND), restricted to the
    /// querier's time range. With `sorted`, series come in label-set order
    /// (needed for merging); without, in any order the backend finds
    /// cheapest.
    fn select<'a>(
        &'a self,
        sorted: bool,
        hints: Option<&SelectHints<'_>>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet<'a> + 'a>;
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
pub struct ErrorSeriesSet(Option<Error>);

impl ErrorSeriesSet {
    /// A set whose first and only item is `err`.
    pub fn new(err: Error) -> Self {
        ErrorSeriesSet(Some(err))
    }
}

impl<'a> SeriesSet<'a> for ErrorSeriesSet {
    fn next(&mut self) -> Option<Result<Series<'a>>> {
        self.0.take().map(Err)
    }
}
