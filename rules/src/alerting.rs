//! Alerting rules: every series of the query's result is an alert,
//! pending until it has been active for `for`, then firing; it resolves
//! when its series disappears (after `keep_firing_for`) and is kept
//! resolved for 15 minutes, as Prometheus does.
//!
//! Each evaluation writes `ALERTS{alertname, alertstate, ...} 1` and
//! `ALERTS_FOR_STATE{alertname, ...} <active since, in seconds>` for every
//! pending or firing alert.

use std::collections::BTreeMap;

use aion_model::{Labels, LabelsBuilder, METRIC_NAME};
use aion_promql::{Engine, Expr, Sample};
use aion_storage::Queryable;

use crate::health::RuleHealth;
use crate::query::instant_vector;
use crate::template::{Expander, Template};
use crate::EvalError;

/// How long a resolved alert is kept (Prometheus's `resolvedRetention`),
/// ms.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// The label naming the alert.
pub const ALERT_NAME_LABEL: &str = "alertname";
/// The label of `ALERTS` holding the state.
pub const ALERT_STATE_LABEL: &str = "alertstate";
/// The series of active alerts.
pub const ALERTS_METRIC: &str = "ALERTS";
/// The series recording since when alerts are active.
pub const ALERTS_FOR_STATE_METRIC: &str = "ALERTS_FOR_STATE";

/// An alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    /// No longer active (resolved), kept for notifications.
    Inactive,
    /// Active for less than the rule's `for`.
    Pending,
    /// Active for at least `for`.
    Firing,
}

impl AlertState {
    /// Prometheus's text: `inactive`, `pending`, `firing`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The state.
    pub state: AlertState,
    /// Identifying labels: the series' labels without `__name__`, the
    /// rule's expanded labels and `alertname`.
    pub labels: Labels,
    /// Expanded annotations, sorted by name.
    pub annotations: Vec<(String, String)>,
    /// The series' value at the last evaluation.
    pub value: f64,
    /// Evaluation time (ms) the alert became active.
    pub active_at: i64,
    /// Evaluation time (ms) it started firing.
    pub fired_at: Option<i64>,
    /// Evaluation time (ms) it was resolved.
    pub resolved_at: Option<i64>,
    /// Since when (ms) it has been kept firing by `keep_firing_for`.
    pub keep_firing_since: Option<i64>,
    /// Evaluation time (ms) it was last handed to a notifier.
    pub last_sent_at: Option<i64>,
    /// Until when (ms) the last notification holds (`endsAt` of a firing
    /// alert).
    pub valid_until: Option<i64>,
}

/// A label or annotation name and its template.
pub(crate) type NamedTemplate = (String, Template);

/// What a rule's templates may refer to besides the alert itself.
#[derive(Debug, Clone, Default)]
pub struct TemplateContext {
    /// `$externalLabels`.
    pub external_labels: Labels,
    /// `$externalURL`.
    pub external_url: String,
}

/// An alerting rule ready to evaluate, with its active alerts.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    name: String,
    expr: Expr,
    hold_ms: i64,
    keep_firing_for_ms: i64,
    labels: Vec<(String, Template)>,
    annotations: Vec<(String, Template)>,
    /// Unexpanded labels, under which `ALERTS` samples are built.
    raw_labels: Labels,
    pub(crate) active: BTreeMap<Labels, Alert>,
    /// Whether `for` state was restored (or needs no restoring): until
    /// then no `ALERTS`/`ALERTS_FOR_STATE` samples are written, so a
    /// restart does not overwrite the state it is about to read.
    restored: bool,
    pub(crate) health: RuleHealth,
}

impl AlertingRule {
    /// A rule alerting on `expr`'s series after `hold_ms` (`for`), kept
    /// firing `keep_firing_for_ms` after they disappear. `labels` and
    /// `annotations` are templates (see [`crate::template`]).
    pub fn new(
        name: impl Into<String>,
        expr: Expr,
        hold_ms: i64,
        keep_firing_for_ms: i64,
        labels: Vec<(String, Template)>,
        annotations: Vec<(String, Template)>,
    ) -> Self {
        let mut raw = LabelsBuilder::new();
        for (k, t) in &labels {
            raw.set(k, t.text());
        }
        AlertingRule {
            name: name.into(),
            expr,
            hold_ms,
            keep_firing_for_ms,
            labels,
            annotations,
            raw_labels: raw.build().unwrap_or_default(),
            active: BTreeMap::new(),
            restored: true,
            health: RuleHealth::default(),
        }
    }

    /// The alert name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// The `for` duration (ms).
    pub fn hold_duration(&self) -> i64 {
        self.hold_ms
    }

    /// The `keep_firing_for` duration (ms).
    pub fn keep_firing_for(&self) -> i64 {
        self.keep_firing_for_ms
    }

    /// The last evaluation's health.
    pub fn health(&self) -> &RuleHealth {
        &self.health
    }

    /// The rule's labels before expansion (templates as written).
    pub fn raw_labels(&self) -> &Labels {
        &self.raw_labels
    }

    /// The label and annotation templates, as written.
    pub(crate) fn templates(&self) -> (&[NamedTemplate], &[NamedTemplate]) {
        (&self.labels, &self.annotations)
    }

    /// Whether the rule's `for` state has been restored (see
    /// [`crate::restore`]); an unrestored rule writes no `ALERTS` or
    /// `ALERTS_FOR_STATE` samples.
    pub fn is_restored(&self) -> bool {
        self.restored
    }

    /// Marks the rule restored or waiting for restore.
    pub fn set_restored(&mut self, restored: bool) {
        self.restored = restored;
    }

    /// Pending, firing and recently resolved alerts, by labels.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.active.values()
    }

    /// Evaluates at `ts` (ms, the evaluation time; the query runs at
    /// `ts - query_offset`), updates the alerts and returns the `ALERTS`
    /// and `ALERTS_FOR_STATE` samples. More than `limit` pending or firing
    /// alerts (`limit` 0 is unlimited) is an error that drops all alerts.
    pub fn eval(
        &mut self,
        engine: &Engine,
        queryable: &dyn Queryable,
        ts: i64,
        query_offset: i64,
        limit: i64,
        ctx: &TemplateContext,
    ) -> Result<Vec<Sample>, EvalError> {
        let qt = ts - query_offset;
        let result = instant_vector(engine, queryable, &self.expr, qt)?;
        let mut fresh: BTreeMap<Labels, Alert> = BTreeMap::new();
        for s in &result {
            let expander = Expander {
                labels: &s.metric,
                external_labels: &ctx.external_labels,
                external_url: &ctx.external_url,
                value: s.f,
            };
            let mut lb = LabelsBuilder::from(&s.metric);
            lb.del(&[METRIC_NAME]);
            for (k, t) in &self.labels {
                lb.set(k, &expander.expand_or_message(t));
            }
            lb.set(ALERT_NAME_LABEL, &self.name);
            let mut annotations: Vec<(String, String)> = self
                .annotations
                .iter()
                .map(|(k, t)| (k.clone(), expander.expand_or_message(t)))
                .collect();
            annotations.sort_by(|a, b| a.0.cmp(&b.0));
            let labels = lb.build()?;
            let alert = Alert {
                state: AlertState::Pending,
                labels: labels.clone(),
                annotations,
                value: s.f,
                active_at: ts,
                fired_at: None,
                resolved_at: None,
                keep_firing_since: None,
                last_sent_at: None,
                valid_until: None,
            };
            if fresh.insert(labels, alert).is_some() {
                return Err(EvalError::DuplicateAlert);
            }
        }
        for (labels, a) in &fresh {
            match self.active.get_mut(labels) {
                Some(old) if old.state != AlertState::Inactive => {
                    old.value = a.value;
                    old.annotations.clone_from(&a.annotations);
                }
                _ => {
                    self.active.insert(labels.clone(), a.clone());
                }
            }
        }
        let mut out = Vec::new();
        let mut active_pending = 0usize;
        let mut remove = Vec::new();
        for (labels, a) in self.active.iter_mut() {
            if !fresh.contains_key(labels) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && self.keep_firing_for_ms > 0 {
                    let since = *a.keep_firing_since.get_or_insert(ts);
                    keep_firing = ts - since < self.keep_firing_for_ms;
                }
                if a.state == AlertState::Pending
                    || a.resolved_at
                        .is_some_and(|r| ts - r > RESOLVED_RETENTION_MS)
                {
                    remove.push(labels.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at = Some(ts);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since = None;
            }
            active_pending += 1;
            if a.state == AlertState::Pending && ts - a.active_at >= self.hold_ms {
                a.state = AlertState::Firing;
                a.fired_at = Some(ts);
            }
            // A `for` lengthened by a reload sends a firing alert back to
            // pending.
            if a.state == AlertState::Firing && ts - a.active_at < self.hold_ms {
                a.state = AlertState::Pending;
                a.fired_at = None;
                a.last_sent_at = None;
                a.keep_firing_since = None;
            }
            if !self.restored {
                continue;
            }
            out.push(series_sample(
                &self.raw_labels,
                &a.labels,
                &self.name,
                Some(a.state),
                qt,
                1.0,
            )?);
            out.push(series_sample(
                &self.raw_labels,
                &a.labels,
                &self.name,
                None,
                qt,
                a.active_at.div_euclid(1000) as f64,
            )?);
        }
        for l in remove {
            self.active.remove(&l);
        }
        if limit > 0 && active_pending as i64 > limit {
            self.active.clear();
            return Err(EvalError::AlertLimit {
                limit,
                got: active_pending,
            });
        }
        Ok(out)
    }
}

/// An `ALERTS` sample (with `state`) or an `ALERTS_FOR_STATE` sample.
fn series_sample(
    raw: &Labels,
    alert: &Labels,
    name: &str,
    state: Option<AlertState>,
    t: i64,
    f: f64,
) -> Result<Sample, EvalError> {
    let mut lb = LabelsBuilder::from(raw);
    for l in alert.iter() {
        lb.set(l.name, l.value);
    }
    lb.set(ALERT_NAME_LABEL, name);
    match state {
        Some(s) => {
            lb.set(METRIC_NAME, ALERTS_METRIC);
            lb.set(ALERT_STATE_LABEL, s.as_str());
        }
        None => {
            lb.set(METRIC_NAME, ALERTS_FOR_STATE_METRIC);
        }
    }
    Ok(Sample {
        metric: lb.build()?,
        t,
        f,
        h: None,
    })
}
