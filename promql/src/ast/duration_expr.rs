//! Durations of ranges, steps and offsets: fixed milliseconds, or a
//! duration expression (`[5m + step()]`) that preprocessing resolves.

use super::literals::NumberLiteral;
use super::span::Span;

/// A duration that is either fixed or computed per query.
#[derive(Debug, Clone, PartialEq)]
pub enum Duration {
    /// Known at parse time, in milliseconds (may be negative for offsets).
    Fixed(i64),
    /// Duration arithmetic (`5m + step()`), evaluated when the query's
    /// step and range are known; see [`resolve_duration`](crate::ast::resolve_duration).
    Expr(Box<DurationExpr>),
}

impl Duration {
    /// The fixed value in milliseconds, if there is no arithmetic.
    pub fn fixed(&self) -> Option<i64> {
        match self {
            Duration::Fixed(ms) => Some(*ms),
            Duration::Expr(_) => None,
        }
    }

    /// Whether this is `Fixed(0)`: no offset.
    pub fn is_zero(&self) -> bool {
        matches!(self, Duration::Fixed(0))
    }
}

impl Default for Duration {
    fn default() -> Self {
        Duration::Fixed(0)
    }
}

/// A duration expression (experimental in Prometheus): the arithmetic
/// allowed in ranges, subquery steps and offsets.
#[derive(Debug, Clone, PartialEq)]
pub struct DurationExpr {
    /// What to compute.
    pub kind: DurationExprKind,
    /// Written inside parentheses; printed back that way.
    pub wrapped: bool,
    /// Where it was written.
    pub span: Span,
}

/// The node kinds of a [`DurationExpr`].
#[derive(Debug, Clone, PartialEq)]
pub enum DurationExprKind {
    /// A number (seconds) or duration literal.
    Number(NumberLiteral),
    /// `step()`: the query's step (0 for an instant query).
    Step,
    /// `range()`: the query's `end - start`.
    Range,
    /// `min_of(a, b)`.
    MinOf(Box<DurationExpr>, Box<DurationExpr>),
    /// `max_of(a, b)`.
    MaxOf(Box<DurationExpr>, Box<DurationExpr>),
    /// `-a`.
    Neg(Box<DurationExpr>),
    /// `a op b` with `op` one of `+ - * / % ^`.
    Binary(DurationOp, Box<DurationExpr>, Box<DurationExpr>),
}

/// Operators allowed in a [`DurationExpr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DurationOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
}

impl DurationOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            DurationOp::Add => "+",
            DurationOp::Sub => "-",
            DurationOp::Mul => "*",
            DurationOp::Div => "/",
            DurationOp::Mod => "%",
            DurationOp::Pow => "^",
        }
    }
}
