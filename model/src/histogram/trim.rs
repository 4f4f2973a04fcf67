//! Trimming a histogram at a value (PromQL's `</` and `>/`): the
//! observations above (or below) the value are removed, buckets that
//! contain it are split by interpolation, and count and sum are
//! re-estimated from the buckets that remain (each bucket's observations
//! at its midpoint), as Prometheus's `TrimBuckets`.

use super::{Bucket, FloatHistogram};

/// The middle of the part of a bucket that remains: arithmetic for
/// custom buckets, geometric for exponential ones; infinite ends fall
/// back to the finite one.
fn midpoint(lower: f64, upper: f64, positive: bool, linear: bool) -> f64 {
    if lower.is_infinite() {
        if upper.is_infinite() {
            return 0.0;
        }
        return if upper > 0.0 { upper / 2.0 } else { upper };
    }
    if upper.is_infinite() {
        return lower;
    }
    if linear {
        return (lower + upper) / 2.0;
    }
    let g = (lower * upper).abs().sqrt();
    if positive {
        g
    } else {
        -g
    }
}

/// `(kept count, midpoint)` of a bucket with an infinite bound.
fn infinite_bucket(upper_trim: bool, b: &Bucket, rhs: f64) -> (f64, f64) {
    let finite = |x: f64| if x.is_infinite() { 0.0 } else { x };
    if b.lower == f64::NEG_INFINITY {
        if upper_trim {
            if rhs >= b.upper {
                return (b.count, 0.0);
            }
            if rhs > 0.0 && b.upper > 0.0 && b.upper.is_finite() {
                // Custom buckets only: the lower bound is taken as 0.
                return (b.count * rhs / b.upper, rhs / 2.0);
            }
            if b.upper <= 0.0 {
                return (b.count, rhs);
            }
            return (0.0, finite(b.upper));
        }
        if rhs <= b.lower {
            return (b.count, 0.0);
        }
        if rhs >= 0.0 && b.upper > rhs && b.upper.is_finite() {
            return (b.count * (1.0 - rhs / b.upper), (rhs + b.upper) / 2.0);
        }
        return (0.0, finite(b.upper));
    }
    // Upper bound +Inf.
    if upper_trim {
        return (0.0, finite(b.lower));
    }
    if rhs >= b.lower {
        return (b.count, rhs);
    }
    (0.0, finite(b.lower))
}

/// `(kept count, midpoint)` of a bucket containing `rhs`.
fn split_bucket(
    b: &Bucket,
    rhs: f64,
    upper_trim: bool,
    positive: bool,
    linear: bool,
) -> (f64, f64) {
    if b.lower == f64::NEG_INFINITY || b.upper == f64::INFINITY {
        return infinite_bucket(upper_trim, b, rhs);
    }
    let under = if rhs <= b.lower {
        0.0
    } else if rhs >= b.upper {
        b.count
    } else {
        b.count * b.fraction_below(rhs, linear)
    };
    if upper_trim {
        (under, midpoint(b.lower, rhs, positive, linear))
    } else {
        (b.count - under, midpoint(rhs, b.upper, positive, linear))
    }
}

/// `(kept count, midpoint)` of the zero bucket.
fn zero_bucket_trim(
    z: &Bucket,
    rhs: f64,
    has_negative: bool,
    has_positive: bool,
    upper_trim: bool,
) -> (f64, f64) {
    let (mut lower, mut upper) = (z.lower, z.upper);
    if has_negative && !has_positive {
        upper = 0.0;
    }
    if has_positive && !has_negative {
        lower = 0.0;
    }
    if upper_trim {
        if rhs <= lower {
            return (0.0, 0.0);
        }
        if rhs >= upper {
            return (z.count, (lower + upper) / 2.0);
        }
        (
            z.count * (rhs - lower) / (upper - lower),
            (lower + rhs) / 2.0,
        )
    } else {
        if rhs <= lower {
            return (z.count, (lower + upper) / 2.0);
        }
        if rhs >= upper {
            return (0.0, 0.0);
        }
        (
            z.count * (upper - rhs) / (upper - lower),
            (rhs + upper) / 2.0,
        )
    }
}

impl FloatHistogram {
    /// Keeps the observations below `rhs` (`upper_trim`, PromQL's `</`)
    /// or above it (`>/`). When anything was removed, count and sum are
    /// re-estimated from what is left and the result is compacted.
    pub fn trim_buckets(&mut self, rhs: f64, upper_trim: bool) -> &mut Self {
        let linear = self.uses_custom_buckets();
        let (mut count, mut sum) = (0.0, 0.0);
        let mut trimmed = false;
        let mut seen = [false, false]; // positive, negative
        for positive in [true, false] {
            let buckets: Vec<Bucket> = if positive {
                self.positive_bucket_iter().collect()
            } else {
                self.negative_bucket_iter().collect()
            };
            let counts = if positive {
                &mut self.positive_buckets
            } else {
                &mut self.negative_buckets
            };
            for (i, b) in buckets.iter().enumerate() {
                if b.count == 0.0 {
                    continue;
                }
                seen[usize::from(!positive)] = true;
                let whole = if upper_trim {
                    b.upper <= rhs
                } else {
                    b.lower >= rhs
                };
                let partial = if upper_trim {
                    b.lower < rhs
                } else {
                    b.upper > rhs
                };
                if whole {
                    count += b.count;
                    sum += midpoint(b.lower, b.upper, positive, linear) * b.count;
                } else if partial {
                    let (keep, mid) = split_bucket(b, rhs, upper_trim, positive, linear);
                    count += keep;
                    sum += mid * keep;
                    if counts[i] != keep {
                        counts[i] = keep;
                        trimmed = true;
                    }
                } else {
                    counts[i] = 0.0;
                    trimmed = true;
                }
            }
        }
        if self.zero_count > 0.0 {
            let z = self.zero_bucket();
            let (keep, mid) = zero_bucket_trim(&z, rhs, seen[1], seen[0], upper_trim);
            if self.zero_count != keep {
                self.zero_count = keep;
                trimmed = true;
            }
            sum += mid * keep;
            count += keep;
        }
        if trimmed {
            self.count = count;
            self.sum = sum;
            self.compact(0);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::super::Span;
    use super::*;

    #[test]
    fn trims_and_splits() {
        // Schema 0 buckets (1,2]:2 (2,4]:4.
        let h = FloatHistogram {
            count: 6.0,
            sum: 15.0,
            positive_spans: vec![Span {
                offset: 1,
                length: 2,
            }],
            positive_buckets: vec![2.0, 4.0],
            ..FloatHistogram::default()
        };
        let mut below = h.clone();
        below.trim_buckets(2.0, true);
        assert_eq!(below.count, 2.0);
        assert_eq!(below.positive_buckets, [2.0]);
        assert!((below.sum - 2.0 * 2f64.sqrt()).abs() < 1e-12);
        let mut above = h.clone();
        above.trim_buckets(2.0, false);
        assert_eq!(above.count, 4.0);
        // Splitting (2,4] at √8 on the log scale keeps half of it.
        let mut mid = h.clone();
        mid.trim_buckets(8f64.sqrt(), true);
        assert!((mid.count - 4.0).abs() < 1e-12);
        // Nothing removed: unchanged.
        let mut all = h.clone();
        all.trim_buckets(f64::INFINITY, true);
        assert!(all.equals(&h));
    }
}
