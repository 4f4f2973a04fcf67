//! How many shards a queue needs: Prometheus's computation, on
//! exponentially weighted rates of samples in, out and dropped and of the
//! time spent sending.

use std::time::Duration;

/// How often the shard count is recomputed (Prometheus's
/// `shardUpdateDuration`).
pub const SHARD_UPDATE_INTERVAL: Duration = Duration::from_secs(10);

/// Weight of the newest interval in each moving average.
const EWMA_WEIGHT: f64 = 0.2;

/// A change of the shard count smaller than this fraction is ignored.
const SHARD_TOLERANCE: f64 = 0.3;

/// An exponentially weighted moving average of a per-second rate, fed
/// with event counts and ticked once per [`SHARD_UPDATE_INTERVAL`].
#[derive(Debug, Clone, Default)]
pub struct EwmaRate {
    pending: i64,
    rate: f64,
    init: bool,
}

impl EwmaRate {
    /// Counts `n` events in the current interval.
    pub fn add(&mut self, n: i64) {
        self.pending += n;
    }

    /// Closes the interval: the first interval with events sets the rate,
    /// later ones move it by [`EWMA_WEIGHT`].
    pub fn tick(&mut self) {
        let events = std::mem::take(&mut self.pending);
        let instant = events as f64 / SHARD_UPDATE_INTERVAL.as_secs_f64();
        if self.init {
            self.rate += EWMA_WEIGHT * (instant - self.rate);
        } else if events > 0 {
            self.init = true;
            self.rate = instant;
        }
    }

    /// The averaged rate, per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }
}

/// The inputs of the shard computation, updated by the queue as it works.
#[derive(Debug, Clone, Default)]
pub struct ShardRates {
    /// Samples handed to the queue.
    pub data_in: EwmaRate,
    /// Samples sent successfully.
    pub data_out: EwmaRate,
    /// Samples dropped (too old, refused by the receiver).
    pub data_dropped: EwmaRate,
    /// Nanoseconds spent in sends.
    pub data_out_duration: EwmaRate,
    /// Newest timestamp handed to the queue (seconds).
    pub highest_recv: f64,
    /// Newest timestamp sent (seconds).
    pub highest_sent: f64,
}

impl ShardRates {
    /// The shard count Prometheus would choose now, given `current` shards
    /// and the configured bounds. Ticks the out, dropped and duration
    /// rates (the in rate is ticked by whoever feeds the queue, as in
    /// Prometheus, so call [`EwmaRate::tick`] on `data_in` first).
    ///
    /// The rule: time per sample (send time / samples out) times the
    /// samples to send per second (the in rate scaled by the share not
    /// dropped, plus 5 % of the backlog), rounded up; unchanged inside
    /// ±30 % of the current count or when nothing was sent; never fewer
    /// shards while more than 10 s behind; clamped to `[min, max]`.
    pub fn desired_shards(&mut self, current: usize, min: usize, max: usize) -> usize {
        self.data_out.tick();
        self.data_dropped.tick();
        self.data_out_duration.tick();
        let data_in = self.data_in.rate();
        let data_out = self.data_out.rate();
        if data_out <= 0.0 {
            return current;
        }
        let kept_ratio = data_out / (self.data_dropped.rate() + data_out);
        let out_duration = self.data_out_duration.rate() / 1e9;
        let delay = self.highest_recv - self.highest_sent;
        let pending = delay * data_in * kept_ratio;
        let backlog_catchup = 0.05 * pending;
        let time_per_sample = out_duration / data_out;
        let desired = (time_per_sample * (data_in * kept_ratio + backlog_catchup)).ceil();
        let lower = current as f64 * (1.0 - SHARD_TOLERANCE);
        let upper = current as f64 * (1.0 + SHARD_TOLERANCE);
        if lower <= desired && desired <= upper {
            return current;
        }
        let desired = if desired.is_finite() && desired > 0.0 {
            desired as usize
        } else {
            0
        };
        if desired < current && delay > 10.0 {
            return current;
        }
        desired.clamp(min, max.max(min))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sets a rate as Prometheus's tests force it: one interval of
    /// `per_second` events per second, taken as the first interval.
    fn forced(per_second: f64) -> EwmaRate {
        let mut r = EwmaRate::default();
        r.add((per_second * SHARD_UPDATE_INTERVAL.as_secs_f64()) as i64);
        r
    }

    /// Prometheus's `TestCalculateDesiredShardsDetail` table (data, as
    /// `storage/remote/queue_manager_test.go` has it): (name, previous
    /// shards, in/s, out/s, dropped/s, seconds sending per second,
    /// backlog in seconds, expected shards). Max shards 50, min 1.
    type Case = (&'static str, usize, f64, f64, f64, f64, f64, usize);
    const CASES: &[Case] = &[
        ("nothing in or out 1", 1, 0.0, 0.0, 0.0, 0.0, 0.0, 1),
        ("nothing in or out 10", 10, 0.0, 0.0, 0.0, 0.0, 0.0, 10),
        ("steady throughput", 1, 10.0, 10.0, 0.0, 1.0, 0.0, 1),
        ("scale down", 10, 10.0, 10.0, 0.0, 5.0, 0.0, 5),
        ("scale down constrained", 7, 10.0, 10.0, 0.0, 5.0, 0.0, 7),
        ("scale up", 1, 10.0, 10.0, 0.0, 10.0, 0.0, 10),
        ("scale up constrained", 8, 10.0, 10.0, 0.0, 10.0, 0.0, 8),
        ("backlogged 20s", 2, 10.0, 10.0, 0.0, 2.0, 20.0, 4),
        ("backlogged 90s", 4, 10.0, 10.0, 0.0, 4.0, 90.0, 22),
        ("backlog reduced", 22, 10.0, 20.0, 0.0, 4.0, 10.0, 3),
        ("backlog eliminated", 3, 10.0, 10.0, 0.0, 2.0, 0.0, 2),
        ("slight slowdown", 1, 10.0, 10.0, 0.0, 1.2, 0.0, 2),
        ("bigger slowdown", 1, 10.0, 10.0, 0.0, 1.4, 0.0, 2),
        ("speed up", 2, 10.0, 10.0, 0.0, 1.2, 0.0, 2),
        ("speed up more", 2, 10.0, 10.0, 0.0, 0.9, 0.0, 1),
        ("marginal decision A", 3, 10.0, 10.0, 0.0, 2.01, 0.0, 3),
        ("marginal decision B", 3, 10.0, 10.0, 0.0, 1.99, 0.0, 2),
    ];

    #[test]
    fn prometheus_desired_shards_table() {
        for &(name, prev, din, dout, dropped, duration, backlog, want) in CASES {
            let mut r = ShardRates {
                data_in: forced(din),
                data_out: forced(dout),
                data_dropped: forced(dropped),
                data_out_duration: forced(duration * 1e9),
                highest_recv: backlog,
                highest_sent: 0.0,
            };
            r.data_in.tick();
            assert_eq!(r.desired_shards(prev, 1, 50), want, "{name}");
        }
    }

    /// Prometheus's `TestCalculateDesiredShards` simulation: 50k samples/s
    /// in, each shard sends 2000 samples per 100 ms; after a two-minute
    /// start with nothing sent the queue must catch up within 15 minutes
    /// without ever dropping below what keeps up or above 200 shards.
    #[test]
    fn catches_up_after_a_stall_within_bounds() {
        let input: i64 = 50_000;
        let max_per_send: i64 = 2000;
        let step = SHARD_UPDATE_INTERVAL.as_secs() as i64;
        let mut r = ShardRates::default();
        let mut shards = 1usize;
        let mut pending: i64 = 0;
        let mut ts = 0i64;
        let add = |r: &mut ShardRates, pending: &mut i64, ts: i64| {
            *pending += input * step;
            r.data_in.add(input * step);
            r.data_in.tick();
            r.highest_recv = ts as f64;
        };
        while ts < 120 {
            add(&mut r, &mut pending, ts);
            shards = r.desired_shards(shards, 1, 50);
            assert_eq!(shards, 1);
            ts += step;
        }
        let min_shards = (input / max_per_send / 10) as usize;
        while ts < 15 * 60 {
            add(&mut r, &mut pending, ts);
            let out = (shards as i64 * max_per_send * (step * 10)).min(pending);
            pending -= out;
            r.data_out.add(out);
            r.data_out_duration
                .add(shards as i64 * SHARD_UPDATE_INTERVAL.as_nanos() as i64);
            r.highest_sent = (ts - pending / input) as f64;
            shards = r.desired_shards(shards, 1, 200);
            assert!(shards >= min_shards, "{shards} < {min_shards} at {ts} s");
            assert!(shards <= 200, "{shards} at {ts} s");
            ts += step;
        }
        assert_eq!(pending, 0, "never caught up");
    }
}
