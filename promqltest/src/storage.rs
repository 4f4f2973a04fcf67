//! The storage a test script runs against, behind a small trait so the
//! runner can be pointed at any backend (the in-memory store today, the
//! TSDB head later).

use std::collections::{BTreeMap, HashSet};
use std::error::Error as StdError;
use std::sync::Arc;

use aion_chunkenc::{SampleIterator, ValueType};
use aion_model::{Labels, Matcher};
use aion_storage::{matches_all, MemStorage, Querier, Queryable, SelectHints, Series, SeriesSet};
use parking_lot::RwLock;

use crate::script::{LoadSeries, SeqValue};

/// What the runner needs from a storage.
pub trait TestStorage {
    /// Discards all data (`clear`).
    fn clear(&mut self);

    /// Stores the series of one `load` block, all or nothing. A sample not
    /// newer than its series' newest sample (apart from an identical
    /// duplicate) makes the load fail.
    fn load(&mut self, series: &[LoadSeries]) -> Result<(), String>;

    /// The data, for queries.
    fn queryable(&self) -> &dyn Queryable;

    /// Whether the storage keeps the start timestamps of float samples
    /// (`@st` lines) and reports them through `SampleIterator::at_st`.
    /// Evals that read series with start timestamps are skipped when not.
    fn keeps_start_timestamps(&self) -> bool {
        false
    }
}

/// Positions of a series that holds native histogram samples: `None` is a
/// histogram sample (whose contents the engine cannot use yet), `Some` a
/// float.
type MixedSamples = Arc<Vec<(i64, Option<f64>)>>;

/// [`MemStorage`] for float series, plus the series that contain native
/// histogram samples. Queries see histogram samples as
/// [`ValueType::FloatHistogram`], which the engine refuses, so evals that
/// read them are reported as skipped rather than silently wrong.
#[derive(Default)]
pub struct MemTestStorage {
    queryable: CombinedQueryable,
}

impl MemTestStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[derive(Default)]
struct CombinedQueryable {
    floats: MemStorage,
    mixed: RwLock<Arc<BTreeMap<Labels, MixedSamples>>>,
}

impl TestStorage for MemTestStorage {
    fn clear(&mut self) {
        self.queryable.floats.clear();
        *self.queryable.mixed.write() = Arc::default();
    }

    fn load(&mut self, series: &[LoadSeries]) -> Result<(), String> {
        let q = &self.queryable;
        let mut mixed = (**q.mixed.read()).clone();
        let mut floats = Vec::new();
        for s in series {
            let has_histograms = s.samples.iter().any(|(_, v)| *v == SeqValue::Histogram);
            if !has_histograms && !mixed.contains_key(&s.labels) {
                for (i, &(t, v)) in s.samples.iter().enumerate() {
                    if let SeqValue::Float(f) = v {
                        let st = s
                            .start_timestamps
                            .as_ref()
                            .and_then(|sts| sts[i])
                            .unwrap_or(0);
                        floats.push((s.labels.clone(), st, t, f));
                    }
                }
                continue;
            }
            // A series with histogram samples lives in `mixed`, with any
            // floats it already had.
            let entry = mixed
                .entry(s.labels.clone())
                .or_insert_with(|| Arc::new(existing_floats(&q.floats, &s.labels)));
            let samples = Arc::make_mut(entry);
            for &(t, v) in &s.samples {
                let v = match v {
                    SeqValue::Float(f) => Some(f),
                    _ => None,
                };
                if let Some(&(last, lv)) = samples.last() {
                    let same = matches!((lv, v), (Some(a), Some(b)) if a.to_bits() == b.to_bits());
                    if t < last || (t == last && !same) {
                        return Err(format!("out of order sample for series {}", s.labels));
                    }
                    if t == last {
                        continue;
                    }
                }
                samples.push((t, v));
            }
        }
        q.floats
            .append_batch_with_st(floats)
            .map_err(|e| e.to_string())?;
        *q.mixed.write() = Arc::new(mixed);
        Ok(())
    }

    fn queryable(&self) -> &dyn Queryable {
        &self.queryable
    }

    fn keeps_start_timestamps(&self) -> bool {
        true
    }
}

/// The float samples `db` holds for `labels`.
fn existing_floats(db: &MemStorage, labels: &Labels) -> Vec<(i64, Option<f64>)> {
    let mut out = Vec::new();
    let Ok(q) = db.querier(i64::MIN, i64::MAX) else {
        return out;
    };
    let matchers: Vec<Matcher> = labels
        .iter()
        .map(|l| Matcher::equal(l.name, l.value))
        .collect();
    let mut set = q.select(true, None, &matchers);
    while let Some(Ok(mut s)) = set.next() {
        if s.labels != *labels {
            continue;
        }
        while s.samples.next() == ValueType::Float {
            let (t, v) = s.samples.at();
            out.push((t, Some(v)));
        }
    }
    out
}

impl Queryable for CombinedQueryable {
    fn querier(&self, mint: i64, maxt: i64) -> aion_storage::Result<Box<dyn Querier + '_>> {
        let mixed = self.mixed.read().clone();
        Ok(Box::new(CombinedQuerier {
            floats: self.floats.querier(mint, maxt)?,
            shadowed: mixed.keys().cloned().collect(),
            mixed,
            mint,
            maxt,
        }))
    }
}

struct CombinedQuerier<'a> {
    floats: Box<dyn Querier + 'a>,
    mixed: Arc<BTreeMap<Labels, MixedSamples>>,
    shadowed: HashSet<Labels>,
    mint: i64,
    maxt: i64,
}

impl Querier for CombinedQuerier<'_> {
    fn select<'b>(
        &'b self,
        sorted: bool,
        hints: Option<&SelectHints<'_>>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet<'b> + 'b> {
        let (mint, maxt) = match hints {
            Some(h) => (self.mint.max(h.start), self.maxt.min(h.end)),
            None => (self.mint, self.maxt),
        };
        let mixed: Vec<(Labels, MixedSamples, usize, usize)> = self
            .mixed
            .iter()
            .filter(|(l, _)| matches_all(l, matchers))
            .filter_map(|(l, s)| {
                let lo = s.partition_point(|&(t, _)| t < mint);
                let hi = s.partition_point(|&(t, _)| t <= maxt);
                (lo < hi).then(|| (l.clone(), s.clone(), lo, hi))
            })
            .collect();
        Box::new(MergedSet {
            floats: self.floats.select(sorted, hints, matchers),
            shadowed: &self.shadowed,
            peeked: None,
            floats_done: false,
            mixed: mixed.into_iter().peekable(),
        })
    }
}

impl aion_storage::LabelQuerier for CombinedQuerier<'_> {
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        let mut v = self.floats.label_values(name, matchers)?;
        v.extend(
            self.mixed
                .keys()
                .filter(|l| matches_all(l, matchers))
                .filter_map(|l| l.get(name).map(str::to_string)),
        );
        v.sort();
        v.dedup();
        Ok(v)
    }

    fn label_names(&self, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        let mut v = self.floats.label_names(matchers)?;
        for l in self.mixed.keys().filter(|l| matches_all(l, matchers)) {
            v.extend(l.iter().map(|l| l.name.to_string()));
        }
        v.sort();
        v.dedup();
        Ok(v)
    }
}

/// Both sources merged in label order.
struct MergedSet<'b> {
    floats: Box<dyn SeriesSet<'b> + 'b>,
    shadowed: &'b HashSet<Labels>,
    peeked: Option<Series<'b>>,
    floats_done: bool,
    mixed: std::iter::Peekable<std::vec::IntoIter<(Labels, MixedSamples, usize, usize)>>,
}

impl<'b> SeriesSet<'b> for MergedSet<'b> {
    fn next(&mut self) -> Option<aion_storage::Result<Series<'b>>> {
        while self.peeked.is_none() && !self.floats_done {
            match self.floats.next() {
                Some(Ok(s)) if self.shadowed.contains(&s.labels) => continue,
                Some(Ok(s)) => self.peeked = Some(s),
                Some(Err(e)) => return Some(Err(e)),
                None => self.floats_done = true,
            }
        }
        let take_mixed = match (&self.peeked, self.mixed.peek()) {
            (Some(f), Some((l, ..))) => l < &f.labels,
            (None, Some(_)) => true,
            _ => false,
        };
        if take_mixed {
            let (labels, data, lo, hi) = self.mixed.next()?;
            return Some(Ok(Series {
                labels,
                samples: Box::new(MixedIterator {
                    data,
                    pos: lo,
                    end: hi,
                    started: false,
                }),
            }));
        }
        self.peeked.take().map(Ok)
    }

    fn warnings(&self) -> Vec<String> {
        self.floats.warnings()
    }
}

struct MixedIterator {
    data: MixedSamples,
    pos: usize,
    end: usize,
    started: bool,
}

impl MixedIterator {
    fn kind(&self) -> ValueType {
        match self.data.get(self.pos) {
            _ if self.pos >= self.end => ValueType::None,
            Some((_, Some(_))) => ValueType::Float,
            Some((_, None)) => ValueType::FloatHistogram,
            None => ValueType::None,
        }
    }
}

impl SampleIterator for MixedIterator {
    fn next(&mut self) -> ValueType {
        if self.started {
            self.pos = (self.pos + 1).min(self.end);
        }
        self.started = true;
        self.kind()
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.started && self.pos < self.end && self.data[self.pos].0 >= t {
            return self.kind();
        }
        self.started = true;
        let from = self.pos.min(self.end);
        self.pos = from + self.data[from..self.end].partition_point(|&(st, _)| st < t);
        self.kind()
    }

    fn at(&self) -> (i64, f64) {
        match self.data.get(self.pos) {
            Some(&(t, v)) => (t, v.unwrap_or(f64::NAN)),
            None => (i64::MIN, f64::NAN),
        }
    }

    fn at_t(&self) -> i64 {
        self.at().0
    }

    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(labels: &[(&str, &str)], samples: &[(i64, SeqValue)]) -> LoadSeries {
        LoadSeries {
            labels: Labels::from_pairs(labels).unwrap(),
            samples: samples.to_vec(),
            start_timestamps: None,
        }
    }

    #[test]
    fn histograms_are_visible_as_such() {
        let mut st = MemTestStorage::new();
        st.load(&[
            series(&[("__name__", "a")], &[(0, SeqValue::Float(1.0))]),
            series(
                &[("__name__", "b")],
                &[(0, SeqValue::Float(1.0)), (10, SeqValue::Histogram)],
            ),
            series(&[("__name__", "c")], &[(0, SeqValue::Float(2.0))]),
        ])
        .unwrap();
        // A later load turns `c` into a mixed series, keeping its floats.
        st.load(&[series(&[("__name__", "c")], &[(5, SeqValue::Histogram)])])
            .unwrap();
        let mut seen = Vec::new();
        {
            let q = st.queryable().querier(0, 100).unwrap();
            let mut set = q.select(true, None, &[]);
            while let Some(s) = set.next() {
                let mut s = s.unwrap();
                let mut kinds = Vec::new();
                loop {
                    let k = s.samples.next();
                    if k == ValueType::None {
                        break;
                    }
                    kinds.push(k);
                }
                seen.push((s.labels.get("__name__").unwrap().to_string(), kinds));
            }
        }
        use ValueType::{Float as F, FloatHistogram as H};
        assert_eq!(
            seen,
            vec![
                ("a".to_string(), vec![F]),
                ("b".to_string(), vec![F, H]),
                ("c".to_string(), vec![F, H]),
            ]
        );
        assert!(st
            .load(&[series(&[("__name__", "a")], &[(0, SeqValue::Float(3.0))])])
            .is_err());
        st.clear();
        let q = st.queryable().querier(0, 100).unwrap();
        let mut set = q.select(true, None, &[]);
        assert!(set.next().is_none());
    }
}
