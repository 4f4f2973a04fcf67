//! The expression tree: [`Expr`] and its nodes (selectors, subqueries,
//! calls, aggregations, binary and unary operations, parentheses,
//! step-invariant subtrees).

use aion_model::{MatchType, Matcher};

use super::duration_expr::Duration;
use super::functions::Function;
use super::literals::{NumberLiteral, StringLiteral};
use super::operators::{AggregateOp, BinaryOp, UnaryOp, VectorMatching};
use super::span::Span;
use super::value_type::ValueType;

/// A PromQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `1`, `-Inf`, `0x1f`, `5m` used as a number of seconds.
    Number(NumberLiteral),
    /// `"text"`.
    String(StringLiteral),
    /// `up{job="api"} @ 10 offset 5m`.
    VectorSelector(VectorSelector),
    /// `http_requests_total[5m]`.
    MatrixSelector(MatrixSelector),
    /// `expr[1h:5m]`.
    Subquery(SubqueryExpr),
    /// `rate(x[5m])`.
    Call(Call),
    /// `sum by (job) (x)`.
    Aggregate(AggregateExpr),
    /// `a + on(job) b`.
    Binary(BinaryExpr),
    /// `-x`.
    Unary(UnaryExpr),
    /// `(x)`.
    Paren(ParenExpr),
    /// A subtree the preprocessing found to have the same value at every step
    /// of a range query; never produced by the parser (see [`preprocess`](crate::ast::preprocess)).
    StepInvariant(StepInvariantExpr),
}

/// The `@` modifier of a selector or subquery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AtModifier {
    /// `@ 1609746000`: a fixed time, in milliseconds since the epoch.
    Timestamp(i64),
    /// `@ start()`: the start of the query range.
    Start,
    /// `@ end()`: the end of the query range.
    End,
}

/// An instant vector selector: `name{matchers} @ t offset d`.
///
/// Equality ignores the order of `matchers` (the printer sorts them, as
/// Prometheus does).
#[derive(Debug, Clone)]
pub struct VectorSelector {
    /// The metric name written before the braces, if any. When set, the
    /// last entry of `matchers` is the `__name__="name"` matcher for it.
    pub name: Option<String>,
    /// All matchers, including the one for the metric name.
    pub matchers: Vec<Matcher>,
    /// The `offset` modifier (`Fixed(0)` when absent).
    pub offset: Duration,
    /// The `@` modifier.
    pub at: Option<AtModifier>,
    /// The experimental `anchored` modifier.
    pub anchored: bool,
    /// The experimental `smoothed` modifier.
    pub smoothed: bool,
    /// Set on the label-selector argument of `info()`, which is exempt
    /// from the "at least one non-empty matcher" rule.
    pub bypass_empty_matcher_check: bool,
    /// Where it was written (up to the last modifier).
    pub span: Span,
}

impl PartialEq for VectorSelector {
    fn eq(&self, other: &Self) -> bool {
        let sorted = |v: &VectorSelector| {
            let mut m: Vec<String> = v.matchers.iter().map(|m| m.to_string()).collect();
            m.sort();
            m
        };
        self.name == other.name
            && self.offset == other.offset
            && self.at == other.at
            && self.anchored == other.anchored
            && self.smoothed == other.smoothed
            && self.bypass_empty_matcher_check == other.bypass_empty_matcher_check
            && sorted(self) == sorted(other)
    }
}

impl VectorSelector {
    /// A selector for all series of a metric.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        VectorSelector {
            matchers: vec![Matcher::equal(aion_model::METRIC_NAME, name.clone())],
            name: Some(name),
            offset: Duration::Fixed(0),
            at: None,
            anchored: false,
            smoothed: false,
            bypass_empty_matcher_check: false,
            span: Span::default(),
        }
    }

    /// The metric name the selector is restricted to by an equality
    /// matcher, whether written outside or inside the braces.
    pub fn metric_name(&self) -> Option<&str> {
        if let Some(n) = &self.name {
            return Some(n);
        }
        self.matchers
            .iter()
            .find(|m| m.name() == aion_model::METRIC_NAME && m.kind() == MatchType::Equal)
            .map(|m| m.value())
    }
}

/// A range vector selector: `selector[range]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSelector {
    /// The selector; its `offset`/`at` apply to the whole range.
    pub selector: VectorSelector,
    /// The window length.
    pub range: Duration,
    /// Where it was written.
    pub span: Span,
}

/// A subquery: `expr[range:step] @ t offset d`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubqueryExpr {
    /// The inner instant-vector expression.
    pub expr: Box<Expr>,
    /// The window length.
    pub range: Duration,
    /// The resolution; `None` means the engine's default evaluation
    /// interval (`[1h:]`).
    pub step: Option<Duration>,
    /// The `offset` modifier (`Fixed(0)` when absent).
    pub offset: Duration,
    /// The `@` modifier.
    pub at: Option<AtModifier>,
    /// Where it was written.
    pub span: Span,
}

/// A function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The function, from [`FUNCTIONS`](crate::ast::FUNCTIONS).
    pub func: &'static Function,
    /// The arguments, type-checked against `func`.
    pub args: Vec<Expr>,
    /// Where it was written.
    pub span: Span,
}

/// An aggregation: `op [by|without (labels)] ([param,] expr)`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateExpr {
    /// The operator.
    pub op: AggregateOp,
    /// The aggregated instant vector.
    pub expr: Box<Expr>,
    /// The parameter of `topk`, `quantile`, `count_values`, ...
    pub param: Option<Box<Expr>>,
    /// Labels of `by (...)` or `without (...)`.
    pub grouping: Vec<String>,
    /// `without` rather than `by`.
    pub without: bool,
    /// Where it was written.
    pub span: Span,
}

/// A binary operation.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryExpr {
    /// The operator.
    pub op: BinaryOp,
    /// Left operand.
    pub lhs: Box<Expr>,
    /// Right operand.
    pub rhs: Box<Expr>,
    /// Matching, present only when both operands are instant vectors.
    pub matching: Option<VectorMatching>,
    /// The `bool` modifier of comparisons.
    pub return_bool: bool,
}

/// A unary operation. `-1` is folded into a [`NumberLiteral`] instead.
#[derive(Debug, Clone, PartialEq)]
pub struct UnaryExpr {
    /// The operator.
    pub op: UnaryOp,
    /// The operand.
    pub expr: Box<Expr>,
    /// Where it was written.
    pub span: Span,
}

/// A parenthesized expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ParenExpr {
    /// The inner expression.
    pub expr: Box<Expr>,
    /// Where it was written (including parentheses).
    pub span: Span,
}

/// Marks a subtree whose value does not depend on the evaluation step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepInvariantExpr {
    /// The wrapped expression.
    pub expr: Box<Expr>,
}

impl Expr {
    /// The type the expression evaluates to.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number(_) => ValueType::Scalar,
            Expr::String(_) => ValueType::String,
            Expr::VectorSelector(_) | Expr::Aggregate(_) => ValueType::Vector,
            Expr::MatrixSelector(_) | Expr::Subquery(_) => ValueType::Matrix,
            Expr::Call(c) => c.func.return_type,
            Expr::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar
                    && b.rhs.value_type() == ValueType::Scalar
                {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Unary(u) => u.expr.value_type(),
            Expr::Paren(p) => p.expr.value_type(),
            Expr::StepInvariant(s) => s.expr.value_type(),
        }
    }

    /// Where the expression was written.
    pub fn span(&self) -> Span {
        match self {
            Expr::Number(n) => n.span,
            Expr::String(s) => s.span,
            Expr::VectorSelector(v) => v.span,
            Expr::MatrixSelector(m) => m.span,
            Expr::Subquery(s) => s.span,
            Expr::Call(c) => c.span,
            Expr::Aggregate(a) => a.span,
            Expr::Binary(b) => b.lhs.span().to(b.rhs.span()),
            Expr::Unary(u) => u.span,
            Expr::Paren(p) => p.span,
            Expr::StepInvariant(s) => s.expr.span(),
        }
    }

    /// A number literal (convenience for building trees).
    pub fn number(value: f64) -> Expr {
        Expr::Number(NumberLiteral {
            value,
            duration: false,
            span: Span::default(),
        })
    }

    /// The expression with any enclosing parentheses removed.
    pub fn unparen(&self) -> &Expr {
        let mut e = self;
        while let Expr::Paren(p) = e {
            e = &p.expr;
        }
        e
    }
}
