//! The PromQL engine: evaluates instant and range queries over any
//! [`Queryable`], with Prometheus 3's semantics.
//!
//! ```
//! use aion_model::Labels;
//! use aion_promql::{Engine, EngineOptions, Value};
//! use aion_storage::MemStorage;
//!
//! let db = MemStorage::new();
//! let s = Labels::from_pairs(&[("__name__", "http_requests_total"), ("job", "api")]).unwrap();
//! for i in 0..=10 {
//!     db.append(&s, i * 15_000, (i * 30) as f64).unwrap();
//! }
//! let engine = Engine::new(EngineOptions::default());
//! let r = engine.instant_query(&db, "rate(http_requests_total[1m])", 150_000).unwrap();
//! let Value::Vector(v) = r.value else { panic!() };
//! assert!((v[0].f - 2.0).abs() < 1e-9);
//! assert_eq!(v[0].metric.to_string(), r#"{job="api"}"#);
//! ```
//!
//! # How it evaluates
//!
//! Evaluation streams: selectors read one storage series at a time through
//! forward-only cursors (a range selector keeps exactly the samples of its
//! current window), functions transform one series at a time, and
//! aggregations fold each input series into per-group state as soon as it
//! arrives. Peak memory is the output plus the windows in flight plus the
//! inputs of operators that must see a whole step at once (vector
//! matching, `sort`, `histogram_quantile`), never the raw input samples.
//! [`EngineOptions::max_samples`] bounds it with Prometheus's error, and
//! [`EngineOptions::max_query_bytes`] (off by default) bounds its bytes.
//! Series of one selector are read and processed in batches shared by the
//! calling thread and the rayon pool when [`EngineOptions::parallel`] is
//! set; results do not depend on it.
//!
//! # Files
//!
//! | file | concept |
//! |---|---|
//! | `options.rs` | [`EngineOptions`], [`QueryOptions`] |
//! | `eval.rs` | the evaluator: step grid, dispatch by node, subqueries, step invariance |
//! | `step.rs` | the series between operators, their sink, held budget, label-set rules |
//! | `select.rs` | selectors: storage selection with hints, batches of series |
//! | `work_share.rs` | batches shared by the caller and the pool, results in order |
//! | `cursor.rs` | forward-only sample cursors: lookback and sliding windows |
//! | `window.rs` | range-vector arguments as one window per step |
//! | `functions.rs` | function calls: dispatch by name |
//! | `simple_fns.rs` | per-value math and date function tables |
//! | `range_fns.rs` | range function table: `rate`, `*_over_time`, ... |
//! | `hist_range_fns.rs` | range functions over windows with native histograms |
//! | `args.rs` | call argument checks |
//! | `sort.rs`, `relabel.rs` | `sort*`; `label_replace`, `label_join` |
//! | `histogram.rs`, `info.rs` | `histogram_quantile` and friends (classic and native); `info()` |
//! | `native_fns.rs` | quantile, fraction and variance of one native histogram |
//! | `hist_annotations.rs` | the native-histogram annotations |
//! | `aggregate.rs`, `hist_aggregate.rs` | aggregation operators; `sum`/`avg` of histograms |
//! | `binary.rs` | binary operators and vector matching |
//! | `arith.rs` | the float arithmetic of one operator |
//! | `hist_binop.rs` | operators on native histograms |
//! | `mathx.rs` | Prometheus's float helpers (Kahan sums, quantiles) |
//! | [`annotations`] | warnings and infos with Prometheus's texts |
//! | `timerange.rs` | the time range a query reads |
//! | `stats_decoding.rs` | selectors read only for histogram count and sum |
//! | `budget.rs`, `memory.rs` | the sample limit; the byte limit and its estimates |
//! | `cancel.rs`, `error.rs`, `fxhash.rs` | cancellation, errors, hashing |

mod aggregate;
pub mod annotations;
mod args;
mod arith;
mod binary;
mod budget;
mod cancel;
mod cursor;
mod error;
mod eval;
mod functions;
mod fxhash;
mod hist_aggregate;
mod hist_annotations;
mod hist_binop;
mod hist_range_fns;
pub mod histogram;
mod info;
mod mathx;
mod memory;
mod native_fns;
mod options;
mod range_fns;
mod rate_timing;
mod relabel;
mod select;
mod simple_fns;
mod sort;
mod staging;
mod stats_decoding;
mod step;
mod timerange;
mod window;
mod work_share;

#[cfg(test)]
mod cursor_tests;
#[cfg(test)]
mod hist_tests;
#[cfg(test)]
mod latest_tests;
#[cfg(test)]
mod memory_tests;
#[cfg(test)]
mod tests;

use std::time::Instant;

use aion_storage::Queryable;

pub use annotations::{Annotation, AnnotationKind, Annotations};
pub use cancel::CancellationToken;
pub use error::{Error, Result};
pub use mathx::almost_equal;
pub use options::{EngineOptions, QueryOptions};

use crate::ast::{self, Expr, ValueType};
use crate::parser::parse_with;
use crate::value::{FPoint, Sample, Series, Value};
use cancel::Stopper;
use eval::{Ctx, Evaluated, Evaluator};
use step::{merge_same_labelset, StepSeries};

/// What to evaluate: query text or an already parsed expression.
#[derive(Debug, Clone, Copy)]
pub enum QueryInput<'a> {
    /// PromQL text, parsed with [`EngineOptions::parse_options`].
    Text(&'a str),
    /// A parsed expression (not yet preprocessed).
    Expr(&'a Expr),
}

impl<'a> From<&'a str> for QueryInput<'a> {
    fn from(s: &'a str) -> Self {
        QueryInput::Text(s)
    }
}

impl<'a> From<&'a String> for QueryInput<'a> {
    fn from(s: &'a String) -> Self {
        QueryInput::Text(s)
    }
}

impl<'a> From<&'a Expr> for QueryInput<'a> {
    fn from(e: &'a Expr) -> Self {
        QueryInput::Expr(e)
    }
}

/// A query's value and its warnings/infos.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The result. Range queries always give a [`Value::Matrix`].
    pub value: Value,
    /// Warnings and infos, as Prometheus reports them.
    pub annotations: Annotations,
    /// The most samples the query held in memory at once.
    pub peak_samples: usize,
    /// The most bytes the query held in memory at once, as counted for
    /// [`EngineOptions::max_query_bytes`] (0 when that limit is off: then
    /// nothing is counted).
    pub peak_bytes: usize,
}

/// The PromQL engine. Cheap to share across threads; queries do not
/// interfere with each other.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    options: EngineOptions,
}

impl Engine {
    /// An engine with the given settings.
    pub fn new(options: EngineOptions) -> Self {
        Engine { options }
    }

    /// The engine's settings.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Evaluates `query` at time `t` (ms since the epoch).
    pub fn instant_query<'a>(
        &self,
        queryable: &dyn Queryable,
        query: impl Into<QueryInput<'a>>,
        t: i64,
    ) -> Result<QueryResult> {
        self.instant_query_with(queryable, query, t, &QueryOptions::default())
    }

    /// [`instant_query`](Self::instant_query) with per-query options.
    pub fn instant_query_with<'a>(
        &self,
        queryable: &dyn Queryable,
        query: impl Into<QueryInput<'a>>,
        t: i64,
        options: &QueryOptions,
    ) -> Result<QueryResult> {
        let expr = self.parse(query.into())?;
        self.validate(&expr)?;
        let expr = ast::preprocess(expr, t, t, 0)?;
        // Prometheus evaluates an instant query as a one-step range with
        // interval 1.
        self.exec(queryable, &expr, t, t, 1, true, options)
    }

    /// Evaluates `query` at `start, start+step, ..., <= end` (ms). The
    /// expression must be a scalar or instant vector; the result is a
    /// matrix sorted by labels.
    pub fn range_query<'a>(
        &self,
        queryable: &dyn Queryable,
        query: impl Into<QueryInput<'a>>,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult> {
        self.range_query_with(queryable, query, start, end, step, &QueryOptions::default())
    }

    /// [`range_query`](Self::range_query) with per-query options.
    pub fn range_query_with<'a>(
        &self,
        queryable: &dyn Queryable,
        query: impl Into<QueryInput<'a>>,
        start: i64,
        end: i64,
        step: i64,
        options: &QueryOptions,
    ) -> Result<QueryResult> {
        if step <= 0 {
            return Err(Error::InvalidRange(
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        if end < start {
            return Err(Error::InvalidRange(
                "end timestamp must not be before start time",
            ));
        }
        let expr = self.parse(query.into())?;
        self.validate(&expr)?;
        let ty = expr.value_type();
        if ty != ValueType::Vector && ty != ValueType::Scalar {
            return Err(Error::InvalidRangeQueryType(ty));
        }
        let expr = ast::preprocess(expr, start, end, step)?;
        self.exec(queryable, &expr, start, end, step, false, options)
    }

    fn parse(&self, input: QueryInput) -> Result<Expr> {
        Ok(match input {
            QueryInput::Text(s) => parse_with(s, &self.options.parse_options)?,
            QueryInput::Expr(e) => e.clone(),
        })
    }

    fn validate(&self, expr: &Expr) -> Result<()> {
        if self.options.enable_at_modifier && self.options.enable_negative_offset {
            return Ok(());
        }
        let mut err = None;
        expr.accept(&mut |e: &Expr, _: &[&Expr]| {
            let (at, offset) = match e {
                Expr::VectorSelector(vs) => (vs.at.is_some(), &vs.offset),
                Expr::MatrixSelector(ms) => (ms.selector.at.is_some(), &ms.selector.offset),
                Expr::Subquery(sq) => (sq.at.is_some(), &sq.offset),
                _ => return true,
            };
            if at && !self.options.enable_at_modifier {
                err.get_or_insert(Error::AtModifierDisabled);
            }
            let negative = match offset {
                ast::Duration::Fixed(ms) => *ms < 0,
                ast::Duration::Expr(_) => false,
            };
            if negative && !self.options.enable_negative_offset {
                err.get_or_insert(Error::NegativeOffsetDisabled);
            }
            true
        });
        err.map_or(Ok(()), Err)
    }

    #[allow(clippy::too_many_arguments)]
    fn exec(
        &self,
        queryable: &dyn Queryable,
        expr: &Expr,
        start: i64,
        end: i64,
        interval: i64,
        instant: bool,
        options: &QueryOptions,
    ) -> Result<QueryResult> {
        let lookback = options
            .lookback_delta
            .filter(|&l| l > 0)
            .unwrap_or(self.options.lookback_delta);
        let deadline = options
            .timeout
            .or(self.options.timeout)
            .map(|d| Instant::now() + d);
        let stop = Stopper::new(options.cancel.clone(), deadline);
        stop.check()?;
        let (mint, maxt) = timerange::query_time_range(expr, start, end, lookback);
        let querier = queryable.querier(mint, maxt).map_err(Error::Querier)?;
        let mut ctx = Ctx::new(&*querier, &self.options, lookback, stop);
        ctx.stats_selectors = stats_decoding::stats_selectors(expr);
        // What the storage knew was wrong when the querier opened (a block
        // skipped, a WAL cut): the answer may lack data, so it says so, as
        // Prometheus's storage warnings become the API's `warnings`.
        for w in querier.warnings() {
            ctx.annotate(Annotation::storage_warning(w));
        }
        let ev = Evaluator {
            ctx: &ctx,
            start,
            end,
            interval,
        };
        let evaluated = ev.eval(expr)?;
        // The result was charged as it was collected; it leaves the
        // engine below, so its bytes are given back then.
        let result_bytes = match &evaluated {
            Evaluated::Vector(v) | Evaluated::Matrix(v) if ctx.budget.memory.on() => {
                step::vector_bytes(v)
            }
            _ => 0,
        };
        let value = match evaluated {
            Evaluated::Scalar(v) => {
                if instant {
                    Value::Scalar {
                        t: start,
                        v: v.first().copied().unwrap_or(f64::NAN),
                    }
                } else {
                    let floats = v
                        .iter()
                        .enumerate()
                        .map(|(i, &f)| FPoint {
                            t: ev.step_ts(i),
                            f,
                        })
                        .collect();
                    Value::Matrix(vec![Series {
                        metric: aion_model::Labels::new(),
                        floats,
                        histograms: Vec::new(),
                    }])
                }
            }
            Evaluated::String(s) => Value::String { t: start, v: s },
            Evaluated::Vector(series) => {
                let series = finish(series, self.options.delayed_name_removal)?;
                if instant {
                    Value::Vector(
                        series
                            .into_iter()
                            .filter_map(|mut s| {
                                if let Some(p) = s.points.first() {
                                    return Some(Sample {
                                        metric: s.metric,
                                        t: start,
                                        f: p.f,
                                        h: None,
                                    });
                                }
                                let h = s.hists.drain(..).next()?;
                                Some(Sample {
                                    metric: s.metric,
                                    t: start,
                                    f: 0.0,
                                    h: Some(h.h),
                                })
                            })
                            .collect(),
                    )
                } else {
                    Value::Matrix(sorted_matrix(series))
                }
            }
            Evaluated::Matrix(series) => {
                let series = finish(series, self.options.delayed_name_removal)?;
                Value::Matrix(sorted_matrix(series))
            }
        };
        ctx.stop.check()?;
        ctx.budget.memory.release(result_bytes);
        #[cfg(test)]
        memory_tests::RESIDUAL_BYTES.with(|r| r.set(ctx.budget.memory.current()));
        Ok(QueryResult {
            value,
            annotations: ctx.take_annotations(),
            peak_samples: ctx.budget.peak(),
            peak_bytes: ctx.budget.memory.peak(),
        })
    }
}

/// Delayed name removal at the end of evaluation, then merging of series
/// that became equal.
fn finish(series: Vec<StepSeries>, delayed: bool) -> Result<Vec<StepSeries>> {
    let mut series = series;
    if delayed {
        for s in &mut series {
            if s.drop_name {
                s.metric = step::drop_metadata(&s.metric);
            }
        }
    }
    series.retain(|s| !s.is_empty());
    merge_same_labelset(series)
}

fn sorted_matrix(series: Vec<StepSeries>) -> Vec<Series> {
    let mut m: Vec<Series> = series
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| Series {
            metric: s.metric,
            floats: s.points,
            histograms: s.hists,
        })
        .collect();
    m.sort_by(|a, b| a.metric.cmp(&b.metric));
    m
}
