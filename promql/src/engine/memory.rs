//! The `max_query_bytes` limit: how many bytes a query may hold in memory
//! at once, charged where the engine holds data (range windows, selector
//! batches, collected vectors, aggregation state, `topk` heaps, subquery
//! points, the result) and released when it lets go, so the *peak* is what
//! is limited. The model is Mimir's query engine (its memory consumption
//! tracker and `-querier.max-estimated-memory-consumption-per-query`).
//!
//! Off (the default), nothing is computed or counted: every charge is one
//! predictable branch, and the byte estimate is never evaluated.

use std::mem::size_of;
use std::sync::atomic::{AtomicUsize, Ordering};

use aion_model::histogram::FloatHistogram;
use aion_model::Labels;

use super::error::{Error, Result};

/// What a query holds when a charge is made: named in the limit's error so
/// a user sees which part of the query needed the memory.
pub(crate) mod what {
    /// Samples buffered in range-selector windows (`rate(x[5m])`).
    pub const WINDOWS: &str = "range selector windows";
    /// Series a selector read in one parallel batch, not yet passed on.
    pub const BATCH: &str = "a batch of selected series";
    /// A whole instant vector held by an operator (`sort`, vector
    /// matching, `info`, `label_replace`) or as the query's result.
    pub const VECTOR: &str = "an evaluated vector";
    /// The points of one subquery series while its windows are evaluated.
    pub const SUBQUERY: &str = "subquery points";
    /// Per-group, per-step state of an aggregation.
    pub const GROUPS: &str = "aggregation groups";
    /// The heaps and input labels of `topk`, `bottomk`, `limitk`,
    /// `limit_ratio`.
    pub const HEAPS: &str = "topk/bottomk/limitk heaps";
    /// The per-step indexes and signatures of vector matching.
    pub const MATCHING: &str = "vector matching indexes";
    /// Buckets gathered by `histogram_quantile` and friends.
    pub const BUCKETS: &str = "histogram buckets";
    /// The label sets (and their timestamps) an operator that drops the
    /// metric name has passed on, to catch duplicates.
    pub const SEEN: &str = "label sets seen by the duplicate check";
    /// The output of an operator built before it is passed on.
    pub const OUTPUT: &str = "an operator's output series";
}

/// The bytes a query holds now and at most, against its limit.
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    /// `usize::MAX` when off.
    limit: usize,
    on: bool,
    current: AtomicUsize,
    peak: AtomicUsize,
}

impl MemoryBudget {
    /// A budget of `limit` bytes, or an inactive one.
    pub(crate) fn new(limit: Option<usize>) -> Self {
        MemoryBudget {
            limit: limit.unwrap_or(usize::MAX),
            on: limit.is_some(),
            current: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Whether bytes are counted at all.
    #[inline]
    pub(crate) fn on(&self) -> bool {
        self.on
    }

    /// Charges `bytes()` (evaluated only when the limit is on) for holding
    /// `what`; the bytes charged (0 when off), to be released later. Over
    /// the limit, nothing stays charged and the query fails.
    #[inline]
    pub(crate) fn charge(
        &self,
        what: &'static str,
        bytes: impl FnOnce() -> usize,
    ) -> Result<usize> {
        if !self.on {
            return Ok(0);
        }
        self.charge_bytes(what, bytes())
    }

    fn charge_bytes(&self, what: &'static str, n: usize) -> Result<usize> {
        let now = self
            .current
            .fetch_add(n, Ordering::Relaxed)
            .saturating_add(n);
        if now > self.limit {
            self.release(n);
            return Err(Error::QueryMemoryLimit {
                limit: self.limit,
                needed: now,
                what,
            });
        }
        self.peak.fetch_max(now, Ordering::Relaxed);
        Ok(n)
    }

    /// Gives back `n` bytes charged earlier.
    #[inline]
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        // Saturating, so an accounting slip can never turn into a spurious
        // limit error.
        let _ = self
            .current
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                Some(c.saturating_sub(n))
            });
    }

    /// The bytes held now (0 after a query that released everything).
    #[cfg(test)]
    pub(crate) fn current(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }

    /// The most bytes held at once so far.
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// A guard that accumulates charges and releases them when dropped.
    pub(crate) fn guard(&self) -> MemCharge<'_> {
        MemCharge {
            mem: self,
            bytes: 0,
        }
    }
}

/// Bytes charged for one holder, released on drop (also when the query
/// fails half way, so a failed operator leaves nothing behind).
pub(crate) struct MemCharge<'b> {
    mem: &'b MemoryBudget,
    bytes: usize,
}

impl MemCharge<'_> {
    /// Charges `bytes()` more (evaluated only when the limit is on).
    #[inline]
    pub(crate) fn add(&mut self, what: &'static str, bytes: impl FnOnce() -> usize) -> Result<()> {
        self.bytes += self.mem.charge(what, bytes)?;
        Ok(())
    }

    /// Releases `bytes()` of what this guard holds (a part handed on).
    #[inline]
    pub(crate) fn sub(&mut self, bytes: impl FnOnce() -> usize) {
        if self.mem.on() {
            let n = bytes().min(self.bytes);
            self.bytes -= n;
            self.mem.release(n);
        }
    }

    /// Charges the growth of `v`'s allocation since its capacity was
    /// `before` (what a push really allocated).
    #[inline]
    pub(crate) fn grown<T>(&mut self, what: &'static str, before: usize, v: &Vec<T>) -> Result<()> {
        if self.on() && v.capacity() > before {
            self.add(what, || (v.capacity() - before) * size_of::<T>())?;
        }
        Ok(())
    }

    /// Whether bytes are counted (callers skip building estimates if not).
    #[inline]
    pub(crate) fn on(&self) -> bool {
        self.mem.on()
    }
}

impl Drop for MemCharge<'_> {
    fn drop(&mut self) {
        self.mem.release(self.bytes);
    }
}

/// Bytes of one group of an aggregation-like operator: its key labels
/// (listed in order and in the index: two handles, one buffer; a buffer
/// shared with storage is charged anyway, an upper bound), its index
/// entry, and `state` bytes of per-step state.
#[inline]
pub(crate) fn group_bytes(key: &Labels, state: usize) -> usize {
    2 * size_of::<Labels>() + key.heap_bytes() + size_of::<usize>() + state
}

/// Bytes of one boxed native histogram: the box and its bucket vectors.
pub(crate) fn hist_bytes(h: &FloatHistogram) -> usize {
    size_of::<FloatHistogram>()
        + (h.positive_spans.capacity() + h.negative_spans.capacity())
            * size_of::<aion_model::histogram::Span>()
        + (h.positive_buckets.capacity()
            + h.negative_buckets.capacity()
            + h.custom_values.capacity())
            * size_of::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_not_sum_and_error_names_the_holder() {
        let m = MemoryBudget::new(Some(100));
        let mut a = m.guard();
        a.add(what::WINDOWS, || 60).unwrap();
        drop(a);
        let mut b = m.guard();
        b.add(what::GROUPS, || 60).unwrap();
        assert_eq!(m.peak(), 60, "released bytes do not count again");
        let err = b.add(what::GROUPS, || 50).unwrap_err();
        match err {
            Error::QueryMemoryLimit {
                limit,
                needed,
                what,
            } => {
                assert_eq!((limit, needed, what), (100, 110, what::GROUPS));
            }
            e => panic!("unexpected {e}"),
        }
        assert_eq!(m.current(), 60, "a refused charge is not kept");
        drop(b);
        assert_eq!(m.current(), 0);
    }

    #[test]
    fn off_never_evaluates_the_estimate() {
        let m = MemoryBudget::new(None);
        let mut g = m.guard();
        g.add(what::VECTOR, || unreachable!("estimated while off"))
            .unwrap();
        assert_eq!((m.current(), m.peak()), (0, 0));
    }
}
