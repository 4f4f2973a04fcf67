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
//!
//! This file holds the evaluator, its step grid and the dispatch by node
//! kind; the leaves (`select.rs`, `window.rs`) and the operators
//! (`functions.rs`, `aggregate.rs`, `binary.rs`, ...) add their methods
//! to [`Evaluator`] in files of their own.

use aion_storage::Querier;
use parking_lot::Mutex;

use super::annotations::{Annotation, Annotations};
use super::arith::scalar_binop;
use super::budget::SampleBudget;
use super::cancel::Stopper;
use super::error::{Error, Result};
use super::memory::what;
use super::options::EngineOptions;
use super::step::{drop_metadata, series_bytes, vector_bytes, Sink, StepSeries, UniqueLabels};
use crate::ast::{AtModifier, Duration, Expr, StepInvariantExpr, SubqueryExpr, UnaryOp};
use crate::value::{FPoint, HPoint};

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
    /// Selectors read for statistics (see `stats_decoding.rs`).
    pub stats_selectors: std::collections::HashSet<usize>,
    annotations: Mutex<Annotations>,
}

impl<'q> Ctx<'q> {
    pub(crate) fn new(
        querier: &'q dyn Querier,
        options: &EngineOptions,
        lookback: i64,
        stop: Stopper,
    ) -> Self {
        Ctx {
            querier,
            lookback,
            delayed_name_removal: options.delayed_name_removal,
            use_start_timestamps: options.use_start_timestamps,
            subquery_step: options.default_subquery_step,
            budget: SampleBudget::with_bytes(options.max_samples, options.max_query_bytes),
            stop,
            parallel: options.parallel,
            stats_selectors: Default::default(),
            annotations: Mutex::new(Annotations::new()),
        }
    }

    /// Whether `vs` is read for statistics only.
    pub(crate) fn is_stats(&self, vs: &crate::ast::VectorSelector) -> bool {
        !self.stats_selectors.is_empty()
            && self
                .stats_selectors
                .contains(&(vs as *const crate::ast::VectorSelector as usize))
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

/// A preprocessed duration in milliseconds.
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
        self.stream(expr, &mut |s| self.hold(&mut out, s))?;
        Ok(out)
    }

    /// Keeps `s` in `out`, charging its samples and bytes (given back by a
    /// [`Held`](super::step::Held) of `out`, or at the end of the query for
    /// its result).
    #[inline]
    pub(crate) fn hold(&self, out: &mut Vec<StepSeries>, s: StepSeries) -> Result<()> {
        self.ctx.budget.take(s.len())?;
        self.ctx
            .budget
            .memory
            .charge(what::VECTOR, || series_bytes(&s))?;
        out.push(s);
        Ok(())
    }

    /// Passes an operator's finished output to `sink`, its bytes charged
    /// until each series is handed on.
    pub(crate) fn hand_on(&self, out: Vec<StepSeries>, sink: Sink) -> Result<()> {
        let mut held = self.ctx.budget.memory.guard();
        held.add(what::OUTPUT, || vector_bytes(&out))?;
        for s in out {
            held.sub(|| series_bytes(&s));
            sink(s)?;
        }
        Ok(())
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
                let mut seen = UniqueLabels::new(self.delayed(), &self.ctx.budget.memory);
                self.stream(&u.expr, &mut |mut s| {
                    if neg {
                        for p in &mut s.points {
                            p.f = -p.f;
                        }
                        for p in &mut s.hists {
                            p.h.mul(-1.0);
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
                    .map(|(&a, &c)| scalar_binop(b.op, a, c))
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
                self.stream_matrix_selector(ms, &mut |s| self.hold(&mut out, s))?;
                Ok(out)
            }
            Expr::Subquery(sq) => {
                let mut out = Vec::new();
                self.stream_subquery(sq, &mut |s| self.hold(&mut out, s))?;
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
            if let Some(h) = series.hists.first().cloned() {
                series.hists = (0..n)
                    .map(|i| HPoint {
                        t: self.step_ts(i),
                        h: h.h.clone(),
                    })
                    .collect();
                return sink(series);
            }
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
        inner.stream(&sq.expr, &mut |mut s| {
            // A subquery may skip or repeat samples, so the stored
            // "reset"/"not reset" hints no longer describe neighbours:
            // they become unknown (as in Prometheus).
            for p in &mut s.hists {
                use aion_model::histogram::CounterResetHint::*;
                if matches!(p.h.counter_reset_hint, CounterReset | NotCounterReset) {
                    p.h.counter_reset_hint = Unknown;
                }
            }
            sink(s)
        })
    }
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
