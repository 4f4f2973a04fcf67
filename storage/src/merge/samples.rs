//! Merging at the sample level: series of several queriers with the same
//! labels become one series whose samples are chained by timestamp.

use std::error::Error as StdError;

use aion_chunkenc::{SampleIterator, ValueType};
use aion_model::histogram::{CounterResetHint, FloatHistogram, Histogram};
use aion_model::Matcher;

use super::{MergeQuerier, MergeSeriesSet, MergeSet, Mergeable};
use crate::{EmptySeriesSet, Querier, Result, SelectHints, Series, SeriesSet};

impl<'a> Mergeable<'a> for Series<'a> {
    type Set = dyn SeriesSet<'a> + 'a;

    fn pull(set: &mut Box<Self::Set>) -> Option<Result<Self>> {
        set.next()
    }

    fn warnings(set: &Self::Set) -> Vec<String> {
        set.warnings()
    }

    /// One series whose samples are the group's, chained by timestamp.
    fn merge(group: &mut Vec<(usize, Self)>) -> Result<Self> {
        let mut group = group.drain(..);
        let (_, first) = group.next().expect("a group is never empty");
        let mut iters: Vec<Box<dyn SampleIterator + 'a>> = vec![first.samples];
        iters.extend(group.map(|(_, s)| s.samples));
        Ok(Series {
            labels: first.labels,
            samples: Box::new(ChainIterator::new(iters)),
        })
    }
}

impl<'a> SeriesSet<'a> for MergeSet<'a, Series<'a>> {
    fn next(&mut self) -> Option<Result<Series<'a>>> {
        self.next_merged()
    }

    fn warnings(&self) -> Vec<String> {
        self.source_warnings()
    }
}

impl<'q> Querier for MergeQuerier<'q, dyn Querier + 'q> {
    fn select<'b>(
        &'b self,
        sorted: bool,
        hints: Option<&SelectHints<'_>>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet<'b> + 'b> {
        match self.queriers.len() {
            0 => Box::new(EmptySeriesSet),
            1 => self.queriers[0].select(sorted, hints, matchers),
            // Merging needs every input sorted; the output then is too.
            _ => Box::new(MergeSeriesSet::new(
                self.queriers
                    .iter()
                    .map(|q| q.select(true, hints, matchers))
                    .collect(),
            )),
        }
    }
}

/// Merges sample iterators of one series by timestamp; a timestamp several
/// have is yielded once, from the first iterator having it.
///
/// Floats and native histograms are merged alike. As in Prometheus's
/// `chainSampleIterator`, a counter histogram whose predecessor came from
/// another iterator (or that was reached by a seek) gets the counter-reset
/// hint "unknown": its own iterator's "not a counter reset" only speaks of
/// that iterator's previous sample.
pub struct ChainIterator<'a> {
    its: Vec<Box<dyn SampleIterator + 'a>>,
    /// Whether each iterator still has a current sample.
    live: Vec<bool>,
    /// Each live iterator's current timestamp, cached: the merge compares
    /// them for every sample, and asking through `dyn` each time was a
    /// sixth of a `rate` query's time.
    heads: Vec<i64>,
    /// The kind of each live iterator's current sample.
    kinds: Vec<ValueType>,
    cur: Option<usize>,
    /// Whether the current sample follows the previous one in the same
    /// iterator.
    consecutive: bool,
    started: bool,
}

impl<'a> ChainIterator<'a> {
    /// Merges `its`, in order of preference.
    pub fn new(its: Vec<Box<dyn SampleIterator + 'a>>) -> Self {
        let n = its.len();
        ChainIterator {
            its,
            live: vec![false; n],
            heads: vec![i64::MIN; n],
            kinds: vec![ValueType::None; n],
            cur: None,
            consecutive: false,
            started: false,
        }
    }

    /// Records where iterator `i` stands after a move that returned `vt`.
    #[inline]
    fn settle(&mut self, i: usize, vt: ValueType) {
        self.live[i] = vt != ValueType::None;
        self.kinds[i] = vt;
        if self.live[i] {
            self.heads[i] = self.its[i].at_t();
        }
    }

    /// Picks the live iterator with the smallest timestamp (the first on a
    /// tie).
    fn pick(&mut self) -> ValueType {
        let mut best: Option<(usize, i64)> = None;
        for i in 0..self.its.len() {
            if self.live[i] {
                let t = self.heads[i];
                if best.is_none_or(|(_, bt)| t < bt) {
                    best = Some((i, t));
                }
            }
        }
        self.cur = best.map(|(i, _)| i);
        match self.cur {
            Some(i) => self.kinds[i],
            None => ValueType::None,
        }
    }

    /// Whether a histogram's counter-reset hint can be passed on: gauges
    /// always, counters only when the previous sample came from the same
    /// iterator by `next` and no other iterator has the current timestamp
    /// too (Prometheus's chain switches iterators on a tie).
    fn keeps_hint(&self, hint: CounterResetHint) -> bool {
        if hint == CounterResetHint::Gauge {
            return true;
        }
        let Some(c) = self.cur.filter(|_| self.consecutive) else {
            return false;
        };
        !(0..self.its.len()).any(|i| i != c && self.live[i] && self.heads[i] == self.heads[c])
    }
}

impl SampleIterator for ChainIterator<'_> {
    fn next(&mut self) -> ValueType {
        if !self.started {
            self.started = true;
            for i in 0..self.its.len() {
                let vt = self.its[i].next();
                self.settle(i, vt);
            }
            self.consecutive = false;
            return self.pick();
        }
        let Some(cur) = self.cur else {
            return ValueType::None;
        };
        let t = self.heads[cur];
        let mut others = false;
        for i in 0..self.its.len() {
            if self.live[i] && self.heads[i] == t {
                others |= i != cur;
                let vt = self.its[i].next();
                self.settle(i, vt);
            }
        }
        let vt = self.pick();
        self.consecutive = !others && self.cur == Some(cur);
        vt
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.started {
            match self.cur {
                None => return ValueType::None,
                Some(c) if self.heads[c] >= t => return self.kinds[c],
                _ => {}
            }
        } else {
            self.started = true;
            self.live.iter_mut().for_each(|l| *l = true);
        }
        for i in 0..self.its.len() {
            if self.live[i] {
                let vt = self.its[i].seek(t);
                self.settle(i, vt);
            }
        }
        // Prometheus does not find out either whether a sought sample
        // follows the previous one.
        self.consecutive = false;
        self.pick()
    }

    fn at(&self) -> (i64, f64) {
        match self.cur {
            Some(c) => self.its[c].at(),
            None => (i64::MIN, f64::NAN),
        }
    }

    fn at_histogram(&self, h: &mut Histogram) -> i64 {
        let Some(c) = self.cur else {
            return i64::MIN;
        };
        let t = self.its[c].at_histogram(h);
        if !self.keeps_hint(h.counter_reset_hint) {
            h.counter_reset_hint = CounterResetHint::Unknown;
        }
        t
    }

    fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
        let Some(c) = self.cur else {
            return i64::MIN;
        };
        let t = self.its[c].at_float_histogram(fh);
        if !self.keeps_hint(fh.counter_reset_hint) {
            fh.counter_reset_hint = CounterResetHint::Unknown;
        }
        t
    }

    /// Hands the current iterator's batch read everything below the next
    /// other iterator's head (no duplicate can lie there), so a series
    /// read from consecutive blocks is copied a chunk batch at a time; a
    /// tie takes one step of the cursor path, which resolves it.
    fn read_floats(&mut self, ts: &mut [i64], vs: &mut [f64], maxt: i64) -> (usize, ValueType) {
        let room = ts.len().min(vs.len());
        let mut n = 0;
        while n < room {
            let Some(cur) = self.cur else {
                return (n, ValueType::None);
            };
            if self.kinds[cur] != ValueType::Float {
                return (n, self.kinds[cur]);
            }
            let t = self.heads[cur];
            if t > maxt {
                return (n, ValueType::Float);
            }
            let next_other = (0..self.its.len())
                .filter(|&i| i != cur && self.live[i])
                .map(|i| self.heads[i])
                .min();
            match next_other {
                Some(other) if other <= t => {
                    (ts[n], vs[n]) = self.its[cur].at();
                    n += 1;
                    let vt = self.next();
                    if vt != ValueType::Float {
                        return (n, vt);
                    }
                }
                _ => {
                    let bound = next_other.map_or(maxt, |o| maxt.min(o - 1));
                    let (k, vt) = self.its[cur].read_floats(&mut ts[n..], &mut vs[n..], bound);
                    n += k;
                    self.settle(cur, vt);
                    if self.pick() == ValueType::None {
                        return (n, ValueType::None);
                    }
                    self.consecutive = self.cur == Some(cur);
                }
            }
        }
        (n, ValueType::Float)
    }

    fn at_t(&self) -> i64 {
        self.cur.map_or(i64::MIN, |c| self.heads[c])
    }

    /// The latest of the inputs' tail starts: the merge yields a sample
    /// at every time any input does.
    fn tail_start(&self, maxt: i64) -> i64 {
        self.its
            .iter()
            .map(|it| it.tail_start(maxt))
            .max()
            .unwrap_or(i64::MIN)
    }

    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.its.iter().find_map(|it| it.err())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::SampleValue;
    use proptest::prelude::*;

    struct VecIter {
        s: Vec<(i64, f64)>,
        i: Option<usize>,
    }

    impl SampleIterator for VecIter {
        fn next(&mut self) -> ValueType {
            let i = self.i.map_or(0, |i| i + 1);
            self.i = Some(i.min(self.s.len()));
            if i < self.s.len() {
                ValueType::Float
            } else {
                ValueType::None
            }
        }
        fn seek(&mut self, t: i64) -> ValueType {
            if let Some(i) = self.i {
                if i < self.s.len() && self.s[i].0 >= t {
                    return ValueType::Float;
                }
            }
            let start = self.i.unwrap_or(0);
            let j = start + self.s[start.min(self.s.len())..].partition_point(|x| x.0 < t);
            self.i = Some(j);
            if j < self.s.len() {
                ValueType::Float
            } else {
                ValueType::None
            }
        }
        fn at(&self) -> (i64, f64) {
            self.s[self.i.unwrap()]
        }
        fn at_t(&self) -> i64 {
            self.at().0
        }
        fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
            None
        }
    }

    fn chain(inputs: &[Vec<(i64, f64)>]) -> ChainIterator<'static> {
        ChainIterator::new(
            inputs
                .iter()
                .map(|s| {
                    Box::new(VecIter {
                        s: s.clone(),
                        i: None,
                    }) as Box<dyn SampleIterator>
                })
                .collect(),
        )
    }

    fn expected(inputs: &[Vec<(i64, f64)>]) -> Vec<(i64, f64)> {
        let mut all: Vec<(i64, usize, f64)> = inputs
            .iter()
            .enumerate()
            .flat_map(|(r, s)| s.iter().map(move |&(t, v)| (t, r, v)))
            .collect();
        all.sort_by_key(|x| (x.0, x.1));
        all.dedup_by_key(|x| x.0);
        all.into_iter().map(|(t, _, v)| (t, v)).collect()
    }

    fn series() -> impl Strategy<Value = Vec<(i64, f64)>> {
        prop::collection::btree_set(0i64..60, 0..20)
            .prop_map(|ts| ts.into_iter().map(|t| (t, (t * 7 % 11) as f64)).collect())
    }

    /// An iterator over samples of any kind, hints as given.
    fn boxed(s: Vec<(i64, SampleValue)>) -> Box<dyn SampleIterator> {
        Box::new(crate::ValueSliceIterator::new(s))
    }

    fn hist(count: u64, hint: CounterResetHint) -> SampleValue {
        SampleValue::Histogram(Arc::new(Histogram {
            count,
            counter_reset_hint: hint,
            ..Histogram::default()
        }))
    }

    #[test]
    fn histograms_are_chained_and_hints_kept_only_within_an_iterator() {
        use CounterResetHint::*;
        let a = vec![
            (1, hist(10, Unknown)),
            (2, hist(12, NotCounterReset)),
            (3, hist(14, NotCounterReset)),
            (5, hist(3, NotCounterReset)),
        ];
        let b = vec![
            (2, hist(99, NotCounterReset)),
            (4, hist(20, NotCounterReset)),
            (5, SampleValue::Float(1.0)),
            (6, SampleValue::Float(2.0)),
            (7, hist(1, Gauge)),
            (8, hist(2, Gauge)),
        ];
        let mut it = ChainIterator::new(vec![boxed(a), boxed(b)]);
        let mut got = Vec::new();
        let mut h = Histogram::default();
        loop {
            match it.next() {
                ValueType::None => break,
                ValueType::Histogram => {
                    let t = it.at_histogram(&mut h);
                    got.push((t, h.count as f64, Some(h.counter_reset_hint)));
                }
                vt => {
                    assert_eq!(vt, ValueType::Float);
                    got.push((it.at_t(), it.at().1, None));
                }
            }
        }
        assert_eq!(
            got,
            [
                (1, 10.0, Some(Unknown)),
                // b has a sample at 2 too: Prometheus's chain switches.
                (2, 12.0, Some(Unknown)),
                // The duplicate at 2 was skipped in b: a switch as well.
                (3, 14.0, Some(Unknown)),
                // From b now: its own hint cannot speak for a's sample.
                (4, 20.0, Some(Unknown)),
                // a wins the tie at 5.
                (5, 3.0, Some(Unknown)),
                (6, 2.0, None),
                (7, 1.0, Some(Gauge)),
                (8, 2.0, Some(Gauge)),
            ]
        );
        assert!(it.err().is_none());

        // Within one iterator the hints pass.
        let a = vec![(1, hist(1, Unknown)), (2, hist(2, NotCounterReset))];
        let mut it = ChainIterator::new(vec![boxed(a), boxed(vec![])]);
        assert_eq!(it.next(), ValueType::Histogram);
        assert_eq!(it.next(), ValueType::Histogram);
        it.at_histogram(&mut h);
        assert_eq!(h.counter_reset_hint, NotCounterReset);
        // A seek forgets where it came from.
        let a = vec![(1, hist(1, Unknown)), (2, hist(2, NotCounterReset))];
        let mut it = ChainIterator::new(vec![boxed(a)]);
        assert_eq!(it.seek(2), ValueType::Histogram);
        it.at_histogram(&mut h);
        assert_eq!(h.counter_reset_hint, Unknown);
        assert_eq!(it.seek(1), ValueType::Histogram, "no move backwards");
        assert_eq!(it.at_t(), 2);
    }

    #[test]
    fn batched_float_reads_stop_at_a_histogram() {
        let a = vec![
            (1, SampleValue::Float(1.0)),
            (2, SampleValue::Float(2.0)),
            (3, hist(5, CounterResetHint::Unknown)),
            (4, SampleValue::Float(4.0)),
        ];
        let b = vec![(2, SampleValue::Float(9.0))];
        let mut it = ChainIterator::new(vec![boxed(a), boxed(b)]);
        let (mut ts, mut vs) = ([0i64; 8], [0f64; 8]);
        assert_eq!(it.next(), ValueType::Float);
        let (n, vt) = it.read_floats(&mut ts, &mut vs, i64::MAX);
        assert_eq!((n, vt), (2, ValueType::Histogram));
        assert_eq!((&ts[..2], &vs[..2]), (&[1, 2][..], &[1.0, 2.0][..]));
        assert_eq!(it.at_t(), 3);
        assert_eq!(it.next(), ValueType::Float);
        assert_eq!(
            it.read_floats(&mut ts, &mut vs, i64::MAX),
            (1, ValueType::None)
        );
    }

    proptest! {
        #[test]
        fn chain_merges_and_deduplicates(
            inputs in prop::collection::vec(series(), 1..4),
            seeks in prop::collection::vec(0i64..70, 0..5),
        ) {
            let want = expected(&inputs);
            let mut it = chain(&inputs);
            let mut got = Vec::new();
            while it.next() == ValueType::Float {
                got.push(it.at());
            }
            prop_assert_eq!(&got, &want);
            // Batched reads copy the same samples, whatever the buffer.
            for room in [1usize, 3, 64] {
                let mut it = chain(&inputs);
                let (mut ts, mut vs) = (vec![0; room], vec![0.0; room]);
                let mut batched = Vec::new();
                let mut vt = it.next();
                while vt == ValueType::Float {
                    let (n, next) = it.read_floats(&mut ts, &mut vs, i64::MAX);
                    batched.extend(ts[..n].iter().copied().zip(vs[..n].iter().copied()));
                    vt = next;
                }
                prop_assert_eq!(&batched, &want);
            }
            // Seeks land where a filter says and never move back.
            let mut it = chain(&inputs);
            let mut floor = i64::MIN;
            for t in seeks {
                let target = t.max(floor);
                let exp = want.iter().find(|s| s.0 >= target);
                match it.seek(t) {
                    ValueType::Float => {
                        prop_assert_eq!(Some(&it.at()), exp);
                        floor = it.at_t();
                    }
                    _ => {
                        prop_assert!(exp.is_none());
                        break;
                    }
                }
            }
        }
    }
}
