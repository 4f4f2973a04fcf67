//! A runner for Prometheus's PromQL test scripts (`.test` files): it loads
//! the data into a [`TestStorage`], runs every `eval` with an [`Engine`]
//! exactly as Prometheus's `promqltest` does (the query itself, its
//! `@`-pinned variants and the range-mode cross-check) and compares
//! results, annotations and errors.
//!
//! It is a test harness, kept out of `aion-promql` so the product crate
//! carries no test-script code; it runs the copy of Prometheus's scripts in
//! `promqltest/tests/upstream/` (`cargo test -p aion-promqltest`) and any
//! other scripts through `examples/promqltest.rs`.
//!
//! The script dialect — `load`, `clear` and `eval` commands, the expanding
//! value notation, `expect` lines, and which evals are skipped and why — is
//! described in the repository's `docs/promql-test-scripts.md`; Prometheus
//! describes its own runner in `promql/promqltest/README.md`
//! (<https://github.com/prometheus/prometheus/blob/main/promql/promqltest/README.md>).
//!
//! ```
//! use aion_promqltest::{run_script, MemTestStorage};
//! use aion_promql::{Engine, EngineOptions};
//!
//! let script = "load 1m\n  up{job=\"a\"} 1 0\n\neval instant at 1m up\n  up{job=\"a\"} 0\n";
//! let engine = Engine::new(EngineOptions::prometheus_test_suite());
//! let report = run_script(script, &mut MemTestStorage::new(), &engine);
//! assert_eq!((report.passed(), report.failed()), (1, 0));
//! ```
//!
//! Native histogram literals (`{{…}}`, with the `+`/`-`/`x` expansion) load
//! as float histograms, `load_with_nhcb` adds the custom-bucket histograms
//! of classic ones, and histogram results are compared as upstream's
//! runner does (compacted, within the tolerance, the hint when named).
//!
//! Evals the engine cannot run are reported as skipped with a reason, not
//! as passed: with a storage that does not keep start timestamps (see
//! [`TestStorage::keeps_start_timestamps`]), those that read series loaded
//! with them (`@st` lines), and those the engine refuses as unsupported.

mod compare;
mod numbers;
pub mod script;
mod storage;

use std::collections::BTreeMap;
use std::fmt;

use aion_model::Labels;

use aion_model::gotext::format_go_g;
use aion_model::histogram::{FloatHistogram, Span, CUSTOM_BUCKETS_SCHEMA};
use aion_promql::ast::{collect_selectors, AtModifier};
use aion_promql::{parse_with, Engine, Error, Expr, ParseOptions};
use aion_storage::matches_all;
pub use script::{parse_script, Command, EvalCmd, EvalKind, ScriptError};
use script::{HistLiteral, LoadCmd, LoadSeries, SeqValue};
use std::sync::Arc;
pub use storage::{MemTestStorage, TestStorage};

/// Why an eval was not run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// Its query reads series loaded with start timestamps, which the
    /// storage does not keep.
    StartTimestamps,
    /// The engine reported another missing feature.
    Unsupported(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::StartTimestamps => {
                f.write_str("reads series with start timestamps (not stored)")
            }
            SkipReason::Unsupported(m) => write!(f, "unsupported: {m}"),
        }
    }
}

/// How one eval went.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every check passed.
    Passed,
    /// A check failed; the message says which and how.
    Failed(String),
    /// Not run.
    Skipped(SkipReason),
}

/// The outcome of one `eval` command.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    /// 1-based line of the eval.
    pub line: usize,
    /// Its query.
    pub query: String,
    /// What happened.
    pub outcome: Outcome,
}

/// The outcome of a whole script.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScriptReport {
    /// Every eval, in file order.
    pub evals: Vec<EvalReport>,
    /// A problem outside the evals (invalid script, failed load); the
    /// script stops there.
    pub error: Option<String>,
}

impl ScriptReport {
    /// Evals that passed.
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Passed))
    }

    /// Evals that failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    /// Evals that were skipped.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped(_)))
    }

    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.evals.iter().filter(|e| f(&e.outcome)).count()
    }

    /// Skipped evals per reason.
    pub fn skip_reasons(&self) -> BTreeMap<SkipReason, usize> {
        let mut m = BTreeMap::new();
        for e in &self.evals {
            if let Outcome::Skipped(r) = &e.outcome {
                *m.entry(r.clone()).or_default() += 1;
            }
        }
        m
    }
}

/// Runs a script against `storage` (cleared first) with `engine`.
pub fn run_script(text: &str, storage: &mut dyn TestStorage, engine: &Engine) -> ScriptReport {
    let mut report = ScriptReport::default();
    let cmds = match parse_script(text) {
        Ok(c) => c,
        Err(e) => {
            report.error = Some(format!("invalid script: {e}"));
            return report;
        }
    };
    // Queries must parse, or the whole file is invalid (as upstream).
    let opts = ParseOptions::experimental();
    for c in &cmds {
        if let Command::Eval(e) = c {
            if let Err(err) = parse_with(&e.query, &opts) {
                report.error = Some(format!(
                    "line {}: invalid query {:?}: {err}",
                    e.line, e.query
                ));
                return report;
            }
        }
    }
    storage.clear();
    let mut runner = Runner {
        storage,
        engine,
        st_series: Vec::new(),
    };
    for c in cmds {
        match c {
            Command::Clear { .. } => {
                runner.storage.clear();
                runner.st_series.clear();
            }
            Command::Load(load) => {
                if let Err(e) = runner.load(&load) {
                    report.error = Some(format!("line {}: load failed: {e}", load.line));
                    return report;
                }
            }
            Command::Eval(e) => {
                let outcome = runner.eval(&e);
                report.evals.push(EvalReport {
                    line: e.line,
                    query: e.query.clone(),
                    outcome,
                });
            }
        }
    }
    report
}

struct Runner<'a> {
    storage: &'a mut dyn TestStorage,
    engine: &'a Engine,
    /// Series loaded with start timestamps.
    st_series: Vec<Labels>,
}

/// One timestamp's classic histogram, collected from its `_bucket`,
/// `_count` and `_sum` series.
#[derive(Default)]
struct ClassicAt {
    buckets: Vec<(f64, f64)>,
    count: Option<f64>,
    sum: f64,
}

impl ClassicAt {
    /// The native histogram with custom buckets (Prometheus's
    /// `convertnhcb`): the count defaults to the highest bucket's, a
    /// missing `+Inf` bucket is added with the count, cumulative bucket
    /// counts become per-bucket ones.
    fn convert(mut self) -> Result<FloatHistogram, String> {
        self.buckets
            .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        let count = self
            .count
            .or_else(|| self.buckets.last().map(|b| b.1))
            .unwrap_or(0.0);
        if self.buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
            self.buckets.push((f64::INFINITY, count));
        }
        let last = self.buckets[self.buckets.len() - 1];
        if count != last.1 {
            return Err(format!(
                "count mismatch: count={} != le={} count={}",
                format_go_g(count),
                format_go_g(last.0),
                format_go_g(last.1)
            ));
        }
        let mut prev = 0.0;
        let positive_buckets: Vec<f64> = self
            .buckets
            .iter()
            .map(|&(_, c)| {
                let d = c - prev;
                prev = c;
                d
            })
            .collect();
        let mut h = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            count,
            sum: self.sum,
            positive_spans: vec![Span {
                offset: 0,
                length: positive_buckets.len() as u32,
            }],
            positive_buckets,
            custom_values: self.buckets[..self.buckets.len() - 1]
                .iter()
                .map(|b| b.0)
                .collect(),
            ..FloatHistogram::default()
        };
        h.compact(0);
        Ok(h)
    }
}

/// The native histograms with custom buckets `load_with_nhcb` adds next to
/// classic histogram series: one per base name and labels (without `le`),
/// with a sample wherever a member series has a float sample.
fn nhcb_series(series: &[LoadSeries]) -> Result<Vec<LoadSeries>, String> {
    let mut groups: BTreeMap<Labels, BTreeMap<i64, ClassicAt>> = BTreeMap::new();
    for s in series {
        let Some(name) = s.labels.metric_name() else {
            continue;
        };
        enum Part {
            Bucket(f64),
            Count,
            Sum,
        }
        let (base, part) = if let Some(b) = name.strip_suffix("_bucket") {
            let Some(le) = s.labels.get("le") else {
                return Err(format!("expected bucket label in metric {}", s.labels));
            };
            match le.parse::<f64>() {
                Ok(v) if !v.is_nan() => (b, Part::Bucket(v)),
                _ => continue,
            }
        } else if let Some(b) = name.strip_suffix("_sum") {
            (b, Part::Sum)
        } else if let Some(b) = name.strip_suffix("_count") {
            (b, Part::Count)
        } else {
            continue;
        };
        let mut bld = s.labels.builder();
        bld.set("__name__", base);
        bld.del(&["le"]);
        let key = bld.build().map_err(|e| e.to_string())?;
        let at = groups.entry(key).or_default();
        for (t, v) in &s.samples {
            let SeqValue::Float(f) = v else { continue };
            let h = at.entry(*t).or_default();
            match part {
                Part::Bucket(le) => match h.buckets.iter_mut().find(|b| b.0 == le) {
                    Some(b) => b.1 = *f,
                    None => h.buckets.push((le, *f)),
                },
                Part::Count => h.count = Some(*f),
                Part::Sum => h.sum = *f,
            }
        }
    }
    groups
        .into_iter()
        .filter(|(_, at)| !at.is_empty())
        .map(|(labels, at)| {
            let samples = at
                .into_iter()
                .map(|(t, h)| {
                    let h = h.convert()?;
                    Ok((
                        t,
                        SeqValue::Histogram(Arc::new(HistLiteral { h, hint_set: false })),
                    ))
                })
                .collect::<Result<_, String>>()?;
            Ok(LoadSeries {
                labels,
                samples,
                start_timestamps: None,
            })
        })
        .collect()
}

/// The query with `@ t` on every selector and outermost subquery that has
/// none (Prometheus's `atModifierTestCases`); `None` when the query calls a
/// function whose value depends on the evaluation time.
fn pin_to(expr: &Expr, t: i64) -> Option<Expr> {
    fn unsafe_call(e: &Expr) -> bool {
        match e {
            Expr::Call(c) if c.func.is_at_modifier_unsafe() => true,
            Expr::Subquery(s) if s.at.is_some() => false,
            _ => e.children().into_iter().any(unsafe_call),
        }
    }
    if unsafe_call(expr) {
        return None;
    }
    let mut e = expr.clone();
    e.walk_mut(&mut |n| match n {
        Expr::VectorSelector(vs) => {
            vs.at.get_or_insert(AtModifier::Timestamp(t));
            false
        }
        Expr::MatrixSelector(ms) => {
            ms.selector.at.get_or_insert(AtModifier::Timestamp(t));
            false
        }
        Expr::Subquery(sq) => {
            sq.at.get_or_insert(AtModifier::Timestamp(t));
            false
        }
        _ => true,
    });
    Some(e)
}

impl Runner<'_> {
    fn load(&mut self, load: &LoadCmd) -> Result<(), String> {
        let mut series = load.series.clone();
        if load.with_nhcb {
            series.extend(nhcb_series(&load.series)?);
        }
        for s in &series {
            if s.start_timestamps
                .as_ref()
                .is_some_and(|sts| sts.iter().any(|st| st.is_some_and(|v| v != 0)))
            {
                self.st_series.push(s.labels.clone());
            }
        }
        self.storage.load(&series)
    }

    /// Whether the query selects a series that was loaded with start
    /// timestamps, which the storage does not keep.
    fn reads_start_timestamps(&self, expr: &Expr) -> bool {
        if self.storage.keeps_start_timestamps() {
            return false;
        }
        collect_selectors(expr)
            .iter()
            .any(|vs| self.st_series.iter().any(|l| matches_all(l, &vs.matchers)))
    }

    fn eval(&mut self, cmd: &EvalCmd) -> Outcome {
        let expr = match parse_with(&cmd.query, &ParseOptions::experimental()) {
            Ok(e) => e,
            Err(e) => return Outcome::Failed(format!("query does not parse: {e}")),
        };
        if self.reads_start_timestamps(&expr) {
            return Outcome::Skipped(SkipReason::StartTimestamps);
        }
        let result = match cmd.kind {
            EvalKind::Range { start, end, step } => self.run_range(cmd, &expr, start, end, step),
            EvalKind::Instant { at } => {
                let mut queries = vec![(expr.clone(), at)];
                if let Some(pinned) = pin_to(&expr, at) {
                    let times: Vec<i64> = if at == 0 {
                        vec![-1000, 0, 1000]
                    } else {
                        vec![-10 * at, 0, at / 5, at, 10 * at]
                    };
                    queries.extend(times.into_iter().map(|t| (pinned.clone(), t)));
                }
                queries
                    .iter()
                    .try_for_each(|(e, t)| self.run_instant(cmd, e, *t))
            }
        };
        match result {
            Ok(()) => Outcome::Passed,
            Err(RunError::Skip(r)) => Outcome::Skipped(r),
            Err(RunError::Fail(m)) => Outcome::Failed(m),
        }
    }

    fn run_range(
        &self,
        cmd: &EvalCmd,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<(), RunError> {
        let q = self.storage.queryable();
        match self.engine.range_query(q, expr, start, end, step) {
            Err(e) => expected_failure(cmd, &e, &cmd.query),
            Ok(_) if cmd.fail => Err(RunError::Fail(format!(
                "expected error evaluating query {:?} but got none",
                cmd.query
            ))),
            Ok(r) => {
                compare::check_annotations(cmd, &r.annotations, &cmd.query)?;
                compare::compare(cmd, &r.value, start, end, step).map_err(RunError::Fail)
            }
        }
    }

    fn run_instant(&self, cmd: &EvalCmd, expr: &Expr, t: i64) -> Result<(), RunError> {
        let q = self.storage.queryable();
        let text = expr.to_string();
        let r = match self.engine.instant_query(q, expr, t) {
            Err(e) => return expected_failure(cmd, &e, &text),
            Ok(_) if cmd.fail => {
                return Err(RunError::Fail(format!(
                    "expected error evaluating query {text:?} at {t} but got none"
                )))
            }
            Ok(r) => r,
        };
        compare::check_annotations(cmd, &r.annotations, &text)?;
        let (start, end, step) = cmd.range_vector.unwrap_or((t, t, 0));
        compare::compare(cmd, &r.value, start, end, step)
            .map_err(|m| RunError::Fail(format!("{m} (query {text:?} at {t})")))?;
        if !cmd.range_check() || contains_query_context_fn(&cmd.query) {
            return Ok(());
        }
        // The same expression as a short range query must agree at `t`.
        let rr = match self
            .engine
            .range_query(q, expr, t - 60_000, t + 60_000, 60_000)
        {
            Ok(rr) => rr,
            Err(Error::Unsupported(m)) => return Err(RunError::Skip(skip_reason(&m))),
            Err(e) => {
                return Err(RunError::Fail(format!(
                    "error evaluating query {text:?} at {t} in range mode: {e}"
                )))
            }
        };
        if cmd.ordered {
            return Ok(());
        }
        compare::compare_range_mode(cmd, &r.value, &rr.value, t)
            .map_err(|m| RunError::Fail(format!("{m} (query {text:?} at {t}, range mode)")))
    }
}

/// Whether the query calls `start()`, `end()`, `range()` or `step()`,
/// which make the range-mode cross-check meaningless.
fn contains_query_context_fn(q: &str) -> bool {
    ["start()", "end()", "range()", "step()"]
        .iter()
        .any(|f| q.contains(f))
}

enum RunError {
    Skip(SkipReason),
    Fail(String),
}

fn skip_reason(message: &str) -> SkipReason {
    if message.contains("start timestamp") {
        SkipReason::StartTimestamps
    } else {
        SkipReason::Unsupported(message.to_string())
    }
}

/// Judges an error: expected (and matching the expectations) or a failure.
fn expected_failure(cmd: &EvalCmd, e: &Error, query: &str) -> Result<(), RunError> {
    if let Error::Unsupported(m) = e {
        return Err(RunError::Skip(skip_reason(m)));
    }
    if !cmd.fail {
        return Err(RunError::Fail(format!(
            "error evaluating query {query:?}: {e}"
        )));
    }
    let text = e.to_string();
    for m in &cmd.fail_matches {
        if !m.matches(&text) {
            return Err(RunError::Fail(format!(
                "expected error matching {m} evaluating query {query:?}, but got: {text}"
            )));
        }
    }
    Ok(())
}

impl From<String> for RunError {
    fn from(m: String) -> Self {
        RunError::Fail(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aion_promql::EngineOptions;

    fn run(text: &str) -> ScriptReport {
        let engine = Engine::new(EngineOptions::prometheus_test_suite());
        run_script(text, &mut MemTestStorage::new(), &engine)
    }

    #[test]
    fn pinning_follows_upstream() {
        let e = parse_with(
            "rate(x[5m]) + y @ 10 + sum_over_time(z[5m:1m] @ 20)",
            &ParseOptions::experimental(),
        )
        .unwrap();
        let p = pin_to(&e, 1000).unwrap();
        assert_eq!(
            p.to_string(),
            "rate(x[5m] @ 1.000) + y @ 10.000 + sum_over_time(z[5m:1m] @ 20.000)"
        );
        let e = parse_with(
            "sum_over_time(rate(x[1m])[5m:1m])",
            &ParseOptions::experimental(),
        )
        .unwrap();
        assert_eq!(
            pin_to(&e, 1000).unwrap().to_string(),
            "sum_over_time(rate(x[1m])[5m:1m] @ 1.000)"
        );
        let e = parse_with("time() + x", &ParseOptions::experimental()).unwrap();
        assert!(pin_to(&e, 1000).is_none());
    }

    #[test]
    fn failures_are_reported() {
        let r = run("load 1m\n  m 1\n\neval instant at 0 m\n  m 2\n");
        assert_eq!(r.failed(), 1, "{r:?}");
        let r = run("load 1m\n  m 1\n\neval instant at 0 m\n  m 1\n\neval instant at 0 nope\n");
        assert_eq!((r.passed(), r.failed()), (2, 0), "{r:?}");
    }

    #[test]
    fn histogram_evals_are_compared() {
        let script = "load 1m\n  h {{schema:0 count:1 sum:2 buckets:[1]}}+{{count:1 sum:2 buckets:[1]}}x2\n  f 1\n\n\
                      eval instant at 1m h\n  h {{count:2 sum:4 buckets:[2]}}\n\n\
                      eval instant at 1m h\n  h {{count:3 sum:4 buckets:[2]}}\n\n\
                      eval instant at 2m histogram_count(h)\n  {} 3\n\n\
                      eval instant at 0 f\n  f 1\n";
        let r = run(script);
        assert_eq!((r.passed(), r.failed(), r.skipped()), (3, 1, 0), "{r:?}");
        assert!(matches!(&r.evals[1].outcome, Outcome::Failed(m) if m.contains("{{count:3")));
    }

    #[test]
    fn load_with_nhcb_adds_custom_bucket_histograms() {
        let script = "load_with_nhcb 1m\n  m_bucket{le=\"1\"} 1 2\n  m_bucket{le=\"+Inf\"} 3 4\n  m_sum 5 6\n  m_count 3 4\n\n\
                      eval instant at 1m m\n  m {{schema:-53 count:4 sum:6 custom_values:[1] buckets:[2 2]}}\n";
        let r = run(script);
        assert_eq!((r.passed(), r.failed()), (1, 0), "{r:?}");
    }
}
