//! Appending: a batch of samples checked as they come, logged to the WAL
//! and made visible at once on commit.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use aion_chunkenc::is_stale_nan;
use aion_index::SeriesRef;
use aion_model::histogram::{FloatHistogram, Histogram};
use aion_model::Labels;
use aion_wal::record::RefSample;

use super::batch::{HistogramBatch, HistogramValue};
use super::commit::{Applied, Apply};
use super::known_series::KnownSeries;
use super::ooo::{appendable, appendable_at, Bounds, Placement, WblBatch};
use super::open_chunk::SampleKind;
use super::series_arc::SeriesArc;
use super::Head;
use crate::{Error, Result};

mod commit_log;

/// Reusable buffers of an appender, pooled by the head so that short-lived
/// appenders allocate nothing in steady state.
#[derive(Default)]
pub(crate) struct Buffers {
    samples: Vec<RefSample>,
    /// For each sample, its series' index in `known`.
    slots: Vec<u32>,
    /// Series this appender has used (kept across its batches, so a
    /// reused appender finds its series without the shared maps; left in
    /// the head's pool when it is dropped, for the stream's next one).
    known: KnownSeries,
    /// Whether this appender has looked for its stream's series in the
    /// head's pool (once, when its first series is not known).
    pool_searched: bool,
    unlogged: Vec<SeriesArc>,
    /// Series this appender created since its last commit, with their
    /// labels, in creation (so reference) order: indexed in one go at the
    /// commit and their series records written from these labels.
    created: Vec<(SeriesArc, Labels)>,
    samples_record: Vec<u8>,
    series_record: Vec<u8>,
    /// The commit's out-of-order samples and mmap markers for the WBL.
    wbl: WblBatch,
    /// The batch's native histograms and its type-clean segments.
    hists: HistogramBatch,
}

impl Buffers {
    fn forget_series(&mut self) {
        self.known.clear();
        self.pool_searched = false;
    }
}

/// Room for created series an appender's buffers keep after a commit.
const CREATED_KEPT: usize = 1024;

/// Most buffers the head keeps for reuse.
const POOLED_BUFFERS: usize = 64;
/// An appender forgets the series it used once it knows more than this
/// many (at the end of a batch).
const MAX_KNOWN_SERIES: usize = 1 << 16;

/// A batch of samples for the head, from [`Db::appender`](crate::Db::appender).
///
/// Floats ([`Appender::append`]) and native histograms
/// ([`Appender::append_histogram`], [`Appender::append_float_histogram`])
/// may be mixed in a batch, also in one series: a series switching between
/// floats and histograms starts a chunk of the new kind, and a float stale
/// marker for a series whose newest sample is a histogram is stored as a
/// histogram stale marker (a histogram whose sum is the stale NaN), as in
/// Prometheus. A histogram is validated first ([`Error::InvalidHistogram`]
/// names what is wrong).
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
/// next batch. When dropped, it leaves them in a small pool of the head,
/// and a new appender whose first append by reference names one of them
/// takes them over: a host that opens an appender per scrape, as
/// Prometheus's scrape loop does, gets most of that speed too (with up
/// to 64 streams of up to 8,192 series; truncation empties the pool).
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

    /// Number of samples (floats and histograms) waiting for commit.
    pub fn len(&self) -> usize {
        self.buf.samples.len() + self.buf.hists.len()
    }

    /// Whether no sample waits for commit.
    pub fn is_empty(&self) -> bool {
        self.buf.samples.is_empty() && self.buf.hists.is_empty()
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
        let slot = self.slot_for_labels(labels)?;
        self.push(slot, t, v, min_valid)
    }

    /// Appends an integer native histogram of the series `labels` (created
    /// if new) and returns the series' reference for
    /// [`Appender::append_histogram_ref`]. The histogram is validated
    /// first, and then checked like a float: a different sample at the
    /// timestamp of the series' newest is
    /// [`Error::DuplicateHistogramSample`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use aion_model::histogram::{Histogram, Span};
    /// use aion_model::Labels;
    /// use aion_tsdb::{Db, Error, Options};
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let l = Labels::from_pairs(&[("__name__", "latency_seconds")]).unwrap();
    /// let h = Histogram {
    ///     count: 3,
    ///     sum: 0.75,
    ///     positive_spans: vec![Span { offset: 0, length: 2 }],
    ///     positive_buckets: vec![1, 1],
    ///     ..Histogram::default()
    /// };
    /// let mut app = db.appender();
    /// let r = app.append_histogram(&l, 1_000, &h).unwrap();
    /// let bad = Histogram { count: 4, ..h.clone() };
    /// assert!(matches!(app.append_histogram_ref(r, 2_000, &bad), Err(Error::InvalidHistogram(_))));
    /// app.commit().unwrap();
    /// db.close().unwrap();
    /// ```
    pub fn append_histogram(
        &mut self,
        labels: &Labels,
        t: i64,
        h: &Histogram,
    ) -> Result<SeriesRef> {
        self.append_histogram_value(None, labels, t, HistogramValue::Int(h))
    }

    /// Appends an integer histogram of the series `r` returned by an
    /// earlier append; see [`Appender::append_ref`].
    pub fn append_histogram_ref(
        &mut self,
        r: SeriesRef,
        t: i64,
        h: &Histogram,
    ) -> Result<SeriesRef> {
        self.append_histogram_value(Some(r), &Labels::default(), t, HistogramValue::Int(h))
    }

    /// Appends a float native histogram; as [`Appender::append_histogram`].
    pub fn append_float_histogram(
        &mut self,
        labels: &Labels,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<SeriesRef> {
        self.append_histogram_value(None, labels, t, HistogramValue::Float(h))
    }

    /// Appends a float histogram of the series `r`; see
    /// [`Appender::append_ref`].
    pub fn append_float_histogram_ref(
        &mut self,
        r: SeriesRef,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<SeriesRef> {
        self.append_histogram_value(Some(r), &Labels::default(), t, HistogramValue::Float(h))
    }

    fn append_histogram_value(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        t: i64,
        h: HistogramValue<'_>,
    ) -> Result<SeriesRef> {
        self.check_writable()?;
        h.validate()?;
        let min_valid = self.min_valid(t);
        if t < min_valid && self.head.ooo_window == 0 {
            self.head
                .counters
                .out_of_bounds_refused
                .fetch_add(1, Ordering::Relaxed);
            return Err(Error::OutOfBounds);
        }
        let slot = match r {
            Some(r) => self
                .slot_for_ref(r)
                .ok_or_else(|| Error::UnknownSeriesRef(r))?,
            None => self.slot_for_labels(labels)?,
        };
        self.push_histogram(slot, t, h, min_valid)
    }

    /// The appender's slot of the series `labels`, created if new.
    fn slot_for_labels(&mut self, labels: &Labels) -> Result<u32> {
        let (series, created) = self.head.get_or_create(labels)?;
        if created {
            self.buf.created.push((series.clone(), labels.clone()));
        }
        Ok(match self.buf.known.slot_of(series.series_ref) {
            Some(slot) => slot,
            None => match self.adopt_pooled(series.series_ref) {
                Some(slot) => slot,
                None => self.remember(series),
            },
        })
    }

    /// The appender's slot of the series `r`; `None` if the head does not
    /// hold it. (An `Option`, not the crate's large `Result`: this is on
    /// every append by reference.)
    #[inline(always)]
    fn slot_for_ref(&mut self, r: SeriesRef) -> Option<u32> {
        // Batches usually repeat the previous batch's order (a scrape
        // lists a target's series the same way each time): try the slot
        // after the last one used before hashing.
        let next = self.buf.slots.last().map_or(0, |&s| s as usize + 1);
        Some(match self.buf.known.series.get(next) {
            Some(s) if s.series_ref == r => next as u32,
            _ => match self.buf.known.slot_of(r) {
                Some(slot) => slot,
                None => return self.slot_for_unknown_ref(r),
            },
        })
    }

    /// [`Appender::slot_for_ref`] for a series the appender does not know
    /// yet: from the pool, else from the head's map.
    #[inline(never)]
    fn slot_for_unknown_ref(&mut self, r: SeriesRef) -> Option<u32> {
        if let Some(slot) = self.adopt_pooled(r) {
            return Some(slot);
        }
        let series = self.head.series.get_by_ref(r)?;
        Some(self.remember(series))
    }

    /// Once per appender, while it knows no series: takes over the set of
    /// a dropped appender that held series `r` (the same stream, most
    /// likely), and returns `r`'s slot in it.
    fn adopt_pooled(&mut self, r: SeriesRef) -> Option<u32> {
        if self.buf.pool_searched || !self.buf.known.is_empty() {
            return None;
        }
        self.buf.pool_searched = true;
        let set = self
            .head
            .known_pool
            .lock()
            .take_holding(r, self.buf.known.generation)?;
        // The empty set's capacity goes with it: the adopted one has its own.
        self.buf.known = set;
        self.buf.known.slot_of(r)
    }

    /// Adds `series` to the appender's known series; returns its slot.
    fn remember(&mut self, series: SeriesArc) -> u32 {
        self.buf.known.remember(series)
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
        // `ok_or_else`: an eager `Error` would be built and dropped (a
        // call, as `Error` has a destructor) on every append.
        let slot = self
            .slot_for_ref(r)
            .ok_or_else(|| Error::UnknownSeriesRef(r))?;
        self.push(slot, t, v, min_valid)
    }

    fn check_writable(&self) -> Result<()> {
        if self.head.is_read_only() {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }

    /// The batch's lower time bound, fixed when the batch starts; a
    /// first sample of an empty head sets the head's time range. Only the
    /// known-bound check is inline: LLVM kept the whole function out of
    /// line, a call on every append.
    #[inline(always)]
    fn min_valid(&mut self, t: i64) -> i64 {
        match self.min_valid {
            Some(m) => m,
            None => self.start_batch(t),
        }
    }

    /// [`Appender::min_valid`] for the first sample of a batch.
    #[cold]
    #[inline(never)]
    fn start_batch(&mut self, t: i64) -> i64 {
        // A truncation may want to remove series this appender holds on
        // to: let go of them.
        let generation = self.head.truncations.load(Ordering::Acquire);
        if self.buf.known.generation != generation {
            self.buf.forget_series();
            self.buf.known.generation = generation;
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

    /// Counts a refused sample by why.
    fn count_refusal(&self, e: &Error) {
        let c = &self.head.counters;
        let counter = match e {
            Error::DuplicateSampleForTimestamp { .. }
            | Error::DuplicateHistogramSample { .. }
            | Error::DuplicateHistogramToFloat { .. } => &c.duplicates_refused,
            Error::TooOldSample => &c.too_old_refused,
            Error::OutOfBounds => &c.out_of_bounds_refused,
            _ => &c.out_of_order_refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    #[inline]
    fn push(&mut self, slot: u32, t: i64, v: f64, min_valid: i64) -> Result<SeriesRef> {
        if is_stale_nan(v) {
            // A stale marker ends a histogram series as a histogram.
            if let Some(kind) = self.histogram_kind_of(slot) {
                return self.push_histogram(slot, t, HistogramValue::stale(kind), min_valid);
            }
        }
        let bounds = self.bounds(min_valid);
        let series = &self.buf.known.series[slot as usize];
        let (last_t, last_v) = series.last_sample();
        let last = (last_t != i64::MIN).then_some((last_t, last_v));
        match appendable(t, v, last, &bounds) {
            Err(e) => {
                let e = match e {
                    Error::DuplicateSampleForTimestamp { .. }
                        if series.last_kind() != SampleKind::Float =>
                    {
                        Error::DuplicateHistogramToFloat {
                            timestamp: t,
                            new_value: v,
                        }
                    }
                    e => e,
                };
                self.count_refusal(&e);
                return Err(e);
            }
            Ok(Placement::IdenticalDuplicate) if series.last_kind() != SampleKind::Float => {
                let e = Error::DuplicateHistogramToFloat {
                    timestamp: t,
                    new_value: v,
                };
                self.count_refusal(&e);
                return Err(e);
            }
            Ok(_) => {}
        }
        let r = series.series_ref;
        if !series.is_logged() {
            let s = series.clone();
            self.buf.unlogged.push(s);
        }
        let after_histogram = series.last_kind() != SampleKind::Float;
        self.buf
            .hists
            .before_float(slot, self.buf.samples.len(), after_histogram);
        self.buf.samples.push(RefSample { r#ref: r, t, v });
        self.buf.slots.push(slot);
        Ok(r)
    }

    /// The histogram kind of the newest sample of the series in `slot`:
    /// in this batch, else committed; `None` for floats.
    fn histogram_kind_of(&self, slot: u32) -> Option<SampleKind> {
        if let Some(k) = self.buf.hists.kind_of(slot) {
            return k;
        }
        match self.buf.known.series[slot as usize].last_kind() {
            SampleKind::Float => None,
            k => Some(k),
        }
    }

    fn push_histogram(
        &mut self,
        slot: u32,
        t: i64,
        h: HistogramValue<'_>,
        min_valid: i64,
    ) -> Result<SeriesRef> {
        let bounds = self.bounds(min_valid);
        let series = &self.buf.known.series[slot as usize];
        let (last_t, _) = series.last_sample();
        let last = (last_t != i64::MIN).then_some(last_t);
        let store = &self.head.chunks;
        let placement = appendable_at(t, last, &bounds, || {
            // Prometheus, too, takes the series' lock to compare.
            let mut st = series.lock();
            if h.same_as(&mut st, store) {
                Ok(())
            } else {
                Err(Error::DuplicateHistogramSample { timestamp: t })
            }
        });
        if let Err(e) = placement {
            self.count_refusal(&e);
            return Err(e);
        }
        let r = series.series_ref;
        if !series.is_logged() {
            let s = series.clone();
            self.buf.unlogged.push(s);
        }
        let floats = self.buf.samples.len();
        match h {
            HistogramValue::Int(h) => self.buf.hists.push_int(r, t, h, slot, floats),
            HistogramValue::Float(h) => self.buf.hists.push_float(r, t, h, slot, floats),
        }
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
        self.index_new_series();
        if self.is_empty() {
            return Ok(());
        }
        self.log()?;
        self.apply()
    }

    /// Appends the batch to the series, invisible to queries until done,
    /// then logs the samples that went out of order to the WBL.
    fn apply(&mut self) -> Result<()> {
        let bounds = self.bounds(self.min_valid.unwrap_or(i64::MIN));
        let head = &*self.head;
        let b = &mut self.buf;
        let guard = head.iso.begin_apply();
        let apply = Apply {
            head,
            bounds,
            epoch: guard.epoch,
            low_watermark: guard.low_watermark,
            known: &b.known.series,
        };
        let mut acc = Applied::default();
        b.wbl.clear();
        if b.hists.is_empty() {
            apply.floats(&b.samples, &b.slots, &mut b.wbl, &mut acc);
        } else {
            let h = &b.hists;
            let wbl = &mut b.wbl;
            for [f, hi, hc, fi, fc] in h.segments(b.samples.len()) {
                apply.floats(&b.samples[f.clone()], &b.slots[f], wbl, &mut acc);
                apply.histograms(h.int.get(hi.clone()), &h.int.slots[hi], wbl, &mut acc);
                let (custom, slots) = (h.custom_int.get(hc.clone()), &h.custom_int.slots[hc]);
                apply.histograms(custom, slots, wbl, &mut acc);
                apply.histograms(h.float.get(fi.clone()), &h.float.slots[fi], wbl, &mut acc);
                let (custom, slots) = (h.custom_float.get(fc.clone()), &h.custom_float.slots[fc]);
                apply.histograms(custom, slots, wbl, &mut acc);
                if acc.result.is_err() {
                    break;
                }
            }
        }
        drop(guard);
        head.update_min_max(acc.mint, acc.maxt);
        head.update_ooo_min_max(acc.ooo_mint, acc.ooo_maxt);
        let c = &head.counters;
        c.samples_appended
            .fetch_add(acc.appended + acc.ooo, Ordering::Relaxed);
        c.commits.fetch_add(1, Ordering::Relaxed);
        if acc.dropped > 0 {
            c.samples_dropped_at_commit
                .fetch_add(acc.dropped, Ordering::Relaxed);
        }
        if acc.ooo > 0 {
            c.out_of_order_appended
                .fetch_add(acc.ooo, Ordering::Relaxed);
        }
        let mut result = acc.result;
        let records = b.wbl.finish();
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
        if !self.buf.created.is_empty() {
            // A commit indexed them already. After a rollback, or a drop
            // without a commit, the series stay (as in Prometheus, until
            // a truncation finds them empty) and are indexed here.
            self.index_new_series();
            self.buf.created.clear();
            // Creation comes in bursts (a new target's first scrape); the
            // pooled buffers do not keep a burst's room.
            self.buf.created.shrink_to(CREATED_KEPT);
        }
        let b = &mut self.buf;
        b.samples.clear();
        b.slots.clear();
        b.hists.clear();
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
        // The series go to the pool of known series (which truncation
        // empties), not with the buffers: pooled buffers must not keep
        // series alive.
        let known = std::mem::take(&mut self.buf.known);
        let mut pool = self.head.known_pool.lock();
        // Read under the pool's lock: a truncation counts itself and then
        // empties the pool under it, so a set of before it is either
        // emptied with the pool or seen as stale here.
        let generation = self.head.truncations.load(Ordering::Acquire);
        let dropped = pool.put(known, generation);
        drop(pool);
        drop(dropped);
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

    fn append_histogram(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        t: i64,
        h: &Histogram,
    ) -> aion_storage::Result<SeriesRef> {
        if series != 0 {
            match Appender::append_histogram_ref(self, series, t, h) {
                Err(Error::UnknownSeriesRef(_)) => {}
                r => return Ok(r?),
            }
        }
        Ok(Appender::append_histogram(self, labels, t, h)?)
    }

    fn append_float_histogram(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        t: i64,
        fh: &FloatHistogram,
    ) -> aion_storage::Result<SeriesRef> {
        if series != 0 {
            match Appender::append_float_histogram_ref(self, series, t, fh) {
                Err(Error::UnknownSeriesRef(_)) => {}
                r => return Ok(r?),
            }
        }
        Ok(Appender::append_float_histogram(self, labels, t, fh)?)
    }

    fn commit(&mut self) -> aion_storage::Result<()> {
        Ok(Appender::commit(self)?)
    }

    fn rollback(&mut self) -> aion_storage::Result<()> {
        Ok(Appender::rollback(self)?)
    }
}
