//! Range functions over windows holding native histogram samples:
//! `rate`/`increase`/`delta` bucket-wise with counter-reset handling,
//! `irate`/`idelta`, `resets`/`changes`, `*_over_time`. Windows of floats
//! only never come here (they keep the float fast path in `range_fns.rs`).

use aion_model::histogram::FloatHistogram;

use super::range_fns::{is_start_timestamp_reset, start_time_overlaps, WindowArgs};
use super::rate_timing;
use crate::value::{FPoint, HPoint};

/// A window function's value: a float or a histogram.
pub(crate) enum WinOut {
    F(f64),
    H(Box<FloatHistogram>),
}

/// What a histogram window function has to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HistNote {
    /// Floats and histograms in one window of a function needing one kind.
    Mixed,
    /// A gauge histogram where a counter is expected.
    NotCounter,
    /// A counter histogram where a gauge is expected.
    NotGauge,
    /// Exponential and custom-bucket histograms mixed.
    MixedExponentialCustom,
    /// Histograms ignored next to floats.
    IgnoredInMixedRange,
    /// Custom bounds reconciled during a subtraction or addition.
    MismatchedCustom(&'static str),
    /// Conflicting counter-reset hints while aggregating over time.
    CounterResetCollision,
    /// A start time overlaps the previous sample.
    StartTimeOverlap,
}

/// The value of `name` over a window with at least one histogram sample;
/// `None` for no output.
pub(crate) fn hist_window(
    name: &str,
    floats: &[FPoint],
    hists: &[HPoint],
    hsts: &[i64],
    a: &WindowArgs,
    notes: &mut Vec<HistNote>,
) -> Option<WinOut> {
    // Start timestamps only count for these, on counters.
    let hsts = if matches!(name, "rate" | "increase" | "irate" | "resets") {
        hsts
    } else {
        &[]
    };
    let mixed = !floats.is_empty();
    match name {
        "rate" | "increase" | "delta" => {
            if mixed {
                notes.push(HistNote::Mixed);
                return None;
            }
            let counter = name != "delta";
            extrapolated_rate(hists, hsts, a, counter, name == "rate", notes).map(WinOut::H)
        }
        "irate" | "idelta" => instant_value(floats, hists, hsts, name == "irate", notes),
        "resets" | "changes" => Some(WinOut::F(transitions(
            floats,
            hists,
            hsts,
            name == "resets",
        ))),
        "sum_over_time" | "avg_over_time" => {
            if mixed {
                notes.push(HistNote::Mixed);
                return None;
            }
            over_time(hists, name == "avg_over_time", notes).map(WinOut::H)
        }
        "count_over_time" => Some(WinOut::F((floats.len() + hists.len()) as f64)),
        "present_over_time" | "absent_over_time" => Some(WinOut::F(1.0)),
        "last_over_time" => match (floats.last(), hists.last()) {
            (Some(f), Some(h)) if f.t > h.t => Some(WinOut::F(f.f)),
            (_, Some(h)) => Some(WinOut::H(h.h.clone())),
            (Some(f), None) => Some(WinOut::F(f.f)),
            (None, None) => None,
        },
        "first_over_time" => match (floats.first(), hists.first()) {
            (Some(f), Some(h)) if f.t < h.t => Some(WinOut::F(f.f)),
            (_, Some(h)) => Some(WinOut::H(h.h.clone())),
            (Some(f), None) => Some(WinOut::F(f.f)),
            (None, None) => None,
        },
        "ts_of_last_over_time" => {
            let t = floats.last().map_or(i64::MIN, |p| p.t);
            let t = t.max(hists.last().map_or(i64::MIN, |p| p.t));
            Some(WinOut::F(t as f64 / 1000.0))
        }
        "ts_of_first_over_time" => {
            let t = floats.first().map_or(i64::MAX, |p| p.t);
            let t = t.min(hists.first().map_or(i64::MAX, |p| p.t));
            Some(WinOut::F(t as f64 / 1000.0))
        }
        _ => None,
    }
}

/// Whether the float-only functions see this window's floats (with an
/// info about the histograms left out when there are floats).
pub(crate) fn floats_only(name: &str) -> bool {
    !matches!(
        name,
        "rate"
            | "increase"
            | "delta"
            | "irate"
            | "idelta"
            | "resets"
            | "changes"
            | "sum_over_time"
            | "avg_over_time"
            | "count_over_time"
            | "present_over_time"
            | "absent_over_time"
            | "last_over_time"
            | "first_over_time"
            | "ts_of_last_over_time"
            | "ts_of_first_over_time"
    )
}

/// Prometheus's `histogramRate`: last − first, plus the value before each
/// counter reset (for counters), at the lowest schema seen.
/// Whether a start timestamp marks a reset between samples `i - 1` and `i`.
fn st_reset(points: &[HPoint], sts: &[i64], i: usize) -> bool {
    i < sts.len() && is_start_timestamp_reset(sts[i - 1], points[i - 1].t, sts[i], points[i].t)
}

fn histogram_rate(
    points: &[HPoint],
    sts: &[i64],
    counter: bool,
    notes: &mut Vec<HistNote>,
) -> Option<FloatHistogram> {
    use aion_model::histogram::CounterResetHint::Gauge;
    let last = &points[points.len() - 1].h;
    let first = &points[0].h;
    if counter && (first.counter_reset_hint == Gauge || last.counter_reset_hint == Gauge) {
        notes.push(HistNote::NotCounter);
    }
    let empty;
    let mut prev: &FloatHistogram = first;
    if counter && (st_reset(points, sts, 1) || points[1].h.detect_reset(prev)) {
        empty = FloatHistogram {
            schema: points[1].h.schema,
            custom_values: points[1].h.custom_values.clone(),
            ..FloatHistogram::default()
        };
        prev = &empty;
    }
    let custom = prev.uses_custom_buckets();
    if last.uses_custom_buckets() != custom {
        notes.push(HistNote::MixedExponentialCustom);
        return None;
    }
    let mut min_schema = last.schema.min(prev.schema);
    for p in &points[1..points.len() - 1] {
        if !counter {
            continue;
        }
        if p.h.counter_reset_hint == Gauge {
            notes.push(HistNote::NotCounter);
        }
        min_schema = min_schema.min(p.h.schema);
        if p.h.uses_custom_buckets() != custom {
            notes.push(HistNote::MixedExponentialCustom);
            return None;
        }
    }
    let mut h = (**last).clone();
    h.reduce_resolution(min_schema);
    match h.sub(prev) {
        Err(_) => {
            notes.push(HistNote::MixedExponentialCustom);
            return None;
        }
        Ok(o) if o.custom_bounds_reconciled => {
            notes.push(HistNote::MismatchedCustom("subtraction"))
        }
        Ok(_) => {}
    }
    if counter {
        let mut prev: &FloatHistogram = prev;
        let mut overlap = false;
        for (j, p) in points[1..].iter().enumerate() {
            let i = j + 1;
            if !overlap && i < sts.len() && start_time_overlaps(sts[i - 1], points[i - 1].t, sts[i])
            {
                notes.push(HistNote::StartTimeOverlap);
                overlap = true;
            }
            if st_reset(points, sts, i) || p.h.detect_reset(prev) {
                match h.add(prev) {
                    Err(_) => {
                        notes.push(HistNote::MixedExponentialCustom);
                        return None;
                    }
                    Ok(o) if o.custom_bounds_reconciled => {
                        notes.push(HistNote::MismatchedCustom("addition"))
                    }
                    Ok(_) => {}
                }
            }
            prev = &p.h;
        }
    } else if first.counter_reset_hint != Gauge || last.counter_reset_hint != Gauge {
        notes.push(HistNote::NotGauge);
    }
    h.counter_reset_hint = Gauge;
    h.compact(0);
    Some(h)
}

/// `rate`/`increase`/`delta` of histograms with Prometheus's
/// extrapolation to the window's edges.
fn extrapolated_rate(
    points: &[HPoint],
    sts: &[i64],
    a: &WindowArgs,
    counter: bool,
    is_rate: bool,
    notes: &mut Vec<HistNote>,
) -> Option<Box<FloatHistogram>> {
    let sts = if counter { sts } else { &[] };
    let mut h = if points.len() > 1 {
        Some(histogram_rate(points, sts, counter, notes)?)
    } else {
        None
    };
    let first = points.first()?;
    let (first_t, last_t) = (first.t, points[points.len() - 1].t);
    let mut to_start = (first_t - a.range_start) as f64 / 1000.0;
    let mut to_end = (a.range_end - last_t) as f64 / 1000.0;
    let mut sampled = (last_t - first_t) as f64 / 1000.0;
    let intervals = points.len() - 1;
    let avg = if intervals > 0 {
        sampled / intervals as f64
    } else {
        0.0
    };
    let threshold = avg * 1.1;
    match sts.first() {
        Some(&st0) if st0 != 0 && st0 > a.range_start && st0 < first_t => {
            // A zero sample at the start time replaces extrapolation to
            // the left.
            to_start = 0.0;
            sampled = (last_t - st0) as f64 / 1000.0;
            match &mut h {
                None => h = Some((*first.h).clone()),
                Some(h) => {
                    if h.add(&first.h).is_err() {
                        notes.push(HistNote::MixedExponentialCustom);
                        return None;
                    }
                }
            }
        }
        _ if intervals == 0 => return None,
        _ => {
            if to_start >= threshold {
                to_start = avg / 2.0;
            }
            let h = h.as_ref()?;
            if counter && h.count > 0.0 && first.h.count >= 0.0 {
                let to_zero = sampled * (first.h.count / h.count);
                if to_zero < to_start {
                    to_start = to_zero;
                }
            }
        }
    }
    let mut h = h?;
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    h.mul(rate_timing::factor(
        sampled,
        to_start,
        to_end,
        is_rate,
        a.range_secs,
    ));
    Some(Box::new(h))
}

/// `irate`/`idelta` over the last two samples.
fn instant_value(
    floats: &[FPoint],
    hists: &[HPoint],
    hsts: &[i64],
    is_rate: bool,
    notes: &mut Vec<HistNote>,
) -> Option<WinOut> {
    use aion_model::histogram::CounterResetHint::Gauge;
    // The last two samples of either kind.
    let mut merged: Vec<(i64, Option<&FloatHistogram>, f64)> = Vec::with_capacity(4);
    merged.extend(floats.iter().rev().take(2).map(|p| (p.t, None, p.f)));
    merged.extend(hists.iter().rev().take(2).map(|p| (p.t, Some(&*p.h), 0.0)));
    merged.sort_by_key(|m| std::cmp::Reverse(m.0));
    if merged.len() < 2 {
        return None;
    }
    let (last, prev) = (merged[0], merged[1]);
    let interval = (last.0 - prev.0) as f64 / 1000.0;
    match (last.1, prev.1) {
        (None, None) => {
            let mut v = last.2 - prev.2;
            if is_rate && last.2 < prev.2 {
                v = last.2;
            }
            if is_rate {
                v /= interval;
            }
            Some(WinOut::F(v))
        }
        (Some(l), Some(p)) => {
            if is_rate && (l.counter_reset_hint == Gauge || p.counter_reset_hint == Gauge) {
                notes.push(HistNote::NotCounter);
            }
            let mut h = l.clone();
            let n = hists.len();
            let st_reset = is_rate && n >= 2 && hsts.len() == n && {
                let (a, b) = (&hists[n - 2], &hists[n - 1]);
                a.t == prev.0
                    && b.t == last.0
                    && is_start_timestamp_reset(hsts[n - 2], a.t, hsts[n - 1], b.t)
            };
            if !is_rate || !(st_reset || l.detect_reset(p)) {
                match h.sub(p) {
                    Err(_) => {
                        notes.push(HistNote::MixedExponentialCustom);
                        return None;
                    }
                    Ok(o) if o.custom_bounds_reconciled => {
                        notes.push(HistNote::MismatchedCustom("subtraction"))
                    }
                    Ok(_) => {}
                }
            }
            if !is_rate && (l.counter_reset_hint != Gauge || p.counter_reset_hint != Gauge) {
                notes.push(HistNote::NotGauge);
            }
            h.counter_reset_hint = Gauge;
            if is_rate {
                h.div(interval);
            }
            h.compact(0);
            Some(WinOut::H(Box::new(h)))
        }
        _ => {
            notes.push(HistNote::Mixed);
            None
        }
    }
}

/// `resets` (`resets`) or `changes` over a window of floats and
/// histograms in time order; a switch of sample kind counts.
fn transitions(floats: &[FPoint], hists: &[HPoint], hsts: &[i64], resets: bool) -> f64 {
    let (mut i, mut j) = (0, 0);
    let mut prev: Option<(Option<&FloatHistogram>, f64)> = None;
    let mut n = 0usize;
    while i < floats.len() || j < hists.len() {
        let mut by_st = false;
        let cur = if j >= hists.len() || (i < floats.len() && floats[i].t < hists[j].t) {
            i += 1;
            (None, floats[i - 1].f)
        } else {
            j += 1;
            by_st = resets && j >= 2 && st_reset(hists, hsts, j - 1);
            (Some(&*hists[j - 1].h), 0.0)
        };
        if let Some(p) = prev {
            let counts = match (p.0, cur.0) {
                (None, None) => {
                    if resets {
                        cur.1 < p.1
                    } else {
                        cur.1 != p.1 && !(cur.1.is_nan() && p.1.is_nan())
                    }
                }
                (Some(a), Some(b)) => {
                    if resets {
                        by_st || b.detect_reset(a)
                    } else {
                        !b.equals(a)
                    }
                }
                _ => true,
            };
            if counts {
                n += 1;
            }
        }
        prev = Some(cur);
    }
    n as f64
}

/// `sum_over_time` or (`avg`) `avg_over_time` of histograms (the mean
/// computed incrementally, as Prometheus does).
fn over_time(
    points: &[HPoint],
    avg: bool,
    notes: &mut Vec<HistNote>,
) -> Option<Box<FloatHistogram>> {
    use aion_model::histogram::CounterResetHint::{CounterReset, NotCounterReset};
    let first = points.first()?;
    let mut acc = (*first.h).clone();
    let mut kahan = super::hist_aggregate::KahanFields::default();
    kahan.add(&first.h);
    let (mut reset, mut not_reset) = (false, false);
    let mut track = |h: &FloatHistogram| match h.counter_reset_hint {
        CounterReset => reset = true,
        NotCounterReset => not_reset = true,
        _ => {}
    };
    track(&first.h);
    for (i, p) in points[1..].iter().enumerate() {
        track(&p.h);
        kahan.add(&p.h);
        let r = if avg {
            let n = (i + 2) as f64;
            let mut left = (*p.h).clone();
            left.div(n);
            let mut right = acc.clone();
            right.div(n);
            match left.sub(&right) {
                Ok(o) => {
                    if o.custom_bounds_reconciled {
                        notes.push(HistNote::MismatchedCustom("aggregation"));
                    }
                    acc.add(&left)
                }
                Err(e) => Err(e),
            }
        } else {
            acc.add(&p.h)
        };
        match r {
            Err(_) => {
                notes.push(HistNote::MixedExponentialCustom);
                return None;
            }
            Ok(o) if o.custom_bounds_reconciled => {
                notes.push(HistNote::MismatchedCustom("aggregation"))
            }
            Ok(_) => {}
        }
    }
    if reset && not_reset {
        notes.push(HistNote::CounterResetCollision);
    }
    let (sum, count) = kahan.totals(if avg { points.len() as f64 } else { 1.0 });
    acc.sum = sum;
    if !avg || count.is_finite() {
        acc.count = count;
    }
    acc.compact(0);
    Some(Box::new(acc))
}
