//! Agent mode's forwarding: what a WAL watcher reads goes into a queue.

use aion_wal::record::RefSample;
use aion_wal::{SeriesCache, WatchSink};

use super::{QueueManager, QueuedSample};

/// A [`WatchSink`] that queues every float sample the watcher reads, with
/// its series' labels from the watcher's cache (Prometheus's watcher →
/// queue manager hand-off). Appends wait while the target shard is full,
/// so a slow receiver slows the WAL reading, not memory.
pub struct QueueSink<'a> {
    queue: &'a QueueManager,
    buf: Vec<QueuedSample>,
}

impl<'a> QueueSink<'a> {
    /// Forwards into `queue`.
    pub fn new(queue: &'a QueueManager) -> Self {
        QueueSink {
            queue,
            buf: Vec::new(),
        }
    }
}

impl WatchSink for QueueSink<'_> {
    fn samples(&mut self, samples: &[RefSample], series: &SeriesCache) {
        self.buf.clear();
        self.buf.extend(samples.iter().filter_map(|s| {
            series.get(s.r#ref).map(|labels| QueuedSample {
                series: s.r#ref,
                labels: labels.clone(),
                t: s.t,
                v: s.v,
            })
        }));
        self.queue.append(&self.buf);
    }
}
