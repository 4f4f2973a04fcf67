//! Aggregation operators. Input series stream in one at a time and are
//! folded into per-group, per-step state; nothing of an input series is
//! kept once it has been folded (`topk` and friends keep the labels of the
//! series currently in their heaps).
//!
//! Within one group and step, values are folded in input order, exactly as
//! Prometheus does, so float results (Kahan sums, running means) match.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::mem::size_of;

use aion_model::{Labels, METRIC_NAME};

use super::annotations::Annotation;
use super::args::is_valid_label_name;
use super::error::{Error, Result};
use super::eval::Evaluator;
use super::hist_aggregate::HistCell;
use super::hist_binop::{tag, untag};
use super::mathx::{go_f64_to_i64, kahan_inc, quantile};
use super::memory::{group_bytes, hist_bytes, what};
use super::select::SelectHint;
use super::sort::go_sort;
use super::step::{Sink, StepSeries};
use crate::ast::{AggregateExpr, AggregateOp, Expr};
use crate::value::{FPoint, HPoint};
use aion_model::gotext::{format_float, format_go_g};

/// The labels of the group `metric` falls into.
pub(crate) fn group_labels(metric: &Labels, grouping: &[String], without: bool) -> Labels {
    let names: Vec<&str> = grouping.iter().map(String::as_str).collect();
    if without {
        let mut names = names;
        names.push(METRIC_NAME);
        metric.without(&names)
    } else if grouping.is_empty() {
        Labels::new()
    } else {
        metric.keep(&names)
    }
}

/// The largest float that converts to an `i64` without overflow, and the
/// smallest (Prometheus's `maxInt64`/`minInt64`).
const MAX_INT64: f64 = 9_223_372_036_854_774_784_i64 as f64;
const MIN_INT64: f64 = i64::MIN as f64;

/// Per-group, per-step state of the folding aggregations.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    seen: bool,
    drop_name: bool,
    incremental: bool,
    value: f64,
    c: f64,
    mean: f64,
    count: f64,
}

/// Summary of the parameter (`k`, `q`, ...) over all steps, as
/// Prometheus's `fParams`.
struct Param {
    values: Vec<f64>,
    min: f64,
    max: f64,
    has_nan: bool,
}

impl Param {
    fn new(values: Vec<f64>, constant: bool) -> Self {
        if constant {
            let v = values.first().copied().unwrap_or(0.0);
            return Param {
                min: v,
                max: v,
                has_nan: v.is_nan(),
                values,
            };
        }
        // Go's math.Max/Min: a NaN makes the result NaN.
        let mut min = f64::MAX;
        let mut max = -f64::MAX;
        let mut has_nan = false;
        for &v in &values {
            if v.is_nan() || max.is_nan() {
                max = f64::NAN;
            } else {
                max = max.max(v);
            }
            if v.is_nan() || min.is_nan() {
                min = f64::NAN;
            } else {
                min = min.min(v);
            }
            has_nan |= v.is_nan();
        }
        Param {
            values,
            min,
            max,
            has_nan,
        }
    }
}

/// A binary heap with Go's `container/heap` algorithm, so ties and NaNs
/// end up in the same places as in Prometheus.
struct GoHeap<'a> {
    items: &'a mut Vec<(f64, u32)>,
    less: fn(f64, f64) -> bool,
}

impl GoHeap<'_> {
    fn less(&self, i: usize, j: usize) -> bool {
        (self.less)(self.items[i].0, self.items[j].0)
    }

    fn push(&mut self, x: (f64, u32)) {
        self.items.push(x);
        self.up(self.items.len() - 1);
    }

    fn up(&mut self, mut j: usize) {
        while j > 0 {
            let i = (j - 1) / 2;
            if !self.less(j, i) {
                break;
            }
            self.items.swap(i, j);
            j = i;
        }
    }

    fn down(&mut self, i0: usize) -> bool {
        let n = self.items.len();
        let mut i = i0;
        loop {
            let j1 = 2 * i + 1;
            if j1 >= n {
                break;
            }
            let mut j = j1;
            let j2 = j1 + 1;
            if j2 < n && self.less(j2, j1) {
                j = j2;
            }
            if !self.less(j, i) {
                break;
            }
            self.items.swap(i, j);
            i = j;
        }
        i > i0
    }

    fn fix(&mut self, i: usize) {
        if !self.down(i) {
            self.up(i);
        }
    }
}

/// Prometheus's `vectorByValueHeap` order (NaN smallest).
fn value_less(a: f64, b: f64) -> bool {
    a.is_nan() || a < b
}

/// Prometheus's `vectorByReverseValueHeap` order (NaN "smallest").
fn reverse_value_less(a: f64, b: f64) -> bool {
    a.is_nan() || a > b
}

/// `limit_ratio`'s deterministic sampling: a series is in when the
/// position of its label hash in [0, 1) is below the ratio (or, for a
/// negative ratio, at or above `1 + ratio`).
fn ratio_sampled(metric: &Labels, ratio: f64) -> bool {
    let offset = metric.stable_hash() as f64 / u64::MAX as f64;
    (ratio >= 0.0 && offset < ratio) || (ratio < 0.0 && offset >= 1.0 + ratio)
}

impl<'c, 'q> Evaluator<'c, 'q> {
    pub(crate) fn stream_aggregate(&self, a: &AggregateExpr, sink: Sink) -> Result<()> {
        let mut grouping = a.grouping.clone();
        grouping.sort();
        match a.op {
            AggregateOp::CountValues => self.count_values(a, grouping, sink),
            AggregateOp::Topk
            | AggregateOp::Bottomk
            | AggregateOp::Limitk
            | AggregateOp::LimitRatio => self.aggregate_k(a, grouping, sink),
            _ => self.aggregate_fold(a, grouping, sink),
        }
    }

    fn param(&self, a: &AggregateExpr) -> Result<Option<Param>> {
        let Some(p) = &a.param else {
            return Ok(None);
        };
        let constant = matches!(p.unparen(), Expr::Number(_));
        Ok(Some(Param::new(self.eval_scalar(p)?, constant)))
    }

    /// Streams the aggregated expression, handing selectors the grouping
    /// as a hint.
    fn stream_input(&self, a: &AggregateExpr, sink: Sink) -> Result<()> {
        match a.expr.unparen() {
            Expr::VectorSelector(vs) => {
                let hint = SelectHint {
                    func: Some(a.op.as_str().to_string()),
                    grouping: a.grouping.clone(),
                    by: !a.without,
                };
                self.stream_vector_selector(vs, Some(&hint), sink)
            }
            e => self.stream(e, sink),
        }
    }

    fn aggregate_fold(&self, a: &AggregateExpr, grouping: Vec<String>, sink: Sink) -> Result<()> {
        let op = a.op;
        let n = self.num_steps();
        let param = self.param(a)?;
        if op == AggregateOp::Quantile {
            if let (Some(p), Some(pe)) = (&param, &a.param) {
                let span = pe.span();
                if p.has_nan {
                    self.ctx
                        .annotate(Annotation::invalid_quantile(f64::NAN, span));
                }
                if p.max > 1.0 {
                    self.ctx.annotate(Annotation::invalid_quantile(p.max, span));
                }
                if p.min < 0.0 {
                    self.ctx.annotate(Annotation::invalid_quantile(p.min, span));
                }
            }
        }
        let mut groups: Vec<Labels> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut cells: Vec<Cell> = Vec::new();
        let mut hcells: Vec<HistCell> = Vec::new();
        let mut values: Vec<Vec<f64>> = Vec::new();
        let mut held = 0usize;
        let mut state = self.ctx.budget.memory.guard();
        // A group's state per step: a cell, and for `quantile` its values.
        let step_bytes =
            size_of::<Cell>() + (op == AggregateOp::Quantile) as usize * size_of::<Vec<f64>>();
        let sums_histograms = matches!(op, AggregateOp::Sum | AggregateOp::Avg);
        let result = self.stream_input(a, &mut |s| {
            let key = group_labels(&s.metric, &grouping, a.without);
            let g = match index.get(&key) {
                Some(&g) => g,
                None => {
                    // A group's state is one cell per step.
                    self.ctx.budget.take(n)?;
                    held += n;
                    state.add(what::GROUPS, || group_bytes(&key, n * step_bytes))?;
                    let g = groups.len();
                    index.insert(key.clone(), g);
                    groups.push(key);
                    cells.resize(cells.len() + n, Cell::default());
                    if op == AggregateOp::Quantile {
                        values.resize(values.len() + n, Vec::new());
                    }
                    g
                }
            };
            let base = g * n;
            // Histogram samples: summed by `sum`/`avg`, counted by
            // `count`/`group`, ignored (with an info) by the others.
            let mut with_hists = Vec::new();
            let points: &[FPoint] = if s.hists.is_empty() {
                &s.points
            } else if sums_histograms {
                if hcells.len() < cells.len() {
                    let more = cells.len() - hcells.len();
                    state.add(what::GROUPS, || more * size_of::<HistCell>())?;
                    hcells.resize(cells.len(), HistCell::default());
                }
                for p in &s.hists {
                    let i = self.step_index(p.t);
                    let cell = &mut hcells[base + i];
                    let fresh = cell.h.is_none();
                    cell.fold(&p.h, op == AggregateOp::Avg, s.drop_name);
                    if fresh && state.on() {
                        if let Some(h) = &cell.h {
                            state.add(what::GROUPS, || hist_bytes(h))?;
                        }
                    }
                }
                &s.points
            } else if matches!(op, AggregateOp::Count | AggregateOp::Group) {
                with_hists.extend_from_slice(&s.points);
                with_hists.extend(s.hists.iter().map(|h| FPoint { t: h.t, f: 0.0 }));
                with_hists.sort_by_key(|p| p.t);
                &with_hists
            } else {
                self.ctx
                    .annotate(Annotation::histogram_ignored_in_aggregation(
                        op.as_str(),
                        a.span,
                    ));
                &s.points
            };
            for p in points {
                let i = self.step_index(p.t);
                let cell = &mut cells[base + i];
                let f = p.f;
                if !cell.seen {
                    *cell = Cell {
                        seen: true,
                        drop_name: s.drop_name,
                        incremental: false,
                        value: f,
                        c: 0.0,
                        mean: f,
                        count: 1.0,
                    };
                    match op {
                        AggregateOp::Stddev | AggregateOp::Stdvar => {
                            cell.value = if f.is_nan() || f.is_infinite() {
                                f64::NAN
                            } else {
                                0.0
                            };
                        }
                        AggregateOp::Group => cell.value = 1.0,
                        AggregateOp::Quantile => {
                            self.ctx.budget.take(1)?;
                            held += 1;
                            let v = &mut values[base + i];
                            let cap = v.capacity();
                            v.push(f);
                            state.grown(what::GROUPS, cap, v)?;
                        }
                        _ => {}
                    }
                    continue;
                }
                if s.drop_name {
                    cell.drop_name = true;
                }
                match op {
                    AggregateOp::Sum => (cell.value, cell.c) = kahan_inc(f, cell.value, cell.c),
                    AggregateOp::Avg => {
                        cell.count += 1.0;
                        if !cell.incremental {
                            let (nv, nc) = kahan_inc(f, cell.value, cell.c);
                            if !nv.is_infinite() {
                                (cell.value, cell.c) = (nv, nc);
                                continue;
                            }
                            // The sum would overflow: continue with an
                            // incremental mean.
                            cell.incremental = true;
                            cell.mean = cell.value / (cell.count - 1.0);
                            cell.c /= cell.count - 1.0;
                        }
                        let q = (cell.count - 1.0) / cell.count;
                        (cell.mean, cell.c) = kahan_inc(f / cell.count, q * cell.mean, q * cell.c);
                    }
                    AggregateOp::Max => {
                        if cell.value < f || cell.value.is_nan() {
                            cell.value = f;
                        }
                    }
                    AggregateOp::Min => {
                        if cell.value > f || cell.value.is_nan() {
                            cell.value = f;
                        }
                    }
                    AggregateOp::Count => cell.count += 1.0,
                    AggregateOp::Group => {}
                    AggregateOp::Stddev | AggregateOp::Stdvar => {
                        cell.count += 1.0;
                        let delta = f - cell.mean;
                        cell.mean += delta / cell.count;
                        cell.value += delta * (f - cell.mean);
                    }
                    AggregateOp::Quantile => {
                        self.ctx.budget.take(1)?;
                        held += 1;
                        let v = &mut values[base + i];
                        let cap = v.capacity();
                        v.push(f);
                        state.grown(what::GROUPS, cap, v)?;
                    }
                    _ => unreachable!("not a folding aggregation"),
                }
            }
            Ok(())
        });
        let out = result.map(|()| {
            let mut out = Vec::new();
            for (g, labels) in groups.into_iter().enumerate() {
                let mut points = Vec::new();
                let mut hists = Vec::new();
                let mut drop_name = false;
                for i in 0..n {
                    let cell = cells[g * n + i];
                    if let Some(hc) = hcells.get_mut(g * n + i).filter(|h| h.seen()) {
                        if cell.seen {
                            self.ctx
                                .annotate(Annotation::mixed_floats_histograms_aggregation(a.span));
                            continue;
                        }
                        if hc.incompatible {
                            self.ctx
                                .annotate(Annotation::mixed_exponential_custom("", a.span));
                            continue;
                        }
                        if hc.collision() {
                            self.ctx.annotate(Annotation::counter_reset_collision(
                                "aggregation",
                                a.span,
                            ));
                        }
                        if hc.reconciled {
                            self.ctx.annotate(Annotation::mismatched_custom_buckets(
                                "aggregation",
                                a.span,
                            ));
                        }
                        drop_name = hc.drop_name;
                        if let Some(h) = hc.take() {
                            hists.push(HPoint {
                                t: self.step_ts(i),
                                h,
                            });
                        }
                        continue;
                    }
                    if !cell.seen {
                        continue;
                    }
                    drop_name = cell.drop_name;
                    let v = match op {
                        AggregateOp::Sum => cell.value + cell.c,
                        AggregateOp::Avg => {
                            if cell.incremental {
                                cell.mean + cell.c
                            } else {
                                cell.value / cell.count + cell.c / cell.count
                            }
                        }
                        AggregateOp::Count => cell.count,
                        AggregateOp::Stdvar => cell.value / cell.count,
                        AggregateOp::Stddev => (cell.value / cell.count).sqrt(),
                        AggregateOp::Quantile => {
                            let q = param.as_ref().map_or(f64::NAN, |p| p.values[i]);
                            quantile(q, &mut values[g * n + i])
                        }
                        _ => cell.value,
                    };
                    points.push(FPoint {
                        t: self.step_ts(i),
                        f: v,
                    });
                }
                if !points.is_empty() || !hists.is_empty() {
                    out.push(StepSeries::with_hists(labels, drop_name, points, hists));
                }
            }
            out
        });
        self.ctx.budget.give(held);
        // The per-group state is done with: free it before passing on.
        drop((cells, hcells, values, index));
        drop(state);
        self.hand_on(out?, sink)
    }

    fn aggregate_k(&self, a: &AggregateExpr, grouping: Vec<String>, sink: Sink) -> Result<()> {
        let op = a.op;
        let n = self.num_steps();
        let param = self
            .param(a)?
            .ok_or_else(|| Error::eval("aggregation parameter missing"))?;
        let span = a.param.as_ref().map(|p| p.span()).unwrap_or(a.span);
        match op {
            AggregateOp::LimitRatio => {
                if param.max == 0.0 && param.min == 0.0 {
                    return self.stream_input(a, &mut |_| Ok(()));
                }
                if param.has_nan {
                    return Err(Error::eval("Ratio value is NaN"));
                }
                if param.max > 1.0 {
                    self.ctx
                        .annotate(Annotation::invalid_ratio(param.max, 1.0, span));
                }
                if param.min < -1.0 {
                    self.ctx
                        .annotate(Annotation::invalid_ratio(param.min, -1.0, span));
                }
            }
            _ => {
                if param.max < 1.0 {
                    return self.stream_input(a, &mut |_| Ok(()));
                }
                if param.has_nan {
                    return Err(Error::eval("Parameter value is NaN"));
                }
                if param.min <= MIN_INT64 {
                    return Err(Error::eval(format!(
                        "Scalar value {} underflows int64",
                        format_go_g(param.min)
                    )));
                }
                if param.max >= MAX_INT64 {
                    return Err(Error::eval(format!(
                        "Scalar value {} overflows int64",
                        format_go_g(param.max)
                    )));
                }
            }
        }
        let less: fn(f64, f64) -> bool = match op {
            AggregateOp::Bottomk => reverse_value_less,
            _ => value_less,
        };
        // Labels (and name-drop flags) of the input series; heaps refer to
        // them by index.
        let mut inputs: Vec<(Labels, bool)> = Vec::new();
        let mut groups = 0usize;
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut heaps: Vec<Vec<(f64, u32)>> = Vec::new();
        let mut hist_table: Vec<Box<aion_model::histogram::FloatHistogram>> = Vec::new();
        let mut held = 0usize;
        let mut state = self.ctx.budget.memory.guard();
        let result = self.stream_input(a, &mut |s| {
            let key = group_labels(&s.metric, &grouping, a.without);
            let g = match index.get(&key) {
                Some(&g) => g,
                None => {
                    self.ctx.budget.take(n)?;
                    held += n;
                    // One (empty) heap a step.
                    state.add(what::HEAPS, || {
                        group_bytes(&key, n * size_of::<Vec<(f64, u32)>>())
                    })?;
                    let g = groups;
                    groups += 1;
                    index.insert(key, g);
                    heaps.resize(heaps.len() + n, Vec::new());
                    g
                }
            };
            let id = inputs.len() as u32;
            if !s.hists.is_empty() && matches!(op, AggregateOp::Topk | AggregateOp::Bottomk) {
                self.ctx
                    .annotate(Annotation::histogram_ignored_in_aggregation(
                        op.as_str(),
                        a.span,
                    ));
            }
            // limitk/limit_ratio pass histograms through: they take part
            // as tagged entries (see `hist_binop.rs`).
            let mut tagged = Vec::new();
            let points: &[FPoint] = if !s.hists.is_empty()
                && matches!(op, AggregateOp::Limitk | AggregateOp::LimitRatio)
            {
                tagged.extend_from_slice(&s.points);
                for h in &s.hists {
                    tagged.push(FPoint {
                        t: h.t,
                        f: tag(hist_table.len()),
                    });
                    state.add(what::HEAPS, || {
                        size_of::<Box<aion_model::histogram::FloatHistogram>>() + hist_bytes(&h.h)
                    })?;
                    hist_table.push(h.h.clone());
                }
                tagged.sort_by_key(|p| p.t);
                &tagged
            } else {
                &s.points
            };
            for p in points {
                let i = self.step_index(p.t);
                let fparam = param.values[i];
                let heap = &mut heaps[g * n + i];
                let before = heap.len();
                match op {
                    AggregateOp::LimitRatio => {
                        if fparam == 0.0 {
                            continue;
                        }
                        let r = fparam.clamp(-1.0, 1.0);
                        if ratio_sampled(&s.metric, r) {
                            GoHeap { items: heap, less }.push((p.f, id));
                        }
                    }
                    _ => {
                        let k = go_f64_to_i64(fparam);
                        if k < 1 {
                            continue;
                        }
                        let k = k as usize;
                        if heap.len() < k {
                            GoHeap { items: heap, less }.push((p.f, id));
                        } else if op != AggregateOp::Limitk {
                            let top = heap[0].0;
                            let replace = match op {
                                AggregateOp::Topk => top < p.f || (top.is_nan() && !p.f.is_nan()),
                                _ => top > p.f || (top.is_nan() && !p.f.is_nan()),
                            };
                            if replace {
                                heap[0] = (p.f, id);
                                if k > 1 {
                                    GoHeap { items: heap, less }.fix(0);
                                }
                            }
                        }
                    }
                }
                if heap.len() > before {
                    self.ctx.budget.take(1)?;
                    held += 1;
                    // By entry (heaps hold at most k: no per-point check).
                    state.add(what::HEAPS, size_of::<(f64, u32)>)?;
                }
            }
            // The input's labels, which heap entries refer to.
            state.add(what::HEAPS, || {
                size_of::<(Labels, bool)>() + s.metric.heap_bytes()
            })?;
            inputs.push((s.metric, s.drop_name));
            Ok(())
        });
        let out = result.map(|()| {
            let mut out: Vec<StepSeries> = Vec::new();
            let sort_heap = |h: &mut Vec<(f64, u32)>| match op {
                // Descending, NaN last.
                AggregateOp::Topk => go_sort(h, |a, b| b.0.is_nan() || b.0 < a.0),
                // Ascending, NaN last.
                AggregateOp::Bottomk => go_sort(h, |a, b| b.0.is_nan() || b.0 > a.0),
                _ => {}
            };
            if self.is_instant() {
                for g in 0..groups {
                    let heap = &mut heaps[g * n];
                    if heap.len() > 1 {
                        sort_heap(heap);
                    }
                    for &(f, id) in heap.iter() {
                        let (labels, drop_name) = &inputs[id as usize];
                        let mut s = StepSeries::new(labels.clone(), *drop_name, Vec::new());
                        match untag(f) {
                            Some(h) => s.hists.push(HPoint {
                                t: self.start,
                                h: hist_table[h].clone(),
                            }),
                            None => s.points.push(FPoint { t: self.start, f }),
                        }
                        out.push(s);
                    }
                }
            } else {
                let mut by_input: HashMap<u32, usize> = HashMap::new();
                for i in 0..n {
                    for g in 0..groups {
                        let heap = &mut heaps[g * n + i];
                        if heap.len() > 1 {
                            sort_heap(heap);
                        }
                        for &(f, id) in heap.iter() {
                            let k = *by_input.entry(id).or_insert_with(|| {
                                let (labels, drop_name) = &inputs[id as usize];
                                out.push(StepSeries::new(labels.clone(), *drop_name, Vec::new()));
                                out.len() - 1
                            });
                            let t = self.step_ts(i);
                            match untag(f) {
                                Some(h) => out[k].hists.push(HPoint {
                                    t,
                                    h: hist_table[h].clone(),
                                }),
                                None => out[k].points.push(FPoint { t, f }),
                            }
                        }
                    }
                }
            }
            out
        });
        self.ctx.budget.give(held);
        drop((inputs, index, heaps, hist_table));
        drop(state);
        self.hand_on(out?, sink)
    }

    fn count_values(&self, a: &AggregateExpr, mut grouping: Vec<String>, sink: Sink) -> Result<()> {
        let label = match a.param.as_deref().map(Expr::unparen) {
            Some(Expr::String(s)) => s,
            _ => return Err(Error::eval("count_values needs a string parameter")),
        };
        if !is_valid_label_name(label.bytes()) {
            return Err(Error::eval(format!(
                "invalid label name {}",
                label.go_quoted()
            )));
        }
        let value_label = label.value.clone();
        if !a.without {
            grouping.push(value_label.clone());
            grouping.sort();
        }
        let mut order: Vec<Labels> = Vec::new();
        let mut counts: HashMap<Labels, Vec<(usize, f64)>> = HashMap::new();
        let mut state = self.ctx.budget.memory.guard();
        self.stream_input(a, &mut |s| {
            // Histograms count by their text form, as in Prometheus.
            let values = s
                .points
                .iter()
                .map(|p| (p.t, format_float(p.f)))
                .chain(s.hists.iter().map(|h| (h.t, h.h.to_string())));
            for (t, text) in values {
                let p = FPoint { t, f: 0.0 };
                let mut b = s.metric.builder();
                b.set(&value_label, &text);
                let metric = b.build().map_err(|e| Error::eval(e.to_string()))?;
                let key = group_labels(&metric, &grouping, a.without);
                let i = self.step_index(p.t);
                let entry = match counts.entry(key) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => {
                        state.add(what::GROUPS, || {
                            group_bytes(e.key(), size_of::<Vec<(usize, f64)>>())
                        })?;
                        order.push(e.key().clone());
                        e.insert(Vec::new())
                    }
                };
                match entry.iter_mut().find(|(step, _)| *step == i) {
                    Some((_, c)) => *c += 1.0,
                    None => {
                        self.ctx.budget.take(1)?;
                        state.add(what::GROUPS, size_of::<(usize, f64)>)?;
                        entry.push((i, 1.0));
                    }
                }
            }
            Ok(())
        })?;
        for labels in order {
            let mut steps = counts.remove(&labels).unwrap_or_default();
            self.ctx.budget.give(steps.len());
            steps.sort_by_key(|(i, _)| *i);
            let points = steps
                .into_iter()
                .map(|(i, f)| FPoint {
                    t: self.step_ts(i),
                    f,
                })
                .collect();
            sink(StepSeries::new(labels, false, points))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_heap_matches_container_heap() {
        // Pushing 3, 1, 2 into a min-heap: Go's heap array is [1 3 2].
        let mut v = Vec::new();
        let mut h = GoHeap {
            items: &mut v,
            less: value_less,
        };
        h.push((3.0, 0));
        h.push((1.0, 1));
        h.push((2.0, 2));
        assert_eq!(v.iter().map(|x| x.0).collect::<Vec<_>>(), [1.0, 3.0, 2.0]);
    }

    #[test]
    fn grouping() {
        let m = Labels::from_pairs(&[("__name__", "x"), ("a", "1"), ("b", "2")]).unwrap();
        assert_eq!(
            group_labels(&m, &["a".into()], false),
            Labels::from_pairs(&[("a", "1")]).unwrap()
        );
        assert_eq!(
            group_labels(&m, &["a".into()], true),
            Labels::from_pairs(&[("b", "2")]).unwrap()
        );
        assert_eq!(group_labels(&m, &[], false), Labels::new());
    }
}
