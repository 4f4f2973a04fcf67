//! The part of `rate`/`increase`/`delta`'s extrapolation that depends only
//! on where the window's first and last samples sit, computed once per
//! distinct placement instead of once per window.
//!
//! Why: extrapolation is a chain of about seven floating-point divisions
//! (three `/ 1000` conversions, the average interval, the factor, `/
//! range`). Prometheus divides, and replacing a division by a
//! multiplication changes the last bit of some results, so they stay
//! divisions; but they are a function of four integers (the first sample's
//! distance from the range start, the last one's from the range end, their
//! distance from each other, the number of intervals) plus the range. With
//! regular scrapes those integers repeat from step to step and series to
//! series, so a one-entry memo turns the chain into a comparison: the
//! profile of `sum by (job, method) (rate(..._bucket[5m]))` had ~30 % of
//! its time in `extrapolated_rate`, nearly all of it waiting on divisions.
//!
//! The only value-dependent step, the counter's "do not extrapolate below
//! zero" clamp, is decided by [`zero_is_not_closer`] without dividing in
//! the common case and by the exact division otherwise; the results are
//! bit-identical to computing everything per window.

use crate::value::FPoint;

/// Where a window's first and last samples sit, in milliseconds: the key
/// of [`RateTiming`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Placement {
    /// First sample minus the (exclusive) range start.
    to_start_ms: i64,
    /// The (inclusive) range end minus the last sample.
    to_end_ms: i64,
    /// Last sample minus first sample.
    sampled_ms: i64,
    /// Samples minus one (at least 1).
    intervals: usize,
    /// The range in seconds (its bits), divided by for `rate`.
    range_secs_bits: u64,
    is_rate: bool,
}

/// The extrapolation of one placement, before the counter clamp.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Timing {
    /// Seconds to extrapolate towards the range start (before the clamp
    /// at the counter's zero).
    pub to_start: f64,
    /// Seconds to extrapolate towards the range end.
    pub to_end: f64,
    /// Seconds between the first and the last sample.
    pub sampled: f64,
    /// What the raw difference is multiplied by (divided by the range
    /// for `rate`).
    pub factor: f64,
}

/// A one-entry memo of [`Timing`]; kept across series (it is keyed by
/// everything the timing depends on, so it is never stale).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RateTiming {
    last: Option<(Placement, Timing)>,
}

impl RateTiming {
    /// The timing of a window of `intervals + 1` samples from `first_t` to
    /// `last_t` inside `(range_start, range_end]`.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn get(
        &mut self,
        first_t: i64,
        last_t: i64,
        range_start: i64,
        range_end: i64,
        intervals: usize,
        range_secs: f64,
        is_rate: bool,
    ) -> Timing {
        let key = Placement {
            to_start_ms: first_t.wrapping_sub(range_start),
            to_end_ms: range_end.wrapping_sub(last_t),
            sampled_ms: last_t.wrapping_sub(first_t),
            intervals,
            range_secs_bits: range_secs.to_bits(),
            is_rate,
        };
        if let Some((k, t)) = self.last {
            if k == key {
                return t;
            }
        }
        let t = compute(&key, range_secs);
        self.last = Some((key, t));
        t
    }
}

/// Prometheus's extrapolation, in its order of operations: extrapolate all
/// the way to an edge within 1.1 average intervals of it, half an interval
/// otherwise.
fn compute(k: &Placement, range_secs: f64) -> Timing {
    let mut to_start = k.to_start_ms as f64 / 1000.0;
    let mut to_end = k.to_end_ms as f64 / 1000.0;
    let sampled = k.sampled_ms as f64 / 1000.0;
    let avg = sampled / k.intervals as f64;
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    Timing {
        to_start,
        to_end,
        sampled,
        factor: factor(sampled, to_start, to_end, k.is_rate, range_secs),
    }
}

/// `rate`, `increase` (`is_counter`) and `delta` of a window without
/// start timestamps or modifiers, `range` being its (exclusive) start,
/// (inclusive) end and length in seconds: the case of nearly every
/// window, inlined into the step loop (see `FloatFn` in `window.rs`) so it
/// is a few comparisons and a multiplication, not a call.
/// `non_decreasing`: known free of counter resets.
#[inline(always)]
pub(crate) fn plain_rate(
    w: &[FPoint],
    (range_start, range_end, range_secs): (i64, i64, f64),
    non_decreasing: bool,
    is_counter: bool,
    is_rate: bool,
    memo: &mut RateTiming,
) -> Option<f64> {
    let first = *w.first()?;
    let last = w[w.len() - 1];
    let mut result = last.f - first.f;
    // The window cursor counts resets: the usual reset-free window skips
    // the scan.
    if is_counter && !non_decreasing {
        for pair in w.windows(2) {
            if pair[1].f < pair[0].f {
                result += pair[0].f;
            }
        }
    }
    // The timing part comes from the memo; only the counter clamp looks
    // at values.
    let intervals = w.len() - 1;
    if intervals == 0 {
        return None;
    }
    let t = memo.get(
        first.t,
        last.t,
        range_start,
        range_end,
        intervals,
        range_secs,
        is_rate,
    );
    let mut factor = t.factor;
    if is_counter
        && result > 0.0
        && first.f >= 0.0
        && !zero_is_not_closer(first.f, result, t.sampled, t.to_start)
    {
        let to_zero = t.sampled * (first.f / result);
        if to_zero < t.to_start {
            factor = self::factor(t.sampled, to_zero, t.to_end, is_rate, range_secs);
        }
    }
    Some(result * factor)
}

/// The multiplier for extrapolating `sampled` seconds of change by
/// `to_start` and `to_end` seconds (per second of range for `rate`).
#[inline]
pub(crate) fn factor(
    sampled: f64,
    to_start: f64,
    to_end: f64,
    is_rate: bool,
    range_secs: f64,
) -> f64 {
    let mut factor = 1.0;
    if sampled != 0.0 {
        factor = (sampled + to_start + to_end) / sampled;
    }
    if is_rate {
        factor /= range_secs;
    }
    factor
}

/// Whether `sampled * (first / result)` (where a counter's slope reaches
/// zero, in seconds before the first sample) is certainly not below
/// `to_start`, decided without the division; `false` means "divide and
/// see". For `first >= 0`, `result > 0`, `sampled >= 0`, `to_start >= 0`.
///
/// Why it is exact: when both products below are finite and normal,
/// `first * sampled >= 2 * to_start * result` holds with each side within
/// one rounding of the true product, so mathematically `sampled * first /
/// result >= 2 * to_start * (1 - 3u)` (u = 2⁻⁵³); the quotient is normal
/// (the `1e-290` guard), so computing `sampled * (first / result)` loses at
/// most two more roundings and stays above `to_start`, with the factor of
/// two to spare. Infinite, NaN, zero and subnormal cases fail a guard and
/// take the division.
#[inline]
pub(crate) fn zero_is_not_closer(first: f64, result: f64, sampled: f64, to_start: f64) -> bool {
    let p = first * sampled;
    let q = 2.0 * to_start * result;
    p.is_finite() && q >= f64::MIN_POSITIVE && p >= q && first >= result * 1e-290
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn clamp_by_division(first: f64, result: f64, sampled: f64, to_start: f64) -> bool {
        sampled * (first / result) < to_start
    }

    #[test]
    fn memo_returns_what_it_computes() {
        let mut m = RateTiming::default();
        let a = m.get(1_015_000, 1_300_000, 1_000_000, 1_300_000, 19, 300.0, true);
        // Same placement, shifted by a step: the memo's answer.
        let b = m.get(1_045_000, 1_330_000, 1_030_000, 1_330_000, 19, 300.0, true);
        assert_eq!(a, b);
        let k = Placement {
            to_start_ms: 15_000,
            to_end_ms: 0,
            sampled_ms: 285_000,
            intervals: 19,
            range_secs_bits: 300f64.to_bits(),
            is_rate: true,
        };
        assert_eq!(a, compute(&k, 300.0));
        // `increase` of the same placement: a different factor.
        let c = m.get(1_045_000, 1_330_000, 1_030_000, 1_330_000, 19, 300.0, false);
        assert_ne!(c.factor, a.factor);
        assert_eq!(
            c.factor,
            factor(c.sampled, c.to_start, c.to_end, false, 300.0)
        );
    }

    #[test]
    fn zero_check_declines_the_edge_cases() {
        for (first, result, sampled, to_start) in [
            (f64::INFINITY, 1.0, 10.0, 1.0),
            (1.0, f64::INFINITY, 10.0, 1.0),
            (1.0, 1.0, 10.0, 0.0),
            (f64::MIN_POSITIVE / 4.0, 1.0, 10.0, 1.0),
            (1e-300, 1e10, 1e300, 1.0),
            (f64::NAN, 1.0, 10.0, 1.0),
        ] {
            assert!(!zero_is_not_closer(first, result, sampled, to_start));
        }
        assert!(zero_is_not_closer(1000.0, 300.0, 285.0, 15.0));
    }

    proptest! {
        /// When the check says "not closer", dividing agrees.
        #[test]
        fn zero_check_never_contradicts_the_division(
            first in prop_oneof![0.0..1e3f64, 0.0..1e18f64, any::<f64>().prop_map(f64::abs)],
            result in prop_oneof![1e-9..1e3f64, 1e-300..1e300f64, any::<f64>().prop_map(f64::abs)],
            sampled_ms in 1i64..100_000_000,
            to_start_ms in 0i64..100_000_000,
            halve in any::<bool>(),
        ) {
            prop_assume!(result > 0.0 && first >= 0.0);
            let sampled = sampled_ms as f64 / 1000.0;
            let mut to_start = to_start_ms as f64 / 1000.0;
            if halve {
                to_start = sampled / 7.0 / 2.0;
            }
            if zero_is_not_closer(first, result, sampled, to_start) {
                prop_assert!(!clamp_by_division(first, result, sampled, to_start));
            }
        }

        /// Near the boundary (`first / result` close to `to_start /
        /// sampled`), where a sloppy check would go wrong.
        #[test]
        fn zero_check_holds_at_the_boundary(
            result in 1e-6..1e12f64,
            sampled_ms in 1i64..10_000_000,
            to_start_ms in 1i64..10_000_000,
            ulps in -8i64..8,
            scale in prop_oneof![Just(1.0), Just(2.0), 1.9..2.1f64],
        ) {
            let sampled = sampled_ms as f64 / 1000.0;
            let to_start = to_start_ms as f64 / 1000.0;
            let exact = to_start / sampled * result * scale;
            let first = f64::from_bits((exact.to_bits() as i64 + ulps) as u64);
            prop_assume!(first >= 0.0);
            if zero_is_not_closer(first, result, sampled, to_start) {
                prop_assert!(!clamp_by_division(first, result, sampled, to_start));
            }
        }
    }
}
