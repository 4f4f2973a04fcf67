//! Agent-mode storage: what a Prometheus agent (`--enable-feature=agent`)
//! keeps, as a library. Scrapes are appended and logged to a WAL in
//! Prometheus's format; remote-write queues tail it
//! ([`aion_wal::Watcher`]) and the host truncates it once samples are sent.
//! No head chunks, no blocks, no querying: per series only its labels,
//! reference and newest timestamp are held.
//!
//! A crate of its own rather than a mode of `aion-tsdb`: an agent needs
//! none of the TSDB (head chunks, mmap, blocks, compaction), and a host
//! that links only this pays for none of it.
//!
//! | file | holds |
//! |---|---|
//! | [`AgentDb`] (`db.rs`) | opening and replay, truncation (series GC, checkpoint), close |
//! | [`AgentAppender`] (`appender.rs`) | batches, out-of-order refusal, WAL logging at commit |
//! | `series.rs` | the striped series map |
//! | [`AgentOptions`] (`options.rs`) | Prometheus's agent defaults; the truncation time rule |
//! | [`Error`] (`error.rs`) | errors, mapped to the storage traits' kinds |
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

mod appender;
mod db;
mod error;
mod options;
mod series;

pub use appender::AgentAppender;
pub use db::{AgentDb, AgentReplayReport, AgentTruncateReport};
pub use error::{Error, Result};
pub use options::AgentOptions;
