//! Merging queriers: one sorted view over several sources (the head and
//! every block overlapping a query), as Prometheus's merge querier does.

use std::error::Error as StdError;

use aion_chunkenc::{SampleIterator, ValueType};
use aion_index::Matcher;

use super::label_merge::{sorted_union, LabelMerge};
use super::{Querier, SelectHints, Series, SeriesSet};
use crate::Result;

/// A querier over the union of several queriers' series. A series present
/// in several (the same labels in two overlapping blocks, or in a block and
/// the head) becomes one series whose samples are merged by timestamp; a
/// timestamp present in several sources appears once, taken from the
/// earliest source in the list.
pub struct MergeQuerier<'a> {
    queriers: Vec<Box<dyn Querier + 'a>>,
}

impl<'a> MergeQuerier<'a> {
    /// Merges `queriers`, in order of preference for duplicate timestamps.
    pub fn new(queriers: Vec<Box<dyn Querier + 'a>>) -> Self {
        MergeQuerier { queriers }
    }
}

impl Querier for MergeQuerier<'_> {
    fn select<'b>(
        &'b self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet<'b> + 'b> {
        match self.queriers.len() {
            0 => Box::new(super::EmptySeriesSet),
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

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        sorted_union(self.queriers.iter().map(|q| q.label_values(name, matchers)))
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        sorted_union(self.queriers.iter().map(|q| q.label_names(matchers)))
    }
}

/// The sorted union of sorted series sets.
pub struct MergeSeriesSet<'a> {
    merge: LabelMerge<Box<dyn SeriesSet<'a> + 'a>, Series<'a>>,
    group: Vec<(usize, Series<'a>)>,
}

impl<'a> MergeSeriesSet<'a> {
    /// Merges `sets`, each sorted by labels, in order of preference.
    pub fn new(sets: Vec<Box<dyn SeriesSet<'a> + 'a>>) -> Self {
        MergeSeriesSet {
            merge: LabelMerge::new(sets, |s| s.next()),
            group: Vec::new(),
        }
    }

    fn advance(&mut self) -> Result<Option<Series<'a>>> {
        if !self.merge.next_group(&mut self.group)? {
            return Ok(None);
        }
        if self.group.len() == 1 {
            return Ok(self.group.pop().map(|(_, s)| s));
        }
        let mut group = self.group.drain(..);
        let (_, first) = group.next().expect("a group is never empty");
        let mut iters: Vec<Box<dyn SampleIterator + 'a>> = vec![first.samples];
        iters.extend(group.map(|(_, s)| s.samples));
        Ok(Some(Series {
            labels: first.labels,
            samples: Box::new(ChainIterator::new(iters)),
        }))
    }
}

impl<'a> SeriesSet<'a> for MergeSeriesSet<'a> {
    fn next(&mut self) -> Option<Result<Series<'a>>> {
        self.advance().transpose()
    }

    fn warnings(&self) -> Vec<String> {
        self.merge
            .sources()
            .iter()
            .flat_map(|s| s.warnings())
            .collect()
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

    fn at_t(&self) -> i64 {
        self.at().0
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
