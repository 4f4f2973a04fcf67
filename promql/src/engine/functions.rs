//! Function calls: dispatch by name to range-vector functions (streamed per
//! series over windows), per-sample math, date functions, label rewriting,
//! sorting and the other vector functions.

use std::collections::HashSet;

use aion_model::{Labels, MatchType, METRIC_NAME};

use super::annotations::{civil_from_days, Annotation};
use super::error::{Error, Result};
use super::eval::{
    fixed, merge_same_labelset, Evaluator, Held, SelectHint, Sink, StepSeries, StepWindow,
};
use super::mathx::go_f64_to_i64;
use super::range_fns::{window_fn, Extension, Scratch, WindowArgs, WindowNote};
use crate::ast::{Call, Expr, ValueType};
use crate::value::FPoint;

/// The simple float functions: one value in, one value out.
fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "sgn" => |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// The date functions, over Unix seconds (UTC).
fn date_fn(name: &str) -> Option<fn(i64) -> f64> {
    Some(match name {
        "year" => |s| civil(s).0 as f64,
        "month" => |s| civil(s).1 as f64,
        "day_of_month" => |s| civil(s).2 as f64,
        "day_of_week" => |s| (s.div_euclid(86_400) + 4).rem_euclid(7) as f64,
        "day_of_year" => |s| {
            let days = s.div_euclid(86_400);
            let (y, _, _) = civil(s);
            (days - days_from_civil(y, 1, 1) + 1) as f64
        },
        "days_in_month" => |s| {
            let (y, m, _) = civil(s);
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as f64
        },
        "hour" => |s| (s.rem_euclid(86_400) / 3600) as f64,
        "minute" => |s| (s.rem_euclid(3600) / 60) as f64,
        _ => return None,
    })
}

fn civil(secs: i64) -> (i64, u32, u32) {
    civil_from_days(secs.div_euclid(86_400))
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Go's `math.Max` / `math.Min` (NaN wins).
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else {
        a.min(b)
    }
}

/// Prometheus's label name validity in UTF-8 mode: non-empty, valid UTF-8.
pub(crate) fn is_valid_label_name(bytes: &[u8]) -> bool {
    !bytes.is_empty() && std::str::from_utf8(bytes).is_ok()
}

fn string_arg(e: &Expr) -> Result<&crate::ast::StringLiteral> {
    match e {
        Expr::String(s) => Ok(s),
        Expr::Paren(p) => string_arg(&p.expr),
        Expr::StepInvariant(s) => string_arg(&s.expr),
        // The parser type-checks string arguments; a hand-built tree may
        // not have.
        other => Err(Error::eval(format!(
            "expected a string literal argument, got {}",
            other.value_type()
        ))),
    }
}

/// Checks a call's argument count against its signature, so hand-built
/// trees cannot make evaluation index past the arguments.
fn check_arity(c: &Call) -> Result<()> {
    let n = c.args.len();
    if n < c.func.min_args() || c.func.max_args().is_some_and(|max| n > max) {
        return Err(Error::eval(format!(
            "wrong number of arguments for {}(): {n}",
            c.func.name
        )));
    }
    Ok(())
}

/// The raw text of a string argument, as Go's `%s` would print it.
fn raw(s: &crate::ast::StringLiteral) -> String {
    String::from_utf8_lossy(s.bytes()).into_owned()
}

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

/// Go's `sort.Sort` for the short vectors PromQL sorts: insertion sort
/// (exactly Go's for up to 12 elements), a stable sort above.
pub(crate) fn go_sort<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    if v.len() <= 12 {
        for i in 1..v.len() {
            let mut j = i;
            while j > 0 && less(&v[j], &v[j - 1]) {
                v.swap(j, j - 1);
                j -= 1;
            }
        }
    } else {
        v.sort_by(|a, b| {
            if less(a, b) {
                std::cmp::Ordering::Less
            } else if less(b, a) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
    }
}

/// Natural order of label values (`facette/natsort`, which Prometheus's
/// `sort_by_label` uses): runs of digits compare as integers.
pub(crate) fn natural_less(a: &str, b: &str) -> bool {
    fn chunks(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let bytes = s.as_bytes();
        let mut start = 0;
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                if start < i {
                    out.push(&s[start..i]);
                }
                start = i;
            }
        }
        out
    }
    // Go's strconv.Atoi: optional sign, decimal digits, must fit in int64.
    fn atoi(s: &str) -> Option<i64> {
        s.parse::<i64>().ok()
    }
    let ca = chunks(a);
    let cb = chunks(b);
    for i in 0..ca.len() {
        let Some(&chunk_b) = cb.get(i) else {
            return false;
        };
        if let (Some(x), Some(y)) = (atoi(ca[i]), atoi(chunk_b)) {
            if x == y {
                if i == ca.len() - 1 {
                    return true;
                } else if i == cb.len() - 1 {
                    return false;
                }
                continue;
            }
            return x < y;
        }
        if ca[i] == chunk_b {
            if i == ca.len() - 1 {
                return true;
            } else if i == cb.len() - 1 {
                return false;
            }
            continue;
        }
        return ca[i] < chunk_b;
    }
    false
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
                    for p in &s.points {
                        present[self.step_index(p.t)] = true;
                    }
                    Ok(())
                })?;
                let points: Vec<FPoint> = (0..n)
                    .filter(|&i| !present[i])
                    .map(|i| FPoint {
                        t: self.step_ts(i),
                        f: 1.0,
                    })
                    .collect();
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
                // These only produce values for native histogram samples;
                // float samples are ignored (and histogram samples are
                // refused by the selectors).
                self.stream(&c.args[0], &mut |_| Ok(()))
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
        let mut seen = UniqueLabels::new(self);
        self.stream(arg, &mut |mut s| {
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
        let per_step = |w: &StepWindow, scratch: &mut Scratch| {
            let mut buf = [0.0; 2];
            for (j, p) in params.iter().enumerate().take(2) {
                buf[j] = p[w.step];
            }
            let args = WindowArgs {
                ts: w.ts,
                range_start: w.start,
                range_end: w.end,
                range_secs,
                params: &buf[..params.len().min(2)],
                sts: w.sts,
                non_decreasing: w.non_decreasing,
                extension,
            };
            let v = f(w.points, &args, scratch)?;
            for note in scratch.notes.drain(..) {
                match note {
                    WindowNote::InvalidQuantile(q) => self
                        .ctx
                        .annotate(Annotation::invalid_quantile(q, param_spans[0])),
                    WindowNote::StartTimeOverlap => {
                        self.ctx.annotate(Annotation::start_time_overlap(
                            w.labels.metric_name().unwrap_or(""),
                            arg.span(),
                        ))
                    }
                }
            }
            Ok(v)
        };

        if name == "absent_over_time" {
            let n = self.num_steps();
            let mut present = vec![false; n];
            self.stream_windows(arg, Some(&hint), with_st, per_step, &mut |s| {
                for p in &s.points {
                    present[self.step_index(p.t)] = true;
                }
                Ok(())
            })?;
            let points: Vec<FPoint> = (0..n)
                .filter(|&i| !present[i])
                .map(|i| FPoint {
                    t: self.step_ts(i),
                    f: 1.0,
                })
                .collect();
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
        self.stream_windows(arg, Some(&hint), with_st, per_step, &mut |mut s| {
            if s.points.is_empty() {
                return Ok(());
            }
            if counter_check {
                if let Some(metric_name) = s.metric.metric_name() {
                    if !(metric_name.ends_with("_total")
                        || metric_name.ends_with("_sum")
                        || metric_name.ends_with("_count")
                        || metric_name.ends_with("_bucket"))
                    {
                        self.ctx
                            .annotate(Annotation::possible_non_counter(metric_name, arg.span()));
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
        })
    }

    fn stream_sort(&self, c: &Call, sink: Sink) -> Result<()> {
        if !self.is_instant() {
            // Range results are ordered by labels anyway.
            self.ctx.annotate(Annotation::sort_in_range_query(c.span));
            return self.stream(&c.args[0], sink);
        }
        let mut v = self.collect(&c.args[0])?;
        let _held = Held::new(&self.ctx.budget, &v);
        let val = |s: &StepSeries| s.points[0].f;
        match c.func.name {
            // Ascending, NaN last (Prometheus sorts descending with NaN
            // first and reverses).
            "sort" => go_sort(&mut v, |a, b| val(b).is_nan() || val(b) > val(a)),
            "sort_desc" => go_sort(&mut v, |a, b| val(b).is_nan() || val(b) < val(a)),
            by_label => {
                let names = c.args[1..]
                    .iter()
                    .map(|a| string_arg(a).map(raw))
                    .collect::<Result<Vec<String>>>()?;
                let desc = by_label == "sort_by_label_desc";
                let cmp = |a: &StepSeries, b: &StepSeries| {
                    for n in &names {
                        let x = a.metric.get(n).unwrap_or("");
                        let y = b.metric.get(n).unwrap_or("");
                        if x == y {
                            continue;
                        }
                        let less = natural_less(x, y);
                        return if less != desc {
                            std::cmp::Ordering::Less
                        } else {
                            std::cmp::Ordering::Greater
                        };
                    }
                    let o = a.metric.cmp(&b.metric);
                    if desc {
                        o.reverse()
                    } else {
                        o
                    }
                };
                v.sort_by(cmp);
            }
        }
        for s in v {
            sink(s)?;
        }
        Ok(())
    }

    fn stream_label_replace(&self, c: &Call, sink: Sink) -> Result<()> {
        let dst = string_arg(&c.args[1])?;
        let repl = string_arg(&c.args[2])?.value.clone();
        let src = string_arg(&c.args[3])?.value.clone();
        let regex_src = string_arg(&c.args[4])?;
        let regex = regex::Regex::new(&format!("^(?s:{})$", regex_src.value)).map_err(|_| {
            Error::eval(format!(
                "invalid regular expression in label_replace(): {}",
                raw(regex_src)
            ))
        })?;
        if !is_valid_label_name(dst.bytes()) {
            return Err(Error::eval(format!(
                "invalid destination label name in label_replace(): {}",
                raw(dst)
            )));
        }
        self.stream_relabelled(&c.args[0], &dst.value, sink, &mut |metric| {
            let caps = regex.captures(metric.get(&src).unwrap_or(""))?;
            let mut res = String::new();
            caps.expand(&repl, &mut res);
            Some(res)
        })
    }

    fn stream_label_join(&self, c: &Call, sink: Sink) -> Result<()> {
        let dst = string_arg(&c.args[1])?;
        let sep = string_arg(&c.args[2])?.value.clone();
        let mut srcs = Vec::new();
        for a in &c.args[3..] {
            let s = string_arg(a)?;
            if !is_valid_label_name(s.bytes()) {
                return Err(Error::eval(format!(
                    "invalid source label name in label_join(): {}",
                    raw(s)
                )));
            }
            srcs.push(s.value.clone());
        }
        if !is_valid_label_name(dst.bytes()) {
            return Err(Error::eval(format!(
                "invalid destination label name in label_join(): {}",
                raw(dst)
            )));
        }
        self.stream_relabelled(&c.args[0], &dst.value, sink, &mut |metric| {
            Some(
                srcs.iter()
                    .map(|l| metric.get(l).unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join(&sep),
            )
        })
    }

    /// The series of `arg` with label `dst` set to what `value` gives for
    /// each (`None` leaves a series as it is). Relabelling can make series
    /// equal, so they are collected and merged as Prometheus does before
    /// any is yielded.
    fn stream_relabelled(
        &self,
        arg: &Expr,
        dst: &str,
        sink: Sink,
        value: &mut dyn FnMut(&Labels) -> Option<String>,
    ) -> Result<()> {
        let mut out = Vec::new();
        self.stream(arg, &mut |mut s| {
            if let Some(v) = value(&s.metric) {
                let mut b = s.metric.builder();
                b.set(dst, &v);
                s.metric = b.build().map_err(|e| Error::eval(e.to_string()))?;
                if dst == METRIC_NAME {
                    s.drop_name = false;
                }
            }
            self.ctx.budget.take(s.points.len())?;
            out.push(s);
            Ok(())
        })?;
        let _held = Held::new(&self.ctx.budget, &out);
        for s in merge_same_labelset(out)? {
            sink(s)?;
        }
        Ok(())
    }
}

/// Without delayed name removal, an operator that drops the metric name
/// can make two series equal; Prometheus then fails with "vector cannot
/// contain metrics with the same labelset" when they meet at a step.
pub(crate) struct UniqueLabels {
    enabled: bool,
    steps: std::collections::HashMap<Labels, Vec<i64>>,
}

impl UniqueLabels {
    pub(crate) fn new(ev: &Evaluator) -> Self {
        UniqueLabels {
            enabled: !ev.delayed(),
            steps: std::collections::HashMap::new(),
        }
    }

    pub(crate) fn check(&mut self, s: &StepSeries) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        let seen = self.steps.entry(s.metric.clone()).or_default();
        if !seen.is_empty() {
            if s.points.iter().any(|p| seen.binary_search(&p.t).is_ok()) {
                return Err(Error::duplicate_labelset());
            }
            seen.extend(s.points.iter().map(|p| p.t));
            seen.sort_unstable();
        } else {
            seen.extend(s.points.iter().map(|p| p.t));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        assert!(natural_less("a2", "a10"));
        assert!(!natural_less("a10", "a2"));
        assert!(natural_less("a", "b"));
        assert!(natural_less("1", "1a"));
        assert!(!natural_less("1a", "1"));
    }

    #[test]
    fn dates() {
        // 2000-02-29T12:34:56Z
        let s = 951_827_696;
        assert_eq!(date_fn("year").unwrap()(s), 2000.0);
        assert_eq!(date_fn("month").unwrap()(s), 2.0);
        assert_eq!(date_fn("day_of_month").unwrap()(s), 29.0);
        assert_eq!(date_fn("days_in_month").unwrap()(s), 29.0);
        assert_eq!(date_fn("day_of_year").unwrap()(s), 60.0);
        assert_eq!(date_fn("day_of_week").unwrap()(s), 2.0);
        assert_eq!(date_fn("hour").unwrap()(s), 12.0);
        assert_eq!(date_fn("minute").unwrap()(s), 34.0);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
    }

    #[test]
    fn go_min_max() {
        assert!(go_max(1.0, f64::NAN).is_nan());
        assert!(!go_max(-0.0, 0.0).is_sign_negative());
        assert!(go_min(-0.0, 0.0).is_sign_negative());
    }
}
