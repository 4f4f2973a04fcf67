//! The forwarding side: a WAL watcher feeds the queue, the queue posts to
//! the receiver, and what the receiver accepted is remembered (and saved)
//! so a restart resends only the rest.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aion::agent::AgentDb;
use aion::remote::queue::{
    AcceptHook, Encoder, ProtoEncoder, QueueConfig, QueueManager, QueueSnapshot, QueuedSample,
};
use aion::wal::record::RefSample;
use aion::wal::{SeriesCache, StartFrom, WatchSink, Watcher, WatcherOptions};

use crate::progress::{self, Accepted};
use crate::stop::Stop;
use crate::transport::HttpTransport;

/// Hands the watcher's samples to the queue, skipping those at or before
/// what the receiver had accepted (by the progress file, at start). A
/// series leaves the map with its first newer sample: the WAL holds each
/// series' samples in time order, so nothing after it was accepted.
struct ResumeSink<'a> {
    queue: &'a QueueManager,
    resume: Accepted,
    buf: Vec<QueuedSample>,
    skipped: u64,
}

impl WatchSink for ResumeSink<'_> {
    fn samples(&mut self, samples: &[RefSample], series: &SeriesCache) {
        self.buf.clear();
        for s in samples {
            let Some(labels) = series.get(s.r#ref) else {
                continue;
            };
            if !self.resume.is_empty() {
                if let Some(&(hash, t)) = self.resume.get(&s.r#ref) {
                    // The same series (a reference reused for other labels
                    // after truncation has another hash).
                    if s.t <= t && hash == labels.stable_hash() {
                        self.skipped += 1;
                        continue;
                    }
                    self.resume.remove(&s.r#ref);
                }
            }
            self.buf.push(QueuedSample {
                series: s.r#ref,
                labels: labels.clone(),
                t: s.t,
                v: s.v,
            });
        }
        if !self.buf.is_empty() {
            self.queue.append(&self.buf);
        }
    }
}

/// The watcher thread, the queue and the accepted-progress.
pub struct Forwarder {
    dir: PathBuf,
    queue: Arc<QueueManager>,
    accepted: Arc<Mutex<Accepted>>,
    saved_generation: u64,
    generation: Arc<Mutex<u64>>,
    watcher_stop: Arc<Stop>,
    watcher: Option<JoinHandle<()>>,
}

impl Forwarder {
    /// Starts forwarding `db`'s WAL (from its checkpoint: every sample it
    /// still holds that was not accepted before) to `url`.
    pub fn start(db: Arc<AgentDb>, config: QueueConfig, url: &str) -> Result<Forwarder, String> {
        let dir = db.dir().to_path_buf();
        let resume = progress::load(&dir)?;
        let accepted = Arc::new(Mutex::new(resume.clone()));
        let generation = Arc::new(Mutex::new(0u64));
        let hook: AcceptHook = {
            let (accepted, generation) = (accepted.clone(), generation.clone());
            Arc::new(move |batch: &[QueuedSample]| {
                let mut a = accepted.lock().unwrap_or_else(PoisonError::into_inner);
                for s in batch {
                    let e = a
                        .entry(s.series)
                        .or_insert_with(|| (s.labels.stable_hash(), i64::MIN));
                    e.1 = e.1.max(s.t);
                }
                *generation.lock().unwrap_or_else(PoisonError::into_inner) += 1;
            })
        };
        let queue = Arc::new(QueueManager::with_accept_hook(
            config,
            Arc::new(HttpTransport::new(url)),
            Arc::new(|| Box::new(ProtoEncoder::default()) as Box<dyn Encoder>),
            Some(hook),
        ));
        let watcher_stop = Arc::new(Stop::default());
        let watcher = {
            let (queue, stop, accepted) = (queue.clone(), watcher_stop.clone(), accepted.clone());
            std::thread::Builder::new()
                .name("agent-watcher".into())
                .spawn(move || watch(&db, &queue, resume, &accepted, &stop))
                .map_err(|e| format!("starting the WAL watcher: {e}"))?
        };
        Ok(Forwarder {
            dir,
            queue,
            accepted,
            saved_generation: 0,
            generation,
            watcher_stop,
            watcher: Some(watcher),
        })
    }

    /// The queue's counters.
    pub fn stats(&self) -> QueueSnapshot {
        self.queue.stats()
    }

    /// Saves the accepted-progress if it changed since the last save.
    pub fn save_progress(&mut self) {
        let generation = *self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if generation == self.saved_generation {
            return;
        }
        let snapshot = self
            .accepted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match progress::save(&self.dir, &snapshot) {
            Ok(()) => self.saved_generation = generation,
            Err(e) => eprintln!("agent: saving {}: {e}", progress::path(&self.dir).display()),
        }
    }

    /// Forgets series whose newest accepted sample is older than `mint`:
    /// the WAL holds nothing of theirs at or before it any more.
    pub fn prune(&self, mint: i64) {
        self.accepted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, (_, t)| *t >= mint);
    }

    /// Lets the watcher read to the end of the WAL, then flushes the
    /// queue, giving up after `flush_deadline`; saves the progress.
    pub fn stop(mut self, flush_deadline: Duration) -> QueueSnapshot {
        let until = Instant::now() + flush_deadline;
        self.watcher_stop.stop();
        let watcher = self.watcher.take();
        // The watcher may be blocked on a full queue (receiver down):
        // give it half the deadline, then stop the queue under it.
        while watcher.as_ref().is_some_and(|w| !w.is_finished())
            && Instant::now() < until - flush_deadline / 2
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let stats = self
            .queue
            .stop(until.saturating_duration_since(Instant::now()));
        if let Some(w) = watcher {
            let _ = w.join();
        }
        self.save_progress();
        stats
    }
}

/// The watcher thread: poll, wait for a commit (or the poll interval),
/// until stopped; then one last poll. A damaged WAL restarts the watcher
/// from the newest checkpoint, resuming after what was accepted by then
/// (what was queued but not yet accepted is sent again).
fn watch(
    db: &AgentDb,
    queue: &QueueManager,
    resume: Accepted,
    accepted: &Mutex<Accepted>,
    stop: &Stop,
) {
    let options = WatcherOptions {
        start: StartFrom::Checkpoint,
        poll_interval: Duration::from_millis(250),
    };
    let new_watcher = || {
        let w = Watcher::new(db.wal_dir(), options.clone());
        db.subscribe(w.notifier());
        w
    };
    let mut watcher = new_watcher();
    let mut sink = ResumeSink {
        queue,
        resume,
        buf: Vec::new(),
        skipped: 0,
    };
    let mut lost = 0;
    loop {
        let stopping = stop.is_stopped();
        if let Err(e) = watcher.poll(&mut sink) {
            eprintln!("agent: reading the WAL: {e}; restarting from its checkpoint");
            watcher = new_watcher();
            sink.resume = accepted
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if stop.wait_until(Instant::now() + Duration::from_secs(1)) && stopping {
                break;
            }
            continue;
        }
        let now_lost = watcher.stats().segments_lost;
        if now_lost > lost {
            eprintln!(
                "agent: {} WAL segment(s) were truncated before they were read",
                now_lost - lost
            );
            lost = now_lost;
        }
        if stopping {
            break;
        }
        watcher.wait();
    }
    if sink.skipped > 0 {
        eprintln!(
            "agent: {} samples in the WAL were already accepted before; not resent",
            sink.skipped
        );
    }
}
