//! Native histogram series in the shapes instrumented services expose.
//!
//! Each series is a request-latency histogram of one process scraped every
//! 15 s with the same ±10 ms timestamp jitter as the float shapes: every
//! scrape adds a few dozen to a thousand observations, so bucket counts
//! grow; buckets far from the bulk of the distribution are hit rarely, so
//! new buckets appear now and then (and a chunk holding the earlier
//! samples must be re-encoded to the wider layout); the process restarts
//! once, [`RESTART_AT`] scrapes in, and starts counting from nothing (a
//! counter reset, followed by many new buckets while it fills up again).
//! Spans are laid out as client_golang lays them out: gaps of up to two
//! empty buckets stay inside a span, longer gaps start a new one.
//!
//! ```
//! use aion_chunkenc::synthetic::{histogram_series, HistogramShape};
//!
//! let s = histogram_series(HistogramShape::Buckets20, 1_700_000_000_000, 120, 7);
//! assert_eq!(s.len(), 120);
//! assert!(s.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1.count <= w[1].1.count));
//! assert_eq!(s, histogram_series(HistogramShape::Buckets20, 1_700_000_000_000, 120, 7));
//! ```

use aion_model::histogram::{FloatHistogram, Histogram, Span};

use super::{Rng, REFERENCE_SAMPLES, REFERENCE_SEED, REFERENCE_START_MS, SCRAPE_INTERVAL_MS};

/// The scrape (0-based) at which the process behind every histogram
/// series restarts: its histogram starts again from zero observations.
/// 75 minutes in, so a 2-hour block of a series holds the reset.
pub const RESTART_AT: usize = 300;

/// Client_golang's default zero threshold, 2^-128.
pub const DEFAULT_ZERO_THRESHOLD: f64 = 2.938_735_877_055_719e-39;

/// Empty buckets client_golang keeps inside a span rather than starting a
/// new one.
const MAX_GAP_IN_SPAN: usize = 2;

/// A kind of native histogram series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HistogramShape {
    /// An API endpoint's latency at about 7 requests/s: schema 3 (bucket
    /// factor 1.09, client_golang's `NativeHistogramBucketFactor: 1.1`)
    /// over 20 buckets from 31 ms to 177 ms.
    Buckets20,
    /// A busy, widely spread latency (think database calls) at about 67
    /// requests/s: schema 3 over 160 buckets from 31 µs to 32 s, the
    /// bucket limit client_golang users commonly set
    /// (`NativeHistogramMaxBucketNumber: 160`).
    Buckets160,
}

/// What a shape is made of.
struct Params {
    schema: i32,
    /// Index of the lowest bucket observations can fall into.
    first_index: i32,
    /// Number of bucket indices observations can fall into.
    buckets: usize,
    /// Observations per scrape: `min + below(spread)`.
    min_observations: u64,
    spread: u64,
    /// Uniform draws averaged per observation: 2 gives a triangular
    /// distribution over the buckets, 3 a bell-shaped one; either way the
    /// outer buckets are rare and fill in late.
    draws: u32,
    /// Scrapes' worth of observations already counted when the series
    /// starts (the process has been running a while).
    warmup: usize,
}

impl HistogramShape {
    /// All shapes, in the order reports list them.
    pub const ALL: [HistogramShape; 2] = [HistogramShape::Buckets20, HistogramShape::Buckets160];

    /// A short name for reports and metric names.
    pub fn name(self) -> &'static str {
        match self {
            HistogramShape::Buckets20 => "buckets20",
            HistogramShape::Buckets160 => "buckets160",
        }
    }

    /// The number of bucket indices observations fall into: the most
    /// buckets a histogram of this shape can have.
    pub fn max_buckets(self) -> usize {
        self.params().buckets
    }

    fn params(self) -> Params {
        match self {
            HistogramShape::Buckets20 => Params {
                schema: 3,
                first_index: -40,
                buckets: 20,
                min_observations: 80,
                spread: 41,
                draws: 3,
                warmup: 5,
            },
            HistogramShape::Buckets160 => Params {
                schema: 3,
                first_index: -120,
                buckets: 160,
                min_observations: 900,
                spread: 201,
                draws: 2,
                warmup: 3,
            },
        }
    }
}

/// The 120-histogram reference chunk of `shape` (the float shapes' start
/// time and seed): what the benchmarks encode and decode.
pub fn reference_histograms(shape: HistogramShape) -> Vec<(i64, Histogram)> {
    histogram_series(shape, REFERENCE_START_MS, REFERENCE_SAMPLES, REFERENCE_SEED)
}

/// `count` integer histograms of `shape`, the first scrape slot at
/// `start_ms`, randomness from `seed`. Timestamps strictly increase; the
/// same arguments always give the same histograms.
pub fn histogram_series(
    shape: HistogramShape,
    start_ms: i64,
    count: usize,
    seed: u64,
) -> Vec<(i64, Histogram)> {
    let p = shape.params();
    let mut rng = Rng::new(seed ^ (0x51_7c_c1_b7_27_22_0a_95 ^ shape as u64));
    let mut state = State::new(&p);
    for _ in 0..p.warmup {
        state.observe(&p, &mut rng);
    }
    (0..count)
        .map(|k| {
            if k == RESTART_AT {
                state = State::new(&p);
            }
            state.observe(&p, &mut rng);
            let t = start_ms + k as i64 * SCRAPE_INTERVAL_MS + rng.jitter();
            (t, state.histogram(&p))
        })
        .collect()
}

/// The float histograms of [`histogram_series`]: the same counts as
/// floats, as a remote-write sender converting from OpenTelemetry sends
/// them.
pub fn float_histogram_series(
    shape: HistogramShape,
    start_ms: i64,
    count: usize,
    seed: u64,
) -> Vec<(i64, FloatHistogram)> {
    histogram_series(shape, start_ms, count, seed)
        .into_iter()
        .map(|(t, h)| (t, h.to_float()))
        .collect()
}

/// The counters of one process's histogram.
struct State {
    /// Absolute count per bucket index, from `Params::first_index`.
    counts: Vec<u64>,
    zero_count: u64,
    sum: f64,
}

impl State {
    fn new(p: &Params) -> Self {
        State {
            counts: vec![0; p.buckets],
            zero_count: 0,
            sum: 0.0,
        }
    }

    /// One scrape interval's observations.
    fn observe(&mut self, p: &Params, rng: &mut Rng) {
        let n = p.min_observations + rng.below(p.spread);
        let width = f64::from(1u32 << p.schema);
        for _ in 0..n {
            // One in 500 requests is answered from a cache and measures
            // 0 s: the zero bucket.
            if rng.below(500) == 0 {
                self.zero_count += 1;
                continue;
            }
            let u = (0..p.draws).map(|_| rng.unit()).sum::<f64>() / f64::from(p.draws);
            let slot = ((u * p.buckets as f64) as usize).min(p.buckets - 1);
            self.counts[slot] += 1;
            // Bucket `i` holds (2^((i-1)/2^schema), 2^(i/2^schema)].
            let index = p.first_index + slot as i32;
            let value = ((f64::from(index) - rng.unit()) / width).exp2();
            self.sum += value;
        }
    }

    fn histogram(&self, p: &Params) -> Histogram {
        let (spans, absolute) = layout(&self.counts, p.first_index);
        let mut prev = 0i64;
        let deltas = absolute
            .iter()
            .map(|&c| {
                let d = c as i64 - prev;
                prev = c as i64;
                d
            })
            .collect();
        Histogram {
            schema: p.schema,
            zero_threshold: DEFAULT_ZERO_THRESHOLD,
            zero_count: self.zero_count,
            count: self.zero_count + self.counts.iter().sum::<u64>(),
            sum: self.sum,
            positive_spans: spans,
            positive_buckets: deltas,
            ..Histogram::default()
        }
    }
}

/// Spans and absolute counts of the non-empty buckets, with gaps of up to
/// [`MAX_GAP_IN_SPAN`] empty buckets kept inside a span.
fn layout(counts: &[u64], first_index: i32) -> (Vec<Span>, Vec<u64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut out = Vec::new();
    let mut last: Option<usize> = None;
    for (slot, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        match last {
            Some(l) if slot - l - 1 <= MAX_GAP_IN_SPAN => {
                let gap = slot - l - 1;
                out.extend(std::iter::repeat_n(0, gap));
                spans.last_mut().expect("a span is open").length += gap as u32 + 1;
            }
            Some(l) => spans.push(Span {
                offset: (slot - l - 1) as i32,
                length: 1,
            }),
            None => spans.push(Span {
                offset: first_index + slot as i32,
                length: 1,
            }),
        }
        out.push(c);
        last = Some(slot);
    }
    (spans, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Absolute counts by bucket index.
    fn buckets(h: &Histogram) -> Vec<(i32, i64)> {
        let mut out = Vec::new();
        let (mut idx, mut acc, mut d) = (0i32, 0i64, h.positive_buckets.iter());
        for s in &h.positive_spans {
            idx += s.offset;
            for _ in 0..s.length {
                acc += d.next().expect("a value per addressed bucket");
                out.push((idx, acc));
                idx += 1;
            }
        }
        assert!(d.next().is_none());
        out
    }

    #[test]
    fn histograms_are_valid_growing_counters_with_one_restart() {
        let start = 1_699_992_000_000;
        for shape in HistogramShape::ALL {
            let s = histogram_series(shape, start, 600, 1);
            let p = shape.params();
            let mut new_bucket_scrapes = 0;
            for (k, (t, h)) in s.iter().enumerate() {
                let slot = start + k as i64 * SCRAPE_INTERVAL_MS;
                assert!((t - slot).abs() <= super::super::JITTER_MS);
                let b = buckets(h);
                assert!(b.len() <= shape.max_buckets(), "{shape:?} {k}");
                assert!(b.iter().all(|&(i, c)| c >= 0
                    && i >= p.first_index
                    && i < p.first_index + p.buckets as i32));
                let total: i64 = b.iter().map(|&(_, c)| c).sum();
                assert_eq!(h.count, h.zero_count + total as u64, "{shape:?} {k}");
                if k == 0 {
                    continue;
                }
                let prev = &s[k - 1].1;
                if k == RESTART_AT {
                    assert!(h.count < prev.count && h.sum < prev.sum);
                    continue;
                }
                assert!(h.count > prev.count && h.sum > prev.sum, "{shape:?} {k}");
                let before = buckets(prev);
                let grew = b.len() > before.len();
                new_bucket_scrapes += usize::from(grew);
                for (i, c) in before {
                    let now = b.iter().find(|&&(j, _)| j == i).map_or(0, |&(_, c)| c);
                    assert!(now >= c, "{shape:?} scrape {k} bucket {i} fell");
                }
            }
            // New buckets now and then, not every scrape.
            assert!(
                (3..300).contains(&new_bucket_scrapes),
                "{shape:?}: {new_bucket_scrapes}"
            );
        }
    }

    #[test]
    fn spans_keep_short_gaps_and_split_long_ones() {
        let (spans, counts) = layout(&[0, 4, 0, 0, 2, 0, 0, 0, 1], -3);
        assert_eq!(
            spans,
            vec![
                Span {
                    offset: -2,
                    length: 4
                },
                Span {
                    offset: 3,
                    length: 1
                }
            ]
        );
        assert_eq!(counts, vec![4, 0, 0, 2, 1]);
    }

    #[test]
    fn reference_chunks_have_their_advertised_bucket_counts() {
        let last = |shape| reference_histograms(shape).pop().unwrap().1;
        let n20 = buckets(&last(HistogramShape::Buckets20)).len();
        let n160 = buckets(&last(HistogramShape::Buckets160)).len();
        assert!((17..=20).contains(&n20), "{n20}");
        assert!((120..=160).contains(&n160), "{n160}");
        let floats = float_histogram_series(HistogramShape::Buckets20, 0, 3, 5);
        let ints = histogram_series(HistogramShape::Buckets20, 0, 3, 5);
        for ((tf, f), (ti, i)) in floats.iter().zip(&ints) {
            assert_eq!((tf, f), (ti, &i.to_float()));
        }
    }
}
