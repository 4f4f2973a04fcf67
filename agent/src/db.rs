//! The agent's storage: a WAL and the series it names, nothing more.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aion_model::SeriesRef;
use aion_wal::record::{Record, RecordDecoder};
use aion_wal::{segment_range, OpenReport, Wal, WalNotify, WalReader};
use parking_lot::Mutex;

use crate::appender::AgentAppender;
use crate::series::SeriesMap;
use crate::{AgentOptions, Error, Result};

/// What opening found in the WAL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentReplayReport {
    /// Series records read.
    pub series: u64,
    /// Samples read (float and histogram).
    pub samples: u64,
    /// Series records that named labels an earlier record already had
    /// under another reference (a writer restarted without replay): their
    /// samples are applied to the first reference.
    pub duplicate_series: u64,
    /// Samples whose series record was not in the WAL (dropped by an
    /// earlier truncation). Skipped, counted.
    pub samples_unknown_series: u64,
    /// What the WAL writer found on opening (a torn tail cut, …).
    pub wal: Option<OpenReport>,
}

/// What [`AgentDb::truncate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentTruncateReport {
    /// Series dropped for having no sample at or after the truncation time.
    pub series_removed: usize,
    /// The checkpoint written, if enough segments had accumulated.
    pub checkpoint: Option<u32>,
}

/// WAL-only storage in Prometheus's agent layout (`DIR/wal/`): an agent's
/// scrapes are appended and logged, then tailed by remote-write queues
/// (with [`aion_wal::Watcher`]) and truncated once sent. There is no
/// querying: the data is elsewhere once forwarded.
///
/// A directory a Prometheus agent (`--enable-feature=agent`) wrote opens
/// here, and one written here opens in Prometheus's agent: the records are
/// the same.
///
/// ```
/// use aion_agent::{AgentDb, AgentOptions};
/// use aion_model::Labels;
/// use aion_storage::{Appendable, Appender};
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = AgentDb::open(dir.path(), AgentOptions::default()).unwrap();
/// let up = Labels::from_pairs(&[("__name__", "up")]).unwrap();
/// let mut app = db.appender();
/// let r = app.append(0, &up, 1_000, 1.0).unwrap();
/// app.append(r, &up, 2_000, 1.0).unwrap();
/// app.commit().unwrap();
/// assert_eq!(db.num_series(), 1);
/// db.close().unwrap();
/// ```
pub struct AgentDb {
    dir: PathBuf,
    options: AgentOptions,
    pub(crate) wal: Mutex<Option<Wal>>,
    pub(crate) series: SeriesMap,
    pub(crate) next_ref: AtomicU64,
    /// Series removed by GC, with the last segment that may still hold
    /// their samples: kept in checkpoints until those segments are gone.
    deleted: Mutex<Vec<(SeriesRef, u32)>>,
    pub(crate) subscribers: Mutex<Vec<Arc<WalNotify>>>,
    replay: AgentReplayReport,
}

impl AgentDb {
    /// Opens (creating if needed) agent storage in `dir`, replaying its
    /// WAL to rebuild the series and their newest timestamps.
    pub fn open(dir: impl AsRef<Path>, options: AgentOptions) -> Result<AgentDb> {
        let dir = dir.as_ref().to_path_buf();
        let wal_dir = dir.join("wal");
        let (wal, open_report) = Wal::open(&wal_dir, options.wal)?;
        let series = SeriesMap::default();
        let mut report = AgentReplayReport {
            wal: Some(open_report),
            ..AgentReplayReport::default()
        };
        let max_ref = replay(&wal_dir, &series, &mut report)?;
        Ok(AgentDb {
            dir,
            options,
            wal: Mutex::new(Some(wal)),
            series,
            next_ref: AtomicU64::new(max_ref + 1),
            deleted: Mutex::new(Vec::new()),
            subscribers: Mutex::new(Vec::new()),
            replay: report,
        })
    }

    /// A new appender (one per batch: a scrape, a request).
    pub fn appender(&self) -> AgentAppender<'_> {
        AgentAppender::new(self)
    }

    /// The directory (its WAL is `dir/wal`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The WAL directory, for watchers.
    pub fn wal_dir(&self) -> PathBuf {
        self.dir.join("wal")
    }

    /// The options in effect.
    pub fn options(&self) -> &AgentOptions {
        &self.options
    }

    /// What opening found.
    pub fn replay_report(&self) -> &AgentReplayReport {
        &self.replay
    }

    /// Active series.
    pub fn num_series(&self) -> usize {
        self.series.len()
    }

    /// Registers a watcher's notifier: it is woken after every commit.
    pub fn subscribe(&self, notify: Arc<WalNotify>) {
        self.subscribers.lock().push(notify);
    }

    /// Drops series without samples at or after `mint` and checkpoints the
    /// older two thirds of the WAL, keeping samples at or after `mint`, as
    /// Prometheus's agent does on each truncation. Compute `mint` with
    /// [`AgentOptions::truncation_time`] from what the queues have sent.
    pub fn truncate(&self, mint: i64) -> Result<AgentTruncateReport> {
        let mut guard = self.wal.lock();
        let wal = guard
            .as_mut()
            .ok_or_else(|| Error::Wal(aion_wal::Error::InvalidRequest("closed".into())))?;
        let wal_dir = self.wal_dir();
        let removed = self.series.gc(mint);
        let last_now = segment_range(&wal_dir)?.map_or(0, |(_, last)| last);
        let mut deleted = self.deleted.lock();
        deleted.extend(removed.iter().map(|&r| (r, last_now)));
        let mut report = AgentTruncateReport {
            series_removed: removed.len(),
            checkpoint: None,
        };
        let Some((first, last)) = segment_range(&wal_dir)? else {
            return Ok(report);
        };
        // A fresh segment, so a quiet agent does not keep old data in the
        // active one; never checkpoint the newest segment.
        wal.next_segment()?;
        let Some(last) = last.checked_sub(1) else {
            return Ok(report);
        };
        // The older two thirds should hold mostly obsolete samples; with
        // fewer than two segments a checkpoint is not worth it yet.
        let to = first + last.saturating_sub(first) * 2 / 3;
        if to <= first {
            return Ok(report);
        }
        let series = &self.series;
        let keep = |r: SeriesRef| {
            series.contains(r) || deleted.iter().any(|&(d, seg)| d == r && seg >= first)
        };
        wal.checkpoint(to, keep, mint)?;
        deleted.retain(|&(_, seg)| seg >= first);
        report.checkpoint = Some(to);
        Ok(report)
    }

    /// Flushes and closes the WAL.
    pub fn close(&self) -> Result<()> {
        if let Some(wal) = self.wal.lock().take() {
            wal.close()?;
        }
        Ok(())
    }

    pub(crate) fn new_ref(&self) -> SeriesRef {
        self.next_ref.fetch_add(1, Ordering::Relaxed)
    }
}

impl Drop for AgentDb {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Rebuilds the series from the checkpoint and segments; returns the
/// highest reference seen.
fn replay(wal_dir: &Path, series: &SeriesMap, report: &mut AgentReplayReport) -> Result<u64> {
    let mut reader = WalReader::replay(wal_dir)?.tolerate_torn_tail(false);
    let mut decoder = RecordDecoder::default();
    let mut aliases: std::collections::HashMap<u64, u64> = Default::default();
    let mut max_ref = 0;
    while let Some(rec) = reader.next_record()? {
        let record = decoder.decode(rec).map_err(|source| {
            Error::Wal(aion_wal::Error::Record {
                at: reader
                    .position()
                    .unwrap_or_else(|| aion_wal::SegmentPosition {
                        dir: wal_dir.to_path_buf(),
                        segment: 0,
                        offset: 0,
                    }),
                source,
            })
        })?;
        let mut apply = |r: u64, t: i64| {
            let r = aliases.get(&r).copied().unwrap_or(r);
            report.samples += 1;
            if !series.update_ts(r, t) && !series.contains(r) {
                report.samples_unknown_series += 1;
            }
        };
        match record {
            Record::Series(recs) => {
                for s in recs {
                    report.series += 1;
                    max_ref = max_ref.max(s.r#ref);
                    match series.get_by_labels(&s.labels) {
                        Some(existing) if existing != s.r#ref => {
                            report.duplicate_series += 1;
                            aliases.insert(s.r#ref, existing);
                        }
                        Some(_) => {}
                        None => {
                            series.insert(s.r#ref, s.labels.clone());
                        }
                    }
                }
            }
            Record::Samples(samples) => samples.iter().for_each(|s| apply(s.r#ref, s.t)),
            Record::HistogramSamples(samples) => samples.iter().for_each(|s| apply(s.r#ref, s.t)),
            Record::FloatHistogramSamples(samples) => {
                samples.iter().for_each(|s| apply(s.r#ref, s.t))
            }
            _ => {}
        }
    }
    Ok(max_ref)
}
