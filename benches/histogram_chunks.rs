//! Native histogram chunk encode and decode speed, integer (encoding 2)
//! and float (encoding 3), on the 20- and 160-bucket reference series of
//! `aion_chunkenc::synthetic` (120 histograms at 15 s, new buckets filling
//! in while they are encoded).
//!
//! Run with `cargo bench --bench histogram_chunks`. Criterion reports the
//! time per 120-histogram chunk and the throughput in histograms/s; divide
//! the time by 120 for ns/histogram. The time is the thread's CPU time
//! (`benches/support/cpu_clock.rs`, wall clock where Linux's schedstat is
//! missing; the first line says which), so that the figures hold on a
//! loaded machine. The sizes printed first are bytes per
//! histogram of the same data: in 120-histogram chunks (how Prometheus
//! 2.42 cuts a 15 s series; `tests/histogram_bytes_interop.rs` shows its
//! chunks equal these byte for byte) and in 10-histogram chunks
//! (Prometheus 3's minimum, where its 1 KiB size target cuts 160-bucket
//! histograms).

use std::hint::black_box;

use aion::chunkenc::synthetic::{reference_histograms, HistogramShape};
use aion::chunkenc::{
    AppendOutcome, FloatHistogramAppender, FloatHistogramIterator, HistogramAppender,
    HistogramIterator, SampleIterator, ValueType,
};
use aion::model::histogram::{FloatHistogram, Histogram};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

#[path = "support/cpu_clock.rs"]
mod cpu_clock;
use cpu_clock::CpuClock;

/// The appender operations the encode loop needs, for integer and float
/// histograms alike.
trait Appender: Sized {
    type H;
    fn new() -> Self;
    fn num_samples(&self) -> usize;
    fn append(&mut self, t: i64, h: &Self::H) -> AppendOutcome<Self>;
    fn start_after(&self, t: i64, h: &Self::H) -> Self;
    fn into_bytes(self) -> Vec<u8>;
}

macro_rules! appender {
    ($ty:ty, $h:ty) => {
        impl Appender for $ty {
            type H = $h;
            fn new() -> Self {
                <$ty>::new()
            }
            fn num_samples(&self) -> usize {
                <$ty>::num_samples(self)
            }
            fn append(&mut self, t: i64, h: &$h) -> AppendOutcome<Self> {
                <$ty>::append(self, t, h).expect("valid histogram")
            }
            fn start_after(&self, t: i64, h: &$h) -> Self {
                <$ty>::start_after(self, t, h).expect("valid histogram")
            }
            fn into_bytes(self) -> Vec<u8> {
                self.into_chunk().into_inner()
            }
        }
    };
}
appender!(HistogramAppender, Histogram);
appender!(FloatHistogramAppender, FloatHistogram);

/// Appends every histogram, cutting a chunk after `per_chunk` of them (as
/// a head cuts for time or size) or where the appender must (counter
/// reset); returns the chunks' bytes.
fn encode<A: Appender>(samples: &[(i64, A::H)], per_chunk: usize) -> Vec<Vec<u8>> {
    let mut done = Vec::new();
    let mut app = A::new();
    for (t, h) in samples {
        if app.num_samples() == per_chunk {
            let next = app.start_after(*t, h);
            done.push(std::mem::replace(&mut app, next).into_bytes());
        } else if let AppendOutcome::NewChunk(next) = app.append(*t, h) {
            done.push(std::mem::replace(&mut app, next).into_bytes());
        }
    }
    done.push(app.into_bytes());
    done
}

/// Folds every decoded histogram (time, counts, sum, buckets) into a
/// checksum so no decoding work can be skipped; `h` is reused, as a query
/// reuses its histogram between samples.
fn decode(bytes: &[u8], h: &mut Histogram) -> u64 {
    let mut it = HistogramIterator::new(bytes);
    let mut acc = 0u64;
    while it.next() == ValueType::Histogram {
        let t = it.at_histogram(h);
        acc = acc.rotate_left(5) ^ t as u64 ^ h.count ^ h.zero_count ^ h.sum.to_bits();
        for b in &h.positive_buckets {
            acc = acc.rotate_left(1) ^ *b as u64;
        }
    }
    assert!(it.error().is_none());
    acc
}

/// [`decode`] for float histograms.
fn decode_float(bytes: &[u8], h: &mut FloatHistogram) -> u64 {
    let mut it = FloatHistogramIterator::new(bytes);
    let mut acc = 0u64;
    while it.next() == ValueType::FloatHistogram {
        let t = it.at_float_histogram(h);
        acc = acc.rotate_left(5) ^ t as u64 ^ h.count.to_bits() ^ h.sum.to_bits();
        for b in &h.positive_buckets {
            acc = acc.rotate_left(1) ^ b.to_bits();
        }
    }
    assert!(it.error().is_none());
    acc
}

/// The chunks hold what was appended: time, counts and sum of every
/// histogram (bucket layouts differ where a re-encoding padded earlier
/// histograms with the buckets that appeared later).
fn assert_round_trip(samples: &[(i64, Histogram)], int_chunk: &[u8], float_chunk: &[u8]) {
    let (mut it, mut fit) = (
        HistogramIterator::new(int_chunk),
        FloatHistogramIterator::new(float_chunk),
    );
    let (mut h, mut fh) = (Histogram::default(), FloatHistogram::default());
    for (t, want) in samples {
        assert_eq!(it.next(), ValueType::Histogram);
        assert_eq!(fit.next(), ValueType::FloatHistogram);
        assert_eq!(it.at_histogram(&mut h), *t);
        assert_eq!(fit.at_float_histogram(&mut fh), *t);
        let got = (h.count, h.zero_count, h.sum.to_bits());
        assert_eq!(got, (want.count, want.zero_count, want.sum.to_bits()));
        assert_eq!(fh.count, want.count as f64);
    }
    assert_eq!(it.next(), ValueType::None);
    assert_eq!(fit.next(), ValueType::None);
}

fn bytes_per_histogram(chunks: &[Vec<u8>], histograms: usize) -> f64 {
    chunks.iter().map(Vec::len).sum::<usize>() as f64 / histograms as f64
}

fn histogram_chunks(c: &mut Criterion<CpuClock>) {
    println!("clock: {}", CpuClock::new().name());
    let mut group = c.benchmark_group("histogram");
    cpu_clock::configure(&mut group);
    for shape in HistogramShape::ALL {
        let samples = reference_histograms(shape);
        let floats: Vec<(i64, FloatHistogram)> =
            samples.iter().map(|(t, h)| (*t, h.to_float())).collect();
        let n = samples.len();
        let (int_chunk, float_chunk) = (
            encode::<HistogramAppender>(&samples, n),
            encode::<FloatHistogramAppender>(&floats, n),
        );
        assert_eq!((int_chunk.len(), float_chunk.len()), (1, 1));
        assert_round_trip(&samples, &int_chunk[0], &float_chunk[0]);
        let buckets = samples[n - 1].1.positive_buckets.len();
        for (kind, whole, tens) in [
            ("int", &int_chunk, encode::<HistogramAppender>(&samples, 10)),
            (
                "float",
                &float_chunk,
                encode::<FloatHistogramAppender>(&floats, 10),
            ),
        ] {
            println!(
                "histogram/{}/{kind}: {n} histograms ({buckets} buckets at the end) in {} bytes = \
                 {:.2} bytes/histogram; in {} chunks of 10: {:.2} bytes/histogram",
                shape.name(),
                whole[0].len(),
                bytes_per_histogram(whole, n),
                tens.len(),
                bytes_per_histogram(&tens, n),
            );
        }
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(
            BenchmarkId::new("encode_int", shape.name()),
            &samples,
            |b, samples| b.iter(|| encode::<HistogramAppender>(black_box(samples), n)),
        );
        group.bench_with_input(
            BenchmarkId::new("decode_int", shape.name()),
            &int_chunk[0],
            |b, bytes| {
                let mut h = Histogram::default();
                b.iter(|| decode(black_box(bytes), &mut h))
            },
        );
        group.bench_with_input(
            BenchmarkId::new("encode_float", shape.name()),
            &floats,
            |b, floats| b.iter(|| encode::<FloatHistogramAppender>(black_box(floats), n)),
        );
        group.bench_with_input(
            BenchmarkId::new("decode_float", shape.name()),
            &float_chunk[0],
            |b, bytes| {
                let mut h = FloatHistogram::default();
                b.iter(|| decode_float(black_box(bytes), &mut h))
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuClock::new());
    targets = histogram_chunks
}
criterion_main!(benches);
