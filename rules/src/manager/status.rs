//! What a host reads about the running rules: per group and per rule,
//! the last error, evaluation time and duration, missed iterations and
//! the alerts (Prometheus's `/api/v1/rules` and its rule-group metrics).

use crate::health::{GroupHealth, RuleHealth};
use crate::restore::RestoreReport;
use crate::{Alert, Rule};

use super::runner::GroupRun;

/// Which kind a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// `record:`.
    Recording,
    /// `alert:`.
    Alerting,
}

/// One rule's state.
#[derive(Debug, Clone)]
pub struct RuleStatus {
    /// Record or alert name.
    pub name: String,
    /// Recording or alerting.
    pub kind: RuleKind,
    /// The expression as printed.
    pub expr: String,
    /// Last error, evaluation time and duration.
    pub health: RuleHealth,
    /// Pending, firing and recently resolved alerts (alerting rules).
    pub alerts: Vec<Alert>,
}

/// One group's state.
#[derive(Debug, Clone)]
pub struct GroupStatus {
    /// The group's name.
    pub name: String,
    /// Its file.
    pub file: String,
    /// Its interval (ms).
    pub interval: i64,
    /// Last evaluation time, duration, evaluations, failures and missed
    /// iterations.
    pub health: GroupHealth,
    /// Slots due so far, evaluated or missed
    /// (`rule_group_iterations_total`).
    pub iterations_scheduled: u64,
    /// When the next evaluation is due (ns).
    pub next_evaluation_ns: i64,
    /// The `for`-state restore, once done.
    pub restore: Option<RestoreReport>,
    /// The rules, in order.
    pub rules: Vec<RuleStatus>,
}

impl GroupStatus {
    pub(crate) fn of(run: &GroupRun) -> GroupStatus {
        let g = &run.group;
        GroupStatus {
            name: g.name().to_string(),
            file: g.file().to_string(),
            interval: g.interval(),
            health: g.health().clone(),
            iterations_scheduled: run.scheduled,
            next_evaluation_ns: run.schedule.next_ns(),
            restore: run.restore.clone(),
            rules: g
                .rules()
                .iter()
                .map(|r| match r {
                    Rule::Recording(r) => RuleStatus {
                        name: r.name().to_string(),
                        kind: RuleKind::Recording,
                        expr: r.expr().to_string(),
                        health: r.health().clone(),
                        alerts: Vec::new(),
                    },
                    Rule::Alerting(r) => RuleStatus {
                        name: r.name().to_string(),
                        kind: RuleKind::Alerting,
                        expr: r.expr().to_string(),
                        health: r.health().clone(),
                        alerts: r.alerts().cloned().collect(),
                    },
                })
                .collect(),
        }
    }
}
