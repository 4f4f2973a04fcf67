//! What PromQL's histogram functions compute from one native histogram:
//! `histogram_quantile`, `histogram_fraction`, and the mean and variance
//! behind `histogram_avg`, `histogram_stddev`, `histogram_stdvar`
//! (Prometheus's `HistogramQuantile`, `HistogramFraction`,
//! `histogramVariance`).

use aion_model::histogram::{Bucket, FloatHistogram};

use super::mathx::kahan_inc;

/// What a quantile or fraction found out about NaN observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NanNote {
    None,
    /// The quantile lies above every bucket: the result is NaN.
    QuantileNaN,
    /// NaN observations skew the quantile higher.
    QuantileSkew,
    /// NaN observations are left out of the fraction.
    FractionNaNs,
}

/// The `q` quantile of `h`: linear interpolation in custom and zero
/// buckets, logarithmic in exponential ones.
pub(crate) fn histogram_quantile(q: f64, h: &FloatHistogram) -> (f64, NanNote) {
    if q < 0.0 {
        return (f64::NEG_INFINITY, NanNote::None);
    }
    if q > 1.0 {
        return (f64::INFINITY, NanNote::None);
    }
    if h.count == 0.0 || q.is_nan() {
        return (f64::NAN, NanNote::None);
    }
    let mut all: Vec<Bucket> = h.all_buckets().collect();
    let forward = h.sum.is_nan() || q < 0.5;
    if !forward {
        all.reverse();
        // Reverse iteration yields the zero bucket between the positive
        // and negative buckets, as the forward one does.
    }
    let mut rank = if forward {
        q * h.count
    } else {
        (1.0 - q) * h.count
    };
    let mut count = 0.0;
    let mut pos = 0;
    let mut bucket = Bucket {
        lower: 0.0,
        upper: 0.0,
        lower_inclusive: false,
        upper_inclusive: false,
        count: 0.0,
        index: 0,
    };
    while pos < all.len() {
        let b = all[pos];
        pos += 1;
        if b.count == 0.0 {
            continue;
        }
        bucket = b;
        count += b.count;
        if count >= rank {
            break;
        }
    }
    let custom = h.uses_custom_buckets();
    if !custom && bucket.lower < 0.0 && bucket.upper > 0.0 {
        if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
            bucket.lower = 0.0;
        } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
            bucket.upper = 0.0;
        }
    } else if custom {
        if bucket.lower == f64::NEG_INFINITY {
            if bucket.upper <= 0.0 {
                return (bucket.upper, NanNote::None);
            }
            bucket.lower = 0.0;
        } else if bucket.upper == f64::INFINITY {
            return (bucket.lower, NanNote::None);
        }
    }
    if count > h.count {
        count = h.count;
    }
    if count < rank {
        if h.sum.is_nan() {
            return (f64::NAN, NanNote::QuantileNaN);
        }
        return (bucket.upper, NanNote::None);
    }
    if forward {
        rank -= count - bucket.count;
    } else {
        rank = count - rank;
    }
    let mut note = NanNote::None;
    if h.sum.is_nan() {
        let rest: f64 = all[pos..].iter().map(|b| b.count).sum();
        if count + rest < h.count {
            note = NanNote::QuantileSkew;
        }
    }
    let fraction = rank / bucket.count;
    if custom || (bucket.lower <= 0.0 && bucket.upper >= 0.0) {
        return (
            bucket.lower + (bucket.upper - bucket.lower) * fraction,
            note,
        );
    }
    let log_lower = bucket.lower.abs().log2();
    let log_upper = bucket.upper.abs().log2();
    if bucket.lower > 0.0 {
        return (
            (log_lower + (log_upper - log_lower) * fraction).exp2(),
            note,
        );
    }
    (
        -(log_upper + (log_lower - log_upper) * (1.0 - fraction)).exp2(),
        note,
    )
}

/// The fraction of `h`'s observations between `lower` and `upper`.
pub(crate) fn histogram_fraction(lower: f64, upper: f64, h: &FloatHistogram) -> (f64, NanNote) {
    if h.count == 0.0 || lower.is_nan() || upper.is_nan() {
        return (f64::NAN, NanNote::None);
    }
    if lower >= upper {
        return (0.0, NanNote::None);
    }
    let custom = h.uses_custom_buckets();
    let all: Vec<Bucket> = h.all_buckets().collect();
    let (mut count, mut rank) = (0.0, 0.0);
    let (mut lower_rank, mut upper_rank) = (0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut pos = 0;
    while pos < all.len() {
        let mut b = all[pos];
        pos += 1;
        count += b.count;
        let mut zero_bucket = false;
        if b.lower <= 0.0 && b.upper >= 0.0 {
            zero_bucket = true;
            if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
                b.lower = 0.0;
            } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
                b.upper = 0.0;
            }
        }
        let linear = |v: f64| {
            if b.lower == f64::NEG_INFINITY {
                b.count
            } else {
                rank + b.count * b.fraction_below(v, true)
            }
        };
        let exponential = |v: f64| rank + b.count * b.fraction_below(v, false);
        if !lower_set && b.lower >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && b.lower >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && b.lower < lower && b.upper > lower {
            lower_rank = if custom || zero_bucket {
                linear(lower)
            } else {
                exponential(lower)
            };
            lower_set = true;
        }
        if !upper_set && b.lower < upper && b.upper > upper {
            upper_rank = if custom || zero_bucket {
                linear(upper)
            } else {
                exponential(upper)
            };
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank += b.count;
    }
    let mut note = NanNote::None;
    if h.sum.is_nan() {
        count += all[pos..].iter().map(|b| b.count).sum::<f64>();
        if count < h.count {
            note = NanNote::FractionNaNs;
        }
    } else {
        count = h.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    ((upper_rank - lower_rank) / h.count, note)
}

/// The variance of `h`'s observations, estimating each bucket's
/// observations at its arithmetic (custom buckets), zero (zero bucket)
/// or geometric (exponential buckets) mean.
pub(crate) fn histogram_variance(h: &FloatHistogram) -> f64 {
    let mean = h.sum / h.count;
    let (mut variance, mut c) = (0.0, 0.0);
    for b in h.all_buckets().filter(|b| b.count != 0.0) {
        let val = if h.uses_custom_buckets() {
            (b.upper + b.lower) / 2.0
        } else if b.lower <= 0.0 && b.upper >= 0.0 {
            0.0
        } else {
            let v = (b.upper * b.lower).sqrt();
            if b.upper < 0.0 {
                -v
            } else {
                v
            }
        };
        let delta = val - mean;
        (variance, c) = kahan_inc(b.count * delta * delta, variance, c);
    }
    (variance + c) / h.count
}

#[cfg(test)]
mod tests {
    use super::*;
    use aion_model::histogram::{Span, CUSTOM_BUCKETS_SCHEMA};

    fn exp(buckets: &[f64]) -> FloatHistogram {
        let count = buckets.iter().sum();
        FloatHistogram {
            schema: 0,
            count,
            sum: count,
            positive_spans: vec![Span {
                offset: 0,
                length: buckets.len() as u32,
            }],
            positive_buckets: buckets.to_vec(),
            ..FloatHistogram::default()
        }
    }

    #[test]
    fn quantiles() {
        // Buckets (0.5,1]:2 (1,2]:2.
        let h = exp(&[2.0, 2.0]);
        assert_eq!(histogram_quantile(0.5, &h).0, 1.0);
        assert_eq!(histogram_quantile(1.0, &h).0, 2.0);
        assert!((histogram_quantile(0.75, &h).0 - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(histogram_quantile(-1.0, &h).0, f64::NEG_INFINITY);
        let c = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            count: 4.0,
            sum: 4.0,
            custom_values: vec![10.0],
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            positive_buckets: vec![2.0, 2.0],
            ..FloatHistogram::default()
        };
        assert_eq!(histogram_quantile(0.25, &c).0, 5.0);
        assert_eq!(histogram_quantile(0.9, &c).0, 10.0);
    }

    #[test]
    fn fractions() {
        let h = exp(&[2.0, 2.0]);
        assert_eq!(histogram_fraction(f64::NEG_INFINITY, 1.0, &h).0, 0.5);
        assert_eq!(histogram_fraction(0.0, f64::INFINITY, &h).0, 1.0);
        assert!((histogram_fraction(1.0, 2f64.sqrt(), &h).0 - 0.25).abs() < 1e-12);
        assert_eq!(histogram_fraction(2.0, 1.0, &h).0, 0.0);
    }

    #[test]
    fn variance() {
        let h = exp(&[0.0, 2.0]); // (1,2]: geometric mean √2, sum 2 → mean 1
        let d = 2f64.sqrt() - 1.0;
        assert!((histogram_variance(&h) - d * d).abs() < 1e-12);
    }
}
