//! The sending side of remote write: a sharded queue with Prometheus's
//! batching, retry and resharding rules, its state visible.
//!
//! | file | holds |
//! |---|---|
//! | [`QueueManager`] (`manager.rs`) | shards, routing by series, resharding thread, stop with flush |
//! | `shard.rs` | one shard's bounded queue and sender: batches, retries, 429, fallback to 1.0 |
//! | `resharding.rs` | [`ShardRates`]: the EWMA rates and the desired-shards rule |
//! | [`QueueConfig`] (`config.rs`) | Prometheus's `queue_config` defaults |
//! | [`Transport`] (`transport.rs`) | the host's HTTP client, as a trait |
//! | [`ProtoEncoder`] (`encoder.rs`) | request bodies from the crate's RW 1.0 / 2.0 builders |
//! | [`QueueSink`] (`wal_sink.rs`) | a WAL watcher's samples into a queue (agent mode) |
//! | [`QueueStats`] (`stats.rs`) | counters for the host to export |

mod config;
mod encoder;
mod manager;
pub mod resharding;
mod shard;
mod stats;
mod transport;
mod wal_sink;

#[cfg(test)]
mod tests;

pub use config::{Protocol, QueueConfig};
pub use encoder::ProtoEncoder;
pub use manager::{EncoderFactory, QueueManager};
pub use resharding::{EwmaRate, ShardRates, SHARD_UPDATE_INTERVAL};
pub use shard::{AcceptHook, Encoder, QueuedSample};
pub use stats::{QueueSnapshot, QueueStats};
pub use transport::{Response, Transport};
pub use wal_sink::QueueSink;
