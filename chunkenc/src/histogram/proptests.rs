//! Property tests: random histogram sequences (exponential schemas and
//! custom buckets, zero buckets, new and vanishing buckets, counter
//! resets, gauges, stale markers, non-canonical spans) survive encoding,
//! every chunk re-encodes to its own bytes, and damaged chunks never
//! panic.

use aion_model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};
use proptest::prelude::*;

use super::*;
use crate::fuzz::{normal_float, normal_int};
use crate::{SampleIterator, ValueType, STALE_NAN};

const POS: usize = 16; // positive indices -5..=10
const NEG: usize = 8; // negative indices 0..=7
const BOUNDS: [f64; 4] = [0.5, 1.0, 2.5, 10.0];

#[derive(Debug, Clone)]
struct Step {
    pos_mask: u16,
    neg_mask: u8,
    incs: Vec<u8>,
    zero_inc: u8,
    reset: bool,
    stale: bool,
    schema_change: bool,
    split: bool,
    dt: i64,
}

fn step() -> impl Strategy<Value = Step> {
    (
        any::<u16>(),
        any::<u8>(),
        prop::collection::vec(0u8..4, POS + NEG),
        0u8..3,
        prop::bool::weighted(0.08),
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.2),
        1i64..60_000,
    )
        .prop_map(
            |(pos_mask, neg_mask, incs, zero_inc, reset, stale, schema_change, split, dt)| Step {
                pos_mask,
                neg_mask,
                incs,
                zero_inc,
                reset,
                stale,
                schema_change,
                split,
                dt,
            },
        )
}

/// Spans for sorted indices: canonical, or (`split`) with the first run
/// cut in two by an offset-0 span and an empty span at the end, which
/// Prometheus's appender keeps verbatim in some cases.
fn spans_of(indices: &[i64], split: bool) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    let mut last = 0i64;
    for &i in indices {
        match out.last_mut() {
            Some(s) if i == last + 1 => s.length += 1,
            Some(_) => out.push(Span {
                offset: (i - last - 1) as i32,
                length: 1,
            }),
            None => out.push(Span {
                offset: i as i32,
                length: 1,
            }),
        }
        last = i;
    }
    if split {
        if let Some(first) = out.first().copied().filter(|s| s.length >= 2) {
            out[0].length = 1;
            out.insert(
                1,
                Span {
                    offset: 0,
                    length: first.length - 1,
                },
            );
        }
        out.push(Span {
            offset: 1,
            length: 0,
        });
    }
    out
}

/// Builds a histogram sequence from random steps.
fn histograms(base_schema: i32, zt: f64, gauge: bool, steps: &[Step]) -> Vec<(i64, Histogram)> {
    let mut abs = [0u64; POS + NEG];
    let mut zero = 0u64;
    let mut schema = base_schema;
    let mut t = 1_700_000_000_000i64;
    let mut out = Vec::new();
    for s in steps {
        t += s.dt;
        if s.schema_change {
            schema = if schema == CUSTOM {
                2
            } else {
                (schema + 7).rem_euclid(13) - 4
            };
        }
        if s.reset || gauge {
            abs.iter_mut()
                .zip(&s.incs)
                .for_each(|(a, i)| *a = u64::from(*i));
            zero = u64::from(s.zero_inc);
        } else {
            abs.iter_mut()
                .zip(&s.incs)
                .for_each(|(a, i)| *a += u64::from(*i));
            zero += u64::from(s.zero_inc);
        }
        let custom = schema == CUSTOM;
        let pos: Vec<usize> = (0..POS)
            .filter(|&i| s.pos_mask >> i & 1 == 1 && (!custom || i <= BOUNDS.len()))
            .collect();
        let neg: Vec<usize> = (0..NEG)
            .filter(|&i| !custom && s.neg_mask >> i & 1 == 1)
            .collect();
        let deltas = |ix: &[usize], off: usize| {
            let mut prev = 0i64;
            ix.iter()
                .map(|&i| {
                    let v = abs[i + off] as i64;
                    let d = v - prev;
                    prev = v;
                    d
                })
                .collect::<Vec<_>>()
        };
        let positive_buckets = deltas(&pos, 0);
        let negative_buckets = deltas(&neg, POS);
        let count = zero
            + pos.iter().map(|&i| abs[i]).sum::<u64>()
            + neg.iter().map(|&i| abs[i + POS]).sum::<u64>();
        let pos_idx: Vec<i64> = pos
            .iter()
            .map(|&i| if custom { i as i64 } else { i as i64 - 5 })
            .collect();
        let neg_idx: Vec<i64> = neg.iter().map(|&i| i as i64).collect();
        let h = Histogram {
            counter_reset_hint: if gauge {
                CounterResetHint::Gauge
            } else {
                CounterResetHint::Unknown
            },
            schema,
            zero_threshold: if custom { 0.0 } else { zt },
            zero_count: if custom { 0 } else { zero },
            count,
            sum: if s.stale {
                STALE_NAN
            } else {
                count as f64 * 1.25 - 3.0
            },
            positive_spans: spans_of(&pos_idx, s.split),
            negative_spans: spans_of(&neg_idx, s.split),
            positive_buckets,
            negative_buckets,
            custom_values: if custom { BOUNDS.to_vec() } else { Vec::new() },
        };
        out.push((t, h));
    }
    out
}

const CUSTOM: i32 = aion_model::histogram::CUSTOM_BUCKETS_SCHEMA;

fn sequence() -> impl Strategy<Value = (Vec<(i64, Histogram)>, bool)> {
    (
        prop_oneof![-4i32..=8, Just(CUSTOM)],
        prop::sample::select(vec![0.0, 2f64.powi(-128), 0.001]),
        prop::bool::weighted(0.25),
        prop::collection::vec(step(), 1..60),
    )
        .prop_map(|(schema, zt, gauge, steps)| (histograms(schema, zt, gauge, &steps), gauge))
}

/// Appends everything, following the appender's cuts.
fn encode_int(hs: &[(i64, Histogram)]) -> (Vec<HistogramAppender>, Vec<usize>) {
    let mut chunks = vec![HistogramAppender::new()];
    let mut chunk_of = Vec::new();
    for (t, h) in hs {
        match chunks.last_mut().unwrap().append(*t, h).unwrap() {
            AppendOutcome::NewChunk(next) => chunks.push(next),
            AppendOutcome::Appended | AppendOutcome::Recoded => {}
        }
        chunk_of.push(chunks.len() - 1);
    }
    (chunks, chunk_of)
}

fn encode_float(hs: &[(i64, FloatHistogram)]) -> Vec<FloatHistogramAppender> {
    let mut chunks = vec![FloatHistogramAppender::new()];
    for (t, h) in hs {
        if let AppendOutcome::NewChunk(next) = chunks.last_mut().unwrap().append(*t, h).unwrap() {
            chunks.push(next);
        }
    }
    chunks
}

fn decode_int(bytes: &[u8]) -> Vec<(i64, Histogram)> {
    let mut it = HistogramIterator::new(bytes);
    let mut out = Vec::new();
    while it.next() == ValueType::Histogram {
        let mut h = Histogram::default();
        let t = it.at_histogram(&mut h);
        out.push((t, h));
    }
    assert!(it.err().is_none(), "{:?}", it.err());
    out
}

fn decode_float(bytes: &[u8]) -> Vec<(i64, FloatHistogram)> {
    let mut it = FloatHistogramIterator::new(bytes);
    let mut out = Vec::new();
    while it.next() == ValueType::FloatHistogram {
        let mut h = FloatHistogram::default();
        let t = it.at_float_histogram(&mut h);
        out.push((t, h));
    }
    assert!(it.err().is_none(), "{:?}", it.err());
    out
}

/// The chunk bytes without the counter-reset flags.
fn unflagged(bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[2] = 0;
    b
}

fn halve(h: &Histogram) -> FloatHistogram {
    let mut f = h.to_float();
    if !crate::is_stale_nan(f.sum) {
        f.count *= 0.5;
        f.zero_count *= 0.5;
        f.sum *= 0.5;
        f.positive_buckets.iter_mut().for_each(|v| *v *= 0.5);
        f.negative_buckets.iter_mut().for_each(|v| *v *= 0.5);
    }
    f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn integer_sequences_round_trip((hs, gauge) in sequence()) {
        let (chunks, chunk_of) = encode_int(&hs);
        let mut all = Vec::new();
        for app in &chunks {
            let decoded = decode_int(app.bytes());
            prop_assert_eq!(decoded.len(), app.num_samples());
            // Decoding and appending again reproduces the chunk. (A stale
            // marker decodes without its gauge hint, as in Prometheus, so
            // it is given back here.)
            let mut again = HistogramAppender::new();
            for (t, h) in &decoded {
                let mut h = h.clone();
                if app.counter_reset_header() == CounterResetHint::Gauge {
                    h.counter_reset_hint = CounterResetHint::Gauge;
                }
                prop_assert!(matches!(again.append(*t, &h).unwrap(), AppendOutcome::Appended));
            }
            prop_assert_eq!(unflagged(again.bytes()), unflagged(app.bytes()));
            all.extend(decoded);
        }
        prop_assert_eq!(normal_int(&all), normal_int(&hs));
        for (i, (_, h)) in hs.iter().enumerate() {
            let header = chunks[chunk_of[i]].counter_reset_header();
            if gauge {
                prop_assert_eq!(header, CounterResetHint::Gauge);
            }
            if i > 0 && chunk_of[i] != chunk_of[i - 1] && !gauge && !crate::is_stale_nan(h.sum) {
                // A cut of a counter: never "not a reset" unless the previous chunk said gauge.
                prop_assert_ne!(header, CounterResetHint::NotCounterReset);
            }
        }
    }

    #[test]
    fn float_sequences_round_trip((hs, _gauge) in sequence()) {
        let fs: Vec<(i64, FloatHistogram)> = hs.iter().map(|(t, h)| (*t, halve(h))).collect();
        let chunks = encode_float(&fs);
        let mut all = Vec::new();
        for app in &chunks {
            let decoded = decode_float(app.bytes());
            let mut again = FloatHistogramAppender::new();
            for (t, h) in &decoded {
                let mut h = h.clone();
                if app.counter_reset_header() == CounterResetHint::Gauge {
                    h.counter_reset_hint = CounterResetHint::Gauge;
                }
                prop_assert!(matches!(again.append(*t, &h).unwrap(), AppendOutcome::Appended));
            }
            prop_assert_eq!(unflagged(again.bytes()), unflagged(app.bytes()));
            all.extend(decoded);
        }
        prop_assert_eq!(normal_float(&all), normal_float(&fs));
        // Integer chunks read as floats give the same values.
        let (int_chunks, _) = encode_int(&hs);
        let mut as_float = Vec::new();
        for app in &int_chunks {
            let mut it = app.iter();
            while it.next() == ValueType::Histogram {
                let mut f = FloatHistogram::default();
                let t = it.at_float_histogram(&mut f);
                as_float.push((t, f));
            }
        }
        let direct: Vec<(i64, FloatHistogram)> = hs.iter().map(|(t, h)| (*t, h.to_float())).collect();
        prop_assert_eq!(normal_float(&as_float), normal_float(&direct));
    }

    #[test]
    fn damaged_chunks_never_panic(
        (hs, _gauge) in sequence(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let (chunks, _) = encode_int(&hs);
        let fs: Vec<(i64, FloatHistogram)> = hs.iter().map(|(t, h)| (*t, halve(h))).collect();
        let fchunks = encode_float(&fs);
        for bytes in chunks.iter().map(|c| c.bytes()).chain(fchunks.iter().map(|c| c.bytes())) {
            // Undamaged: the fuzz checks pass too.
            crate::fuzz::histogram_chunk(bytes);
            crate::fuzz::float_histogram_chunk(bytes);
            let mut b = bytes.to_vec();
            for (at, x) in &flips {
                let i = at.index(b.len());
                b[i] ^= x;
            }
            b.truncate(cut.index(b.len() + 1));
            crate::fuzz::histogram_chunk(&b);
            crate::fuzz::float_histogram_chunk(&b);
        }
    }

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..200)) {
        crate::fuzz::histogram_chunk(&data);
        crate::fuzz::float_histogram_chunk(&data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Resuming a chunk anywhere and appending the rest of its samples
    /// decodes to the same histograms.
    #[test]
    fn resume_anywhere((hs, _gauge) in sequence(), at in any::<prop::sample::Index>()) {
        let (chunks, _) = encode_int(&hs);
        for app in &chunks {
            let decoded = decode_int(app.bytes());
            let k = at.index(decoded.len() + 1);
            let mut head = HistogramAppender::new();
            let gauge = app.counter_reset_header() == CounterResetHint::Gauge;
            let with_hint = |h: &Histogram| {
                let mut h = h.clone();
                if gauge {
                    h.counter_reset_hint = CounterResetHint::Gauge;
                }
                h
            };
            for (t, h) in &decoded[..k] {
                head.append(*t, &with_hint(h)).unwrap();
            }
            let mut resumed = HistogramAppender::resume(head.bytes().to_vec()).unwrap();
            prop_assert_eq!(resumed.num_samples(), k);
            for (t, h) in &decoded[k..] {
                prop_assert!(matches!(resumed.append(*t, &with_hint(h)).unwrap(), AppendOutcome::Appended));
            }
            prop_assert_eq!(normal_int(&decode_int(resumed.bytes())), normal_int(&decoded));

            let fdecoded: Vec<(i64, FloatHistogram)> = decoded.iter().map(|(t, h)| (*t, halve(&with_hint(h)))).collect();
            let mut fhead = FloatHistogramAppender::new();
            for (t, h) in &fdecoded[..k] {
                fhead.append(*t, h).unwrap();
            }
            let mut fresumed = FloatHistogramAppender::resume(fhead.bytes().to_vec()).unwrap();
            for (t, h) in &fdecoded[k..] {
                prop_assert!(matches!(fresumed.append(*t, h).unwrap(), AppendOutcome::Appended));
            }
            prop_assert_eq!(normal_float(&decode_float(fresumed.bytes())), normal_float(&fdecoded));
        }
    }
}
