//! PromQL: parser, AST and a streaming evaluator over the querier traits of
//! [`aion_tsdb`].
//!
//! ```
//! use aion_promql::{parse, ast::{Expr, ValueType}};
//! let e = parse("histogram_quantile(0.9, sum by (le) (rate(req_bucket[5m])))").unwrap();
//! assert_eq!(e.value_type(), ValueType::Vector);
//! assert!(matches!(e, Expr::Call(_)));
//! ```
#![deny(unsafe_op_in_unsafe_fn)]

pub mod ast;
pub mod engine;
pub mod format;
pub mod json;
pub mod parser;
pub mod promqltest;
pub mod value;

pub use ast::Expr;
pub use engine::{
    Annotation, AnnotationKind, Annotations, CancellationToken, Engine, EngineOptions, Error,
    QueryInput, QueryOptions, QueryResult,
};
pub use parser::{parse, parse_with, ParseError, ParseOptions};
pub use value::{FPoint, Sample, Series, Value};
