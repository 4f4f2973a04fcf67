//! Reading one series' samples step by step: the lookback of instant
//! vector selectors and the sliding windows of range selectors.
//!
//! Both cursors only move forward, keep no sample they will not need again
//! (a window keeps exactly the samples inside it) and skip ahead with
//! `seek` when the next step is far away, so a query over a long range at
//! a coarse step does not decode every sample. Samples come from a
//! [`Staged`] reader, floats in batches.

use aion_chunkenc::{is_stale_nan, SampleIterator};
use aion_model::histogram::FloatHistogram;

use super::budget::SampleBudget;
use super::error::Result;
use super::memory::{hist_bytes, what};
use super::staging::{Run, StageBuffers, Staged};
use crate::value::{FPoint, HPoint};

/// The newest sample a lookback cursor has passed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Last {
    /// A float sample and its start timestamp (0 when unknown or not
    /// asked for).
    Float(FPoint, i64),
    /// A histogram sample's timestamp and start timestamp (its value is
    /// in the cursor's slot).
    Histogram(i64, i64),
}

/// What an instant vector selector sees at one time.
pub(crate) enum Visible<'a> {
    Float(FPoint),
    Histogram(i64, &'a FloatHistogram),
}

/// The value an instant vector selector sees at a time: the newest sample
/// at or before it, unless that is older than the lookback delta or a
/// stale marker.
pub(crate) struct LookbackCursor<'a> {
    src: Staged<'a>,
    /// Newest sample at or before the last reference time.
    last: Option<Last>,
    /// Value of `last` when it is a histogram.
    last_h: FloatHistogram,
    started: bool,
}

impl<'a> LookbackCursor<'a> {
    pub(crate) fn new(it: Box<dyn SampleIterator + 'a>) -> Self {
        Self::reading(it, StageBuffers::default())
    }

    /// A cursor reading into `bufs` (kept from an earlier series).
    pub(crate) fn reading(it: Box<dyn SampleIterator + 'a>, bufs: StageBuffers) -> Self {
        LookbackCursor {
            src: Staged::new(it, bufs),
            last: None,
            last_h: FloatHistogram::default(),
            started: false,
        }
    }

    /// Decides histogram reset hints while reading (for selectors read
    /// for statistics, see `stats_decoding.rs`).
    pub(crate) fn with_stats(mut self, stats: bool) -> Self {
        self.src = self.src.with_stats(stats);
        self
    }

    /// Whether consecutive reference times are at most a lookback delta
    /// apart, so every sample is needed and reading ahead pays.
    pub(crate) fn dense(mut self, dense: bool) -> Self {
        self.src = self.src.dense(dense);
        self
    }

    /// A cursor that also reads start timestamps (see
    /// [`start_timestamp`](Self::start_timestamp)).
    pub(crate) fn with_start_timestamps(it: Box<dyn SampleIterator + 'a>) -> Self {
        let mut c = Self::new(it);
        c.src = c.src.with_start_timestamps(true);
        c
    }

    /// Hands the read buffers back for the next series.
    pub(crate) fn into_buffers(self) -> StageBuffers {
        self.src.into_buffers()
    }

    /// The start timestamp of the sample the last [`at`](Self::at)
    /// returned (0: unknown).
    pub(crate) fn start_timestamp(&self) -> i64 {
        match self.last {
            Some(Last::Float(_, st)) | Some(Last::Histogram(_, st)) => st,
            None => 0,
        }
    }

    /// The float sample visible at `at` (reference times must not
    /// decrease between calls), as `(sample timestamp, value)`; a visible
    /// histogram sample gives its timestamp and a NaN value.
    pub(crate) fn at(&mut self, at: i64, lookback: i64) -> Result<Option<FPoint>> {
        Ok(self.at_value(at, lookback)?.map(|v| match v {
            Visible::Float(p) => p,
            Visible::Histogram(t, _) => FPoint { t, f: f64::NAN },
        }))
    }

    /// The sample (float or histogram) visible at `at`.
    pub(crate) fn at_value(&mut self, at: i64, lookback: i64) -> Result<Option<Visible<'_>>> {
        let oldest_visible = at.wrapping_sub(lookback).wrapping_add(1);
        // Everything before the lookback window is irrelevant now and for
        // every later step; so is `last` if something newer was skipped.
        if self.src.skip_to(oldest_visible) || !self.started {
            self.started = true;
            self.last = None;
        }
        loop {
            match self.src.next_run(at) {
                Run::Floats(_, end) => {
                    let st = if self.src.reads_start_timestamps() {
                        self.src.sts[end - 1]
                    } else {
                        0
                    };
                    let p = FPoint {
                        t: self.src.ts[end - 1],
                        f: self.src.vs[end - 1],
                    };
                    self.last = Some(Last::Float(p, st));
                }
                Run::Histogram(t, st) => {
                    self.last = Some(Last::Histogram(t, st));
                    std::mem::swap(&mut self.last_h, &mut self.src.hist);
                }
                Run::Done => break,
            }
        }
        if let Some(e) = self.src.take_error() {
            return Err(e);
        }
        match self.last {
            Some(Last::Float(p, _)) if p.t >= oldest_visible && !is_stale_nan(p.f) => {
                Ok(Some(Visible::Float(p)))
            }
            Some(Last::Histogram(t, _))
                if t >= oldest_visible && !is_stale_nan(self.last_h.sum) =>
            {
                Ok(Some(Visible::Histogram(t, &self.last_h)))
            }
            _ => Ok(None),
        }
    }
}

/// The buffers a window cursor hands back for the next series.
#[derive(Debug, Default)]
pub(crate) struct WindowBuffers {
    pub points: Vec<FPoint>,
    pub sts: Vec<i64>,
    pub stage: StageBuffers,
}

/// The samples of one series inside a left-open window `(mint, maxt]` that
/// slides forward. Stale markers are dropped.
///
/// The window is `buf[head..tail]`; samples read ahead of it wait in
/// `buf[tail..]` (floats) and `hbuf[htail..]` (histograms), so sliding by
/// a step moves two indices over a few samples and calls nothing.
pub(crate) struct WindowCursor<'a, 'b> {
    src: Staged<'a>,
    buf: Vec<FPoint>,
    /// Start timestamps parallel to `buf`, when tracked.
    sts: Option<Vec<i64>>,
    head: usize,
    tail: usize,
    /// Histogram samples, the window's from `hhead` to `htail`.
    hbuf: Vec<HPoint>,
    /// Start timestamps parallel to `hbuf`, when tracked.
    hsts: Vec<i64>,
    hhead: usize,
    htail: usize,
    /// Everything in storage up to this time has been read into the
    /// buffers (`i64::MIN`: nothing yet).
    read_to: i64,
    /// The series has no samples left to read.
    exhausted: bool,
    budget: &'b SampleBudget,
    /// Adjacent pairs of the window whose value decreases (counter resets
    /// for `rate`), kept up to date as samples enter and leave, so counter
    /// functions skip their reset scan on the usual reset-free window.
    decreases: usize,
    /// Whether `decreases` is kept (only `rate` and `increase` ask): on
    /// gauges a decrease is a coin toss, and the branch counting it
    /// mispredicted for about every other sample entering or leaving the
    /// window of functions that never look at it.
    track_decreases: bool,
    /// Samples taken from the budget: the largest window so far. Counting
    /// the high-water mark instead of every push and drop keeps atomics
    /// out of the per-sample path.
    reserved: usize,
    /// Bytes taken from the byte budget: the buffers' largest allocation
    /// so far (they never shrink while the cursor lives).
    reserved_bytes: usize,
    /// Heap bytes of the boxed histograms in `hbuf`.
    hist_heap: usize,
}

impl<'a, 'b> WindowCursor<'a, 'b> {
    pub(crate) fn new(
        it: Box<dyn SampleIterator + 'a>,
        budget: &'b SampleBudget,
        bufs: WindowBuffers,
    ) -> Self {
        let mut buf = bufs.points;
        buf.clear();
        WindowCursor {
            src: Staged::new(it, bufs.stage),
            buf,
            sts: None,
            head: 0,
            tail: 0,
            hbuf: Vec::new(),
            hsts: Vec::new(),
            hhead: 0,
            htail: 0,
            read_to: i64::MIN,
            exhausted: false,
            budget,
            decreases: 0,
            track_decreases: true,
            reserved: 0,
            reserved_bytes: 0,
            hist_heap: 0,
        }
    }

    /// Decides histogram reset hints while reading (see
    /// `stats_decoding.rs`).
    pub(crate) fn with_stats(mut self, stats: bool) -> Self {
        self.src = self.src.with_stats(stats);
        self
    }

    /// Whether consecutive windows overlap or touch, so every sample is
    /// needed and reading ahead pays.
    pub(crate) fn dense(mut self, dense: bool) -> Self {
        self.src = self.src.dense(dense);
        self
    }

    /// Whether to keep count of the window's decreases for
    /// [`non_decreasing`](Self::non_decreasing) (on by default; without
    /// it, `non_decreasing` is always false).
    pub(crate) fn track_decreases(mut self, track: bool) -> Self {
        self.track_decreases = track;
        self
    }

    /// Also keeps the start timestamps of the window's samples (see
    /// [`start_timestamps`](Self::start_timestamps)), in `sts`.
    pub(crate) fn track_start_timestamps(mut self, mut sts: Vec<i64>) -> Self {
        sts.clear();
        self.sts = Some(sts);
        self.src = self.src.with_start_timestamps(true);
        self
    }

    /// The current window (as the last [`window`](Self::window) call
    /// returned it).
    pub(crate) fn current(&self) -> &[FPoint] {
        &self.buf[self.head..self.tail]
    }

    /// The histogram samples of the current window.
    pub(crate) fn current_hists(&self) -> &[HPoint] {
        &self.hbuf[self.hhead..self.htail]
    }

    /// Their start timestamps (empty unless tracked).
    pub(crate) fn current_hist_sts(&self) -> &[i64] {
        if self.sts.is_some() {
            &self.hsts[self.hhead..self.htail]
        } else {
            &[]
        }
    }

    /// No sample of the current window is lower than the one before it
    /// (with `<`, so NaN never counts as a decrease, exactly as in the
    /// reset scan of `rate` this lets callers skip).
    pub(crate) fn non_decreasing(&self) -> bool {
        self.track_decreases && self.decreases == 0
    }

    /// The start timestamps of the current window's samples (empty unless
    /// tracked).
    pub(crate) fn start_timestamps(&self) -> &[i64] {
        match &self.sts {
            Some(sts) => &sts[self.head..self.tail],
            None => &[],
        }
    }

    /// For a window of which only the newest samples count
    /// (`last_over_time`): skips storage ahead to the newest chunk that
    /// starts inside `(mint, maxt]`, when nothing is buffered and storage
    /// can tell. True if it skipped; the next [`window`](Self::window)
    /// then holds only the window's tail, and if that is empty the series
    /// must be read again from the start (the tail held only stale
    /// markers).
    pub(crate) fn skip_to_tail(&mut self, mint: i64, maxt: i64) -> bool {
        if self.tail < self.buf.len() || self.htail < self.hbuf.len() || self.exhausted {
            return false;
        }
        let t = self.src.tail_start(maxt);
        if t <= mint.saturating_add(1) {
            return false;
        }
        self.src.skip_to(t);
        true
    }

    /// The samples with `mint < t <= maxt`. Both bounds must not decrease
    /// between calls.
    pub(crate) fn window(&mut self, mint: i64, maxt: i64) -> Result<&[FPoint]> {
        self.drop_left(mint);
        if self.read_to < maxt && !self.exhausted {
            self.read(mint, maxt)?;
        }
        // Take in what entered on the right.
        let (mut tail, mut decreases) = (self.tail, 0);
        while tail < self.buf.len() && self.buf[tail].t <= maxt {
            if self.track_decreases && tail > self.head && self.buf[tail].f < self.buf[tail - 1].f {
                decreases += 1;
            }
            tail += 1;
        }
        self.tail = tail;
        self.decreases += decreases;
        while self.htail < self.hbuf.len() && self.hbuf[self.htail].t <= maxt {
            self.htail += 1;
        }
        let held = self.tail - self.head + self.htail - self.hhead;
        if held > self.reserved {
            self.budget.take(held - self.reserved)?;
            self.reserved = held;
        }
        Ok(&self.buf[self.head..self.tail])
    }

    /// For a block of steps whose windows all lie inside `(mint, maxt]`
    /// (`mint` the first window's start): every float sample there at
    /// once, so the caller finds each step's window with two indices
    /// instead of a cursor call per step. The cursor's window keeps its
    /// end and moves its start to `mint`; [`Block::window`] and
    /// [`Block::decreases`] say where it is inside the block.
    ///
    /// `None` (nothing but the start moved; go step by step with
    /// [`window`](Self::window)) when a histogram sample lies in the block,
    /// or the sample budget cannot hold all of it: the read-ahead is
    /// charged like a window, but only if it fits, so blocks never make a
    /// query fail that fits step by step.
    pub(crate) fn block(&mut self, mint: i64, maxt: i64) -> Result<Option<Block<'_>>> {
        self.drop_left(mint);
        if self.read_to < maxt && !self.exhausted {
            self.read(mint, maxt)?;
        }
        if self.hbuf[self.hhead..].first().is_some_and(|h| h.t <= maxt) {
            return Ok(None);
        }
        let end = self.tail + self.buf[self.tail..].partition_point(|p| p.t <= maxt);
        let held = end - self.head;
        if held > self.reserved {
            if !self.budget.try_take(held - self.reserved) {
                return Ok(None);
            }
            self.reserved = held;
        }
        Ok(Some(Block {
            points: &self.buf[self.head..end],
            window: (0, self.tail - self.head),
            decreases: if self.track_decreases {
                Some(self.decreases)
            } else {
                None
            },
        }))
    }

    /// After a [`block`](Self::block): the window is now the block's
    /// points `lo..hi`, holding `decreases` decreases (ignored unless
    /// tracked). Later calls continue from there.
    pub(crate) fn settle(&mut self, lo: usize, hi: usize, decreases: usize) {
        debug_assert!(lo <= hi && self.head + hi <= self.buf.len());
        self.tail = self.head + hi;
        self.head += lo;
        if self.track_decreases {
            self.decreases = decreases;
        }
    }

    /// Forgets what fell out on the left of a window starting after
    /// `mint` (a step drops a few samples).
    #[inline]
    fn drop_left(&mut self, mint: i64) {
        while self.head < self.tail && self.buf[self.head].t <= mint {
            if self.track_decreases
                && self.buf[self.head + 1..self.tail]
                    .first()
                    .is_some_and(|next| next.f < self.buf[self.head].f)
            {
                self.decreases -= 1;
            }
            self.head += 1;
        }
        if self.head == self.tail {
            // An empty window: skip what was read ahead of it too.
            let ahead = &self.buf[self.tail..];
            let gone = if ahead.first().is_some_and(|p| p.t <= mint) {
                ahead.partition_point(|p| p.t <= mint)
            } else {
                0
            };
            self.head += gone;
            self.tail = self.head;
        }
        while self.hhead < self.htail && self.hbuf[self.hhead].t <= mint {
            self.hhead += 1;
        }
        if self.hhead == self.htail {
            let ahead = &self.hbuf[self.htail..];
            self.hhead += ahead.partition_point(|p| p.t <= mint);
            self.htail = self.hhead;
        }
    }

    /// Charges the growth of the buffers (what they have allocated, read
    /// ahead included) to the byte budget.
    #[cold]
    fn charge_bytes(&mut self) -> Result<()> {
        use std::mem::size_of;
        let bytes = self.buf.capacity() * size_of::<FPoint>()
            + self.sts.as_ref().map_or(0, |s| s.capacity()) * size_of::<i64>()
            + self.hbuf.capacity() * size_of::<HPoint>()
            + self.hsts.capacity() * size_of::<i64>()
            + self.hist_heap
            + self.src.heap_bytes();
        if bytes > self.reserved_bytes {
            self.budget
                .memory
                .charge(what::WINDOWS, || bytes - self.reserved_bytes)?;
            self.reserved_bytes = bytes;
        }
        Ok(())
    }

    /// Reads from storage until everything up to `maxt` is buffered,
    /// first dropping what lies before the window, and skipping storage
    /// straight to the window when nothing buffered remains.
    #[inline(never)]
    fn read(&mut self, mint: i64, maxt: i64) -> Result<()> {
        self.compact();
        if self.tail == self.buf.len() && self.htail == self.hbuf.len() {
            // Jump straight to the window instead of decoding the gap.
            self.src.skip_to(mint.saturating_add(1));
        }
        // Dense windows take all the reader has staged; sparse ones no
        // more than this window needs.
        let bound = if self.src.is_dense() { i64::MAX } else { maxt };
        while self.read_to < maxt {
            match self.src.next_run(bound) {
                Run::Floats(start, end) => {
                    self.read_to = self.src.ts[end - 1];
                    self.push_floats(start, end);
                }
                Run::Histogram(t, st) => {
                    self.read_to = t;
                    if !is_stale_nan(self.src.hist.sum) {
                        let h = Box::new(self.src.hist.clone());
                        self.hist_heap += hist_bytes(&h);
                        self.hbuf.push(HPoint { t, h });
                        if self.sts.is_some() {
                            self.hsts.push(st);
                        }
                    }
                }
                Run::Done => {
                    if self.src.exhausted() {
                        self.exhausted = true;
                    } else {
                        // The next sample lies past `bound`.
                        self.read_to = bound;
                    }
                    break;
                }
            }
        }
        if let Some(e) = self.src.take_error() {
            return Err(e);
        }
        // Only reading makes the buffers grow.
        if self.budget.memory.on() {
            self.charge_bytes()?;
        }
        Ok(())
    }

    /// Drops the buffered samples before the window when they are a good
    /// part of the buffer (amortised: each sample moves about once).
    fn compact(&mut self) {
        if self.head > 64 && self.head * 2 > self.buf.len() || self.head == self.buf.len() {
            self.buf.drain(..self.head);
            if let Some(sts) = &mut self.sts {
                sts.drain(..self.head);
            }
            self.tail -= self.head;
            self.head = 0;
        }
        if self.hhead > 16 && self.hhead * 2 > self.hbuf.len() || self.hhead == self.hbuf.len() {
            if self.hhead > 0 {
                let gone: usize = self
                    .hbuf
                    .drain(..self.hhead)
                    .map(|p| hist_bytes(&p.h))
                    .sum();
                self.hist_heap = self.hist_heap.saturating_sub(gone);
            }
            if self.sts.is_some() {
                self.hsts.drain(..self.hhead);
            }
            self.htail -= self.hhead;
            self.hhead = 0;
        }
    }

    /// Appends the staged floats `start..end` minus stale markers.
    #[inline]
    fn push_floats(&mut self, start: usize, end: usize) {
        let (ts, vs) = (&self.src.ts[start..end], &self.src.vs[start..end]);
        self.buf.reserve(ts.len());
        match self.sts.as_mut() {
            None => {
                for (&t, &f) in ts.iter().zip(vs) {
                    if !is_stale_nan(f) {
                        self.buf.push(FPoint { t, f });
                    }
                }
            }
            Some(sts) => {
                let st = &self.src.sts[start..end];
                for ((&t, &f), &s) in ts.iter().zip(vs).zip(st) {
                    if !is_stale_nan(f) {
                        self.buf.push(FPoint { t, f });
                        sts.push(s);
                    }
                }
            }
        }
    }

    /// Releases the budget of the samples still held and hands back the
    /// buffers for reuse by the next series.
    pub(crate) fn finish(self) -> WindowBuffers {
        self.budget.give(self.reserved);
        self.budget.memory.release(self.reserved_bytes);
        let mut points = self.buf;
        points.clear();
        let mut sts = self.sts.unwrap_or_default();
        sts.clear();
        WindowBuffers {
            points,
            sts,
            stage: self.src.into_buffers(),
        }
    }
}

/// The float samples of a block of steps (see [`WindowCursor::block`]).
pub(crate) struct Block<'w> {
    /// All of them, in time order, stale markers dropped.
    pub points: &'w [FPoint],
    /// Where the cursor's window (the previous step's) lies in `points`.
    pub window: (usize, usize),
    /// That window's decreases, when tracked.
    pub decreases: Option<usize>,
}

impl Block<'_> {
    /// Slides `win` (holding `decreases` decreases, when tracked) to the
    /// samples with `mint < t <= maxt`; both bounds must not decrease.
    /// The same sliding as [`WindowCursor::window`], over a slice.
    #[inline]
    pub(crate) fn slide(
        &self,
        win: &mut (usize, usize),
        decreases: &mut Option<usize>,
        mint: i64,
        maxt: i64,
    ) {
        let p = self.points;
        let (mut lo, mut hi) = *win;
        match decreases {
            Some(d) => {
                while lo < hi && p[lo].t <= mint {
                    if lo + 1 < hi && p[lo + 1].f < p[lo].f {
                        *d -= 1;
                    }
                    lo += 1;
                }
                if lo == hi {
                    while lo < p.len() && p[lo].t <= mint {
                        lo += 1;
                    }
                    hi = lo;
                }
                while hi < p.len() && p[hi].t <= maxt {
                    if hi > lo && p[hi].f < p[hi - 1].f {
                        *d += 1;
                    }
                    hi += 1;
                }
            }
            None => {
                while lo < hi && p[lo].t <= mint {
                    lo += 1;
                }
                if lo == hi {
                    while lo < p.len() && p[lo].t <= mint {
                        lo += 1;
                    }
                    hi = lo;
                }
                while hi < p.len() && p[hi].t <= maxt {
                    hi += 1;
                }
            }
        }
        *win = (lo, hi);
    }
}

/// The points of an already evaluated series (a subquery's output) inside
/// `(mint, maxt]`.
#[inline]
pub(crate) fn slice_window(points: &[FPoint], mint: i64, maxt: i64) -> &[FPoint] {
    let lo = points.partition_point(|p| p.t <= mint);
    let hi = points.partition_point(|p| p.t <= maxt);
    &points[lo..hi.max(lo)]
}
