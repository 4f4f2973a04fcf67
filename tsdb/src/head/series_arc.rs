//! The shared handle of a head series.

use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicUsize, Ordering};

use super::series::MemSeries;

/// A shared [`MemSeries`], like `Arc<MemSeries>` but with one count
/// instead of two.
///
/// The head never makes weak references to a series, yet `Arc` keeps a
/// weak count in every allocation: 8 bytes a series, 8 MB a million.
/// The strong count is all the maps need (`series_map.rs` removes a
/// series only when nothing else holds it).
pub(crate) struct SeriesArc(NonNull<Shared>);

struct Shared {
    count: AtomicUsize,
    series: MemSeries,
}

// SAFETY: a handle gives shared access to a `MemSeries`, which is `Send`
// and `Sync`, and frees it on the last drop, whichever thread that is on:
// the same conditions as for `Arc<MemSeries>: Send + Sync`.
unsafe impl Send for SeriesArc {}
// SAFETY: as for `Send`.
unsafe impl Sync for SeriesArc {}

impl SeriesArc {
    pub fn new(series: MemSeries) -> SeriesArc {
        let shared = Box::new(Shared {
            count: AtomicUsize::new(1),
            series,
        });
        SeriesArc(NonNull::from(Box::leak(shared)))
    }

    #[inline]
    fn shared(&self) -> &Shared {
        // SAFETY: the allocation lives while any handle does (this one
        // counts), and is only read through handles.
        unsafe { self.0.as_ref() }
    }

    /// Whether both handles are of the same series.
    #[inline]
    pub fn ptr_eq(a: &SeriesArc, b: &SeriesArc) -> bool {
        a.0 == b.0
    }

    /// Number of handles of the series.
    #[inline]
    pub fn strong_count(this: &SeriesArc) -> usize {
        this.shared().count.load(Ordering::Acquire)
    }
}

impl Clone for SeriesArc {
    #[inline]
    fn clone(&self) -> SeriesArc {
        // Relaxed as in `Arc`: a new handle comes from an existing one,
        // which already orders access to the series.
        let before = self.shared().count.fetch_add(1, Ordering::Relaxed);
        if before > isize::MAX as usize {
            // Leaked handles by the billions; a wrap would free a live
            // series.
            std::process::abort();
        }
        SeriesArc(self.0)
    }
}

impl Drop for SeriesArc {
    #[inline]
    fn drop(&mut self) {
        if self.shared().count.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Every other handle's uses happen before the free.
        fence(Ordering::Acquire);
        // SAFETY: this was the last handle, so nothing else refers to the
        // allocation, which `new` made with `Box`.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

impl Deref for SeriesArc {
    type Target = MemSeries;

    #[inline]
    fn deref(&self) -> &MemSeries {
        &self.shared().series
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::symbols::SymbolTable;
    use aion_model::Labels;

    #[test]
    fn counts_handles_and_is_one_word_over_the_series() {
        let labels = SymbolTable::new().intern(&Labels::from_pairs(&[("a", "b")]).unwrap());
        let a = SeriesArc::new(MemSeries::new(1, labels, 7, false));
        assert_eq!(SeriesArc::strong_count(&a), 1);
        let b = a.clone();
        let c = std::thread::spawn(move || {
            assert_eq!(b.series_ref, 1);
            b.clone()
        })
        .join()
        .unwrap();
        assert!(SeriesArc::ptr_eq(&a, &c));
        assert_eq!(SeriesArc::strong_count(&a), 2);
        drop(c);
        assert_eq!(SeriesArc::strong_count(&a), 1);
        assert_eq!(
            std::mem::size_of::<Shared>(),
            std::mem::size_of::<MemSeries>() + 8
        );
    }
}
