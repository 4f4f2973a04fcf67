//! Recording rules: a query's result written back as new series under the
//! rule's name and labels.

use aion_model::{LabelsBuilder, METRIC_NAME};
use aion_promql::{Engine, Expr, Sample};
use aion_storage::Queryable;

use crate::health::RuleHealth;
use crate::query::instant_vector;
use crate::EvalError;

/// A recording rule ready to evaluate.
#[derive(Debug, Clone)]
pub struct RecordingRule {
    name: String,
    expr: Expr,
    labels: Vec<(String, String)>,
    pub(crate) health: RuleHealth,
}

impl RecordingRule {
    /// A rule writing `expr`'s result as `name`, with `labels` set (an
    /// empty value removes the label).
    pub fn new(name: impl Into<String>, expr: Expr, labels: Vec<(String, String)>) -> Self {
        RecordingRule {
            name: name.into(),
            expr,
            labels,
            health: RuleHealth::default(),
        }
    }

    /// The recorded metric's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// The labels set on every output series.
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }

    /// The last evaluation's health.
    pub fn health(&self) -> &RuleHealth {
        &self.health
    }

    /// The output samples at `t` (ms, the query time): the query's result
    /// renamed and relabelled. Errors on duplicate output series and when
    /// more than `limit` series result (`limit` 0 is unlimited).
    pub fn eval(
        &self,
        engine: &Engine,
        queryable: &dyn Queryable,
        t: i64,
        limit: i64,
    ) -> Result<Vec<Sample>, EvalError> {
        let mut vector = instant_vector(engine, queryable, &self.expr, t)?;
        for s in &mut vector {
            let mut lb = LabelsBuilder::from(&s.metric);
            lb.set(METRIC_NAME, &self.name);
            for (k, v) in &self.labels {
                lb.set(k, v);
            }
            s.metric = lb.build()?;
            s.t = t;
        }
        let mut seen: Vec<&aion_model::Labels> = vector.iter().map(|s| &s.metric).collect();
        seen.sort_unstable();
        if seen.windows(2).any(|w| w[0] == w[1]) {
            return Err(EvalError::DuplicateRecordedSeries);
        }
        if limit > 0 && vector.len() as i64 > limit {
            return Err(EvalError::SeriesLimit {
                limit,
                got: vector.len(),
            });
        }
        Ok(vector)
    }
}
