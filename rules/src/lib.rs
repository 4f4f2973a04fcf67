//! Prometheus recording and alerting rules, evaluated in the process that
//! holds the data: no network between a rule and its storage.
//!
//! * [`rulefmt`] reads rule files as Prometheus does, with its messages
//!   and `line:column` positions;
//! * [`Group`] evaluates a group's rules in order at a time the host
//!   gives ([`Group::evaluate_at`]), reading through
//!   [`aion_storage::Queryable`] and writing through
//!   [`aion_storage::Appendable`]; [`slot`] gives Prometheus's evaluation
//!   times;
//! * [`RecordingRule`] and [`AlertingRule`] are the two kinds of rule,
//!   with Prometheus's semantics (stale markers, `limit`, duplicate
//!   series, pending → firing → resolved, `keep_firing_for`, `ALERTS` and
//!   `ALERTS_FOR_STATE`);
//! * [`template`] expands alert label and annotation templates (the
//!   `text/template` subset rule files use, with Prometheus's functions);
//! * [`health`] keeps each rule's and group's last error, evaluation time
//!   and duration.
//!
//! * [`unittest`] runs unit-test files as `promtool test rules` does;
//!   [`backfill`] evaluates recording rules over past data as `promtool
//!   tsdb create-blocks-from rules` does.
//!
//! Not here yet: a scheduler thread, reload, restoring `for` state from
//! `ALERTS_FOR_STATE`, notifications.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod alerting;
pub mod backfill;
mod error;
mod group;
pub mod health;
mod query;
mod recording;
pub mod rulefmt;
pub mod slot;
pub mod template;
pub mod unittest;
mod yaml;

pub use alerting::{Alert, AlertState, AlertingRule, TemplateContext};
pub use error::EvalError;
pub use group::{Group, GroupOptions, LoadError, Rule};
pub use health::{GroupHealth, Health, RuleHealth};
pub use recording::RecordingRule;
pub use yaml::SyntaxError;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;
