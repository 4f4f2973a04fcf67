//! Arithmetic on float histograms, as PromQL needs it: `+` and `-`
//! between histograms (meeting at the lower schema and the wider zero
//! bucket), `*` and `/` by a scalar.

use super::buckets::IndexedCounts;
use super::{CounterResetHint, FloatHistogram, Span, CUSTOM_BUCKETS_SCHEMA};

/// Why two histograms cannot be added or subtracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HistogramOpError {
    /// One has exponential buckets, the other custom bounds.
    #[error("cannot apply this operation to histograms with a mix of exponential and custom bucket schemas")]
    IncompatibleSchema,
}

/// What an addition or subtraction noticed besides its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpOutcome {
    /// One operand said "counter reset", the other "no counter reset".
    pub counter_reset_collision: bool,
    /// Custom bounds differed and were reduced to the bounds both share.
    pub custom_bounds_reconciled: bool,
}

impl FloatHistogram {
    /// Scales every count and the sum by `factor`; a negative factor makes
    /// the result a gauge.
    pub fn mul(&mut self, factor: f64) -> &mut Self {
        self.zero_count *= factor;
        self.count *= factor;
        self.sum *= factor;
        self.positive_buckets.iter_mut().for_each(|b| *b *= factor);
        self.negative_buckets.iter_mut().for_each(|b| *b *= factor);
        if factor < 0.0 {
            self.counter_reset_hint = CounterResetHint::Gauge;
        }
        self
    }

    /// Divides every count and the sum by `scalar`; dividing by zero
    /// leaves no buckets (and infinite or NaN totals), a negative divisor
    /// makes the result a gauge.
    pub fn div(&mut self, scalar: f64) -> &mut Self {
        self.zero_count /= scalar;
        self.count /= scalar;
        self.sum /= scalar;
        if scalar == 0.0 {
            self.positive_buckets.clear();
            self.negative_buckets.clear();
            self.positive_spans.clear();
            self.negative_spans.clear();
            return self;
        }
        self.positive_buckets.iter_mut().for_each(|b| *b /= scalar);
        self.negative_buckets.iter_mut().for_each(|b| *b /= scalar);
        if scalar < 0.0 {
            self.counter_reset_hint = CounterResetHint::Gauge;
        }
        self
    }

    /// Adds `other` into `self`: at the lower of both schemas, with the
    /// wider zero bucket (widened further so it never cuts a populated
    /// bucket). The layout may keep empty buckets; [`compact`] removes
    /// them.
    ///
    /// [`compact`]: FloatHistogram::compact
    pub fn add(&mut self, other: &FloatHistogram) -> Result<OpOutcome, HistogramOpError> {
        self.add_or_sub(other, 1.0)
    }

    /// Subtracts `other` from `self`, as [`add`](Self::add).
    pub fn sub(&mut self, other: &FloatHistogram) -> Result<OpOutcome, HistogramOpError> {
        self.add_or_sub(other, -1.0)
    }

    fn add_or_sub(
        &mut self,
        other: &FloatHistogram,
        sign: f64,
    ) -> Result<OpOutcome, HistogramOpError> {
        if self.uses_custom_buckets() != other.uses_custom_buckets() {
            return Err(HistogramOpError::IncompatibleSchema);
        }
        let mut outcome = OpOutcome {
            counter_reset_collision: self.adjust_counter_reset(other),
            ..OpOutcome::default()
        };
        self.count += sign * other.count;
        self.sum += sign * other.sum;
        if self.uses_custom_buckets() {
            if self.custom_values == other.custom_values {
                let (s, b) = merge(
                    &self.positive_spans,
                    &self.positive_buckets,
                    &other.positive_spans,
                    &other.positive_buckets,
                    sign,
                    |i| i,
                );
                self.positive_spans = s;
                self.positive_buckets = b;
            } else {
                outcome.custom_bounds_reconciled = true;
                self.add_mismatched_custom(other, sign);
            }
            return Ok(outcome);
        }
        let other_zero = self.reconcile_zero_buckets(other);
        self.zero_count += sign * other_zero;
        let mut tmp;
        let other = if other.schema > self.schema {
            tmp = other.clone();
            tmp.reduce_resolution(self.schema);
            &tmp
        } else {
            if other.schema < self.schema {
                self.reduce_resolution(other.schema);
            }
            other
        };
        // Buckets of `other` inside the (possibly widened) zero bucket
        // were counted in `other_zero`.
        let t = self.zero_threshold;
        let schema = self.schema;
        let outside = move |idx: i32| {
            if super::buckets::exponential_bound(idx, schema) > t {
                idx
            } else {
                i32::MIN
            }
        };
        let (s, b) = merge(
            &self.positive_spans,
            &self.positive_buckets,
            &other.positive_spans,
            &other.positive_buckets,
            sign,
            outside,
        );
        self.positive_spans = s;
        self.positive_buckets = b;
        let (s, b) = merge(
            &self.negative_spans,
            &self.negative_buckets,
            &other.negative_spans,
            &other.negative_buckets,
            sign,
            outside,
        );
        self.negative_spans = s;
        self.negative_buckets = b;
        Ok(outcome)
    }

    /// Prometheus's rules for the hint of a sum or difference; true on a
    /// collision of "reset" and "not reset".
    fn adjust_counter_reset(&mut self, other: &FloatHistogram) -> bool {
        use CounterResetHint::*;
        let (a, b) = (self.counter_reset_hint, other.counter_reset_hint);
        match (a, b) {
            _ if a == b => false,
            (Gauge, _) => false,
            (_, Gauge) => {
                self.counter_reset_hint = Gauge;
                false
            }
            (Unknown, _) => false,
            (_, Unknown) => {
                self.counter_reset_hint = Unknown;
                false
            }
            _ => {
                self.counter_reset_hint = Unknown;
                true
            }
        }
    }

    /// The zero count this histogram would have with a zero bucket of at
    /// least `larger` (`>= zero_threshold`), and the threshold that takes
    /// (raised to the bound of a populated bucket it would cut).
    pub(crate) fn zero_count_for_larger_threshold(&self, mut larger: f64) -> (f64, f64) {
        if larger == self.zero_threshold {
            return (self.zero_count, larger);
        }
        'outer: loop {
            let mut zc = self.zero_count;
            for b in self.positive_bucket_iter() {
                if b.lower >= larger {
                    break;
                }
                zc += b.count;
                if b.upper > larger {
                    if b.count != 0.0 {
                        larger = b.upper;
                    }
                    break;
                }
            }
            for b in self.negative_bucket_iter() {
                if b.upper <= -larger {
                    break;
                }
                zc += b.count;
                if b.lower < -larger {
                    if b.count != 0.0 {
                        larger = -b.lower;
                        continue 'outer;
                    }
                    break;
                }
            }
            return (zc, larger);
        }
    }

    /// Removes the buckets inside the zero bucket (their counts are
    /// already in the zero count).
    fn trim_buckets_in_zero_bucket(&mut self) {
        let t = self.zero_threshold;
        let pos: Vec<bool> = self.positive_bucket_iter().map(|b| b.lower < t).collect();
        for (b, inside) in self.positive_buckets.iter_mut().zip(pos) {
            if inside {
                *b = 0.0;
            }
        }
        let neg: Vec<bool> = self.negative_bucket_iter().map(|b| b.upper > -t).collect();
        for (b, inside) in self.negative_buckets.iter_mut().zip(neg) {
            if inside {
                *b = 0.0;
            }
        }
        self.compact(0);
    }

    /// Widens this histogram's zero bucket to cover `other`'s (and
    /// neither's populated buckets partially); returns the zero count
    /// `other` has with that zero bucket.
    fn reconcile_zero_buckets(&mut self, other: &FloatHistogram) -> f64 {
        let mut other_zero = other.zero_count;
        let mut other_t = other.zero_threshold;
        while other_t != self.zero_threshold {
            // A NaN threshold (only a damaged chunk has one) never equals
            // anything: stop rather than loop forever, as the loop would
            // in Prometheus.
            if other_t.is_nan() || self.zero_threshold.is_nan() {
                break;
            }
            if self.zero_threshold > other_t {
                (other_zero, other_t) = other.zero_count_for_larger_threshold(self.zero_threshold);
            }
            if other_t > self.zero_threshold {
                (self.zero_count, self.zero_threshold) =
                    self.zero_count_for_larger_threshold(other_t);
                self.trim_buckets_in_zero_bucket();
            }
        }
        other_zero
    }

    /// Adds custom-bucket histograms with different bounds: both are
    /// mapped onto the bounds they share (each bucket into the first
    /// shared bound at or above its own), empty buckets left out.
    fn add_mismatched_custom(&mut self, other: &FloatHistogram, sign: f64) {
        let shared: Vec<f64> = self
            .custom_values
            .iter()
            .copied()
            .filter(|v| other.custom_values.contains(v))
            .collect();
        let mut target = vec![0.0; shared.len() + 1];
        let mut map = |spans: &[Span], counts: &[f64], bounds: &[f64], sign: f64| {
            for (idx, c) in IndexedCounts::new(spans, counts) {
                let t = usize::try_from(idx)
                    .ok()
                    .and_then(|i| bounds.get(i))
                    .map_or(shared.len(), |b| shared.partition_point(|s| s < b));
                target[t.min(shared.len())] += sign * c;
            }
        };
        map(
            &self.positive_spans,
            &self.positive_buckets,
            &self.custom_values,
            1.0,
        );
        map(
            &other.positive_spans,
            &other.positive_buckets,
            &other.custom_values,
            sign,
        );
        let spans = vec![Span {
            offset: 0,
            length: target.len() as u32,
        }];
        let (s, b) = super::compact::compact_buckets(&spans, &target, 0);
        self.positive_spans = s;
        self.positive_buckets = b;
        self.custom_values = shared;
        debug_assert_eq!(self.schema, CUSTOM_BUCKETS_SCHEMA);
    }
}

/// Merges two bucket layouts of the same schema into one holding every
/// bucket of either: `a + sign × b`. `keep_b` maps a bucket index of `b`
/// to itself, or to `i32::MIN` to leave that bucket out.
fn merge(
    a_spans: &[Span],
    a: &[f64],
    b_spans: &[Span],
    b: &[f64],
    sign: f64,
    keep_b: impl Fn(i32) -> i32,
) -> (Vec<Span>, Vec<f64>) {
    let mut ia = IndexedCounts::new(a_spans, a).peekable();
    let mut ib = IndexedCounts::new(b_spans, b)
        .filter_map(|(i, c)| {
            let k = keep_b(i);
            (k != i32::MIN).then_some((k, c))
        })
        .peekable();
    let mut spans: Vec<Span> = Vec::with_capacity(a_spans.len().max(b_spans.len()));
    let mut counts = Vec::with_capacity(a.len().max(b.len()));
    let mut last: Option<i32> = None;
    loop {
        let (idx, c) = match (ia.peek().copied(), ib.peek().copied()) {
            (None, None) => break,
            (Some((i, x)), None) => {
                ia.next();
                (i, x)
            }
            (None, Some((j, y))) => {
                ib.next();
                (j, sign * y)
            }
            (Some((i, x)), Some((j, y))) => {
                if i < j {
                    ia.next();
                    (i, x)
                } else if j < i {
                    ib.next();
                    (j, sign * y)
                } else {
                    ia.next();
                    ib.next();
                    (i, x + sign * y)
                }
            }
        };
        match (last, spans.last_mut()) {
            (Some(l), Some(s)) if l.checked_add(1) == Some(idx) => s.length += 1,
            // Wrapping as Go's int32 does: only a damaged layout has gaps
            // wider than `i32`.
            (Some(l), _) => spans.push(Span {
                offset: idx.wrapping_sub(l).wrapping_sub(1),
                length: 1,
            }),
            (None, _) => spans.push(Span {
                offset: idx,
                length: 1,
            }),
        }
        counts.push(c);
        last = Some(idx);
    }
    (spans, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `chunk_thanos_aggr` fuzz target: a NaN zero threshold
    /// (from a damaged chunk) made the zero-bucket reconciliation loop
    /// forever.
    #[test]
    fn a_nan_zero_threshold_ends() {
        let mut a = FloatHistogram {
            zero_threshold: f64::NAN,
            count: 1.0,
            zero_count: 1.0,
            ..FloatHistogram::default()
        };
        let b = FloatHistogram {
            zero_threshold: 0.001,
            count: 2.0,
            zero_count: 2.0,
            ..FloatHistogram::default()
        };
        a.add(&b).unwrap();
        assert_eq!(a.count, 3.0);
        let mut c = b.clone();
        c.sub(&a).unwrap();
    }
}
