//! Head benchmarks that print figures (BENCHMARKS.md, "Head"):
//!
//! ```text
//! # Heap per active series after ingesting N series × 2 h of 15 s samples
//! cargo run --release --example head_bench -- memory [--series 1000000] [--dir DIR] [--breakdown]
//! # Time to open a data directory (WAL replay), e.g. one `promtool tsdb bench write` made
//! cargo run --release --example head_bench -- replay DIR
//! ```
//!
//! `memory` counts live heap bytes with a counting global allocator, so the
//! figure is exact for this process; it also prints the anonymous and
//! file-backed resident memory from `/proc/self/status`. With `--breakdown`
//! it also prints the head's live heap by allocation size (which size is
//! which structure: the open chunk buffers, chunk-reference lists, the
//! series structs, ...), the figures a memory change is aimed at. `replay` copies
//! nothing: point it at a copy if the original must stay untouched (opening
//! starts a new WAL segment).

use std::alloc::{GlobalAlloc, Layout};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::Instant;

use aion_model::Labels;
use aion_tsdb::{Db, Options};

#[path = "../tests/support/counting_alloc.rs"]
mod counting_alloc;
#[path = "../tests/support/proc_status.rs"]
mod proc_status;

/// Counts live heap bytes, so `memory` is exact for this process.
#[global_allocator]
static ALLOC: SizedAlloc = SizedAlloc {
    counting: counting_alloc::CountingAlloc::new(),
    on: AtomicBool::new(false),
    live: [const { AtomicIsize::new(0) }; SIZE_BINS + 1],
    large_bytes: [const { AtomicIsize::new(0) }; 64],
};

/// Allocation sizes told apart by `--breakdown`, in 8-byte bins; larger
/// ones share the last bin for their count and are told apart by power of
/// two for their bytes.
const SIZE_BINS: usize = 256;

/// The counting allocator plus, once switched on, the number of live
/// allocations of each size bin (what was allocated before is not binned,
/// so frees of it may drive a bin below zero: those are not shown).
struct SizedAlloc {
    counting: counting_alloc::CountingAlloc,
    on: AtomicBool,
    live: [AtomicIsize; SIZE_BINS + 1],
    /// Live bytes of the allocations in the last bin, by `log2(size)`.
    large_bytes: [AtomicIsize; 64],
}

impl SizedAlloc {
    fn in_use(&self) -> usize {
        self.counting.in_use()
    }

    #[inline]
    fn bin(&self, size: usize, delta: isize) {
        if self.on.load(Ordering::Relaxed) {
            let bin = size.div_ceil(8).min(SIZE_BINS);
            self.live[bin].fetch_add(delta, Ordering::Relaxed);
            if bin == SIZE_BINS {
                self.large_bytes[size.ilog2() as usize]
                    .fetch_add(delta * size as isize, Ordering::Relaxed);
            }
        }
    }
}

// SAFETY: every method forwards to `CountingAlloc` (itself a forwarder to
// `System`) with the caller's arguments and returns its answer unchanged;
// the bins only observe sizes.
unsafe impl GlobalAlloc for SizedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees on `layout`.
        let p = unsafe { self.counting.alloc(layout) };
        if !p.is_null() {
            self.bin(layout.size(), 1);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees on `layout`.
        let p = unsafe { self.counting.alloc_zeroed(layout) };
        if !p.is_null() {
            self.bin(layout.size(), 1);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's guarantees on `ptr` and `layout`.
        unsafe { self.counting.dealloc(ptr, layout) };
        self.bin(layout.size(), -1);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's guarantees on `ptr`, `layout`, `new_size`.
        let p = unsafe { self.counting.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            self.bin(layout.size(), -1);
            self.bin(new_size, 1);
        }
        p
    }
}

/// Prints the live allocations made since binning started, by size bin,
/// largest share first, as bytes per series.
fn print_breakdown(n: usize) {
    let mut rows: Vec<(usize, isize)> = (0..=SIZE_BINS)
        .map(|b| (b, ALLOC.live[b].load(Ordering::Relaxed)))
        .filter(|&(_, count)| count > 0)
        .collect();
    // Bytes of a bin: its upper bound (sizes within 8 bytes of it).
    let bytes = |b: usize, count: isize| (b * 8) as f64 * count as f64;
    rows.sort_by(|a, b| bytes(b.0, b.1).total_cmp(&bytes(a.0, a.1)));
    println!("breakdown (live allocations since the head opened, by size):");
    println!("  size_bytes  live_allocations  allocs_per_series  bytes_per_series");
    for (b, count) in rows.into_iter().filter(|&(b, _)| b < SIZE_BINS).take(16) {
        println!(
            "  {:>10}  {count:>16}  {:>17.2}  {:>16.1}",
            format!("{}-{}", b * 8 - 7, b * 8),
            count as f64 / n as f64,
            bytes(b, count) / n as f64
        );
    }
    for (log, b) in ALLOC.large_bytes.iter().enumerate() {
        let b = b.load(Ordering::Relaxed);
        if b > 0 {
            println!(
                "  {:>10}  {:>16}  {:>17}  {:>16.1}",
                format!("2^{log}.."),
                "",
                "",
                b as f64 / n as f64
            );
        }
    }
}

fn status_kb(field: &str) -> u64 {
    proc_status::status_kb("self", field)
}

fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn series_labels(i: usize) -> Labels {
    let host = i / 100;
    Labels::from_pairs(&[
        ("__name__", format!("node_metric_{}", i % 100)),
        ("instance", format!("host-{host:06}.example.net:9100")),
        ("job", "node".to_string()),
        (
            "env",
            if host % 3 == 0 { "staging" } else { "prod" }.to_string(),
        ),
        ("region", format!("region-{}", host % 7)),
    ])
    .expect("valid labels")
}

fn memory(args: &[String]) {
    let n: usize =
        arg_value(args, "--series").map_or(1_000_000, |v| v.parse().expect("--series N"));
    let tmp;
    let dir = match arg_value(args, "--dir") {
        Some(d) => PathBuf::from(d),
        None => {
            tmp = tempfile::tempdir().expect("temp dir");
            tmp.path().to_path_buf()
        }
    };
    // Everything the harness itself holds (the label sets it passes in,
    // the references it keeps) is allocated between `before_harness` and
    // `base`; the head's own heap is what grows after it.
    let before_harness = ALLOC.in_use();
    let labels: Vec<Labels> = (0..n).map(series_labels).collect();
    let labels_heap: usize = labels.iter().map(Labels::heap_bytes).sum();
    let threads = std::thread::available_parallelism().map_or(2, |p| p.get());
    let per = n.div_ceil(threads);
    let mut refs: Vec<Vec<u64>> = labels.chunks(per).map(|c| vec![0u64; c.len()]).collect();
    let base = ALLOC.in_use();
    let breakdown = args.iter().any(|a| a == "--breakdown");
    ALLOC.on.store(breakdown, Ordering::Relaxed);
    let db = Db::open(
        &dir,
        Options {
            wal_compression: false,
            ..Options::default()
        },
    )
    .expect("open");
    let start = Instant::now();
    let t0: i64 = 1_700_006_400_000; // a multiple of 2 h
    std::thread::scope(|s| {
        for (part, refs) in labels.chunks(per).zip(refs.iter_mut()) {
            let db = &db;
            s.spawn(move || {
                let mut app = db.appender();
                for step in 0..480i64 {
                    let t = t0 + step * 15_000;
                    for (i, l) in part.iter().enumerate() {
                        let v = (step * 7 + i as i64) as f64;
                        refs[i] = if step == 0 {
                            app.append(l, t, v).expect("append")
                        } else {
                            app.append_ref(refs[i], t, v).expect("append")
                        };
                        if (i + 1) % 10_000 == 0 {
                            app.commit().expect("commit");
                        }
                    }
                    app.commit().expect("commit");
                }
            });
        }
    });
    let took = start.elapsed();
    let live = ALLOC.in_use();
    println!(
        "series={n} samples={} ingest_secs={:.1}",
        n * 480,
        took.as_secs_f64()
    );
    println!(
        "head_heap_bytes={} head_heap_per_series={:.0} (counting allocator, beyond the label sets passed in: {} B/series, which the caller holds)",
        live - base,
        (live - base) as f64 / n as f64,
        labels_heap / n
    );
    if breakdown {
        // Before the caller's label sets (allocated before binning) go.
        print_breakdown(n);
    }
    // Whatever of the label sets the head keeps (shared buffers or its own
    // copies) stays allocated once the caller lets go of them.
    drop(labels);
    drop(refs);
    let live = ALLOC.in_use();
    println!(
        "head_heap_per_series_with_labels={:.0} (after the caller dropped its label sets)",
        (live - before_harness) as f64 / n as f64
    );
    let stats = db.head_stats(0);
    println!(
        "estimated_heap_per_series={:.0} chunks={} chunk_file_bytes={} rss_anon_kb={} rss_file_kb={}",
        stats.heap_bytes as f64 / n as f64,
        stats.num_chunks,
        stats.chunk_file_bytes,
        status_kb("RssAnon:"),
        status_kb("RssFile:")
    );
    db.close().expect("close");
}

fn replay(args: &[String]) {
    let dir = args.get(2).expect("usage: head_bench replay DIR");
    let start = Instant::now();
    let db = Db::open(dir, Options::default()).expect("open");
    let took = start.elapsed();
    let r = db.replay_report();
    println!(
        "open_secs={:.3} series={} samples_read={} samples_appended={} samples_skipped={} mmapped_chunks={} replay_secs={:.3} peak_rss_kb={}",
        took.as_secs_f64(),
        r.series,
        r.samples_read,
        r.samples_appended,
        r.samples_skipped,
        r.mmapped_chunks,
        r.duration.as_secs_f64(),
        status_kb("VmHWM:")
    );
    db.close().expect("close");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("memory") => memory(&args),
        Some("replay") => replay(&args),
        _ => {
            eprintln!("usage: head_bench memory [--series N] [--dir DIR] | head_bench replay DIR");
            std::process::exit(2);
        }
    }
}
