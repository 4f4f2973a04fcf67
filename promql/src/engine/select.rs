//! Selectors: opening a selector's series in storage (with the hints of
//! what the evaluation will read), reading them in parallel batches, and
//! instant vector, `smoothed` and range (matrix) selector evaluation.

use aion_storage::{SelectHints, SeriesSet};

use super::annotations::Annotation;
use super::cursor::{LookbackCursor, Visible, WindowBuffers, WindowCursor};
use super::error::{Error, Result};
use super::eval::{fixed, Evaluator};
use super::memory::what;
use super::staging::StageBuffers;
use super::step::{reserve_steps, series_bytes, Sink, StepSeries};
use super::work_share;
use crate::ast::{AtModifier, MatrixSelector, VectorSelector};
use crate::value::{FPoint, HPoint};

/// How many series a selector reads and processes per parallel batch.
const PARALLEL_BATCH: usize = 64;

/// One batch's per-series outputs, in storage order.
type BatchResults = Vec<Result<Option<StepSeries>>>;

/// What a selector's enclosing function or aggregation is, for the
/// storage's [`SelectHints`].
#[derive(Debug, Clone, Default)]
pub(crate) struct SelectHint {
    pub func: Option<String>,
    pub grouping: Vec<String>,
    pub by: bool,
}

impl<'c, 'q> Evaluator<'c, 'q> {
    /// The time the selector reads at for evaluation time `ts`.
    #[inline]
    pub(crate) fn reference_time(at: Option<AtModifier>, offset: i64, ts: i64) -> i64 {
        match at {
            // Go's int64 arithmetic wraps; so does ours, rather than panic on
            // absurd `@`/offset values.
            Some(AtModifier::Timestamp(t)) => t.wrapping_sub(offset),
            _ => ts.wrapping_sub(offset),
        }
    }

    /// Opens the series of a selector, with hints describing the data the
    /// evaluation will read (`range` is 0 for instant vector selectors).
    pub(crate) fn select(
        &self,
        vs: &VectorSelector,
        range: i64,
        hint: Option<&SelectHint>,
    ) -> Box<dyn SeriesSet<'q> + 'q> {
        let offset = fixed(&vs.offset);
        let lookback = self.ctx.lookback;
        let first = Self::reference_time(vs.at, offset, self.start);
        let mut last = Self::reference_time(vs.at, offset, self.end);
        let mut start = if range == 0 {
            first.wrapping_sub(lookback).wrapping_add(1)
        } else {
            first.wrapping_sub(range).wrapping_add(1)
        };
        // `anchored`/`smoothed` read a lookback delta around the range.
        if range != 0 && (vs.anchored || vs.smoothed) {
            start = start.wrapping_sub(lookback);
        }
        if vs.smoothed {
            last = last.wrapping_add(lookback);
        }
        let hints = SelectHints {
            start,
            end: last,
            step: if self.is_instant() { 0 } else { self.interval },
            range,
            func: hint.and_then(|h| h.func.as_deref()),
            grouping: hint.map_or(&[], |h| &h.grouping[..]),
            by: hint.is_some_and(|h| h.by),
        };
        self.ctx.querier.select(false, Some(&hints), &vs.matchers)
    }

    /// The samples of the one series of `vs` with exactly `labels`,
    /// from the start again (selected by equality on every label, so the
    /// index finds it directly); empty if storage no longer has it.
    pub(crate) fn reopen(
        &self,
        vs: &VectorSelector,
        range: i64,
        hint: Option<&SelectHint>,
        labels: &aion_model::Labels,
    ) -> Result<Box<dyn aion_chunkenc::SampleIterator + 'q>> {
        let exact = VectorSelector {
            matchers: labels
                .iter()
                .map(|l| aion_model::Matcher::equal(l.name, l.value))
                .collect(),
            ..vs.clone()
        };
        let mut set = self.select(&exact, range, hint);
        while let Some(s) = set.next() {
            let s = s.map_err(|e| Error::Storage(Box::new(e)))?;
            if s.labels == *labels {
                return Ok(s.samples);
            }
        }
        Ok(Box::new(aion_chunkenc::EmptyIterator))
    }

    /// Reads the next batch of storage series.
    fn next_batch<'a>(
        &self,
        set: &mut (dyn SeriesSet<'a> + 'a),
        batch: &mut Vec<aion_storage::Series<'a>>,
    ) -> Result<()> {
        let want = if self.ctx.parallel { PARALLEL_BATCH } else { 1 };
        while batch.len() < want {
            match set.next() {
                Some(Ok(s)) => batch.push(s),
                Some(Err(e)) => return Err(Error::Storage(Box::new(e))),
                None => break,
            }
        }
        Ok(())
    }

    fn storage_warnings(&self, set: &(dyn SeriesSet<'q> + 'q)) {
        for w in set.warnings() {
            self.ctx.annotate(Annotation::storage_warning(w));
        }
    }

    /// Runs `per_series` over every series of `set`, in batches processed
    /// in parallel when enabled, and feeds the results to `sink` in storage
    /// order (so results do not depend on the thread count).
    ///
    /// In parallel, the calling thread and the pool's other threads share
    /// the batches (`work_share.rs`): each reads a batch (in turn: reading
    /// storage is serial) and processes it, and the caller passes the
    /// results on in batch order.
    pub(crate) fn for_each_series<F, S>(
        &self,
        set: &mut (dyn SeriesSet<'q> + 'q),
        per_series: F,
        sink: Sink,
    ) -> Result<()>
    where
        F: Fn(aion_storage::Series<'q>, &mut S) -> Result<Option<StepSeries>> + Sync,
        S: Default + Send,
    {
        if !self.ctx.parallel {
            let mut batch = Vec::new();
            let mut scratch = S::default();
            loop {
                self.ctx.stop.check()?;
                self.next_batch(set, &mut batch)?;
                if batch.is_empty() {
                    break;
                }
                for s in batch.drain(..) {
                    if let Some(s) = per_series(s, &mut scratch)? {
                        sink(s)?;
                    }
                }
            }
            self.storage_warnings(set);
            return Ok(());
        }
        let helpers = rayon::current_num_threads().saturating_sub(1);
        work_share::run(
            helpers,
            PARALLEL_BATCH,
            |batch| self.next_batch(set, batch),
            |s, scratch: &mut S| per_series(s, scratch),
            |results| self.sink_batch(results, sink),
            || self.ctx.stop.check(),
        )?;
        self.storage_warnings(set);
        Ok(())
    }

    /// Passes a processed batch to `sink` in order. The whole batch's
    /// output is held until passed on, one series at a time: each leaves
    /// the charge as it goes.
    fn sink_batch(&self, results: BatchResults, sink: Sink) -> Result<()> {
        let mut held = self.ctx.budget.memory.guard();
        held.add(what::BATCH, || {
            results
                .iter()
                .map(|r| {
                    r.as_ref()
                        .ok()
                        .and_then(|s| s.as_ref())
                        .map_or(0, series_bytes)
                })
                .sum()
        })?;
        for r in results {
            if let Some(s) = r? {
                held.sub(|| series_bytes(&s));
                sink(s)?;
            }
        }
        Ok(())
    }

    pub(crate) fn stream_vector_selector(
        &self,
        vs: &VectorSelector,
        hint: Option<&SelectHint>,
        sink: Sink,
    ) -> Result<()> {
        if vs.smoothed {
            return self.stream_smoothed_selector(vs, hint, sink);
        }
        let mut set = self.select(vs, 0, hint);
        let offset = fixed(&vs.offset);
        let n = self.num_steps();
        let lookback = self.ctx.lookback;
        // Steps at most a lookback apart need every sample: read ahead.
        let dense = !self.is_instant() && self.interval <= lookback;
        self.for_each_series(
            &mut *set,
            |series, bufs: &mut StageBuffers| {
                let mut cursor = LookbackCursor::reading(series.samples, std::mem::take(bufs))
                    .with_stats(self.ctx.is_stats(vs))
                    .dense(dense);
                let mut points = Vec::new();
                let mut hists = Vec::new();
                for i in 0..n {
                    let ts = self.step_ts(i);
                    let at = Self::reference_time(vs.at, offset, ts);
                    match cursor.at_value(at, lookback)? {
                        Some(Visible::Float(p)) => {
                            reserve_steps(&mut points, n - i);
                            points.push(FPoint { t: ts, f: p.f });
                        }
                        Some(Visible::Histogram(_, h)) => hists.push(HPoint {
                            t: ts,
                            h: Box::new(h.clone()),
                        }),
                        None => {}
                    }
                }
                *bufs = cursor.into_buffers();
                if points.is_empty() && hists.is_empty() {
                    return Ok(None);
                }
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

    /// `timestamp(selector)` (the timestamps of the samples the selector
    /// sees, not the evaluation times) or, with `start`,
    /// `start_timestamp(selector)` (their start timestamps, 0 when
    /// unknown).
    pub(crate) fn stream_selector_timestamps(
        &self,
        vs: &VectorSelector,
        start: bool,
        sink: Sink,
    ) -> Result<()> {
        let mut set = self.select(vs, 0, None);
        let offset = fixed(&vs.offset);
        let n = self.num_steps();
        let lookback = self.ctx.lookback;
        self.for_each_series(
            &mut *set,
            |series, _: &mut ()| {
                let mut cursor = if start {
                    LookbackCursor::with_start_timestamps(series.samples)
                } else {
                    LookbackCursor::new(series.samples)
                };
                let mut points = Vec::new();
                for i in 0..n {
                    let ts = self.step_ts(i);
                    if let Some(p) = cursor.at(Self::reference_time(vs.at, offset, ts), lookback)? {
                        let t = if start { cursor.start_timestamp() } else { p.t };
                        points.push(FPoint {
                            t: ts,
                            f: t as f64 / 1000.0,
                        });
                    }
                }
                if points.is_empty() {
                    return Ok(None);
                }
                let mut s = StepSeries::new(series.labels, false, points);
                self.mark_drop_name(&mut s);
                Ok(Some(s))
            },
            sink,
        )
    }

    /// A `smoothed` instant vector selector: the value at each step
    /// interpolated linearly between the samples around it (within the
    /// lookback delta on either side), the previous sample when there is
    /// none after, nothing when there is none before.
    fn stream_smoothed_selector(
        &self,
        vs: &VectorSelector,
        hint: Option<&SelectHint>,
        sink: Sink,
    ) -> Result<()> {
        let mut set = self.select(vs, 0, hint);
        let offset = fixed(&vs.offset);
        let n = self.num_steps();
        let lookback = self.ctx.lookback;
        self.for_each_series(
            &mut *set,
            |series, _: &mut ()| {
                let mut w =
                    WindowCursor::new(series.samples, &self.ctx.budget, WindowBuffers::default());
                let mut points = Vec::new();
                let result = (|| -> Result<()> {
                    for i in 0..n {
                        let ts = self.step_ts(i);
                        let at = Self::reference_time(vs.at, offset, ts);
                        let win = w.window(at.wrapping_sub(lookback), at.wrapping_add(lookback))?;
                        let k = win.partition_point(|p| p.t < at);
                        let v = if k < win.len() && win[k].t == at {
                            win[k].f
                        } else if k > 0 && k < win.len() {
                            let (a, b) = (win[k - 1], win[k]);
                            a.f + (b.f - a.f) * (at - a.t) as f64 / (b.t - a.t) as f64
                        } else if k > 0 {
                            win[k - 1].f
                        } else {
                            continue;
                        };
                        points.push(FPoint { t: ts, f: v });
                    }
                    Ok(())
                })();
                let _ = w.finish();
                result?;
                Ok((!points.is_empty()).then(|| StepSeries::new(series.labels, false, points)))
            },
            sink,
        )
    }

    /// The raw samples of a range selector at the (single) evaluation time
    /// (with `anchored`/`smoothed`, the samples inside the range plus
    /// points for the values at its edges).
    pub(crate) fn stream_matrix_selector(&self, ms: &MatrixSelector, sink: Sink) -> Result<()> {
        let range = fixed(&ms.range);
        let vs = &ms.selector;
        let lookback = self.ctx.lookback;
        let mut set = self.select(vs, range, None);
        let reference = Self::reference_time(vs.at, fixed(&vs.offset), self.start);
        let (mint, maxt) = (reference.wrapping_sub(range), reference);
        let (fetch_min, fetch_max) = match (vs.anchored, vs.smoothed) {
            (true, _) => (mint.wrapping_sub(lookback), maxt),
            (_, true) => (mint.wrapping_sub(lookback), maxt.wrapping_add(lookback)),
            _ => (mint, maxt),
        };
        self.for_each_series(
            &mut *set,
            |series, _: &mut ()| {
                // One window: read no further than it.
                let mut w =
                    WindowCursor::new(series.samples, &self.ctx.budget, WindowBuffers::default())
                        .dense(false);
                let fetched = w.window(fetch_min, fetch_max).map(|p| p.to_vec());
                let hists = w.current_hists().to_vec();
                let _ = w.finish();
                let mut points = fetched?;
                if vs.anchored || vs.smoothed {
                    points = extend_floats(&points, mint, maxt, vs.smoothed);
                }
                if points.is_empty() && hists.is_empty() {
                    return Ok(None);
                }
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
}

/// Prometheus's `extendFloats`: the samples of an `anchored`/`smoothed`
/// window reduced to the range `(mint, maxt]` plus points at `mint` and
/// `maxt` carrying the values at the edges (the last sample at or before
/// the edge, or interpolated when smoothed).
fn extend_floats(f: &[FPoint], mint: i64, maxt: i64, smoothed: bool) -> Vec<FPoint> {
    let Some(mut last) = f.len().checked_sub(1) else {
        return Vec::new();
    };
    let mut first = f[..last].partition_point(|p| p.t <= mint).saturating_sub(1);
    if smoothed {
        last = f[..last].partition_point(|p| p.t < maxt);
    }
    if f[last].t <= mint {
        return Vec::new();
    }
    let interpolate =
        |a: FPoint, b: FPoint, t: i64| a.f + (b.f - a.f) * (t - a.t) as f64 / (b.t - a.t) as f64;
    let left = if smoothed && f[first].t < mint {
        interpolate(f[first], f[first + 1], mint)
    } else {
        f[first].f
    };
    let right = if smoothed && last > 0 && f[last].t > maxt {
        interpolate(f[last - 1], f[last], maxt)
    } else {
        f[last].f
    };
    if f[first].t <= mint {
        first += 1;
    }
    let mut out = vec![FPoint { t: mint, f: left }];
    if f[last].t >= maxt {
        if last > 0 && first < last {
            out.extend_from_slice(&f[first..last]);
        }
    } else if first <= last {
        out.extend_from_slice(&f[first..=last]);
    }
    out.push(FPoint { t: maxt, f: right });
    out
}
