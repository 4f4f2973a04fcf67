//! The series an appender has used, and a small pool that hands them to
//! the next appender of the same stream.
//!
//! An appender remembers the series it appended to, so that later appends
//! by reference find them without the head's shared map (whose stripe
//! lock is an atomic read-modify-write on a shared cache line, and whose
//! handle clone and drop are two more). A host that takes a new appender
//! per scrape, as Prometheus's scrape loop and `promtool tsdb bench
//! write` do, would lose that with every appender: each scrape looked
//! every series up again, and the lookups were a third of such an ingest.
//! So a dropped appender leaves its series in [`KnownPool`], and a new
//! appender whose first append by reference names a series of a pooled
//! set takes that set over: the same stream (a target's scrape lists its
//! series in the same order each time) gets its series back. A set is
//! only a cache of handles; the shared map stays the truth.
//!
//! Held series cannot be removed by head truncation, so a truncation
//! empties the pool first ([`Head::begin_truncation`](super::Head)); a
//! set started before a truncation is never pooled or reused after it
//! (its generation says so). The pool's caps bound what it keeps alive:
//! [`POOLED_SETS`] sets of at most [`POOLED_SET_SERIES`] series, at most
//! [`POOLED_SERIES`] in all (about 2 MB of handles and index).

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

use aion_index::SeriesRef;

use super::series::MixHasher;
use super::series_arc::SeriesArc;

/// Most sets the pool keeps: more concurrent streams than this evict the
/// oldest sets.
pub(crate) const POOLED_SETS: usize = 64;
/// Largest set the pool keeps; a bigger stream looks its series up again.
pub(crate) const POOLED_SET_SERIES: usize = 8192;
/// Most series the pool keeps in all its sets.
pub(crate) const POOLED_SERIES: usize = 1 << 16;

/// Series by the appender's slot number, with an index by reference.
#[derive(Default)]
pub(crate) struct KnownSeries {
    /// The series, by slot.
    pub series: Vec<SeriesArc>,
    by_ref: HashMap<SeriesRef, u32, BuildHasherDefault<MixHasher>>,
    /// The head's truncation count when the set was started: a set is
    /// good only while no truncation happened since.
    pub generation: u64,
}

impl KnownSeries {
    /// Number of series held.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether no series is held.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The slot of series `r`, if held.
    #[inline]
    pub fn slot_of(&self, r: SeriesRef) -> Option<u32> {
        self.by_ref.get(&r).copied()
    }

    /// Holds `series`; returns its slot.
    pub fn remember(&mut self, series: SeriesArc) -> u32 {
        let slot = self.series.len() as u32;
        self.by_ref.insert(series.series_ref, slot);
        self.series.push(series);
        slot
    }

    /// Estimated heap bytes: the handles and the index (hashbrown's
    /// buckets of key, slot and control byte).
    pub fn heap_bytes(&self) -> usize {
        let buckets = match self.by_ref.capacity() {
            0 => 0,
            cap => (cap * 8 / 7).next_power_of_two(),
        };
        self.series.capacity() * std::mem::size_of::<SeriesArc>()
            + buckets * (std::mem::size_of::<(SeriesRef, u32)>() + 1)
    }

    /// Lets go of every series (keeping the capacity).
    pub fn clear(&mut self) {
        self.series.clear();
        self.by_ref.clear();
    }
}

/// Sets of dropped appenders, newest last.
#[derive(Default)]
pub(crate) struct KnownPool {
    sets: VecDeque<KnownSeries>,
    /// Series held by all `sets`.
    series: usize,
}

impl KnownPool {
    /// Keeps `set` for a later appender of the same stream, if it is of
    /// truncation `generation` and within the caps; the oldest sets go
    /// when the pool is full. Returns what it did not keep, to be dropped
    /// outside the pool's lock.
    pub fn put(&mut self, set: KnownSeries, generation: u64) -> Vec<KnownSeries> {
        let mut evicted = Vec::new();
        if set.is_empty() || set.generation != generation || set.len() > POOLED_SET_SERIES {
            evicted.push(set);
            return evicted;
        }
        while self.sets.len() >= POOLED_SETS || self.series + set.len() > POOLED_SERIES {
            let Some(old) = self.sets.pop_front() else {
                break;
            };
            self.series -= old.len();
            evicted.push(old);
        }
        self.series += set.len();
        self.sets.push_back(set);
        evicted
    }

    /// Takes the newest set that holds series `r` and is of truncation
    /// `generation`.
    pub fn take_holding(&mut self, r: SeriesRef, generation: u64) -> Option<KnownSeries> {
        let at = self
            .sets
            .iter()
            .rposition(|s| s.generation == generation && s.slot_of(r).is_some())?;
        let set = self.sets.remove(at)?;
        self.series -= set.len();
        Some(set)
    }

    /// Empties the pool; returns the sets, to be dropped outside its lock.
    pub fn take_all(&mut self) -> VecDeque<KnownSeries> {
        self.series = 0;
        std::mem::take(&mut self.sets)
    }

    /// Number of series held by pooled sets.
    #[cfg(test)]
    pub fn series(&self) -> usize {
        self.series
    }

    /// Estimated heap bytes of the pooled sets.
    pub fn heap_bytes(&self) -> usize {
        self.sets.iter().map(KnownSeries::heap_bytes).sum::<usize>()
            + self.sets.capacity() * std::mem::size_of::<KnownSeries>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::series::MemSeries;
    use crate::head::symbols::SymbolTable;
    use aion_model::Labels;

    fn set(refs: std::ops::Range<u64>, generation: u64, t: &SymbolTable) -> KnownSeries {
        let mut s = KnownSeries {
            generation,
            ..KnownSeries::default()
        };
        for r in refs {
            let l = Labels::from_pairs(&[("i", r.to_string())]).unwrap();
            s.remember(SeriesArc::new(MemSeries::new(r, t.intern(&l), r, false)));
        }
        s
    }

    #[test]
    fn gives_a_stream_its_own_set_back() {
        let t = SymbolTable::new();
        let mut pool = KnownPool::default();
        assert!(pool.put(set(1..101, 3, &t), 3).is_empty());
        assert!(pool.put(set(101..201, 3, &t), 3).is_empty());
        assert_eq!(pool.series(), 200);
        let got = pool.take_holding(150, 3).unwrap();
        assert_eq!(got.slot_of(150), Some(49));
        assert_eq!(got.series[0].series_ref, 101);
        assert_eq!(pool.series(), 100);
        assert!(pool.take_holding(150, 3).is_none(), "taken, not copied");
        assert!(pool.take_holding(500, 3).is_none());
        assert!(pool.take_holding(5, 4).is_none(), "another generation");
    }

    #[test]
    fn keeps_only_current_sets_within_the_caps() {
        let t = SymbolTable::new();
        let mut pool = KnownPool::default();
        assert_eq!(pool.put(set(1..3, 2, &t), 3).len(), 1, "stale");
        assert_eq!(pool.put(KnownSeries::default(), 0).len(), 1, "empty");
        let big = set(1..POOLED_SET_SERIES as u64 + 2, 3, &t);
        assert_eq!(pool.put(big, 3).len(), 1, "too big");
        assert_eq!(pool.series(), 0);
        // More sets than the pool keeps: the oldest go.
        for i in 0..POOLED_SETS as u64 + 5 {
            pool.put(set(i * 10 + 1..i * 10 + 11, 3, &t), 3);
        }
        assert_eq!(pool.series(), POOLED_SETS * 10);
        assert!(pool.take_holding(1, 3).is_none(), "evicted");
        assert!(pool
            .take_holding((POOLED_SETS as u64 + 4) * 10 + 1, 3)
            .is_some());
        // More series than the pool keeps.
        let mut pool = KnownPool::default();
        let per = POOLED_SET_SERIES as u64;
        for i in 0..(POOLED_SERIES as u64 / per + 2) {
            pool.put(set(i * per + 1..(i + 1) * per + 1, 3, &t), 3);
            assert!(pool.series() <= POOLED_SERIES);
        }
        assert_eq!(pool.take_all().len(), POOLED_SERIES / POOLED_SET_SERIES);
        assert_eq!(pool.series(), 0);
    }
}
