//! Set algebra over postings cursors: intersection, union and difference,
//! all streaming (they hold one cursor per input, never the lists).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use roaring::RoaringBitmap;

use super::{empty, BitmapPostings, BoxPostings, Postings, SeriesRef, VecPostings};

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

/// From how many inputs on [`merge`] unites into a bitmap instead of
/// streaming through a heap: a heap costs `log2(k)` comparisons per
/// reference, a bitmap union a few word operations. See `BENCHMARKS.md`.
pub const BITMAP_MERGE_MIN_INPUTS: usize = 8;

/// Union of `its`.
///
/// Up to [`BITMAP_MERGE_MIN_INPUTS`] inputs stream through a k-way heap
/// merge. Beyond, the union is built as a roaring bitmap (at most about a
/// bit per reference in the covered range) and then iterated; inputs with
/// references above `u32::MAX` fall back to a sorted vector.
pub fn merge<'a>(mut its: Vec<BoxPostings<'a>>) -> BoxPostings<'a> {
    its.retain(|p| !p.is_known_empty());
    match its.len() {
        0 => empty(),
        1 => its.pop().unwrap_or_else(empty),
        n if n < BITMAP_MERGE_MIN_INPUTS => Box::new(Merge::new(its)),
        _ => union_materialized(its),
    }
}

/// Drains `its` into one bitmap (or, with 64-bit references, a sorted
/// vector) and returns a cursor over it.
fn union_materialized<'a>(its: Vec<BoxPostings<'a>>) -> BoxPostings<'a> {
    let mut acc = RoaringBitmap::new();
    let mut wide: Vec<SeriesRef> = Vec::new();
    for mut it in its {
        let mut part = RoaringBitmap::new();
        while let Some(r) = it.next() {
            match u32::try_from(r) {
                // Inputs are sorted, so this appends.
                Ok(r32) if wide.is_empty() => {
                    if part.try_push(r32).is_err() {
                        part.insert(r32);
                    }
                }
                _ => {
                    if wide.is_empty() {
                        wide.extend(acc.iter().map(SeriesRef::from));
                        wide.extend(part.iter().map(SeriesRef::from));
                        acc.clear();
                        part.clear();
                    }
                    wide.push(r);
                }
            }
        }
        acc |= part;
    }
    if wide.is_empty() {
        return Box::new(BitmapPostings::new(acc));
    }
    wide.sort_unstable();
    wide.dedup();
    Box::new(VecPostings::new(wide))
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
        // Enough inputs to take the bitmap union path, and references
        // beyond 32 bits to take its fallback.
        let refs = prop_oneof![0u64..200, (1u64 << 32)..(1u64 << 32) + 3];
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
                    Some(c) => want.range(c + 1..).next().copied(),
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
