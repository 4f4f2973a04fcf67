//! The PromQL function table: names, argument types, arity and return
//! types, as Prometheus 3 defines them. The parser type-checks calls against
//! it; the engine looks up behaviour by [`Function::name`].

use super::value_type::ValueType;

/// One PromQL function's signature.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Function {
    /// Name as called.
    pub name: &'static str,
    /// Types of the arguments, in order.
    pub arg_types: &'static [ValueType],
    /// Arity rule, as in Prometheus: `0` means exactly `arg_types.len()`
    /// arguments; otherwise the last entry of `arg_types` is optional and
    /// may be repeated up to `variadic` times (`-1`: without limit).
    pub variadic: i32,
    /// The type of the result.
    pub return_type: ValueType,
    /// Prometheus accepts it only with `--enable-feature=promql-experimental-functions`.
    pub experimental: bool,
}

impl Function {
    /// The fewest arguments a call may have.
    pub fn min_args(&self) -> usize {
        if self.variadic == 0 {
            self.arg_types.len()
        } else {
            self.arg_types.len() - 1
        }
    }

    /// The most arguments a call may have (`None`: unbounded).
    pub fn max_args(&self) -> Option<usize> {
        match self.variadic {
            0 => Some(self.arg_types.len()),
            v if v < 0 => None,
            v => Some(self.arg_types.len() - 1 + v as usize),
        }
    }

    /// The expected type of argument `i` (the last type repeats for
    /// variadic functions); `None` past the end of a fixed signature.
    pub fn arg_type(&self, i: usize) -> Option<ValueType> {
        match self.arg_types.get(i) {
            Some(t) => Some(*t),
            None if self.variadic != 0 => self.arg_types.last().copied(),
            None => None,
        }
    }

    /// Functions whose result depends on the evaluation time itself, so an
    /// `@` modifier on their argument does not make them step-invariant
    /// (Prometheus's `AtModifierUnsafeFunctions`).
    pub fn is_at_modifier_unsafe(&self) -> bool {
        matches!(
            self.name,
            "days_in_month"
                | "day_of_month"
                | "day_of_week"
                | "day_of_year"
                | "end"
                | "hour"
                | "minute"
                | "month"
                | "year"
                | "predict_linear"
                | "range"
                | "start"
                | "step"
                | "time"
                | "timestamp"
        )
    }

    /// Functions that accept `anchored` range selectors (Prometheus's
    /// `AnchoredSafeFunctions`).
    pub fn is_anchored_safe(&self) -> bool {
        matches!(
            self.name,
            "resets" | "changes" | "rate" | "increase" | "delta"
        )
    }

    /// Functions whose result does not depend on the evaluation step when
    /// their arguments do not (everything but the time-dependent ones).
    pub fn is_step_invariant(&self) -> bool {
        !self.is_at_modifier_unsafe()
    }
}

use ValueType::{Matrix as M, Scalar as S, String as Str, Vector as V};

const fn f(
    name: &'static str,
    arg_types: &'static [ValueType],
    variadic: i32,
    return_type: ValueType,
    experimental: bool,
) -> Function {
    Function {
        name,
        arg_types,
        variadic,
        return_type,
        experimental,
    }
}

/// Every function of Prometheus 3, sorted by name.
pub static FUNCTIONS: &[Function] = &[
    f("abs", &[V], 0, V, false),
    f("absent", &[V], 0, V, false),
    f("absent_over_time", &[M], 0, V, false),
    f("acos", &[V], 0, V, false),
    f("acosh", &[V], 0, V, false),
    f("asin", &[V], 0, V, false),
    f("asinh", &[V], 0, V, false),
    f("atan", &[V], 0, V, false),
    f("atanh", &[V], 0, V, false),
    f("avg_over_time", &[M], 0, V, false),
    f("ceil", &[V], 0, V, false),
    f("changes", &[M], 0, V, false),
    f("clamp", &[V, S, S], 0, V, false),
    f("clamp_max", &[V, S], 0, V, false),
    f("clamp_min", &[V, S], 0, V, false),
    f("cos", &[V], 0, V, false),
    f("cosh", &[V], 0, V, false),
    f("count_over_time", &[M], 0, V, false),
    f("day_of_month", &[V], 1, V, false),
    f("day_of_week", &[V], 1, V, false),
    f("day_of_year", &[V], 1, V, false),
    f("days_in_month", &[V], 1, V, false),
    f("deg", &[V], 0, V, false),
    f("delta", &[M], 0, V, false),
    f("deriv", &[M], 0, V, false),
    f("double_exponential_smoothing", &[M, S, S], 0, V, true),
    f("end", &[], 0, S, true),
    f("exp", &[V], 0, V, false),
    f("first_over_time", &[M], 0, V, false),
    f("floor", &[V], 0, V, false),
    f("histogram_avg", &[V], 0, V, false),
    f("histogram_count", &[V], 0, V, false),
    f("histogram_fraction", &[S, S, V], 0, V, false),
    f("histogram_quantile", &[S, V], 0, V, false),
    f("histogram_quantiles", &[V, Str, S, S], 9, V, true),
    f("histogram_stddev", &[V], 0, V, false),
    f("histogram_stdvar", &[V], 0, V, false),
    f("histogram_sum", &[V], 0, V, false),
    f("hour", &[V], 1, V, false),
    f("idelta", &[M], 0, V, false),
    f("increase", &[M], 0, V, false),
    f("info", &[V, V], 1, V, true),
    f("irate", &[M], 0, V, false),
    f("label_join", &[V, Str, Str, Str], -1, V, false),
    f("label_replace", &[V, Str, Str, Str, Str], 0, V, false),
    f("last_over_time", &[M], 0, V, false),
    f("ln", &[V], 0, V, false),
    f("log10", &[V], 0, V, false),
    f("log2", &[V], 0, V, false),
    f("mad_over_time", &[M], 0, V, true),
    f("max_of", &[S, S], 0, S, true),
    f("max_over_time", &[M], 0, V, false),
    f("min_of", &[S, S], 0, S, true),
    f("min_over_time", &[M], 0, V, false),
    f("minute", &[V], 1, V, false),
    f("month", &[V], 1, V, false),
    f("pi", &[], 0, S, false),
    f("predict_linear", &[M, S], 0, V, false),
    f("present_over_time", &[M], 0, V, false),
    f("quantile_over_time", &[S, M], 0, V, false),
    f("rad", &[V], 0, V, false),
    f("range", &[], 0, S, true),
    f("rate", &[M], 0, V, false),
    f("resets", &[M], 0, V, false),
    f("round", &[V, S], 1, V, false),
    f("scalar", &[V], 0, S, false),
    f("sgn", &[V], 0, V, false),
    f("sin", &[V], 0, V, false),
    f("sinh", &[V], 0, V, false),
    f("sort", &[V], 0, V, false),
    f("sort_by_label", &[V, Str], -1, V, true),
    f("sort_by_label_desc", &[V, Str], -1, V, true),
    f("sort_desc", &[V], 0, V, false),
    f("sqrt", &[V], 0, V, false),
    f("start", &[], 0, S, true),
    f("start_timestamp", &[V], 0, V, true),
    f("stddev_over_time", &[M], 0, V, false),
    f("stdvar_over_time", &[M], 0, V, false),
    f("step", &[], 0, S, true),
    f("sum_over_time", &[M], 0, V, false),
    f("tan", &[V], 0, V, false),
    f("tanh", &[V], 0, V, false),
    f("time", &[], 0, S, false),
    f("timestamp", &[V], 0, V, false),
    f("ts_of_first_over_time", &[M], 0, V, true),
    f("ts_of_last_over_time", &[M], 0, V, true),
    f("ts_of_max_over_time", &[M], 0, V, true),
    f("ts_of_min_over_time", &[M], 0, V, true),
    f("vector", &[S], 0, V, false),
    f("year", &[V], 1, V, false),
];

/// `holt_winters`, the Prometheus 2 name of `double_exponential_smoothing`,
/// removed in Prometheus 3. Only recognised when
/// [`crate::ParseOptions::holt_winters`] is set.
pub static HOLT_WINTERS: Function = f("holt_winters", &[M, S, S], 0, V, false);

/// Looks a function up by its exact (case-sensitive) name.
///
/// ```
/// let rate = aion_promql::ast::function("rate").unwrap();
/// assert_eq!(rate.arg_types, &[aion_promql::ast::ValueType::Matrix]);
/// ```
pub fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .map(|i| &FUNCTIONS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_complete() {
        assert!(FUNCTIONS.windows(2).all(|w| w[0].name < w[1].name));
        for name in [
            "rate",
            "label_join",
            "info",
            "sort_by_label",
            "mad_over_time",
            "double_exponential_smoothing",
            "histogram_quantile",
            "pi",
            "step",
        ] {
            assert!(function(name).is_some(), "{name}");
        }
        assert!(function("holt_winters").is_none());
        assert!(function("Rate").is_none());
    }

    #[test]
    fn arity() {
        let round = function("round").unwrap();
        assert_eq!((round.min_args(), round.max_args()), (1, Some(2)));
        let join = function("label_join").unwrap();
        assert_eq!((join.min_args(), join.max_args()), (3, None));
        assert_eq!(join.arg_type(7), Some(ValueType::String));
        let time = function("time").unwrap();
        assert_eq!((time.min_args(), time.max_args()), (0, Some(0)));
    }
}
