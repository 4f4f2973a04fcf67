//! XOR chunk encode and decode speed on the three reference chunk shapes.
//!
//! Run with `cargo bench --bench chunkenc`. Criterion reports the time per
//! 120-sample chunk and the throughput in samples/s; divide the time by 120
//! for ns/sample. The sizes printed first are bytes per sample of the same
//! chunks, which tests/prometheus_bytes.rs shows equal Prometheus's.

use std::hint::black_box;

use aion::chunkenc::synthetic::{self, Shape};
use aion::chunkenc::{SampleIterator, ValueType, XorChunk, XorIterator};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

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

criterion_group!(benches, xor_chunks);
criterion_main!(benches);
