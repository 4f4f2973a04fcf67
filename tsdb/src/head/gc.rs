//! Head truncation: after the oldest data was persisted elsewhere (a
//! block), drop its chunks, the series left without samples, the chunk
//! files nothing points into any more, and the WAL segments holding it.

use std::sync::atomic::Ordering;

use aion_wal::CheckpointStats;

use super::series_arc::SeriesArc;
use super::Head;
use crate::Result;

/// What [`Head::truncate`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TruncateReport {
    /// Chunks dropped (on disk and open).
    pub chunks_removed: usize,
    /// Series dropped because no sample was left.
    pub series_removed: usize,
    /// Series left empty but kept because an appender or query held them;
    /// a later truncation removes them.
    pub series_kept_in_use: usize,
    /// `chunks_head/` files deleted.
    pub chunk_files_removed: usize,
    /// The WAL checkpoint written, if one was due.
    pub checkpoint: Option<CheckpointStats>,
    /// WAL segments deleted.
    pub wal_segments_removed: usize,
}

impl Head {
    /// Drops everything older than `mint` (ms): Prometheus's head
    /// truncation, called after the range before `mint` was written to a
    /// block. Appends older than `mint` are refused from then on.
    ///
    /// Queries already running keep reading what they selected (their
    /// chunks stay mapped until they finish).
    pub fn truncate(&self, mint: i64) -> Result<TruncateReport> {
        let mut report = self.truncate_memory(mint)?;
        let (checkpoint, removed) = self.truncate_wal(mint)?;
        report.checkpoint = checkpoint;
        report.wal_segments_removed = removed;
        Ok(report)
    }

    /// The in-memory part of [`Head::truncate`]: chunks, series, chunk
    /// files.
    pub fn truncate_memory(&self, mint: i64) -> Result<TruncateReport> {
        let mut report = TruncateReport::default();
        self.set_min_valid_time(mint);
        self.begin_truncation();
        let mut empty: Vec<SeriesArc> = Vec::new();
        let mut min_file = u32::MAX;
        let (mut actual_min, mut actual_max) = (i64::MAX, i64::MIN);
        self.series.for_each(|s| {
            let mut st = s.lock();
            let before = st.num_chunks();
            st.mmapped.retain(|c| c.max_time >= mint);
            if st.open.as_ref().is_some_and(|c| c.max_time() < mint) {
                st.open = None;
            }
            report.chunks_removed += before - st.num_chunks();
            if let Some(c) = st.mmapped.first() {
                min_file = min_file.min(c.chunk_ref.file());
            }
            // Out-of-order chunks stay until out-of-order compaction has
            // written them to blocks; their files stay with them.
            if let Some(o) = st.ooo() {
                if let Some(f) = o.mmapped.iter().map(|c| c.chunk_ref.file()).min() {
                    min_file = min_file.min(f);
                }
                if st.mmapped.is_empty() && st.open.is_none() {
                    s.republish(&st, &self.chunks);
                }
            }
            if st.num_chunks() == 0 {
                s.republish(&st, &self.chunks);
                drop(st);
                empty.push(s.clone());
            } else {
                actual_min = actual_min.min(st.min_time());
                actual_max = actual_max.max(st.max_time());
            }
        });
        for s in empty {
            if self.remove_series(s) {
                report.series_removed += 1;
            } else {
                report.series_kept_in_use += 1;
            }
        }
        report.chunk_files_removed = self.chunks.truncate_before(min_file)?;
        if actual_min == i64::MAX {
            self.min_time
                .store(mint.max(self.min_time()), Ordering::Release);
        } else {
            self.min_time.store(actual_min.max(mint), Ordering::Release);
        }
        Ok(report)
    }

    /// Counts a truncation and empties the pool of known series, so that
    /// dropped appenders hold no series it may remove. Appenders still
    /// open let go of theirs at their next batch.
    pub(crate) fn begin_truncation(&self) {
        self.truncations.fetch_add(1, Ordering::AcqRel);
        let pooled = self.known_pool.lock().take_all();
        drop(pooled);
    }

    /// Removes `s` if it has no samples and nobody holds it.
    pub(crate) fn remove_series_if_empty(&self, s: SeriesArc) -> bool {
        self.remove_series(s)
    }

    /// Removes `s` from the maps and postings if it has no samples and
    /// nobody holds it.
    fn remove_series(&self, s: SeriesArc) -> bool {
        let removed = self.series.remove_if_unused(&s, |st| st.num_chunks() == 0);
        if removed {
            self.postings.delete(s.series_ref, &self.labels_of(&s));
            // Nobody holds the series any more (see `remove_if_unused`),
            // so its label references can go.
            self.symbols.release(&s.labels);
            self.tombstones.write().remove(&s.series_ref);
            self.num_series.fetch_sub(1, Ordering::AcqRel);
            self.counters.series_removed.fetch_add(1, Ordering::Relaxed);
        }
        removed
    }

    /// Removes every series without samples (after replay: series whose
    /// samples were all persisted or deleted).
    pub(crate) fn remove_empty_series(&self) -> usize {
        let mut empty = Vec::new();
        self.series.for_each(|s| {
            if s.lock().num_chunks() == 0 {
                empty.push(s.clone());
            }
        });
        empty
            .into_iter()
            .map(|s| self.remove_series(s))
            .filter(|&removed| removed)
            .count()
    }

    /// The WAL part of [`Head::truncate`], as Prometheus does it: start a
    /// new segment, then fold the older two thirds of the segments (never
    /// the newest) into a checkpoint keeping the series still in the head
    /// and samples from `mint` on, and delete what it replaces. Returns the
    /// checkpoint's statistics (if one was due) and the segments deleted.
    pub fn truncate_wal(&self, mint: i64) -> Result<(Option<CheckpointStats>, usize)> {
        let (dir, compression, first, to) = {
            let mut wal = self.wal.lock();
            let Some(wal) = wal.as_mut() else {
                return Ok((None, 0));
            };
            let dir = wal.dir().to_path_buf();
            let Some((first, last)) = aion_wal::segment_range(&dir)? else {
                return Ok((None, 0));
            };
            wal.next_segment()?;
            if last == 0 {
                return Ok((None, 0));
            }
            let last = last - 1;
            let to = first + (last.saturating_sub(first)) * 2 / 3;
            if to <= first {
                return Ok((None, 0));
            }
            (dir, wal.options().compression, first, to)
        };
        let from = match aion_wal::last_checkpoint(&dir)? {
            Some((c, _)) => first.max(c + 1).min(to),
            None => first,
        };
        // Built without the WAL lock: it reads only sealed segments, so
        // commits go on meanwhile.
        let stats = aion_wal::create_checkpoint(
            &dir,
            from..=to,
            |r| self.series.get_by_ref(r).is_some(),
            mint,
            compression,
        )?;
        let removed = {
            let mut wal = self.wal.lock();
            match wal.as_mut() {
                Some(wal) => wal.truncate(to + 1)?.len(),
                None => 0,
            }
        };
        aion_wal::delete_checkpoints_before(&dir, to)?;
        Ok((Some(stats), removed))
    }
}
