//! Reading one series' samples step by step: the lookback of instant
//! vector selectors and the sliding windows of range selectors.
//!
//! Both cursors only move forward, keep no sample they will not need again
//! (a window keeps exactly the samples inside it) and skip ahead with
//! `seek` when the next step is far away, so a query over a long range at
//! a coarse step does not decode every sample.

use aion_chunkenc::{is_stale_nan, SampleIterator, ValueType};
use aion_model::histogram::FloatHistogram;

use super::budget::SampleBudget;
use super::error::{Error, Result};
use super::stats_decoding::StatsHints;
use crate::value::{FPoint, HPoint};

/// A sample read from storage. A histogram sample is a marker here; its
/// value sits in a slot the cursor owns (so floats stay `Copy` and cheap).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pulled {
    /// A float sample and its start timestamp (0 when unknown or not
    /// asked for).
    Float(FPoint, i64),
    /// A histogram sample's timestamp and start timestamp.
    Histogram(i64, i64),
}

/// What an instant vector selector sees at one time.
pub(crate) enum Visible<'a> {
    Float(FPoint),
    Histogram(i64, &'a FloatHistogram),
}

impl Pulled {
    #[inline]
    fn t(&self) -> i64 {
        match self {
            Pulled::Float(p, _) => p.t,
            Pulled::Histogram(t, _) => *t,
        }
    }
}

/// Reads the current sample, turning the cursor's states into a `Result`;
/// a histogram's value goes to `slot`.
#[inline]
fn pull(
    it: &mut dyn SampleIterator,
    vt: ValueType,
    with_st: bool,
    slot: &mut FloatHistogram,
    stats: &mut StatsHints,
    contiguous: bool,
) -> Result<Option<Pulled>> {
    match vt {
        ValueType::Float => {
            stats.float_seen();
            let (t, f) = it.at();
            let st = if with_st { it.at_st() } else { 0 };
            Ok(Some(Pulled::Float(FPoint { t, f }, st)))
        }
        ValueType::None => match it.err() {
            Some(e) => Err(Error::Storage(e.to_string().into())),
            None => Ok(None),
        },
        ValueType::Histogram | ValueType::FloatHistogram => {
            let t = it.at_float_histogram(slot);
            let st = if with_st { it.at_st() } else { 0 };
            stats.apply(slot, contiguous);
            Ok(Some(Pulled::Histogram(t, st)))
        }
    }
}

/// The value an instant vector selector sees at a time: the newest sample
/// at or before it, unless that is older than the lookback delta or a
/// stale marker.
pub(crate) struct LookbackCursor<'a> {
    it: Box<dyn SampleIterator + 'a>,
    /// Newest sample at or before the last reference time.
    last: Option<Pulled>,
    /// The first sample after the last reference time.
    peek: Option<Pulled>,
    /// Values of `last` and `peek` when they are histograms.
    last_h: FloatHistogram,
    peek_h: FloatHistogram,
    stats: StatsHints,
    started: bool,
    with_st: bool,
}

impl<'a> LookbackCursor<'a> {
    pub(crate) fn new(it: Box<dyn SampleIterator + 'a>) -> Self {
        LookbackCursor {
            it,
            last: None,
            peek: None,
            last_h: FloatHistogram::default(),
            peek_h: FloatHistogram::default(),
            stats: StatsHints::default(),
            started: false,
            with_st: false,
        }
    }

    /// Decides histogram reset hints while reading (for selectors read
    /// for statistics, see `stats_decoding.rs`).
    pub(crate) fn with_stats(mut self, stats: bool) -> Self {
        self.stats = StatsHints::new(stats);
        self
    }

    /// A cursor that also reads start timestamps (see
    /// [`start_timestamp`](Self::start_timestamp)).
    pub(crate) fn with_start_timestamps(it: Box<dyn SampleIterator + 'a>) -> Self {
        LookbackCursor {
            with_st: true,
            ..Self::new(it)
        }
    }

    /// The start timestamp of the sample the last [`at`](Self::at)
    /// returned (0: unknown).
    pub(crate) fn start_timestamp(&self) -> i64 {
        match self.last {
            Some(Pulled::Float(_, st)) | Some(Pulled::Histogram(_, st)) => st,
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
        if !self.started {
            self.started = true;
            let vt = self.it.seek(oldest_visible);
            self.peek = pull(
                &mut *self.it,
                vt,
                self.with_st,
                &mut self.peek_h,
                &mut self.stats,
                false,
            )?;
        } else if self.peek.is_some_and(|p| p.t() < oldest_visible) {
            // Everything before the lookback window is irrelevant now and
            // for every later step.
            self.last = None;
            let vt = self.it.seek(oldest_visible);
            self.peek = pull(
                &mut *self.it,
                vt,
                self.with_st,
                &mut self.peek_h,
                &mut self.stats,
                false,
            )?;
        }
        while let Some(p) = self.peek {
            if p.t() > at {
                break;
            }
            self.last = Some(p);
            if matches!(p, Pulled::Histogram(..)) {
                std::mem::swap(&mut self.last_h, &mut self.peek_h);
            }
            let vt = self.it.next();
            self.peek = pull(
                &mut *self.it,
                vt,
                self.with_st,
                &mut self.peek_h,
                &mut self.stats,
                true,
            )?;
        }
        match self.last {
            Some(Pulled::Float(p, _)) if p.t >= oldest_visible && !is_stale_nan(p.f) => {
                Ok(Some(Visible::Float(p)))
            }
            Some(Pulled::Histogram(t, _))
                if t >= oldest_visible && !is_stale_nan(self.last_h.sum) =>
            {
                Ok(Some(Visible::Histogram(t, &self.last_h)))
            }
            _ => Ok(None),
        }
    }
}

/// The samples of one series inside a left-open window `(mint, maxt]` that
/// slides forward. Stale markers are dropped.
pub(crate) struct WindowCursor<'a, 'b> {
    it: Box<dyn SampleIterator + 'a>,
    buf: Vec<FPoint>,
    /// Start timestamps parallel to `buf`, when tracked.
    sts: Option<Vec<i64>>,
    head: usize,
    /// Histogram samples of the window (from `hhead` on).
    hbuf: Vec<HPoint>,
    /// Start timestamps parallel to `hbuf`, when tracked.
    hsts: Vec<i64>,
    hhead: usize,
    pending: Option<Pulled>,
    pending_h: FloatHistogram,
    stats: StatsHints,
    started: bool,
    exhausted: bool,
    budget: &'b SampleBudget,
    /// Adjacent pairs of the window whose value decreases (counter resets
    /// for `rate`), kept up to date as samples enter and leave, so counter
    /// functions skip their reset scan on the usual reset-free window.
    decreases: usize,
    /// Samples taken from the budget: the largest window so far. Counting
    /// the high-water mark instead of every push and drop keeps atomics
    /// out of the per-sample path.
    reserved: usize,
}

impl<'a, 'b> WindowCursor<'a, 'b> {
    pub(crate) fn new(
        it: Box<dyn SampleIterator + 'a>,
        budget: &'b SampleBudget,
        buf: Vec<FPoint>,
    ) -> Self {
        WindowCursor {
            it,
            buf,
            sts: None,
            head: 0,
            hbuf: Vec::new(),
            hsts: Vec::new(),
            hhead: 0,
            pending: None,
            pending_h: FloatHistogram::default(),
            stats: StatsHints::default(),
            started: false,
            exhausted: false,
            budget,
            decreases: 0,
            reserved: 0,
        }
    }

    /// Decides histogram reset hints while reading (see
    /// `stats_decoding.rs`).
    pub(crate) fn with_stats(mut self, stats: bool) -> Self {
        self.stats = StatsHints::new(stats);
        self
    }

    /// Also keeps the start timestamps of the window's samples (see
    /// [`start_timestamps`](Self::start_timestamps)).
    pub(crate) fn track_start_timestamps(mut self, sts: Vec<i64>) -> Self {
        self.sts = Some(sts);
        self
    }

    /// The current window (as the last [`window`](Self::window) call
    /// returned it).
    pub(crate) fn current(&self) -> &[FPoint] {
        &self.buf[self.head..]
    }

    /// The histogram samples of the current window.
    pub(crate) fn current_hists(&self) -> &[HPoint] {
        &self.hbuf[self.hhead..]
    }

    /// Their start timestamps (empty unless tracked).
    pub(crate) fn current_hist_sts(&self) -> &[i64] {
        if self.sts.is_some() {
            &self.hsts[self.hhead..]
        } else {
            &[]
        }
    }

    /// No sample of the current window is lower than the one before it
    /// (with `<`, so NaN never counts as a decrease, exactly as in the
    /// reset scan of `rate` this lets callers skip).
    pub(crate) fn non_decreasing(&self) -> bool {
        self.decreases == 0
    }

    /// The start timestamps of the current window's samples (empty unless
    /// tracked).
    pub(crate) fn start_timestamps(&self) -> &[i64] {
        match &self.sts {
            Some(sts) => &sts[self.head..],
            None => &[],
        }
    }

    /// The samples with `mint < t <= maxt`. Both bounds must not decrease
    /// between calls.
    pub(crate) fn window(&mut self, mint: i64, maxt: i64) -> Result<&[FPoint]> {
        let with_st = self.sts.is_some();
        if self.hhead < self.hbuf.len() {
            self.hhead += self.hbuf[self.hhead..].partition_point(|p| p.t <= mint);
            if self.hhead == self.hbuf.len() {
                self.hbuf.clear();
                self.hsts.clear();
                self.hhead = 0;
            } else if self.hhead > 16 && self.hhead * 2 > self.hbuf.len() {
                self.hbuf.drain(..self.hhead);
                if with_st {
                    self.hsts.drain(..self.hhead);
                }
                self.hhead = 0;
            }
        }
        // Forget what fell out on the left.
        let live = &self.buf[self.head..];
        let drop = live.partition_point(|p| p.t <= mint);
        if self.decreases > 0 {
            // The pairs that leave: each dropped sample with its successor.
            let end = (self.head + drop + 1).min(self.buf.len());
            self.decreases -= self.buf[self.head..end]
                .windows(2)
                .filter(|p| p[1].f < p[0].f)
                .count();
        }
        self.head += drop;
        if self.head == self.buf.len() {
            self.buf.clear();
            if let Some(sts) = &mut self.sts {
                sts.clear();
            }
            self.head = 0;
        } else if self.head > 64 && self.head * 2 > self.buf.len() {
            self.buf.drain(..self.head);
            if let Some(sts) = &mut self.sts {
                sts.drain(..self.head);
            }
            self.head = 0;
        }
        if !self.exhausted {
            if !self.started
                || (self.buf.len() == self.head
                    && self.hbuf.len() == self.hhead
                    && self.pending.is_none())
            {
                // Jump straight to the window instead of decoding the gap.
                self.started = true;
                let vt = self.it.seek(mint.saturating_add(1));
                self.pending = pull(
                    &mut *self.it,
                    vt,
                    with_st,
                    &mut self.pending_h,
                    &mut self.stats,
                    false,
                )?;
                self.exhausted = self.pending.is_none();
            } else if self.pending.is_some_and(|p| p.t() <= mint) {
                let vt = self.it.seek(mint.saturating_add(1));
                self.pending = pull(
                    &mut *self.it,
                    vt,
                    with_st,
                    &mut self.pending_h,
                    &mut self.stats,
                    false,
                )?;
                self.exhausted = self.pending.is_none();
            }
        }
        while let Some(p) = self.pending {
            if p.t() > maxt {
                break;
            }
            match p {
                Pulled::Float(p, st) if p.t > mint && !is_stale_nan(p.f) => {
                    if self.buf.len() > self.head && p.f < self.buf[self.buf.len() - 1].f {
                        self.decreases += 1;
                    }
                    self.buf.push(p);
                    if let Some(sts) = &mut self.sts {
                        sts.push(st);
                    }
                    let held = self.buf.len() - self.head + self.hbuf.len() - self.hhead;
                    if held > self.reserved {
                        self.budget.take(held - self.reserved)?;
                        self.reserved = held;
                    }
                }
                Pulled::Histogram(t, st) if t > mint && !is_stale_nan(self.pending_h.sum) => {
                    self.hbuf.push(HPoint {
                        t,
                        h: Box::new(self.pending_h.clone()),
                    });
                    if with_st {
                        self.hsts.push(st);
                    }
                    let held = self.buf.len() - self.head + self.hbuf.len() - self.hhead;
                    if held > self.reserved {
                        self.budget.take(held - self.reserved)?;
                        self.reserved = held;
                    }
                }
                _ => {}
            }
            let vt = self.it.next();
            self.pending = pull(
                &mut *self.it,
                vt,
                with_st,
                &mut self.pending_h,
                &mut self.stats,
                true,
            )?;
            if self.pending.is_none() {
                self.exhausted = true;
            }
        }
        Ok(&self.buf[self.head..])
    }

    /// Releases the budget of the samples still held and hands back the
    /// buffer for reuse by the next series.
    pub(crate) fn finish(self) -> (Vec<FPoint>, Option<Vec<i64>>) {
        self.budget.give(self.reserved);
        let mut buf = self.buf;
        buf.clear();
        let sts = self.sts.map(|mut s| {
            s.clear();
            s
        });
        (buf, sts)
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

#[cfg(test)]
mod tests {
    use super::*;
    use aion_chunkenc::STALE_NAN;

    struct VecIter {
        data: Vec<(i64, f64)>,
        pos: Option<usize>,
        seeks: usize,
    }

    impl SampleIterator for VecIter {
        fn next(&mut self) -> ValueType {
            let p = self.pos.map_or(0, |p| p + 1).min(self.data.len());
            self.pos = Some(p);
            if p < self.data.len() {
                ValueType::Float
            } else {
                ValueType::None
            }
        }
        fn seek(&mut self, t: i64) -> ValueType {
            self.seeks += 1;
            let from = self.pos.unwrap_or(0).min(self.data.len());
            let p = from + self.data[from..].partition_point(|&(x, _)| x < t);
            self.pos = Some(p);
            if p < self.data.len() {
                ValueType::Float
            } else {
                ValueType::None
            }
        }
        fn at(&self) -> (i64, f64) {
            self.data[self.pos.unwrap_or(0)]
        }
        fn at_t(&self) -> i64 {
            self.at().0
        }
        fn err(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
            None
        }
    }

    fn it(data: &[(i64, f64)]) -> Box<dyn SampleIterator> {
        Box::new(VecIter {
            data: data.to_vec(),
            pos: None,
            seeks: 0,
        })
    }

    #[test]
    fn lookback_is_left_open_and_stops_at_stale_markers() {
        let mut c = LookbackCursor::new(it(&[(10, 1.0), (20, STALE_NAN), (30, 3.0)]));
        let v = |c: &mut LookbackCursor, at| c.at(at, 10).unwrap().map(|p| p.f);
        assert_eq!(v(&mut c, 5), None);
        assert_eq!(v(&mut c, 10), Some(1.0));
        assert_eq!(v(&mut c, 19), Some(1.0));
        // The stale marker hides the older sample.
        assert_eq!(v(&mut c, 20), None);
        assert_eq!(v(&mut c, 30), Some(3.0));
        assert_eq!(v(&mut c, 39), Some(3.0));
        // Exactly lookback after the sample: no longer visible.
        assert_eq!(v(&mut c, 40), None);
    }

    #[test]
    fn windows_are_left_open_and_skip_stale_markers() {
        let budget = SampleBudget::new(100);
        let data: Vec<(i64, f64)> = (0..10).map(|i| (i * 10, i as f64)).collect();
        let mut data2 = data.clone();
        data2[5].1 = STALE_NAN;
        let mut w = WindowCursor::new(it(&data2), &budget, Vec::new());
        let ts = |s: &[FPoint]| s.iter().map(|p| p.t).collect::<Vec<_>>();
        assert_eq!(ts(w.window(0, 30).unwrap()), vec![10, 20, 30]);
        assert_eq!(ts(w.window(20, 60).unwrap()), vec![30, 40, 60]);
        assert_eq!(ts(w.window(85, 200).unwrap()), vec![90]);
        assert_eq!(ts(w.window(300, 400).unwrap()), Vec::<i64>::new());
        let _ = w.finish();
        assert_eq!(budget.peak(), 3);
    }

    #[test]
    fn windows_seek_over_gaps() {
        let budget = SampleBudget::new(100);
        let data: Vec<(i64, f64)> = (0..1000).map(|i| (i, i as f64)).collect();
        let mut w = WindowCursor::new(it(&data), &budget, Vec::new());
        assert_eq!(w.window(100, 102).unwrap().len(), 2);
        assert_eq!(w.window(900, 902).unwrap().len(), 2);
        assert!(budget.peak() <= 3);
    }

    #[test]
    fn decreases_are_tracked_while_sliding() {
        // Resets (and a NaN and a stale marker) at scattered places; every
        // window, of every width, agrees with a scan of its samples.
        let values = [
            5.0,
            6.0,
            2.0,
            3.0,
            3.0,
            f64::NAN,
            4.0,
            1.0,
            9.0,
            STALE_NAN,
            8.0,
            8.5,
            0.0,
            1.0,
            2.0,
        ];
        let data: Vec<(i64, f64)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as i64 * 10, *v))
            .collect();
        for width in [5, 10, 25, 40, 70] {
            for step in [5, 10, 30] {
                let budget = SampleBudget::new(100);
                let mut w = WindowCursor::new(it(&data), &budget, Vec::new());
                let mut end = 0;
                while end < 200 {
                    let got = w.window(end - width, end).unwrap().to_vec();
                    let scan = !got.windows(2).any(|p| p[1].f < p[0].f);
                    assert_eq!(
                        w.non_decreasing(),
                        scan,
                        "width {width} step {step} end {end}"
                    );
                    end += step;
                }
                let _ = w.finish();
            }
        }
    }

    #[test]
    fn slices() {
        let pts: Vec<FPoint> = (0..5).map(|i| FPoint { t: i * 10, f: 0.0 }).collect();
        assert_eq!(slice_window(&pts, 10, 30).len(), 2);
        assert_eq!(slice_window(&pts, 40, 30).len(), 0);
    }
}
