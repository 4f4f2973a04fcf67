//! WAL write and replay throughput.
//!
//! Run with `cargo bench --bench wal`. The workload is a head appending
//! scrapes: each record is one commit of 1000 float samples (one per series
//! of a 10,000-series target set, ~12.5 KB uncompressed), logged one record
//! per `log` call as Prometheus's appender does.
//!
//! * `wal_write/*` — time to log 400 records (400,000 samples) into a fresh
//!   log on the temp file system; throughput in bytes of uncompressed
//!   records. Divide by the record size printed first for records/s.
//!   `fsync_per_batch` calls `fdatasync` after every record.
//! * `wal_replay/*` — replaying a log of 10,000 records = 10,000,000
//!   samples, built once per run: reading, checking, decompressing and
//!   decoding every record; throughput in samples.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use aion::wal::record::{self, Record, RecordDecoder, RefSample};
use aion::wal::{Compression, SyncPolicy, Wal, WalOptions, WalReader};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const SERIES: u64 = 10_000;
const SAMPLES_PER_RECORD: u64 = 1000;
const WRITE_RECORDS: u64 = 400;

/// Records of the replayed log. `cargo bench` passes `--bench`; under
/// `cargo test --all-targets` each bench runs once as a smoke test, and a
/// 100-record log keeps that quick.
fn replay_records() -> u64 {
    if std::env::args().any(|a| a == "--bench") {
        10_000
    } else {
        100
    }
}

/// Record `i`: samples of 1000 consecutive series at one scrape time, with
/// counter-like values.
fn samples_record(i: u64, buf: &mut Vec<u8>) {
    let first = (i * SAMPLES_PER_RECORD) % SERIES;
    let scrape = (i * SAMPLES_PER_RECORD) / SERIES;
    let t = 1_700_000_000_000 + scrape as i64 * 15_000;
    let samples: Vec<RefSample> = (0..SAMPLES_PER_RECORD)
        .map(|k| {
            let r#ref = first + k + 1;
            RefSample {
                r#ref,
                t: t + (r#ref % 7) as i64,
                v: (scrape * (r#ref % 100 + 1)) as f64 + (r#ref % 3) as f64 * 0.25,
            }
        })
        .collect();
    buf.clear();
    record::encode_samples(&samples, buf);
}

fn records(n: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut b = Vec::new();
            samples_record(i, &mut b);
            b
        })
        .collect()
}

fn write_log(dir: &Path, options: WalOptions, recs: &[Vec<u8>]) -> Duration {
    let (mut wal, _) = Wal::open(dir, options).unwrap();
    let start = Instant::now();
    for r in recs {
        wal.log(&[r]).unwrap();
    }
    let elapsed = start.elapsed();
    wal.close().unwrap();
    elapsed
}

fn write(c: &mut Criterion) {
    let recs = records(WRITE_RECORDS);
    let bytes: usize = recs.iter().map(Vec::len).sum();
    println!(
        "wal_write: {} records of {} samples, {:.1} bytes/record",
        recs.len(),
        SAMPLES_PER_RECORD,
        bytes as f64 / recs.len() as f64
    );
    let mut group = c.benchmark_group("wal_write");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(20);
    let cases = [
        ("uncompressed", Compression::None, SyncPolicy::OnRotate),
        ("snappy", Compression::Snappy, SyncPolicy::OnRotate),
        ("fsync_per_batch", Compression::None, SyncPolicy::EveryLog),
        (
            "snappy_fsync_per_batch",
            Compression::Snappy,
            SyncPolicy::EveryLog,
        ),
    ];
    for (name, compression, sync) in cases {
        let options = WalOptions {
            compression,
            sync,
            ..WalOptions::default()
        };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let dir = tempfile::tempdir().unwrap();
                    total += write_log(dir.path(), options, &recs);
                }
                total
            })
        });
    }
    group.finish();
}

fn replay_all(dir: &Path) -> u64 {
    let mut reader = WalReader::replay(dir).unwrap();
    let mut decoder = RecordDecoder::default();
    let mut n = 0u64;
    let mut checksum = 0u64;
    while let Some(rec) = reader.next_record().unwrap() {
        if let Record::Samples(s) = decoder.decode(rec).unwrap() {
            n += s.len() as u64;
            checksum = checksum.wrapping_add(s[s.len() - 1].t as u64);
        }
    }
    black_box(checksum);
    n
}

fn replay(c: &mut Criterion) {
    let mut group = c.benchmark_group("wal_replay");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    let replay_records = replay_records();
    let total = replay_records * SAMPLES_PER_RECORD;
    group.throughput(Throughput::Elements(total));
    for (name, compression) in [
        ("uncompressed", Compression::None),
        ("snappy", Compression::Snappy),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let options = WalOptions {
            compression,
            ..WalOptions::default()
        };
        let (mut wal, _) = Wal::open(dir.path(), options).unwrap();
        let mut buf = Vec::new();
        for i in 0..replay_records {
            samples_record(i, &mut buf);
            wal.log(&[&buf]).unwrap();
        }
        wal.close().unwrap();
        let size: u64 = aion::wal::list_segments(dir.path())
            .unwrap()
            .iter()
            .map(|s| s.size)
            .sum();
        println!(
            "wal_replay/{name}: {total} samples in {:.1} MB of segments",
            size as f64 / 1e6
        );
        assert_eq!(replay_all(dir.path()), total);
        group.bench_function(name, |b| b.iter(|| replay_all(dir.path())));
    }
    group.finish();
}

/// Encoding one commit's samples record (1000 samples of consecutive
/// series at one scrape): on every commit's path, before the WAL lock.
fn encode(c: &mut Criterion) {
    let samples: Vec<RefSample> = (0..SAMPLES_PER_RECORD)
        .map(|k| RefSample {
            r#ref: k + 1,
            t: 1_700_000_000_000 + (k % 7) as i64,
            v: (k * 1000) as f64,
        })
        .collect();
    let mut buf = Vec::new();
    let mut group = c.benchmark_group("wal_record");
    group.throughput(Throughput::Elements(SAMPLES_PER_RECORD));
    group.bench_function("encode_samples_1000", |b| {
        b.iter(|| {
            buf.clear();
            record::encode_samples(std::hint::black_box(&samples), &mut buf);
            buf.len()
        })
    });
    group.finish();
}

criterion_group!(benches, write, replay, encode);
criterion_main!(benches);
