//! Aion: an embeddable, Prometheus-compatible time-series database and PromQL
//! engine.
//!
//! This facade crate re-exports the workspace members so a host depends on a
//! single crate:
//!
//! | module | crate | holds |
//! |---|---|---|
//! | [`model`] | `aion-model` | labels, matchers, histogram samples, Prometheus's byte and text rules |
//! | [`chunkenc`] | `aion-chunkenc` | chunk encodings, the sample iterator |
//! | [`index`] | `aion-index` | postings, index v2 |
//! | [`wal`] | `aion-wal` | write-ahead log segments, records, checkpoints |
//! | [`storage`] | `aion-storage` | the querier and appender traits, merging, in-memory helpers |
//! | [`tsdb`] | `aion-tsdb` | head, blocks, compaction, retention (implements `storage`) |
//! | [`downsample`] | `aion-downsample` | Thanos-compatible 5m/1h downsampled blocks |
//! | [`agent`] | `aion-agent` | agent-mode storage: WAL only, for forwarding |
//! | [`promql`] | `aion-promql` | PromQL parser and streaming engine (over `storage`) |
//! | [`remote`] | `aion-remote` | remote write 1.0/2.0 and remote read: codecs, receiver, read server, senders |
//! | [`rules`] | `aion-rules` | recording and alerting rules: rule files, evaluation, templates |
#![deny(unsafe_op_in_unsafe_fn)]

// The README's Rust snippets run as doc tests, so the README cannot drift
// from the API.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use aion_agent as agent;
pub use aion_chunkenc as chunkenc;
pub use aion_downsample as downsample;
pub use aion_index as index;
pub use aion_model as model;
pub use aion_promql as promql;
pub use aion_remote as remote;
pub use aion_rules as rules;
pub use aion_storage as storage;
pub use aion_tsdb as tsdb;
pub use aion_wal as wal;
