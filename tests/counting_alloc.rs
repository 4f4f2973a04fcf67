//! The counting allocator the benches and examples share
//! (`tests/support/counting_alloc.rs`) counts what it hands out: the bytes
//! in use follow allocation, growth, shrinking and freeing, and the peak
//! holds the high-water mark until it is reset.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

// One test only: the counters are process-wide, and another test thread
// allocating at the same time would move them.
#[test]
fn counts_bytes_in_use_and_their_peak() {
    const MB: usize = 1 << 20;
    let base = ALLOC.reset_peak();

    let mut v: Vec<u8> = Vec::with_capacity(MB);
    assert_eq!(ALLOC.in_use() - base, MB);

    v.reserve_exact(3 * MB); // realloc to 3 MiB
    assert_eq!(ALLOC.in_use() - base, 3 * MB);
    v.shrink_to(MB); // realloc down
    assert_eq!(ALLOC.in_use() - base, MB);
    assert_eq!(ALLOC.peak() - base, 3 * MB);

    let zeroed = vec![0u64; MB / 8]; // alloc_zeroed
    assert_eq!(ALLOC.in_use() - base, 2 * MB);
    drop(zeroed);
    drop(v);
    assert_eq!(ALLOC.in_use(), base);
    assert_eq!(ALLOC.peak() - base, 3 * MB);

    assert_eq!(ALLOC.reset_peak(), base);
    assert_eq!(ALLOC.peak(), base);
}
