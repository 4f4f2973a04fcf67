//! Functions over a range vector window: `rate`, `*_over_time`, `deriv`,
//! ... Each takes the float samples of one series inside `(start, end]`
//! and returns the value at one evaluation step, or nothing.

use super::error::{Error, Result};
use super::mathx::{kahan_inc, quantile};
use super::rate_timing::{self, RateTiming};
use crate::value::FPoint;

/// What a window function may need besides the samples.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowArgs<'a> {
    /// The evaluation time of the step.
    pub ts: i64,
    /// Exclusive start of the window.
    pub range_start: i64,
    /// Inclusive end of the window.
    pub range_end: i64,
    /// Window length in seconds.
    pub range_secs: f64,
    /// The function's scalar arguments at this step, in argument order
    /// (the range vector argument left out).
    pub params: &'a [f64],
    /// Start timestamps of the window's samples (0: unknown), when the
    /// engine uses them; empty otherwise.
    pub sts: &'a [i64],
    /// Known: no sample of the window is lower than the one before it, so
    /// there is no counter reset to look for (`false` when unknown).
    pub non_decreasing: bool,
    /// The range selector's `anchored`/`smoothed` modifier: the window
    /// then also holds samples around the range (see
    /// [`Extension`]).
    pub extension: Extension,
}

/// The experimental `anchored` and `smoothed` range selector modifiers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Extension {
    /// A plain left-open window.
    #[default]
    None,
    /// The window also holds samples up to the lookback delta before the
    /// range; the value at the range start is the last sample at or
    /// before it.
    Anchored,
    /// The window also holds samples up to the lookback delta before and
    /// after the range; values at both edges are interpolated.
    Smoothed,
}

/// A function's effect besides its value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum WindowNote {
    /// `quantile_over_time` got a quantile outside [0, 1].
    InvalidQuantile(f64),
    /// A sample's start time lies before the previous sample (and is not
    /// that sample's start time): the counter data is inconsistent.
    StartTimeOverlap,
}

/// State a window function keeps across the steps of one series (and
/// buffers reused across series), so the per-step work allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// Values to sort (quantiles, median absolute deviation).
    values: Vec<f64>,
    /// Sliding extreme: candidates for the maximum (or minimum) of the
    /// current window, in time order, values monotonic.
    deque: std::collections::VecDeque<FPoint>,
    /// Timestamp of the newest sample pushed into `deque`.
    last_t: Option<i64>,
    /// Side effects to report.
    pub notes: Vec<WindowNote>,
    /// `rate`'s extrapolation by sample placement (not reset between
    /// series: it is keyed by all it depends on).
    pub(crate) rate_timing: RateTiming,
}

impl Scratch {
    /// Forgets the state of the previous series (keeping allocations).
    pub(crate) fn reset(&mut self) {
        self.deque.clear();
        self.last_t = None;
        self.notes.clear();
    }
}

/// The value of a window function at one step (`None`: no output).
/// Windows of one series must be passed in order (they only move forward)
/// with the same scratch, reset between series.
pub(crate) type WindowFn = fn(&[FPoint], &WindowArgs, &mut Scratch) -> Result<Option<f64>>;

/// The implementation of a range-vector function, by name.
pub(crate) fn window_fn(name: &str) -> Option<WindowFn> {
    Some(match name {
        "avg_over_time" => avg_over_time,
        "count_over_time" => |w, _, _| Ok(Some(w.len() as f64)),
        "first_over_time" => |w, _, _| Ok(w.first().map(|p| p.f)),
        "last_over_time" => |w, _, _| Ok(w.last().map(|p| p.f)),
        "max_over_time" => |w, _, s| Ok(sliding_extreme(w, s, Extreme::Max)),
        "min_over_time" => |w, _, s| Ok(sliding_extreme(w, s, Extreme::Min)),
        "ts_of_max_over_time" => |w, _, s| Ok(sliding_extreme(w, s, Extreme::TsOfMax)),
        "ts_of_min_over_time" => |w, _, s| Ok(sliding_extreme(w, s, Extreme::TsOfMin)),
        "ts_of_first_over_time" => |w, _, _| Ok(w.first().map(|p| p.t as f64 / 1000.0)),
        "ts_of_last_over_time" => |w, _, _| Ok(w.last().map(|p| p.t as f64 / 1000.0)),
        "sum_over_time" => sum_over_time,
        "quantile_over_time" => quantile_over_time,
        "stddev_over_time" => |w, _, _| Ok(variance(w).map(f64::sqrt)),
        "stdvar_over_time" => |w, _, _| Ok(variance(w)),
        "mad_over_time" => mad_over_time,
        "present_over_time" | "absent_over_time" => |w, _, _| Ok((!w.is_empty()).then_some(1.0)),
        "changes" => |w, a, s| changes(anchor(w, a), a, s),
        "resets" => |w, a, s| resets(anchor(w, a), a, s),
        "delta" => |w, a, s| Ok(extrapolated_rate(w, a, false, false, s)),
        "rate" => |w, a, s| Ok(extrapolated_rate(w, a, true, true, s)),
        "increase" => |w, a, s| Ok(extrapolated_rate(w, a, true, false, s)),
        "idelta" => |w, _, _| Ok(instant_value(w, &[], false)),
        "irate" => |w, a, _| Ok(instant_value(w, a.sts, true)),
        "deriv" => deriv,
        "predict_linear" => predict_linear,
        "double_exponential_smoothing" | "holt_winters" => double_exponential_smoothing,
        _ => return None,
    })
}

fn avg_over_time(w: &[FPoint], _: &WindowArgs, _: &mut Scratch) -> Result<Option<f64>> {
    let Some(first) = w.first() else {
        return Ok(None);
    };
    // Direct mean with Kahan summation while the sum stays finite, then
    // incremental mean (Prometheus's choice for accuracy).
    let (mut sum, mut count) = (first.f, 1.0);
    let (mut mean, mut c) = (0.0, 0.0);
    let mut incremental = false;
    for (i, p) in w[1..].iter().enumerate() {
        count = (i + 2) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(p.f, sum, c);
            if !ns.is_infinite() {
                (sum, c) = (ns, nc);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(p.f / count, q * mean, q * c);
    }
    Ok(Some(if incremental {
        mean + c
    } else {
        sum / count + c / count
    }))
}

fn sum_over_time(w: &[FPoint], _: &WindowArgs, _: &mut Scratch) -> Result<Option<f64>> {
    if w.is_empty() {
        return Ok(None);
    }
    let (mut sum, mut c) = (0.0, 0.0);
    for p in w {
        (sum, c) = kahan_inc(p.f, sum, c);
    }
    Ok(Some(if sum.is_infinite() { sum } else { sum + c }))
}

/// Which extreme a sliding window tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extreme {
    /// Largest value; the earliest of equal maxima (`max_over_time`).
    Max,
    /// Smallest value; the earliest of equal minima.
    Min,
    /// Time of the largest value; the latest of equal maxima.
    TsOfMax,
    /// Time of the smallest value; the latest of equal minima.
    TsOfMin,
}

/// The extreme of the window, maintained incrementally with a monotonic
/// deque (amortised O(1) per sample instead of a scan per step). NaNs are
/// never kept: like Prometheus's scan, the result is the extreme of the
/// non-NaN samples, or NaN (the last sample's time for `ts_of_*`) when all
/// are NaN.
///
/// Inlined into each of its four callers, so `kind` is a constant there:
/// called with it as a value, every candidate comparison went through a
/// jump table (an indirect jump per comparison in the inner loop).
#[inline(always)]
fn sliding_extreme(w: &[FPoint], s: &mut Scratch, kind: Extreme) -> Option<f64> {
    let last = *w.last()?;
    let first_t = w[0].t;
    while s.deque.front().is_some_and(|p| p.t < first_t) {
        s.deque.pop_front();
    }
    // The samples newer than the last window's: a few at the end when
    // windows overlap, so counted from the end rather than searched for
    // (the binary search's branches mispredict, the short scan's do not).
    let fresh = match s.last_t {
        Some(t) => w.iter().rev().take_while(|p| p.t > t).count(),
        None => w.len(),
    };
    for p in &w[w.len() - fresh..] {
        if p.f.is_nan() {
            continue;
        }
        // Drop candidates the new sample beats: strictly for the value
        // functions (earliest extreme wins), or on ties too for the time
        // functions (latest extreme wins).
        while let Some(b) = s.deque.back() {
            let beaten = match kind {
                Extreme::Max => b.f < p.f,
                Extreme::Min => b.f > p.f,
                Extreme::TsOfMax => b.f <= p.f,
                Extreme::TsOfMin => b.f >= p.f,
            };
            if !beaten {
                break;
            }
            s.deque.pop_back();
        }
        s.deque.push_back(*p);
    }
    s.last_t = Some(last.t);
    Some(match (s.deque.front(), kind) {
        (Some(p), Extreme::Max | Extreme::Min) => p.f,
        (Some(p), _) => p.t as f64 / 1000.0,
        (None, Extreme::Max | Extreme::Min) => f64::NAN,
        (None, _) => last.t as f64 / 1000.0,
    })
}

fn quantile_over_time(w: &[FPoint], a: &WindowArgs, s: &mut Scratch) -> Result<Option<f64>> {
    if w.is_empty() {
        return Ok(None);
    }
    let q = a.params[0];
    if q.is_nan() || !(0.0..=1.0).contains(&q) {
        s.notes.push(WindowNote::InvalidQuantile(q));
    }
    s.values.clear();
    s.values.extend(w.iter().map(|p| p.f));
    Ok(Some(quantile(q, &mut s.values)))
}

/// Population variance with Kahan-compensated Welford updates.
fn variance(w: &[FPoint]) -> Option<f64> {
    if w.is_empty() {
        return None;
    }
    let mut count = 0.0;
    let (mut mean, mut c_mean) = (0.0, 0.0);
    let (mut aux, mut c_aux) = (0.0, 0.0);
    for p in w {
        count += 1.0;
        let delta = p.f - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (p.f - (mean + c_mean)), aux, c_aux);
    }
    Some((aux + c_aux) / count)
}

fn mad_over_time(w: &[FPoint], _: &WindowArgs, s: &mut Scratch) -> Result<Option<f64>> {
    if w.is_empty() {
        return Ok(None);
    }
    if w.iter().any(|p| p.f.is_nan()) {
        return Ok(Some(f64::NAN));
    }
    s.values.clear();
    s.values.extend(w.iter().map(|p| p.f));
    let median = quantile(0.5, &mut s.values);
    for v in &mut s.values {
        *v = (*v - median).abs();
    }
    Ok(Some(quantile(0.5, &mut s.values)))
}

fn changes(w: &[FPoint], _: &WindowArgs, _: &mut Scratch) -> Result<Option<f64>> {
    if w.is_empty() {
        return Ok(None);
    }
    let n = w
        .windows(2)
        .filter(|p| p[1].f != p[0].f && !(p[1].f.is_nan() && p[0].f.is_nan()))
        .count();
    Ok(Some(n as f64))
}

fn resets(w: &[FPoint], a: &WindowArgs, _: &mut Scratch) -> Result<Option<f64>> {
    if w.is_empty() {
        return Ok(None);
    }
    let st = |i: usize| a.sts.get(i).copied();
    let n = (1..w.len())
        .filter(|&i| {
            w[i].f < w[i - 1].f
                || matches!((st(i - 1), st(i)), (Some(ps), Some(cs))
                    if is_start_timestamp_reset(ps, w[i - 1].t, cs, w[i].t))
        })
        .count();
    Ok(Some(n as f64))
}

/// Whether a sample's start timestamp says its counter restarted since the
/// previous sample (Prometheus's `isStartTimestampReset`): a start time
/// after the previous sample, or equal to it when the previous sample had
/// a known, plausible start time of its own (a delta series).
pub(crate) fn is_start_timestamp_reset(prev_st: i64, prev_t: i64, cur_st: i64, cur_t: i64) -> bool {
    if cur_st == 0 || cur_st >= cur_t || cur_st < prev_t {
        return false;
    }
    if cur_st > prev_t {
        return true;
    }
    if prev_st > prev_t {
        return false;
    }
    prev_st != 0 && prev_st != prev_t
}

/// Whether a start time overlaps the previous sample (Prometheus's
/// `checkStartTimeOverlap`).
pub(crate) fn start_time_overlaps(prev_st: i64, prev_t: i64, cur_st: i64) -> bool {
    cur_st != 0 && cur_st < prev_t && cur_st != prev_st
}

/// `rate`, `increase` and `delta`: the change over the window, corrected
/// for counter resets and extrapolated towards the window's edges (all the
/// way when the first/last sample is within 1.1 average sample intervals of
/// the edge, half an interval otherwise; never below zero for counters).
///
/// With start timestamps (counters only), a start time inside the window
/// before the first sample stands for a zero sample there, so one sample
/// is enough and no extrapolation to the left happens; a start time
/// reaching past the previous sample marks a reset.
pub(crate) fn extrapolated_rate(
    w: &[FPoint],
    a: &WindowArgs,
    is_counter: bool,
    is_rate: bool,
    scratch: &mut Scratch,
) -> Option<f64> {
    if a.extension != Extension::None {
        return extended_rate(w, a, is_counter, is_rate);
    }
    if is_plain_rate_window(a.extension, a.sts, is_counter) {
        let range = (a.range_start, a.range_end, a.range_secs);
        let memo = &mut scratch.rate_timing;
        return rate_timing::plain_rate(w, range, a.non_decreasing, is_counter, is_rate, memo);
    }
    // Start timestamps are used by the counter functions only.
    let sts = a.sts;
    let first = *w.first()?;
    let last = w[w.len() - 1];
    let mut result = last.f - first.f;
    let mut overlap = false;
    for i in 1..w.len() {
        let (prev, cur) = (w[i - 1], w[i]);
        let reset_by_st = match (sts.get(i - 1), sts.get(i)) {
            (Some(&ps), Some(&cs)) => {
                if !overlap && start_time_overlaps(ps, prev.t, cs) {
                    scratch.notes.push(WindowNote::StartTimeOverlap);
                    overlap = true;
                }
                is_start_timestamp_reset(ps, prev.t, cs, cur.t)
            }
            _ => false,
        };
        if cur.f < prev.f || reset_by_st {
            result += prev.f;
        }
    }
    let mut to_start = first.t.wrapping_sub(a.range_start) as f64 / 1000.0;
    let mut to_end = a.range_end.wrapping_sub(last.t) as f64 / 1000.0;
    let mut sampled = (last.t - first.t) as f64 / 1000.0;
    let intervals = w.len() - 1;
    let avg = if intervals > 0 {
        sampled / intervals as f64
    } else {
        0.0
    };
    let threshold = avg * 1.1;
    match sts.first() {
        Some(&st0) if st0 != 0 && st0 > a.range_start && st0 < first.t => {
            // A zero sample at the start time replaces extrapolation to
            // the left.
            to_start = 0.0;
            sampled = (last.t - st0) as f64 / 1000.0;
            result += first.f;
        }
        _ if intervals == 0 => return None,
        _ => {
            if to_start >= threshold {
                to_start = avg / 2.0;
            }
            // A counter cannot go below zero: extrapolate at most to where
            // the slope would reach it.
            if result > 0.0 && first.f >= 0.0 {
                let to_zero = sampled * (first.f / result);
                if to_zero < to_start {
                    to_start = to_zero;
                }
            }
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    Some(result * rate_timing::factor(sampled, to_start, to_end, is_rate, a.range_secs))
}

/// Whether a `rate`/`increase`/`delta` window takes the common path,
/// [`rate_timing::plain_rate`]: no `anchored`/`smoothed` modifier and no
/// start timestamps to honour (only the counter functions use them).
/// Shared by [`extrapolated_rate`] and the step loop that inlines it.
#[inline(always)]
pub(crate) fn is_plain_rate_window(extension: Extension, sts: &[i64], is_counter: bool) -> bool {
    extension == Extension::None && (sts.is_empty() || !is_counter)
}

/// For `anchored` windows, the samples from the last one at or before the
/// range start on (nothing when no sample lies inside the range);
/// otherwise the window.
fn anchor<'w>(w: &'w [FPoint], a: &WindowArgs) -> &'w [FPoint] {
    if a.extension != Extension::Anchored {
        return w;
    }
    let inside = w.partition_point(|p| p.t <= a.range_start);
    if inside == w.len() {
        return &[];
    }
    &w[inside.saturating_sub(1)..]
}

/// Linear interpolation between two samples at `t`; for counters a
/// decrease is a reset from zero.
fn interpolate(p1: FPoint, p2: FPoint, t: i64, is_counter: bool) -> f64 {
    let y1 = if is_counter && p2.f < p1.f { 0.0 } else { p1.f };
    y1 + (p2.f - y1) * (t - p1.t) as f64 / (p2.t - p1.t) as f64
}

/// `rate`/`increase`/`delta` over an `anchored` or `smoothed` window: the
/// difference between the values at the range's edges (the last sample at
/// or before the start and the last sample, or values interpolated at the
/// edges when smoothed), plus counter-reset corrections in between; no
/// extrapolation.
fn extended_rate(w: &[FPoint], a: &WindowArgs, is_counter: bool, is_rate: bool) -> Option<f64> {
    let smoothed = a.extension == Extension::Smoothed;
    let mut last = w.len().checked_sub(1)?;
    let mut first = w[..last]
        .partition_point(|p| p.t <= a.range_start)
        .saturating_sub(1);
    if smoothed {
        last = w[..last].partition_point(|p| p.t < a.range_end);
    }
    if w[last].t <= a.range_start || (smoothed && w[first].t > a.range_end) {
        return None;
    }
    let left = if smoothed && w[first].t < a.range_start {
        interpolate(w[first], w[first + 1], a.range_start, is_counter)
    } else {
        w[first].f
    };
    let right = if smoothed && last > 0 && w[last].t > a.range_end {
        interpolate(w[last - 1], w[last], a.range_end, is_counter)
    } else {
        w[last].f
    };
    let mut result = right - left;
    if is_counter {
        if w[first].t <= a.range_start {
            first += 1;
        }
        if w[last].t >= a.range_end {
            last = last.wrapping_sub(1);
        }
        let inner = if first <= last && last < w.len() {
            &w[first..=last]
        } else {
            &[]
        };
        let mut correction = 0.0;
        let mut prev = left;
        for p in inner {
            if p.f < prev {
                correction += prev;
            }
            prev = p.f;
        }
        if right < prev {
            correction += prev;
        }
        result += correction;
    }
    if is_rate {
        result /= a.range_secs;
    }
    Some(result)
}

/// `irate` and `idelta`: from the last two samples (for `irate`, a
/// decrease or a start-timestamp reset between them means the last value is
/// the increase).
fn instant_value(w: &[FPoint], sts: &[i64], is_rate: bool) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let prev = w[w.len() - 2];
    let last = w[w.len() - 1];
    let interval = last.t - prev.t;
    if interval == 0 {
        return None;
    }
    let mut v = last.f;
    let reset_by_st = sts.len() == w.len()
        && is_start_timestamp_reset(sts[w.len() - 2], prev.t, sts[w.len() - 1], last.t);
    // A counter reset leaves the last value as the increase.
    if !is_rate || (last.f.partial_cmp(&prev.f) != Some(std::cmp::Ordering::Less) && !reset_by_st) {
        v = last.f - prev.f;
    }
    if is_rate {
        v /= interval as f64 / 1000.0;
    }
    Some(v)
}

/// Least-squares slope and the intercept at `intercept_time`.
fn linear_regression(w: &[FPoint], intercept_time: i64) -> (f64, f64) {
    let mut n = 0.0;
    let (mut sum_x, mut c_x) = (0.0, 0.0);
    let (mut sum_y, mut c_y) = (0.0, 0.0);
    let (mut sum_xy, mut c_xy) = (0.0, 0.0);
    let (mut sum_x2, mut c_x2) = (0.0, 0.0);
    let init_y = w[0].f;
    let mut const_y = true;
    for (i, p) in w.iter().enumerate() {
        if const_y && i > 0 && p.f != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = p.t.wrapping_sub(intercept_time) as f64 / 1e3;
        (sum_x, c_x) = kahan_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_inc(p.f, sum_y, c_y);
        (sum_xy, c_xy) = kahan_inc(x * p.f, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sum_x += c_x;
    sum_y += c_y;
    sum_xy += c_xy;
    sum_x2 += c_x2;
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

fn deriv(w: &[FPoint], _: &WindowArgs, _: &mut Scratch) -> Result<Option<f64>> {
    if w.len() < 2 {
        return Ok(None);
    }
    // Intercept near the samples, for numerical stability.
    Ok(Some(linear_regression(w, w[0].t).0))
}

fn predict_linear(w: &[FPoint], a: &WindowArgs, _: &mut Scratch) -> Result<Option<f64>> {
    if w.len() < 2 {
        return Ok(None);
    }
    let (slope, intercept) = linear_regression(w, a.ts);
    Ok(Some(slope * a.params[0] + intercept))
}

fn double_exponential_smoothing(
    w: &[FPoint],
    a: &WindowArgs,
    _: &mut Scratch,
) -> Result<Option<f64>> {
    let (sf, tf) = (a.params[0], a.params[1]);
    // Written like Prometheus's checks, which let NaN through.
    if sf <= 0.0 || sf >= 1.0 {
        return Err(Error::eval(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
            go_f6(sf)
        )));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(Error::eval(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {}",
            go_f6(tf)
        )));
    }
    if w.len() < 2 {
        return Ok(None);
    }
    let trend = |i: usize, s0: f64, s1: f64, b: f64| {
        if i == 0 {
            b
        } else {
            tf * (s1 - s0) + (1.0 - tf) * b
        }
    };
    let mut s0 = 0.0;
    let mut s1 = w[0].f;
    let mut b = w[1].f - w[0].f;
    for (i, p) in w.iter().enumerate().skip(1) {
        let x = sf * p.f;
        b = trend(i - 1, s0, s1, b);
        let y = (1.0 - sf) * (s1 + b);
        (s0, s1) = (s1, x + y);
    }
    Ok(Some(s1))
}

/// Go's `%f`.
fn go_f6(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v:.6}")
    }
}

#[cfg(test)]
#[path = "range_fns_tests.rs"]
mod tests;
