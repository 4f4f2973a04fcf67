//! Aion: an embeddable, Prometheus-compatible time-series database and PromQL
//! engine.
//!
//! This facade crate re-exports the workspace members so a host depends on a
//! single crate:
//!
//! | module | crate | holds |
//! |---|---|---|
//! | [`chunkenc`] | `aion-chunkenc` | XOR chunk encoding, sample iterators |
//! | [`index`] | `aion-index` | labels, matchers, postings, index v2 |
//! | [`wal`] | `aion-wal` | write-ahead log segments, records, checkpoints |
//! | [`tsdb`] | `aion-tsdb` | head, blocks, compaction, querier traits |
//! | [`promql`] | `aion-promql` | PromQL parser and streaming engine |
#![deny(unsafe_op_in_unsafe_fn)]

// The README's Rust snippets run as doc tests, so the README cannot drift
// from the API.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use aion_chunkenc as chunkenc;
pub use aion_index as index;
pub use aion_promql as promql;
pub use aion_tsdb as tsdb;
pub use aion_wal as wal;
