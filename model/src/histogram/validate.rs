//! Whether a histogram is well-formed enough to be stored: Prometheus's
//! `Histogram.Validate` and `FloatHistogram.Validate`, with the same
//! checks in the same order and its messages, so a refusal reads the same
//! in a log or a remote-write answer.

use thiserror::Error;

use super::{FloatHistogram, Histogram, Span, CUSTOM_BUCKETS_SCHEMA};

/// The lowest exponential schema.
pub const EXPONENTIAL_SCHEMA_MIN: i32 = -4;
/// The highest exponential schema.
pub const EXPONENTIAL_SCHEMA_MAX: i32 = 8;

/// Which bucket side a problem is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The positive buckets.
    Positive,
    /// The negative buckets.
    Negative,
    /// The custom buckets (schema −53).
    Custom,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Positive => "positive side",
            Side::Negative => "negative side",
            Side::Custom => "custom buckets",
        })
    }
}

/// Why a histogram cannot be stored.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum HistogramError {
    /// The schema is neither exponential (−4…8) nor custom (−53).
    #[error(
        "histogram has an invalid schema, which must be between {EXPONENTIAL_SCHEMA_MIN} and {EXPONENTIAL_SCHEMA_MAX} for exponential buckets, or {CUSTOM_BUCKETS_SCHEMA} for custom buckets, got schema {0}"
    )]
    InvalidSchema(i32),
    /// A span after the first (any span, for custom buckets) has a
    /// negative offset.
    #[error("{side}: span number {number} with offset {offset}: histogram has a span whose offset is negative")]
    NegativeSpanOffset {
        /// Where.
        side: Side,
        /// The span's number, from 1.
        number: usize,
        /// Its offset.
        offset: i32,
    },
    /// The spans address a different number of buckets than are given.
    #[error("{side}: spans need {spans} buckets, have {buckets} buckets: histogram spans specify different number of buckets than provided")]
    SpansBucketsMismatch {
        /// Where.
        side: Side,
        /// Buckets the spans address.
        spans: u64,
        /// Bucket values given.
        buckets: usize,
    },
    /// A bucket's count is negative.
    #[error("{side}: bucket number {number} has observation count of {count}: histogram has a bucket whose observation count is negative")]
    NegativeBucketCount {
        /// Where.
        side: Side,
        /// The bucket's number, from 1.
        number: usize,
        /// Its (absolute) count.
        count: f64,
    },
    /// The zero bucket's count is negative (float histograms).
    #[error("zero bucket has observation count of {0}: histogram has a bucket whose observation count is negative")]
    NegativeZeroCount(f64),
    /// The total count is negative (float histograms).
    #[error("observation count is  {0}: histogram's observation count is negative")]
    NegativeCount(f64),
    /// The buckets hold a different number of observations than the count
    /// says (integer histograms with a sum that is not NaN).
    #[error("{in_buckets} observations found in buckets, but the Count field is {count}: histogram's observation count should equal the number of observations found in the buckets (in absence of NaN)")]
    CountMismatch {
        /// Observations in the buckets.
        in_buckets: u64,
        /// The count field.
        count: u64,
    },
    /// The buckets hold more observations than the count (integer
    /// histograms with a NaN sum, where NaN observations are counted but
    /// in no bucket).
    #[error("{in_buckets} observations found in buckets, but the Count field is {count}: histogram's observation count should be at least the number of observations found in the buckets")]
    CountNotBigEnough {
        /// Observations in the buckets.
        in_buckets: u64,
        /// The count field.
        count: u64,
    },
    /// A custom bound is NaN.
    #[error("custom buckets: histogram custom bounds must not be NaN")]
    CustomBoundNaN,
    /// The custom bounds do not increase strictly.
    #[error("custom buckets: previous bound is {previous:.6} and current is {current:.6}: histogram custom bounds must be in strictly increasing order")]
    CustomBoundsNotIncreasing {
        /// The bound before.
        previous: f64,
        /// The bound not above it.
        current: f64,
    },
    /// The last custom bound is +Inf (it is implicit).
    #[error("custom buckets: last +Inf bound must not be explicitly defined: histogram custom bounds must be finite")]
    CustomBoundInfinite,
    /// The spans reach past the custom bounds.
    #[error("custom buckets: only {bounds} custom bounds defined which is insufficient to cover total span length of {span_length}: histogram custom bounds are too few")]
    TooFewCustomBounds {
        /// Custom bounds given.
        bounds: usize,
        /// The buckets the spans reach.
        span_length: i64,
    },
    /// A custom-bucket histogram has a zero bucket count.
    #[error("custom buckets: must have zero count of 0")]
    CustomBucketsZeroCount,
    /// A custom-bucket histogram has a zero threshold.
    #[error("custom buckets: must have zero threshold of 0")]
    CustomBucketsZeroThreshold,
    /// A custom-bucket histogram has negative spans.
    #[error("custom buckets: must not have negative spans")]
    CustomBucketsNegativeSpans,
    /// A custom-bucket histogram has negative buckets.
    #[error("custom buckets: must not have negative buckets")]
    CustomBucketsNegativeBuckets,
    /// An exponential histogram has custom bounds.
    #[error("histogram with exponential schema must not have custom bounds")]
    ExponentialSchemaCustomBounds,
}

/// Whether `schema` is an exponential schema Prometheus stores.
pub fn is_exponential_schema(schema: i32) -> bool {
    (EXPONENTIAL_SCHEMA_MIN..=EXPONENTIAL_SCHEMA_MAX).contains(&schema)
}

fn check_spans(side: Side, spans: &[Span], buckets: usize) -> Result<(), HistogramError> {
    let mut addressed = 0u64;
    for (n, s) in spans.iter().enumerate() {
        if n > 0 && s.offset < 0 {
            return Err(HistogramError::NegativeSpanOffset {
                side,
                number: n + 1,
                offset: s.offset,
            });
        }
        addressed += u64::from(s.length);
    }
    if addressed != buckets as u64 {
        return Err(HistogramError::SpansBucketsMismatch {
            side,
            spans: addressed,
            buckets,
        });
    }
    Ok(())
}

fn check_custom_bounds(
    bounds: &[f64],
    spans: &[Span],
    buckets: usize,
) -> Result<(), HistogramError> {
    let mut prev = f64::NEG_INFINITY;
    for (i, &b) in bounds.iter().enumerate() {
        if b.is_nan() {
            return Err(HistogramError::CustomBoundNaN);
        }
        if i > 0 && b <= prev {
            return Err(HistogramError::CustomBoundsNotIncreasing {
                previous: prev,
                current: b,
            });
        }
        prev = b;
    }
    if prev == f64::INFINITY {
        return Err(HistogramError::CustomBoundInfinite);
    }
    let (mut addressed, mut reach) = (0u64, 0i64);
    for (n, s) in spans.iter().enumerate() {
        if s.offset < 0 {
            return Err(HistogramError::NegativeSpanOffset {
                side: Side::Custom,
                number: n + 1,
                offset: s.offset,
            });
        }
        addressed += u64::from(s.length);
        reach += i64::from(s.length) + i64::from(s.offset);
    }
    if addressed != buckets as u64 {
        return Err(HistogramError::SpansBucketsMismatch {
            side: Side::Custom,
            spans: addressed,
            buckets,
        });
    }
    if (bounds.len() as i64) + 1 < reach {
        return Err(HistogramError::TooFewCustomBounds {
            bounds: bounds.len(),
            span_length: reach,
        });
    }
    Ok(())
}

/// Checks a custom-bucket histogram's fields that must be empty.
fn check_custom_layout(
    zero_count_is_zero: bool,
    zero_threshold: f64,
    negative_spans: &[Span],
    negative_buckets: usize,
) -> Result<(), HistogramError> {
    if !zero_count_is_zero {
        return Err(HistogramError::CustomBucketsZeroCount);
    }
    if zero_threshold != 0.0 {
        return Err(HistogramError::CustomBucketsZeroThreshold);
    }
    if !negative_spans.is_empty() {
        return Err(HistogramError::CustomBucketsNegativeSpans);
    }
    if negative_buckets > 0 {
        return Err(HistogramError::CustomBucketsNegativeBuckets);
    }
    Ok(())
}

/// Sums delta-encoded bucket counts, refusing a negative absolute count.
fn sum_deltas(side: Side, deltas: &[i64]) -> Result<u64, HistogramError> {
    let (mut last, mut total) = (0i64, 0u64);
    for (i, d) in deltas.iter().enumerate() {
        let c = last.wrapping_add(*d);
        if c < 0 {
            return Err(HistogramError::NegativeBucketCount {
                side,
                number: i + 1,
                count: c as f64,
            });
        }
        last = c;
        total = total.wrapping_add(c as u64);
    }
    Ok(total)
}

fn check_float_buckets(side: Side, counts: &[f64]) -> Result<(), HistogramError> {
    for (i, &c) in counts.iter().enumerate() {
        if c < 0.0 {
            return Err(HistogramError::NegativeBucketCount {
                side,
                number: i + 1,
                count: c,
            });
        }
    }
    Ok(())
}

impl Histogram {
    /// Whether the histogram can be stored, as Prometheus's `Validate`:
    /// a known schema, spans matching the bucket values, no negative
    /// bucket counts, custom bounds increasing and covering the spans, and
    /// the count equal to the buckets' observations (at least them, with
    /// a NaN sum).
    ///
    /// ```
    /// use aion_model::histogram::{Histogram, Span};
    /// let mut h = Histogram {
    ///     count: 3,
    ///     sum: 1.5,
    ///     positive_spans: vec![Span { offset: 0, length: 2 }],
    ///     positive_buckets: vec![1, 1],
    ///     ..Histogram::default()
    /// };
    /// assert!(h.validate().is_ok());
    /// h.count = 4;
    /// assert!(h.validate().unwrap_err().to_string().contains("3 observations found in buckets"));
    /// ```
    pub fn validate(&self) -> Result<(), HistogramError> {
        let mut negative = 0u64;
        if self.uses_custom_buckets() {
            check_custom_bounds(
                &self.custom_values,
                &self.positive_spans,
                self.positive_buckets.len(),
            )?;
            check_custom_layout(
                self.zero_count == 0,
                self.zero_threshold,
                &self.negative_spans,
                self.negative_buckets.len(),
            )?;
        } else if is_exponential_schema(self.schema) {
            check_spans(
                Side::Positive,
                &self.positive_spans,
                self.positive_buckets.len(),
            )?;
            check_spans(
                Side::Negative,
                &self.negative_spans,
                self.negative_buckets.len(),
            )?;
            negative = sum_deltas(Side::Negative, &self.negative_buckets)?;
            if !self.custom_values.is_empty() {
                return Err(HistogramError::ExponentialSchemaCustomBounds);
            }
        } else {
            return Err(HistogramError::InvalidSchema(self.schema));
        }
        let positive = sum_deltas(Side::Positive, &self.positive_buckets)?;
        let in_buckets = negative
            .wrapping_add(positive)
            .wrapping_add(self.zero_count);
        if self.sum.is_nan() {
            if in_buckets > self.count {
                return Err(HistogramError::CountNotBigEnough {
                    in_buckets,
                    count: self.count,
                });
            }
        } else if in_buckets != self.count {
            return Err(HistogramError::CountMismatch {
                in_buckets,
                count: self.count,
            });
        }
        Ok(())
    }
}

impl FloatHistogram {
    /// Whether the float histogram can be stored, as Prometheus's
    /// `Validate`: a known schema, spans matching the bucket values, no
    /// negative counts, custom bounds increasing and covering the spans.
    /// (The count is not compared with the buckets: float histograms come
    /// from computations whose rounding may leave them apart.)
    pub fn validate(&self) -> Result<(), HistogramError> {
        if self.uses_custom_buckets() {
            check_custom_bounds(
                &self.custom_values,
                &self.positive_spans,
                self.positive_buckets.len(),
            )?;
            check_custom_layout(
                self.zero_count == 0.0,
                self.zero_threshold,
                &self.negative_spans,
                self.negative_buckets.len(),
            )?;
        } else if is_exponential_schema(self.schema) {
            check_spans(
                Side::Positive,
                &self.positive_spans,
                self.positive_buckets.len(),
            )?;
            check_spans(
                Side::Negative,
                &self.negative_spans,
                self.negative_buckets.len(),
            )?;
            check_float_buckets(Side::Negative, &self.negative_buckets)?;
            if self.zero_count < 0.0 {
                return Err(HistogramError::NegativeZeroCount(self.zero_count));
            }
            if !self.custom_values.is_empty() {
                return Err(HistogramError::ExponentialSchemaCustomBounds);
            }
        } else {
            return Err(HistogramError::InvalidSchema(self.schema));
        }
        if self.count < 0.0 {
            return Err(HistogramError::NegativeCount(self.count));
        }
        check_float_buckets(Side::Positive, &self.positive_buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(offset: i32, length: u32) -> Span {
        Span { offset, length }
    }

    fn good() -> Histogram {
        Histogram {
            count: 7,
            zero_count: 1,
            sum: 12.0,
            schema: 1,
            zero_threshold: 1e-128,
            positive_spans: vec![span(-2, 2), span(1, 1)],
            positive_buckets: vec![1, 1, -1], // 1, 2, 1
            negative_spans: vec![span(0, 1)],
            negative_buckets: vec![2],
            ..Histogram::default()
        }
    }

    #[test]
    fn accepts_well_formed_histograms_and_stale_markers() {
        assert_eq!(good().validate(), Ok(()));
        assert_eq!(good().to_float().validate(), Ok(()));
        let stale = Histogram {
            sum: f64::from_bits(0x7ff0_0000_0000_0002),
            ..Histogram::default()
        };
        assert_eq!(stale.validate(), Ok(()));
        let nhcb = Histogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            count: 3,
            sum: 1.0,
            positive_spans: vec![span(0, 2)],
            positive_buckets: vec![1, 1],
            custom_values: vec![0.5, 1.0],
            ..Histogram::default()
        };
        assert_eq!(nhcb.validate(), Ok(()));
    }

    #[test]
    fn names_each_problem_as_prometheus_does() {
        let cases: Vec<(Histogram, &str)> = vec![
            (
                Histogram { schema: 9, ..good() },
                "invalid schema, which must be between -4 and 8 for exponential buckets, or -53 for custom buckets, got schema 9",
            ),
            (
                Histogram { positive_buckets: vec![1, 1], ..good() },
                "positive side: spans need 3 buckets, have 2 buckets",
            ),
            (
                Histogram { negative_spans: vec![span(0, 1), span(-1, 1)], negative_buckets: vec![2, 0], ..good() },
                "negative side: span number 2 with offset -1",
            ),
            (
                Histogram { positive_buckets: vec![1, -2, 1], ..good() },
                "positive side: bucket number 2 has observation count of -1",
            ),
            (
                Histogram { count: 8, ..good() },
                "7 observations found in buckets, but the Count field is 8: histogram's observation count should equal",
            ),
            (
                Histogram { count: 6, sum: f64::NAN, ..good() },
                "should be at least the number of observations",
            ),
            (
                Histogram { custom_values: vec![1.0], ..good() },
                "exponential schema must not have custom bounds",
            ),
        ];
        for (h, want) in cases {
            let got = h.validate().unwrap_err().to_string();
            assert!(got.contains(want), "{got:?} lacks {want:?}");
        }
        // A NaN sum allows observations outside every bucket.
        assert!(Histogram {
            count: 9,
            sum: f64::NAN,
            ..good()
        }
        .validate()
        .is_ok());
    }

    #[test]
    fn custom_buckets_rules() {
        let base = Histogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            count: 3,
            sum: 1.0,
            positive_spans: vec![span(0, 2)],
            positive_buckets: vec![1, 1],
            custom_values: vec![0.5, 1.0],
            ..Histogram::default()
        };
        let cases: Vec<(Histogram, &str)> = vec![
            (Histogram { custom_values: vec![1.0, 0.5], ..base.clone() }, "strictly increasing order"),
            (Histogram { custom_values: vec![0.5, f64::NAN], ..base.clone() }, "must not be NaN"),
            (Histogram { custom_values: vec![0.5, f64::INFINITY], ..base.clone() }, "must be finite"),
            (Histogram { positive_spans: vec![span(2, 2)], ..base.clone() }, "only 2 custom bounds defined which is insufficient to cover total span length of 4"),
            (Histogram { positive_spans: vec![span(-1, 2)], ..base.clone() }, "custom buckets: span number 1 with offset -1"),
            (Histogram { zero_count: 1, count: 4, ..base.clone() }, "must have zero count of 0"),
            (Histogram { zero_threshold: 0.1, ..base.clone() }, "must have zero threshold of 0"),
            (Histogram { negative_spans: vec![span(0, 1)], ..base.clone() }, "must not have negative spans"),
        ];
        for (h, want) in cases {
            let got = h.validate().unwrap_err().to_string();
            assert!(got.contains(want), "{got:?} lacks {want:?}");
        }
    }

    #[test]
    fn float_histograms_refuse_negative_counts() {
        let mut f = good().to_float();
        f.count = -1.0;
        assert!(f
            .validate()
            .unwrap_err()
            .to_string()
            .contains("observation count is  -1"));
        let mut f = good().to_float();
        f.zero_count = -0.5;
        assert!(matches!(
            f.validate(),
            Err(HistogramError::NegativeZeroCount(_))
        ));
        let mut f = good().to_float();
        f.positive_buckets[1] = -2.0;
        assert!(f
            .validate()
            .unwrap_err()
            .to_string()
            .contains("bucket number 2 has observation count of -2"));
        // Count and buckets may disagree in a float histogram.
        let mut f = good().to_float();
        f.count = 100.0;
        assert!(f.validate().is_ok());
    }
}
