//! Runs one XOR chunk operation in a tight loop, for profilers.
//!
//! ```sh
//! cargo build --release --example xor_loop
//! perf stat -e task-clock target/release/examples/xor_loop decode counter 200000
//! perf record target/release/examples/xor_loop encode noisy_gauge 200000
//! ```
//!
//! Encodes or decodes the reference chunk of a shape (the benchmarks'
//! 120-sample chunks) `iterations` times and prints the wall-clock time per
//! sample. `decode_dyn` reads through a `Box<dyn SampleIterator>`, as
//! merging and query code does; `decode_batched` through the same box with
//! `SampleIterator::read_floats` into 256-sample arrays, as the query
//! engine reads. `decode_many` is `decode` cycling through
//! [`DISTINCT`] chunks of the shape (other seeds, same length) instead of
//! one: a branch predictor can learn the control-bit pattern of a single
//! 120-sample chunk replayed, but not of thousands of samples, so this
//! is the fairer test of how data-dependent branches behave on real
//! series. On a shared machine, divide `perf stat`'s task-clock (CPU time)
//! by `iterations × 120` instead: it leaves out the time the thread waited
//! for a core, which criterion's wall-clock figures include.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use aion::chunkenc::synthetic::{self, Shape};
use aion::chunkenc::{SampleIterator, ValueType, XorChunk, XorIterator};

const USAGE: &str =
    "usage: xor_loop <encode|decode|decode_dyn|decode_batched|decode_many> <counter|noisy_gauge|constant> <iterations>";

/// How many different chunks `decode_many` cycles through: about 40 KB
/// of chunk data for the noisy shapes, so it stays in the L1/L2 caches
/// and the figure is about decoding, not memory.
const DISTINCT: u64 = 64;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [op, shape, iterations] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let Some(shape) = Shape::ALL.into_iter().find(|s| s.name() == shape) else {
        eprintln!("unknown shape {shape:?}\n{USAGE}");
        return ExitCode::FAILURE;
    };
    let Ok(iterations) = iterations.parse::<u64>() else {
        eprintln!("iterations must be a number, not {iterations:?}\n{USAGE}");
        return ExitCode::FAILURE;
    };

    let samples = synthetic::reference(shape);
    let chunk = encode(&samples);
    let start = Instant::now();
    let mut checksum = 0u64;
    match op.as_str() {
        "encode" => {
            for _ in 0..iterations {
                checksum ^= encode(black_box(&samples)).bytes().len() as u64;
            }
        }
        "decode" => {
            for _ in 0..iterations {
                checksum ^= decode(XorIterator::new(black_box(chunk.bytes())));
            }
        }
        "decode_many" => {
            let chunks: Vec<XorChunk> = (0..DISTINCT)
                .map(|seed| {
                    let samples = synthetic::series(
                        shape,
                        synthetic::REFERENCE_START_MS,
                        samples.len(),
                        synthetic::REFERENCE_SEED + seed,
                    );
                    encode(&samples)
                })
                .collect();
            for i in 0..iterations {
                let chunk = &chunks[(i % DISTINCT) as usize];
                checksum ^= decode(XorIterator::new(black_box(chunk.bytes())));
            }
        }
        "decode_dyn" => {
            for _ in 0..iterations {
                let it: Box<dyn SampleIterator + '_> =
                    Box::new(XorIterator::new(black_box(chunk.bytes())));
                checksum ^= decode(it);
            }
        }
        "decode_batched" => {
            for _ in 0..iterations {
                let it: Box<dyn SampleIterator + '_> =
                    Box::new(XorIterator::new(black_box(chunk.bytes())));
                checksum ^= decode_batched(it);
            }
        }
        other => {
            eprintln!("unknown operation {other:?}\n{USAGE}");
            return ExitCode::FAILURE;
        }
    }
    let elapsed = start.elapsed();
    black_box(checksum);
    println!(
        "{op} {}: {:.2} ns/sample wall clock over {} samples",
        shape.name(),
        elapsed.as_nanos() as f64 / (iterations * samples.len() as u64) as f64,
        iterations * samples.len() as u64
    );
    ExitCode::SUCCESS
}

fn encode(samples: &[(i64, f64)]) -> XorChunk {
    XorChunk::encode(samples.iter().copied()).expect("120 samples fit a chunk")
}

/// Folds every sample into a checksum so no decoding work can be skipped.
fn decode(mut it: impl SampleIterator) -> u64 {
    let mut acc = 0u64;
    while it.next() == ValueType::Float {
        let (t, v) = it.at();
        acc = acc.rotate_left(5) ^ t as u64 ^ v.to_bits();
    }
    assert!(it.err().is_none(), "{:?}", it.err());
    acc
}

/// The same checksum over batched reads.
fn decode_batched(mut it: impl SampleIterator) -> u64 {
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
    assert!(it.err().is_none(), "{:?}", it.err());
    acc
}
