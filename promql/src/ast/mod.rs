//! The PromQL abstract syntax tree.
//!
//! The shapes follow Prometheus's `promql/parser` AST closely, so that the
//! evaluator can mirror Prometheus's semantics node by node, with three
//! deliberate differences:
//!
//! * every node is a plain owned value inside one [`Expr`] enum (no trait
//!   objects), so the evaluator dispatches with one `match`;
//! * a [`MatrixSelector`] holds a [`VectorSelector`] directly (Prometheus
//!   stores an `Expr` that the parser guarantees to be a selector);
//! * durations are kept as whole milliseconds (`i64`), the resolution the
//!   engine works in, or as an unevaluated [`DurationExpr`] when the query
//!   used duration arithmetic such as `[5m + step()]`.
//!
//! Source positions ([`Span`]) are carried for error messages but do not
//! take part in equality: two trees are equal when they mean the same query,
//! which is what `parse(print(ast)) == ast` needs.

mod functions;
mod preprocess;
mod printer;
mod walk;

use std::fmt;

pub use aion_model::{MatchType, Matcher};
pub use functions::{function, Function, FUNCTIONS, HOLT_WINTERS};
pub use preprocess::{
    is_step_invariant, preprocess, resolve_duration, DurationContext, PreprocessError,
};
pub use printer::TreeDisplay;
pub use walk::{collect_selectors, Visitor};

/// A byte range `[start, end)` in the query text.
///
/// Spans never make two nodes unequal: `PartialEq` for `Span` is always
/// true, so structural comparison of trees ignores where they came from.
#[derive(Debug, Clone, Copy, Default, Eq)]
pub struct Span {
    /// First byte of the node.
    pub start: usize,
    /// One past the last byte of the node.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}

/// The type a PromQL expression evaluates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// A single float (`1`, `time()`, `scalar(x)`).
    Scalar,
    /// An instant vector: one sample per series.
    Vector,
    /// A range vector: a window of samples per series.
    Matrix,
    /// A string literal.
    String,
}

impl ValueType {
    /// The name used in Prometheus's documentation and error messages
    /// (`"instant vector"`, `"range vector"`, ...).
    pub fn documented_name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            ValueType::String => "string",
        }
    }

    /// The name used in the result of the HTTP API (`"matrix"`, ...), which
    /// Prometheus also uses in some parse errors.
    pub fn api_name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
            ValueType::String => "string",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.documented_name())
    }
}

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
    /// of a range query; never produced by the parser (see [`preprocess`]).
    StepInvariant(StepInvariantExpr),
}

/// A number literal.
#[derive(Debug, Clone)]
pub struct NumberLiteral {
    /// The value.
    pub value: f64,
    /// Written as a duration (`5m`); printed back that way.
    pub duration: bool,
    /// Where it was written.
    pub span: Span,
}

impl PartialEq for NumberLiteral {
    /// Values compare by bits except that all NaNs are equal, so a tree
    /// holding `NaN` equals its reparsed print.
    fn eq(&self, other: &Self) -> bool {
        same_float(self.value, other.value) && self.duration == other.duration
    }
}

pub(crate) fn same_float(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

/// A string literal, unquoted.
#[derive(Debug, Clone, PartialEq)]
pub struct StringLiteral {
    /// The value with escapes resolved. If escapes such as `"\xff"`
    /// produced bytes that are not UTF-8, invalid sequences are replaced by
    /// U+FFFD here and the exact bytes are in `invalid_utf8`.
    pub value: String,
    /// The exact bytes, only when they are not valid UTF-8 (Go strings,
    /// and so PromQL strings, may hold any bytes; the engine reports e.g.
    /// `invalid label name "a\xc5z"` for them).
    pub invalid_utf8: Option<Box<[u8]>>,
    /// Where it was written (including quotes).
    pub span: Span,
}

impl StringLiteral {
    /// The value's bytes exactly as the escapes produced them.
    pub fn bytes(&self) -> &[u8] {
        self.invalid_utf8
            .as_deref()
            .unwrap_or(self.value.as_bytes())
    }

    /// The value quoted as Go's `strconv.Quote` does, `\x` escapes for
    /// bytes that are not UTF-8 included.
    pub fn go_quoted(&self) -> String {
        let mut s = String::new();
        let _ = aion_model::gotext::write_go_quoted_bytes(&mut s, self.bytes());
        s
    }
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

/// A duration that is either fixed or computed per query.
#[derive(Debug, Clone, PartialEq)]
pub enum Duration {
    /// Known at parse time, in milliseconds (may be negative for offsets).
    Fixed(i64),
    /// Duration arithmetic (`5m + step()`), evaluated when the query's
    /// step and range are known; see [`resolve_duration`].
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
    /// The function, from [`FUNCTIONS`].
    pub func: &'static Function,
    /// The arguments, type-checked against `func`.
    pub args: Vec<Expr>,
    /// Where it was written.
    pub span: Span,
}

/// Aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateOp {
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `count`
    Count,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `group`
    Group,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `topk(k, v)`
    Topk,
    /// `bottomk(k, v)`
    Bottomk,
    /// `count_values("label", v)`
    CountValues,
    /// `quantile(q, v)`
    Quantile,
    /// `limitk(k, v)` (experimental)
    Limitk,
    /// `limit_ratio(r, v)` (experimental)
    LimitRatio,
}

impl AggregateOp {
    /// Every aggregation operator.
    pub const ALL: [AggregateOp; 14] = [
        AggregateOp::Sum,
        AggregateOp::Avg,
        AggregateOp::Count,
        AggregateOp::Min,
        AggregateOp::Max,
        AggregateOp::Group,
        AggregateOp::Stddev,
        AggregateOp::Stdvar,
        AggregateOp::Topk,
        AggregateOp::Bottomk,
        AggregateOp::CountValues,
        AggregateOp::Quantile,
        AggregateOp::Limitk,
        AggregateOp::LimitRatio,
    ];

    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Sum => "sum",
            AggregateOp::Avg => "avg",
            AggregateOp::Count => "count",
            AggregateOp::Min => "min",
            AggregateOp::Max => "max",
            AggregateOp::Group => "group",
            AggregateOp::Stddev => "stddev",
            AggregateOp::Stdvar => "stdvar",
            AggregateOp::Topk => "topk",
            AggregateOp::Bottomk => "bottomk",
            AggregateOp::CountValues => "count_values",
            AggregateOp::Quantile => "quantile",
            AggregateOp::Limitk => "limitk",
            AggregateOp::LimitRatio => "limit_ratio",
        }
    }

    /// The operator for a keyword (case-insensitive, as PromQL keywords are).
    pub fn from_keyword(s: &str) -> Option<AggregateOp> {
        AggregateOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(s))
    }

    /// The type of the first argument for operators that take one.
    pub fn param_type(self) -> Option<ValueType> {
        match self {
            AggregateOp::Topk
            | AggregateOp::Bottomk
            | AggregateOp::Quantile
            | AggregateOp::Limitk
            | AggregateOp::LimitRatio => Some(ValueType::Scalar),
            AggregateOp::CountValues => Some(ValueType::String),
            _ => None,
        }
    }

    /// Whether Prometheus keeps it behind the experimental-functions flag.
    pub fn is_experimental(self) -> bool {
        matches!(self, AggregateOp::Limitk | AggregateOp::LimitRatio)
    }
}

impl fmt::Display for AggregateOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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

/// Binary operators, in Prometheus's precedence classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
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
    /// `atan2`
    Atan2,
    /// `==`
    Eql,
    /// `!=`
    Neq,
    /// `<`
    Lss,
    /// `<=`
    Lte,
    /// `>`
    Gtr,
    /// `>=`
    Gte,
    /// `</`: trims the upper part of native histograms (3.x).
    TrimUpper,
    /// `>/`: trims the lower part of native histograms (3.x).
    TrimLower,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Atan2 => "atan2",
            BinaryOp::Eql => "==",
            BinaryOp::Neq => "!=",
            BinaryOp::Lss => "<",
            BinaryOp::Lte => "<=",
            BinaryOp::Gtr => ">",
            BinaryOp::Gte => ">=",
            BinaryOp::TrimUpper => "</",
            BinaryOp::TrimLower => ">/",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Unless => "unless",
        }
    }

    /// Binding strength: higher binds tighter. `or` is 1, `^` is 6.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And | BinaryOp::Unless => 2,
            BinaryOp::Eql
            | BinaryOp::Neq
            | BinaryOp::Lss
            | BinaryOp::Lte
            | BinaryOp::Gtr
            | BinaryOp::Gte
            | BinaryOp::TrimUpper
            | BinaryOp::TrimLower => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod | BinaryOp::Atan2 => 5,
            BinaryOp::Pow => 6,
        }
    }

    /// Only `^` groups to the right.
    pub fn is_right_associative(self) -> bool {
        self == BinaryOp::Pow
    }

    /// `== != < <= > >=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eql
                | BinaryOp::Neq
                | BinaryOp::Lss
                | BinaryOp::Lte
                | BinaryOp::Gtr
                | BinaryOp::Gte
        )
    }

    /// `and or unless`.
    pub fn is_set_operator(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the series of two instant vectors are paired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cardinality {
    /// Default for arithmetic and comparisons.
    OneToOne,
    /// `group_left`.
    ManyToOne,
    /// `group_right`.
    OneToMany,
    /// Set operators.
    ManyToMany,
}

/// Fill values for series without a match (`fill(0)`, experimental).
#[derive(Debug, Clone, Copy, Default)]
pub struct FillValues {
    /// Used in place of a missing left-hand sample.
    pub lhs: Option<f64>,
    /// Used in place of a missing right-hand sample.
    pub rhs: Option<f64>,
}

impl PartialEq for FillValues {
    fn eq(&self, other: &Self) -> bool {
        let same = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => same_float(a, b),
            (None, None) => true,
            _ => false,
        };
        same(self.lhs, other.lhs) && same(self.rhs, other.rhs)
    }
}

/// Vector matching of a binary operation between two instant vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorMatching {
    /// The pairing.
    pub card: Cardinality,
    /// Labels of `on(...)` or `ignoring(...)`.
    pub matching_labels: Vec<String>,
    /// `on` rather than `ignoring`.
    pub on: bool,
    /// Labels of `group_left(...)`/`group_right(...)` copied from the "one"
    /// side.
    pub include: Vec<String>,
    /// Experimental `fill`, `fill_left`, `fill_right` values.
    pub fill: FillValues,
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

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `+x`
    Plus,
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
