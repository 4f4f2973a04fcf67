//! Block benchmarks: compaction time and memory, and bytes per sample on
//! disk, with figures for the same data written by Prometheus's promtool.
//!
//! ```text
//! cargo run --release --example bench_blocks -- blocks DIR [SERIES] [BLOCKS]
//! cargo run --release --example bench_blocks -- compact DIR
//! cargo run --release --example bench_blocks -- openmetrics FILE [SERIES] [HOURS]
//! cargo run --release --example bench_blocks -- size DIR
//! cargo run --release --example bench_blocks -- long DIR [SERIES] [DAYS]
//! cargo run --release --example bench_blocks -- import FILE DIR [--prometheus-2.42-chunks]
//! ```
//!
//! * `blocks` writes BLOCKS (default 3) adjacent 2 h blocks of SERIES
//!   series (default 100 000) scraped every 15 s: counters, noisy gauges and constants
//!   (`aion_chunkenc::synthetic`), labels like a node exporter fleet.
//! * `compact` compacts every block in DIR into one and prints
//!   `compaction_secs=<s> peak_rss_kb=<n> peak_heap_kb=<n> series=<n> samples=<n>`
//!   (RSS includes the input files' pages the kernel maps in; the heap
//!   figure is what the compaction allocated, counted by this program's
//!   allocator).
//! * `openmetrics` writes the same kind of data as OpenMetrics text (for
//!   `aion import openmetrics` and `promtool tsdb create-blocks-from`).
//! * `import` backfills FILE into DIR like `aion import openmetrics`;
//!   with `--prometheus-2.42-chunks`, chunks are cut as Prometheus 2.42
//!   cuts them (no 1005-byte limit), for a like-for-like size comparison
//!   with Debian's promtool.
//! * `long` writes one block of DAYS (default 30) days of SERIES
//!   (default 1 000) counters `http_requests_total` scraped every 15 s, in
//!   ten jobs: the shape of a compacted long-term block, for the
//!   downsampling benchmarks (`scripts/bench-downsample`).
//! * `size` prints `bytes=<n> samples=<n> bytes_per_sample=<x>` for the
//!   blocks in DIR (index, chunks, meta, tombstones).
//!
//! Peak RSS is the process's high-water mark (`VmHWM`), so run each mode
//! in its own process.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use aion::chunkenc::synthetic::{series, Shape};
use aion::chunkenc::{Encoding, XorAppender};
use aion::model::Labels;
use aion::tsdb::block::{Block, BlockMeta, BlockWriter, BlockWriterOptions, Ulid};
use aion::tsdb::chunks::SeriesChunk;
use aion::tsdb::compact::compact_blocks;

#[path = "../tests/support/counting_alloc.rs"]
mod counting_alloc;
#[path = "../tests/support/proc_status.rs"]
mod proc_status;

use proc_status::peak_rss_kb;

/// Counts heap bytes in use and their peak, so the figures show the
/// compaction's own memory apart from the mapped input files (which the
/// kernel counts in RSS as they are read).
#[global_allocator]
static ALLOC: counting_alloc::CountingAlloc = counting_alloc::CountingAlloc::new();

const H: i64 = 3_600_000;
/// A start aligned to 6 h, so each 2 h block is one block range and the
/// first three make up one 6 h range: Prometheus's planner only compacts
/// blocks that fill a range of the next level.
const START: i64 = 1_699_984_800_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    match (arg(0), arg(1)) {
        (Some("blocks"), Some(dir)) => {
            let n = arg(2).map_or(100_000, |s| s.parse().expect("SERIES"));
            let count = arg(3).map_or(3, |s| s.parse().expect("BLOCKS"));
            write_blocks(Path::new(dir), n, count);
        }
        (Some("compact"), Some(dir)) => compact(Path::new(dir)),
        (Some("openmetrics"), Some(file)) => {
            let n = arg(2).map_or(10_000, |s| s.parse().expect("SERIES"));
            let hours = arg(3).map_or(6, |s| s.parse().expect("HOURS"));
            write_openmetrics(Path::new(file), n, hours);
        }
        (Some("size"), Some(dir)) => size(Path::new(dir)),
        (Some("long"), Some(dir)) => {
            let n = arg(2).map_or(1_000, |s| s.parse().expect("SERIES"));
            let days = arg(3).map_or(30, |s| s.parse().expect("DAYS"));
            write_long_block(Path::new(dir), n, days);
        }
        (Some("import"), Some(file)) => {
            let dir = arg(2).expect("DIR");
            let v2 = arg(3) == Some("--prometheus-2.42-chunks");
            import(Path::new(file), Path::new(dir), v2);
        }
        _ => {
            eprintln!("usage: bench_blocks blocks DIR [SERIES] [BLOCKS] | compact DIR | openmetrics FILE [SERIES] [HOURS] | size DIR | long DIR [SERIES] [DAYS] | import FILE DIR [--prometheus-2.42-chunks]");
            std::process::exit(2);
        }
    }
}

fn shape_of(i: usize) -> Shape {
    match i % 5 {
        0..=2 => Shape::Counter,
        3 => Shape::NoisyGauge,
        _ => Shape::Constant,
    }
}

fn labels_of(i: usize) -> Labels {
    Labels::from_pairs(&[
        ("__name__", format!("node_metric_{}", i % 200).as_str()),
        ("instance", &format!("host-{:05}:9100", i / 200)),
        ("job", "node"),
        ("shape", shape_of(i).name()),
    ])
    .unwrap()
}

fn write_blocks(dir: &Path, n: usize, count: i64) {
    std::fs::create_dir_all(dir).unwrap();
    let per_block = (2 * H / aion::chunkenc::synthetic::SCRAPE_INTERVAL_MS) as usize;
    let mut labels: Vec<(Labels, usize)> = (0..n).map(|i| (labels_of(i), i)).collect();
    labels.sort();
    let symbols = symbols_of(labels.iter().map(|(l, _)| l));
    let start = Instant::now();
    for b in 0..count {
        let ulid = Ulid::generate();
        let mut w = BlockWriter::create(dir, ulid, BlockWriterOptions::default()).unwrap();
        for s in &symbols {
            w.add_symbol(s).unwrap();
        }
        let t0 = START + b * 2 * H;
        for (l, i) in &labels {
            // One continuous series per index, cut into the blocks.
            let all = series(
                shape_of(*i),
                START + 60_000,
                count as usize * per_block,
                *i as u64,
            );
            let samples: Vec<(i64, f64)> = all
                .into_iter()
                .filter(|(t, _)| (t0..t0 + 2 * H).contains(t))
                .collect();
            w.add_series(l, &xor_chunks(&samples)).unwrap();
        }
        let meta = w
            .finish(BlockMeta::new(ulid, t0, t0 + 2 * H))
            .unwrap()
            .unwrap();
        println!(
            "block {} [{}, {}) series={} samples={} chunks={}",
            meta.ulid,
            meta.min_time,
            meta.max_time,
            meta.stats.num_series,
            meta.stats.num_samples,
            meta.stats.num_chunks
        );
    }
    println!(
        "wrote {count} blocks in {:.1}s",
        start.elapsed().as_secs_f64()
    );
}

/// One block of `days` days of `n` counters: what a Thanos bucket holds
/// after its compactor merged two weeks or more of 2 h blocks.
fn write_long_block(dir: &Path, n: usize, days: i64) {
    std::fs::create_dir_all(dir).unwrap();
    let interval = aion::chunkenc::synthetic::SCRAPE_INTERVAL_MS;
    let per_series = (days * 24 * H / interval) as usize;
    let mut labels: Vec<(Labels, usize)> = (0..n)
        .map(|i| {
            let l = Labels::from_pairs(&[
                ("__name__", "http_requests_total"),
                ("instance", &format!("host-{i:05}:8080")),
                ("job", &format!("job-{}", i % 10)),
            ])
            .unwrap();
            (l, i)
        })
        .collect();
    labels.sort();
    let symbols = symbols_of(labels.iter().map(|(l, _)| l));
    let start = Instant::now();
    let ulid = Ulid::generate();
    let mut w = BlockWriter::create(dir, ulid, BlockWriterOptions::default()).unwrap();
    for s in &symbols {
        w.add_symbol(s).unwrap();
    }
    for (l, i) in &labels {
        let samples = series(Shape::Counter, START, per_series, *i as u64);
        w.add_series(l, &xor_chunks(&samples)).unwrap();
    }
    let meta = w
        .finish(BlockMeta::new(ulid, START, START + days * 24 * H))
        .unwrap()
        .unwrap();
    println!(
        "block {} [{}, {}) series={} samples={} chunks={} in {:.1}s",
        meta.ulid,
        meta.min_time,
        meta.max_time,
        meta.stats.num_series,
        meta.stats.num_samples,
        meta.stats.num_chunks,
        start.elapsed().as_secs_f64()
    );
}

/// Time-ordered samples as XOR chunks of 120 samples, as Prometheus cuts
/// them.
fn xor_chunks(samples: &[(i64, f64)]) -> Vec<SeriesChunk> {
    samples
        .chunks(120)
        .map(|c| {
            let mut app = XorAppender::new();
            for &(t, v) in c {
                app.append(t, v).unwrap();
            }
            SeriesChunk {
                min_time: c[0].0,
                max_time: c[c.len() - 1].0,
                encoding: Encoding::Xor,
                data: app.bytes().to_vec(),
            }
        })
        .collect()
}

/// Every label name and value of `labels`, and the empty string: a
/// block's symbol table.
fn symbols_of<'l>(labels: impl Iterator<Item = &'l Labels>) -> BTreeSet<String> {
    let mut symbols = BTreeSet::new();
    symbols.insert(String::new());
    for l in labels {
        for p in l {
            symbols.insert(p.name.to_string());
            symbols.insert(p.value.to_string());
        }
    }
    symbols
}

fn block_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").exists())
        .collect();
    v.sort();
    v
}

fn compact(dir: &Path) {
    let blocks: Vec<Block> = block_dirs(dir)
        .iter()
        .map(|p| Block::open(p).unwrap())
        .collect();
    let refs: Vec<&Block> = blocks.iter().collect();
    let heap_before = ALLOC.reset_peak();
    let start = Instant::now();
    let meta = compact_blocks(dir, &refs, BlockWriterOptions::default())
        .unwrap()
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "compaction_secs={secs:.2} peak_rss_kb={} peak_heap_kb={} series={} samples={}",
        peak_rss_kb(),
        (ALLOC.peak() - heap_before) / 1024,
        meta.stats.num_series,
        meta.stats.num_samples
    );
}

fn write_openmetrics(file: &Path, n: usize, hours: i64) {
    let count = (hours * H / aion::chunkenc::synthetic::SCRAPE_INTERVAL_MS) as usize;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(file).unwrap());
    let mut line = String::new();
    for i in 0..n {
        let l = labels_of(i);
        let name = l.get("__name__").unwrap().to_string();
        let rest: Vec<String> = l
            .iter()
            .filter(|p| p.name != "__name__")
            .map(|p| format!("{}=\"{}\"", p.name, p.value))
            .collect();
        let prefix = format!("{name}{{{}}}", rest.join(","));
        for (t, v) in series(shape_of(i), START + 60_000, count, i as u64) {
            line.clear();
            let _ = writeln!(line, "{prefix} {v} {}.{:03}", t / 1000, t % 1000);
            out.write_all(line.as_bytes()).unwrap();
        }
    }
    out.write_all(b"# EOF\n").unwrap();
    out.flush().unwrap();
}

fn import(file: &Path, dir: &Path, prometheus_2_42_chunks: bool) {
    let options = aion::tsdb::backfill::BackfillOptions {
        cut_large_chunks: !prometheus_2_42_chunks,
        ..Default::default()
    };
    let start = Instant::now();
    let r = aion::tsdb::backfill::import_openmetrics(file, dir, options, &mut |_| {}).unwrap();
    println!(
        "import_secs={:.2} peak_rss_kb={} samples={} blocks={}",
        start.elapsed().as_secs_f64(),
        peak_rss_kb(),
        r.samples,
        r.blocks.len()
    );
}

fn size(dir: &Path) {
    let mut bytes = 0;
    let mut samples = 0;
    for p in block_dirs(dir) {
        let b = Block::open(&p).unwrap();
        bytes += b.size();
        samples += b.meta().stats.num_samples;
    }
    println!(
        "bytes={bytes} samples={samples} bytes_per_sample={:.3}",
        bytes as f64 / samples.max(1) as f64
    );
}
