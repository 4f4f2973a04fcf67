//! Native histograms: wire message ⇄ [`aion_model::histogram`] types.

use aion_model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};

use crate::proto::{histogram as h, BucketSpan, Histogram as PbHistogram};

/// A decoded histogram sample: integer or float, as the message's `count`
/// says.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelHistogram {
    /// An integer histogram (counts as deltas).
    Int(Histogram),
    /// A float histogram (absolute counts).
    Float(FloatHistogram),
}

/// A histogram message whose shape is inconsistent (a 400 answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HistogramError {
    /// The spans of one side cover a different number of buckets than
    /// the side has counts.
    #[error("histogram at {timestamp}: {side} spans cover {in_spans} buckets but {counts} counts were sent")]
    SpanMismatch {
        /// The sample's timestamp (ms).
        timestamp: i64,
        /// `positive` or `negative`.
        side: &'static str,
        /// Sum of the spans' lengths.
        in_spans: u64,
        /// Number of counts (deltas for integer, counts for float histograms).
        counts: usize,
    },
    /// An integer histogram with float bucket counts or a float one with
    /// deltas, or a float zero count on an integer histogram.
    #[error("histogram at {timestamp}: integer and float counts mixed")]
    MixedCounts {
        /// The sample's timestamp (ms).
        timestamp: i64,
    },
}

fn spans_from(spans: &[BucketSpan]) -> Vec<Span> {
    spans
        .iter()
        .map(|s| Span {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

fn spans_to(spans: &[Span]) -> Vec<BucketSpan> {
    spans
        .iter()
        .map(|s| BucketSpan {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

fn hint_from(v: i32) -> CounterResetHint {
    match h::ResetHint::try_from(v) {
        Ok(h::ResetHint::Yes) => CounterResetHint::CounterReset,
        Ok(h::ResetHint::No) => CounterResetHint::NotCounterReset,
        Ok(h::ResetHint::Gauge) => CounterResetHint::Gauge,
        Ok(h::ResetHint::Unknown) | Err(_) => CounterResetHint::Unknown,
    }
}

fn hint_to(hint: CounterResetHint) -> i32 {
    match hint {
        CounterResetHint::Unknown => h::ResetHint::Unknown as i32,
        CounterResetHint::CounterReset => h::ResetHint::Yes as i32,
        CounterResetHint::NotCounterReset => h::ResetHint::No as i32,
        CounterResetHint::Gauge => h::ResetHint::Gauge as i32,
    }
}

fn check_side(
    timestamp: i64,
    side: &'static str,
    spans: &[BucketSpan],
    counts: usize,
) -> Result<(), HistogramError> {
    let in_spans: u64 = spans.iter().map(|s| u64::from(s.length)).sum();
    if in_spans != counts as u64 {
        return Err(HistogramError::SpanMismatch {
            timestamp,
            side,
            in_spans,
            counts,
        });
    }
    Ok(())
}

/// Converts a histogram message, checking that its spans and counts
/// agree. A message is a float histogram when its `count` is
/// `count_float`, as Prometheus decides.
pub fn to_model_histogram(p: &PbHistogram) -> Result<ModelHistogram, HistogramError> {
    let t = p.timestamp;
    match p.count {
        Some(h::Count::CountFloat(count)) => {
            if !p.positive_deltas.is_empty() || !p.negative_deltas.is_empty() {
                return Err(HistogramError::MixedCounts { timestamp: t });
            }
            check_side(t, "positive", &p.positive_spans, p.positive_counts.len())?;
            check_side(t, "negative", &p.negative_spans, p.negative_counts.len())?;
            let zero_count = match p.zero_count {
                Some(h::ZeroCount::ZeroCountFloat(z)) => z,
                Some(h::ZeroCount::ZeroCountInt(z)) => z as f64,
                None => 0.0,
            };
            Ok(ModelHistogram::Float(FloatHistogram {
                counter_reset_hint: hint_from(p.reset_hint),
                schema: p.schema,
                zero_threshold: p.zero_threshold,
                zero_count,
                count,
                sum: p.sum,
                positive_spans: spans_from(&p.positive_spans),
                negative_spans: spans_from(&p.negative_spans),
                positive_buckets: p.positive_counts.clone(),
                negative_buckets: p.negative_counts.clone(),
                custom_values: p.custom_values.clone(),
            }))
        }
        count => {
            if !p.positive_counts.is_empty()
                || !p.negative_counts.is_empty()
                || matches!(p.zero_count, Some(h::ZeroCount::ZeroCountFloat(_)))
            {
                return Err(HistogramError::MixedCounts { timestamp: t });
            }
            check_side(t, "positive", &p.positive_spans, p.positive_deltas.len())?;
            check_side(t, "negative", &p.negative_spans, p.negative_deltas.len())?;
            let zero_count = match p.zero_count {
                Some(h::ZeroCount::ZeroCountInt(z)) => z,
                _ => 0,
            };
            let count = match count {
                Some(h::Count::CountInt(c)) => c,
                _ => 0,
            };
            Ok(ModelHistogram::Int(Histogram {
                counter_reset_hint: hint_from(p.reset_hint),
                schema: p.schema,
                zero_threshold: p.zero_threshold,
                zero_count,
                count,
                sum: p.sum,
                positive_spans: spans_from(&p.positive_spans),
                negative_spans: spans_from(&p.negative_spans),
                positive_buckets: p.positive_deltas.clone(),
                negative_buckets: p.negative_deltas.clone(),
                custom_values: p.custom_values.clone(),
            }))
        }
    }
}

/// The message of an integer histogram sample at `timestamp`.
pub fn from_histogram(timestamp: i64, x: &Histogram) -> PbHistogram {
    PbHistogram {
        count: Some(h::Count::CountInt(x.count)),
        sum: x.sum,
        schema: x.schema,
        zero_threshold: x.zero_threshold,
        zero_count: Some(h::ZeroCount::ZeroCountInt(x.zero_count)),
        negative_spans: spans_to(&x.negative_spans),
        negative_deltas: x.negative_buckets.clone(),
        positive_spans: spans_to(&x.positive_spans),
        positive_deltas: x.positive_buckets.clone(),
        reset_hint: hint_to(x.counter_reset_hint),
        timestamp,
        custom_values: x.custom_values.clone(),
        ..PbHistogram::default()
    }
}

/// The message of a float histogram sample at `timestamp`.
pub fn from_float_histogram(timestamp: i64, x: &FloatHistogram) -> PbHistogram {
    PbHistogram {
        count: Some(h::Count::CountFloat(x.count)),
        sum: x.sum,
        schema: x.schema,
        zero_threshold: x.zero_threshold,
        zero_count: Some(h::ZeroCount::ZeroCountFloat(x.zero_count)),
        negative_spans: spans_to(&x.negative_spans),
        negative_counts: x.negative_buckets.clone(),
        positive_spans: spans_to(&x.positive_spans),
        positive_counts: x.positive_buckets.clone(),
        reset_hint: hint_to(x.counter_reset_hint),
        timestamp,
        custom_values: x.custom_values.clone(),
        ..PbHistogram::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn span_strategy() -> impl Strategy<Value = Vec<Span>> {
        proptest::collection::vec((-5i32..5, 0u32..4), 0..4).prop_map(|v| {
            v.into_iter()
                .map(|(offset, length)| Span { offset, length })
                .collect()
        })
    }

    fn total(spans: &[Span]) -> usize {
        spans.iter().map(|s| s.length as usize).sum()
    }

    proptest! {
        #[test]
        fn integer_round_trip(
            pos in span_strategy(), neg in span_strategy(),
            count in any::<u64>(), zero in any::<u64>(), sum in -1e9f64..1e9,
            schema in -4i32..=8, t in any::<i64>(), hint in 0usize..4,
        ) {
            let hints = [CounterResetHint::Unknown, CounterResetHint::CounterReset,
                CounterResetHint::NotCounterReset, CounterResetHint::Gauge];
            let x = Histogram {
                counter_reset_hint: hints[hint],
                schema, zero_threshold: 1e-128, zero_count: zero, count, sum,
                positive_buckets: (0..total(&pos) as i64).collect(),
                negative_buckets: (0..total(&neg) as i64).map(|d| -d).collect(),
                positive_spans: pos, negative_spans: neg,
                custom_values: vec![],
            };
            let p = from_histogram(t, &x);
            let bytes = prost::Message::encode_to_vec(&p);
            let back: PbHistogram = prost::Message::decode(bytes.as_slice()).unwrap();
            prop_assert_eq!(back.timestamp, t);
            prop_assert_eq!(to_model_histogram(&back).unwrap(), ModelHistogram::Int(x));
        }

        #[test]
        fn float_round_trip(pos in span_strategy(), count in 0f64..1e12, t in any::<i64>()) {
            let x = FloatHistogram {
                schema: 3,
                count, sum: count / 2.0, zero_count: 1.5,
                positive_buckets: (0..total(&pos)).map(|i| i as f64 + 0.5).collect(),
                positive_spans: pos,
                ..FloatHistogram::default()
            };
            let p = from_float_histogram(t, &x);
            let bytes = prost::Message::encode_to_vec(&p);
            let back: PbHistogram = prost::Message::decode(bytes.as_slice()).unwrap();
            prop_assert_eq!(to_model_histogram(&back).unwrap(), ModelHistogram::Float(x));
        }
    }

    #[test]
    fn inconsistent_shapes_are_refused() {
        let mut p = from_histogram(5, &Histogram::default());
        p.positive_spans = vec![BucketSpan {
            offset: 0,
            length: 2,
        }];
        p.positive_deltas = vec![1];
        assert_eq!(
            to_model_histogram(&p),
            Err(HistogramError::SpanMismatch {
                timestamp: 5,
                side: "positive",
                in_spans: 2,
                counts: 1
            })
        );
        let mut p = from_histogram(6, &Histogram::default());
        p.positive_counts = vec![1.0];
        assert_eq!(
            to_model_histogram(&p),
            Err(HistogramError::MixedCounts { timestamp: 6 })
        );
    }
}
