//! Range-vector arguments as windows: for each series of a range selector
//! or subquery, the samples in its range at each step ([`StepWindow`]),
//! handed to a per-step function. Range selectors slide a
//! [`WindowCursor`] over storage; subqueries slice their evaluated
//! points.

use aion_model::Labels;

use super::cursor::{slice_window, WindowBuffers, WindowCursor};
use super::error::{Error, Result};
use super::eval::{fixed, Evaluator};
use super::hist_range_fns::WinOut;
use super::memory::what;
use super::range_fns::{
    is_plain_rate_window, Extension, Scratch, WindowArgs, WindowFn, WindowNote,
};
use super::rate_timing::plain_rate;
use super::select::SelectHint;
use super::step::{reserve_steps, series_bytes, Sink, StepSeries};
use crate::ast::Expr;
use crate::value::{FPoint, HPoint};

/// The most steps of a block (see `stream_windows`): enough to make the
/// per-block cursor call rare next to the per-step work.
const MAX_BLOCK: usize = 64;

/// A range function over windows without histogram samples (its float
/// path), as a concrete type so the step loop can inline it: called
/// through a closure that did not inline, the window's description was
/// built in memory and copied, the copy's 16-byte loads stalling on the
/// 8-byte stores just made (half of that closure's profile samples).
pub(crate) struct FloatFn<'a> {
    pub f: WindowFn,
    /// The scalar arguments at every step, in argument order (the range
    /// vector argument left out).
    pub params: &'a [Vec<f64>],
    pub range_secs: f64,
    pub extension: Extension,
    /// For `rate`, `increase` and `delta`: `(is_counter, is_rate)`, so
    /// plain windows call [`plain_rate`] directly (inlined) instead of
    /// through `f`.
    pub rate: Option<(bool, bool)>,
    /// Reports the function's notes (rare: an invalid quantile, an
    /// overlapping start time) for a series.
    pub report: &'a (dyn Fn(&mut Vec<WindowNote>, &Labels) + Sync),
}

impl FloatFn<'_> {
    /// The function's scalar arguments at `step` (at most two) and how
    /// many there are.
    #[inline(always)]
    pub(crate) fn params_at(&self, step: usize) -> ([f64; 2], usize) {
        let mut buf = [0.0; 2];
        for (b, p) in buf.iter_mut().zip(self.params) {
            *b = p[step];
        }
        (buf, self.params.len().min(2))
    }

    /// The arguments of the function for window `w`, its scalar
    /// arguments there being `params`.
    #[inline(always)]
    pub(crate) fn args<'w>(&self, w: &StepWindow<'w>, params: &'w [f64]) -> WindowArgs<'w> {
        WindowArgs {
            ts: w.ts,
            range_start: w.start,
            range_end: w.end,
            range_secs: self.range_secs,
            params,
            sts: w.sts,
            non_decreasing: w.non_decreasing,
            extension: self.extension,
        }
    }

    /// The function's value over the float samples of `w`.
    #[inline(always)]
    pub(crate) fn call(&self, w: &StepWindow, scratch: &mut Scratch) -> Result<Option<f64>> {
        if let Some((is_counter, is_rate)) = self.rate {
            // What `extrapolated_rate` does for these windows.
            if is_plain_rate_window(self.extension, w.sts, is_counter) {
                let range = (w.start, w.end, self.range_secs);
                let memo = &mut scratch.rate_timing;
                return Ok(plain_rate(
                    w.points,
                    range,
                    w.non_decreasing,
                    is_counter,
                    is_rate,
                    memo,
                ));
            }
        }
        let (buf, n) = self.params_at(w.step);
        let v = (self.f)(w.points, &self.args(w, &buf[..n]), scratch)?;
        if !scratch.notes.is_empty() {
            (self.report)(&mut scratch.notes, w.labels);
        }
        Ok(v)
    }
}

/// One series' window at one step, as range functions see it.
pub(crate) struct StepWindow<'w> {
    /// The series.
    pub labels: &'w Labels,
    /// Its float samples with `start < t <= end`.
    pub points: &'w [FPoint],
    /// Its histogram samples there.
    pub hists: &'w [HPoint],
    /// Their start timestamps, when tracked (else empty).
    pub hsts: &'w [i64],
    /// Known: no point is lower than the one before it (`false` when
    /// unknown).
    pub non_decreasing: bool,
    /// Their start timestamps, when tracked (else empty).
    pub sts: &'w [i64],
    /// The step's index.
    pub step: usize,
    /// The evaluation time.
    pub ts: i64,
    /// The window's (exclusive) start.
    pub start: i64,
    /// The window's (inclusive) end.
    pub end: i64,
}

impl<'c, 'q> Evaluator<'c, 'q> {
    /// Streams, for every series of a range-vector argument (a range
    /// selector or a subquery), the output of `per_step` over the window
    /// at each step (`None`: no point there). `scratch` is reset for
    /// every series. With `with_st`, windows of range selectors carry the
    /// samples' start timestamps (subqueries never do).
    ///
    /// `floats` is what `per_step` does for windows without histogram
    /// samples: the loop over blocks of float windows calls it instead.
    pub(crate) fn stream_windows<F>(
        &self,
        arg: &Expr,
        hint: Option<&SelectHint>,
        with_st: bool,
        per_step: F,
        floats: &FloatFn,
        sink: Sink,
    ) -> Result<()>
    where
        F: Fn(&StepWindow, &mut Scratch) -> Result<Option<WinOut>> + Sync,
    {
        let n = self.num_steps();
        match arg {
            Expr::Paren(p) => self.stream_windows(&p.expr, hint, with_st, per_step, floats, sink),
            Expr::StepInvariant(s) => {
                self.stream_windows(&s.expr, hint, with_st, per_step, floats, sink)
            }
            Expr::MatrixSelector(ms) => {
                let range = fixed(&ms.range);
                let vs = &ms.selector;
                let offset = fixed(&vs.offset);
                let lookback = self.ctx.lookback;
                // Extra samples around the range for the modifiers.
                let (before, after) = match (vs.anchored, vs.smoothed) {
                    (true, _) => (lookback, 0),
                    (_, true) => (lookback, lookback),
                    _ => (0, 0),
                };
                let mut set = self.select(vs, range, hint);
                // Windows that overlap or touch need every sample: read
                // ahead; windows far apart seek over the gaps.
                let dense = !self.is_instant() && self.interval <= range + before + after;
                // Only the newest sample of a window counts: windows far
                // apart read only their tails.
                let func = hint.and_then(|h| h.func.as_deref());
                let latest_only = !dense
                    && before == 0
                    && after == 0
                    && matches!(func, Some("last_over_time" | "ts_of_last_over_time"));
                // Only the counter functions skip work on windows known
                // to hold no decrease (unknown function: keep counting).
                let wants_decreases = func.is_none_or(|f| matches!(f, "rate" | "increase"));
                let cursor = |samples, bufs| {
                    WindowCursor::new(samples, &self.ctx.budget, bufs)
                        .with_stats(self.ctx.is_stats(vs))
                        .dense(dense)
                        .track_decreases(wants_decreases)
                };
                // Step `i`'s evaluation time and window `(start, end]`.
                let bounds = |i| {
                    let ts = self.step_ts(i);
                    let end = Self::reference_time(vs.at, offset, ts);
                    (ts, end.wrapping_sub(range), end)
                };
                // Plain float windows that overlap go in blocks of steps
                // (see `WindowCursor::block`): about four windows' span,
                // so the read-ahead stays a small multiple of a window.
                let block = if dense && before == 0 && after == 0 && !with_st && self.interval > 0 {
                    usize::try_from(range.saturating_mul(4) / self.interval)
                        .unwrap_or(1)
                        .clamp(1, MAX_BLOCK)
                } else {
                    1
                };
                type Buffers = (WindowBuffers, Scratch);
                self.for_each_series(
                    &mut *set,
                    |series, (bufs, scratch): &mut Buffers| {
                        scratch.reset();
                        let mut bufs_taken = std::mem::take(bufs);
                        let sts = std::mem::take(&mut bufs_taken.sts);
                        let mut w = cursor(series.samples, bufs_taken);
                        if with_st {
                            w = w.track_start_timestamps(sts);
                        }
                        let mut points = Vec::new();
                        let mut hists = Vec::new();
                        let mut tails = latest_only;
                        let result = (|| -> Result<()> {
                            let mut i = 0;
                            while i < n {
                                let block_end = (i + block).min(n);
                                if block > 1 {
                                    let (first_start, last_end) =
                                        (bounds(i).1, bounds(block_end - 1).2);
                                    if let Some(b) = w.block(first_start, last_end)? {
                                        let (mut win, mut decreases) = (b.window, b.decreases);
                                        for i in i..block_end {
                                            if i % 256 == 255 {
                                                self.ctx.stop.check()?;
                                            }
                                            let (ts, start, end) = bounds(i);
                                            b.slide(&mut win, &mut decreases, start, end);
                                            if win.0 == win.1 {
                                                continue;
                                            }
                                            let sw = StepWindow {
                                                labels: &series.labels,
                                                points: &b.points[win.0..win.1],
                                                hists: &[],
                                                hsts: &[],
                                                non_decreasing: decreases == Some(0),
                                                sts: &[],
                                                step: i,
                                                ts,
                                                start,
                                                end,
                                            };
                                            if let Some(v) = floats.call(&sw, scratch)? {
                                                reserve_steps(&mut points, n - i);
                                                points.push(FPoint { t: ts, f: v });
                                            }
                                        }
                                        w.settle(win.0, win.1, decreases.unwrap_or(0));
                                        i = block_end;
                                        continue;
                                    }
                                }
                                for i in i..block_end {
                                    // Long series over many steps: stay
                                    // responsive to cancellation.
                                    if i % 256 == 255 {
                                        self.ctx.stop.check()?;
                                    }
                                    let (ts, start, end) = bounds(i);
                                    let skipped = tails && w.skip_to_tail(start, end);
                                    let fetched = w.window(
                                        start.wrapping_sub(before),
                                        end.wrapping_add(after),
                                    )?;
                                    if skipped && fetched.is_empty() && w.current_hists().is_empty()
                                    {
                                        // The tail held only stale markers:
                                        // read the whole series again.
                                        tails = false;
                                        let again = self.reopen(vs, range, hint, &series.labels)?;
                                        let fresh = cursor(again, Default::default());
                                        let _ = std::mem::replace(&mut w, fresh).finish();
                                        w.window(start, end)?;
                                    }
                                    if w.current().is_empty() && w.current_hists().is_empty() {
                                        continue;
                                    }
                                    let sw = StepWindow {
                                        labels: &series.labels,
                                        points: w.current(),
                                        hists: w.current_hists(),
                                        hsts: w.current_hist_sts(),
                                        non_decreasing: w.non_decreasing(),
                                        sts: w.start_timestamps(),
                                        step: i,
                                        ts,
                                        start,
                                        end,
                                    };
                                    match per_step(&sw, scratch)? {
                                        Some(WinOut::F(v)) => {
                                            reserve_steps(&mut points, n - i);
                                            points.push(FPoint { t: ts, f: v })
                                        }
                                        Some(WinOut::H(h)) => hists.push(HPoint { t: ts, h }),
                                        None => {}
                                    }
                                }
                                i = block_end;
                            }
                            Ok(())
                        })();
                        *bufs = w.finish();
                        result?;
                        Ok(Some(StepSeries::with_hists(
                            series.labels,
                            false,
                            points,
                            hists,
                        )))
                    },
                    sink,
                )
            }
            Expr::Subquery(sq) => {
                let range = fixed(&sq.range);
                let offset = fixed(&sq.offset);
                let inner = self.subquery_evaluator(sq);
                let mut scratch = Scratch::default();
                inner.stream(&sq.expr, &mut |mut s| {
                    self.ctx.stop.check()?;
                    // The subquery's points of this series, held while
                    // its windows are evaluated.
                    let mut held = self.ctx.budget.memory.guard();
                    held.add(what::SUBQUERY, || series_bytes(&s))?;
                    // As in `stream_subquery`: stored reset hints do not
                    // describe a subquery's neighbouring points.
                    for p in &mut s.hists {
                        use aion_model::histogram::CounterResetHint::*;
                        if matches!(p.h.counter_reset_hint, CounterReset | NotCounterReset) {
                            p.h.counter_reset_hint = Unknown;
                        }
                    }
                    scratch.reset();
                    let mut points = Vec::new();
                    let mut hists = Vec::new();
                    for i in 0..n {
                        if i % 256 == 255 {
                            self.ctx.stop.check()?;
                        }
                        let ts = self.step_ts(i);
                        let end = Self::reference_time(sq.at, offset, ts);
                        let start = end.wrapping_sub(range);
                        let window = slice_window(&s.points, start, end);
                        let hlo = s.hists.partition_point(|p| p.t <= start);
                        let hhi = s.hists.partition_point(|p| p.t <= end);
                        let hwindow = &s.hists[hlo..hhi.max(hlo)];
                        if window.is_empty() && hwindow.is_empty() {
                            continue;
                        }
                        let sw = StepWindow {
                            labels: &s.metric,
                            points: window,
                            hists: hwindow,
                            hsts: &[],
                            non_decreasing: false,
                            sts: &[],
                            step: i,
                            ts,
                            start,
                            end,
                        };
                        match per_step(&sw, &mut scratch)? {
                            Some(WinOut::F(v)) => points.push(FPoint { t: ts, f: v }),
                            Some(WinOut::H(h)) => hists.push(HPoint { t: ts, h }),
                            None => {}
                        }
                    }
                    drop(s.points);
                    drop(s.hists);
                    drop(held);
                    sink(StepSeries::with_hists(s.metric, s.drop_name, points, hists))
                })
            }
            other => Err(Error::eval(format!(
                "expected a range vector argument, got {}",
                other.value_type()
            ))),
        }
    }
}
