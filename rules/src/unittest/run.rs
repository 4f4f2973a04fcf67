//! Running one test group as promtool does: input series loaded into an
//! in-memory store up to each evaluation time, every group of the rule
//! files evaluated every `evaluation_interval` from the start up to the
//! latest `eval_time`, firing alerts compared at the evaluation at or
//! before each alert test's time, PromQL checks run at the end.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use aion_model::gotext::{format_float, format_go_duration, go_quote};
use aion_model::Labels;
use aion_promql::parser::series_desc::{parse_series_desc, parse_series_labels, SeqValue};
use aion_promql::{Engine, EngineOptions, Value};
use aion_storage::{MemStorage, SampleValue};

use super::file::{PromqlTestCase, TestGroup};
use super::format::{
    alerts_string, indent_lines, samples_string, LabelsAndAnnotations, ParsedSample,
};
use crate::alerting::{AlertState, TemplateContext, ALERT_NAME_LABEL};
use crate::rulefmt::{parse_file, ParseOptions};
use crate::{Group, GroupOptions, Rule};

/// What the test group run needs from its file.
pub(super) struct Context<'a> {
    /// The file's `evaluation_interval` (ms).
    pub eval_interval: i64,
    /// `group_eval_order` as name → position.
    pub order: &'a HashMap<String, usize>,
    /// `fuzzy_compare`.
    pub fuzzy: bool,
    /// Rule files, resolved and globbed.
    pub rule_files: &'a [PathBuf],
    /// `--ignore-unknown-fields`.
    pub ignore_unknown_fields: bool,
    /// `--debug`: collect promtool's `DEBUG:` lines.
    pub debug: bool,
    /// Whether queries may use `@`.
    pub at_modifier: bool,
    /// Whether queries may use negative offsets.
    pub negative_offset: bool,
    /// PromQL syntax features.
    pub promql: &'a aion_promql::ParseOptions,
    /// Delayed metric-name removal.
    pub delayed_name_removal: bool,
}

/// promtool's `model.Duration.String()` of a test time.
fn model_duration(ms: i64) -> String {
    let mut s = String::new();
    aion_promql::duration::format_duration(ms, &mut s);
    s
}

/// Runs one test group; the errors are promtool's messages, in its order.
/// With `ctx.debug`, promtool's `DEBUG:` lines go to `debug`.
pub(super) fn run_group(tg: &TestGroup, ctx: &Context<'_>, debug: &mut Vec<String>) -> Vec<String> {
    let interval = tg.interval;
    let start = tg.start_timestamp;
    let store = MemStorage::new();
    let mut pending = match load_series(tg, start) {
        Ok(p) => p,
        Err(e) => return vec![e],
    };
    let engine = Engine::new(EngineOptions {
        max_samples: 10_000,
        timeout: Some(std::time::Duration::from_secs(100)),
        default_subquery_step: ctx.eval_interval,
        enable_at_modifier: ctx.at_modifier,
        enable_negative_offset: ctx.negative_offset,
        parse_options: ctx.promql.clone(),
        delayed_name_removal: ctx.delayed_name_removal,
        ..EngineOptions::default()
    });
    let options = GroupOptions {
        engine: engine.clone(),
        default_interval: interval,
        default_query_offset: 0,
        templates: TemplateContext {
            external_labels: tg.external_labels.clone(),
            external_url: tg.external_url.clone(),
        },
    };
    let mut groups = match load_groups(ctx, &options) {
        Ok(g) => g,
        Err(errs) => return errs,
    };
    groups.sort_by_key(|g| ctx.order.get(g.name()).copied().unwrap_or(0));

    let max_eval = tg
        .alert_rule_tests
        .iter()
        .map(|a| a.eval_time)
        .chain(tg.promql_expr_tests.iter().map(|p| p.eval_time))
        .max()
        .unwrap_or(0)
        .max(0);
    let maxt = start + max_eval;

    for a in &tg.alert_rule_tests {
        if a.alertname.is_empty() {
            let in_group = if tg.name.is_empty() {
                String::new()
            } else {
                format!(" (in TestGroup {})", tg.name)
            };
            return vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                model_duration(a.eval_time)
            )];
        }
    }
    let mut alert_times: Vec<i64> = tg
        .alert_rule_tests
        .iter()
        .map(|a| a.eval_time)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    alert_times.dedup();

    let mut errs = Vec::new();
    let mut curr = 0;
    let step = ctx.eval_interval.max(1);
    let mut ts = start;
    while ts <= maxt {
        pending.append_till(&store, ts, &mut errs);
        let mut eval_errs = Vec::new();
        for g in &mut groups {
            g.evaluate_at(ts, &store, &store);
            for r in g.rules() {
                if let Some(e) = &r.health().last_error {
                    eval_errs.push(format!(
                        "    rule: {}, time: {}, err: {e}",
                        r.name(),
                        format_go_duration(ts)
                    ));
                }
            }
        }
        if !eval_errs.is_empty() {
            errs.extend(eval_errs);
            return errs;
        }
        while curr < alert_times.len()
            && ts - start <= alert_times[curr]
            && alert_times[curr] < ts + step - start
        {
            check_alerts(tg, &groups, alert_times[curr], &mut errs);
            curr += 1;
        }
        ts += step;
    }

    for case in &tg.promql_expr_tests {
        check_expr(&engine, &store, start, case, ctx.fuzzy, &mut errs);
    }
    if ctx.debug {
        debug.push(dump_all(&engine, &store, start, max_eval));
    }
    errs
}

/// promtool's `--debug` dump: every series of the store over the test's
/// span (rounded up to the next whole second), as Go prints a matrix.
fn dump_all(engine: &Engine, store: &MemStorage, start: i64, max_eval: i64) -> String {
    let ts = (max_eval + 1000) / 1000 * 1000;
    let range = format_go_duration(ts);
    let expr = format!("{{__name__=~\".+\"}}[{range}]");
    match engine.instant_query(store, expr.as_str(), start + ts) {
        Ok(r) => match r.value {
            Value::Matrix(m) => {
                let series: Vec<String> = m
                    .iter()
                    .map(|s| {
                        let points: Vec<String> = s
                            .floats
                            .iter()
                            .map(|p| format!("{} @[{}]", format_float(p.f), p.t))
                            .collect();
                        format!("{} =>\n{}", s.metric, points.join("\n"))
                    })
                    .collect();
                format!(
                    "DEBUG: Dump of all data (input_series and rules) at {range}:\n{}",
                    series.join("\n")
                )
            }
            other => format!("DEBUG: Got unexpected type {}", other.type_name()),
        },
        Err(e) => format!(
            "DEBUG: Failed query exec, expr: {}, err: {e}",
            go_quote(&expr)
        ),
    }
}

/// Input samples not yet in the store, by time.
struct Pending {
    series: Vec<Labels>,
    /// `(t, series index, value)`, sorted by time.
    samples: Vec<(i64, usize, SampleValue)>,
    next: usize,
}

impl Pending {
    /// promqltest's `appendTill`: every sample at or before `ts`.
    fn append_till(&mut self, store: &MemStorage, ts: i64, errs: &mut Vec<String>) {
        while let Some((t, i, v)) = self.samples.get(self.next) {
            if *t > ts {
                break;
            }
            let sample = (self.series[*i].clone(), 0, *t, v.clone());
            if let Err(e) = store.append_values([sample]) {
                errs.push(format!("    series {}: {e}", self.series[*i]));
            }
            self.next += 1;
        }
    }
}

fn load_series(tg: &TestGroup, start: i64) -> Result<Pending, String> {
    let mut series = Vec::new();
    let mut samples = Vec::new();
    for s in &tg.input_series {
        let def = format!("{} {}", s.series, s.values);
        let (labels, values) = parse_series_desc(&def)
            .map_err(|e| format!("error parsing input series {}: {e}", go_quote(&def)))?;
        let idx = series.len();
        for (pos, v) in values.iter().enumerate() {
            let t = start + pos as i64 * tg.interval;
            match v {
                SeqValue::Omitted => {}
                SeqValue::Float(f) => samples.push((t, idx, SampleValue::Float(*f))),
                // Loaded as float histograms, as promtool's loader appends them.
                SeqValue::Histogram(h) => {
                    samples.push((t, idx, SampleValue::FloatHistogram(Arc::new(h.h.clone()))))
                }
            }
        }
        series.push(labels);
    }
    samples.sort_by_key(|&(t, i, _)| (t, i));
    Ok(Pending {
        series,
        samples,
        next: 0,
    })
}

fn load_groups(ctx: &Context<'_>, options: &GroupOptions) -> Result<Vec<Group>, Vec<String>> {
    let parse_options = ParseOptions {
        ignore_unknown_fields: ctx.ignore_unknown_fields,
        promql: ctx.promql.clone(),
        ..ParseOptions::default()
    };
    let mut groups = Vec::new();
    let mut errs = Vec::new();
    for f in ctx.rule_files {
        match parse_file(f, &parse_options) {
            Err(e) => errs.extend(e.into_iter().map(|e| e.to_string())),
            Ok(file) => {
                let name = f.to_string_lossy();
                for rg in &file.groups {
                    match Group::new(&name, rg, options) {
                        Ok(g) => groups.push(g),
                        Err(e) => errs.push(format!(
                            "{name}: group {}, rule {}: {}",
                            go_quote(&e.group),
                            e.index,
                            e.message
                        )),
                    }
                }
            }
        }
    }
    if errs.is_empty() {
        Ok(groups)
    } else {
        Err(errs)
    }
}

fn pairs(l: &Labels) -> Vec<(String, String)> {
    l.iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect()
}

fn check_alerts(tg: &TestGroup, groups: &[Group], t: i64, errs: &mut Vec<String>) {
    let cases: Vec<_> = tg
        .alert_rule_tests
        .iter()
        .filter(|a| a.eval_time == t)
        .collect();
    let mut got: HashMap<&str, Vec<LabelsAndAnnotations>> = HashMap::new();
    for g in groups {
        for r in g.rules() {
            let Rule::Alerting(ar) = r else { continue };
            if !cases.iter().any(|c| c.alertname == ar.name()) {
                continue;
            }
            let list = got.entry(ar.name()).or_default();
            for a in ar.alerts() {
                if a.state == AlertState::Firing {
                    list.push(LabelsAndAnnotations {
                        labels: pairs(&a.labels),
                        annotations: a.annotations.clone(),
                    });
                }
            }
        }
    }
    for case in cases {
        let mut got_alerts = got
            .get(case.alertname.as_str())
            .cloned()
            .unwrap_or_default();
        let mut exp_alerts: Vec<LabelsAndAnnotations> = case
            .exp_alerts
            .iter()
            .map(|a| {
                let mut labels = a.labels.clone();
                labels.retain(|(k, _)| k != ALERT_NAME_LABEL);
                labels.push((ALERT_NAME_LABEL.to_string(), case.alertname.clone()));
                labels.sort();
                LabelsAndAnnotations {
                    labels,
                    annotations: a.annotations.clone(),
                }
            })
            .collect();
        got_alerts.sort();
        exp_alerts.sort();
        if exp_alerts != got_alerts {
            let name = if tg.name.is_empty() {
                String::new()
            } else {
                format!("    name: {},\n", tg.name)
            };
            errs.push(format!(
                "{name}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                case.alertname,
                model_duration(case.eval_time),
                indent_lines(&alerts_string(&exp_alerts), "            "),
                indent_lines(&alerts_string(&got_alerts), "            ")
            ));
        }
    }
}

/// Floats equal as promtool compares them: exactly, or one step of
/// `nextafter` apart when `fuzzy_compare` is set.
fn floats_equal(x: f64, y: f64, fuzzy: bool) -> bool {
    if x == y {
        return true;
    }
    fuzzy
        && x.is_finite()
        && (next_after(x, f64::NEG_INFINITY) == y || next_after(x, f64::INFINITY) == y)
}

/// Go's `math.Nextafter` for finite `x`.
fn next_after(x: f64, toward: f64) -> f64 {
    if x == 0.0 {
        let tiny = f64::from_bits(1);
        return if toward > 0.0 { tiny } else { -tiny };
    }
    let bits = x.to_bits();
    let up = (toward > x) == (x > 0.0);
    f64::from_bits(if up { bits + 1 } else { bits - 1 })
}

/// An `exp_samples` item's labels and, when its `histogram` field is set,
/// that literal as [`FloatHistogram::test_expression`] prints it (so it
/// compares as promtool compares: by the compacted literal).
///
/// [`FloatHistogram::test_expression`]: aion_model::histogram::FloatHistogram::test_expression
fn expected_sample(labels: &str, histogram: &str) -> Result<(Labels, String), String> {
    let labels = if labels.trim().is_empty() {
        Labels::new()
    } else {
        let (l, rest) = parse_series_labels(labels)?;
        if !rest.trim().is_empty() {
            return Err(format!("unexpected {rest:?} after the label set"));
        }
        l
    };
    if histogram.is_empty() {
        return Ok((labels, String::new()));
    }
    let (_, values) = parse_series_desc(&format!("{{}} {histogram}"))?;
    match values.as_slice() {
        [SeqValue::Histogram(h)] => Ok((labels, h.h.test_expression())),
        [SeqValue::Float(f)] => Err(format!("expected histogram, got {}", format_float(*f))),
        [SeqValue::Omitted] => Err("expected histogram, got _".to_string()),
        v => Err(format!("expected 1 value, got {}", v.len())),
    }
}

fn check_expr(
    engine: &Engine,
    store: &MemStorage,
    start: i64,
    case: &PromqlTestCase,
    fuzzy: bool,
    errs: &mut Vec<String>,
) {
    let head = format!(
        "    expr: {}, time: {}",
        go_quote(&case.expr),
        model_duration(case.eval_time)
    );
    let result = engine.instant_query(store, case.expr.as_str(), start + case.eval_time);
    let mut got: Vec<ParsedSample> = match result.map(|r| r.value) {
        Err(e) => {
            errs.push(format!("{head}, err: {e}"));
            return;
        }
        Ok(Value::Vector(v)) => v
            .into_iter()
            .map(|s| ParsedSample {
                histogram: s.h.map(|h| h.test_expression()).unwrap_or_default(),
                ..ParsedSample::float(s.metric, s.f)
            })
            .collect(),
        Ok(Value::Scalar { v, .. }) => vec![ParsedSample::float(Labels::new(), v)],
        Ok(_) => {
            errs.push(format!(
                "{head}, err: rule result is not a vector or scalar"
            ));
            return;
        }
    };
    let mut exp = Vec::with_capacity(case.exp_samples.len());
    for s in &case.exp_samples {
        match expected_sample(&s.labels, &s.histogram) {
            Ok((labels, histogram)) => exp.push(ParsedSample {
                histogram,
                ..ParsedSample::float(labels, s.value)
            }),
            Err(e) => {
                errs.push(format!("{head}, err: labels {}: {e}", go_quote(&s.labels)));
                return;
            }
        }
    }
    exp.sort_by(|a, b| a.labels.cmp(&b.labels));
    got.sort_by(|a, b| a.labels.cmp(&b.labels));
    let equal = exp.len() == got.len()
        && exp.iter().zip(&got).all(|(e, g)| {
            e.labels == g.labels
                && e.histogram == g.histogram
                && floats_equal(e.value, g.value, fuzzy)
        });
    if !equal {
        errs.push(format!(
            "{head},\n        exp: {}\n        got: {}",
            samples_string(&exp),
            samples_string(&got)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzzy_floats_allow_one_step() {
        let low = 2.9999999999999996;
        let high = 3.0000000000000004;
        assert!(!floats_equal(3.0, low, false));
        assert!(floats_equal(3.0, low, true));
        assert!(floats_equal(3.0, high, true));
        assert!(!floats_equal(3.0, 2.9999999999999987, true));
        assert!(!floats_equal(f64::NAN, f64::NAN, true));
        assert!(floats_equal(0.0, f64::from_bits(1), true));
    }
}
