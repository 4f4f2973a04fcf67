//! `info(v [, {data label selector}])`: adds the data labels of info
//! metrics (`target_info` by default) to the series of `v` that share their
//! identifying labels (`instance`, `job`), as Prometheus's experimental
//! `info` function does.

use std::collections::{BTreeSet, HashMap};

use aion_model::{Labels, MatchType, Matcher, METRIC_NAME};
use aion_storage::SelectHints;

use super::cursor::LookbackCursor;
use super::error::{Error, Result};
use super::eval::Evaluator;
use super::step::{Held, Sink, StepSeries};
use crate::ast::{Call, Expr};
use crate::value::FPoint;

const TARGET_INFO: &str = "target_info";
const IDENTIFYING_LABELS: [&str; 2] = ["instance", "job"];

/// The `__name__` matchers that select info series: as given when one is
/// positive; with `=~".+_info"` added when all are negative; `target_info`
/// when there are none.
fn effective_name_matchers(matchers: &[Matcher]) -> Vec<Matcher> {
    if matchers
        .iter()
        .any(|m| matches!(m.kind(), MatchType::Equal | MatchType::Regex))
    {
        return matchers.to_vec();
    }
    if !matchers.is_empty() {
        let mut out =
            vec![Matcher::new(MatchType::Regex, METRIC_NAME, ".+_info")
                .expect("static regex compiles")];
        out.extend(matchers.iter().cloned());
        return out;
    }
    vec![Matcher::equal(METRIC_NAME, TARGET_INFO)]
}

/// Go's `regexp.QuoteMeta`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The identity of a series towards info metric `name`: the name and the
/// identifying labels' values.
fn signature(name: &str, metric: &Labels) -> (String, [String; 2]) {
    (
        name.to_string(),
        IDENTIFYING_LABELS.map(|l| metric.get(l).unwrap_or("").to_string()),
    )
}

impl<'c, 'q> Evaluator<'c, 'q> {
    pub(crate) fn stream_info(&self, c: &Call, sink: Sink) -> Result<()> {
        let base = self.collect(&c.args[0])?;
        let _held = Held::new(&self.ctx.budget, &base);

        // Data label matchers by label name; the `__name__` ones choose the
        // info metrics.
        let mut data_matchers: HashMap<String, Vec<Matcher>> = HashMap::new();
        let mut name_matchers = Vec::new();
        match c.args.get(1).map(Expr::unparen) {
            Some(Expr::VectorSelector(vs)) => {
                for m in &vs.matchers {
                    data_matchers
                        .entry(m.name().to_string())
                        .or_default()
                        .push(m.clone());
                    if m.name() == METRIC_NAME {
                        name_matchers.push(m.clone());
                    }
                }
            }
            Some(_) => {
                return Err(Error::eval(
                    "info(): the second argument must be a label selector",
                ))
            }
            None => name_matchers.push(Matcher::equal(METRIC_NAME, TARGET_INFO)),
        }
        let effective = effective_name_matchers(&name_matchers);
        // Info series themselves are not enriched.
        let ignored: Vec<bool> = base
            .iter()
            .map(|s| {
                let name = s.metric.metric_name().unwrap_or("");
                effective.iter().all(|m| m.matches(name))
            })
            .collect();

        let mut id_values: [BTreeSet<String>; 2] = Default::default();
        for (s, _) in base.iter().zip(&ignored).filter(|(_, &ig)| !ig) {
            for (i, l) in IDENTIFYING_LABELS.iter().enumerate() {
                if let Some(v) = s.metric.get(l) {
                    if !v.is_empty() {
                        id_values[i].insert(v.to_string());
                    }
                }
            }
        }
        let data_name_matchers: Vec<Matcher> =
            data_matchers.remove(METRIC_NAME).unwrap_or_default();
        let info_series = if id_values.iter().all(BTreeSet::is_empty) {
            Vec::new()
        } else {
            let mut matchers = Vec::new();
            for (i, vals) in id_values.iter().enumerate() {
                if vals.is_empty() {
                    continue;
                }
                let re: Vec<String> = vals.iter().map(|v| quote_meta(v)).collect();
                matchers.push(
                    Matcher::new(MatchType::Regex, IDENTIFYING_LABELS[i], re.join("|"))
                        .map_err(|e| Error::eval(e.to_string()))?,
                );
            }
            for ms in data_matchers.values() {
                matchers.extend(ms.iter().cloned());
            }
            matchers.extend(effective_name_matchers(&data_name_matchers));
            self.info_series(&matchers)?
        };
        let _info_held = Held::new(&self.ctx.budget, &info_series);

        // Signatures of the info series, by info metric name.
        let info_names: BTreeSet<String> = info_series
            .iter()
            .filter_map(|s| s.metric.metric_name().map(str::to_string))
            .collect();
        let info_sigs: Vec<(String, [String; 2])> = info_series
            .iter()
            .map(|s| signature(s.metric.metric_name().unwrap_or(""), &s.metric))
            .collect();
        let base_sigs: Vec<Vec<(String, [String; 2])>> = base
            .iter()
            .map(|s| info_names.iter().map(|n| signature(n, &s.metric)).collect())
            .collect();
        let all_match_empty = data_matchers.values().flatten().all(|m| m.matches_empty());

        let n = self.num_steps();
        let mut base_pos = vec![0usize; base.len()];
        let mut info_pos = vec![0usize; info_series.len()];
        let mut out: Vec<StepSeries> = Vec::new();
        let mut out_index: HashMap<Labels, usize> = HashMap::new();
        let mut newest: HashMap<&(String, [String; 2]), (usize, i64)> = HashMap::new();
        for i in 0..n {
            self.ctx.stop.check()?;
            let t = self.step_ts(i);
            // The newest info sample per signature at this step.
            newest.clear();
            for (k, s) in info_series.iter().enumerate() {
                let Some(p) = s.points.get(info_pos[k]).filter(|p| p.t == t) else {
                    continue;
                };
                info_pos[k] += 1;
                let orig_t = p.f as i64;
                match newest.get(&info_sigs[k]) {
                    Some(&(other, other_t)) if other_t == orig_t => {
                        return Err(Error::eval(format!(
                            "found duplicate series for info metric: existing {} @ {}, new {} @ {}",
                            info_series[other].metric, other_t, s.metric, orig_t
                        )));
                    }
                    Some(&(_, other_t)) if other_t > orig_t => {}
                    _ => {
                        newest.insert(&info_sigs[k], (k, orig_t));
                    }
                }
            }
            for (b, s) in base.iter().enumerate() {
                let Some(p) = s.points.get(base_pos[b]).filter(|p| p.t == t) else {
                    continue;
                };
                base_pos[b] += 1;
                let metric = if ignored[b] {
                    s.metric.clone()
                } else {
                    let mut extra: Vec<(String, String)> = Vec::new();
                    let mut matched = false;
                    for sig in &base_sigs[b] {
                        let Some(&(k, _)) = newest.get(sig) else {
                            continue;
                        };
                        matched = true;
                        for l in info_series[k].metric.iter() {
                            if l.name == METRIC_NAME
                                || (!data_matchers.is_empty()
                                    && !data_matchers.contains_key(l.name))
                            {
                                continue;
                            }
                            if let Some((_, v)) = extra.iter().find(|(n, _)| n == l.name) {
                                if v != l.value {
                                    return Err(Error::eval(format!(
                                        "conflicting label: {}",
                                        l.name
                                    )));
                                }
                                continue;
                            }
                            if s.metric.has(l.name) {
                                continue;
                            }
                            extra.push((l.name.to_string(), l.value.to_string()));
                        }
                    }
                    if !matched && !all_match_empty {
                        continue;
                    }
                    let mut bld = s.metric.builder();
                    for (name, value) in &extra {
                        bld.set(name, value);
                    }
                    bld.build().map_err(|e| Error::eval(e.to_string()))?
                };
                let k = match out_index.get(&metric) {
                    Some(&k) => k,
                    None => {
                        out_index.insert(metric.clone(), out.len());
                        out.push(StepSeries::new(metric, false, Vec::new()));
                        out.len() - 1
                    }
                };
                if out[k].points.last().is_some_and(|q| q.t == t) {
                    return Err(Error::duplicate_labelset());
                }
                self.ctx.budget.take(1)?;
                out[k].points.push(FPoint { t, f: p.f });
            }
        }
        let _out_held = Held::charge(&self.ctx.budget, &out)?;
        for s in out {
            sink(s)?;
        }
        Ok(())
    }

    /// The info series matching `matchers`, evaluated at every step like
    /// an instant vector selector; a point's value is the timestamp of the
    /// sample it came from (newer info samples win).
    fn info_series(&self, matchers: &[Matcher]) -> Result<Vec<StepSeries>> {
        let hints = SelectHints {
            start: self.start - self.ctx.lookback + 1,
            end: self.end,
            step: if self.is_instant() { 0 } else { self.interval },
            func: Some("info"),
            ..SelectHints::default()
        };
        let mut set = self.ctx.querier.select(false, Some(&hints), matchers);
        let n = self.num_steps();
        let lookback = self.ctx.lookback;
        let mut out = Vec::new();
        while let Some(series) = set.next() {
            self.ctx.stop.check()?;
            let series = series.map_err(|e| Error::Storage(Box::new(e)))?;
            let mut cursor = LookbackCursor::new(series.samples);
            let mut points = Vec::new();
            for i in 0..n {
                let ts = self.step_ts(i);
                if let Some(p) = cursor.at(ts, lookback)? {
                    points.push(FPoint {
                        t: ts,
                        f: p.t as f64,
                    });
                }
            }
            if !points.is_empty() {
                self.hold(&mut out, StepSeries::new(series.labels, false, points))?;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use aion_model::Labels;
    use aion_storage::MemStorage;

    use crate::{Engine, EngineOptions, Value};

    fn ls(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p).unwrap()
    }

    fn run(db: &MemStorage, q: &str) -> Vec<String> {
        let e = Engine::new(EngineOptions::prometheus_test_suite());
        let r = e.instant_query(db, q, 60_000).unwrap();
        let Value::Vector(v) = r.value else { panic!() };
        let mut out: Vec<String> = v.iter().map(|s| format!("{} {}", s.metric, s.f)).collect();
        out.sort();
        out
    }

    #[test]
    fn enriches_with_target_info() {
        let db = MemStorage::new();
        let m = |p: &[(&str, &str)], v| (ls(p), 30_000, v);
        db.append_batch([
            m(&[("__name__", "up"), ("job", "a"), ("instance", "1")], 1.0),
            m(&[("__name__", "up"), ("job", "b"), ("instance", "1")], 0.0),
            m(
                &[
                    ("__name__", "target_info"),
                    ("job", "a"),
                    ("instance", "1"),
                    ("region", "eu"),
                ],
                1.0,
            ),
            m(
                &[
                    ("__name__", "build_info"),
                    ("job", "b"),
                    ("instance", "1"),
                    ("version", "2"),
                ],
                1.0,
            ),
        ])
        .unwrap();
        assert_eq!(
            run(&db, "info(up)"),
            [
                r#"{__name__="up", instance="1", job="a", region="eu"} 1"#,
                r#"{__name__="up", instance="1", job="b"} 0"#,
            ]
        );
        assert_eq!(
            run(&db, r#"info(up, {__name__="build_info"})"#),
            [
                r#"{__name__="up", instance="1", job="a"} 1"#,
                r#"{__name__="up", instance="1", job="b", version="2"} 0"#,
            ]
        );
        // A data label matcher that needs a value drops unmatched series.
        assert_eq!(
            run(&db, r#"info(up, {region=~".+"})"#),
            [r#"{__name__="up", instance="1", job="a", region="eu"} 1"#]
        );
    }
}
