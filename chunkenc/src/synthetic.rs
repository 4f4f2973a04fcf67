//! Deterministic synthetic series in the shapes real scrapes produce.
//!
//! Benchmarks, the chunk_codec example and the Prometheus interop test all
//! draw their samples from here, so a figure measured in one place (bytes
//! per sample, say) is for exactly the data checked in another. The same
//! `(shape, start, count, seed)` always gives the same samples.
//!
//! ```
//! use aion_chunkenc::synthetic::{series, Shape};
//!
//! let a = series(Shape::Counter, 1_700_000_000_000, 120, 7);
//! assert_eq!(a.len(), 120);
//! assert_eq!(a, series(Shape::Counter, 1_700_000_000_000, 120, 7));
//! assert!(a.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
//! ```
//!
//! Native histogram series (`synthetic/histograms.rs`) come from the same
//! generator: [`histogram_series`], [`float_histogram_series`],
//! [`reference_histograms`].

mod histograms;

pub use histograms::{
    float_histogram_series, histogram_series, reference_histograms, HistogramShape,
    DEFAULT_ZERO_THRESHOLD, RESTART_AT,
};

/// Scrape interval of every shape, in milliseconds.
pub const SCRAPE_INTERVAL_MS: i64 = 15_000;

/// Largest deviation of a jittered scrape timestamp from its slot, in ms.
pub const JITTER_MS: i64 = 10;

/// Start of the reference chunks: a realistic epoch-milliseconds time
/// (2023-11-14T20:01:00Z), a minute after a 4-hour boundary, so that the
/// 120 jittered samples of a reference chunk fall into one Prometheus block
/// and one head chunk.
pub const REFERENCE_START_MS: i64 = 1_699_992_060_000;

/// Samples in a reference chunk: Prometheus's target chunk size.
pub const REFERENCE_SAMPLES: usize = 120;

/// Seed of the reference chunks.
pub const REFERENCE_SEED: u64 = 42;

/// The reference chunk of `shape`: the samples the benchmarks encode and
/// decode and the interop test has promtool encode, so the bytes per
/// sample reported for Aion and for Prometheus are for identical input.
pub fn reference(shape: Shape) -> Vec<(i64, f64)> {
    series(shape, REFERENCE_START_MS, REFERENCE_SAMPLES, REFERENCE_SEED)
}

/// A kind of series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// A request counter: 15 s scrapes with ±10 ms timestamp jitter, rising
    /// by a whole number of requests (around 1500) per scrape.
    Counter,
    /// A noisy gauge (think CPU utilisation): 15 s scrapes with ±10 ms
    /// jitter, a slow wave plus full-precision noise in every value.
    NoisyGauge,
    /// A constant (think `up`): perfectly regular 15 s timestamps and the
    /// value 1 throughout.
    Constant,
}

impl Shape {
    /// All shapes, in the order reports list them.
    pub const ALL: [Shape; 3] = [Shape::Counter, Shape::NoisyGauge, Shape::Constant];

    /// A short name for reports and metric names.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Counter => "counter",
            Shape::NoisyGauge => "noisy_gauge",
            Shape::Constant => "constant",
        }
    }
}

/// `count` samples of `shape`, the first scrape slot at `start_ms`, with
/// randomness drawn from `seed`. Timestamps strictly increase.
pub fn series(shape: Shape, start_ms: i64, count: usize, seed: u64) -> Vec<(i64, f64)> {
    let mut rng = Rng::new(seed ^ (shape as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut counter = (rng.next_u64() % 1_000_000) as f64;
    let phase = rng.unit() * std::f64::consts::TAU;
    (0..count)
        .map(|k| {
            let slot = start_ms + k as i64 * SCRAPE_INTERVAL_MS;
            match shape {
                Shape::Counter => {
                    counter += (1_400 + rng.next_u64() % 200) as f64;
                    (slot + rng.jitter(), counter)
                }
                Shape::NoisyGauge => {
                    let wave = 0.45 + 0.2 * (phase + k as f64 / 40.0).sin();
                    (slot + rng.jitter(), wave + 0.05 * rng.unit())
                }
                Shape::Constant => (slot, 1.0),
            }
        })
        .collect()
}

/// A small deterministic random number generator (Sebastiano Vigna's
/// SplitMix64): good enough for benchmark and test data that must not
/// compress unrealistically well, with no dependency and no global state.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with all 53 bits of precision.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (n > 0), with negligible bias for small `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn jitter(&mut self) -> i64 {
        self.below(2 * JITTER_MS as u64 + 1) as i64 - JITTER_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_have_their_advertised_properties() {
        let start = 1_699_992_000_000;
        for shape in Shape::ALL {
            let s = series(shape, start, 500, 1);
            assert_eq!(s.len(), 500);
            for (k, &(t, _)) in s.iter().enumerate() {
                let slot = start + k as i64 * SCRAPE_INTERVAL_MS;
                assert!((t - slot).abs() <= JITTER_MS, "{shape:?} sample {k}");
            }
            assert!(s.windows(2).all(|w| w[0].0 < w[1].0));
        }
        let counter = series(Shape::Counter, start, 500, 1);
        assert!(counter
            .windows(2)
            .all(|w| (1_400.0..1_600.0).contains(&(w[1].1 - w[0].1))));
        let constant = series(Shape::Constant, start, 500, 1);
        assert!(constant.iter().all(|&(_, v)| v == 1.0));
        let gauge = series(Shape::NoisyGauge, start, 500, 1);
        assert!(gauge.iter().all(|&(_, v)| (0.2..0.75).contains(&v)));
        assert_ne!(gauge, series(Shape::NoisyGauge, start, 500, 2));
    }
}
