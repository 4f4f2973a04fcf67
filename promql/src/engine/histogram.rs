//! `histogram_quantile`, `histogram_fraction` and `histogram_quantiles`
//! over classic histograms: series with an `le` label, grouped by their
//! other labels, one bucket per series.

use std::collections::HashMap;
use std::mem::size_of;

use aion_model::Labels;

use super::annotations::Annotation;
use super::error::Result;
use super::eval::Evaluator;
use super::mathx::almost_equal;
use super::memory::{group_bytes, what};
use super::native_fns::{histogram_fraction, histogram_quantile, NanNote};
use super::step::{Sink, StepSeries};
use crate::ast::{Call, Expr};
use crate::value::FPoint;
use aion_model::gotext::format_go_g;

/// Relative differences between neighbouring cumulative bucket counts below
/// this are float noise and ignored (Prometheus's `smallDeltaTolerance`).
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// One classic histogram bucket: upper bound and cumulative count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// The `le` bound.
    pub upper_bound: f64,
    /// Observations at or below the bound.
    pub count: f64,
}

/// What monotonicity fixing did to the buckets.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Monotonicity {
    /// Some cumulative count decreased and was raised.
    pub forced: bool,
    /// Lowest bucket bound that was raised.
    pub min_bucket: f64,
    /// Highest bucket bound that was raised.
    pub max_bucket: f64,
    /// Largest decrease that was removed.
    pub max_diff: f64,
}

fn sort_buckets(buckets: &mut [Bucket]) {
    buckets.sort_by(|a, b| {
        a.upper_bound
            .partial_cmp(&b.upper_bound)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
}

/// Merges buckets with equal bounds (input sorted).
fn coalesce(buckets: &mut Vec<Bucket>) {
    let mut out: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.drain(..) {
        match out.last_mut() {
            Some(last) if last.upper_bound == b.upper_bound => last.count += b.count,
            _ => out.push(b),
        }
    }
    *buckets = out;
}

/// Ignores float noise between neighbouring counts, then removes any
/// decrease (the "envelope" of the cumulative counts).
fn ensure_monotonic(buckets: &mut [Bucket]) -> Monotonicity {
    let mut m = Monotonicity {
        min_bucket: f64::INFINITY,
        max_bucket: f64::NEG_INFINITY,
        ..Monotonicity::default()
    };
    let mut prev = buckets[0].count;
    for b in &mut buckets[1..] {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            b.count = prev;
            continue;
        }
        if curr < prev {
            b.count = prev;
            m.forced = true;
            if b.upper_bound < m.min_bucket {
                m.min_bucket = b.upper_bound;
            }
            if b.upper_bound > m.max_bucket {
                m.max_bucket = b.upper_bound;
            }
            if prev - curr > m.max_diff {
                m.max_diff = prev - curr;
            }
            continue;
        }
        prev = curr;
    }
    m
}

/// The `q` quantile of a classic histogram, interpolating linearly within
/// the bucket it falls into (from 0 for the lowest bucket when its bound is
/// positive). Special cases follow Prometheus: NaN for fewer than two
/// buckets, no `+Inf` bucket or no observations; ±Inf for `q` out of
/// [0, 1]; the second highest bound when the quantile lands in the `+Inf`
/// bucket.
pub fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> (f64, Monotonicity) {
    let none = Monotonicity::default();
    if q.is_nan() {
        return (f64::NAN, none);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, none);
    }
    if q > 1.0 {
        return (f64::INFINITY, none);
    }
    sort_buckets(buckets);
    if buckets
        .last()
        .is_none_or(|b| b.upper_bound != f64::INFINITY)
    {
        return (f64::NAN, none);
    }
    coalesce(buckets);
    let m = ensure_monotonic(buckets);
    if buckets.len() < 2 {
        return (f64::NAN, m);
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, m);
    }
    let mut rank = q * observations;
    let b = buckets[..buckets.len() - 1].partition_point(|x| x.count < rank);
    let v = if b == buckets.len() - 1 {
        buckets[buckets.len() - 2].upper_bound
    } else if b == 0 && buckets[0].upper_bound <= 0.0 {
        buckets[0].upper_bound
    } else {
        let mut start = 0.0;
        let end = buckets[b].upper_bound;
        let mut count = buckets[b].count;
        if b > 0 {
            start = buckets[b - 1].upper_bound;
            count -= buckets[b - 1].count;
            rank -= buckets[b - 1].count;
        }
        start + (end - start) * (rank / count)
    };
    (v, m)
}

/// The fraction of observations between `lower` and `upper` in a classic
/// histogram, interpolating linearly within buckets.
pub fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    sort_buckets(buckets);
    if buckets
        .last()
        .is_none_or(|b| b.upper_bound != f64::INFINITY)
    {
        return f64::NAN;
    }
    coalesce(buckets);
    let count = buckets[buckets.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let mut rank = 0.0;
    let (mut lower_rank, mut upper_rank) = (0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lower_bound = if buckets[0].upper_bound <= 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    for (i, b) in buckets.iter().enumerate() {
        if i > 0 {
            lower_bound = buckets[i - 1].upper_bound;
        }
        let upper_bound = b.upper_bound;
        let interpolate = |v: f64| {
            if lower_bound == f64::NEG_INFINITY {
                return b.count;
            }
            rank + (b.count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

/// `labels.FormatOpenMetricsFloat`: Go's shortest `%g`, with `.0` added to
/// integers.
fn format_openmetrics_float(f: f64) -> String {
    if f == 1.0 {
        return "1.0".into();
    }
    if f == 0.0 {
        return "0.0".into();
    }
    if f == -1.0 {
        return "-1.0".into();
    }
    let mut s = format_go_g(f);
    if !f.is_nan() && !f.is_infinite() && !s.contains(['e', '.']) {
        s.push_str(".0");
    }
    s
}

/// Go's `strconv.ParseFloat` for `le` values (decimal, exponent, and
/// case-insensitive `Inf`/`Infinity`/`NaN` with an optional sign).
fn le_bound(s: &str) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    s.parse::<f64>().ok()
}

impl<'c, 'q> Evaluator<'c, 'q> {
    pub(crate) fn stream_classic_histogram_fn(&self, c: &Call, sink: Sink) -> Result<()> {
        let name = c.func.name;
        let n = self.num_steps();
        // The vector argument and the scalar parameters per step.
        let (vec_arg, qs, lower, upper, quantile_label) = match name {
            "histogram_quantile" => {
                let q = self.eval_scalar(&c.args[0])?;
                (&c.args[1], vec![(q, c.args[0].span())], None, None, None)
            }
            "histogram_fraction" => (
                &c.args[2],
                Vec::new(),
                Some(self.eval_scalar(&c.args[0])?),
                Some(self.eval_scalar(&c.args[1])?),
                None,
            ),
            _ => {
                let label = match c.args[1].unparen() {
                    Expr::String(s) => s.value.clone(),
                    _ => String::new(),
                };
                let mut qs = Vec::new();
                for a in &c.args[2..] {
                    qs.push((self.eval_scalar(a)?, a.span()));
                }
                (&c.args[0], qs, None, None, Some(label))
            }
        };
        // Prometheus validates the quantile at every step, whether or not
        // the input has data there.
        for (q, span) in &qs {
            for &v in q {
                if v.is_nan() || !(0.0..=1.0).contains(&v) {
                    self.ctx.annotate(Annotation::invalid_quantile(v, *span));
                }
            }
        }
        let vec_span = vec_arg.span();
        let monotonicity_span = if name == "histogram_quantiles" {
            c.args[0].span()
        } else {
            vec_arg.span()
        };

        // Buckets per group per step, in input order.
        let mut groups: Vec<Labels> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut buckets: Vec<Vec<Bucket>> = Vec::new();
        let mut held = 0usize;
        let mut state = self.ctx.budget.memory.guard();
        // Results of native histogram samples, keyed like the classic ones.
        let mut native: Vec<(Labels, FPoint)> = Vec::new();
        let streamed = self.stream(vec_arg, &mut |s| {
            if !s.hists.is_empty() {
                let metric_name = if self.delayed() {
                    s.metric.metric_name().unwrap_or("").to_string()
                } else {
                    String::new()
                };
                for p in &s.hists {
                    let i = self.step_index(p.t);
                    let mut push = |labels: Labels, (v, note): (f64, NanNote)| {
                        match note {
                            NanNote::QuantileNaN => self
                                .ctx
                                .annotate(Annotation::quantile_nan_result(&metric_name, vec_span)),
                            NanNote::QuantileSkew => self
                                .ctx
                                .annotate(Annotation::quantile_nan_skew(&metric_name, vec_span)),
                            NanNote::FractionNaNs => self
                                .ctx
                                .annotate(Annotation::fraction_nans(&metric_name, vec_span)),
                            NanNote::None => {}
                        }
                        native.push((labels, FPoint { t: p.t, f: v }));
                    };
                    if name == "histogram_fraction" {
                        let lo = lower.as_ref().map_or(f64::NAN, |l| l[i]);
                        let hi = upper.as_ref().map_or(f64::NAN, |u| u[i]);
                        push(s.metric.clone(), histogram_fraction(lo, hi, &p.h));
                        continue;
                    }
                    for (q, _) in &qs {
                        let labels = match &quantile_label {
                            Some(label) => {
                                let mut bld = s.metric.builder();
                                bld.set(label, &format_openmetrics_float(q[i]));
                                bld.build().unwrap_or_else(|_| s.metric.clone())
                            }
                            None => s.metric.clone(),
                        };
                        push(labels, histogram_quantile(q[i], &p.h));
                    }
                }
                self.ctx.budget.take(s.hists.len())?;
                held += s.hists.len();
                // One result (labels and point) per histogram sample and
                // quantile.
                state.add(what::BUCKETS, || {
                    s.hists.len()
                        * qs.len().max(1)
                        * (size_of::<(Labels, FPoint)>() + s.metric.heap_bytes())
                })?;
                if s.points.is_empty() {
                    return Ok(());
                }
            }
            let le = s.metric.get("le").unwrap_or("");
            let Some(bound) = le_bound(le) else {
                let metric_name = if self.delayed() {
                    s.metric.metric_name().unwrap_or("")
                } else {
                    ""
                };
                self.ctx
                    .annotate(Annotation::bad_bucket_label(metric_name, le, vec_span));
                return Ok(());
            };
            let key = s.metric.without(&["le"]);
            let g = match index.get(&key) {
                Some(&g) => g,
                None => {
                    self.ctx.budget.take(n)?;
                    held += n;
                    state.add(what::BUCKETS, || {
                        group_bytes(&key, n * size_of::<Vec<Bucket>>())
                    })?;
                    index.insert(key.clone(), groups.len());
                    groups.push(key);
                    buckets.resize(buckets.len() + n, Vec::new());
                    groups.len() - 1
                }
            };
            state.add(what::BUCKETS, || s.points.len() * size_of::<Bucket>())?;
            for p in &s.points {
                self.ctx.budget.take(1)?;
                held += 1;
                buckets[g * n + self.step_index(p.t)].push(Bucket {
                    upper_bound: bound,
                    count: p.f,
                });
            }
            Ok(())
        });
        let result = streamed.and_then(|()| {
            let mut out: Vec<StepSeries> = Vec::new();
            let mut out_index: HashMap<Labels, usize> = HashMap::new();
            let mut native_keys: std::collections::HashSet<(Labels, i64)> =
                std::collections::HashSet::new();
            // One pass per quantile (or a single one for the fraction).
            let quantiles: Vec<Option<&Vec<f64>>> = if qs.is_empty() {
                vec![None]
            } else {
                qs.iter().map(|(q, _)| Some(q)).collect()
            };
            for (g, labels) in groups.iter().enumerate() {
                let metric_name = if self.delayed() {
                    labels.metric_name().unwrap_or("")
                } else {
                    ""
                };
                for q in &quantiles {
                    for i in 0..n {
                        let b = &mut buckets[g * n + i];
                        if b.is_empty() {
                            continue;
                        }
                        let ts = self.step_ts(i);
                        let v = match name {
                            "histogram_fraction" => {
                                let lo = lower.as_ref().map_or(f64::NAN, |l| l[i]);
                                let hi = upper.as_ref().map_or(f64::NAN, |u| u[i]);
                                bucket_fraction(lo, hi, b)
                            }
                            _ => {
                                let q = q.map_or(f64::NAN, |q| q[i]);
                                let mut scratch = b.clone();
                                let (v, m) = bucket_quantile(q, &mut scratch);
                                if m.forced {
                                    self.ctx.annotate(Annotation::forced_monotonicity(
                                        metric_name,
                                        monotonicity_span,
                                        ts,
                                        m.min_bucket,
                                        m.max_bucket,
                                        m.max_diff,
                                    ));
                                }
                                v
                            }
                        };
                        // histogram_quantiles labels each result with its
                        // quantile (which may differ between steps).
                        let metric = match &quantile_label {
                            Some(label) => {
                                let mut bld = labels.builder();
                                let q = q.map_or(f64::NAN, |q| q[i]);
                                bld.set(label, &format_openmetrics_float(q));
                                bld.build().unwrap_or_else(|_| labels.clone())
                            }
                            None => labels.clone(),
                        };
                        let k = *out_index.entry(metric.clone()).or_insert_with(|| {
                            out.push(StepSeries::new(metric, false, Vec::new()));
                            out.len() - 1
                        });
                        out[k].points.push(FPoint { t: ts, f: v });
                    }
                }
            }
            for (metric, p) in native.drain(..) {
                // A classic and a native histogram with one label set at
                // one step: neither counts (Prometheus warns).
                if let Some(&k) = out_index.get(&metric) {
                    if let Ok(j) = out[k].points.binary_search_by_key(&p.t, |q| q.t) {
                        if !native_keys.contains(&(metric.clone(), p.t)) {
                            out[k].points.remove(j);
                            let name = if self.delayed() {
                                metric.metric_name().unwrap_or("")
                            } else {
                                ""
                            };
                            self.ctx
                                .annotate(Annotation::mixed_classic_native(name, vec_span));
                            continue;
                        }
                    }
                }
                native_keys.insert((metric.clone(), p.t));
                let k = *out_index.entry(metric.clone()).or_insert_with(|| {
                    out.push(StepSeries::new(metric, false, Vec::new()));
                    out.len() - 1
                });
                out[k].points.push(p);
            }
            for s in &mut out {
                // Two groups may have ended up with one label set.
                if s.points.windows(2).any(|w| w[1].t <= w[0].t) {
                    s.points.sort_by_key(|p| p.t);
                    if s.points.windows(2).any(|w| w[1].t == w[0].t) {
                        return Err(super::error::Error::duplicate_labelset());
                    }
                }
                self.mark_drop_name(s);
            }
            Ok(out)
        });
        self.ctx.budget.give(held);
        drop((groups, index, buckets, native));
        drop(state);
        self.hand_on(result?, sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[(f64, f64)]) -> Vec<Bucket> {
        v.iter()
            .map(|&(upper_bound, count)| Bucket { upper_bound, count })
            .collect()
    }

    #[test]
    fn quantile_interpolates_within_buckets() {
        let mut h = b(&[(1.0, 10.0), (2.0, 20.0), (f64::INFINITY, 20.0)]);
        assert_eq!(bucket_quantile(0.5, &mut h).0, 1.0);
        assert_eq!(bucket_quantile(0.75, &mut h).0, 1.5);
        assert_eq!(bucket_quantile(0.25, &mut h).0, 0.5);
        // In the +Inf bucket: the second highest bound.
        let mut h = b(&[(1.0, 10.0), (f64::INFINITY, 20.0)]);
        assert_eq!(bucket_quantile(0.9, &mut h).0, 1.0);
        // No +Inf bucket.
        assert!(bucket_quantile(0.5, &mut b(&[(1.0, 1.0), (2.0, 2.0)]))
            .0
            .is_nan());
    }

    #[test]
    fn monotonicity_is_forced_and_reported() {
        let mut h = b(&[(1.0, 10.0), (2.0, 5.0), (3.0, 12.0), (f64::INFINITY, 12.0)]);
        let (v, m) = bucket_quantile(0.5, &mut h);
        assert!(m.forced);
        assert_eq!((m.min_bucket, m.max_bucket, m.max_diff), (2.0, 2.0, 5.0));
        assert_eq!(v, 0.6);
        // Float noise is fixed silently.
        let mut h = b(&[(1.0, 10.0), (2.0, 10.0 - 1e-14), (f64::INFINITY, 10.0)]);
        assert!(!bucket_quantile(0.5, &mut h).1.forced);
    }

    #[test]
    fn fractions() {
        let mut h = b(&[(1.0, 10.0), (2.0, 20.0), (f64::INFINITY, 20.0)]);
        assert_eq!(bucket_fraction(0.0, 1.0, &mut h), 0.5);
        assert_eq!(bucket_fraction(0.5, 1.5, &mut h), 0.5);
        assert_eq!(bucket_fraction(1.0, 0.0, &mut h), 0.0);
    }

    #[test]
    fn openmetrics_floats() {
        assert_eq!(format_openmetrics_float(0.5), "0.5");
        assert_eq!(format_openmetrics_float(2.0), "2.0");
        assert_eq!(format_openmetrics_float(1e21), "1e+21");
    }
}
