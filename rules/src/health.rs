//! Health of rules and groups: what a host alerts on when rule evaluation
//! itself fails (Prometheus's `/api/v1/rules` health fields).

use std::time::Duration;

/// A rule's health after its last evaluation, as Prometheus names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Health {
    /// Not evaluated yet (`unknown`).
    #[default]
    Unknown,
    /// The last evaluation succeeded (`ok`).
    Good,
    /// The last evaluation failed (`err`).
    Bad,
}

impl Health {
    /// Prometheus's API text: `unknown`, `ok`, `err`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Good => "ok",
            Health::Bad => "err",
        }
    }
}

/// The state of one rule's last evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleHealth {
    /// Good, bad or not yet known.
    pub health: Health,
    /// The last evaluation's error, if it failed.
    pub last_error: Option<String>,
    /// The evaluation time (ms) the rule last ran at (the host's clock:
    /// the `t` given to `evaluate_at`).
    pub last_evaluation: Option<i64>,
    /// How long the last evaluation took (wall time).
    pub last_duration: Duration,
}

impl RuleHealth {
    pub(crate) fn fail(&mut self, err: impl ToString) {
        self.health = Health::Bad;
        self.last_error = Some(err.to_string());
    }

    pub(crate) fn ok(&mut self) {
        self.health = Health::Good;
        self.last_error = None;
    }
}

/// The state of a group's last evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupHealth {
    /// The evaluation time (ms) of the last evaluation.
    pub last_evaluation: Option<i64>,
    /// How long the last evaluation of all rules took (wall time).
    pub last_duration: Duration,
    /// Evaluations run.
    pub evaluations: u64,
    /// Rule evaluations that failed, over all evaluations.
    pub rule_failures: u64,
    /// Evaluation slots skipped because an evaluation overran its
    /// interval (Prometheus's `rule_group_iterations_missed_total`); kept
    /// by the [`Manager`](crate::Manager).
    pub iterations_missed: u64,
}
