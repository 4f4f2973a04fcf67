//! The queue manager: samples in, sharded by series, batched, sent, and
//! the shard count adjusted every ten seconds.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};

use super::resharding::{ShardRates, SHARD_UPDATE_INTERVAL};
use super::shard::{now_ms, run, AcceptHook, Context, Encoder, QueuedSample, Shard};
use super::{Protocol, QueueConfig, QueueSnapshot, Transport};

/// Makes one encoder per shard thread.
pub type EncoderFactory = Arc<dyn Fn() -> Box<dyn Encoder> + Send + Sync>;

struct ShardSet {
    shards: Vec<Arc<Shard>>,
    threads: Vec<JoinHandle<()>>,
}

/// A remote-write queue as Prometheus runs one per `remote_write` entry.
///
/// Timers are the queue's own threads: one sender per shard (batch
/// deadline, retries with backoff) and one that recomputes the shard
/// count every [`SHARD_UPDATE_INTERVAL`]. The host supplies the
/// [`Transport`] (its HTTP client) and the request [`Encoder`]s.
///
/// Samples of one series go to one shard (by [`QueuedSample::series`]) and
/// are sent in order; resharding flushes every shard first, so the order
/// holds across it.
pub struct QueueManager {
    ctx: Arc<Context>,
    encoders: EncoderFactory,
    set: Arc<RwLock<ShardSet>>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    resharder: Mutex<Option<JoinHandle<()>>>,
}

impl QueueManager {
    /// Starts a queue with `config.min_shards` shards.
    pub fn new(
        config: QueueConfig,
        transport: Arc<dyn Transport>,
        encoders: EncoderFactory,
    ) -> Self {
        Self::with_accept_hook(config, transport, encoders, None)
    }

    /// Starts a queue that also tells `on_accepted` of every batch the
    /// receiver accepted (see [`AcceptHook`]).
    pub fn with_accept_hook(
        config: QueueConfig,
        transport: Arc<dyn Transport>,
        encoders: EncoderFactory,
        on_accepted: Option<AcceptHook>,
    ) -> Self {
        let protocol = match config.protocol {
            Protocol::V1 => 1,
            Protocol::V2 => 2,
        };
        let ctx = Arc::new(Context {
            config,
            transport,
            stats: Default::default(),
            rates: Mutex::new(ShardRates::default()),
            protocol: AtomicU8::new(protocol),
            last_success_ms: AtomicI64::new(0),
            abort: AtomicBool::new(false),
            on_accepted,
        });
        let n = ctx.config.min_shards.max(1);
        let set = Arc::new(RwLock::new(start_shards(&ctx, &encoders, n)));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let resharder = {
            let (ctx, set, stop, encoders) =
                (ctx.clone(), set.clone(), stop.clone(), encoders.clone());
            std::thread::Builder::new()
                .name("aion-remote-reshard".into())
                .spawn(move || reshard_loop(&ctx, &set, &stop, &encoders))
                .ok()
        };
        QueueManager {
            ctx,
            encoders,
            set,
            stop,
            resharder: Mutex::new(resharder),
        }
    }

    /// Queues samples, waiting while their shard is full.
    pub fn append(&self, samples: &[QueuedSample]) {
        let set = self.set.read();
        let n = set.shards.len() as u64;
        let mut newest = i64::MIN;
        for s in samples {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            s.series.hash(&mut h);
            set.shards[(h.finish() % n) as usize].push(s.clone());
            newest = newest.max(s.t);
        }
        let stats = &self.ctx.stats;
        stats
            .samples_in
            .fetch_add(samples.len() as u64, Ordering::Relaxed);
        stats.highest_recv_ms.fetch_max(newest, Ordering::Relaxed);
        let mut rates = self.ctx.rates.lock();
        rates.data_in.add(samples.len() as i64);
        rates.highest_recv = rates.highest_recv.max(newest as f64 / 1000.0);
    }

    /// The queue's counters now.
    pub fn stats(&self) -> QueueSnapshot {
        self.ctx.stats.snapshot()
    }

    /// The protocol in use (2.0 falls back to 1.0 for good when the
    /// receiver does not speak it).
    pub fn protocol(&self) -> Protocol {
        if self.ctx.protocol.load(Ordering::Relaxed) == 2 {
            Protocol::V2
        } else {
            Protocol::V1
        }
    }

    /// Changes the shard count now (what the resharding thread does):
    /// every shard sends what it holds first.
    pub fn reshard(&self, shards: usize) {
        reshard(&self.ctx, &self.set, &self.encoders, shards);
    }

    /// Sends what is queued and stops, giving up on retries after
    /// `flush_deadline` (what was not sent stays pending in the stats; an
    /// agent's WAL still holds it).
    ///
    /// Takes `&self` so a thread blocked in [`append`](Self::append) on a
    /// full shard (a receiver that is down) is released by it: appends
    /// after the stop return at once and their samples stay pending.
    pub fn stop(&self, flush_deadline: Duration) -> QueueSnapshot {
        {
            let (stopped, cv) = &*self.stop;
            *stopped.lock() = true;
            cv.notify_all();
        }
        let resharder = self.resharder.lock().take();
        if let Some(t) = resharder {
            let _ = t.join();
        }
        let ctx = self.ctx.clone();
        let watchdog = std::thread::spawn({
            let ctx = ctx.clone();
            move || {
                let until = Instant::now() + flush_deadline;
                while Instant::now() < until && !ctx.abort.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                ctx.abort.store(true, Ordering::Relaxed);
            }
        });
        // Release appends waiting on a full shard (they hold the read
        // lock the shutdown below needs) before taking the write lock.
        for s in &self.set.read().shards {
            s.stop();
        }
        stop_shards(&mut self.set.write());
        ctx.abort.store(true, Ordering::Relaxed);
        let _ = watchdog.join();
        ctx.stats.snapshot()
    }
}

fn start_shards(ctx: &Arc<Context>, encoders: &EncoderFactory, n: usize) -> ShardSet {
    let shards: Vec<Arc<Shard>> = (0..n)
        .map(|_| Arc::new(Shard::new(ctx.config.capacity)))
        .collect();
    let threads = shards
        .iter()
        .enumerate()
        .filter_map(|(i, shard)| {
            let (shard, ctx, encoder) = (shard.clone(), ctx.clone(), encoders());
            std::thread::Builder::new()
                .name(format!("aion-remote-shard-{i}"))
                .spawn(move || run(shard, ctx, encoder))
                .ok()
        })
        .collect();
    ctx.stats.shards.store(n as u64, Ordering::Relaxed);
    ShardSet { shards, threads }
}

fn stop_shards(set: &mut ShardSet) {
    for s in &set.shards {
        s.stop();
    }
    for t in set.threads.drain(..) {
        let _ = t.join();
    }
}

fn reshard(ctx: &Arc<Context>, set: &RwLock<ShardSet>, encoders: &EncoderFactory, n: usize) {
    let n = n.clamp(ctx.config.min_shards.max(1), ctx.config.max_shards.max(1));
    // Appends wait on the write lock while the old shards flush.
    let mut set = set.write();
    if set.shards.len() == n {
        return;
    }
    stop_shards(&mut set);
    *set = start_shards(ctx, encoders, n);
}

fn reshard_loop(
    ctx: &Arc<Context>,
    set: &RwLock<ShardSet>,
    stop: &(Mutex<bool>, Condvar),
    encoders: &EncoderFactory,
) {
    let (stopped, cv) = stop;
    loop {
        {
            let mut s = stopped.lock();
            if !*s {
                cv.wait_for(&mut s, SHARD_UPDATE_INTERVAL);
            }
            if *s {
                return;
            }
        }
        let current = set.read().shards.len();
        let desired = {
            let mut rates = ctx.rates.lock();
            rates.data_in.tick();
            rates.desired_shards(current, ctx.config.min_shards, ctx.config.max_shards)
        };
        ctx.stats
            .desired_shards
            .store(desired as u64, Ordering::Relaxed);
        // No resharding while nothing gets through: more shards would only
        // hammer a receiver that is down.
        let recent = now_ms() - ctx.last_success_ms.load(Ordering::Relaxed)
            <= SHARD_UPDATE_INTERVAL.as_millis() as i64;
        if desired != current && recent {
            reshard(ctx, set, encoders, desired);
        }
    }
}
