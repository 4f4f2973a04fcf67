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
//! * [`manager`] loads rule files and runs groups on their slots
//!   (host-driven or on its own threads), reloads keeping state, counts
//!   missed iterations and marks removed rules' series stale;
//! * [`restore`] brings alerts' `for` progress back after a restart from
//!   `ALERTS_FOR_STATE`;
//! * [`notifier`] hands due alerts to the host with Prometheus's resend
//!   rules and encodes Alertmanager's v2 API body.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod alerting;
pub mod backfill;
mod error;
mod group;
pub mod health;
pub mod manager;
pub mod notifier;
mod query;
mod recording;
pub mod restore;
pub mod rulefmt;
pub mod slot;
pub mod template;
pub mod unittest;
mod yaml;

pub use alerting::{Alert, AlertState, AlertingRule, TemplateContext};
pub use error::EvalError;
pub use group::{Group, GroupOptions, LoadError, Notify, Rule};
pub use health::{GroupHealth, Health, RuleHealth};
pub use manager::{Manager, ManagerOptions};
pub use notifier::{Notification, Notifier};
pub use recording::RecordingRule;
pub use yaml::SyntaxError;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;
