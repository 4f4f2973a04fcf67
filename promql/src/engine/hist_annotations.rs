//! The annotations about native histograms, with Prometheus's texts
//! (`util/annotations`).

use aion_model::gotext::go_quote;

use super::annotations::Annotation;
use crate::ast::Span;

/// `for metric name "x"` when the name is known (as Prometheus's
/// `maybeAddMetricName`).
fn for_name(metric_name: &str) -> String {
    if metric_name.is_empty() {
        String::new()
    } else {
        format!(" for metric name {}", go_quote(metric_name))
    }
}

impl Annotation {
    pub(crate) fn quantile_nan_result(metric_name: &str, span: Span) -> Self {
        Self::info(
            format!(
                "input to histogram_quantile has NaN observations, result is NaN{}",
                for_name(metric_name)
            ),
            Some(span),
        )
    }

    pub(crate) fn quantile_nan_skew(metric_name: &str, span: Span) -> Self {
        Self::info(
            format!(
                "input to histogram_quantile has NaN observations, result is skewed higher{}",
                for_name(metric_name)
            ),
            Some(span),
        )
    }

    pub(crate) fn fraction_nans(metric_name: &str, span: Span) -> Self {
        Self::info(
            format!(
                "input to histogram_fraction has NaN observations, which are excluded from all fractions{}",
                for_name(metric_name)
            ),
            Some(span),
        )
    }

    pub(crate) fn mixed_floats_histograms_range(metric_name: &str, span: Span) -> Self {
        Self::warning(
            format!(
                "encountered a mix of histograms and floats for metric name {}",
                go_quote(metric_name)
            ),
            Some(span),
        )
    }

    pub(crate) fn mixed_floats_histograms_aggregation(span: Span) -> Self {
        Self::warning(
            "encountered a mix of histograms and floats for aggregation",
            Some(span),
        )
    }

    pub(crate) fn histogram_ignored_in_aggregation(op: &str, span: Span) -> Self {
        Self::info(format!("ignored histogram in {op} aggregation"), Some(span))
    }

    pub(crate) fn histogram_ignored_in_mixed_range(metric_name: &str, span: Span) -> Self {
        Self::info(
            format!(
                "ignored histograms in a range containing both floats and histograms for metric name {}",
                go_quote(metric_name)
            ),
            Some(span),
        )
    }

    pub(crate) fn not_counter(metric_name: &str, span: Span) -> Self {
        Self::warning(
            format!(
                "this native histogram metric is not a counter: {}",
                go_quote(metric_name)
            ),
            Some(span),
        )
    }

    pub(crate) fn not_gauge(metric_name: &str, span: Span) -> Self {
        Self::warning(
            format!(
                "this native histogram metric is not a gauge: {}",
                go_quote(metric_name)
            ),
            Some(span),
        )
    }

    pub(crate) fn mixed_classic_native(metric_name: &str, span: Span) -> Self {
        Self::warning(
            format!(
                "vector contains a mix of classic and native histograms{}",
                for_name(metric_name)
            ),
            Some(span),
        )
    }

    pub(crate) fn mixed_exponential_custom(metric_name: &str, span: Span) -> Self {
        Self::warning(
            format!(
                "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {}",
                go_quote(metric_name)
            ),
            Some(span),
        )
    }

    pub(crate) fn incompatible_types_in_binop(op: &str, lhs: &str, rhs: &str, span: Span) -> Self {
        Self::info(
            format!(
                "incompatible sample types encountered for binary operator {}: {lhs} {op} {rhs}",
                go_quote(op)
            ),
            Some(span),
        )
    }

    pub(crate) fn counter_reset_collision(operation: &str, span: Span) -> Self {
        Self::warning(
            format!("conflicting counter resets during histogram {operation}"),
            Some(span),
        )
    }

    pub(crate) fn mismatched_custom_buckets(operation: &str, span: Span) -> Self {
        Self::info(
            format!("mismatched custom buckets were reconciled during {operation}"),
            Some(span),
        )
    }
}
