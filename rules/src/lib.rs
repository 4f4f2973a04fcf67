//! Prometheus recording and alerting rules, evaluated in the process that
//! holds the data: no network between a rule and its storage.
//!
//! * [`rulefmt`] reads rule files as Prometheus does, with its messages
//!   and `line:column` positions;
//! * [`template`] expands alert label and annotation templates (the
//!   `text/template` subset rule files use, with Prometheus's functions).
#![deny(unsafe_op_in_unsafe_fn)]

pub mod rulefmt;
pub mod template;
mod yaml;

pub use yaml::SyntaxError;
