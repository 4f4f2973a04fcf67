//! The query a rule runs: an instant query whose result must be a vector
//! or a scalar (Prometheus's `EngineQueryFunc`).

use aion_model::Labels;
use aion_promql::{Engine, Expr, Sample, Value};
use aion_storage::Queryable;

use crate::EvalError;

/// Evaluates `expr` at `t` (ms); a scalar becomes one sample without
/// labels, as in Prometheus.
pub(crate) fn instant_vector(
    engine: &Engine,
    queryable: &dyn Queryable,
    expr: &Expr,
    t: i64,
) -> Result<Vec<Sample>, EvalError> {
    match engine.instant_query(queryable, expr, t)?.value {
        Value::Vector(v) => Ok(v),
        Value::Scalar { t, v } => Ok(vec![Sample {
            metric: Labels::new(),
            t,
            f: v,
            h: None,
        }]),
        _ => Err(EvalError::NotVectorOrScalar),
    }
}
