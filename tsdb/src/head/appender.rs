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
/// Samples are checked when appended, against what is committed: one
/// older than its series' newest sample is refused with
/// [`Error::OutOfOrderSample`], one older than the head accepts with
/// [`Error::OutOfBounds`], one with the newest sample's timestamp and a
/// different value with [`Error::DuplicateSampleForTimestamp`]; an
/// identical duplicate is accepted and ignored. A refused sample does not
/// spoil the batch. [`commit`](Appender::commit) writes the batch to the
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
        if t < min_valid {
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
        if t < min_valid {
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
        m
    }

    #[inline]
    fn push(&mut self, slot: u32, t: i64, v: f64, min_valid: i64) -> Result<SeriesRef> {
        let series = &self.buf.known[slot as usize];
        let (last_t, last_v) = series.last_sample();
        if last_t != i64::MIN && t <= last_t {
            if t == last_t {
                if last_v.to_bits() != v.to_bits() {
                    self.head
                        .counters
                        .duplicates_refused
                        .fetch_add(1, Ordering::Relaxed);
                    return Err(Error::DuplicateSampleForTimestamp {
                        timestamp: t,
                        existing: last_v,
                        new_value: v,
                    });
                }
                // An identical duplicate: accepted, and dropped at commit.
            } else {
                let counter = if t < min_valid {
                    &self.head.counters.out_of_bounds_refused
                } else {
                    &self.head.counters.out_of_order_refused
                };
                counter.fetch_add(1, Ordering::Relaxed);
                return Err(if t < min_valid {
                    Error::OutOfBounds
                } else {
                    Error::OutOfOrderSample
                });
            }
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
                        labels: s.labels.clone(),
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

    /// Appends the batch to the series, invisible to queries until done.
    fn apply(&mut self) -> Result<()> {
        let head = &*self.head;
        let guard = head.iso.begin_apply();
        let (epoch, low_watermark) = (guard.epoch, guard.low_watermark);
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        let (mut appended, mut dropped) = (0u64, 0u64);
        let mut result = Ok(());
        let known = &self.buf.known;
        for (s, &slot) in self.buf.samples.iter().zip(&self.buf.slots) {
            let series = &known[slot as usize];
            let mut st = series.state.lock();
            record_commit(&mut st, epoch, low_watermark);
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
        drop(guard);
        head.update_min_max(mint, maxt);
        let c = &head.counters;
        c.samples_appended.fetch_add(appended, Ordering::Relaxed);
        c.commits.fetch_add(1, Ordering::Relaxed);
        if dropped > 0 {
            c.samples_dropped_at_commit
                .fetch_add(dropped, Ordering::Relaxed);
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
