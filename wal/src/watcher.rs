//! Following a live WAL as Prometheus's remote-write watcher does: the
//! newest checkpoint first, then every segment in order, the active one as
//! it grows, across rotation and truncation by the writer.
//!
//! The watcher keeps the series cache (reference → labels) that samples
//! need to be forwarded: series records are read from every segment and
//! checkpoint, whatever the start point; when the writer writes a new
//! checkpoint, series that are not in it (the head dropped them) are
//! forgotten, exactly when Prometheus's watcher forgets them.
//!
//! Nothing here blocks except [`Watcher::wait`]: a host calls
//! [`Watcher::poll`] from its own loop (or thread), handing decoded samples
//! to a [`WatchSink`], and waits for the writer's [`WalNotify::notify`]
//! (which the writing side calls after a commit) or, as a fallback for a
//! writer in another process (a Prometheus server), the poll interval.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use aion_model::Labels;

use crate::checkpoint_dirs::last_checkpoint;
use crate::error::{Error, Result, SegmentPosition};
use crate::live_reader::LiveReader;
use crate::reader::WalReader;
use crate::record::{
    Record, RecordDecoder, RefFloatHistogramSample, RefHistogramSample, RefSample, RefSeries,
};
use crate::segment::list_segments;

/// Where a watcher starts forwarding samples. Series are read from the
/// start of what the WAL holds either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    /// Every sample the WAL still holds, checkpoint included: an agent
    /// resuming after a restart.
    Checkpoint,
    /// Only samples with a timestamp `>=` this (ms): Prometheus's "from
    /// now" for a newly configured remote-write queue.
    Time(i64),
}

/// How a [`Watcher`] reads.
#[derive(Debug, Clone)]
pub struct WatcherOptions {
    /// Where forwarding starts.
    pub start: StartFrom,
    /// How long [`Watcher::wait`] sleeps when nobody notifies it: the
    /// latency for a writer that cannot notify (another process).
    pub poll_interval: Duration,
}

impl Default for WatcherOptions {
    fn default() -> Self {
        WatcherOptions {
            start: StartFrom::Checkpoint,
            poll_interval: Duration::from_millis(250),
        }
    }
}

/// The series the watcher has seen, by reference, with the segment (or
/// checkpoint index) that last announced each.
#[derive(Debug, Default)]
pub struct SeriesCache {
    series: HashMap<u64, (Labels, u32)>,
}

impl SeriesCache {
    /// The labels of series `r`, if known.
    pub fn get(&self, r: u64) -> Option<&Labels> {
        self.series.get(&r).map(|(l, _)| l)
    }

    /// Number of series cached.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether no series is cached.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    fn store(&mut self, series: &[RefSeries], segment: u32) {
        for s in series {
            self.series.insert(s.r#ref, (s.labels.clone(), segment));
        }
    }

    /// Marks the series a new checkpoint holds as seen at `index`, then
    /// forgets every series last seen before it.
    fn reset_to_checkpoint(&mut self, kept: &[u64], index: u32) -> usize {
        for r in kept {
            if let Some(e) = self.series.get_mut(r) {
                e.1 = e.1.max(index);
            }
        }
        let before = self.series.len();
        self.series.retain(|_, (_, seg)| *seg >= index);
        before - self.series.len()
    }
}

/// Where decoded samples go, with the series cache to resolve their
/// references. Samples of unknown series are counted
/// ([`WatcherStats::samples_unknown_series`]) and not passed on.
pub trait WatchSink {
    /// Float samples, in WAL order.
    fn samples(&mut self, samples: &[RefSample], series: &SeriesCache);

    /// Integer native histogram samples; ignored by default.
    fn histograms(&mut self, samples: &[RefHistogramSample], series: &SeriesCache) {
        let _ = (samples, series);
    }

    /// Float native histogram samples; ignored by default.
    fn float_histograms(&mut self, samples: &[RefFloatHistogramSample], series: &SeriesCache) {
        let _ = (samples, series);
    }
}

/// What a watcher has done, for the host to export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatcherStats {
    /// Records read (checkpoints included).
    pub records: u64,
    /// Float and histogram samples handed to the sink.
    pub samples_forwarded: u64,
    /// Samples skipped for being older than [`StartFrom::Time`].
    pub samples_before_start: u64,
    /// Samples whose series record was never seen (a damaged or foreign
    /// WAL); not forwarded.
    pub samples_unknown_series: u64,
    /// Records of types the watcher does not forward (tombstones,
    /// exemplars, metadata, markers, unknown types).
    pub records_ignored: u64,
    /// Checkpoints read (at start, and each time the writer made one).
    pub checkpoints_read: u64,
    /// Series forgotten because a new checkpoint no longer held them.
    pub series_dropped: u64,
    /// Segments the writer deleted before the watcher had read them: their
    /// samples were not forwarded (the watcher resumed after the checkpoint
    /// that replaced them). Never silent: a host should report it.
    pub segments_lost: u64,
    /// The segment being read.
    pub segment: u32,
}

/// Wakes a [`Watcher`] waiting in [`Watcher::wait`]. Cheap to clone and
/// call from the writing thread after each commit.
#[derive(Debug, Default)]
pub struct WalNotify {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl WalNotify {
    /// Tells the watcher new records may be there.
    pub fn notify(&self) {
        *self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
        self.changed.notify_all();
    }
}

/// Tails the WAL in a directory; see the module documentation.
///
/// ```
/// use aion_model::Labels;
/// use aion_wal::record::{self, RefSample, RefSeries};
/// use aion_wal::{SeriesCache, StartFrom, Wal, WalOptions, WatchSink, Watcher, WatcherOptions};
///
/// struct Count(usize);
/// impl WatchSink for Count {
///     fn samples(&mut self, s: &[RefSample], _: &SeriesCache) { self.0 += s.len(); }
/// }
///
/// let dir = tempfile::tempdir().unwrap();
/// let (mut wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
/// let mut watcher = Watcher::new(dir.path(), WatcherOptions { start: StartFrom::Checkpoint, ..Default::default() });
/// let (mut a, mut b) = (Vec::new(), Vec::new());
/// let labels = Labels::from_pairs(&[("__name__", "up")]).unwrap();
/// record::encode_series(&[RefSeries { r#ref: 1, labels }], &mut a);
/// record::encode_samples(&[RefSample { r#ref: 1, t: 1_000, v: 1.0 }], &mut b);
/// wal.log(&[&a, &b]).unwrap();
/// let mut sink = Count(0);
/// watcher.poll(&mut sink).unwrap();
/// assert_eq!((sink.0, watcher.series().len()), (1, 1));
/// ```
pub struct Watcher {
    dir: PathBuf,
    options: WatcherOptions,
    reader: Option<LiveReader>,
    decoder: RecordDecoder,
    cache: SeriesCache,
    checkpoint: Option<u32>,
    notify: Arc<WalNotify>,
    seen_generation: u64,
    stats: WatcherStats,
    floats: Vec<RefSample>,
    histograms: Vec<RefHistogramSample>,
    float_histograms: Vec<RefFloatHistogramSample>,
}

impl Watcher {
    /// A watcher of the WAL in `dir`; nothing is read before the first
    /// [`poll`](Watcher::poll).
    pub fn new(dir: impl AsRef<Path>, options: WatcherOptions) -> Watcher {
        Watcher {
            dir: dir.as_ref().to_path_buf(),
            options,
            reader: None,
            decoder: RecordDecoder::default(),
            cache: SeriesCache::default(),
            checkpoint: None,
            notify: Arc::default(),
            seen_generation: 0,
            stats: WatcherStats::default(),
            floats: Vec::new(),
            histograms: Vec::new(),
            float_histograms: Vec::new(),
        }
    }

    /// The handle the writing side calls after each commit.
    pub fn notifier(&self) -> Arc<WalNotify> {
        self.notify.clone()
    }

    /// The series cache.
    pub fn series(&self) -> &SeriesCache {
        &self.cache
    }

    /// What the watcher has done so far.
    pub fn stats(&self) -> &WatcherStats {
        &self.stats
    }

    /// Reads every record available now and hands its samples to `sink`;
    /// returns the number of records read. Errors (a damaged segment) are
    /// final for this watcher: start a new one, which resumes from the
    /// newest checkpoint.
    pub fn poll(&mut self, sink: &mut dyn WatchSink) -> Result<u64> {
        let before = self.stats.records;
        if self.reader.is_none() {
            let first = self.read_newest_checkpoint(sink, true)?;
            self.reader = Some(LiveReader::new(&self.dir, first));
        } else {
            self.collect_garbage()?;
        }
        loop {
            let reader = self.reader.as_mut().expect("opened above");
            let segment = reader.segment();
            let rec = match reader.next_record() {
                Ok(Some(rec)) => rec,
                Ok(None) => {
                    // The writer may have checkpointed away the segments
                    // after this one while it was being read: the reader
                    // would wait for a successor that never comes.
                    let first = list_segments(&self.dir)?.first().map(|s| s.index);
                    if first.is_some_and(|f| f > segment + 1) {
                        self.skip_lost_segments(segment + 1, sink)?;
                        continue;
                    }
                    break;
                }
                Err(Error::SegmentGap { missing, .. }) => {
                    self.skip_lost_segments(missing, sink)?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            self.stats.segment = segment;
            let record = match self.decoder.decode(rec) {
                Ok(record) => record,
                Err(source) => {
                    let at = reader.position();
                    return Err(Error::Record {
                        at: at.unwrap_or_else(|| position(&self.dir, segment)),
                        source,
                    });
                }
            };
            Self::dispatch(
                record,
                segment,
                self.options.start,
                &mut self.cache,
                &mut self.stats,
                (
                    &mut self.floats,
                    &mut self.histograms,
                    &mut self.float_histograms,
                ),
                sink,
            );
        }
        Ok(self.stats.records - before)
    }

    /// Blocks until [`WalNotify::notify`] is called or the poll interval
    /// passes, whichever is first.
    pub fn wait(&mut self) {
        let guard = self
            .notify
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = self
            .notify
            .changed
            .wait_timeout_while(guard, self.options.poll_interval, |g| {
                *g == self.seen_generation
            })
            .unwrap_or_else(PoisonError::into_inner);
        self.seen_generation = *guard;
    }

    /// Reads the newest checkpoint, if there is one newer than the last
    /// read: series always, samples when `forward` (and the start point
    /// lets them). Returns the first log segment after it.
    fn read_newest_checkpoint(&mut self, sink: &mut dyn WatchSink, forward: bool) -> Result<u32> {
        let Some((index, cp_dir)) = last_checkpoint(&self.dir)? else {
            // No checkpoint: the log starts at its lowest segment.
            return Ok(list_segments(&self.dir)?.first().map_or(0, |s| s.index));
        };
        if self.checkpoint.is_some_and(|c| c >= index) {
            return Ok(index + 1);
        }
        let mut reader = WalReader::open(&cp_dir, ..)?;
        let mut kept = Vec::new();
        while let Some(rec) = reader.next_record()? {
            let record = match self.decoder.decode(rec) {
                Ok(record) => record,
                Err(source) => {
                    let at = reader.position();
                    return Err(Error::Record {
                        at: at.unwrap_or_else(|| position(&cp_dir, 0)),
                        source,
                    });
                }
            };
            if let Record::Series(series) = record {
                kept.extend(series.iter().map(|s| s.r#ref));
            }
            if forward {
                Self::dispatch(
                    record,
                    index,
                    self.options.start,
                    &mut self.cache,
                    &mut self.stats,
                    (
                        &mut self.floats,
                        &mut self.histograms,
                        &mut self.float_histograms,
                    ),
                    sink,
                );
            } else {
                // Only the series: the samples were forwarded from the
                // segments the checkpoint replaced.
                self.stats.records += 1;
                if let Record::Series(series) = record {
                    self.cache.store(series, index);
                }
            }
        }
        self.stats.series_dropped += self.cache.reset_to_checkpoint(&kept, index) as u64;
        self.stats.checkpoints_read += 1;
        self.checkpoint = Some(index);
        Ok(index + 1)
    }

    /// Forgets series a new checkpoint dropped.
    fn collect_garbage(&mut self) -> Result<()> {
        match last_checkpoint(&self.dir)? {
            Some((index, _)) if self.checkpoint.is_none_or(|c| index > c) => {
                struct Nothing;
                impl WatchSink for Nothing {
                    fn samples(&mut self, _: &[RefSample], _: &SeriesCache) {}
                }
                self.read_newest_checkpoint(&mut Nothing, false)?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The writer deleted segment `missing` (and maybe more) before it was
    /// read: resume after the checkpoint that replaced them, counting what
    /// was lost.
    fn skip_lost_segments(&mut self, missing: u32, sink: &mut dyn WatchSink) -> Result<()> {
        let resume = match last_checkpoint(&self.dir)? {
            Some((index, _)) if index >= missing => {
                self.read_newest_checkpoint(sink, false)?;
                index + 1
            }
            // No checkpoint covers the gap: the log itself has a hole.
            _ => {
                return Err(Error::SegmentGap {
                    dir: self.dir.clone(),
                    missing,
                })
            }
        };
        self.stats.segments_lost += u64::from(resume - missing);
        self.reader = Some(LiveReader::new(&self.dir, resume));
        Ok(())
    }

    /// Updates the cache from a series record, or filters a sample record
    /// by the start point and known series and hands it to the sink.
    #[allow(clippy::type_complexity)]
    fn dispatch(
        record: Record<'_>,
        segment: u32,
        start: StartFrom,
        cache: &mut SeriesCache,
        stats: &mut WatcherStats,
        bufs: (
            &mut Vec<RefSample>,
            &mut Vec<RefHistogramSample>,
            &mut Vec<RefFloatHistogramSample>,
        ),
        sink: &mut dyn WatchSink,
    ) {
        stats.records += 1;
        let min_t = match start {
            StartFrom::Checkpoint => i64::MIN,
            StartFrom::Time(t) => t,
        };
        match record {
            Record::Series(series) => cache.store(series, segment),
            Record::Samples(samples) => {
                if filter(samples, |s| (s.r#ref, s.t), min_t, cache, stats, bufs.0) {
                    sink.samples(bufs.0, cache);
                }
            }
            Record::HistogramSamples(samples) => {
                if filter(samples, |s| (s.r#ref, s.t), min_t, cache, stats, bufs.1) {
                    sink.histograms(bufs.1, cache);
                }
            }
            Record::FloatHistogramSamples(samples) => {
                if filter(samples, |s| (s.r#ref, s.t), min_t, cache, stats, bufs.2) {
                    sink.float_histograms(bufs.2, cache);
                }
            }
            _ => stats.records_ignored += 1,
        }
    }
}

/// The start of segment `segment` of `dir`, for errors without a record
/// position.
fn position(dir: &Path, segment: u32) -> SegmentPosition {
    SegmentPosition {
        dir: dir.to_path_buf(),
        segment,
        offset: 0,
    }
}

/// Copies into `out` the samples at or after `min_t` whose series is known,
/// counting the rest; `true` if any is left to forward.
fn filter<T: Clone>(
    samples: &[T],
    key: impl Fn(&T) -> (u64, i64),
    min_t: i64,
    cache: &SeriesCache,
    stats: &mut WatcherStats,
    out: &mut Vec<T>,
) -> bool {
    out.clear();
    for s in samples {
        let (r, t) = key(s);
        if t < min_t {
            stats.samples_before_start += 1;
        } else if cache.get(r).is_none() {
            stats.samples_unknown_series += 1;
        } else {
            out.push(s.clone());
        }
    }
    stats.samples_forwarded += out.len() as u64;
    !out.is_empty()
}

#[cfg(test)]
mod tests;
