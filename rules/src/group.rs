//! A rule group: rules evaluated in order at one time, each rule's output
//! appended and committed before the next rule's query, so later rules see
//! earlier rules' output of the same evaluation, as in Prometheus.
//!
//! The host drives time: [`Group::evaluate_at`] takes the evaluation time,
//! so tests and backfills are deterministic. [`crate::slot`] gives the
//! times Prometheus would pick.
//!
//! ```
//! use aion_model::Labels;
//! use aion_rules::{Group, GroupOptions};
//! use aion_rules::rulefmt::{parse, ParseOptions};
//! use aion_storage::MemStorage;
//!
//! let db = MemStorage::new();
//! for job in ["a", "b"] {
//!     let l = Labels::from_pairs(&[("__name__", "up"), ("job", job)]).unwrap();
//!     db.append(&l, 0, 1.0).unwrap();
//! }
//! let file = parse(b"groups:
//!   - name: g
//!     rules:
//!       - record: job:up:count
//!         expr: count(up)
//!       - record: job:up:double
//!         expr: job:up:count * 2
//! ", &ParseOptions::default()).unwrap();
//! let mut group = Group::new("rules.yml", &file.groups[0], &GroupOptions::default()).unwrap();
//! group.evaluate_at(60_000, &db, &db);
//! assert_eq!(db.num_series(), 4);
//! let q = aion_promql::Engine::default().instant_query(&db, "job:up:double", 60_000).unwrap();
//! assert_eq!(q.value.as_vector().unwrap()[0].f, 4.0);
//! ```

use std::collections::BTreeSet;
use std::time::Instant;

use aion_chunkenc::STALE_NAN;
use aion_model::Labels;
use aion_promql::{Engine, Sample};
use aion_storage::{Appendable, ErrorKind, Queryable};

use crate::alerting::{AlertingRule, TemplateContext};
use crate::health::{GroupHealth, RuleHealth};
use crate::recording::RecordingRule;
use crate::rulefmt;
use crate::template::Template;
use crate::EvalError;

/// Settings shared by the groups of a host.
#[derive(Debug, Clone)]
pub struct GroupOptions {
    /// The engine rules query with.
    pub engine: Engine,
    /// Interval of groups that set none (ms); Prometheus's
    /// `global.evaluation_interval`, default 1 minute.
    pub default_interval: i64,
    /// Query offset of groups that set none (ms); Prometheus's
    /// `global.rule_query_offset`, default 0.
    pub default_query_offset: i64,
    /// `$externalLabels` and `$externalURL` of alert templates.
    pub templates: TemplateContext,
}

impl Default for GroupOptions {
    fn default() -> Self {
        GroupOptions {
            engine: Engine::default(),
            default_interval: 60_000,
            default_query_offset: 0,
            templates: TemplateContext::default(),
        }
    }
}

/// A rule of a group.
#[derive(Debug, Clone)]
pub enum Rule {
    /// A recording rule.
    Recording(RecordingRule),
    /// An alerting rule.
    Alerting(AlertingRule),
}

impl Rule {
    /// The record or alert name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Recording(r) => r.name(),
            Rule::Alerting(r) => r.name(),
        }
    }

    /// The last evaluation's health.
    pub fn health(&self) -> &RuleHealth {
        match self {
            Rule::Recording(r) => &r.health,
            Rule::Alerting(r) => &r.health,
        }
    }

    fn health_mut(&mut self) -> &mut RuleHealth {
        match self {
            Rule::Recording(r) => &mut r.health,
            Rule::Alerting(r) => &mut r.health,
        }
    }
}

/// Why a validated rule group could not become a [`Group`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: group {group:?}, rule {index}: {message}")]
pub struct LoadError {
    /// The rule file.
    pub file: String,
    /// The group.
    pub group: String,
    /// 1-based rule index.
    pub index: usize,
    /// What is wrong.
    pub message: String,
}

/// A rule group ready to evaluate.
#[derive(Debug, Clone)]
pub struct Group {
    name: String,
    file: String,
    interval: i64,
    query_offset: i64,
    limit: i64,
    rules: Vec<Rule>,
    /// Per rule: the series it wrote last time, for stale markers.
    pub(crate) previous: Vec<BTreeSet<Labels>>,
    /// Series of rules removed by a reload, marked stale at the next
    /// evaluation (Prometheus's `staleSeries`).
    pub(crate) stale_series: Vec<Labels>,
    options: GroupOptions,
    health: GroupHealth,
}

impl Group {
    /// Builds a group from a parsed rule file's group. Group labels are
    /// put under each rule's labels, as Prometheus 3 does.
    pub fn new(
        file: &str,
        rg: &rulefmt::RuleGroup,
        options: &GroupOptions,
    ) -> Result<Group, LoadError> {
        let mut rules = Vec::with_capacity(rg.rules.len());
        for (i, r) in rg.rules.iter().enumerate() {
            let fail = |message: String| LoadError {
                file: file.to_string(),
                group: rg.name.clone(),
                index: i + 1,
                message,
            };
            let expr = aion_promql::parse_with(&r.expr, &options.engine.options().parse_options)
                .map_err(|e| fail(e.to_string()))?;
            let mut labels: Vec<(String, String)> = rg.labels.clone();
            for (k, v) in &r.labels {
                match labels.iter_mut().find(|(n, _)| n == k) {
                    Some(slot) => slot.1.clone_from(v),
                    None => labels.push((k.clone(), v.clone())),
                }
            }
            if r.alert.is_empty() {
                rules.push(Rule::Recording(RecordingRule::new(
                    r.record.clone(),
                    expr,
                    labels,
                )));
            } else {
                let name = format!("__alert_{}", r.alert);
                let tmpl = |set: &[(String, String)]| {
                    set.iter()
                        .map(|(k, v)| {
                            Template::parse(&name, v)
                                .map(|t| (k.clone(), t))
                                .map_err(|e| fail(e.to_string()))
                        })
                        .collect::<Result<Vec<_>, _>>()
                };
                rules.push(Rule::Alerting(AlertingRule::new(
                    r.alert.clone(),
                    expr,
                    r.for_ms,
                    r.keep_firing_for_ms,
                    tmpl(&labels)?,
                    tmpl(&r.annotations)?,
                )));
            }
        }
        Ok(Group {
            name: rg.name.clone(),
            file: file.to_string(),
            interval: if rg.interval > 0 {
                rg.interval
            } else {
                options.default_interval
            },
            query_offset: rg.query_offset.unwrap_or(options.default_query_offset),
            limit: rg.limit,
            previous: vec![BTreeSet::new(); rules.len()],
            stale_series: Vec::new(),
            rules,
            options: options.clone(),
            health: GroupHealth::default(),
        })
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file the group came from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The evaluation interval (ms).
    pub fn interval(&self) -> i64 {
        self.interval
    }

    /// How far in the past queries run (ms).
    pub fn query_offset(&self) -> i64 {
        self.query_offset
    }

    /// The series/alert limit per rule (0: none).
    pub fn limit(&self) -> i64 {
        self.limit
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rules, to change their state (restore, reload).
    pub(crate) fn rules_mut(&mut self) -> &mut [Rule] {
        &mut self.rules
    }

    /// The last evaluation's health.
    pub fn health(&self) -> &GroupHealth {
        &self.health
    }

    pub(crate) fn health_mut(&mut self) -> &mut GroupHealth {
        &mut self.health
    }

    /// Prometheus's slot for this group at or before `now_ns`, in ms: the
    /// time to pass to [`evaluate_at`](Self::evaluate_at).
    pub fn eval_timestamp(&self, now_ns: i64) -> i64 {
        crate::slot::ns_to_ms(crate::slot::eval_timestamp_ns(
            &self.name,
            &self.file,
            self.interval,
            now_ns,
        ))
    }

    /// Evaluates every rule at `t` (ms): queries run at `t - query_offset`
    /// through `queryable`, output (with stale markers for series a rule
    /// no longer produces) is appended through `appendable` and committed
    /// rule by rule. Failures are recorded in each rule's health, never
    /// returned: one failing rule does not stop the others.
    pub fn evaluate_at(&mut self, t: i64, queryable: &dyn Queryable, appendable: &dyn Appendable) {
        self.evaluate_with(t, queryable, appendable, None);
    }

    /// [`evaluate_at`](Self::evaluate_at), handing each alerting rule's
    /// alerts due for sending to `notify` after the rule evaluated
    /// successfully (Prometheus's `sendAlerts`).
    pub fn evaluate_with(
        &mut self,
        t: i64,
        queryable: &dyn Queryable,
        appendable: &dyn Appendable,
        mut notify: Option<&mut Notify<'_>>,
    ) {
        let start = Instant::now();
        let qt = t - self.query_offset;
        let mut failures = 0;
        for i in 0..self.rules.len() {
            let rule_start = Instant::now();
            let result = match &mut self.rules[i] {
                Rule::Recording(r) => r.eval(&self.options.engine, queryable, qt, self.limit),
                Rule::Alerting(r) => r.eval(
                    &self.options.engine,
                    queryable,
                    t,
                    self.query_offset,
                    self.limit,
                    &self.options.templates,
                ),
            };
            let rule = &mut self.rules[i];
            let health = rule.health_mut();
            match result {
                Err(e) => health.fail(e),
                Ok(samples) => {
                    health.ok();
                    let written = write(samples, &self.previous[i], qt, appendable, health);
                    self.previous[i] = written;
                    if let (Some(n), Rule::Alerting(r)) = (notify.as_deref_mut(), &mut *rule) {
                        let due = r.alerts_to_send(t, n.resend_delay, self.interval);
                        if !due.is_empty() {
                            (n.send)(r, due);
                        }
                    }
                }
            }
            let health = rule.health_mut();
            if health.health == crate::Health::Bad {
                failures += 1;
            }
            health.last_evaluation = Some(t);
            health.last_duration = rule_start.elapsed();
        }
        if !self.stale_series.is_empty() {
            self.write_stale_series(qt, appendable);
        }
        self.health.last_evaluation = Some(t);
        self.health.last_duration = start.elapsed();
        self.health.evaluations += 1;
        self.health.rule_failures += failures;
    }
}

impl Group {
    /// Writes stale markers at `t` (ms) for the series of rules a reload
    /// removed (Prometheus's `cleanupStaleSeries`); kept for the next
    /// evaluation if the commit fails.
    pub(crate) fn write_stale_series(&mut self, t: i64, appendable: &dyn Appendable) {
        let mut app = appendable.appender();
        for s in &self.stale_series {
            // Another rule may now write the series: its newer sample
            // wins, which is what these errors say.
            let _ = app.append(0, s, t, STALE_NAN);
        }
        if app.commit().is_ok() {
            self.stale_series.clear();
        }
    }
}

/// Where a group's evaluation sends the alerts due for notification.
pub struct Notify<'a> {
    /// Prometheus's `rules.alert.resend-delay` (ms): how often a firing
    /// alert is sent again.
    pub resend_delay: i64,
    /// Receives an alerting rule and its alerts due for sending.
    pub send: &'a mut dyn FnMut(&AlertingRule, Vec<crate::Alert>),
}

impl std::fmt::Debug for Notify<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notify")
            .field("resend_delay", &self.resend_delay)
            .finish_non_exhaustive()
    }
}

/// Appends a rule's samples and stale markers for the series of the
/// previous evaluation it no longer produced, then commits. Returns the
/// series written.
fn write(
    samples: Vec<Sample>,
    previous: &BTreeSet<Labels>,
    t: i64,
    appendable: &dyn Appendable,
    health: &mut RuleHealth,
) -> BTreeSet<Labels> {
    let mut app = appendable.appender();
    let mut written = BTreeSet::new();
    for s in samples {
        let appended = match &s.h {
            Some(h) => app.append_float_histogram(0, &s.metric, s.t, h),
            None => app.append(0, &s.metric, s.t, s.f),
        };
        match appended {
            Ok(_) => {
                written.insert(s.metric);
            }
            Err(e) => health.fail(EvalError::Append(e)),
        }
    }
    for gone in previous.difference(&written) {
        if let Err(e) = app.append(0, gone, t, STALE_NAN) {
            // A marker behind newer data or a repeat is harmless.
            if !matches!(
                e.kind(),
                ErrorKind::OutOfOrderSample
                    | ErrorKind::TooOldSample
                    | ErrorKind::DuplicateSampleForTimestamp
            ) {
                health.fail(EvalError::Append(e));
            }
        }
    }
    if let Err(e) = app.commit() {
        health.fail(EvalError::Append(e));
    }
    written
}
