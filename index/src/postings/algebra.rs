//! Set algebra over postings cursors: intersection, union and difference,
//! all streaming (they hold one cursor per input, never the lists).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{empty, BoxPostings, Postings, SeriesRef, VecPostings};

/// The references present in every input (`AND` of matchers).
///
/// Built by [`intersect`], which also short-circuits trivial cases.
pub struct Intersect<'a> {
    its: Vec<BoxPostings<'a>>,
    cur: Option<SeriesRef>,
    done: bool,
}

impl<'a> Intersect<'a> {
    /// Intersects `its` (at least one). Inputs are reordered shortest
    /// first so the shortest list drives the leapfrog.
    pub fn new(mut its: Vec<BoxPostings<'a>>) -> Self {
        its.sort_by_key(|p| p.len_hint().unwrap_or(usize::MAX));
        let done = its.is_empty();
        Intersect {
            its,
            cur: None,
            done,
        }
    }

    /// Seeks every input to `target` until all agree; the leapfrog join.
    fn align(&mut self, mut target: SeriesRef) -> Option<SeriesRef> {
        'outer: loop {
            for it in self.its.iter_mut() {
                match it.seek(target) {
                    None => {
                        self.done = true;
                        self.cur = None;
                        return None;
                    }
                    Some(v) if v > target => {
                        target = v;
                        continue 'outer;
                    }
                    Some(_) => {}
                }
            }
            self.cur = Some(target);
            return self.cur;
        }
    }
}

impl Postings for Intersect<'_> {
    fn next(&mut self) -> Option<SeriesRef> {
        if self.done {
            return None;
        }
        let Some(first) = self.its[0].next() else {
            self.done = true;
            self.cur = None;
            return None;
        };
        self.align(first)
    }

    fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef> {
        if self.done {
            return None;
        }
        if let Some(c) = self.cur {
            if c >= target {
                return Some(c);
            }
        }
        self.align(target)
    }

    fn len_hint(&self) -> Option<usize> {
        self.its.iter().filter_map(|p| p.len_hint()).min()
    }
}

/// The references present in any input (`OR`, e.g. the values of a
/// regex), deduplicated, via a k-way heap merge.
pub struct Merge<'a> {
    its: Vec<BoxPostings<'a>>,
    heap: BinaryHeap<Reverse<(SeriesRef, usize)>>,
    started: bool,
    cur: Option<SeriesRef>,
}

impl<'a> Merge<'a> {
    /// Unites `its`.
    pub fn new(its: Vec<BoxPostings<'a>>) -> Self {
        Merge {
            heap: BinaryHeap::with_capacity(its.len()),
            its,
            started: false,
            cur: None,
        }
    }

    /// Pops the smallest head and advances every input sitting on it.
    fn pop_min(&mut self) -> Option<SeriesRef> {
        let Some(Reverse((v, i))) = self.heap.pop() else {
            self.cur = None;
            return None;
        };
        if let Some(n) = self.its[i].next() {
            self.heap.push(Reverse((n, i)));
        }
        while let Some(&Reverse((w, j))) = self.heap.peek() {
            if w != v {
                break;
            }
            self.heap.pop();
            if let Some(n) = self.its[j].next() {
                self.heap.push(Reverse((n, j)));
            }
        }
        self.cur = Some(v);
        self.cur
    }
}

impl Postings for Merge<'_> {
    fn next(&mut self) -> Option<SeriesRef> {
        if !self.started {
            self.started = true;
            for (i, it) in self.its.iter_mut().enumerate() {
                if let Some(v) = it.next() {
                    self.heap.push(Reverse((v, i)));
                }
            }
        }
        self.pop_min()
    }

    fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef> {
        if !self.started {
            self.started = true;
            for (i, it) in self.its.iter_mut().enumerate() {
                if let Some(v) = it.seek(target) {
                    self.heap.push(Reverse((v, i)));
                }
            }
            return self.pop_min();
        }
        if let Some(c) = self.cur {
            if c >= target {
                return Some(c);
            }
        }
        while let Some(&Reverse((v, i))) = self.heap.peek() {
            if v >= target {
                break;
            }
            self.heap.pop();
            if let Some(n) = self.its[i].seek(target) {
                self.heap.push(Reverse((n, i)));
            }
        }
        self.pop_min()
    }

    fn len_hint(&self) -> Option<usize> {
        self.its
            .iter()
            .try_fold(0usize, |acc, p| Some(acc.saturating_add(p.len_hint()?)))
    }
}

/// The references of `full` that are not in `drop` (`!=`, `!~`, and
/// matchers that match the empty string).
pub struct Without<'a> {
    full: BoxPostings<'a>,
    drop: BoxPostings<'a>,
}

impl<'a> Without<'a> {
    /// `full` minus `drop`.
    pub fn new(full: BoxPostings<'a>, drop: BoxPostings<'a>) -> Self {
        Without { full, drop }
    }

    fn skip_dropped(&mut self, mut v: SeriesRef) -> Option<SeriesRef> {
        loop {
            if self.drop.seek(v) != Some(v) {
                return Some(v);
            }
            v = self.full.next()?;
        }
    }
}

impl Postings for Without<'_> {
    fn next(&mut self) -> Option<SeriesRef> {
        let v = self.full.next()?;
        self.skip_dropped(v)
    }

    fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef> {
        // `full` only ever rests on references that survived, so its
        // current position is ours.
        let v = self.full.seek(target)?;
        self.skip_dropped(v)
    }

    fn len_hint(&self) -> Option<usize> {
        self.full.len_hint()
    }
}

/// Intersection of `its`; empty when `its` is empty or any input is
/// known to be empty.
pub fn intersect<'a>(mut its: Vec<BoxPostings<'a>>) -> BoxPostings<'a> {
    if its.is_empty() || its.iter().any(|p| p.is_known_empty()) {
        return empty();
    }
    if its.len() == 1 {
        return its.pop().unwrap_or_else(empty);
    }
    Box::new(Intersect::new(its))
}

/// From how many inputs on [`merge`] materialises the union instead of
/// streaming it through a heap: a heap costs `log2(k)` comparisons per
/// reference, the materialised union a few word operations. See
/// `BENCHMARKS.md` ("Index") for the measurements.
pub const MATERIALIZE_MERGE_MIN_INPUTS: usize = 8;

/// Union of `its`.
///
/// Up to [`MATERIALIZE_MERGE_MIN_INPUTS`] inputs stream through a k-way
/// heap merge. Beyond, the references are drained and united in a bitset
/// over their range when that range is dense enough (memory never above
/// 8 bytes per reference), else in a sorted vector.
pub fn merge<'a>(mut its: Vec<BoxPostings<'a>>) -> BoxPostings<'a> {
    its.retain(|p| !p.is_known_empty());
    match its.len() {
        0 => empty(),
        1 => its.pop().unwrap_or_else(empty),
        n if n < MATERIALIZE_MERGE_MIN_INPUTS => Box::new(Merge::new(its)),
        _ => union_materialized(its),
    }
}

/// Drains `its` and returns a cursor over their union.
fn union_materialized<'a>(its: Vec<BoxPostings<'a>>) -> BoxPostings<'a> {
    let hint = its.iter().filter_map(|p| p.len_hint()).sum::<usize>();
    let mut all: Vec<SeriesRef> = Vec::with_capacity(hint.min(1 << 24));
    for mut it in its {
        while let Some(r) = it.next() {
            all.push(r);
        }
    }
    let (Some(&min), Some(&max)) = (all.iter().min(), all.iter().max()) else {
        return empty();
    };
    // A bitset costs span/8 bytes; use it while that is at most what the
    // vector of references already costs (which also keeps `span + 1`
    // from overflowing).
    let span = max - min;
    if span / 64 < all.len() as u64 {
        return Box::new(BitsetPostings::new(min, span + 1, &all));
    }
    all.sort_unstable();
    all.dedup();
    Box::new(VecPostings::new(all))
}

/// Postings over a plain bitset of references `base..base + 64·words`.
struct BitsetPostings {
    base: SeriesRef,
    words: Vec<u64>,
    /// Index of the word holding the current reference.
    word: usize,
    /// Bits of `words[word]` not yet returned.
    pending: u64,
    cur: Option<SeriesRef>,
    started: bool,
}

impl BitsetPostings {
    fn new(base: SeriesRef, range: u64, refs: &[SeriesRef]) -> Self {
        let mut words = vec![0u64; range.div_ceil(64) as usize];
        for &r in refs {
            let off = r - base;
            words[(off / 64) as usize] |= 1 << (off % 64);
        }
        BitsetPostings {
            base,
            words,
            word: 0,
            pending: 0,
            cur: None,
            started: false,
        }
    }

    /// Moves to the lowest set bit at or after word `self.word` with
    /// `self.pending` holding the current word's remaining bits.
    fn advance(&mut self) -> Option<SeriesRef> {
        loop {
            if self.pending != 0 {
                let bit = self.pending.trailing_zeros() as u64;
                self.pending &= self.pending - 1;
                self.cur = Some(self.base + self.word as u64 * 64 + bit);
                return self.cur;
            }
            self.word += 1;
            if self.word >= self.words.len() {
                self.word = self.words.len();
                self.cur = None;
                return None;
            }
            self.pending = self.words[self.word];
        }
    }
}

impl Postings for BitsetPostings {
    fn next(&mut self) -> Option<SeriesRef> {
        if !self.started {
            self.started = true;
            self.pending = self.words.first().copied().unwrap_or(0);
            if self.words.is_empty() {
                return None;
            }
        } else if self.cur.is_none() {
            return None;
        }
        self.advance()
    }

    fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef> {
        if let Some(c) = self.cur {
            if c >= target {
                return Some(c);
            }
        } else if self.started {
            return None;
        }
        self.started = true;
        let off = target.saturating_sub(self.base);
        let w = off / 64;
        if w >= self.words.len() as u64 {
            self.word = self.words.len();
            self.cur = None;
            return None;
        }
        self.word = w as usize;
        self.pending = self.words[self.word] & (u64::MAX << (off % 64));
        self.advance()
    }

    fn len_hint(&self) -> Option<usize> {
        let rest: u64 = self
            .words
            .get(self.word + 1..)
            .map_or(0, |w| w.iter().map(|w| w.count_ones() as u64).sum());
        Some((rest + self.pending.count_ones() as u64) as usize + usize::from(self.cur.is_some()))
    }
}

/// `full` without the references in `drop`.
pub fn without<'a>(full: BoxPostings<'a>, drop: BoxPostings<'a>) -> BoxPostings<'a> {
    if full.is_known_empty() {
        return empty();
    }
    if drop.is_known_empty() {
        return full;
    }
    Box::new(Without::new(full, drop))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn boxed(v: &BTreeSet<u64>) -> BoxPostings<'static> {
        Box::new(VecPostings::new(v.iter().copied().collect()))
    }

    fn sets() -> impl Strategy<Value = Vec<BTreeSet<u64>>> {
        // Enough inputs to take the materialised union path, with dense
        // (bitset) and sparse (sorted vector) ranges.
        let refs = prop_oneof![
            8 => 0u64..200,
            1 => (1u64 << 32)..(1u64 << 32) + 3,
            1 => (u64::MAX - 2)..=u64::MAX,
        ];
        prop::collection::vec(prop::collection::btree_set(refs, 0..60), 0..12)
    }

    /// Walks `p` mixing `next` and `seek` as directed by `ops`, and checks
    /// each answer against the expected sorted set.
    fn check_walk(mut p: BoxPostings<'_>, want: &BTreeSet<u64>, ops: &[(bool, u64)]) {
        let mut cur: Option<u64> = None;
        let mut exhausted = false;
        for &(is_seek, t) in ops {
            let expected = if exhausted {
                None
            } else if is_seek {
                match cur {
                    Some(c) if c >= t => Some(c),
                    _ => want.range(t..).next().copied(),
                }
            } else {
                match cur {
                    None => want.iter().next().copied(),
                    Some(c) => want
                        .range((std::ops::Bound::Excluded(c), std::ops::Bound::Unbounded))
                        .next()
                        .copied(),
                }
            };
            let got = if is_seek { p.seek(t) } else { p.next() };
            assert_eq!(got, expected, "op seek={is_seek} t={t} cur={cur:?}");
            if got.is_none() {
                exhausted = true;
            }
            cur = got;
        }
    }

    proptest! {
        #[test]
        fn algebra_matches_sets(inputs in sets(), ops in prop::collection::vec((any::<bool>(), 0u64..220), 0..80)) {
            let inter: BTreeSet<u64> = match inputs.split_first() {
                None => BTreeSet::new(),
                Some((f, rest)) => f.iter().copied().filter(|x| rest.iter().all(|s| s.contains(x))).collect(),
            };
            let union: BTreeSet<u64> = inputs.iter().flatten().copied().collect();
            check_walk(intersect(inputs.iter().map(boxed).collect()), &inter, &ops);
            check_walk(merge(inputs.iter().map(boxed).collect()), &union, &ops);
            if inputs.len() >= 2 {
                let diff: BTreeSet<u64> = inputs[0].difference(&inputs[1]).copied().collect();
                check_walk(without(boxed(&inputs[0]), boxed(&inputs[1])), &diff, &ops);
                // Nested: (a ∪ b) \ (c ∩ d)
                let cd: BTreeSet<u64> = if inputs.len() >= 4 { inputs[2].intersection(&inputs[3]).copied().collect() } else { BTreeSet::new() };
                let ab: BTreeSet<u64> = inputs[0].union(&inputs[1]).copied().collect();
                let want: BTreeSet<u64> = ab.difference(&cd).copied().collect();
                let drop = if inputs.len() >= 4 { intersect(vec![boxed(&inputs[2]), boxed(&inputs[3])]) } else { empty() };
                check_walk(without(merge(vec![boxed(&inputs[0]), boxed(&inputs[1])]), drop), &want, &ops);
            }
        }
    }
}
