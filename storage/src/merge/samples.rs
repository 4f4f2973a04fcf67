//! Merging at the sample level: series of several queriers with the same
//! labels become one series whose samples are chained by timestamp.

use std::error::Error as StdError;

use aion_chunkenc::{SampleIterator, ValueType};
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
pub struct ChainIterator<'a> {
    its: Vec<Box<dyn SampleIterator + 'a>>,
    /// Whether each iterator still has a current sample.
    live: Vec<bool>,
    /// Each live iterator's current timestamp, cached: the merge compares
    /// them for every sample, and asking through `dyn` each time was a
    /// sixth of a `rate` query's time.
    heads: Vec<i64>,
    cur: Option<usize>,
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
            cur: None,
            started: false,
        }
    }

    /// Records where iterator `i` stands after a move that returned `vt`.
    #[inline]
    fn settle(&mut self, i: usize, vt: ValueType) {
        self.live[i] = vt == ValueType::Float;
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
        if self.cur.is_some() {
            ValueType::Float
        } else {
            ValueType::None
        }
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
            return self.pick();
        }
        let Some(cur) = self.cur else {
            return ValueType::None;
        };
        let t = self.heads[cur];
        for i in 0..self.its.len() {
            if self.live[i] && self.heads[i] == t {
                let vt = self.its[i].next();
                self.settle(i, vt);
            }
        }
        self.pick()
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.started {
            match self.cur {
                None => return ValueType::None,
                Some(c) if self.heads[c] >= t => return ValueType::Float,
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
        self.pick()
    }

    fn at(&self) -> (i64, f64) {
        match self.cur {
            Some(c) => self.its[c].at(),
            None => (i64::MIN, f64::NAN),
        }
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
                    if self.next() != ValueType::Float {
                        return (n, ValueType::None);
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
                }
            }
        }
        (n, ValueType::Float)
    }

    fn at_t(&self) -> i64 {
        self.at().0
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
    use super::*;
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
