//! XOR chunk encode and decode speed on the three reference chunk shapes,
//! and XOR2 (encoding 4, Prometheus 3.11+) against XOR on the same data.
//!
//! Run with `cargo bench --bench chunkenc` (`-- xor2` for the XOR2 group
//! alone). Criterion reports the time per 120-sample chunk and the
//! throughput in samples/s; divide the time by 120 for ns/sample. The
//! `xor` group measures wall-clock time; the `xor2` group, which measures
//! XOR and XOR2 side by side, measures the thread's CPU time
//! (`benches/support/cpu_clock.rs`), so that the ratio holds on a loaded
//! machine. The sizes printed first are bytes per sample of the same
//! chunks, which `aion-chunkenc`'s tests/prometheus_bytes.rs shows equal
//! Prometheus's for XOR (Prometheus 2.42 cannot write XOR2).

use std::hint::black_box;

use aion::chunkenc::synthetic::{self, Shape};
use aion::chunkenc::{
    SampleIterator, ValueType, Xor2Appender, Xor2Chunk, Xor2Iterator, XorChunk, XorIterator,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

#[path = "support/cpu_clock.rs"]
mod cpu_clock;
use cpu_clock::CpuClock;

fn encode(samples: &[(i64, f64)]) -> XorChunk {
    XorChunk::encode(samples.iter().copied()).expect("120 samples fit a chunk")
}

/// Folds every sample into a checksum so no decoding work can be skipped.
fn decode(bytes: &[u8]) -> u64 {
    let mut it = XorIterator::new(bytes);
    let mut acc = 0u64;
    while it.next() == ValueType::Float {
        let (t, v) = it.at();
        acc = acc.rotate_left(5) ^ t as u64 ^ v.to_bits();
    }
    assert!(it.err().is_none());
    acc
}

/// The cursor loop through `dyn SampleIterator`, as the query path sees
/// every iterator (one virtual call per sample and accessor).
fn decode_dyn(bytes: &[u8]) -> u64 {
    let mut it: Box<dyn SampleIterator + '_> = Box::new(XorIterator::new(bytes));
    let mut acc = 0u64;
    while it.next() == ValueType::Float {
        let (t, v) = it.at();
        acc = acc.rotate_left(5) ^ t as u64 ^ v.to_bits();
    }
    acc
}

/// The same checksum over batched reads (`SampleIterator::read_floats`
/// into caller arrays, as the batched query path reads), through `dyn`.
fn decode_batched(bytes: &[u8]) -> u64 {
    let mut it: Box<dyn SampleIterator + '_> = Box::new(XorIterator::new(bytes));
    let (mut ts, mut vs) = ([0i64; 256], [0f64; 256]);
    let mut acc = 0u64;
    let mut vt = it.next();
    while vt == ValueType::Float {
        let (n, next) = it.read_floats(&mut ts, &mut vs, i64::MAX);
        for (t, v) in ts[..n].iter().zip(&vs[..n]) {
            acc = acc.rotate_left(5) ^ *t as u64 ^ v.to_bits();
        }
        vt = next;
    }
    assert!(it.err().is_none());
    acc
}

fn xor_chunks(c: &mut Criterion) {
    let mut group = c.benchmark_group("xor");
    for shape in Shape::ALL {
        let samples = synthetic::reference(shape);
        let chunk = encode(&samples);
        println!(
            "xor/{}: {} samples in {} bytes = {:.3} bytes/sample",
            shape.name(),
            samples.len(),
            chunk.bytes().len(),
            chunk.bytes().len() as f64 / samples.len() as f64
        );
        group.throughput(Throughput::Elements(samples.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("encode", shape.name()),
            &samples,
            |b, samples| b.iter(|| encode(black_box(samples))),
        );
        group.bench_with_input(
            BenchmarkId::new("decode", shape.name()),
            chunk.bytes(),
            |b, bytes| b.iter(|| decode(black_box(bytes))),
        );
        assert_eq!(decode(chunk.bytes()), decode_batched(chunk.bytes()));
        group.bench_with_input(
            BenchmarkId::new("decode_dyn", shape.name()),
            chunk.bytes(),
            |b, bytes| b.iter(|| decode_dyn(black_box(bytes))),
        );
        group.bench_with_input(
            BenchmarkId::new("decode_batched", shape.name()),
            chunk.bytes(),
            |b, bytes| b.iter(|| decode_batched(black_box(bytes))),
        );
    }
    group.finish();
}

/// The samples as an XOR2 chunk, without start timestamps (what a
/// scrape writes).
fn encode_xor2(samples: &[(i64, f64)]) -> Xor2Chunk {
    let mut app = Xor2Appender::new();
    for &(t, v) in samples {
        app.append(0, t, v).expect("120 samples fit a chunk");
    }
    app.into_chunk()
}

/// [`decode`] for XOR2.
fn decode_xor2(bytes: &[u8]) -> u64 {
    let mut it = Xor2Iterator::new(bytes);
    let mut acc = 0u64;
    while it.next() == ValueType::Float {
        let (t, v) = it.at();
        acc = acc.rotate_left(5) ^ t as u64 ^ v.to_bits();
    }
    assert!(it.error().is_none());
    acc
}

fn xor2_vs_xor(c: &mut Criterion<CpuClock>) {
    println!("xor2 group clock: {}", CpuClock::new().name());
    let mut group = c.benchmark_group("xor2");
    cpu_clock::configure(&mut group);
    for shape in Shape::ALL {
        let samples = synthetic::reference(shape);
        let (xor, xor2) = (encode(&samples), encode_xor2(&samples));
        // Same samples out of both.
        assert_eq!(decode(xor.bytes()), decode_xor2(xor2.bytes()));
        let per_sample = |n: usize| n as f64 / samples.len() as f64;
        println!(
            "xor2/{}: {} bytes = {:.3} bytes/sample (xor: {} bytes = {:.3}; xor2/xor {:.3})",
            shape.name(),
            xor2.bytes().len(),
            per_sample(xor2.bytes().len()),
            xor.bytes().len(),
            per_sample(xor.bytes().len()),
            xor2.bytes().len() as f64 / xor.bytes().len() as f64
        );
        group.throughput(Throughput::Elements(samples.len() as u64));
        // XOR and XOR2 interleaved, shape by shape, on the same clock.
        group.bench_with_input(
            BenchmarkId::new("encode_xor", shape.name()),
            &samples,
            |b, samples| b.iter(|| encode(black_box(samples))),
        );
        group.bench_with_input(
            BenchmarkId::new("encode_xor2", shape.name()),
            &samples,
            |b, samples| b.iter(|| encode_xor2(black_box(samples))),
        );
        group.bench_with_input(
            BenchmarkId::new("decode_xor", shape.name()),
            xor.bytes(),
            |b, bytes| b.iter(|| decode(black_box(bytes))),
        );
        group.bench_with_input(
            BenchmarkId::new("decode_xor2", shape.name()),
            xor2.bytes(),
            |b, bytes| b.iter(|| decode_xor2(black_box(bytes))),
        );
    }
    group.finish();
}

criterion_group!(benches, xor_chunks);
criterion_group! {
    name = xor2;
    config = Criterion::default().with_measurement(CpuClock::new());
    targets = xor2_vs_xor
}
criterion_main!(benches, xor2);
