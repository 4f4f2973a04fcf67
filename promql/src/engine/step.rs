//! The series that flow between operators and the rules every operator
//! applies to them.
//!
//! A [`StepSeries`] is labels, Prometheus's delayed-name-removal flag and
//! the points at the steps where the series has a value; operators push
//! them into a [`Sink`]. A vector held in memory is counted against the
//! sample and byte limits while its [`Held`] lives (`series_bytes` is
//! what a series costs). Dropping the metric name can
//! make two series equal: [`UniqueLabels`] (streamed) and
//! [`merge_same_labelset`] (materialised) apply Prometheus's rule for that.

use std::collections::HashMap;
use std::mem::size_of;

use aion_model::{Labels, METRIC_NAME};

use super::budget::SampleBudget;
use super::error::{Error, Result};
use super::memory::{group_bytes, hist_bytes, what, MemCharge, MemoryBudget};
use crate::value::{FPoint, HPoint};

/// Labels Prometheus drops together with the metric name (its "metadata"
/// labels: name, type and unit).
const METADATA_LABELS: [&str; 3] = [METRIC_NAME, "__type__", "__unit__"];

/// `labels` without the metric name (and type/unit) labels.
pub(crate) fn drop_metadata(labels: &Labels) -> Labels {
    if labels.iter().any(|l| METADATA_LABELS.contains(&l.name)) {
        labels.without(&METADATA_LABELS)
    } else {
        labels.clone()
    }
}

/// One series of an evaluated instant vector: its values at the steps where
/// it has one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepSeries {
    pub metric: Labels,
    /// Delayed name removal: the metric name is to be dropped at the end.
    pub drop_name: bool,
    /// Points at step timestamps (or raw sample timestamps for range
    /// vectors), in time order.
    pub points: Vec<FPoint>,
    /// Native histogram points, in time order, at timestamps `points` has
    /// none (empty for float series, which is almost all of them).
    pub hists: Vec<HPoint>,
}

impl StepSeries {
    pub(crate) fn new(metric: Labels, drop_name: bool, points: Vec<FPoint>) -> Self {
        StepSeries {
            metric,
            drop_name,
            points,
            hists: Vec::new(),
        }
    }

    /// A series with float and histogram points.
    pub(crate) fn with_hists(
        metric: Labels,
        drop_name: bool,
        points: Vec<FPoint>,
        hists: Vec<HPoint>,
    ) -> Self {
        StepSeries {
            metric,
            drop_name,
            points,
            hists,
        }
    }

    /// No point of either kind.
    pub(crate) fn is_empty(&self) -> bool {
        self.points.is_empty() && self.hists.is_empty()
    }

    /// Points of both kinds, for the sample budget.
    pub(crate) fn len(&self) -> usize {
        self.points.len() + self.hists.len()
    }
}

/// Bytes of one evaluated series: its struct, labels, point vectors (by
/// capacity: what is allocated) and histograms.
pub(crate) fn series_bytes(s: &StepSeries) -> usize {
    size_of::<StepSeries>()
        + s.metric.heap_bytes()
        + s.points.capacity() * size_of::<FPoint>()
        + s.hists.capacity() * size_of::<HPoint>()
        + s.hists.iter().map(|p| hist_bytes(&p.h)).sum::<usize>()
}

/// [`series_bytes`] of a whole vector.
pub(crate) fn vector_bytes(v: &[StepSeries]) -> usize {
    v.iter().map(series_bytes).sum()
}

/// The receiver of streamed series.
pub(crate) type Sink<'s> = &'s mut dyn FnMut(StepSeries) -> Result<()>;

/// Merges series that ended up with equal labels (after name removal) when
/// their points do not overlap; overlapping points are Prometheus's
/// "vector cannot contain metrics with the same labelset" error.
pub(crate) fn merge_same_labelset(series: Vec<StepSeries>) -> Result<Vec<StepSeries>> {
    if series.len() <= 1 {
        return Ok(series);
    }
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut out: Vec<StepSeries> = Vec::with_capacity(series.len());
    let mut merged_any = false;
    for s in series {
        match index.get(&s.metric) {
            Some(&i) => {
                merged_any = true;
                out[i].points.extend(s.points);
                out[i].hists.extend(s.hists);
            }
            None => {
                index.insert(s.metric.clone(), out.len());
                out.push(s);
            }
        }
    }
    if merged_any {
        for s in &mut out {
            if s.points.windows(2).any(|w| w[1].t <= w[0].t) {
                s.points.sort_by_key(|p| p.t);
                if s.points.windows(2).any(|w| w[1].t == w[0].t) {
                    return Err(Error::duplicate_labelset());
                }
            }
            if !s.hists.is_empty() {
                s.hists.sort_by_key(|p| p.t);
                if s.hists.windows(2).any(|w| w[1].t == w[0].t)
                    || s.hists
                        .iter()
                        .any(|h| s.points.binary_search_by_key(&h.t, |p| p.t).is_ok())
                {
                    return Err(Error::duplicate_labelset());
                }
            }
        }
    }
    Ok(out)
}

/// Releases the budget (samples and bytes) of a materialised vector when
/// the holder is done.
pub(crate) struct Held<'b> {
    budget: &'b SampleBudget,
    n: usize,
    bytes: usize,
}

impl<'b> Held<'b> {
    /// For a vector whose samples and bytes were charged as it was
    /// collected (by [`Evaluator::collect`](super::eval::Evaluator::collect),
    /// which charges `series_bytes` of each series). It must not have
    /// changed since.
    pub(crate) fn new(budget: &'b SampleBudget, series: &[StepSeries]) -> Self {
        Held {
            budget,
            n: series.iter().map(|s| s.len()).sum(),
            bytes: if budget.memory.on() {
                vector_bytes(series)
            } else {
                0
            },
        }
    }

    /// For a vector built with its samples charged but not its bytes:
    /// charges them now (failing the query over the byte limit).
    pub(crate) fn charge(budget: &'b SampleBudget, series: &[StepSeries]) -> Result<Self> {
        let n = series.iter().map(|s| s.len()).sum();
        let bytes = match budget.memory.charge(what::OUTPUT, || vector_bytes(series)) {
            Ok(b) => b,
            Err(e) => {
                budget.give(n);
                return Err(e);
            }
        };
        Ok(Held { budget, n, bytes })
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.budget.give(self.n);
        self.budget.memory.release(self.bytes);
    }
}

/// Without delayed name removal, an operator that drops the metric name
/// can make two series equal; Prometheus then fails with "vector cannot
/// contain metrics with the same labelset" when they meet at a step. The
/// timestamps seen per label set are charged to the byte budget.
pub(crate) struct UniqueLabels<'b> {
    enabled: bool,
    steps: HashMap<Labels, Vec<i64>>,
    held: MemCharge<'b>,
}

impl<'b> UniqueLabels<'b> {
    pub(crate) fn new(delayed_name_removal: bool, memory: &'b MemoryBudget) -> Self {
        UniqueLabels {
            enabled: !delayed_name_removal,
            steps: HashMap::new(),
            held: memory.guard(),
        }
    }

    pub(crate) fn check(&mut self, s: &StepSeries) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        let seen = match self.steps.entry(s.metric.clone()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                self.held
                    .add(what::SEEN, || group_bytes(e.key(), size_of::<Vec<i64>>()))?;
                e.insert(Vec::new())
            }
        };
        let cap = seen.capacity();
        let ts = s
            .points
            .iter()
            .map(|p| p.t)
            .chain(s.hists.iter().map(|h| h.t));
        if !seen.is_empty() {
            if ts.clone().any(|t| seen.binary_search(&t).is_ok()) {
                return Err(Error::duplicate_labelset());
            }
            seen.extend(ts);
            seen.sort_unstable();
        } else {
            seen.extend(ts);
            if !s.hists.is_empty() {
                seen.sort_unstable();
            }
        }
        self.held.grown(what::SEEN, cap, seen)
    }
}

/// Room for the `left` steps still to come in a series' output, taken at
/// its first point (dense series are the common case; a sparse one over
/// many steps gets at most 4096). Grown by doubling instead, a series'
/// points were reallocated some ten times, and with the series processed
/// on several threads and freed on the caller's, each reallocation waited
/// for the allocator's lock of another thread's arena.
#[inline]
pub(crate) fn reserve_steps(points: &mut Vec<FPoint>, left: usize) {
    if points.capacity() == 0 {
        points.reserve_exact(left.min(4096));
    }
}
