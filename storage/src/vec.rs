//! Building blocks for a backend that holds its samples in memory: sample
//! iterators over slices, series sets over vectors, and the matcher test.
//! With these, a custom backend is its lookup code and a few lines of glue
//! (see `examples/custom_backend.rs`).

use std::error::Error as StdError;

use aion_chunkenc::{SampleIterator, ValueType};
use aion_model::histogram::{FloatHistogram, Histogram};
use aion_model::{Labels, Matcher};

use crate::{Result, SampleValue, Series, SeriesSet};

/// Whether `labels` satisfy every matcher (a missing label matches as the
/// empty value, as in Prometheus).
///
/// ```
/// use aion_model::{Labels, Matcher};
/// let l = Labels::from_pairs(&[("job", "api")]).unwrap();
/// assert!(aion_storage::matches_all(&l, &[Matcher::equal("job", "api"), Matcher::equal("x", "")]));
/// ```
pub fn matches_all(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers
        .iter()
        .all(|m| m.matches(labels.get(m.name()).unwrap_or("")))
}

/// A sample iterator over time-sorted float samples held in anything that
/// derefs to a slice: a `Vec`, an `Arc<[_]>`, a borrowed slice.
///
/// ```
/// use aion_storage::{SampleIterator, SliceIterator, ValueType};
/// let mut it = SliceIterator::new(vec![(1_000, 1.0), (2_000, 2.0), (3_000, 3.0)]);
/// assert_eq!(it.seek(1_500), ValueType::Float);
/// assert_eq!(it.at(), (2_000, 2.0));
/// ```
#[derive(Debug, Clone)]
pub struct SliceIterator<S> {
    samples: S,
    pos: usize,
    started: bool,
}

impl<S: AsRef<[(i64, f64)]>> SliceIterator<S> {
    /// Iterates `samples`, which must be sorted by timestamp.
    pub fn new(samples: S) -> Self {
        SliceIterator {
            samples,
            pos: 0,
            started: false,
        }
    }

    fn state(&self) -> ValueType {
        if self.pos < self.samples.as_ref().len() {
            ValueType::Float
        } else {
            ValueType::None
        }
    }
}

impl<S: AsRef<[(i64, f64)]> + Send> SampleIterator for SliceIterator<S> {
    fn next(&mut self) -> ValueType {
        let len = self.samples.as_ref().len();
        if self.started {
            self.pos = (self.pos + 1).min(len);
        }
        self.started = true;
        self.state()
    }

    fn seek(&mut self, t: i64) -> ValueType {
        let s = self.samples.as_ref();
        if self.started && self.pos < s.len() && s[self.pos].0 >= t {
            return ValueType::Float;
        }
        self.started = true;
        self.pos += s[self.pos.min(s.len())..].partition_point(|&(st, _)| st < t);
        self.state()
    }

    fn at(&self) -> (i64, f64) {
        let s = self.samples.as_ref();
        s.get(self.pos.min(s.len().saturating_sub(1)))
            .copied()
            .unwrap_or((i64::MIN, f64::NAN))
    }

    fn at_t(&self) -> i64 {
        self.at().0
    }

    fn read_floats(&mut self, ts: &mut [i64], vs: &mut [f64], maxt: i64) -> (usize, ValueType) {
        let s = self.samples.as_ref();
        let rest = &s[self.pos.min(s.len())..];
        let room = ts.len().min(vs.len()).min(rest.len());
        let n = rest[..room].partition_point(|&(t, _)| t <= maxt);
        for (i, &(t, v)) in rest[..n].iter().enumerate() {
            ts[i] = t;
            vs[i] = v;
        }
        self.pos += n;
        self.started = true;
        (n, self.state())
    }

    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        None
    }
}

/// A sample iterator over time-sorted samples of any kind (floats and
/// native histograms), held in anything that derefs to a slice: what a
/// backend that keeps histograms hands out, and what tests feed to
/// merges and encoders. Histograms are copied into the caller's value
/// (its vectors reused); their counter-reset hints pass as stored.
///
/// ```
/// use std::sync::Arc;
/// use aion_model::histogram::Histogram;
/// use aion_storage::{SampleIterator, SampleValue, ValueSliceIterator, ValueType};
///
/// let h = Histogram { count: 3, ..Histogram::default() };
/// let samples = vec![
///     (1_000, SampleValue::Float(1.0)),
///     (2_000, SampleValue::Histogram(Arc::new(h.clone()))),
/// ];
/// let mut it = ValueSliceIterator::new(samples);
/// assert_eq!(it.next(), ValueType::Float);
/// assert_eq!(it.seek(1_500), ValueType::Histogram);
/// let mut got = Histogram::default();
/// assert_eq!(it.at_histogram(&mut got), 2_000);
/// assert_eq!(got, h);
/// ```
#[derive(Debug, Clone)]
pub struct ValueSliceIterator<S> {
    samples: S,
    pos: usize,
    started: bool,
}

impl<S: AsRef<[(i64, SampleValue)]>> ValueSliceIterator<S> {
    /// Iterates `samples`, which must be sorted by timestamp.
    pub fn new(samples: S) -> Self {
        ValueSliceIterator {
            samples,
            pos: 0,
            started: false,
        }
    }

    fn current(&self) -> Option<&(i64, SampleValue)> {
        self.samples.as_ref().get(self.pos).filter(|_| self.started)
    }

    fn state(&self) -> ValueType {
        match self.current() {
            None => ValueType::None,
            Some((_, SampleValue::Float(_))) => ValueType::Float,
            Some((_, SampleValue::Histogram(_))) => ValueType::Histogram,
            Some((_, SampleValue::FloatHistogram(_))) => ValueType::FloatHistogram,
        }
    }
}

impl<S: AsRef<[(i64, SampleValue)]> + Send> SampleIterator for ValueSliceIterator<S> {
    fn next(&mut self) -> ValueType {
        let len = self.samples.as_ref().len();
        if self.started {
            self.pos = (self.pos + 1).min(len);
        }
        self.started = true;
        self.state()
    }

    fn seek(&mut self, t: i64) -> ValueType {
        self.started = true;
        let rest = &self.samples.as_ref()[self.pos..];
        self.pos += rest.partition_point(|s| s.0 < t);
        self.state()
    }

    fn at(&self) -> (i64, f64) {
        match self.current() {
            Some((t, SampleValue::Float(v))) => (*t, *v),
            Some((t, _)) => (*t, f64::NAN),
            None => (i64::MIN, f64::NAN),
        }
    }

    fn at_histogram(&self, h: &mut Histogram) -> i64 {
        if let Some((_, SampleValue::Histogram(src))) = self.current() {
            h.clone_from(src);
        }
        self.at_t()
    }

    fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
        match self.current() {
            Some((_, SampleValue::FloatHistogram(src))) => fh.clone_from(src),
            Some((_, SampleValue::Histogram(src))) => *fh = src.to_float(),
            _ => {}
        }
        self.at_t()
    }

    fn at_t(&self) -> i64 {
        self.current().map_or(i64::MIN, |s| s.0)
    }

    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        None
    }
}

/// A series set over series in hand, yielded in the vector's order (sort
/// it by labels first when the caller asks for sorted series).
pub struct VecSeriesSet<'a> {
    series: std::vec::IntoIter<Series<'a>>,
    warnings: Vec<String>,
}

impl<'a> VecSeriesSet<'a> {
    /// Yields `series` in order.
    pub fn new(series: Vec<Series<'a>>) -> Self {
        VecSeriesSet {
            series: series.into_iter(),
            warnings: Vec::new(),
        }
    }

    /// Yields `series` sorted by labels.
    pub fn sorted(mut series: Vec<Series<'a>>) -> Self {
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        Self::new(series)
    }

    /// The same set, reporting `warnings` alongside its series.
    pub fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }

    /// Series of float samples from `(labels, samples)` pairs, sorted by
    /// labels: the whole answer of a small backend in one call.
    pub fn from_samples<S>(series: impl IntoIterator<Item = (Labels, S)>) -> Self
    where
        S: AsRef<[(i64, f64)]> + Send + 'a,
    {
        Self::sorted(
            series
                .into_iter()
                .map(|(labels, samples)| Series {
                    labels,
                    samples: Box::new(SliceIterator::new(samples)),
                })
                .collect(),
        )
    }
}

impl<'a> SeriesSet<'a> for VecSeriesSet<'a> {
    fn next(&mut self) -> Option<Result<Series<'a>>> {
        self.series.next().map(Ok)
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}

/// Samples borrowed for `'a` from a backend: `SliceIterator` over a slice
/// that lives as long as the querier.
pub type BorrowedSamples<'a> = SliceIterator<&'a [(i64, f64)]>;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `read_floats` copies exactly what the `at`/`next` loop visits.
        #[test]
        fn batches_equal_the_cursor_loop(
            ts in prop::collection::btree_set(0i64..500, 0..60),
            start in 0i64..500,
            maxt in 0i64..600,
            room in 1usize..16,
        ) {
            let samples: Vec<(i64, f64)> = ts.into_iter().map(|t| (t, t as f64 / 2.0)).collect();
            let want: Vec<(i64, f64)> =
                samples.iter().copied().filter(|s| s.0 >= start && s.0 <= maxt).collect();
            let mut it = SliceIterator::new(samples.clone());
            let mut got = Vec::new();
            let (mut bt, mut bv) = (vec![0; room], vec![0.0; room]);
            let mut vt = it.seek(start);
            while vt == ValueType::Float {
                let (n, next) = it.read_floats(&mut bt, &mut bv, maxt);
                got.extend(bt[..n].iter().copied().zip(bv[..n].iter().copied()));
                vt = next;
                if n == 0 {
                    break;
                }
            }
            prop_assert_eq!(&got, &want);
            // The default implementation agrees.
            struct Plain(SliceIterator<Vec<(i64, f64)>>);
            impl SampleIterator for Plain {
                fn next(&mut self) -> ValueType { self.0.next() }
                fn seek(&mut self, t: i64) -> ValueType { self.0.seek(t) }
                fn at(&self) -> (i64, f64) { self.0.at() }
                fn at_t(&self) -> i64 { self.0.at_t() }
                fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> { None }
            }
            let mut it = Plain(SliceIterator::new(samples));
            let mut got2 = Vec::new();
            let mut vt = it.seek(start);
            while vt == ValueType::Float {
                let (n, next) = it.read_floats(&mut bt, &mut bv, maxt);
                got2.extend(bt[..n].iter().copied().zip(bv[..n].iter().copied()));
                vt = next;
                if n == 0 {
                    break;
                }
            }
            prop_assert_eq!(&got2, &want);
        }
    }
}
