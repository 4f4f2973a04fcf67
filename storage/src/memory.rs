//! A small in-memory [`Queryable`]: label-sorted series, each a sorted
//! vector of float samples.
//!
//! It is meant for tests, examples and hosts that want to run PromQL over a
//! handful of series without a data directory. It keeps everything in
//! memory, has no WAL and no compaction, and stores float samples only (no
//! native histograms). Appends follow the rules of Prometheus's head with
//! out-of-order ingestion disabled: a sample older than the newest sample of
//! its series is rejected, and so is a second, different value for the same
//! timestamp (the identical value is accepted and ignored).
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

/// One series' samples, and their start timestamps when any was given
/// (then `sts` runs parallel to `samples`; 0 means unknown).
#[derive(Debug, Clone, Default)]
struct MemSeries {
    samples: Vec<(i64, f64)>,
    sts: Vec<i64>,
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
        // Validate everything first, so a rejected sample leaves the store
        // untouched, then apply copy-on-write (cloning only what a live
        // querier still shares).
        let mut guard = self.data.lock();
        let mut pending: BTreeMap<Labels, Vec<(i64, f64, i64)>> = BTreeMap::new();
        for (labels, st, t, v) in samples {
            if labels.is_empty() {
                return Err(AppendError::EmptyLabels);
            }
            let newest = match pending.get(&labels).and_then(|p| p.last()) {
                Some(&(t, v, _)) => Some((t, v)),
                None => guard.get(&labels).and_then(|s| s.samples.last().copied()),
            };
            if let Some((newest, old)) = newest {
                if t < newest {
                    return Err(AppendError::OutOfOrder { labels, t, newest });
                }
                if t == newest {
                    if old.to_bits() == v.to_bits() {
                        continue;
                    }
                    return Err(AppendError::DuplicateTimestamp { labels, t });
                }
            }
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
                series.samples.push((t, v));
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
        Some(Ok(Series {
            labels,
            samples: Box::new(MemIterator {
                data,
                end: hi,
                pos: lo,
                started: false,
            }),
        }))
    }
}

/// Cursor over `data[pos..end]`.
struct MemIterator {
    data: SeriesData,
    end: usize,
    pos: usize,
    started: bool,
}

impl SampleIterator for MemIterator {
    fn next(&mut self) -> ValueType {
        if self.started {
            self.pos = (self.pos + 1).min(self.end);
        }
        self.started = true;
        if self.pos < self.end {
            ValueType::Float
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
            return ValueType::Float;
        }
        self.started = true;
        let rest = &self.data.samples[self.pos..self.end];
        self.pos += rest.partition_point(|&(st, _)| st < t);
        if self.pos < self.end {
            ValueType::Float
        } else {
            ValueType::None
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
    batch: Vec<(Labels, i64, f64)>,
}

impl Appender for MemAppender<'_> {
    fn append(&mut self, _: SeriesRef, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef> {
        if labels.is_empty() {
            return Err(AppendError::EmptyLabels.into());
        }
        self.batch.push((labels.clone(), t, v));
        Ok(0)
    }

    fn commit(&mut self) -> Result<()> {
        let batch = std::mem::take(&mut self.batch);
        Ok(self.store.append_batch(batch)?)
    }

    fn rollback(&mut self) -> Result<()> {
        self.batch.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aion_model::MatchType;
    use proptest::prelude::*;

    fn ls(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs).unwrap()
    }

    fn collect(q: &dyn Querier, matchers: &[Matcher]) -> Vec<(Labels, Vec<(i64, f64)>)> {
        let mut set = q.select(true, None, matchers);
        let mut out = Vec::new();
        while let Some(s) = set.next() {
            let mut s = s.unwrap();
            let mut pts = Vec::new();
            while s.samples.next() == ValueType::Float {
                pts.push(s.samples.at());
            }
            out.push((s.labels, pts));
        }
        out
    }

    #[test]
    fn select_filters_by_matchers_and_time() {
        let db = MemStorage::new();
        let a = ls(&[("__name__", "m"), ("x", "1")]);
        let b = ls(&[("__name__", "m"), ("x", "2")]);
        let c = ls(&[("__name__", "other")]);
        for t in 0..10 {
            db.append_batch([
                (a.clone(), t * 10, t as f64),
                (b.clone(), t * 10, -(t as f64)),
            ])
            .unwrap();
        }
        db.append(&c, 5, 1.0).unwrap();
        let q = db.querier(20, 40).unwrap();
        let got = collect(&*q, &[Matcher::equal("__name__", "m")]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, a);
        assert_eq!(got[0].1, vec![(20, 2.0), (30, 3.0), (40, 4.0)]);
        // A matcher for the empty value also selects series without the label.
        let none = Matcher::new(MatchType::Equal, "x", "").unwrap();
        let got = collect(&*db.querier(0, 100).unwrap(), &[none]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, c);
    }

    #[test]
    fn appends_follow_head_rules() {
        let db = MemStorage::new();
        let a = ls(&[("a", "1")]);
        db.append(&a, 10, 1.0).unwrap();
        db.append(&a, 10, 1.0).unwrap();
        assert!(matches!(
            db.append(&a, 10, 2.0),
            Err(AppendError::DuplicateTimestamp { .. })
        ));
        assert!(matches!(
            db.append(&a, 5, 2.0),
            Err(AppendError::OutOfOrder { .. })
        ));
        // A failed batch stores nothing.
        let b = ls(&[("b", "1")]);
        assert!(db
            .append_batch([(b.clone(), 1, 1.0), (a.clone(), 1, 1.0)])
            .is_err());
        assert_eq!(db.num_series(), 1);
        assert_eq!(db.num_samples(), 1);
        assert_eq!(
            db.append(&Labels::new(), 1, 1.0),
            Err(AppendError::EmptyLabels)
        );
    }

    #[test]
    fn queriers_see_a_snapshot() {
        let db = MemStorage::new();
        let a = ls(&[("a", "1")]);
        db.append(&a, 1, 1.0).unwrap();
        let q = db.querier(0, 100).unwrap();
        db.append(&a, 2, 2.0).unwrap();
        assert_eq!(collect(&*q, &[]).len(), 1);
        assert_eq!(collect(&*q, &[])[0].1.len(), 1);
        assert_eq!(collect(&*db.querier(0, 100).unwrap(), &[])[0].1.len(), 2);
        db.clear();
        assert_eq!(collect(&*q, &[])[0].1.len(), 1);
        assert!(collect(&*db.querier(0, 100).unwrap(), &[]).is_empty());
    }

    #[test]
    fn start_timestamps_are_kept() {
        let db = MemStorage::new();
        let a = ls(&[("a", "1")]);
        db.append(&a, 10, 1.0).unwrap();
        db.append_batch_with_st([(a.clone(), 15, 20, 2.0), (a.clone(), 0, 30, 3.0)])
            .unwrap();
        // A series whose very first samples have start timestamps.
        let b = ls(&[("b", "1")]);
        db.append_batch_with_st([(b.clone(), 5, 10, 1.0)]).unwrap();
        let q = db.querier(0, 100).unwrap();
        let mut set = q.select(true, None, &[]);
        let mut s = set.next().unwrap().unwrap();
        let mut sts = Vec::new();
        while s.samples.next() == ValueType::Float {
            sts.push(s.samples.at_st());
        }
        assert_eq!(sts, [0, 15, 0]);
        let mut s = set.next().unwrap().unwrap();
        s.samples.next();
        assert_eq!(s.samples.at_st(), 5);
    }

    #[test]
    fn label_values_and_names() {
        let db = MemStorage::new();
        db.append(&ls(&[("job", "b"), ("x", "1")]), 1, 1.0).unwrap();
        db.append(&ls(&[("job", "a")]), 1, 1.0).unwrap();
        let q = db.querier(0, 10).unwrap();
        assert_eq!(q.label_values("job", &[]).unwrap(), ["a", "b"]);
        assert_eq!(q.label_names(&[]).unwrap(), ["job", "x"]);
    }

    proptest! {
        /// `seek` lands on the first sample at or after its target and
        /// never moves backwards, whatever the mix of `next` and `seek`.
        #[test]
        fn seek_and_next_follow_the_cursor_contract(
            ts in proptest::collection::btree_set(0i64..1000, 0..50),
            ops in proptest::collection::vec(proptest::option::of(0i64..1100), 0..40),
        ) {
            let db = MemStorage::new();
            let a = ls(&[("a", "1")]);
            db.append_batch(ts.iter().map(|&t| (a.clone(), t, t as f64))).unwrap();
            let ts: Vec<i64> = ts.into_iter().collect();
            let q = db.querier(i64::MIN, i64::MAX).unwrap();
            let mut set = q.select(true, None, &[]);
            let Some(series) = set.next() else {
                prop_assert!(ts.is_empty());
                return Ok(());
            };
            let mut it = series.unwrap().samples;
            let mut pos: Option<usize> = None; // index of the current sample
            for op in ops {
                let got = match op {
                    None => it.next(),
                    Some(t) => it.seek(t),
                };
                let want = match op {
                    None => pos.map_or(0, |p| p + 1),
                    Some(t) => {
                        let from = pos.unwrap_or(0);
                        from + ts[from.min(ts.len())..].partition_point(|&x| x < t)
                    }
                }
                .min(ts.len());
                pos = Some(want);
                if want < ts.len() {
                    prop_assert_eq!(got, ValueType::Float);
                    prop_assert_eq!(it.at().0, ts[want]);
                } else {
                    prop_assert_eq!(got, ValueType::None);
                }
            }
        }
    }
}
