//! Comparing a query's result, annotations and errors with an eval's
//! expectations (`docs/promql-test-scripts.md`, sections 7.3 and 8).

use aion_model::gotext::format_float;
use aion_model::histogram::{FloatHistogram, IndexedCounts, Span};
use aion_promql::engine::almost_equal;
use aion_promql::{Annotations, FPoint, HPoint, Sample, Value};

use crate::script::{EvalCmd, HistLiteral, SeqValue, TextMatch};

/// Upstream's `compareNativeHistogram` on both histograms compacted: the
/// same schema, threshold and custom bounds, counts, sum and bucket
/// counts equal within the tolerance, the hint only when the expectation
/// names one.
fn histograms_match(exp: &HistLiteral, got: &FloatHistogram) -> bool {
    let mut e = exp.h.clone();
    e.compact(0);
    let mut g = got.clone();
    g.compact(0);
    let close = |a: f64, b: f64| almost_equal(a, b, EPSILON);
    let buckets = |sa: &[Span], a: &[f64], sb: &[Span], b: &[f64]| {
        let x: Vec<(i32, f64)> = IndexedCounts::new(sa, a).collect();
        let y: Vec<(i32, f64)> = IndexedCounts::new(sb, b).collect();
        x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| p.0 == q.0 && close(p.1, q.1))
    };
    e.schema == g.schema
        && close(e.count, g.count)
        && close(e.sum, g.sum)
        && (!e.uses_custom_buckets() || e.custom_values == g.custom_values)
        && e.zero_threshold == g.zero_threshold
        && close(e.zero_count, g.zero_count)
        && buckets(
            &e.positive_spans,
            &e.positive_buckets,
            &g.positive_spans,
            &g.positive_buckets,
        )
        && buckets(
            &e.negative_spans,
            &e.negative_buckets,
            &g.negative_spans,
            &g.negative_buckets,
        )
        && (!exp.hint_set || e.counter_reset_hint == g.counter_reset_hint)
}

fn describe_hists(points: &[HPoint]) -> String {
    let parts: Vec<String> = points
        .iter()
        .map(|p| format!("{} @[{}]", p.h.test_expression(), p.t))
        .collect();
    format!(
        "{} histogram point(s): [{}]",
        points.len(),
        parts.join(", ")
    )
}
use crate::RunError;

const EPSILON: f64 = 1e-6;

fn validate_kind(
    expected: &[TextMatch],
    actual: &[&str],
    kind: &str,
    query: &str,
    all: &Annotations,
) -> Result<(), RunError> {
    if expected.is_empty() {
        return Ok(());
    }
    if actual.is_empty() {
        return Err(RunError::Fail(format!(
            "expected {kind} annotations but none were found for query {query:?}"
        )));
    }
    for e in expected {
        if !actual.iter().any(|a| e.matches(a)) {
            let found: Vec<&str> = all.iter().map(|a| a.message()).collect();
            return Err(RunError::Fail(format!(
                "expected {kind} annotation matching {e} but no matching annotation was found for query {query:?}, found: {found:?}"
            )));
        }
    }
    for a in actual {
        if !expected.iter().any(|e| e.matches(a)) {
            return Err(RunError::Fail(format!(
                "unexpected {kind} annotation {a:?} found for query {query}"
            )));
        }
    }
    Ok(())
}

/// The annotation checks (`docs/promql-test-scripts.md`, section 7.3).
pub(super) fn check_annotations(
    cmd: &EvalCmd,
    annos: &Annotations,
    query: &str,
) -> Result<(), RunError> {
    let warnings: Vec<&str> = annos.warnings().map(|a| a.message()).collect();
    let infos: Vec<&str> = annos.infos().map(|a| a.message()).collect();
    if cmd.any_warning && warnings.is_empty() {
        return Err(RunError::Fail(format!(
            "expected warnings evaluating query {query:?} but got none"
        )));
    }
    if cmd.any_info && infos.is_empty() {
        return Err(RunError::Fail(format!(
            "expected info annotations evaluating query {query:?} but got none"
        )));
    }
    validate_kind(&cmd.warn, &warnings, "warn", query, annos)?;
    validate_kind(&cmd.info, &infos, "info", query, annos)?;
    if cmd.no_warn && !warnings.is_empty() {
        return Err(RunError::Fail(format!(
            "unexpected warning annotations evaluating query {query:?}: {warnings:?}"
        )));
    }
    if cmd.no_info && !infos.is_empty() {
        return Err(RunError::Fail(format!(
            "unexpected info annotations evaluating query {query:?}: {infos:?}"
        )));
    }
    Ok(())
}

fn seq_float(v: &SeqValue) -> f64 {
    match v {
        SeqValue::Float(f) => *f,
        _ => 0.0,
    }
}

fn describe_points(points: &[FPoint]) -> String {
    let parts: Vec<String> = points
        .iter()
        .map(|p| format!("{} @[{}]", format_float(p.f), p.t))
        .collect();
    format!("{} float point(s): [{}]", points.len(), parts.join(", "))
}

/// Compares a result with the expectations (`docs/promql-test-scripts.md`,
/// section 8); `start`, `end`, `step` place the positions of expected
/// series lines for matrices.
pub(super) fn compare(
    cmd: &EvalCmd,
    value: &Value,
    start: i64,
    end: i64,
    step: i64,
) -> Result<(), String> {
    match value {
        Value::Matrix(m) => {
            if cmd.ordered {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            if cmd.scalar.is_some() {
                return Err(format!("expected scalar result, but got matrix {value}"));
            }
            for w in m.windows(2) {
                if w[0].metric > w[1].metric {
                    return Err(format!(
                        "matrix results should always be sorted by labels, but {} sorts before {}",
                        w[1].metric, w[0].metric
                    ));
                }
            }
            for s in m {
                let Some(exp) = cmd.series.iter().find(|e| e.labels == s.metric) else {
                    return Err(format!(
                        "unexpected metric {} in result, has {} {}",
                        s.metric,
                        describe_points(&s.floats),
                        describe_hists(&s.histograms)
                    ));
                };
                let mut expected = Vec::new();
                let mut expected_h = Vec::new();
                for (i, v) in exp.values.iter().enumerate() {
                    let t = start + i as i64 * step;
                    if t > end {
                        return Err(format!(
                            "expected {} points for {}, but query time range cannot return this many points",
                            exp.values.len(),
                            exp.labels
                        ));
                    }
                    match v {
                        SeqValue::Float(f) => expected.push((t, *f)),
                        SeqValue::Histogram(h) => expected_h.push((t, h)),
                        SeqValue::Omitted => {}
                    }
                }
                if expected.len() != s.floats.len() || expected_h.len() != s.histograms.len() {
                    return Err(format!(
                        "expected {} float points and {} histogram points for {}, but got {} and {}",
                        expected.len(),
                        expected_h.len(),
                        exp.labels,
                        describe_points(&s.floats),
                        describe_hists(&s.histograms)
                    ));
                }
                for (i, ((t, h), p)) in expected_h.iter().zip(&s.histograms).enumerate() {
                    if *t != p.t {
                        return Err(format!(
                            "expected histogram value at index {i} for {} to have timestamp {t}, but it had timestamp {} (result has {})",
                            exp.labels,
                            p.t,
                            describe_hists(&s.histograms)
                        ));
                    }
                    if !histograms_match(h, &p.h) {
                        return Err(format!(
                            "expected histogram value at index {i} (t={t}) for {} to be {}, but got {} (result has {})",
                            exp.labels,
                            h.h.test_expression(),
                            p.h.test_expression(),
                            describe_hists(&s.histograms)
                        ));
                    }
                }
                for (i, ((t, f), p)) in expected.iter().zip(&s.floats).enumerate() {
                    if *t != p.t {
                        return Err(format!(
                            "expected float value at index {i} for {} to have timestamp {t}, but it had timestamp {} (result has {})",
                            exp.labels,
                            p.t,
                            describe_points(&s.floats)
                        ));
                    }
                    if !almost_equal(p.f, *f, EPSILON) {
                        return Err(format!(
                            "expected float value at index {i} (t={t}) for {} to be {}, but got {} (result has {})",
                            exp.labels,
                            format_float(*f),
                            format_float(p.f),
                            describe_points(&s.floats)
                        ));
                    }
                }
            }
            for e in &cmd.series {
                if !m.iter().any(|s| s.metric == e.labels) {
                    return Err(format!("expected metric {} not found", e.labels));
                }
            }
            Ok(())
        }
        Value::Vector(v) => compare_vector(cmd, v),
        Value::Scalar { v, .. } => {
            let Some(exp) = cmd.scalar else {
                return Err(format!(
                    "expected vector or matrix result, but got scalar {}",
                    format_float(*v)
                ));
            };
            if !almost_equal(exp, *v, EPSILON) {
                return Err(format!(
                    "expected scalar {} but got {}",
                    format_float(exp),
                    format_float(*v)
                ));
            }
            Ok(())
        }
        Value::String { v, .. } => {
            let exp = cmd.string.as_deref().unwrap_or("");
            if exp != v {
                return Err(format!("expected string \"{exp}\" but got \"{v}\""));
            }
            Ok(())
        }
    }
}

fn compare_vector(cmd: &EvalCmd, v: &[Sample]) -> Result<(), String> {
    if cmd.scalar.is_some() {
        let parts: Vec<String> = v
            .iter()
            .map(|s| format!("{} => {}", s.metric, format_float(s.f)))
            .collect();
        return Err(format!(
            "expected scalar result, but got vector [{}]",
            parts.join(", ")
        ));
    }
    for (pos, s) in v.iter().enumerate() {
        let Some(exp) = cmd.series.iter().find(|e| e.labels == s.metric) else {
            return Err(match &s.h {
                Some(h) => format!(
                    "unexpected metric {} in result, has value {}",
                    s.metric,
                    h.test_expression()
                ),
                None => format!(
                    "unexpected metric {} in result, has value {}",
                    s.metric,
                    format_float(s.f)
                ),
            });
        };
        if cmd.ordered && exp.position != pos + 1 {
            return Err(format!(
                "expected metric {} at position {} but was at {}",
                s.metric,
                exp.position,
                pos + 1
            ));
        }
        let first = exp.values.first();
        match (first, &s.h) {
            (Some(SeqValue::Histogram(h)), Some(got)) => {
                if !histograms_match(h, got) {
                    return Err(format!(
                        "expected {} for {} but got {}",
                        h.h.test_expression(),
                        s.metric,
                        got.test_expression()
                    ));
                }
                continue;
            }
            (Some(SeqValue::Histogram(h)), None) => {
                return Err(format!(
                    "expected histogram {} for {} but got float value {}",
                    h.h.test_expression(),
                    s.metric,
                    format_float(s.f)
                ));
            }
            (_, Some(got)) => {
                return Err(format!(
                    "expected float value {} for {} but got histogram {}",
                    format_float(first.map(seq_float).unwrap_or(0.0)),
                    s.metric,
                    got.test_expression()
                ));
            }
            _ => {}
        }
        let want = first.map(seq_float).unwrap_or(0.0);
        if !almost_equal(want, s.f, EPSILON) {
            return Err(format!(
                "expected {} for {} but got {}",
                format_float(want),
                s.metric,
                format_float(s.f)
            ));
        }
    }
    for e in &cmd.series {
        if !v.iter().any(|s| s.metric == e.labels) {
            return Err(format!(
                "expected metric {} with {:?} not found",
                e.labels,
                e.values.iter().map(seq_float).collect::<Vec<_>>()
            ));
        }
    }
    Ok(())
}

/// The range-mode cross-check: the point at `t` of each series of the
/// range query must meet the instant expectations.
pub(super) fn compare_range_mode(
    cmd: &EvalCmd,
    instant: &Value,
    range: &Value,
    t: i64,
) -> Result<(), String> {
    let Value::Matrix(m) = range else {
        return Err(format!("range query returned a {}", range.type_name()));
    };
    for w in m.windows(2) {
        if w[0].metric > w[1].metric {
            return Err("range query result is not sorted by labels".into());
        }
    }
    let vec: Vec<Sample> = m
        .iter()
        .filter_map(|s| {
            if let Some(p) = s.histograms.iter().find(|p| p.t == t) {
                return Some(Sample {
                    metric: s.metric.clone(),
                    t,
                    f: 0.0,
                    h: Some(p.h.clone()),
                });
            }
            s.floats.iter().find(|p| p.t == t).map(|p| Sample {
                metric: s.metric.clone(),
                t,
                f: p.f,
                h: None,
            })
        })
        .collect();
    if let Value::Scalar { .. } = instant {
        let Some(first) = vec.first() else {
            return Err("range query returned no point for the scalar".into());
        };
        return compare(cmd, &Value::Scalar { t, v: first.f }, t, t, 0);
    }
    compare_vector(cmd, &vec)
}
