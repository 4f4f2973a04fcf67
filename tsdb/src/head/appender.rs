//! Appending: a batch of samples checked as they come, logged to the WAL
//! and made visible at once on commit.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use aion_index::SeriesRef;
use aion_model::Labels;
use aion_wal::record::{self, RefSample, RefSeries};

use super::isolation::record_commit;
use super::ooo::{appendable, Bounds, OooState, Placement, WblBatch};
use super::series::{MemSeries, MixHasher};
use super::Head;
use crate::{Error, Result};

/// Reusable buffers of an appender, pooled by the head so that short-lived
/// appenders allocate nothing in steady state.
#[derive(Default)]
pub(crate) struct Buffers {
    samples: Vec<RefSample>,
    /// For each sample, its series' index in `known`.
    slots: Vec<u32>,
    /// Series this appender has used (kept across its batches, so a
    /// reused appender finds its series without the shared maps).
    known: Vec<Arc<MemSeries>>,
    known_by_ref: HashMap<SeriesRef, u32, BuildHasherDefault<MixHasher>>,
    /// The head's truncation count when `known` was started.
    known_generation: u64,
    unlogged: Vec<Arc<MemSeries>>,
    samples_record: Vec<u8>,
    series_record: Vec<u8>,
    /// The commit's out-of-order samples and mmap markers for the WBL.
    wbl: WblBatch,
}

impl Buffers {
    fn forget_series(&mut self) {
        self.known.clear();
        self.known_by_ref.clear();
    }
}

/// Most buffers the head keeps for reuse.
const POOLED_BUFFERS: usize = 64;
/// An appender forgets the series it used once it knows more than this
/// many (at the end of a batch).
const MAX_KNOWN_SERIES: usize = 1 << 16;

/// A batch of samples for the head, from [`Db::appender`](crate::Db::appender).
///
/// Samples are checked when appended, against what is committed, as
/// Prometheus's `appendable` does: one older than its series' newest
/// sample is refused with [`Error::OutOfOrderSample`], one older than the
/// head accepts with [`Error::OutOfBounds`], one with the newest sample's
/// timestamp and a different value with
/// [`Error::DuplicateSampleForTimestamp`]; an identical duplicate is
/// accepted and ignored. With an out-of-order window
/// ([`Options::out_of_order_time_window_ms`](crate::Options)) an older
/// sample no further back than the window from the head's newest sample
/// is accepted into the series' out-of-order chunk (and logged to the WBL
/// at commit), and one further back is refused with
/// [`Error::TooOldSample`]. A refused sample does not spoil the batch. [`commit`](Appender::commit) writes the batch to the
/// WAL and then makes it visible to queries all at once; after
/// `commit` or [`rollback`](Appender::rollback) the appender takes a new
/// batch. Dropping it rolls back.
///
/// An appender remembers the series it used, so appends by reference in
/// later batches skip the head's shared maps: reuse one appender per
/// stream of batches (a scrape target, a rule group) for the best speed.
/// The series it remembers cannot be removed by head truncation while it
/// holds them; it lets go of them when a truncation happened before its
/// next batch, and when dropped.
///
/// As in Prometheus, the checks at append time see only committed data:
/// a sample that an earlier sample of the same batch, or a batch committed
/// meanwhile, has made out of order is dropped at commit (counted in
/// [`HeadStats::samples_dropped_at_commit`](crate::HeadStats)).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// use aion_tsdb::{Db, Options, Error};
/// use aion_model::Labels;
/// let db = Db::open(dir.path(), Options::default()).unwrap();
/// let up = Labels::from_pairs(&[("__name__", "up"), ("job", "api")]).unwrap();
/// let mut app = db.appender();
/// let r = app.append(&up, 1_000, 1.0).unwrap();
/// app.append_ref(r, 2_000, 1.0).unwrap();
/// app.commit().unwrap();
/// // Older than the newest committed sample:
/// assert!(matches!(app.append_ref(r, 1_500, 1.0), Err(Error::OutOfOrderSample)));
/// db.close().unwrap();
/// ```
pub struct Appender {
    head: Arc<Head>,
    buf: Buffers,
    /// Oldest timestamp accepted in this batch, fixed at its first append.
    min_valid: Option<i64>,
    /// The head's newest sample time when the batch started: the
    /// out-of-order window is counted back from it.
    head_max_time: i64,
}

impl std::fmt::Debug for Appender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appender")
            .field("pending", &self.buf.samples.len())
            .finish_non_exhaustive()
    }
}

impl Appender {
    pub(crate) fn new(head: Arc<Head>) -> Appender {
        let buf = head.buffers.lock().pop().unwrap_or_default();
        Appender {
            head,
            buf,
            min_valid: None,
            head_max_time: i64::MIN,
        }
    }

    /// Number of samples waiting for commit.
    pub fn len(&self) -> usize {
        self.buf.samples.len()
    }

    /// Whether no sample waits for commit.
    pub fn is_empty(&self) -> bool {
        self.buf.samples.is_empty()
    }

    /// Appends a sample of the series `labels` (created if new) and
    /// returns the series' reference for [`Appender::append_ref`].
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef> {
        self.check_writable()?;
        let min_valid = self.min_valid(t);
        // With out-of-order ingestion on, an old sample may still go into
        // the out-of-order chunk: decided with the series at hand.
        if t < min_valid && self.head.ooo_window == 0 {
            self.head
                .counters
                .out_of_bounds_refused
                .fetch_add(1, Ordering::Relaxed);
            return Err(Error::OutOfBounds);
        }
        let (series, _) = self.head.get_or_create(labels)?;
        let slot = match self.buf.known_by_ref.get(&series.series_ref) {
            Some(&slot) => slot,
            None => self.remember(series),
        };
        self.push(slot, t, v, min_valid)
    }

    /// Adds `series` to the appender's known series; returns its slot.
    fn remember(&mut self, series: Arc<MemSeries>) -> u32 {
        let slot = self.buf.known.len() as u32;
        self.buf.known_by_ref.insert(series.series_ref, slot);
        self.buf.known.push(series);
        slot
    }

    /// Appends a sample of the series `r` returned by an earlier append.
    ///
    /// Fails with [`Error::UnknownSeriesRef`] if the head no longer holds
    /// the series (it was removed by head truncation after going quiet):
    /// append by labels then.
    pub fn append_ref(&mut self, r: SeriesRef, t: i64, v: f64) -> Result<SeriesRef> {
        self.check_writable()?;
        let min_valid = self.min_valid(t);
        // With out-of-order ingestion on, an old sample may still go into
        // the out-of-order chunk: decided with the series at hand.
        if t < min_valid && self.head.ooo_window == 0 {
            self.head
                .counters
                .out_of_bounds_refused
                .fetch_add(1, Ordering::Relaxed);
            return Err(Error::OutOfBounds);
        }
        // Batches usually repeat the previous batch's order (a scrape
        // lists a target's series the same way each time): try the slot
        // after the last one used before hashing.
        let next = self.buf.slots.last().map_or(0, |&s| s as usize + 1);
        let slot = match self.buf.known.get(next) {
            Some(s) if s.series_ref == r => next as u32,
            _ => match self.buf.known_by_ref.get(&r) {
                Some(&slot) => slot,
                None => {
                    let series = self
                        .head
                        .series
                        .get_by_ref(r)
                        .ok_or(Error::UnknownSeriesRef(r))?;
                    self.remember(series)
                }
            },
        };
        self.push(slot, t, v, min_valid)
    }

    fn check_writable(&self) -> Result<()> {
        if self.head.is_read_only() {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }

    /// The batch's lower time bound, fixed when the batch starts; a
    /// first sample of an empty head sets the head's time range.
    #[inline]
    fn min_valid(&mut self, t: i64) -> i64 {
        if let Some(m) = self.min_valid {
            return m;
        }
        // A truncation may want to remove series this appender holds on
        // to: let go of them.
        let generation = self.head.truncations.load(Ordering::Acquire);
        if self.buf.known_generation != generation {
            self.buf.forget_series();
            self.buf.known_generation = generation;
        }
        if self.head.max_time() == i64::MIN {
            self.head.init_time(t);
        }
        // Computed and registered in one step, so a block persistence that
        // raises the minimum valid time and then waits for open batches
        // either sees this batch or this batch sees the new minimum.
        let mut open = self.head.open_batches.lock();
        let m = self.head.appendable_min_valid_time().unwrap_or(i64::MIN);
        *open.entry(m).or_insert(0) += 1;
        drop(open);
        self.min_valid = Some(m);
        self.head_max_time = self.head.max_time();
        m
    }

    fn bounds(&self, min_valid: i64) -> Bounds {
        Bounds {
            min_valid,
            head_max_time: self.head_max_time,
            window: self.head.ooo_window,
        }
    }

    #[inline]
    fn push(&mut self, slot: u32, t: i64, v: f64, min_valid: i64) -> Result<SeriesRef> {
        let bounds = self.bounds(min_valid);
        let series = &self.buf.known[slot as usize];
        let (last_t, last_v) = series.last_sample();
        let last = (last_t != i64::MIN).then_some((last_t, last_v));
        if let Err(e) = appendable(t, v, last, &bounds) {
            let c = &self.head.counters;
            let counter = match e {
                Error::DuplicateSampleForTimestamp { .. } => &c.duplicates_refused,
                Error::TooOldSample => &c.too_old_refused,
                Error::OutOfBounds => &c.out_of_bounds_refused,
                _ => &c.out_of_order_refused,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        let r = series.series_ref;
        if !series.is_logged() {
            let s = series.clone();
            self.buf.unlogged.push(s);
        }
        self.buf.samples.push(RefSample { r#ref: r, t, v });
        self.buf.slots.push(slot);
        Ok(r)
    }

    /// Writes the batch to the WAL, then makes it visible to queries all at
    /// once. The appender is then ready for a new batch.
    ///
    /// On error nothing of the batch is visible (if the WAL write failed)
    /// or, after an I/O error writing a full chunk to `chunks_head/`, part
    /// of it is; the batch is in the WAL either way and a reopen restores
    /// it whole.
    pub fn commit(&mut self) -> Result<()> {
        let result = self.commit_batch();
        self.reset();
        result
    }

    fn commit_batch(&mut self) -> Result<()> {
        if self.buf.samples.is_empty() {
            return Ok(());
        }
        self.log()?;
        self.apply()
    }

    /// Encodes the batch and writes it to the WAL, with the series records
    /// of series no earlier commit logged.
    fn log(&mut self) -> Result<()> {
        let b = &mut self.buf;
        b.samples_record.clear();
        record::encode_samples(&b.samples, &mut b.samples_record);
        let mut wal = self.head.wal.lock();
        let Some(wal) = wal.as_mut() else {
            return Err(if self.head.is_read_only() {
                Error::ReadOnly
            } else {
                Error::Closed
            });
        };
        b.series_record.clear();
        if !b.unlogged.is_empty() {
            // Checked under the WAL lock, so a series gets exactly one
            // record however many appenders use it before it is logged.
            b.unlogged.sort_unstable_by_key(|s| s.series_ref);
            b.unlogged.dedup_by_key(|s| s.series_ref);
            b.unlogged.retain(|s| !s.is_logged());
            if !b.unlogged.is_empty() {
                let refs: Vec<RefSeries> = b
                    .unlogged
                    .iter()
                    .map(|s| RefSeries {
                        r#ref: s.series_ref,
                        labels: self.head.labels_of(s),
                    })
                    .collect();
                record::encode_series(&refs, &mut b.series_record);
            }
        }
        if b.series_record.is_empty() {
            wal.log(&[&b.samples_record])?;
        } else {
            wal.log(&[&b.series_record, &b.samples_record])?;
            for s in &b.unlogged {
                s.set_logged();
            }
        }
        Ok(())
    }

    /// Appends the batch to the series, invisible to queries until done,
    /// then logs the samples that went out of order to the WBL.
    fn apply(&mut self) -> Result<()> {
        let head = &*self.head;
        let bounds = self.bounds(self.min_valid.unwrap_or(i64::MIN));
        let guard = head.iso.begin_apply();
        let (epoch, low_watermark) = (guard.epoch, guard.low_watermark);
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        let (mut ooo_mint, mut ooo_maxt) = (i64::MAX, i64::MIN);
        let (mut appended, mut dropped, mut ooo) = (0u64, 0u64, 0u64);
        let mut result = Ok(());
        let known = &self.buf.known;
        let wbl = &mut self.buf.wbl;
        wbl.clear();
        for (s, &slot) in self.buf.samples.iter().zip(&self.buf.slots) {
            let series = &known[slot as usize];
            let mut st = series.state.lock();
            record_commit(&mut st, epoch, low_watermark);
            // Decided again: earlier samples of this batch and commits
            // since the append may have moved the series on.
            let max = st.max_time();
            let last = (max != i64::MIN).then(|| (max, series.last_sample().1));
            let placement = match appendable(s.t, s.v, last, &bounds) {
                Ok(p) => p,
                Err(_) => {
                    dropped += 1;
                    continue;
                }
            };
            match placement {
                Placement::InOrder => {
                    match st.append(series.series_ref, s.t, s.v, &head.policy, &head.chunks) {
                        Ok(true) => {
                            series.publish(s.t, s.v);
                            appended += 1;
                            mint = mint.min(s.t);
                            maxt = maxt.max(s.t);
                        }
                        Ok(false) => dropped += 1,
                        Err(e) => {
                            result = Err(e);
                            break;
                        }
                    }
                }
                Placement::IdenticalDuplicate => dropped += 1,
                Placement::OutOfOrder => {
                    let state = st.ooo.get_or_insert_with(Box::<OooState>::default);
                    match state.insert(
                        series.series_ref,
                        s.t,
                        s.v,
                        epoch,
                        low_watermark,
                        head.ooo_cap,
                        &head.chunks,
                    ) {
                        Ok(ins) => {
                            if let Some(r) = ins.cut {
                                wbl.on_cut(series.series_ref, r);
                            }
                            if ins.stored {
                                wbl.on_sample(*s);
                                ooo += 1;
                                ooo_mint = ooo_mint.min(s.t);
                                ooo_maxt = ooo_maxt.max(s.t);
                            } else {
                                dropped += 1;
                            }
                        }
                        Err(e) => {
                            result = Err(e);
                            break;
                        }
                    }
                }
            }
        }
        drop(guard);
        head.update_min_max(mint, maxt);
        head.update_ooo_min_max(ooo_mint, ooo_maxt);
        let c = &head.counters;
        c.samples_appended
            .fetch_add(appended + ooo, Ordering::Relaxed);
        c.commits.fetch_add(1, Ordering::Relaxed);
        if dropped > 0 {
            c.samples_dropped_at_commit
                .fetch_add(dropped, Ordering::Relaxed);
        }
        if ooo > 0 {
            c.out_of_order_appended.fetch_add(ooo, Ordering::Relaxed);
        }
        let records = wbl.finish();
        if !records.is_empty() {
            let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
            if let Some(log) = head.wbl.lock().as_mut() {
                // The samples are in the WAL and visible already; a failed
                // WBL write loses them only on a crash before they are
                // compacted (Prometheus logs such a failure and goes on;
                // here the commit reports it).
                let logged = log.log(&refs).map_err(Error::from);
                result = result.and(logged);
            }
        }
        result
    }

    /// Discards the batch. The appender is then ready for a new batch.
    pub fn rollback(&mut self) -> Result<()> {
        self.reset();
        Ok(())
    }

    fn reset(&mut self) {
        let b = &mut self.buf;
        b.samples.clear();
        b.slots.clear();
        b.unlogged.clear();
        if b.known.len() > MAX_KNOWN_SERIES {
            b.forget_series();
        }
        if let Some(m) = self.min_valid.take() {
            let mut open = self.head.open_batches.lock();
            if let Some(n) = open.get_mut(&m) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&m);
                }
            }
        }
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        self.reset();
        // Pooled buffers must not keep series alive.
        self.buf.forget_series();
        let buf = std::mem::take(&mut self.buf);
        let mut pool = self.head.buffers.lock();
        if pool.len() < POOLED_BUFFERS {
            pool.push(buf);
        }
    }
}

/// The head's appender through the storage traits: a known reference
/// takes the fast path, an unknown or stale one falls back to the labels.
impl aion_storage::Appender for Appender {
    fn append(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        t: i64,
        v: f64,
    ) -> aion_storage::Result<SeriesRef> {
        if series != 0 {
            match Appender::append_ref(self, series, t, v) {
                Err(Error::UnknownSeriesRef(_)) => {}
                r => return Ok(r?),
            }
        }
        Ok(Appender::append(self, labels, t, v)?)
    }

    fn commit(&mut self) -> aion_storage::Result<()> {
        Ok(Appender::commit(self)?)
    }

    fn rollback(&mut self) -> aion_storage::Result<()> {
        Ok(Appender::rollback(self)?)
    }
}
