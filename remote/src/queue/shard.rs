//! One shard: a bounded queue of samples and the thread that batches and
//! sends them, retrying as Prometheus's remote-write shards do.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aion_model::Labels;
use parking_lot::{Condvar, Mutex};

use super::resharding::ShardRates;
use super::{Protocol, QueueConfig, QueueStats, Response, Transport};

/// A sample waiting to be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedSample {
    /// The series' reference in its source (a WAL): what shards by, so a
    /// series' samples stay in order.
    pub series: u64,
    /// The series' labels.
    pub labels: Labels,
    /// Timestamp (ms).
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// Encodes a batch as a request body: snappy-compressed protobuf of the
/// given protocol, written into `out` (cleared first).
pub trait Encoder: Send {
    /// Encodes `batch`.
    fn encode(&mut self, protocol: Protocol, batch: &[QueuedSample], out: &mut Vec<u8>);
}

/// What every shard of a queue shares.
pub(crate) struct Context {
    pub(crate) config: QueueConfig,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) stats: QueueStats,
    pub(crate) rates: Mutex<ShardRates>,
    /// `Protocol::V1` as 1, `V2` as 2; falls back to 1 for good.
    pub(crate) protocol: AtomicU8,
    /// Wall time of the last accepted request (ms).
    pub(crate) last_success_ms: AtomicI64,
    /// Set when a stop's flush deadline passed: retries give up.
    pub(crate) abort: AtomicBool,
    /// Told of every accepted batch.
    pub(crate) on_accepted: Option<AcceptHook>,
}

/// Called with every batch the receiver accepted, on the shard's sender
/// thread, before the next batch is sent: how a host learns exactly what
/// has been delivered (to persist its progress across restarts). Keep it
/// short; it holds up the shard.
pub type AcceptHook = Arc<dyn Fn(&[QueuedSample]) + Send + Sync>;

impl Context {
    fn protocol(&self) -> Protocol {
        if self.protocol.load(Ordering::Relaxed) == 2 {
            Protocol::V2
        } else {
            Protocol::V1
        }
    }

    fn fall_back_to_v1(&self) {
        if self.protocol.swap(1, Ordering::Relaxed) == 2 {
            self.stats
                .protocol_fallbacks
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[derive(Default)]
struct State {
    samples: VecDeque<QueuedSample>,
    /// When the oldest queued sample arrived: the batch deadline runs
    /// from here.
    oldest: Option<Instant>,
    stopping: bool,
}

/// A shard's queue.
pub(crate) struct Shard {
    state: Mutex<State>,
    changed: Condvar,
    capacity: usize,
}

impl Shard {
    pub(crate) fn new(capacity: usize) -> Shard {
        Shard {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    /// Queues `s`, waiting while the shard is full (back-pressure on the
    /// reader of the WAL, as in Prometheus).
    pub(crate) fn push(&self, s: QueuedSample) {
        let mut st = self.state.lock();
        while st.samples.len() >= self.capacity && !st.stopping {
            self.changed.wait(&mut st);
        }
        if st.samples.is_empty() {
            st.oldest = Some(Instant::now());
        }
        st.samples.push_back(s);
        self.changed.notify_all();
    }

    /// Asks the sender to send what is queued and exit.
    pub(crate) fn stop(&self) {
        self.state.lock().stopping = true;
        self.changed.notify_all();
    }

    /// The next batch: full, or due by the deadline, or what is left when
    /// stopping; `None` once stopped and empty.
    fn next_batch(&self, max: usize, deadline: Duration, out: &mut Vec<QueuedSample>) -> bool {
        let mut st = self.state.lock();
        loop {
            let due = st.oldest.is_some_and(|o| o.elapsed() >= deadline);
            if st.samples.len() >= max || (due && !st.samples.is_empty()) || st.stopping {
                break;
            }
            match st.oldest {
                Some(o) => {
                    let left = deadline.saturating_sub(o.elapsed());
                    self.changed.wait_for(&mut st, left);
                }
                None => self.changed.wait(&mut st),
            }
        }
        if st.samples.is_empty() {
            return false;
        }
        let n = st.samples.len().min(max);
        out.clear();
        out.extend(st.samples.drain(..n));
        st.oldest = (!st.samples.is_empty()).then(Instant::now);
        self.changed.notify_all();
        true
    }
}

/// The sender thread of one shard.
pub(crate) fn run(shard: Arc<Shard>, ctx: Arc<Context>, mut encoder: Box<dyn Encoder>) {
    let mut batch = Vec::new();
    let mut body = Vec::new();
    let max = ctx.config.max_samples_per_send.max(1);
    while shard.next_batch(max, ctx.config.batch_send_deadline, &mut batch) {
        send(&ctx, encoder.as_mut(), &mut batch, &mut body);
    }
}

fn count(a: &std::sync::atomic::AtomicU64, n: usize) {
    a.fetch_add(n as u64, Ordering::Relaxed);
}

/// Sends one batch until it is accepted, refused for good, dropped for
/// age, or the queue aborts.
fn send(
    ctx: &Context,
    encoder: &mut dyn Encoder,
    batch: &mut Vec<QueuedSample>,
    body: &mut Vec<u8>,
) {
    let cfg = &ctx.config;
    let mut backoff = cfg.min_backoff;
    loop {
        if !cfg.sample_age_limit.is_zero() {
            let oldest = now_ms() - cfg.sample_age_limit.as_millis() as i64;
            let before = batch.len();
            batch.retain(|s| s.t >= oldest);
            let dropped = before - batch.len();
            count(&ctx.stats.samples_dropped, dropped);
            ctx.rates.lock().data_dropped.add(dropped as i64);
        }
        let n = batch.len();
        if n == 0 {
            return;
        }
        let protocol = ctx.protocol();
        body.clear();
        encoder.encode(protocol, batch, body);
        let headers = headers(protocol);
        let started = Instant::now();
        let answer = ctx.transport.send(body, &headers);
        ctx.rates
            .lock()
            .data_out_duration
            .add(started.elapsed().as_nanos() as i64);
        count(&ctx.stats.requests, 1);
        count(&ctx.stats.bytes_sent, body.len());
        let retry_after = match answer {
            Ok(r) if (200..300).contains(&r.status) => {
                if protocol == Protocol::V2 && r.header(SAMPLES_WRITTEN).is_none() {
                    // A 1.0-only receiver: it did not read the 2.0 body.
                    ctx.fall_back_to_v1();
                    continue;
                }
                accepted(ctx, batch);
                return;
            }
            Ok(r) if r.status == 415 && protocol == Protocol::V2 => {
                ctx.fall_back_to_v1();
                continue;
            }
            Ok(r) if r.status == 429 && cfg.retry_on_http_429 => retry_after(&r),
            Ok(r) if r.status >= 500 => None,
            Ok(_) => {
                // 4xx (and anything else): the receiver will never take it.
                count(&ctx.stats.samples_failed, n);
                ctx.rates.lock().data_dropped.add(n as i64);
                return;
            }
            Err(_) => None,
        };
        count(&ctx.stats.samples_retried, n);
        if !sleep_unless_aborted(ctx, retry_after.unwrap_or(backoff)) {
            return;
        }
        backoff = (backoff * 2).min(cfg.max_backoff);
    }
}

fn accepted(ctx: &Context, batch: &[QueuedSample]) {
    count(&ctx.stats.samples_out, batch.len());
    let newest = batch.iter().map(|s| s.t).max().unwrap_or(i64::MIN);
    ctx.stats
        .highest_sent_ms
        .fetch_max(newest, Ordering::Relaxed);
    ctx.last_success_ms.store(now_ms(), Ordering::Relaxed);
    let mut rates = ctx.rates.lock();
    rates.data_out.add(batch.len() as i64);
    rates.highest_sent = rates.highest_sent.max(newest as f64 / 1000.0);
    drop(rates);
    if let Some(hook) = &ctx.on_accepted {
        hook(batch);
    }
}

/// The header a 2.0 receiver answers with.
pub(crate) const SAMPLES_WRITTEN: &str = "X-Prometheus-Remote-Write-Samples-Written";

fn headers(protocol: Protocol) -> [(&'static str, &'static str); 4] {
    let (content_type, version) = match protocol {
        Protocol::V1 => ("application/x-protobuf", "0.1.0"),
        Protocol::V2 => (
            "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            "2.0.0",
        ),
    };
    [
        ("Content-Encoding", "snappy"),
        ("Content-Type", content_type),
        ("X-Prometheus-Remote-Write-Version", version),
        ("User-Agent", "aion-remote"),
    ]
}

/// `Retry-After` in seconds (the HTTP-date form is treated as absent:
/// the backoff applies).
fn retry_after(r: &Response) -> Option<Duration> {
    r.header("Retry-After")?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Sleeps `d` in slices, returning `false` as soon as the queue aborts.
fn sleep_unless_aborted(ctx: &Context, d: Duration) -> bool {
    let until = Instant::now() + d;
    loop {
        if ctx.abort.load(Ordering::Relaxed) {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}
