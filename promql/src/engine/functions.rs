//! Function calls: dispatch by name. Range-vector functions stream per
//! series over windows ([`super::range_fns`] holds their table), per-value
//! functions map series ([`super::simple_fns`]); `round`, `clamp`,
//! `vector`, `absent` and the scalar-valued calls are evaluated here;
//! sorting, label rewriting, histograms and `info` have files of their
//! own.

use std::collections::HashSet;

use aion_model::histogram::FloatHistogram;
use aion_model::{Labels, MatchType, METRIC_NAME};

use super::annotations::Annotation;
use super::args::check_arity;
use super::error::{Error, Result};
use super::eval::{fixed, Evaluator};
use super::hist_range_fns::{floats_only, hist_window, HistNote, WinOut};
use super::mathx::go_f64_to_i64;
use super::native_fns::histogram_variance;
use super::range_fns::{window_fn, Extension, Scratch, WindowNote};
use super::select::SelectHint;
use super::simple_fns::{date_fn, go_max, go_min, math_fn};
use super::step::{Sink, StepSeries, UniqueLabels};
use super::window::{FloatFn, StepWindow};
use crate::ast::{Call, Expr, ValueType};
use crate::value::FPoint;

/// The labels `absent`/`absent_over_time` give their result: the
/// equality matchers of the argument's selector, unless a label is
/// matched more than once.
fn absent_labels(arg: &Expr) -> Labels {
    let vs = match arg.unparen() {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.selector,
        Expr::StepInvariant(s) => return absent_labels(&s.expr),
        _ => return Labels::new(),
    };
    let mut b = aion_model::LabelsBuilder::new();
    let mut has = HashSet::new();
    for m in &vs.matchers {
        if m.name() == METRIC_NAME {
            continue;
        }
        if m.kind() == MatchType::Equal && !has.contains(m.name()) {
            b.set(m.name(), m.value());
            has.insert(m.name().to_string());
        } else {
            b.del(&[m.name()]);
        }
    }
    b.build().unwrap_or_default()
}

impl<'c, 'q> Evaluator<'c, 'q> {
    /// Scalar-valued calls.
    pub(crate) fn eval_scalar_call(&self, c: &Call) -> Result<Vec<f64>> {
        check_arity(c)?;
        let n = self.num_steps();
        match c.func.name {
            "time" => Ok((0..n).map(|i| self.step_ts(i) as f64 / 1000.0).collect()),
            "pi" => Ok(vec![std::f64::consts::PI; n]),
            "min_of" | "max_of" => {
                let a = self.eval_scalar(&c.args[0])?;
                let b = self.eval_scalar(&c.args[1])?;
                let f = if c.func.name == "max_of" {
                    go_max
                } else {
                    go_min
                };
                Ok(a.iter().zip(&b).map(|(&x, &y)| f(x, y)).collect())
            }
            "scalar" => {
                // One float at a step gives its value; none or several, NaN.
                let mut value = vec![f64::NAN; n];
                let mut count = vec![0u32; n];
                self.stream(&c.args[0], &mut |s| {
                    for p in &s.points {
                        let i = self.step_index(p.t);
                        count[i] += 1;
                        value[i] = p.f;
                    }
                    Ok(())
                })?;
                for (v, c) in value.iter_mut().zip(&count) {
                    if *c != 1 {
                        *v = f64::NAN;
                    }
                }
                Ok(value)
            }
            other => Err(Error::eval(format!(
                "function {other} does not return a scalar"
            ))),
        }
    }

    /// Vector-valued calls.
    pub(crate) fn stream_call(&self, c: &Call, sink: Sink) -> Result<()> {
        check_arity(c)?;
        let name = c.func.name;
        if c.args
            .iter()
            .any(|a| matches!(a.unparen(), Expr::MatrixSelector(_) | Expr::Subquery(_)))
            || c.func.arg_types.contains(&ValueType::Matrix)
        {
            return self.stream_range_function(c, sink);
        }
        if let Some(f) = math_fn(name) {
            return self.stream_float_map(&c.args[0], sink, |v, _| Some(f(v)));
        }
        if let Some(f) = date_fn(name) {
            return match c.args.first() {
                Some(arg) => self.stream_float_map(arg, sink, |v, _| Some(f(go_f64_to_i64(v)))),
                None => {
                    let points = (0..self.num_steps())
                        .map(|i| {
                            let t = self.step_ts(i);
                            // Go's integer division truncates toward zero.
                            FPoint { t, f: f(t / 1000) }
                        })
                        .collect();
                    sink(StepSeries::new(Labels::new(), false, points))
                }
            };
        }
        match name {
            "round" => {
                let to = match c.args.get(1) {
                    Some(a) => self.eval_scalar(a)?,
                    None => vec![1.0; self.num_steps()],
                };
                self.stream_float_map(&c.args[0], sink, |v, i| {
                    let inverse = 1.0 / to[i];
                    Some((v * inverse + 0.5).floor() / inverse)
                })
            }
            "clamp" | "clamp_min" | "clamp_max" => {
                let n = self.num_steps();
                let (lo, hi) = match name {
                    "clamp" => (self.eval_scalar(&c.args[1])?, self.eval_scalar(&c.args[2])?),
                    "clamp_min" => (self.eval_scalar(&c.args[1])?, vec![f64::INFINITY; n]),
                    _ => (vec![f64::NEG_INFINITY; n], self.eval_scalar(&c.args[1])?),
                };
                self.stream_float_map(&c.args[0], sink, |v, i| {
                    if hi[i] < lo[i] {
                        return None;
                    }
                    Some(go_max(lo[i], go_min(hi[i], v)))
                })
            }
            "timestamp" => match c.args[0].unparen() {
                Expr::VectorSelector(vs) => self.stream_selector_timestamps(vs, false, sink),
                arg => {
                    self.stream_float_map(arg, sink, |_, i| Some(self.step_ts(i) as f64 / 1000.0))
                }
            },
            "vector" => {
                let v = self.eval_scalar(&c.args[0])?;
                let points = v
                    .iter()
                    .enumerate()
                    .map(|(i, &f)| FPoint {
                        t: self.step_ts(i),
                        f,
                    })
                    .collect();
                sink(StepSeries::new(Labels::new(), false, points))
            }
            "absent" => {
                let n = self.num_steps();
                let mut present = vec![false; n];
                self.stream(&c.args[0], &mut |s| {
                    for t in s
                        .points
                        .iter()
                        .map(|p| p.t)
                        .chain(s.hists.iter().map(|h| h.t))
                    {
                        present[self.step_index(t)] = true;
                    }
                    Ok(())
                })?;
                let points = self.absent_points(&present);
                if points.is_empty() {
                    return Ok(());
                }
                sink(StepSeries::new(absent_labels(&c.args[0]), false, points))
            }
            "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => {
                self.stream_sort(c, sink)
            }
            "label_replace" => self.stream_label_replace(c, sink),
            "label_join" => self.stream_label_join(c, sink),
            "histogram_quantile" | "histogram_fraction" | "histogram_quantiles" => {
                self.stream_classic_histogram_fn(c, sink)
            }
            "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
            | "histogram_stdvar" => {
                // Values of native histogram samples only; float samples
                // are ignored.
                let f: fn(&FloatHistogram) -> f64 = match c.func.name {
                    "histogram_count" => |h| h.count,
                    "histogram_sum" => |h| h.sum,
                    "histogram_avg" => |h| h.sum / h.count,
                    "histogram_stddev" => |h| histogram_variance(h).sqrt(),
                    _ => histogram_variance,
                };
                let mut seen = UniqueLabels::new(self.delayed(), &self.ctx.budget.memory);
                self.stream(&c.args[0], &mut |mut s| {
                    if s.hists.is_empty() {
                        return Ok(());
                    }
                    s.points = s
                        .hists
                        .drain(..)
                        .map(|p| FPoint { t: p.t, f: f(&p.h) })
                        .collect();
                    self.mark_drop_name(&mut s);
                    seen.check(&s)?;
                    sink(s)
                })
            }
            "info" => self.stream_info(c, sink),
            "start_timestamp" => match c.args[0].unparen() {
                // Start timestamps only exist for samples read straight
                // from storage, and only when the engine uses them.
                Expr::VectorSelector(vs) if self.ctx.use_start_timestamps => {
                    self.stream_selector_timestamps(vs, true, sink)
                }
                arg => self.stream(arg, &mut |_| Ok(())),
            },
            other => Err(Error::Unsupported(format!(
                "function {other}() is not supported by this engine"
            ))),
        }
    }

    /// Streams `arg` through a per-point float function `f(value, step)`
    /// (returning `None` drops the point). The metric name is dropped.
    fn stream_float_map<F>(&self, arg: &Expr, sink: Sink, f: F) -> Result<()>
    where
        F: Fn(f64, usize) -> Option<f64>,
    {
        let mut seen = UniqueLabels::new(self.delayed(), &self.ctx.budget.memory);
        self.stream(arg, &mut |mut s| {
            // Float functions skip histogram samples, as in Prometheus.
            s.hists.clear();
            s.points.retain_mut(|p| match f(p.f, self.step_index(p.t)) {
                Some(v) => {
                    p.f = v;
                    true
                }
                None => false,
            });
            if s.points.is_empty() {
                return Ok(());
            }
            self.mark_drop_name(&mut s);
            seen.check(&s)?;
            sink(s)
        })
    }

    /// The points of `absent`/`absent_over_time`: 1 at every step where
    /// the argument had no value.
    fn absent_points(&self, present: &[bool]) -> Vec<FPoint> {
        (0..present.len())
            .filter(|&i| !present[i])
            .map(|i| FPoint {
                t: self.step_ts(i),
                f: 1.0,
            })
            .collect()
    }

    fn stream_range_function(&self, c: &Call, sink: Sink) -> Result<()> {
        let name = c.func.name;
        let matrix_index = c
            .func
            .arg_types
            .iter()
            .position(|t| *t == ValueType::Matrix)
            .unwrap_or(0);
        let arg = &c.args[matrix_index];
        let (range, selector) = match arg.unparen() {
            Expr::MatrixSelector(ms) => (fixed(&ms.range), Some(&ms.selector)),
            Expr::Subquery(sq) => (fixed(&sq.range), None),
            Expr::StepInvariant(s) => match s.expr.unparen() {
                Expr::MatrixSelector(ms) => (fixed(&ms.range), Some(&ms.selector)),
                Expr::Subquery(sq) => (fixed(&sq.range), None),
                _ => return Err(Error::eval("range vector argument expected")),
            },
            _ => return Err(Error::eval("range vector argument expected")),
        };
        let mut extension = Extension::None;
        if let Some(vs) = selector {
            if vs.anchored {
                if !matches!(name, "changes" | "delta" | "increase" | "rate" | "resets") {
                    return Err(Error::eval(format!(
                        "anchored modifier can only be used with: changes, delta, increase, rate, resets - not with {name}"
                    )));
                }
                extension = Extension::Anchored;
            } else if vs.smoothed {
                if !matches!(name, "delta" | "increase" | "rate") {
                    return Err(Error::eval(format!(
                        "smoothed modifier can only be used with: delta, increase, rate - not with {name}"
                    )));
                }
                extension = Extension::Smoothed;
            }
        }
        let f = window_fn(name)
            .ok_or_else(|| Error::Unsupported(format!("function {name}() is not supported")))?;
        // The scalar arguments, evaluated at every step up front.
        let mut params = Vec::new();
        let mut param_spans = Vec::new();
        for (i, a) in c.args.iter().enumerate() {
            if i != matrix_index {
                params.push(self.eval_scalar(a)?);
                param_spans.push(a.span());
            }
        }
        let range_secs = range as f64 / 1000.0;
        let hint = SelectHint {
            func: Some(name.to_string()),
            ..SelectHint::default()
        };
        // Prometheus passes start timestamps only to these functions.
        let with_st = self.ctx.use_start_timestamps
            && matches!(name, "rate" | "irate" | "increase" | "resets");
        let report = |notes: &mut Vec<WindowNote>, labels: &Labels| {
            for note in notes.drain(..) {
                match note {
                    WindowNote::InvalidQuantile(q) => self
                        .ctx
                        .annotate(Annotation::invalid_quantile(q, param_spans[0])),
                    WindowNote::StartTimeOverlap => {
                        self.ctx.annotate(Annotation::start_time_overlap(
                            labels.metric_name().unwrap_or(""),
                            arg.span(),
                        ))
                    }
                }
            }
        };
        let floats = FloatFn {
            f,
            params: &params,
            range_secs,
            extension,
            rate: match name {
                "rate" => Some((true, true)),
                "increase" => Some((true, false)),
                "delta" => Some((false, false)),
                _ => None,
            },
            report: &report,
        };
        let per_step = |w: &StepWindow, scratch: &mut Scratch| {
            if w.hists.is_empty() {
                return floats.call(w, scratch).map(|v| v.map(WinOut::F));
            }
            let (buf, n) = floats.params_at(w.step);
            let args = floats.args(w, &buf[..n]);
            let metric_name = w.labels.metric_name().unwrap_or("");
            let mut notes = Vec::new();
            let v = if floats_only(name) {
                if w.points.is_empty() {
                    None
                } else {
                    notes.push(HistNote::IgnoredInMixedRange);
                    f(w.points, &args, scratch)?.map(WinOut::F)
                }
            } else {
                hist_window(name, w.points, w.hists, w.hsts, &args, &mut notes)
            };
            for n in notes {
                let span = arg.span();
                self.ctx.annotate(match n {
                    HistNote::Mixed => Annotation::mixed_floats_histograms_range(metric_name, span),
                    HistNote::NotCounter => Annotation::not_counter(metric_name, span),
                    HistNote::NotGauge => Annotation::not_gauge(metric_name, span),
                    HistNote::MixedExponentialCustom => {
                        Annotation::mixed_exponential_custom(metric_name, span)
                    }
                    HistNote::IgnoredInMixedRange => {
                        Annotation::histogram_ignored_in_mixed_range(metric_name, span)
                    }
                    HistNote::MismatchedCustom(op) => {
                        Annotation::mismatched_custom_buckets(op, span)
                    }
                    HistNote::CounterResetCollision => {
                        Annotation::counter_reset_collision("aggregation", span)
                    }
                    HistNote::StartTimeOverlap => Annotation::start_time_overlap(metric_name, span),
                });
            }
            Ok(v)
        };

        if name == "absent_over_time" {
            let n = self.num_steps();
            let mut present = vec![false; n];
            self.stream_windows(arg, Some(&hint), with_st, per_step, &floats, &mut |s| {
                for t in s
                    .points
                    .iter()
                    .map(|p| p.t)
                    .chain(s.hists.iter().map(|h| h.t))
                {
                    present[self.step_index(t)] = true;
                }
                Ok(())
            })?;
            let points = self.absent_points(&present);
            if points.is_empty() {
                return Ok(());
            }
            let labels = match arg.unparen() {
                Expr::Subquery(_) => Labels::new(),
                a => absent_labels(a),
            };
            return sink(StepSeries::new(labels, true, points));
        }

        let keeps_name = name == "last_over_time" || name == "first_over_time";
        let counter_check = name == "rate" || name == "increase";
        let mut seen = if self.delayed() {
            None
        } else {
            Some(HashSet::new())
        };
        self.stream_windows(
            arg,
            Some(&hint),
            with_st,
            per_step,
            &floats,
            &mut |mut s| {
                if s.is_empty() {
                    return Ok(());
                }
                if counter_check {
                    if let Some(metric_name) = s.metric.metric_name() {
                        if !(metric_name.ends_with("_total")
                            || metric_name.ends_with("_sum")
                            || metric_name.ends_with("_count")
                            || metric_name.ends_with("_bucket"))
                        {
                            self.ctx.annotate(Annotation::possible_non_counter(
                                metric_name,
                                arg.span(),
                            ));
                        }
                    }
                }
                if !keeps_name || s.drop_name {
                    self.mark_drop_name(&mut s);
                }
                if let Some(seen) = &mut seen {
                    if !seen.insert(s.metric.clone()) {
                        return Err(Error::duplicate_labelset());
                    }
                }
                sink(s)
            },
        )
    }
}
