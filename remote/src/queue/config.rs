//! Queue settings, with Prometheus's `queue_config` defaults.

use std::time::Duration;

/// Which remote-write protocol a queue speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `prometheus.WriteRequest` (remote write 1.0).
    V1,
    /// `io.prometheus.write.v2.Request` (remote write 2.0); falls back to
    /// 1.0 when a receiver does not speak it.
    V2,
}

/// How a queue shards, batches and retries (Prometheus's `queue_config`).
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Samples buffered per shard before appends wait.
    pub capacity: usize,
    /// Fewest shards.
    pub min_shards: usize,
    /// Most shards.
    pub max_shards: usize,
    /// Most samples in one request.
    pub max_samples_per_send: usize,
    /// Longest a sample waits for its batch to fill.
    pub batch_send_deadline: Duration,
    /// First retry delay; doubled up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Retry on HTTP 429 (honouring `Retry-After`), else drop.
    pub retry_on_http_429: bool,
    /// Drop samples older than this instead of sending them; zero = never.
    pub sample_age_limit: Duration,
    /// The protocol to start with.
    pub protocol: Protocol,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            min_shards: 1,
            max_shards: 50,
            max_samples_per_send: 2_000,
            batch_send_deadline: Duration::from_secs(5),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            retry_on_http_429: true,
            sample_age_limit: Duration::ZERO,
            protocol: Protocol::V1,
        }
    }
}
