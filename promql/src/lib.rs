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
pub mod parser;

pub use ast::Expr;
pub use parser::{parse, parse_metric_selector, parse_with, ParseError, ParseOptions};
