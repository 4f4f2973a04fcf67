//! Latency of heavy PromQL range queries (6 h at a 30 s step) over a
//! synthetic in-memory dataset: counters, gauges and classic histograms
//! scraped every 15 s. The dataset size is set by `AION_BENCH_SERIES`
//! (series per metric family, default 1000). Each query runs in
//! parallel, sequentially, and sequentially with the byte limit on.

use std::hint::black_box;

use aion::model::Labels;
use aion::promql::{Engine, EngineOptions};
use aion::storage::MemStorage;
use criterion::{criterion_group, criterion_main, Criterion};

const HOURS: i64 = 6;
const SCRAPE: i64 = 15_000;
const STEP: i64 = 30_000;

pub const QUERIES: [(&str, &str); 5] = [
    ("sum_rate", "sum by (job) (rate(http_requests_total[5m]))"),
    (
        "histogram_quantile",
        "histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m])))",
    ),
    ("topk_max_over_time", "topk(10, max_over_time(node_memory_bytes[1h]))"),
    (
        "group_left_join",
        "sum by (job, instance) (rate(http_requests_total[5m])) * on (job, instance) group_left (version) build_info",
    ),
    ("subquery", "max_over_time(sum by (job) (rate(http_requests_total[1m]))[30m:1m])"),
];

/// A deterministic pseudo-random sequence (xorshift), so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

pub fn dataset(series: usize) -> MemStorage {
    let db = MemStorage::new();
    let samples = (HOURS * 3_600_000 / SCRAPE) as usize;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let l = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs).unwrap();
    let mut batch = Vec::new();
    for s in 0..series {
        let job = format!("job{}", s % 10);
        let inst = format!("inst{s}");
        let counter = l(&[
            ("__name__", "http_requests_total"),
            ("job", &job),
            ("instance", &inst),
        ]);
        let gauge = l(&[
            ("__name__", "node_memory_bytes"),
            ("job", &job),
            ("instance", &inst),
        ]);
        let info = l(&[
            ("__name__", "build_info"),
            ("job", &job),
            ("instance", &inst),
            ("version", &format!("v{}", s % 3)),
        ]);
        let mut c = 0.0;
        for k in 0..samples {
            let t = k as i64 * SCRAPE;
            c += (rng.next() % 100) as f64;
            batch.push((counter.clone(), t, c));
            batch.push((gauge.clone(), t, (rng.next() % 1_000_000) as f64));
            batch.push((info.clone(), t, 1.0));
        }
        db.append_batch(std::mem::take(&mut batch)).unwrap();
    }
    // Classic histograms: one tenth as many, ten buckets each.
    let bounds = [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
    ];
    for s in 0..series / 10 {
        let job = format!("job{}", s % 10);
        let inst = format!("inst{s}");
        let mut counts = [0.0f64; 10];
        let labels: Vec<Labels> = bounds
            .iter()
            .map(|le| {
                l(&[
                    ("__name__", "http_request_duration_seconds_bucket"),
                    ("job", &job),
                    ("instance", &inst),
                    ("le", le),
                ])
            })
            .collect();
        for k in 0..samples {
            let t = k as i64 * SCRAPE;
            let mut acc = 0.0;
            for (b, labels) in labels.iter().enumerate() {
                acc += (rng.next() % 10) as f64;
                counts[b] += acc;
                batch.push((labels.clone(), t, counts[b]));
            }
        }
        db.append_batch(std::mem::take(&mut batch)).unwrap();
    }
    db
}

fn bench(c: &mut Criterion) {
    // `cargo test --all-targets` runs benchmarks once as a smoke test
    // (without `--bench`): a small dataset keeps that quick.
    let measuring = std::env::args().any(|a| a == "--bench");
    let series = std::env::var("AION_BENCH_SERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if measuring { 1000 } else { 20 });
    let db = dataset(series);
    let end = HOURS * 3_600_000;
    let mut g = c.benchmark_group(format!("promql_engine_{series}_series_6h_30s"));
    g.sample_size(10);
    // The last mode counts bytes against a limit never reached: what
    // `max_query_bytes` costs when on (off is the other two).
    for (mode, parallel, max_query_bytes) in [
        ("parallel", true, None),
        ("sequential", false, None),
        ("sequential_bytes_limited", false, Some(1 << 40)),
    ] {
        let engine = Engine::new(EngineOptions {
            parallel,
            max_query_bytes,
            ..EngineOptions::default()
        });
        for (name, q) in QUERIES {
            g.bench_function(format!("{name}/{mode}"), |b| {
                b.iter(|| black_box(engine.range_query(&db, q, 0, end, STEP).unwrap()))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
