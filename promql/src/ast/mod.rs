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

//!
//! | module | concept |
//! |---|---|
//! | `span.rs` | [`Span`]: where a node was written |
//! | `value_type.rs` | [`ValueType`]: scalar, string, vector, matrix |
//! | `literals.rs` | number and string literals |
//! | `duration_expr.rs` | [`Duration`]: fixed or a [`DurationExpr`] |
//! | `operators.rs` | aggregation, binary and unary operators, vector matching |
//! | `functions.rs` | the function table ([`FUNCTIONS`]) |
//! | `expr.rs` | [`Expr`] and its nodes |
//! | `walk.rs` | traversal ([`Visitor`]) |
//! | `printer.rs` | trees back to PromQL text |
//! | `preprocess.rs` | query-time preparation ([`preprocess`]) |

mod duration_expr;
mod expr;
mod functions;
mod literals;
mod operators;
mod preprocess;
mod printer;
mod span;
mod value_type;
mod walk;

pub use aion_model::{MatchType, Matcher};
pub use duration_expr::{Duration, DurationExpr, DurationExprKind, DurationOp};
pub use expr::{
    AggregateExpr, AtModifier, BinaryExpr, Call, Expr, MatrixSelector, ParenExpr,
    StepInvariantExpr, SubqueryExpr, UnaryExpr, VectorSelector,
};
pub use functions::{function, Function, FUNCTIONS, HOLT_WINTERS};
pub use literals::{NumberLiteral, StringLiteral};
pub use operators::{AggregateOp, BinaryOp, Cardinality, FillValues, UnaryOp, VectorMatching};
pub use preprocess::{
    is_step_invariant, preprocess, resolve_duration, DurationContext, PreprocessError,
};
pub use printer::TreeDisplay;
pub use span::Span;
pub use value_type::ValueType;
pub use walk::{collect_selectors, Visitor};
