//! Agent storage settings, with Prometheus's agent defaults.

use std::time::Duration;

use aion_wal::{Compression, WalOptions};

/// How agent storage keeps its WAL (Prometheus's `--storage.agent.*`
/// flags).
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// The WAL writer's settings (segment size, compression, fsync).
    pub wal: WalOptions,
    /// Keep at least this much data before the lowest timestamp the
    /// remote-write queues have sent, so a queue that falls behind still
    /// finds its samples (`--storage.agent.retention.min-time`, 5 m).
    pub min_wal_time: Duration,
    /// Never keep data older than this, even if unsent: a receiver that is
    /// down for longer loses the oldest samples instead of filling the disk
    /// (`--storage.agent.retention.max-time`, 4 h).
    pub max_wal_time: Duration,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            wal: WalOptions {
                // The agent compresses by default (`--storage.agent.wal-compression`).
                compression: Compression::Snappy,
                ..WalOptions::default()
            },
            min_wal_time: Duration::from_secs(5 * 60),
            max_wal_time: Duration::from_secs(4 * 3600),
        }
    }
}

impl AgentOptions {
    /// The timestamp below which data may be dropped, given the lowest
    /// timestamp every queue has sent and the current time (both ms):
    /// Prometheus's `lowest sent − min_wal_time`, but never older than
    /// `now − max_wal_time`.
    ///
    /// ```
    /// use aion_agent::AgentOptions;
    /// let o = AgentOptions::default();
    /// let now = 10 * 3_600_000;
    /// // A queue that is 10 minutes behind: keep 5 more minutes before it.
    /// assert_eq!(o.truncation_time(now - 600_000, now), now - 900_000);
    /// // A queue 6 hours behind: the 4-hour cap wins.
    /// assert_eq!(o.truncation_time(now - 6 * 3_600_000, now), now - 4 * 3_600_000);
    /// ```
    pub fn truncation_time(&self, lowest_sent: i64, now: i64) -> i64 {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let ts = lowest_sent.saturating_sub(ms(self.min_wal_time)).max(0);
        ts.max(now.saturating_sub(ms(self.max_wal_time)))
    }
}
