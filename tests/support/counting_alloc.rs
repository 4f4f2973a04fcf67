//! A global allocator that counts the heap bytes in use and their peak, so
//! benches and examples can report exact memory figures for a data
//! structure (the kernel's resident-set figures also count mapped files and
//! freed pages the allocator keeps).
//!
//! Shared by `benches/index.rs`, `examples/bench_blocks.rs` and
//! `examples/head_bench.rs`, each including it with `#[path]` and installing
//! it:
//!
//! ```ignore
//! #[path = "../tests/support/counting_alloc.rs"]
//! mod counting_alloc;
//! use counting_alloc::CountingAlloc;
//!
//! #[global_allocator]
//! static ALLOC: CountingAlloc = CountingAlloc::new();
//!
//! let before = ALLOC.in_use();
//! let v = vec![0u8; 1 << 20];
//! assert!(ALLOC.in_use() - before >= 1 << 20);
//! ```

// Not every includer reads every figure.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting bytes in use, their high-water mark and
/// the allocations made. Counting is a few relaxed atomic operations per
/// call, so timings taken under it stay close to the plain allocator's.
pub struct CountingAlloc {
    in_use: AtomicUsize,
    peak: AtomicUsize,
    allocations: AtomicUsize,
}

impl CountingAlloc {
    /// An allocator with nothing counted yet (a `const fn`, for the
    /// `#[global_allocator]` static).
    pub const fn new() -> Self {
        CountingAlloc {
            in_use: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            allocations: AtomicUsize::new(0),
        }
    }

    /// Allocations (and reallocations) made so far: what "allocation-free"
    /// checks compare, since a freed-then-allocated buffer leaves the byte
    /// counts unchanged.
    pub fn allocations(&self) -> usize {
        self.allocations.load(Ordering::Relaxed)
    }

    /// Heap bytes allocated and not yet freed (requested sizes, without
    /// the allocator's own overhead).
    pub fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    /// The most bytes in use at any time since the start or the last
    /// [`CountingAlloc::reset_peak`].
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Restarts the high-water mark from the bytes in use now, so that
    /// `peak() - in_use_before` is what one step needed at most; returns
    /// the bytes in use.
    pub fn reset_peak(&self) -> usize {
        let now = self.in_use();
        self.peak.store(now, Ordering::Relaxed);
        now
    }

    fn grew(&self, bytes: usize) {
        self.allocations.fetch_add(1, Ordering::Relaxed);
        let now = self.in_use.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn shrank(&self, bytes: usize) {
        self.in_use.fetch_sub(bytes, Ordering::Relaxed);
    }
}

impl Default for CountingAlloc {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// and returns its answer unchanged, so `System` upholds `GlobalAlloc`'s
// contract; the counters only observe sizes and never touch the memory.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees on `layout`.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            self.grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees on `layout`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            self.grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller guarantees `ptr` came from this allocator,
        // that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        self.shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's guarantees on `ptr`, `layout` and
        // `new_size` are `System`'s.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        // On failure the old block stays allocated, unchanged.
        if !p.is_null() {
            if new_size >= layout.size() {
                self.grew(new_size - layout.size());
            } else {
                self.shrank(layout.size() - new_size);
            }
        }
        p
    }
}
