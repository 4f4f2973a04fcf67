//! The `max_samples` limit: how many samples a query may hold in memory at
//! once (window buffers, materialised intermediate vectors, aggregation
//! state and the result), and the byte limit beside it (`memory.rs`), so
//! every holder reaches both through one reference.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::error::{Error, Result};
use super::memory::MemoryBudget;

#[derive(Debug)]
pub(crate) struct SampleBudget {
    max: usize,
    current: AtomicUsize,
    peak: AtomicUsize,
    /// The query's byte budget (`max_query_bytes`).
    pub(crate) memory: MemoryBudget,
}

impl SampleBudget {
    #[cfg(test)]
    pub(crate) fn new(max: usize) -> Self {
        Self::with_bytes(max, None)
    }

    /// A sample budget with a byte budget of `max_bytes` (`None`: off).
    pub(crate) fn with_bytes(max: usize, max_bytes: Option<usize>) -> Self {
        SampleBudget {
            max,
            current: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            memory: MemoryBudget::new(max_bytes),
        }
    }

    /// Takes `n` samples; fails with Prometheus's error when the total
    /// exceeds the limit (the samples stay taken: the query is over).
    #[inline]
    pub(crate) fn take(&self, n: usize) -> Result<()> {
        let now = self.current.fetch_add(n, Ordering::Relaxed) + n;
        if now > self.peak.load(Ordering::Relaxed) {
            self.peak.fetch_max(now, Ordering::Relaxed);
        }
        if now > self.max {
            return Err(Error::TooManySamples);
        }
        Ok(())
    }

    /// Takes `n` samples if the total stays within the limit; otherwise
    /// takes nothing and says so (for optional read-ahead, which must
    /// never turn a query that fits into one that fails).
    #[inline]
    pub(crate) fn try_take(&self, n: usize) -> bool {
        let taken = self
            .current
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                c.checked_add(n).filter(|&now| now <= self.max)
            });
        match taken {
            Ok(before) => {
                self.peak.fetch_max(before + n, Ordering::Relaxed);
                true
            }
            Err(_) => false,
        }
    }

    /// Gives back `n` samples taken earlier.
    #[inline]
    pub(crate) fn give(&self, n: usize) {
        // Saturating, so an accounting slip can never turn into a spurious
        // "too many samples" error.
        let _ = self
            .current
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                Some(c.saturating_sub(n))
            });
    }

    /// The limit.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// The most samples held at once so far.
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
}
