//! The evaluator: walks a preprocessed expression over the steps of a
//! query and pushes result series to a sink, one series at a time.
//!
//! Evaluation is *push*-based streaming. A vector-typed node is asked to
//! [`stream`](Evaluator::stream) its output series into a sink; leaves
//! (selectors, range functions over selectors) read one storage series at
//! a time through forward-only cursors and emit its per-step values;
//! per-series operators (`abs`, `x * 2`, `rate`) transform a series and
//! pass it on; aggregations fold each incoming series into per-group,
//! per-step state and drop it. Only operators that need every series of a
//! step at once (vector matching, `sort`, `histogram_quantile`, ...)
//! materialise their inputs, and only as per-step values, never as raw
//! samples.
//!
//! A series is a [`StepSeries`]: labels, Prometheus's delayed-name-removal
//! flag, and the points at the steps where the series has a value.

use aion_model::{Labels, METRIC_NAME};
use aion_storage::{Querier, SelectHints, SeriesSet};
use parking_lot::Mutex;
use rayon::prelude::*;

use super::annotations::{Annotation, Annotations};
use super::budget::SampleBudget;
use super::cancel::Stopper;
use super::error::{Error, Result};
use super::range_fns::Scratch;
use super::window::{slice_window, LookbackCursor, WindowCursor};
use crate::ast::{
    AtModifier, Duration, Expr, MatrixSelector, StepInvariantExpr, SubqueryExpr, UnaryOp,
    VectorSelector,
};
use crate::value::FPoint;

/// Labels Prometheus drops together with the metric name (its "metadata"
/// labels: name, type and unit).
const METADATA_LABELS: [&str; 3] = [METRIC_NAME, "__type__", "__unit__"];

/// `labels` without the metric name (and type/unit) labels.
pub(crate) fn drop_metadata(labels: &Labels) -> Labels {
    if labels.iter().any(|l| METADATA_LABELS.contains(&l.name)) {
        labels.without(&METADATA_LABELS)
    } else {
        labels.clone()
    }
}

/// One series of an evaluated instant vector: its values at the steps where
/// it has one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepSeries {
    pub metric: Labels,
    /// Delayed name removal: the metric name is to be dropped at the end.
    pub drop_name: bool,
    /// Points at step timestamps (or raw sample timestamps for range
    /// vectors), in time order.
    pub points: Vec<FPoint>,
}

impl StepSeries {
    pub(crate) fn new(metric: Labels, drop_name: bool, points: Vec<FPoint>) -> Self {
        StepSeries {
            metric,
            drop_name,
            points,
        }
    }
}

/// The receiver of streamed series.
pub(crate) type Sink<'s> = &'s mut dyn FnMut(StepSeries) -> Result<()>;

/// State shared by every evaluator of one query (sub-evaluators of
/// subqueries and step-invariant parts included).
pub(crate) struct Ctx<'q> {
    pub querier: &'q dyn Querier,
    pub lookback: i64,
    pub delayed_name_removal: bool,
    pub use_start_timestamps: bool,
    pub subquery_step: i64,
    pub budget: SampleBudget,
    pub stop: Stopper,
    pub parallel: bool,
    annotations: Mutex<Annotations>,
}

impl<'q> Ctx<'q> {
    pub(crate) fn new(
        querier: &'q dyn Querier,
        options: &super::EngineOptions,
        lookback: i64,
        stop: Stopper,
    ) -> Self {
        Ctx {
            querier,
            lookback,
            delayed_name_removal: options.delayed_name_removal,
            use_start_timestamps: options.use_start_timestamps,
            subquery_step: options.default_subquery_step,
            budget: SampleBudget::new(options.max_samples),
            stop,
            parallel: options.parallel,
            annotations: Mutex::new(Annotations::new()),
        }
    }

    pub(crate) fn annotate(&self, a: Annotation) {
        self.annotations.lock().add(a);
    }

    /// The query's annotations, in a deterministic order (parallel
    /// evaluation may find them in any order).
    pub(crate) fn take_annotations(&self) -> Annotations {
        let mut a = std::mem::take(&mut *self.annotations.lock());
        a.sort();
        a
    }
}

/// An evaluator over the steps `start, start+interval, ..., <= end`.
#[derive(Clone, Copy)]
pub(crate) struct Evaluator<'c, 'q> {
    pub ctx: &'c Ctx<'q>,
    pub start: i64,
    pub end: i64,
    pub interval: i64,
}

/// A fully evaluated node.
pub(crate) enum Evaluated {
    Scalar(Vec<f64>),
    String(String),
    Vector(Vec<StepSeries>),
    Matrix(Vec<StepSeries>),
}

/// How many series a selector reads and processes per parallel batch.
const PARALLEL_BATCH: usize = 64;

pub(crate) fn fixed(d: &Duration) -> i64 {
    // Preprocessing resolved every duration expression.
    d.fixed().unwrap_or(0)
}

impl<'c, 'q> Evaluator<'c, 'q> {
    pub(crate) fn num_steps(&self) -> usize {
        if self.end < self.start {
            0
        } else {
            // In i128: a subquery far from the query can span more than i64.
            ((self.end as i128 - self.start as i128) / self.interval as i128)
                .min(usize::MAX as i128 - 1) as usize
                + 1
        }
    }

    #[inline]
    pub(crate) fn step_ts(&self, i: usize) -> i64 {
        self.start
            .wrapping_add((i as i64).wrapping_mul(self.interval))
    }

    #[inline]
    pub(crate) fn step_index(&self, t: i64) -> usize {
        (t.wrapping_sub(self.start) / self.interval) as usize
    }

    pub(crate) fn is_instant(&self) -> bool {
        self.start == self.end
    }

    /// Fails when this evaluator has more steps than the sample limit:
    /// every per-step array it builds would exceed it (and could not even
    /// be allocated for absurd subquery ranges).
    fn check_steps(&self) -> Result<()> {
        if self.num_steps() > self.ctx.budget.max() {
            return Err(Error::TooManySamples);
        }
        Ok(())
    }

    /// The same evaluator restricted to its first step.
    fn single_step(&self) -> Self {
        Evaluator {
            end: self.start,
            ..*self
        }
    }

    pub(crate) fn delayed(&self) -> bool {
        self.ctx.delayed_name_removal
    }

    /// Applies eager name removal (when delayed removal is off) to a series
    /// an operator marked for dropping its name.
    pub(crate) fn mark_drop_name(&self, s: &mut StepSeries) {
        s.drop_name = true;
        if !self.delayed() {
            s.metric = drop_metadata(&s.metric);
        }
    }

    // ---------------------------------------------------------------
    // Dispatch
    // ---------------------------------------------------------------

    /// Evaluates any expression completely.
    pub(crate) fn eval(&self, expr: &Expr) -> Result<Evaluated> {
        use crate::ast::ValueType as T;
        Ok(match expr.value_type() {
            T::Scalar => Evaluated::Scalar(self.eval_scalar(expr)?),
            T::String => Evaluated::String(string_value(expr)),
            T::Vector => Evaluated::Vector(self.collect(expr)?),
            T::Matrix => Evaluated::Matrix(self.eval_matrix(expr)?),
        })
    }

    /// Evaluates a vector expression into memory (counted against the
    /// sample limit while the caller holds it: see [`Held`]).
    pub(crate) fn collect(&self, expr: &Expr) -> Result<Vec<StepSeries>> {
        let mut out = Vec::new();
        self.stream(expr, &mut |s| {
            self.ctx.budget.take(s.points.len())?;
            out.push(s);
            Ok(())
        })?;
        Ok(out)
    }

    /// Streams the series of a vector-typed expression into `sink`.
    pub(crate) fn stream(&self, expr: &Expr, sink: Sink) -> Result<()> {
        self.ctx.stop.check()?;
        self.check_steps()?;
        if self.num_steps() == 0 {
            return Ok(());
        }
        match expr {
            Expr::Paren(p) => self.stream(&p.expr, sink),
            Expr::VectorSelector(vs) => self.stream_vector_selector(vs, None, sink),
            Expr::Call(c) => self.stream_call(c, sink),
            Expr::Aggregate(a) => self.stream_aggregate(a, sink),
            Expr::Binary(b) => self.stream_binary(b, sink),
            Expr::Unary(u) => {
                let neg = u.op == UnaryOp::Neg;
                // Without delayed name removal, series that became equal
                // must not overlap (Prometheus merges them or fails).
                let mut seen = super::functions::UniqueLabels::new(self);
                self.stream(&u.expr, &mut |mut s| {
                    if neg {
                        for p in &mut s.points {
                            p.f = -p.f;
                        }
                        self.mark_drop_name(&mut s);
                        seen.check(&s)?;
                    }
                    sink(s)
                })
            }
            Expr::StepInvariant(s) => self.stream_step_invariant(s, sink),
            other => Err(Error::eval(format!(
                "unexpected {} where an instant vector was expected",
                other.value_type()
            ))),
        }
    }

    /// Evaluates a scalar expression at every step.
    pub(crate) fn eval_scalar(&self, expr: &Expr) -> Result<Vec<f64>> {
        self.ctx.stop.check()?;
        self.check_steps()?;
        let n = self.num_steps();
        match expr {
            Expr::Number(num) => Ok(vec![num.value; n]),
            Expr::Paren(p) => self.eval_scalar(&p.expr),
            Expr::Unary(u) => {
                let mut v = self.eval_scalar(&u.expr)?;
                if u.op == UnaryOp::Neg {
                    for x in &mut v {
                        *x = -*x;
                    }
                }
                Ok(v)
            }
            Expr::StepInvariant(s) => {
                if n == 0 {
                    return Ok(Vec::new());
                }
                let v = self.single_step().eval_scalar(&s.expr)?;
                Ok(vec![v.first().copied().unwrap_or(f64::NAN); n])
            }
            Expr::Binary(b) => {
                let l = self.eval_scalar(&b.lhs)?;
                let r = self.eval_scalar(&b.rhs)?;
                Ok(l.iter()
                    .zip(&r)
                    .map(|(&a, &c)| super::binary::scalar_binop(b.op, a, c))
                    .collect())
            }
            Expr::Call(c) => self.eval_scalar_call(c),
            other => Err(Error::eval(format!(
                "unexpected {} where a scalar was expected",
                other.value_type()
            ))),
        }
    }

    /// Evaluates a range-vector expression (only in instant queries): the
    /// raw samples of a range selector, or a subquery's points.
    pub(crate) fn eval_matrix(&self, expr: &Expr) -> Result<Vec<StepSeries>> {
        match expr {
            Expr::Paren(p) => self.eval_matrix(&p.expr),
            Expr::StepInvariant(s) => self.single_step().eval_matrix(&s.expr),
            Expr::MatrixSelector(ms) => {
                let mut out = Vec::new();
                self.stream_matrix_selector(ms, &mut |s| {
                    self.ctx.budget.take(s.points.len())?;
                    out.push(s);
                    Ok(())
                })?;
                Ok(out)
            }
            Expr::Subquery(sq) => {
                let mut out = Vec::new();
                self.stream_subquery(sq, &mut |s| {
                    self.ctx.budget.take(s.points.len())?;
                    out.push(s);
                    Ok(())
                })?;
                Ok(out)
            }
            other => Err(Error::eval(format!(
                "unexpected {} where a range vector was expected",
                other.value_type()
            ))),
        }
    }

    // ---------------------------------------------------------------
    // Step invariance
    // ---------------------------------------------------------------

    fn stream_step_invariant(&self, s: &StepInvariantExpr, sink: Sink) -> Result<()> {
        let n = self.num_steps();
        let single = self.single_step();
        if n == 1 {
            return single.stream(&s.expr, sink);
        }
        single.stream(&s.expr, &mut |mut series| {
            let Some(p) = series.points.first().copied() else {
                return Ok(());
            };
            series.points.clear();
            series.points.reserve(n);
            for i in 0..n {
                series.points.push(FPoint {
                    t: self.step_ts(i),
                    f: p.f,
                });
            }
            sink(series)
        })
    }

    // ---------------------------------------------------------------
    // Selectors
    // ---------------------------------------------------------------

    /// The time the selector reads at for evaluation time `ts`.
    #[inline]
    fn reference_time(at: Option<AtModifier>, offset: i64, ts: i64) -> i64 {
        match at {
            // Go's int64 arithmetic wraps; so does ours, rather than panic on
            // absurd `@`/offset values.
            Some(AtModifier::Timestamp(t)) => t.wrapping_sub(offset),
            _ => ts.wrapping_sub(offset),
        }
    }

    /// Opens the series of a selector, with hints describing the data the
    /// evaluation will read (`range` is 0 for instant vector selectors).
    pub(crate) fn select(
        &self,
        vs: &VectorSelector,
        range: i64,
        hint: Option<&SelectHint>,
    ) -> Box<dyn SeriesSet<'q> + 'q> {
        let offset = fixed(&vs.offset);
        let lookback = self.ctx.lookback;
        let first = Self::reference_time(vs.at, offset, self.start);
        let mut last = Self::reference_time(vs.at, offset, self.end);
        let mut start = if range == 0 {
            first.wrapping_sub(lookback).wrapping_add(1)
        } else {
            first.wrapping_sub(range).wrapping_add(1)
        };
        // `anchored`/`smoothed` read a lookback delta around the range.
        if range != 0 && (vs.anchored || vs.smoothed) {
            start = start.wrapping_sub(lookback);
        }
        if vs.smoothed {
            last = last.wrapping_add(lookback);
        }
        let hints = SelectHints {
            start,
            end: last,
            step: if self.is_instant() { 0 } else { self.interval },
            range,
            func: hint.and_then(|h| h.func.as_deref()),
            grouping: hint.map_or(&[], |h| &h.grouping[..]),
            by: hint.is_some_and(|h| h.by),
        };
        self.ctx.querier.select(false, Some(&hints), &vs.matchers)
    }

    /// Reads the next batch of storage series.
    fn next_batch<'a>(
        &self,
        set: &mut (dyn SeriesSet<'a> + 'a),
        batch: &mut Vec<aion_storage::Series<'a>>,
    ) -> Result<()> {
        let want = if self.ctx.parallel { PARALLEL_BATCH } else { 1 };
        while batch.len() < want {
            match set.next() {
                Some(Ok(s)) => batch.push(s),
                Some(Err(e)) => return Err(Error::Storage(Box::new(e))),
                None => break,
            }
        }
        Ok(())
    }

    fn storage_warnings(&self, set: &(dyn SeriesSet<'q> + 'q)) {
        for w in set.warnings() {
            self.ctx.annotate(Annotation::storage_warning(w));
        }
    }

    /// Runs `per_series` over every series of `set`, in batches processed
    /// in parallel when enabled, and feeds the results to `sink` in storage
    /// order (so results do not depend on the thread count).
    pub(crate) fn for_each_series<F, S>(
        &self,
        set: &mut (dyn SeriesSet<'q> + 'q),
        per_series: F,
        sink: Sink,
    ) -> Result<()>
    where
        F: Fn(aion_storage::Series<'q>, &mut S) -> Result<Option<StepSeries>> + Sync,
        S: Default + Send,
    {
        let mut batch = Vec::new();
        let mut scratch = S::default();
        loop {
            self.ctx.stop.check()?;
            self.next_batch(set, &mut batch)?;
            if batch.is_empty() {
                break;
            }
            if batch.len() > 1 {
                let results: Vec<Result<Option<StepSeries>>> = std::mem::take(&mut batch)
                    .into_par_iter()
                    .map_init(S::default, |scratch, s| per_series(s, scratch))
                    .collect();
                for r in results {
                    if let Some(s) = r? {
                        sink(s)?;
                    }
                }
            } else {
                for s in batch.drain(..) {
                    if let Some(s) = per_series(s, &mut scratch)? {
                        sink(s)?;
                    }
                }
            }
        }
        self.storage_warnings(set);
        Ok(())
    }

    pub(crate) fn stream_vector_selector(
        &self,
        vs: &VectorSelector,
        hint: Option<&SelectHint>,
        sink: Sink,
    ) -> Result<()> {
        if vs.smoothed {
            return self.stream_smoothed_selector(vs, hint, sink);
        }
        let mut set = self.select(vs, 0, hint);
        let offset = fixed(&vs.offset);
        let n = self.num_steps();
        let lookback = self.ctx.lookback;
        self.for_each_series(
            &mut *set,
            |series, _: &mut ()| {
                let mut cursor = LookbackCursor::new(series.samples);
                let mut points = Vec::new();
                for i in 0..n {
                    let ts = self.step_ts(i);
                    if let Some(p) = cursor.at(Self::reference_time(vs.at, offset, ts), lookback)? {
                        if points.is_empty() {
                            // Dense series are the common case; do not trust
                            // sparse ones over huge ranges with a big guess.
                            points.reserve_exact((n - i).min(4096));
                        }
                        points.push(FPoint { t: ts, f: p.f });
                    }
                }
                Ok((!points.is_empty()).then(|| StepSeries::new(series.labels, false, points)))
            },
            sink,
        )
    }

    /// `timestamp(selector)` (the timestamps of the samples the selector
    /// sees, not the evaluation times) or, with `start`,
    /// `start_timestamp(selector)` (their start timestamps, 0 when
    /// unknown).
    pub(crate) fn stream_selector_timestamps(
        &self,
        vs: &VectorSelector,
        start: bool,
        sink: Sink,
    ) -> Result<()> {
        let mut set = self.select(vs, 0, None);
        let offset = fixed(&vs.offset);
        let n = self.num_steps();
        let lookback = self.ctx.lookback;
        self.for_each_series(
            &mut *set,
            |series, _: &mut ()| {
                let mut cursor = if start {
                    LookbackCursor::with_start_timestamps(series.samples)
                } else {
                    LookbackCursor::new(series.samples)
                };
                let mut points = Vec::new();
                for i in 0..n {
                    let ts = self.step_ts(i);
                    if let Some(p) = cursor.at(Self::reference_time(vs.at, offset, ts), lookback)? {
                        let t = if start { cursor.start_timestamp() } else { p.t };
                        points.push(FPoint {
                            t: ts,
                            f: t as f64 / 1000.0,
                        });
                    }
                }
                if points.is_empty() {
                    return Ok(None);
                }
                let mut s = StepSeries::new(series.labels, false, points);
                self.mark_drop_name(&mut s);
                Ok(Some(s))
            },
            sink,
        )
    }

    /// A `smoothed` instant vector selector: the value at each step
    /// interpolated linearly between the samples around it (within the
    /// lookback delta on either side), the previous sample when there is
    /// none after, nothing when there is none before.
    fn stream_smoothed_selector(
        &self,
        vs: &VectorSelector,
        hint: Option<&SelectHint>,
        sink: Sink,
    ) -> Result<()> {
        let mut set = self.select(vs, 0, hint);
        let offset = fixed(&vs.offset);
        let n = self.num_steps();
        let lookback = self.ctx.lookback;
        self.for_each_series(
            &mut *set,
            |series, _: &mut ()| {
                let mut w = WindowCursor::new(series.samples, &self.ctx.budget, Vec::new());
                let mut points = Vec::new();
                let result = (|| -> Result<()> {
                    for i in 0..n {
                        let ts = self.step_ts(i);
                        let at = Self::reference_time(vs.at, offset, ts);
                        let win = w.window(at.wrapping_sub(lookback), at.wrapping_add(lookback))?;
                        let k = win.partition_point(|p| p.t < at);
                        let v = if k < win.len() && win[k].t == at {
                            win[k].f
                        } else if k > 0 && k < win.len() {
                            let (a, b) = (win[k - 1], win[k]);
                            a.f + (b.f - a.f) * (at - a.t) as f64 / (b.t - a.t) as f64
                        } else if k > 0 {
                            win[k - 1].f
                        } else {
                            continue;
                        };
                        points.push(FPoint { t: ts, f: v });
                    }
                    Ok(())
                })();
                let _ = w.finish();
                result?;
                Ok((!points.is_empty()).then(|| StepSeries::new(series.labels, false, points)))
            },
            sink,
        )
    }

    /// The raw samples of a range selector at the (single) evaluation time
    /// (with `anchored`/`smoothed`, the samples inside the range plus
    /// points for the values at its edges).
    fn stream_matrix_selector(&self, ms: &MatrixSelector, sink: Sink) -> Result<()> {
        let range = fixed(&ms.range);
        let vs = &ms.selector;
        let lookback = self.ctx.lookback;
        let mut set = self.select(vs, range, None);
        let reference = Self::reference_time(vs.at, fixed(&vs.offset), self.start);
        let (mint, maxt) = (reference.wrapping_sub(range), reference);
        let (fetch_min, fetch_max) = match (vs.anchored, vs.smoothed) {
            (true, _) => (mint.wrapping_sub(lookback), maxt),
            (_, true) => (mint.wrapping_sub(lookback), maxt.wrapping_add(lookback)),
            _ => (mint, maxt),
        };
        self.for_each_series(
            &mut *set,
            |series, _: &mut ()| {
                let mut w = WindowCursor::new(series.samples, &self.ctx.budget, Vec::new());
                let fetched = w.window(fetch_min, fetch_max).map(|p| p.to_vec());
                let _ = w.finish();
                let mut points = fetched?;
                if vs.anchored || vs.smoothed {
                    points = extend_floats(&points, mint, maxt, vs.smoothed);
                }
                Ok((!points.is_empty()).then(|| StepSeries::new(series.labels, false, points)))
            },
            sink,
        )
    }

    /// The evaluator of a subquery's inner expression: its own step grid,
    /// aligned to multiples of the step (since the epoch), covering
    /// `(first evaluation - offset - range, last evaluation - offset]`.
    pub(crate) fn subquery_evaluator(&self, sq: &SubqueryExpr) -> Evaluator<'c, 'q> {
        let offset = fixed(&sq.offset);
        let range = fixed(&sq.range);
        let step = match &sq.step {
            Some(d) if fixed(d) > 0 => fixed(d),
            _ => self.ctx.subquery_step,
        };
        // The last step the parent really evaluates.
        let parent_end = self
            .start
            .wrapping_add(self.end.wrapping_sub(self.start) / self.interval * self.interval);
        let (first, last) = match sq.at {
            Some(AtModifier::Timestamp(t)) => (t.wrapping_sub(offset), t.wrapping_sub(offset)),
            _ => (
                self.start.wrapping_sub(offset),
                parent_end.wrapping_sub(offset),
            ),
        };
        let lower = first.wrapping_sub(range);
        let start = lower.div_euclid(step).wrapping_mul(step).wrapping_add(step);
        Evaluator {
            ctx: self.ctx,
            start,
            end: last,
            interval: step,
        }
    }

    pub(crate) fn stream_subquery(&self, sq: &SubqueryExpr, sink: Sink) -> Result<()> {
        let inner = self.subquery_evaluator(sq);
        inner.stream(&sq.expr, sink)
    }

    // ---------------------------------------------------------------
    // Range functions' sources
    // ---------------------------------------------------------------

    /// Streams, for every series of a range-vector argument (a range
    /// selector or a subquery), the output of `per_step` over the window
    /// at each step (`None`: no point there). `scratch` is reset for
    /// every series. With `with_st`, windows of range selectors carry the
    /// samples' start timestamps (subqueries never do).
    pub(crate) fn stream_windows<F>(
        &self,
        arg: &Expr,
        hint: Option<&SelectHint>,
        with_st: bool,
        per_step: F,
        sink: Sink,
    ) -> Result<()>
    where
        F: Fn(&StepWindow, &mut Scratch) -> Result<Option<f64>> + Sync,
    {
        let n = self.num_steps();
        match arg {
            Expr::Paren(p) => self.stream_windows(&p.expr, hint, with_st, per_step, sink),
            Expr::StepInvariant(s) => self.stream_windows(&s.expr, hint, with_st, per_step, sink),
            Expr::MatrixSelector(ms) => {
                let range = fixed(&ms.range);
                let vs = &ms.selector;
                let offset = fixed(&vs.offset);
                let lookback = self.ctx.lookback;
                // Extra samples around the range for the modifiers.
                let (before, after) = match (vs.anchored, vs.smoothed) {
                    (true, _) => (lookback, 0),
                    (_, true) => (lookback, lookback),
                    _ => (0, 0),
                };
                let mut set = self.select(vs, range, hint);
                type Buffers = (Vec<FPoint>, Vec<i64>, Scratch);
                self.for_each_series(
                    &mut *set,
                    |series, (buf, sts, scratch): &mut Buffers| {
                        scratch.reset();
                        let mut w = WindowCursor::new(
                            series.samples,
                            &self.ctx.budget,
                            std::mem::take(buf),
                        );
                        if with_st {
                            w = w.track_start_timestamps(std::mem::take(sts));
                        }
                        let mut points = Vec::new();
                        let result = (|| -> Result<()> {
                            for i in 0..n {
                                // Long series over many steps: stay
                                // responsive to cancellation.
                                if i % 256 == 255 {
                                    self.ctx.stop.check()?;
                                }
                                let ts = self.step_ts(i);
                                let end = Self::reference_time(vs.at, offset, ts);
                                let start = end.wrapping_sub(range);
                                let fetched =
                                    w.window(start.wrapping_sub(before), end.wrapping_add(after))?;
                                if fetched.is_empty() {
                                    continue;
                                }
                                let sw = StepWindow {
                                    labels: &series.labels,
                                    points: w.current(),
                                    non_decreasing: w.non_decreasing(),
                                    sts: w.start_timestamps(),
                                    step: i,
                                    ts,
                                    start,
                                    end,
                                };
                                if let Some(v) = per_step(&sw, scratch)? {
                                    points.push(FPoint { t: ts, f: v });
                                }
                            }
                            Ok(())
                        })();
                        let (b, s) = w.finish();
                        *buf = b;
                        if let Some(s) = s {
                            *sts = s;
                        }
                        result?;
                        Ok(Some(StepSeries::new(series.labels, false, points)))
                    },
                    sink,
                )
            }
            Expr::Subquery(sq) => {
                let range = fixed(&sq.range);
                let offset = fixed(&sq.offset);
                let inner = self.subquery_evaluator(sq);
                let mut scratch = Scratch::default();
                inner.stream(&sq.expr, &mut |s| {
                    self.ctx.stop.check()?;
                    scratch.reset();
                    let mut points = Vec::new();
                    for i in 0..n {
                        if i % 256 == 255 {
                            self.ctx.stop.check()?;
                        }
                        let ts = self.step_ts(i);
                        let end = Self::reference_time(sq.at, offset, ts);
                        let start = end.wrapping_sub(range);
                        let window = slice_window(&s.points, start, end);
                        if window.is_empty() {
                            continue;
                        }
                        let sw = StepWindow {
                            labels: &s.metric,
                            points: window,
                            non_decreasing: false,
                            sts: &[],
                            step: i,
                            ts,
                            start,
                            end,
                        };
                        if let Some(v) = per_step(&sw, &mut scratch)? {
                            points.push(FPoint { t: ts, f: v });
                        }
                    }
                    sink(StepSeries::new(s.metric, s.drop_name, points))
                })
            }
            other => Err(Error::eval(format!(
                "expected a range vector argument, got {}",
                other.value_type()
            ))),
        }
    }
}

/// Prometheus's `extendFloats`: the samples of an `anchored`/`smoothed`
/// window reduced to the range `(mint, maxt]` plus points at `mint` and
/// `maxt` carrying the values at the edges (the last sample at or before
/// the edge, or interpolated when smoothed).
fn extend_floats(f: &[FPoint], mint: i64, maxt: i64, smoothed: bool) -> Vec<FPoint> {
    let Some(mut last) = f.len().checked_sub(1) else {
        return Vec::new();
    };
    let mut first = f[..last].partition_point(|p| p.t <= mint).saturating_sub(1);
    if smoothed {
        last = f[..last].partition_point(|p| p.t < maxt);
    }
    if f[last].t <= mint {
        return Vec::new();
    }
    let interpolate =
        |a: FPoint, b: FPoint, t: i64| a.f + (b.f - a.f) * (t - a.t) as f64 / (b.t - a.t) as f64;
    let left = if smoothed && f[first].t < mint {
        interpolate(f[first], f[first + 1], mint)
    } else {
        f[first].f
    };
    let right = if smoothed && last > 0 && f[last].t > maxt {
        interpolate(f[last - 1], f[last], maxt)
    } else {
        f[last].f
    };
    if f[first].t <= mint {
        first += 1;
    }
    let mut out = vec![FPoint { t: mint, f: left }];
    if f[last].t >= maxt {
        if last > 0 && first < last {
            out.extend_from_slice(&f[first..last]);
        }
    } else if first <= last {
        out.extend_from_slice(&f[first..=last]);
    }
    out.push(FPoint { t: maxt, f: right });
    out
}

/// One series' window at one step, as range functions see it.
pub(crate) struct StepWindow<'w> {
    /// The series.
    pub labels: &'w Labels,
    /// Its samples with `start < t <= end`.
    pub points: &'w [FPoint],
    /// Known: no point is lower than the one before it (`false` when
    /// unknown).
    pub non_decreasing: bool,
    /// Their start timestamps, when tracked (else empty).
    pub sts: &'w [i64],
    /// The step's index.
    pub step: usize,
    /// The evaluation time.
    pub ts: i64,
    /// The window's (exclusive) start.
    pub start: i64,
    /// The window's (inclusive) end.
    pub end: i64,
}

/// What a selector's enclosing function or aggregation is, for the
/// storage's [`SelectHints`].
#[derive(Debug, Clone, Default)]
pub(crate) struct SelectHint {
    pub func: Option<String>,
    pub grouping: Vec<String>,
    pub by: bool,
}

/// The value of a string-typed expression.
pub(crate) fn string_value(expr: &Expr) -> String {
    match expr {
        Expr::String(s) => s.value.clone(),
        Expr::Paren(p) => string_value(&p.expr),
        Expr::StepInvariant(s) => string_value(&s.expr),
        _ => String::new(),
    }
}

/// Merges series that ended up with equal labels (after name removal) when
/// their points do not overlap; overlapping points are Prometheus's
/// "vector cannot contain metrics with the same labelset" error.
pub(crate) fn merge_same_labelset(series: Vec<StepSeries>) -> Result<Vec<StepSeries>> {
    if series.len() <= 1 {
        return Ok(series);
    }
    let mut index: std::collections::HashMap<Labels, usize> =
        std::collections::HashMap::with_capacity(series.len());
    let mut out: Vec<StepSeries> = Vec::with_capacity(series.len());
    let mut merged_any = false;
    for s in series {
        match index.get(&s.metric) {
            Some(&i) => {
                merged_any = true;
                out[i].points.extend(s.points);
            }
            None => {
                index.insert(s.metric.clone(), out.len());
                out.push(s);
            }
        }
    }
    if merged_any {
        for s in &mut out {
            if s.points.windows(2).any(|w| w[1].t <= w[0].t) {
                s.points.sort_by_key(|p| p.t);
                if s.points.windows(2).any(|w| w[1].t == w[0].t) {
                    return Err(Error::duplicate_labelset());
                }
            }
        }
    }
    Ok(out)
}

/// Releases the budget of a materialised vector when the holder is done.
pub(crate) struct Held<'b> {
    budget: &'b SampleBudget,
    n: usize,
}

impl<'b> Held<'b> {
    pub(crate) fn new(budget: &'b SampleBudget, series: &[StepSeries]) -> Self {
        Held {
            budget,
            n: series.iter().map(|s| s.points.len()).sum(),
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.budget.give(self.n);
    }
}
