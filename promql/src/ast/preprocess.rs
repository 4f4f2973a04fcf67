//! Query-time preparation of a parsed tree, as Prometheus's
//! `PreprocessExpr` does once the query's time range is known:
//!
//! * `start()`, `end()`, `range()`, `step()` calls become numbers;
//! * duration expressions (`[5m + step()]`) become fixed durations;
//! * `@ start()` / `@ end()` become fixed timestamps;
//! * the largest step-invariant subtrees are wrapped in
//!   [`Expr::StepInvariant`], so a range query evaluates them once;
//! * parentheses around function and aggregation arguments are dropped.

use super::duration_expr::{Duration, DurationExpr, DurationExprKind, DurationOp};
use super::expr::{AtModifier, Expr, StepInvariantExpr};
use super::literals::NumberLiteral;

/// A failure to evaluate a duration expression at query time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PreprocessError {
    /// Prometheus's wording, prefixed with `start:end` byte positions.
    pub message: String,
}

/// What duration expressions may refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationContext {
    /// The query step in milliseconds (0 for an instant query).
    pub step_ms: i64,
    /// `end - start` of the query in milliseconds.
    pub range_ms: i64,
}

fn eval(d: &DurationExpr, ctx: DurationContext) -> Result<f64, PreprocessError> {
    let err = |msg: &str| PreprocessError {
        message: format!("{}:{}: {msg}", d.span.start, d.span.end),
    };
    Ok(match &d.kind {
        DurationExprKind::Number(n) => n.value,
        DurationExprKind::Step => ctx.step_ms as f64 / 1000.0,
        DurationExprKind::Range => ctx.range_ms as f64 / 1000.0,
        DurationExprKind::MinOf(a, b) => eval(a, ctx)?.min(eval(b, ctx)?),
        DurationExprKind::MaxOf(a, b) => eval(a, ctx)?.max(eval(b, ctx)?),
        DurationExprKind::Neg(a) => -eval(a, ctx)?,
        DurationExprKind::Binary(op, a, b) => {
            let (a, b) = (eval(a, ctx)?, eval(b, ctx)?);
            match op {
                DurationOp::Add => a + b,
                DurationOp::Sub => a - b,
                DurationOp::Mul => a * b,
                DurationOp::Div if b == 0.0 => return Err(err("division by zero")),
                DurationOp::Div => a / b,
                DurationOp::Mod if b == 0.0 => return Err(err("modulo by zero")),
                DurationOp::Mod => a % b,
                DurationOp::Pow => a.powf(b),
            }
        }
    })
}

/// Evaluates a duration to milliseconds. Offsets may be negative
/// (`allow_negative`); ranges and steps must be positive.
pub fn resolve_duration(
    d: &Duration,
    ctx: DurationContext,
    allow_negative: bool,
) -> Result<i64, PreprocessError> {
    let e = match d {
        Duration::Fixed(ms) => return Ok(*ms),
        Duration::Expr(e) => e,
    };
    let v = eval(e, ctx)?;
    let err = |msg: &str| PreprocessError {
        message: format!("{}:{}: {msg}", e.span.start, e.span.end),
    };
    if !v.is_finite() {
        return Err(err("duration is NaN or infinite"));
    }
    if v <= 0.0 && !allow_negative {
        return Err(err("duration must be greater than 0"));
    }
    if !(-9_223_372_036.854_775..=9_223_372_036.854_775).contains(&v) {
        return Err(err("duration is out of range"));
    }
    Ok((v * 1000.0).trunc() as i64)
}

/// Whether the expression has the same value at every step of a range
/// query (selectors pinned with `@`, literals, and functions of those that
/// do not read the evaluation time).
pub fn is_step_invariant(expr: &Expr) -> bool {
    let mut e = expr.clone();
    classify(&mut e, 0, 0).0
}

/// Prepares `expr` for evaluation over `[start_ms, end_ms]` with
/// `step_ms` (equal start and end and step 0 for an instant query); see the
/// module documentation.
///
/// ```
/// use aion_promql::{parse_with, ParseOptions, ast::{preprocess, Expr}};
/// let e = parse_with("rate(x[5m] @ end()) + time()", &ParseOptions::experimental()).unwrap();
/// let p = preprocess(e, 0, 3_600_000, 60_000).unwrap();
/// let Expr::Binary(b) = p else { panic!() };
/// assert!(matches!(*b.lhs, Expr::StepInvariant(_)));
/// assert_eq!(b.lhs.to_string(), "rate(x[5m] @ 3600.000)");
/// ```
pub fn preprocess(
    mut expr: Expr,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
) -> Result<Expr, PreprocessError> {
    fold_query_functions(&mut expr, start_ms, end_ms, step_ms);
    let ctx = DurationContext {
        step_ms,
        range_ms: end_ms - start_ms,
    };
    resolve_all_durations(&mut expr, ctx)?;
    let (_, wrap) = classify(&mut expr, start_ms, end_ms);
    Ok(if wrap { step_invariant(expr) } else { expr })
}

fn step_invariant(e: Expr) -> Expr {
    Expr::StepInvariant(StepInvariantExpr { expr: Box::new(e) })
}

fn fold_query_functions(expr: &mut Expr, start_ms: i64, end_ms: i64, step_ms: i64) {
    expr.walk_mut(&mut |e| {
        if let Expr::Call(c) = e {
            let value = match c.func.name {
                "start" => Some(start_ms as f64 / 1000.0),
                "end" => Some(end_ms as f64 / 1000.0),
                "range" => Some((end_ms - start_ms) as f64 / 1000.0),
                "step" if start_ms != end_ms => Some(step_ms as f64 / 1000.0),
                "step" => Some(0.0),
                _ => None,
            };
            if let Some(value) = value {
                let span = c.span;
                *e = Expr::Number(NumberLiteral {
                    value,
                    duration: false,
                    span,
                });
                return false;
            }
        }
        true
    });
}

fn resolve_all_durations(expr: &mut Expr, ctx: DurationContext) -> Result<(), PreprocessError> {
    let mut result = Ok(());
    expr.walk_mut(&mut |e| {
        let r = (|| -> Result<(), PreprocessError> {
            match e {
                Expr::VectorSelector(vs) => {
                    vs.offset = Duration::Fixed(resolve_duration(&vs.offset, ctx, true)?);
                }
                Expr::MatrixSelector(m) => {
                    m.range = Duration::Fixed(resolve_duration(&m.range, ctx, false)?);
                    let vs = &mut m.selector;
                    vs.offset = Duration::Fixed(resolve_duration(&vs.offset, ctx, true)?);
                }
                Expr::Subquery(s) => {
                    s.offset = Duration::Fixed(resolve_duration(&s.offset, ctx, true)?);
                    if let Some(step) = &s.step {
                        s.step = Some(Duration::Fixed(resolve_duration(step, ctx, false)?));
                    }
                    s.range = Duration::Fixed(resolve_duration(&s.range, ctx, false)?);
                }
                _ => {}
            }
            Ok(())
        })();
        if let Err(err) = r {
            if result.is_ok() {
                result = Err(err);
            }
            return false;
        }
        true
    });
    result
}

fn resolve_at(at: &mut Option<AtModifier>, start_ms: i64, end_ms: i64) {
    match at {
        Some(AtModifier::Start) => *at = Some(AtModifier::Timestamp(start_ms)),
        Some(AtModifier::End) => *at = Some(AtModifier::Timestamp(end_ms)),
        _ => {}
    }
}

fn unparen(e: &mut Expr) {
    while let Expr::Paren(p) = e {
        let inner = std::mem::replace(&mut *p.expr, Expr::number(0.0));
        *e = inner;
    }
}

/// Returns (is step invariant, should be wrapped) and wraps the children
/// that should be, as Prometheus's `preprocessExprHelper`.
fn classify(expr: &mut Expr, start_ms: i64, end_ms: i64) -> (bool, bool) {
    match expr {
        Expr::VectorSelector(vs) => {
            resolve_at(&mut vs.at, start_ms, end_ms);
            let pinned = vs.at.is_some();
            (pinned, pinned)
        }
        Expr::MatrixSelector(m) => {
            resolve_at(&mut m.selector.at, start_ms, end_ms);
            (m.selector.at.is_some(), false)
        }
        Expr::Aggregate(a) => {
            unparen(&mut a.expr);
            if let Some(p) = &mut a.param {
                unparen(p);
            }
            classify(&mut a.expr, start_ms, end_ms)
        }
        Expr::Binary(b) => {
            let (li, lw) = classify(&mut b.lhs, start_ms, end_ms);
            let (ri, rw) = classify(&mut b.rhs, start_ms, end_ms);
            if li && ri {
                return (true, true);
            }
            if lw {
                wrap_in_place(&mut b.lhs);
            }
            if rw {
                wrap_in_place(&mut b.rhs);
            }
            (false, false)
        }
        Expr::Call(c) => {
            let mut invariant = !c.func.is_at_modifier_unsafe();
            let mut timestamp_of_pinned = c.func.name == "timestamp";
            let mut wraps = Vec::with_capacity(c.args.len());
            for arg in &mut c.args {
                unparen(arg);
                let (ai, aw) = classify(arg, start_ms, end_ms);
                invariant &= ai;
                wraps.push(aw);
                if !ai || !matches!(arg, Expr::VectorSelector(_)) {
                    timestamp_of_pinned = false;
                }
            }
            if invariant || timestamp_of_pinned {
                return (true, true);
            }
            for (arg, w) in c.args.iter_mut().zip(wraps) {
                if w {
                    wrap_in_place(arg);
                }
            }
            (false, false)
        }
        Expr::Subquery(s) => {
            let (inner, _) = classify(&mut s.expr, start_ms, end_ms);
            if inner {
                wrap_in_place(&mut s.expr);
            }
            resolve_at(&mut s.at, start_ms, end_ms);
            (s.at.is_some(), s.at.is_some())
        }
        Expr::Paren(p) => classify(&mut p.expr, start_ms, end_ms),
        Expr::Unary(u) => classify(&mut u.expr, start_ms, end_ms),
        Expr::String(_) | Expr::Number(_) => (true, false),
        Expr::StepInvariant(s) => {
            classify(&mut s.expr, start_ms, end_ms);
            (true, false)
        }
    }
}

fn wrap_in_place(e: &mut Expr) {
    let inner = std::mem::replace(e, Expr::number(0.0));
    *e = step_invariant(inner);
}
