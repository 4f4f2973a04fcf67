//! Numeric helpers shared by functions and aggregations, with Prometheus's
//! exact float behaviour (Kahan–Neumaier summation, quantile rank
//! interpolation, NaN ordering).

use std::cmp::Ordering;

/// One step of Kahan–Neumaier summation: adds `inc` to `sum` with
/// compensation `c`. Once the sum overflows to ±Inf the compensation is
/// reset, as in Prometheus's `kahansum.Inc`.
#[inline]
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Ascending order with NaN before everything, as Prometheus's
/// `vectorByValueHeap` sorts.
#[inline]
pub(crate) fn nan_first_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// The `q` quantile of `values` (which get sorted), interpolating between
/// neighbouring ranks. NaN for no values or a NaN `q`; ±Inf for `q`
/// outside [0, 1].
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| nan_first_cmp(*a, *b));
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (n - 1.0).min(lower + 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Go's `float64 -> int64` conversion for the values PromQL feeds it
/// (truncation toward zero; out-of-range and NaN give `i64::MIN`, as on
/// amd64).
#[inline]
pub(crate) fn go_f64_to_i64(f: f64) -> i64 {
    const LIMIT: f64 = -(i64::MIN as f64);
    if f.is_nan() || !(-LIMIT..LIMIT).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// Prometheus's `almost.Equal`: NaN equals NaN (but the stale marker only
/// itself), otherwise a relative tolerance of `epsilon`.
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    use aion_chunkenc::is_stale_nan;
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kahan_recovers_small_addends() {
        let mut s = (0.0, 0.0);
        for v in [2.0, 8.0, 1e100, -1e100] {
            s = kahan_inc(v, s.0, s.1);
        }
        assert_eq!(s.0 + s.1, 10.0);
    }

    #[test]
    fn quantiles() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(0.5, &mut v), 2.5);
        assert_eq!(quantile(0.0, &mut v), 1.0);
        assert_eq!(quantile(1.0, &mut v), 4.0);
        assert!(quantile(f64::NAN, &mut v).is_nan());
        assert_eq!(quantile(2.0, &mut v), f64::INFINITY);
        let mut with_nan = vec![1.0, f64::NAN, 3.0];
        // NaN sorts first, so the low quantile is NaN.
        assert!(quantile(0.0, &mut with_nan).is_nan());
        assert_eq!(quantile(1.0, &mut with_nan), 3.0);
    }

    #[test]
    fn go_int_conversion() {
        assert_eq!(go_f64_to_i64(2.9), 2);
        assert_eq!(go_f64_to_i64(-2.9), -2);
        assert_eq!(go_f64_to_i64(f64::NAN), i64::MIN);
        assert_eq!(go_f64_to_i64(1e300), i64::MIN);
    }
}
