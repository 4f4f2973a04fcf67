//! A small in-memory [`Queryable`]: label-sorted series, each a sorted
//! vector of float samples.
//!
//! It is meant for tests, examples and hosts that want to run PromQL over a
//! handful of series without a data directory. It keeps everything in
//! memory, has no WAL and no compaction. It stores float samples and native
//! histogram samples (integer and float, mixed in one series if need be).
//! Appends follow the rules of Prometheus's head with out-of-order
//! ingestion disabled: a sample older than the newest sample of its series
//! is rejected, and so is a second, different value for the same timestamp
//! (the identical value is accepted and ignored).
//!
//! Queriers see a snapshot: appends after [`Queryable::querier`] returned
//! are invisible to that querier.
//!
//! ```
//! use aion_model::{Labels, Matcher};
//! use aion_storage::{LabelQuerier, MemStorage, Querier, Queryable, SampleIterator};
//!
//! let db = MemStorage::new();
//! let up = Labels::from_pairs(&[("__name__", "up"), ("job", "api")]).unwrap();
//! db.append(&up, 1_000, 1.0).unwrap();
//! db.append(&up, 2_000, 0.0).unwrap();
//!
//! let q = db.querier(0, 10_000).unwrap();
//! let mut set = q.select(true, None, &[Matcher::equal("job", "api")]);
//! let mut series = set.next().unwrap().unwrap();
//! assert_eq!(series.labels, up);
//! series.samples.next();
//! assert_eq!(series.samples.at(), (1_000, 1.0));
//! ```

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::sync::Arc;

use aion_chunkenc::{SampleIterator, ValueType};
use aion_model::histogram::{FloatHistogram, Histogram};
use aion_model::{Labels, Matcher, SeriesRef};
use parking_lot::Mutex;

use crate::{
    matches_all, Appendable, Appender, Error, ErrorKind, LabelQuerier, Querier, Queryable, Result,
    SelectHints, Series, SeriesSet,
};

/// Why an append to a [`MemStorage`] was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The sample is older than the newest sample of its series.
    #[error("out of order sample for series {labels} at {t} (newest is {newest})")]
    OutOfOrder {
        /// The series.
        labels: Labels,
        /// The rejected sample's timestamp (ms).
        t: i64,
        /// The newest timestamp the series holds (ms).
        newest: i64,
    },
    /// The series already has a different value at this timestamp.
    #[error("duplicate sample for timestamp {t} in series {labels}")]
    DuplicateTimestamp {
        /// The series.
        labels: Labels,
        /// The timestamp (ms).
        t: i64,
    },
    /// A label set without labels cannot identify a series.
    #[error("empty label set")]
    EmptyLabels,
}

/// The value of one sample: a float or a native histogram.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleValue {
    /// A float sample.
    Float(f64),
    /// An integer native histogram.
    Histogram(Arc<Histogram>),
    /// A float native histogram.
    FloatHistogram(Arc<FloatHistogram>),
}

impl SampleValue {
    /// The same value (bit for bit for floats), so a repeated append of
    /// it is accepted and ignored.
    fn same(&self, other: &SampleValue) -> bool {
        match (self, other) {
            (SampleValue::Float(a), SampleValue::Float(b)) => a.to_bits() == b.to_bits(),
            (SampleValue::Histogram(a), SampleValue::Histogram(b)) => {
                // The stored hint may have been inferred.
                Histogram {
                    counter_reset_hint: b.counter_reset_hint,
                    ..(**a).clone()
                } == **b
            }
            (SampleValue::FloatHistogram(a), SampleValue::FloatHistogram(b)) => a.equals(b),
            _ => false,
        }
    }
}

/// The hint a histogram has when read back, as from Prometheus's chunks:
/// after a histogram of the same kind with no counter reset detected,
/// "not reset" (a sample inside a chunk); otherwise unknown (the first
/// sample of a chunk, which a detected reset starts; Prometheus's
/// readers give it the unknown hint too, see its issue 15346). Gauges
/// and explicit hints are kept.
fn infer_counter_reset_hint(prev: Option<&SampleValue>, v: SampleValue) -> SampleValue {
    use aion_model::histogram::CounterResetHint::{NotCounterReset, Unknown};
    match (prev, v) {
        (Some(SampleValue::FloatHistogram(p)), SampleValue::FloatHistogram(h))
            if h.counter_reset_hint == Unknown =>
        {
            let mut h = (*h).clone();
            h.counter_reset_hint = if h.detect_reset(p) {
                Unknown
            } else {
                NotCounterReset
            };
            SampleValue::FloatHistogram(Arc::new(h))
        }
        (Some(SampleValue::Histogram(p)), SampleValue::Histogram(h))
            if h.counter_reset_hint == Unknown =>
        {
            let mut h = (*h).clone();
            h.counter_reset_hint = if h.to_float().detect_reset(&p.to_float()) {
                Unknown
            } else {
                NotCounterReset
            };
            SampleValue::Histogram(Arc::new(h))
        }
        (_, v) => v,
    }
}

/// A histogram sample held beside the float vector.
#[derive(Debug, Clone, PartialEq)]
enum StoredHistogram {
    Int(Arc<Histogram>),
    Float(Arc<FloatHistogram>),
}

/// One series' samples, and their start timestamps when any was given
/// (then `sts` runs parallel to `samples`; 0 means unknown). Histogram
/// samples sit in `hists`, keyed by their position in `samples` (whose
/// float there is unused), so float-only series pay nothing for them.
#[derive(Debug, Clone, Default)]
struct MemSeries {
    samples: Vec<(i64, f64)>,
    sts: Vec<i64>,
    hists: Vec<(usize, StoredHistogram)>,
}

impl MemSeries {
    fn value_at(&self, pos: usize) -> SampleValue {
        match self.hists.binary_search_by_key(&pos, |h| h.0) {
            Ok(i) => match &self.hists[i].1 {
                StoredHistogram::Int(h) => SampleValue::Histogram(h.clone()),
                StoredHistogram::Float(h) => SampleValue::FloatHistogram(h.clone()),
            },
            Err(_) => SampleValue::Float(self.samples[pos].1),
        }
    }
}

type SeriesData = Arc<MemSeries>;
type Snapshot = Arc<BTreeMap<Labels, SeriesData>>;

/// An in-memory, snapshot-consistent store of float series.
#[derive(Debug, Default)]
pub struct MemStorage {
    // Copy-on-write: queriers hold the `Arc` of the map they started with;
    // appends clone only what a live querier still shares.
    data: Mutex<Snapshot>,
}

impl MemStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one sample.
    pub fn append(&self, labels: &Labels, t: i64, v: f64) -> std::result::Result<(), AppendError> {
        self.append_batch([(labels.clone(), t, v)])
    }

    /// Appends a batch atomically: either every sample is stored or, if one
    /// is rejected, none is. Samples of one series must come in timestamp
    /// order within the batch, as they would from a scrape.
    pub fn append_batch(
        &self,
        samples: impl IntoIterator<Item = (Labels, i64, f64)>,
    ) -> std::result::Result<(), AppendError> {
        self.append_batch_with_st(samples.into_iter().map(|(l, t, v)| (l, 0, t, v)))
    }

    /// [`append_batch`](Self::append_batch) for samples with a start
    /// timestamp `(labels, st, t, value)`: when the counter started (ms),
    /// 0 for unknown. Iterators report it through
    /// [`SampleIterator::at_st`].
    pub fn append_batch_with_st(
        &self,
        samples: impl IntoIterator<Item = (Labels, i64, i64, f64)>,
    ) -> std::result::Result<(), AppendError> {
        self.append_values(
            samples
                .into_iter()
                .map(|(l, st, t, v)| (l, st, t, SampleValue::Float(v))),
        )
    }

    /// Appends one integer native histogram sample.
    pub fn append_histogram(
        &self,
        labels: &Labels,
        t: i64,
        h: Histogram,
    ) -> std::result::Result<(), AppendError> {
        self.append_values([(labels.clone(), 0, t, SampleValue::Histogram(Arc::new(h)))])
    }

    /// Appends one float native histogram sample.
    pub fn append_float_histogram(
        &self,
        labels: &Labels,
        t: i64,
        h: FloatHistogram,
    ) -> std::result::Result<(), AppendError> {
        self.append_values([(
            labels.clone(),
            0,
            t,
            SampleValue::FloatHistogram(Arc::new(h)),
        )])
    }

    /// Appends a batch of samples of any kind `(labels, st, t, value)`
    /// atomically, with [`append_batch`](Self::append_batch)'s rules.
    pub fn append_values(
        &self,
        samples: impl IntoIterator<Item = (Labels, i64, i64, SampleValue)>,
    ) -> std::result::Result<(), AppendError> {
        // Validate everything first, so a rejected sample leaves the store
        // untouched, then apply copy-on-write (cloning only what a live
        // querier still shares).
        let mut guard = self.data.lock();
        let mut pending: BTreeMap<Labels, Vec<(i64, SampleValue, i64)>> = BTreeMap::new();
        for (labels, st, t, v) in samples {
            if labels.is_empty() {
                return Err(AppendError::EmptyLabels);
            }
            let newest = match pending.get(&labels).and_then(|p| p.last()) {
                Some((t, v, _)) => Some((*t, v.clone())),
                None => guard.get(&labels).and_then(|s| {
                    let pos = s.samples.len().checked_sub(1)?;
                    Some((s.samples[pos].0, s.value_at(pos)))
                }),
            };
            if let Some((newest, old)) = newest {
                if t < newest {
                    return Err(AppendError::OutOfOrder { labels, t, newest });
                }
                if t == newest {
                    if old.same(&v) {
                        continue;
                    }
                    return Err(AppendError::DuplicateTimestamp { labels, t });
                }
            }
            let prev = match pending.get(&labels).and_then(|p| p.last()) {
                Some((_, v, _)) => Some(v.clone()),
                None => guard.get(&labels).and_then(|s| {
                    let pos = s.samples.len().checked_sub(1)?;
                    Some(s.value_at(pos))
                }),
            };
            let v = infer_counter_reset_hint(prev.as_ref(), v);
            pending.entry(labels).or_default().push((t, v, st));
        }
        let map = Arc::make_mut(&mut guard);
        for (labels, samples) in pending {
            let series = Arc::make_mut(map.entry(labels).or_default());
            let with_sts = !series.sts.is_empty() || samples.iter().any(|s| s.2 != 0);
            if with_sts {
                series.sts.resize(series.samples.len(), 0);
            }
            for (t, v, st) in samples {
                let f = match v {
                    SampleValue::Float(f) => f,
                    SampleValue::Histogram(h) => {
                        series
                            .hists
                            .push((series.samples.len(), StoredHistogram::Int(h)));
                        0.0
                    }
                    SampleValue::FloatHistogram(h) => {
                        series
                            .hists
                            .push((series.samples.len(), StoredHistogram::Float(h)));
                        0.0
                    }
                };
                series.samples.push((t, f));
                if with_sts {
                    series.sts.push(st);
                }
            }
        }
        Ok(())
    }

    /// Removes every series.
    pub fn clear(&self) {
        *self.data.lock() = Arc::default();
    }

    /// Number of series stored.
    pub fn num_series(&self) -> usize {
        self.data.lock().len()
    }

    /// Number of samples stored, over all series.
    pub fn num_samples(&self) -> usize {
        self.data.lock().values().map(|s| s.samples.len()).sum()
    }
}

impl Queryable for MemStorage {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>> {
        Ok(Box::new(MemQuerier {
            snapshot: self.data.lock().clone(),
            mint,
            maxt,
        }))
    }
}

struct MemQuerier {
    snapshot: Snapshot,
    mint: i64,
    maxt: i64,
}

impl MemQuerier {
    fn matching<'a>(
        &'a self,
        matchers: &'a [Matcher],
    ) -> impl Iterator<Item = (&'a Labels, &'a SeriesData)> + 'a {
        self.snapshot
            .iter()
            .filter(move |(l, _)| matches_all(l, matchers))
    }
}

impl Querier for MemQuerier {
    fn select<'a>(
        &'a self,
        _sorted: bool,
        hints: Option<&SelectHints<'_>>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet<'a> + 'a> {
        // The hints narrow the range further than the querier's; both are
        // inclusive bounds.
        let (mint, maxt) = match hints {
            Some(h) if !h.series_only() => (self.mint.max(h.start), self.maxt.min(h.end)),
            _ => (self.mint, self.maxt),
        };
        let mut out = Vec::new();
        for (labels, data) in self.matching(matchers) {
            let lo = data.samples.partition_point(|&(t, _)| t < mint);
            let hi = data.samples.partition_point(|&(t, _)| t <= maxt);
            if lo < hi {
                out.push((labels.clone(), data.clone(), lo, hi));
            }
        }
        Box::new(MemSeriesSet {
            series: out.into_iter(),
        })
    }
}

impl LabelQuerier for MemQuerier {
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        let mut values: Vec<String> = self
            .matching(matchers)
            .filter_map(|(l, _)| l.get(name).map(str::to_string))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .matching(matchers)
            .flat_map(|(l, _)| l.iter().map(|l| l.name.to_string()).collect::<Vec<_>>())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}

struct MemSeriesSet {
    series: std::vec::IntoIter<(Labels, SeriesData, usize, usize)>,
}

impl<'a> SeriesSet<'a> for MemSeriesSet {
    fn next(&mut self) -> Option<Result<Series<'a>>> {
        let (labels, data, lo, hi) = self.series.next()?;
        let hist = data.hists.partition_point(|h| h.0 < lo);
        Some(Ok(Series {
            labels,
            samples: Box::new(MemIterator {
                data,
                end: hi,
                pos: lo,
                hist,
                started: false,
            }),
        }))
    }
}

/// Cursor over `data[pos..end]`; `hist` is the first entry of
/// `data.hists` at or after `pos`.
struct MemIterator {
    data: SeriesData,
    end: usize,
    pos: usize,
    hist: usize,
    started: bool,
}

impl MemIterator {
    /// The value type at `pos` (which must be `< end`).
    #[inline]
    fn kind(&mut self) -> ValueType {
        let hists = &self.data.hists;
        if hists.is_empty() {
            return ValueType::Float;
        }
        while self.hist < hists.len() && hists[self.hist].0 < self.pos {
            self.hist += 1;
        }
        match hists.get(self.hist) {
            Some((p, StoredHistogram::Int(_))) if *p == self.pos => ValueType::Histogram,
            Some((p, StoredHistogram::Float(_))) if *p == self.pos => ValueType::FloatHistogram,
            _ => ValueType::Float,
        }
    }

    fn current_histogram(&self) -> Option<&StoredHistogram> {
        match self.data.hists.get(self.hist) {
            Some((p, h)) if *p == self.pos && self.pos < self.end => Some(h),
            _ => None,
        }
    }
}

impl SampleIterator for MemIterator {
    fn next(&mut self) -> ValueType {
        if self.started {
            self.pos = (self.pos + 1).min(self.end);
        }
        self.started = true;
        if self.pos < self.end {
            self.kind()
        } else {
            ValueType::None
        }
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.pos >= self.end {
            self.started = true;
            return ValueType::None;
        }
        if self.started && self.data.samples[self.pos].0 >= t {
            return self.kind();
        }
        self.started = true;
        let rest = &self.data.samples[self.pos..self.end];
        self.pos += rest.partition_point(|&(st, _)| st < t);
        if self.pos < self.end {
            self.kind()
        } else {
            ValueType::None
        }
    }

    fn at_histogram(&self, h: &mut Histogram) -> i64 {
        if let Some(StoredHistogram::Int(src)) = self.current_histogram() {
            h.clone_from(src);
        }
        self.at_t()
    }

    fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
        match self.current_histogram() {
            Some(StoredHistogram::Float(src)) => fh.clone_from(src),
            Some(StoredHistogram::Int(src)) => *fh = src.to_float(),
            None => {}
        }
        self.at_t()
    }

    /// The newest sample at or before `maxt` (exact: the data is in
    /// memory).
    fn tail_start(&self, maxt: i64) -> i64 {
        let rest = &self.data.samples[self.pos.min(self.end)..self.end];
        match rest.partition_point(|&(t, _)| t <= maxt) {
            0 => i64::MIN,
            k => rest[k - 1].0,
        }
    }

    fn at(&self) -> (i64, f64) {
        self.data
            .samples
            .get(self.pos.min(self.end.saturating_sub(1)))
            .copied()
            .unwrap_or((i64::MIN, f64::NAN))
    }

    fn at_t(&self) -> i64 {
        self.at().0
    }

    fn at_st(&self) -> i64 {
        self.data
            .sts
            .get(self.pos.min(self.end.saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    }

    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        None
    }
}

impl AppendError {
    fn kind(&self) -> ErrorKind {
        match self {
            AppendError::OutOfOrder { .. } => ErrorKind::OutOfOrderSample,
            AppendError::DuplicateTimestamp { .. } => ErrorKind::DuplicateSampleForTimestamp,
            AppendError::EmptyLabels => ErrorKind::InvalidSeries,
        }
    }
}

impl From<AppendError> for Error {
    fn from(e: AppendError) -> Self {
        Error::new(e.kind(), e)
    }
}

/// Appends through the storage traits: the batch is applied atomically at
/// commit, with [`MemStorage::append_batch`]'s rules. Series references
/// are not kept (0 is returned).
impl Appendable for MemStorage {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(MemAppender {
            store: self,
            batch: Vec::new(),
        })
    }
}

struct MemAppender<'a> {
    store: &'a MemStorage,
    batch: Vec<(Labels, i64, i64, SampleValue)>,
}

impl MemAppender<'_> {
    fn push(&mut self, labels: &Labels, t: i64, v: SampleValue) -> Result<SeriesRef> {
        if labels.is_empty() {
            return Err(AppendError::EmptyLabels.into());
        }
        self.batch.push((labels.clone(), 0, t, v));
        Ok(0)
    }
}

impl Appender for MemAppender<'_> {
    fn append(&mut self, _: SeriesRef, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef> {
        self.push(labels, t, SampleValue::Float(v))
    }

    fn append_histogram(
        &mut self,
        _: SeriesRef,
        labels: &Labels,
        t: i64,
        h: &Histogram,
    ) -> Result<SeriesRef> {
        self.push(labels, t, SampleValue::Histogram(Arc::new(h.clone())))
    }

    fn append_float_histogram(
        &mut self,
        _: SeriesRef,
        labels: &Labels,
        t: i64,
        fh: &FloatHistogram,
    ) -> Result<SeriesRef> {
        self.push(labels, t, SampleValue::FloatHistogram(Arc::new(fh.clone())))
    }

    fn commit(&mut self) -> Result<()> {
        let batch = std::mem::take(&mut self.batch);
        Ok(self.store.append_values(batch)?)
    }

    fn rollback(&mut self) -> Result<()> {
        self.batch.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
