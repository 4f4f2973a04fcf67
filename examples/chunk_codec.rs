//! What the chunk codec does with a realistic series set.
//!
//! ```sh
//! cargo run --release --example chunk_codec
//! ```
//!
//! Generates two hours of 15-second scrapes for a few thousand series of
//! the shapes real targets expose (counters, noisy gauges, constants), cuts
//! them into 120-sample XOR chunks as Prometheus's head does, and reports
//! the bytes per sample and the encode and decode speed. Every chunk is
//! decoded back and compared bit for bit before any figure is printed.

use std::time::{Duration, Instant};

use aion::chunkenc::synthetic::{self, Shape};
use aion::chunkenc::{SampleIterator, ValueType, XorChunk, XorIterator};

/// The series mix: (shape, number of series).
const MIX: [(Shape, usize); 3] = [
    (Shape::Counter, 1_800),
    (Shape::NoisyGauge, 750),
    (Shape::Constant, 450),
];
/// Two hours of 15 s scrapes.
const SAMPLES_PER_SERIES: usize = 480;
/// Prometheus's target chunk size.
const SAMPLES_PER_CHUNK: usize = 120;
/// Timing repetitions; the median is reported.
const RUNS: usize = 5;

struct Series {
    shape: Shape,
    samples: Vec<(i64, f64)>,
}

fn main() {
    println!("Aion quickstart: the XOR chunk codec (Prometheus chunk encoding 1)\n");

    let series: Vec<Series> = MIX
        .iter()
        .flat_map(|&(shape, count)| {
            (0..count).map(move |i| Series {
                shape,
                samples: synthetic::series(
                    shape,
                    synthetic::REFERENCE_START_MS,
                    SAMPLES_PER_SERIES,
                    i as u64,
                ),
            })
        })
        .collect();
    let total_samples: usize = series.iter().map(|s| s.samples.len()).sum();

    println!("Workload");
    for (shape, count) in MIX {
        println!("  {count:>6} {:<12} {}", shape.name(), describe(shape));
    }
    println!(
        "  {:>6} series x {SAMPLES_PER_SERIES} samples (2 h at 15 s) = {total_samples} samples, \
         cut into {SAMPLES_PER_CHUNK}-sample chunks\n",
        series.len()
    );

    // Encode (timed), keeping the chunks of the last run.
    let mut chunks = Vec::new();
    let encode_time = median(RUNS, || {
        chunks = encode_all(&series);
    });

    // Decode everything once untimed to verify, then time decoding.
    verify(&series, &chunks);
    let mut checksum = 0;
    let decode_time = median(RUNS, || {
        checksum = decode_all(&chunks);
    });
    std::hint::black_box(checksum);

    println!("Size (chunk data bytes per sample; uncompressed (i64, f64) pairs take 16)");
    for (shape, _) in MIX {
        let (bytes, samples) = series
            .iter()
            .zip(&chunks)
            .filter(|(s, _)| s.shape == shape)
            .fold((0, 0), |(b, n), (s, c)| {
                (
                    b + c.iter().map(Vec::len).sum::<usize>(),
                    n + s.samples.len(),
                )
            });
        println!(
            "  {:<12} {:>6.2} bytes/sample",
            shape.name(),
            bytes as f64 / samples as f64
        );
    }
    let total_bytes: usize = chunks.iter().flatten().map(Vec::len).sum();
    println!(
        "  {:<12} {:>6.2} bytes/sample  ({} chunks, {:.1} MiB, {:.1}x smaller than raw)\n",
        "all",
        total_bytes as f64 / total_samples as f64,
        chunks.iter().map(Vec::len).sum::<usize>(),
        total_bytes as f64 / (1 << 20) as f64,
        (total_samples * 16) as f64 / total_bytes as f64
    );

    println!("Speed (one thread, median of {RUNS} runs)");
    for (what, time) in [("encode", encode_time), ("decode", decode_time)] {
        let ns = time.as_nanos() as f64 / total_samples as f64;
        println!(
            "  {what}  {ns:>6.2} ns/sample  ({:.0} million samples/s)",
            1e3 / ns
        );
    }
    println!("\nRound trip verified: every sample decoded bit-identical to its input.");
}

fn describe(shape: Shape) -> &'static str {
    match shape {
        Shape::Counter => "request counters, 15 s scrapes with +-10 ms jitter",
        Shape::NoisyGauge => "gauges with full-precision noise, jittered scrapes",
        Shape::Constant => "constant values (like `up`), exact 15 s scrapes",
    }
}

/// Every series cut into chunks of `SAMPLES_PER_CHUNK` samples.
fn encode_all(series: &[Series]) -> Vec<Vec<Vec<u8>>> {
    series
        .iter()
        .map(|s| {
            s.samples
                .chunks(SAMPLES_PER_CHUNK)
                .map(|part| {
                    XorChunk::encode(part.iter().copied())
                        .expect("a chunk holds 65535 samples")
                        .into_inner()
                })
                .collect()
        })
        .collect()
}

/// Folds every decoded sample into a checksum, so no work can be skipped.
fn decode_all(chunks: &[Vec<Vec<u8>>]) -> u64 {
    let mut acc = 0u64;
    for chunk in chunks.iter().flatten() {
        let mut it = XorIterator::new(chunk);
        while it.next() == ValueType::Float {
            let (t, v) = it.at();
            acc = acc.rotate_left(5) ^ t as u64 ^ v.to_bits();
        }
        if let Some(err) = it.err() {
            panic!("decoding failed: {err}");
        }
    }
    acc
}

fn verify(series: &[Series], chunks: &[Vec<Vec<u8>>]) {
    for (s, chunks) in series.iter().zip(chunks) {
        let mut expected = s.samples.iter();
        for chunk in chunks {
            let mut it = XorIterator::new(chunk);
            while it.next() == ValueType::Float {
                let (t, v) = it.at();
                let &(et, ev) = expected.next().expect("more samples decoded than encoded");
                assert!(t == et && v.to_bits() == ev.to_bits(), "sample mismatch");
            }
            assert!(it.err().is_none(), "decoding failed: {:?}", it.err());
        }
        assert!(expected.next().is_none(), "samples lost");
    }
}

fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}
