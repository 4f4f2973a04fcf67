//! What a queue has done, for the host to export (the figures operators
//! otherwise guess from dashboards).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Live counters of a queue; read a consistent-enough copy with
/// [`QueueStats::snapshot`].
#[derive(Debug, Default)]
pub struct QueueStats {
    pub(crate) samples_in: AtomicU64,
    pub(crate) samples_out: AtomicU64,
    pub(crate) samples_failed: AtomicU64,
    pub(crate) samples_retried: AtomicU64,
    pub(crate) samples_dropped: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) protocol_fallbacks: AtomicU64,
    pub(crate) shards: AtomicU64,
    pub(crate) desired_shards: AtomicU64,
    pub(crate) highest_recv_ms: AtomicI64,
    pub(crate) highest_sent_ms: AtomicI64,
}

/// A copy of a queue's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueSnapshot {
    /// Samples handed to the queue.
    pub samples_in: u64,
    /// Samples the receiver accepted.
    pub samples_out: u64,
    /// Samples in the queue, not yet accepted.
    pub samples_pending: u64,
    /// Samples the receiver refused for good (4xx other than 429, or 429
    /// without retrying).
    pub samples_failed: u64,
    /// Sample sends retried (counted once per retry).
    pub samples_retried: u64,
    /// Samples dropped for being older than `sample_age_limit`.
    pub samples_dropped: u64,
    /// Request bytes sent (compressed).
    pub bytes_sent: u64,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Times a 2.0 queue fell back to 1.0.
    pub protocol_fallbacks: u64,
    /// Shards running.
    pub shards: u64,
    /// Shards the last computation asked for.
    pub desired_shards: u64,
    /// Newest sample timestamp handed to the queue (ms).
    pub highest_recv_ms: i64,
    /// Newest sample timestamp accepted by the receiver (ms).
    pub highest_sent_ms: i64,
}

impl QueueSnapshot {
    /// How far sending is behind receiving, in seconds.
    pub fn lag_seconds(&self) -> f64 {
        if self.highest_sent_ms == 0 {
            return 0.0;
        }
        (self.highest_recv_ms - self.highest_sent_ms).max(0) as f64 / 1000.0
    }
}

impl QueueStats {
    /// A copy of the counters.
    pub fn snapshot(&self) -> QueueSnapshot {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let samples_in = l(&self.samples_in);
        let done = l(&self.samples_out) + l(&self.samples_failed) + l(&self.samples_dropped);
        QueueSnapshot {
            samples_in,
            samples_out: l(&self.samples_out),
            samples_pending: samples_in.saturating_sub(done),
            samples_failed: l(&self.samples_failed),
            samples_retried: l(&self.samples_retried),
            samples_dropped: l(&self.samples_dropped),
            bytes_sent: l(&self.bytes_sent),
            requests: l(&self.requests),
            protocol_fallbacks: l(&self.protocol_fallbacks),
            shards: l(&self.shards),
            desired_shards: l(&self.desired_shards),
            highest_recv_ms: self.highest_recv_ms.load(Ordering::Relaxed),
            highest_sent_ms: self.highest_sent_ms.load(Ordering::Relaxed),
        }
    }
}
