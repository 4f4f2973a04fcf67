//! Index benchmarks on a synthetic 1M-series data set:
//! `postings_for_matchers` latency for three typical selectors (in memory
//! and on disk), index write throughput, and memory per series (printed
//! before the criterion runs, measured with a counting allocator).
//!
//! `cargo bench --bench index` (set `AION_BENCH_SERIES` for another size).

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use aion::index::disk::{IndexFileReader, IndexFileWriter, WriterOptions};
use aion::index::postings::{MemPostings, Postings};
use aion::index::{postings_for_matchers, ChunkMeta, MemIndex};
use aion::model::{Labels, MatchType, Matcher};
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};

#[path = "../tests/support/counting_alloc.rs"]
mod counting_alloc;

/// Counts live and peak heap bytes so the bench can report memory.
#[global_allocator]
static ALLOC: counting_alloc::CountingAlloc = counting_alloc::CountingAlloc::new();

fn live() -> usize {
    ALLOC.in_use()
}

const JOBS: [&str; 10] = [
    "api", "db", "web", "cache", "queue", "auth", "search", "billing", "mail", "cron",
];
const CODES: [&str; 5] = ["200", "404", "500", "502", "503"];
const MODES: [&str; 5] = ["idle", "user", "system", "iowait", "steal"];
const REGIONS: [&str; 5] = ["eu-west", "eu-central", "us-east", "us-west", "ap-south"];

/// Series `i` of the synthetic set: 100 metrics (1 `http_requests_total`,
/// 49 `node_*`, 50 `app_*`) × 2000 instances × 5 variants, 6 labels each.
fn series(i: usize) -> Labels {
    let m = i / 10_000 % 100;
    let inst = i / 5 % 2000;
    let v = i % 5;
    let name = match m {
        0 => "http_requests_total".to_string(),
        1..=49 => format!("node_metric_{m}"),
        _ => format!("app_metric_{m}"),
    };
    let instance = format!("10.{}.{}.{}:9100", inst / 1000, inst / 100 % 10, inst % 100);
    let (vname, vval) = if m == 0 {
        ("code", CODES[v])
    } else {
        ("mode", MODES[v])
    };
    Labels::from_pairs(&[
        ("__name__", name.as_str()),
        ("instance", instance.as_str()),
        ("job", JOBS[inst % 10]),
        (vname, vval),
        ("env", if inst % 2 == 0 { "prod" } else { "staging" }),
        ("region", REGIONS[inst % 5]),
    ])
    .unwrap()
}

fn n_series() -> usize {
    // `cargo test --all-targets` runs benches without `--bench`: criterion
    // then runs each benchmark once, and a small set keeps that quick.
    if !std::env::args().any(|a| a == "--bench") {
        return 10_000;
    }
    std::env::var("AION_BENCH_SERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

fn selectors() -> Vec<(&'static str, Vec<Matcher>)> {
    let m = |k, n: &str, v: &str| Matcher::new(k, n, v).unwrap();
    vec![
        (
            r#"{__name__="http_requests_total",job="api"}"#,
            vec![
                m(MatchType::Equal, "__name__", "http_requests_total"),
                m(MatchType::Equal, "job", "api"),
            ],
        ),
        (
            r#"{job="api",code=~"5.."}"#,
            vec![
                m(MatchType::Equal, "job", "api"),
                m(MatchType::Regex, "code", "5.."),
            ],
        ),
        (
            r#"{__name__=~"node_.*",instance!="x"}"#,
            vec![
                m(MatchType::Regex, "__name__", "node_.*"),
                m(MatchType::NotEqual, "instance", "x"),
            ],
        ),
    ]
}

/// The sorted symbols of `series`.
fn symbols_of(series: &[Labels]) -> BTreeSet<&str> {
    let mut symbols = BTreeSet::new();
    for l in series {
        for l in l {
            symbols.insert(l.name);
            symbols.insert(l.value);
        }
    }
    symbols
}

/// Writes the data set as an index (series must come sorted).
fn write_index(
    path: &std::path::Path,
    sorted: &[Labels],
    symbols: &BTreeSet<&str>,
    options: WriterOptions,
) -> u64 {
    let mut w = IndexFileWriter::create(path, options).unwrap();
    for s in symbols {
        w.add_symbol(s).unwrap();
    }
    for (i, l) in sorted.iter().enumerate() {
        let r = i as u64 * 1000;
        let chunks = [
            ChunkMeta::new(0, 7_199_000, r),
            ChunkMeta::new(7_200_000, 14_399_000, r + 500),
        ];
        w.add_series(l, &chunks).unwrap();
    }
    w.finish().unwrap().bytes
}

/// Memory figures, printed once; see BENCHMARKS.md.
fn memory_report(all: &[Labels]) {
    let n = all.len();
    let per = |bytes: usize| bytes as f64 / n as f64;
    eprintln!("== index memory, {n} series ==");

    // Label sets alone, three layouts.
    let base = live();
    let ours: Vec<Labels> = all.iter().map(|l| l.builder().build().unwrap()).collect();
    let labels_ours = live() - base - ours.capacity() * std::mem::size_of::<Labels>();
    eprintln!(
        "labels, one Arc<[u8]> per set:        {:6.1} B/series heap + {} B handle",
        per(labels_ours),
        std::mem::size_of::<Labels>()
    );
    drop(ours);
    let base = live();
    let naive: Vec<Vec<(String, String)>> = all
        .iter()
        .map(|l| {
            l.iter()
                .map(|l| (l.name.to_string(), l.value.to_string()))
                .collect()
        })
        .collect();
    let labels_naive = live() - base - naive.capacity() * 24;
    eprintln!(
        "labels, Vec<(String, String)>:        {:6.1} B/series heap + 24 B handle",
        per(labels_naive)
    );
    drop(naive);
    let base = live();
    let mut table: HashMap<String, u32> = HashMap::new();
    let interned: Vec<std::sync::Arc<[u32]>> = all
        .iter()
        .map(|l| {
            l.iter()
                .flat_map(|l| [l.name, l.value])
                .map(|s| {
                    let next = table.len() as u32;
                    *table.entry(s.to_string()).or_insert(next)
                })
                .collect()
        })
        .collect();
    let interned_bytes = live() - base - interned.capacity() * 16;
    eprintln!(
        "labels, interned Arc<[u32]> + table:  {:6.1} B/series heap + 16 B handle ({} symbols)",
        per(interned_bytes),
        table.len()
    );
    drop(interned);
    drop(table);

    // Postings alone, three list layouts. References are given in the
    // order a head creates series: target by target (instance-major), not
    // in label order, which would flatter compressed layouts.
    let mut head_order: Vec<&Labels> = all.iter().collect();
    head_order.sort_by(|a, b| a.get("instance").cmp(&b.get("instance")).then(a.cmp(b)));
    let base = live();
    let p = MemPostings::new();
    for (i, l) in head_order.iter().enumerate() {
        p.add(i as u64, l);
    }
    let postings_ours = live() - base;
    eprintln!(
        "postings, MemPostings (hybrid lists):  {:6.1} B/series  (estimate {:.1}, {} pairs)",
        per(postings_ours),
        per(p.heap_bytes()),
        p.num_pairs()
    );
    let mut pairs: Vec<(String, String)> = Vec::new();
    for name in p.label_names().into_iter().chain([String::new()]) {
        for v in p.label_values(&name) {
            pairs.push((name.clone(), v));
        }
    }
    let refs_of = |n: &str, v: &str| p.postings(n, v).collect_refs();
    let base = live();
    let vecs: HashMap<(String, String), Vec<u64>> = pairs
        .iter()
        .map(|(n, v)| ((n.clone(), v.clone()), refs_of(n, v)))
        .collect();
    eprintln!(
        "postings, Vec<u64> lists:             {:6.1} B/series",
        per(live() - base)
    );
    drop(vecs);
    let base = live();
    let vecs: HashMap<(String, String), Vec<u32>> = pairs
        .iter()
        .map(|(n, v)| {
            let refs = refs_of(n, v).into_iter().map(|r| r as u32).collect();
            ((n.clone(), v.clone()), refs)
        })
        .collect();
    eprintln!(
        "postings, Vec<u32> lists:             {:6.1} B/series",
        per(live() - base)
    );
    drop(vecs);
    let base = live();
    let bitmaps: HashMap<(String, String), roaring::RoaringBitmap> = pairs
        .iter()
        .map(|(n, v)| {
            let b: roaring::RoaringBitmap = refs_of(n, v).into_iter().map(|r| r as u32).collect();
            ((n.clone(), v.clone()), b)
        })
        .collect();
    eprintln!(
        "postings, RoaringBitmap lists:        {:6.1} B/series",
        per(live() - base)
    );
    drop(bitmaps);
    drop(p);

    // The whole in-memory index.
    let base = live();
    let ix = MemIndex::new();
    for (i, l) in head_order.iter().enumerate() {
        ix.insert(i as u64, (*l).clone());
    }
    eprintln!(
        "MemIndex total (series map + postings, labels shared): {:.1} B/series",
        per(live() - base)
    );
    drop(ix);

    // Writer memory: peak heap above the input while writing.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let symbols = symbols_of(all);
    let base = ALLOC.reset_peak();
    let start = Instant::now();
    let bytes = write_index(&path, all, &symbols, WriterOptions::default());
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "index write: {:.0} series/s, {} bytes on disk, peak heap above input {:.1} MiB",
        n as f64 / secs,
        bytes,
        (ALLOC.peak() - base) as f64 / (1 << 20) as f64
    );
    let base = live();
    let r = IndexFileReader::open(&path).unwrap();
    eprintln!(
        "index reader resident heap: {:.1} MiB ({:.1} B/series)",
        (live() - base) as f64 / (1 << 20) as f64,
        per(live() - base)
    );
    drop(r);
}

fn bench_select(c: &mut Criterion) {
    let n = n_series();
    let mut all: Vec<Labels> = (0..n).map(series).collect();
    all.sort();
    memory_report(&all);

    let mem = MemIndex::new();
    for (i, l) in all.iter().enumerate() {
        mem.insert(i as u64, l.clone());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    write_index(&path, &all, &symbols_of(&all), WriterOptions::default());
    let disk = IndexFileReader::open(&path).unwrap();

    let mut g = c.benchmark_group("postings_for_matchers");
    g.sample_size(20);
    for (name, ms) in selectors() {
        let count = postings_for_matchers(&mem, &ms)
            .unwrap()
            .collect_refs()
            .len();
        let disk_count = postings_for_matchers(&disk, &ms)
            .unwrap()
            .collect_refs()
            .len();
        assert_eq!(count, disk_count, "{name}");
        eprintln!("{name}: {count} series");
        g.bench_with_input(BenchmarkId::new("mem", name), &ms, |b, ms| {
            b.iter(|| {
                postings_for_matchers(&mem, ms)
                    .unwrap()
                    .collect_refs()
                    .len()
            })
        });
        g.bench_with_input(BenchmarkId::new("disk", name), &ms, |b, ms| {
            b.iter(|| {
                postings_for_matchers(&disk, ms)
                    .unwrap()
                    .collect_refs()
                    .len()
            })
        });
    }
    g.finish();

    // Write throughput on a tenth of the set, so each sample stays short.
    let part: Vec<Labels> = all.iter().step_by(10).cloned().collect();
    let part_symbols = symbols_of(&part);
    let mut g = c.benchmark_group("index_write");
    g.sample_size(10);
    g.throughput(Throughput::Elements(part.len() as u64));
    g.bench_function(BenchmarkId::new("series", part.len()), |b| {
        b.iter(|| {
            write_index(
                &dir.path().join("w"),
                &part,
                &part_symbols,
                WriterOptions::default(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench_select);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
