//! PromQL: parser, AST and a streaming evaluator over the querier traits of
//! [`aion_storage`], with Prometheus 3's semantics.
//!
//! | module | concept |
//! |---|---|
//! | [`value`] | what a query returns: scalar, string, vector, matrix |
//! | [`duration`] | Prometheus duration text (`1h30m`), parsed and printed |
//! | [`ast`] | the syntax tree: nodes, printer, function table, preprocessing |
//! | [`parser`] | text to a type-checked [`Expr`] ([`parse`], [`parse_with`]) |
//! | [`engine`] | the streaming evaluator: [`Engine`] over any [`aion_storage::Queryable`], options, [`Annotations`] |
//! | [`json`] | results encoded exactly as Prometheus's HTTP API does |
//!
//! Each module uses only modules listed above it.
//!
//! Prometheus's PromQL test scripts run against this engine with the
//! separate harness crate `aion-promqltest`.
//!
//! ```
//! use aion_promql::{parse, ast::{Expr, ValueType}};
//! let e = parse("histogram_quantile(0.9, sum by (le) (rate(req_bucket[5m])))").unwrap();
//! assert_eq!(e.value_type(), ValueType::Vector);
//! assert!(matches!(e, Expr::Call(_)));
//! ```
//!
//! ```
//! use aion_model::Labels;
//! use aion_promql::{json, Engine, EngineOptions};
//! use aion_storage::MemStorage;
//!
//! let db = MemStorage::new();
//! let up = Labels::from_pairs(&[("__name__", "up"), ("job", "api")]).unwrap();
//! db.append(&up, 0, 1.0).unwrap();
//! let r = Engine::new(EngineOptions::default())
//!     .range_query(&db, "up == 1", 0, 60_000, 30_000)
//!     .unwrap();
//! assert_eq!(
//!     json::encode_data(&r.value),
//!     r#"{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"api"},"values":[[0,"1"],[30,"1"],[60,"1"]]}]}"#
//! );
//! ```
#![deny(unsafe_op_in_unsafe_fn)]

pub mod ast;
pub mod duration;
pub mod engine;
pub mod json;
pub mod parser;
pub mod value;

pub use ast::Expr;
pub use engine::{
    Annotation, AnnotationKind, Annotations, CancellationToken, Engine, EngineOptions, Error,
    QueryInput, QueryOptions, QueryResult,
};
pub use parser::{parse, parse_metric_selector, parse_with, ParseError, ParseOptions};
pub use value::{FPoint, HPoint, Sample, Series, Value};
