//! Reading samples out of a persisted block through its querier: the path
//! every query over old data takes (chunk lookup, decode, range and
//! tombstone filtering behind `dyn SampleIterator`).
//!
//! Run with `cargo bench --bench block_read`. The block holds 1,000 float
//! series of 2 h at 15 s (the three reference shapes of
//! `aion_chunkenc::synthetic`, 120-sample XOR chunks) and 200 integer
//! native histogram series (20 buckets, growing counters). Criterion
//! reports the time per pass over all samples and the throughput in
//! samples/s:
//!
//! * `floats/scan`: `next`/`at` over every sample;
//! * `floats/seek_1m`: a `seek` per minute of the range, as a range query
//!   with a 1 m step looks up its points;
//! * `histograms/scan`: `next`/`at_histogram` over every histogram, into
//!   one reused histogram.

use std::hint::black_box;

use aion::chunkenc::synthetic::{series, Rng, Shape, SCRAPE_INTERVAL_MS};
use aion::chunkenc::{AppendOutcome, Encoding, HistogramAppender, XorAppender};
use aion::model::histogram::{Histogram, Span};
use aion::model::Labels;
use aion::storage::{Querier, SampleIterator, ValueType};
use aion::tsdb::block::{Block, BlockMeta, BlockQuerier, BlockWriter, BlockWriterOptions, Ulid};
use aion::tsdb::chunks::SeriesChunk;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const START: i64 = 1_699_984_800_000;
const SAMPLES: usize = 480;
const FLOAT_SERIES: usize = 1_000;
const HISTOGRAM_SERIES: usize = 200;

fn float_chunks(samples: &[(i64, f64)]) -> Vec<SeriesChunk> {
    samples
        .chunks(120)
        .map(|c| {
            let mut app = XorAppender::new();
            for &(t, v) in c {
                app.append(t, v).expect("120 samples fit");
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

/// A 20-bucket counter histogram series cut into chunks as the appender
/// decides, plus at 120 samples.
fn histogram_chunks(seed: u64) -> Vec<SeriesChunk> {
    let mut rng = Rng::new(seed);
    let mut counts = [0i64; 20];
    let mut out = Vec::new();
    let mut app = HistogramAppender::new();
    let mut first = START;
    let mut last = START;
    let mut h = Histogram {
        schema: 3,
        zero_threshold: 2f64.powi(-128),
        positive_spans: vec![Span {
            offset: -5,
            length: 20,
        }],
        ..Histogram::default()
    };
    for k in 0..SAMPLES {
        let t = START + k as i64 * SCRAPE_INTERVAL_MS;
        for c in counts.iter_mut() {
            *c += rng.below(5) as i64;
        }
        h.count = counts.iter().sum::<i64>() as u64;
        h.sum += rng.unit() * 100.0;
        h.positive_buckets.clear();
        let mut prev = 0;
        for &c in &counts {
            h.positive_buckets.push(c - prev);
            prev = c;
        }
        let cut = app.num_samples() >= 120;
        if cut {
            let next = app.start_after(t, &h).expect("valid histogram");
            let done = std::mem::replace(&mut app, next);
            out.push(chunk(first, last, done.bytes()));
            first = t;
        } else if let AppendOutcome::NewChunk(next) = app.append(t, &h).expect("valid") {
            let done = std::mem::replace(&mut app, next);
            out.push(chunk(first, last, done.bytes()));
            first = t;
        }
        last = t;
    }
    out.push(chunk(first, last, app.bytes()));
    out
}

fn chunk(min_time: i64, max_time: i64, data: &[u8]) -> SeriesChunk {
    SeriesChunk {
        min_time,
        max_time,
        encoding: Encoding::Histogram,
        data: data.to_vec(),
    }
}

fn shape_of(i: usize) -> Shape {
    Shape::ALL[i % 3]
}

fn write_block(dir: &std::path::Path) -> Block {
    let mut series_list: Vec<(Labels, Vec<SeriesChunk>)> = Vec::new();
    for i in 0..FLOAT_SERIES {
        let l = Labels::from_pairs(&[
            ("__name__", "bench_float"),
            ("i", &format!("{i:05}")),
            ("shape", shape_of(i).name()),
        ])
        .expect("valid labels");
        let samples = series(shape_of(i), START, SAMPLES, i as u64);
        series_list.push((l, float_chunks(&samples)));
    }
    for i in 0..HISTOGRAM_SERIES {
        let l = Labels::from_pairs(&[("__name__", "bench_histogram"), ("i", &format!("{i:05}"))])
            .expect("valid labels");
        series_list.push((l, histogram_chunks(i as u64)));
    }
    series_list.sort_by(|a, b| a.0.cmp(&b.0));
    let mut symbols: Vec<String> = vec![String::new()];
    for (l, _) in &series_list {
        for p in l {
            symbols.push(p.name.to_string());
            symbols.push(p.value.to_string());
        }
    }
    symbols.sort();
    symbols.dedup();
    let ulid = Ulid::generate();
    let mut w = BlockWriter::create(dir, ulid, BlockWriterOptions::default()).expect("writer");
    for s in &symbols {
        w.add_symbol(s).expect("symbol");
    }
    for (l, chunks) in &series_list {
        w.add_series(l, chunks).expect("series");
    }
    let end = START + SAMPLES as i64 * SCRAPE_INTERVAL_MS + 1_000;
    w.finish(BlockMeta::new(ulid, START, end))
        .expect("finish")
        .expect("block has samples");
    Block::open(dir.join(ulid.to_string())).expect("open")
}

fn name_is(name: &str) -> aion::model::Matcher {
    aion::model::Matcher::equal("__name__", name)
}

/// Folds every float sample into a checksum.
fn scan_floats(q: &BlockQuerier<&Block>) -> u64 {
    let mut acc = 0u64;
    let mut set = q.select(true, None, &[name_is("bench_float")]);
    while let Some(s) = set.next() {
        let mut s = s.expect("series");
        while s.samples.next() == ValueType::Float {
            let (t, v) = s.samples.at();
            acc = acc.rotate_left(5) ^ t as u64 ^ v.to_bits();
        }
        assert!(s.samples.err().is_none());
    }
    acc
}

/// A seek per minute of the block's range.
fn seek_floats(q: &BlockQuerier<&Block>) -> u64 {
    let mut acc = 0u64;
    let end = START + SAMPLES as i64 * SCRAPE_INTERVAL_MS;
    let mut set = q.select(true, None, &[name_is("bench_float")]);
    while let Some(s) = set.next() {
        let mut s = s.expect("series");
        let mut t = START;
        while t < end && s.samples.seek(t) == ValueType::Float {
            acc = acc.rotate_left(5) ^ s.samples.at().1.to_bits();
            t += 60_000;
        }
    }
    acc
}

fn scan_histograms(q: &BlockQuerier<&Block>) -> u64 {
    let mut acc = 0u64;
    let mut h = Histogram::default();
    let mut set = q.select(true, None, &[name_is("bench_histogram")]);
    while let Some(s) = set.next() {
        let mut s = s.expect("series");
        while s.samples.next() == ValueType::Histogram {
            let t = s.samples.at_histogram(&mut h);
            acc = acc.rotate_left(5) ^ t as u64 ^ h.count ^ h.positive_buckets[3] as u64;
        }
        assert!(s.samples.err().is_none());
    }
    acc
}

fn block_read(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let block = write_block(dir.path());
    let q = BlockQuerier::new(&block, i64::MIN, i64::MAX);

    let mut group = c.benchmark_group("floats");
    group.throughput(Throughput::Elements((FLOAT_SERIES * SAMPLES) as u64));
    group.bench_function("scan", |b| b.iter(|| scan_floats(black_box(&q))));
    group.throughput(Throughput::Elements((FLOAT_SERIES * SAMPLES / 4) as u64));
    group.bench_function("seek_1m", |b| b.iter(|| seek_floats(black_box(&q))));
    group.finish();

    let mut group = c.benchmark_group("histograms");
    group.throughput(Throughput::Elements((HISTOGRAM_SERIES * SAMPLES) as u64));
    group.bench_function("scan", |b| b.iter(|| scan_histograms(black_box(&q))));
    group.finish();
}

criterion_group!(benches, block_read);
criterion_main!(benches);
