//! Bucket bounds and iteration: which values a bucket index stands for,
//! at an exponential schema or with custom bounds.
//!
//! Exponential bucket `i` at schema `s` is `(2^((i-1)/2^s), 2^(i/2^s)]`
//! (mirrored for negative buckets); custom bucket `i` is
//! `(custom_values[i-1], custom_values[i]]`, the first starting at −∞ and
//! the last ending at +∞. Bounds are what PromQL interpolates in
//! (`histogram_quantile`, `histogram_fraction`) and what the HTTP API and
//! the text form print.

use std::fmt;

use super::{FloatHistogram, Span, CUSTOM_BUCKETS_SCHEMA};
use crate::gotext::GoFloat;

/// One bucket with its bounds, as a bucket iterator yields it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Whether `lower` belongs to the bucket.
    pub lower_inclusive: bool,
    /// Whether `upper` belongs to the bucket.
    pub upper_inclusive: bool,
    /// Observations in the bucket.
    pub count: f64,
    /// The bucket's index (irrelevant for the zero bucket).
    pub index: i32,
}

impl fmt::Display for Bucket {
    /// `[lower,upper]:count` with `(`/`)` for exclusive bounds, as
    /// Prometheus's `Bucket.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_with_count(f, GoFloat(self.count))
    }
}

impl Bucket {
    /// The bounds as `Display` prints them, followed by `:count` (an
    /// integer histogram's counts are printed as integers).
    pub(crate) fn fmt_with_count(
        &self,
        f: &mut fmt::Formatter<'_>,
        count: impl fmt::Display,
    ) -> fmt::Result {
        let open = if self.lower_inclusive { '[' } else { '(' };
        let close = if self.upper_inclusive { ']' } else { ')' };
        write!(
            f,
            "{open}{},{}{close}:{count}",
            GoFloat(self.lower),
            GoFloat(self.upper),
        )
    }
}

impl Bucket {
    /// The fraction of the bucket's observations estimated to be at or
    /// below `v` (inside the bucket), interpolating linearly (`linear`,
    /// custom buckets and the zero bucket) or on a logarithmic scale
    /// (exponential buckets).
    pub fn fraction_below(&self, v: f64, linear: bool) -> f64 {
        if linear {
            return (v - self.lower) / (self.upper - self.lower);
        }
        let lo = self.lower.abs().log2();
        let hi = self.upper.abs().log2();
        let lv = v.abs().log2();
        if v > 0.0 {
            (lv - lo) / (hi - lo)
        } else {
            1.0 - (lv - hi) / (lo - hi)
        }
    }
}

/// `2^(i / 2^schema) / 2` for `0 <= i < 2^schema`: the fraction of a
/// bucket bound at schema 0…8 (correctly rounded; Prometheus's own table
/// of these fractions is one ulp lower for about two thirds of them, so a
/// bound may differ from Prometheus's in its last digit).
fn bound_fraction(i: i64, schema: i32) -> f64 {
    (i as f64 / (1i64 << schema) as f64).exp2() / 2.0
}

/// The upper bound of exponential bucket `idx` at `schema` (−4…8); the
/// bucket below +Inf's ends at `f64::MAX`, as in Prometheus.
pub fn exponential_bound(idx: i32, schema: i32) -> f64 {
    if schema < 0 {
        let exp = i64::from(idx) << (-schema).min(62);
        if exp == 1024 {
            return f64::MAX;
        }
        return ldexp(1.0, exp);
    }
    let schema = schema.min(8);
    let frac_idx = i64::from(idx) & ((1i64 << schema) - 1);
    let frac = bound_fraction(frac_idx, schema);
    let exp = (i64::from(idx) >> schema) + 1;
    if frac == 0.5 && exp == 1025 {
        return f64::MAX;
    }
    ldexp(frac, exp)
}

/// `frac × 2^exp`, saturating to 0 and ∞ as Go's `math.Ldexp`.
fn ldexp(frac: f64, exp: i64) -> f64 {
    let mut v = frac;
    let mut e = exp.clamp(-2200, 2200);
    // Apply in steps that stay within `powi`'s exact range.
    while e > 1000 {
        v *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        v *= 2f64.powi(-1000);
        e += 1000;
    }
    v * 2f64.powi(e as i32)
}

/// The upper bound of bucket `idx` at `schema`, custom bounds included
/// (`idx == custom_values.len()` is +Inf, −1 is −Inf).
pub fn bucket_bound(idx: i32, schema: i32, custom_values: &[f64]) -> f64 {
    if schema == CUSTOM_BUCKETS_SCHEMA {
        return match usize::try_from(idx) {
            Err(_) => f64::NEG_INFINITY,
            Ok(i) => custom_values.get(i).copied().unwrap_or(f64::INFINITY),
        };
    }
    exponential_bound(idx, schema)
}

/// Walks spans and their counts as `(bucket index, count)`.
#[derive(Debug, Clone)]
pub struct IndexedCounts<'a, T> {
    spans: std::slice::Iter<'a, Span>,
    counts: std::slice::Iter<'a, T>,
    idx: i32,
    left: u32,
    started: bool,
}

impl<'a, T> IndexedCounts<'a, T> {
    /// Iterates `counts` laid out by `spans`.
    pub fn new(spans: &'a [Span], counts: &'a [T]) -> Self {
        IndexedCounts {
            spans: spans.iter(),
            counts: counts.iter(),
            idx: 0,
            left: 0,
            started: false,
        }
    }
}

impl<'a, T: Copy> Iterator for IndexedCounts<'a, T> {
    type Item = (i32, T);

    fn next(&mut self) -> Option<(i32, T)> {
        while self.left == 0 {
            let s = self.spans.next()?;
            if self.started {
                self.idx = self.idx.wrapping_add(s.offset);
            } else {
                self.idx = s.offset;
                self.started = true;
            }
            // `idx` is the index of the next bucket; spans are relative
            // to the end of the previous one.
            self.left = s.length;
            if self.left > 0 {
                let c = *self.counts.next()?;
                self.left -= 1;
                let i = self.idx;
                self.idx = self.idx.wrapping_add(1);
                return Some((i, c));
            }
        }
        let c = *self.counts.next()?;
        self.left -= 1;
        let i = self.idx;
        self.idx = self.idx.wrapping_add(1);
        Some((i, c))
    }
}

/// The buckets of one sign of a float histogram with their bounds, in
/// increasing index order (so decreasing value for negative buckets).
#[derive(Debug, Clone)]
pub struct BucketIter<'a> {
    inner: IndexedCounts<'a, f64>,
    schema: i32,
    custom_values: &'a [f64],
    positive: bool,
}

impl Iterator for BucketIter<'_> {
    type Item = Bucket;

    fn next(&mut self) -> Option<Bucket> {
        let (idx, count) = self.inner.next()?;
        let upper = bucket_bound(idx, self.schema, self.custom_values);
        let lower = bucket_bound(idx.wrapping_sub(1), self.schema, self.custom_values);
        let (lower, upper) = if self.positive {
            (lower, upper)
        } else {
            (-upper, -lower)
        };
        let (lower_inclusive, upper_inclusive) = if self.schema == CUSTOM_BUCKETS_SCHEMA {
            (idx == 0, true)
        } else {
            (lower < 0.0, upper > 0.0)
        };
        Some(Bucket {
            lower,
            upper,
            lower_inclusive,
            upper_inclusive,
            count,
            index: idx,
        })
    }
}

impl FloatHistogram {
    /// The positive buckets (all custom buckets), lowest first.
    pub fn positive_bucket_iter(&self) -> BucketIter<'_> {
        BucketIter {
            inner: IndexedCounts::new(&self.positive_spans, &self.positive_buckets),
            schema: self.schema,
            custom_values: &self.custom_values,
            positive: true,
        }
    }

    /// The negative buckets, closest to zero first.
    pub fn negative_bucket_iter(&self) -> BucketIter<'_> {
        BucketIter {
            inner: IndexedCounts::new(&self.negative_spans, &self.negative_buckets),
            schema: self.schema,
            custom_values: &[],
            positive: false,
        }
    }

    /// The zero bucket `[-zero_threshold, zero_threshold]`.
    pub fn zero_bucket(&self) -> Bucket {
        Bucket {
            lower: -self.zero_threshold,
            upper: self.zero_threshold,
            lower_inclusive: true,
            upper_inclusive: true,
            count: self.zero_count,
            index: 0,
        }
    }

    /// Every bucket from the lowest to the highest value: negative buckets
    /// (most negative first), the zero bucket when populated, then
    /// positive buckets, bounds clipped at the zero bucket — the order and
    /// bounds of Prometheus's `AllBucketIterator`.
    pub fn all_buckets(&self) -> impl Iterator<Item = Bucket> + '_ {
        let mut neg: Vec<Bucket> = self.negative_bucket_iter().collect();
        neg.reverse();
        let zero = (self.zero_count > 0.0).then(|| self.zero_bucket());
        let t = self.zero_threshold;
        let clip = move |mut b: Bucket| {
            if b.upper < 0.0 && b.upper > -t {
                b.upper = -t;
            } else if b.lower > 0.0 && b.lower < t {
                b.lower = t;
            }
            b
        };
        neg.into_iter()
            .map(clip)
            .chain(zero)
            .chain(self.positive_bucket_iter().map(clip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_bounds() {
        assert_eq!(exponential_bound(0, 0), 1.0);
        assert_eq!(exponential_bound(1, 0), 2.0);
        assert_eq!(exponential_bound(-1, 0), 0.5);
        assert_eq!(exponential_bound(1, 1), std::f64::consts::SQRT_2);
        assert_eq!(exponential_bound(1, -2), 16.0);
        assert_eq!(exponential_bound(1024, 0), f64::MAX);
        assert_eq!(exponential_bound(1025, 0), f64::INFINITY);
        assert_eq!(exponential_bound(256, -2), f64::MAX);
        // Every schema agrees with the coarser ones at shared bounds.
        for s in 1..=8 {
            for i in -20..20 {
                assert_eq!(exponential_bound(i << s, s), exponential_bound(i, 0));
            }
        }
    }

    #[test]
    fn iterates_with_bounds() {
        let h = FloatHistogram {
            schema: 0,
            zero_threshold: 0.001,
            zero_count: 1.0,
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            positive_buckets: vec![1.0, 2.0],
            negative_spans: vec![Span {
                offset: 1,
                length: 1,
            }],
            negative_buckets: vec![3.0],
            ..FloatHistogram::default()
        };
        let all: Vec<String> = h.all_buckets().map(|b| b.to_string()).collect();
        assert_eq!(
            all,
            ["[-2,-1):3", "[-0.001,0.001]:1", "(0.5,1]:1", "(1,2]:2"]
        );
        let c = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![1.0, 5.0],
            positive_spans: vec![Span {
                offset: 0,
                length: 3,
            }],
            positive_buckets: vec![1.0, 2.0, 3.0],
            ..FloatHistogram::default()
        };
        let all: Vec<String> = c.all_buckets().map(|b| b.to_string()).collect();
        assert_eq!(all, ["[-Inf,1]:1", "(1,5]:2", "(5,+Inf]:3"]);
    }
}
