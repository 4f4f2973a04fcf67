//! Binary operators: scalar–scalar, vector–scalar (streamed per series)
//! and vector–vector with Prometheus's vector matching (one-to-one,
//! `group_left`/`group_right`, set operators, `fill` modifiers).

use std::collections::{HashMap, HashSet};
use std::mem::size_of;

use aion_model::{Labels, METRIC_NAME};

use aion_model::gotext::go_quote;

use super::annotations::Annotation;
use super::arith::elem_binop;
use super::error::{Error, Result};
use super::eval::Evaluator;
use super::fxhash::{FxHashMap, FxHasher};
use super::hist_binop::{hist_elem_binop, tag, untag, HistElem, HistOpNotes};
use super::memory::what;
use super::step::{drop_metadata, Held, Sink, StepSeries, UniqueLabels};
use crate::ast::{BinaryExpr, BinaryOp, Cardinality, ValueType, VectorMatching};
use crate::value::{FPoint, HPoint};
use aion_model::histogram::FloatHistogram;

/// Arithmetic changes what a metric means, so its name goes.
fn changes_metric_schema(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::Pow
            | BinaryOp::Mod
            | BinaryOp::Atan2
    )
}

fn incompatible_types(op: BinaryOp, b: &BinaryExpr) -> Annotation {
    Annotation::info(
        format!(
            "incompatible sample types encountered for binary operator {}: float {} float",
            go_quote(op.as_str()),
            op.as_str()
        ),
        Some(b.lhs.span().to(b.rhs.span())),
    )
}

/// Prometheus's `MatchLabels`: the labels a series is matched on.
fn match_labels(metric: &Labels, on: bool, names: &[String]) -> Labels {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    if on {
        metric.keep(&names)
    } else {
        let mut names = names;
        names.push(METRIC_NAME);
        metric.without(&names)
    }
}

/// The points of materialised series regrouped by step: `entries[offsets[i]
/// .. offsets[i+1]]` are the `(series index, value)` pairs at step `i`, in
/// series order (the order Prometheus gathers a step's vector in).
struct ByStep {
    offsets: Vec<usize>,
    entries: Vec<(u32, f64)>,
}

/// What vector matching allocates besides its inputs (charged before it
/// does): both sides' [`ByStep`] indexes (offsets twice, one entry a
/// point), signatures and output slots per series, and per signature its
/// key labels (at most one per series) and matching slots.
fn matching_bytes(steps: usize, lhs: &[StepSeries], rhs: &[StepSeries]) -> usize {
    let sides = [lhs, rhs];
    let points: usize = sides.iter().flat_map(|v| v.iter()).map(|s| s.len()).sum();
    let series = lhs.len() + rhs.len();
    let keys: usize = sides
        .iter()
        .flat_map(|v| v.iter())
        .map(|s| s.metric.heap_bytes())
        .sum();
    2 * 2 * (steps + 1) * size_of::<usize>()
        + points * size_of::<(u32, f64)>()
        + series * (size_of::<u32>() + size_of::<usize>())
        + keys
        + series
            * (size_of::<Labels>()
                + size_of::<u32>()
                + size_of::<(usize, u32, f64)>()
                + 3 * size_of::<usize>())
}

impl ByStep {
    /// Histogram points become tagged entries referring to `table`.
    fn new<'s>(
        ev: &Evaluator,
        series: &'s [StepSeries],
        table: &mut Vec<&'s FloatHistogram>,
    ) -> Self {
        let n = ev.num_steps();
        let mut offsets = vec![0usize; n + 1];
        for s in series {
            for p in &s.points {
                offsets[ev.step_index(p.t) + 1] += 1;
            }
            for p in &s.hists {
                offsets[ev.step_index(p.t) + 1] += 1;
            }
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut entries = vec![(0u32, 0.0); offsets[n]];
        for (si, s) in series.iter().enumerate() {
            for p in &s.points {
                let i = ev.step_index(p.t);
                entries[fill[i]] = (si as u32, p.f);
                fill[i] += 1;
            }
            for p in &s.hists {
                let i = ev.step_index(p.t);
                entries[fill[i]] = (si as u32, tag(table.len()));
                table.push(&p.h);
                fill[i] += 1;
            }
        }
        ByStep { offsets, entries }
    }

    fn at(&self, i: usize) -> &[(u32, f64)] {
        &self.entries[self.offsets[i]..self.offsets[i + 1]]
    }
}

/// Collects a binary operation's per-step output into series.
struct Output<'e, 'c, 'q> {
    ev: &'e Evaluator<'c, 'q>,
    series: Vec<StepSeries>,
    index: HashMap<Labels, usize>,
    // Duplicates within one step are only an error at this point in range
    // evaluation, or without delayed name removal (Prometheus's
    // `rangeEval`); otherwise the final clean-up (or an aggregation above)
    // deals with them, so they are kept as separate series.
    check_dups: bool,
}

impl<'e, 'c, 'q> Output<'e, 'c, 'q> {
    fn new(ev: &'e Evaluator<'c, 'q>) -> Self {
        Output {
            ev,
            series: Vec::new(),
            index: HashMap::new(),
            check_dups: !ev.is_instant() || !ev.delayed(),
        }
    }

    /// The output series for `metric` (one per label set, unless
    /// duplicates are kept apart).
    fn series_for(&mut self, metric: &Labels, drop_name: bool) -> usize {
        if self.check_dups {
            if let Some(&k) = self.index.get(metric) {
                return k;
            }
            self.index.insert(metric.clone(), self.series.len());
        }
        self.series
            .push(StepSeries::new(metric.clone(), drop_name, Vec::new()));
        self.series.len() - 1
    }

    /// Adds a point to output series `k`.
    #[inline]
    fn push(&mut self, k: usize, t: i64, f: f64) -> Result<()> {
        self.ev.ctx.budget.take(1)?;
        let s = &mut self.series[k];
        if s.points.last().is_some_and(|p| p.t == t) {
            return Err(Error::duplicate_labelset());
        }
        s.points.push(FPoint { t, f });
        Ok(())
    }

    /// Adds a histogram point to output series `k`.
    fn push_hist(&mut self, k: usize, t: i64, h: Box<FloatHistogram>) -> Result<()> {
        self.ev.ctx.budget.take(1)?;
        let s = &mut self.series[k];
        if s.hists.last().is_some_and(|p| p.t == t) || s.points.last().is_some_and(|p| p.t == t) {
            return Err(Error::duplicate_labelset());
        }
        s.hists.push(HPoint { t, h });
        Ok(())
    }

    fn finish(self, sink: Sink) -> Result<()> {
        let held = Held::charge(&self.ev.ctx.budget, &self.series)?;
        for s in self.series {
            if !s.is_empty() {
                sink(s)?;
            }
        }
        drop(held);
        Ok(())
    }
}

impl<'c, 'q> Evaluator<'c, 'q> {
    pub(crate) fn stream_binary(&self, b: &BinaryExpr, sink: Sink) -> Result<()> {
        let lt = b.lhs.value_type();
        let rt = b.rhs.value_type();
        match (lt, rt) {
            (ValueType::Vector, ValueType::Scalar) => {
                let scalar = self.eval_scalar(&b.rhs)?;
                self.stream_vector_scalar(b, &b.lhs, &scalar, false, sink)
            }
            (ValueType::Scalar, ValueType::Vector) => {
                let scalar = self.eval_scalar(&b.lhs)?;
                self.stream_vector_scalar(b, &b.rhs, &scalar, true, sink)
            }
            (ValueType::Vector, ValueType::Vector) => {
                let default_matching;
                let matching = match &b.matching {
                    Some(m) => m,
                    None => {
                        default_matching = VectorMatching {
                            card: if b.op.is_set_operator() {
                                Cardinality::ManyToMany
                            } else {
                                Cardinality::OneToOne
                            },
                            matching_labels: Vec::new(),
                            on: false,
                            include: Vec::new(),
                            fill: Default::default(),
                        };
                        &default_matching
                    }
                };
                let lhs = self.collect(&b.lhs)?;
                let _lheld = Held::new(&self.ctx.budget, &lhs);
                let rhs = self.collect(&b.rhs)?;
                let _rheld = Held::new(&self.ctx.budget, &rhs);
                let mut state = self.ctx.budget.memory.guard();
                state.add(what::MATCHING, || {
                    matching_bytes(self.num_steps(), &lhs, &rhs)
                })?;
                if b.op.is_set_operator() {
                    self.set_operation(b.op, matching, &lhs, &rhs, sink)
                } else {
                    self.vector_binop(b, matching, &lhs, &rhs, sink)
                }
            }
            _ => Err(Error::eval("invalid operand types for binary operation")),
        }
    }

    fn stream_vector_scalar(
        &self,
        b: &BinaryExpr,
        vector: &crate::ast::Expr,
        scalar: &[f64],
        swap: bool,
        sink: Sink,
    ) -> Result<()> {
        let op = b.op;
        let mut seen = UniqueLabels::new(self.delayed(), &self.ctx.budget.memory);
        let mut incompatible = false;
        let mut hist_incompatible = None;
        let mut notes = HistOpNotes::default();
        self.stream(vector, &mut |mut s| {
            if !s.hists.is_empty() {
                let hists = std::mem::take(&mut s.hists);
                for p in hists {
                    let sv = scalar[self.step_index(p.t)];
                    let (l, r) = if swap {
                        ((sv, None), (0.0, Some(&*p.h)))
                    } else {
                        ((0.0, Some(&*p.h)), (sv, None))
                    };
                    match hist_elem_binop(op, l, r, &mut notes) {
                        HistElem::Hist(h, keep) => {
                            if b.return_bool {
                                s.points.push(FPoint {
                                    t: p.t,
                                    f: if keep { 1.0 } else { 0.0 },
                                });
                            } else if keep {
                                s.hists.push(HPoint { t: p.t, h });
                            }
                        }
                        HistElem::Incompatible(lt, rt) => hist_incompatible = Some((lt, rt)),
                        HistElem::MixedSchemas => {}
                    }
                }
                if !s.points.windows(2).all(|w| w[0].t < w[1].t) {
                    s.points.sort_by_key(|p| p.t);
                }
            }
            s.points.retain_mut(|p| {
                let sv = scalar[self.step_index(p.t)];
                let (l, r) = if swap { (sv, p.f) } else { (p.f, sv) };
                let Some((mut v, mut keep)) = elem_binop(op, l, r) else {
                    incompatible = true;
                    return false;
                };
                // A comparison keeps the vector's value, whichever side
                // it is on.
                if op.is_comparison() && swap {
                    v = r;
                }
                if b.return_bool {
                    v = if keep { 1.0 } else { 0.0 };
                    keep = true;
                }
                p.f = v;
                keep
            });
            if s.is_empty() {
                return Ok(());
            }
            if changes_metric_schema(op) || b.return_bool {
                self.mark_drop_name(&mut s);
            }
            seen.check(&s)?;
            sink(s)
        })?;
        if incompatible {
            self.ctx.annotate(incompatible_types(op, b));
        }
        if let Some((lt, rt)) = hist_incompatible {
            self.ctx.annotate(Annotation::incompatible_types_in_binop(
                op.as_str(),
                lt,
                rt,
                b.lhs.span().to(b.rhs.span()),
            ));
        }
        Ok(())
    }

    /// Ordinals of each series' matching signature (equal signatures get
    /// equal ordinals across both sides).
    fn signatures(
        &self,
        matching: &VectorMatching,
        lhs: &[StepSeries],
        rhs: &[StepSeries],
    ) -> (Vec<u32>, Vec<u32>, usize) {
        let mut ordinals: HashMap<Labels, u32> = HashMap::new();
        let mut sig = |s: &StepSeries| {
            let key = match_labels(&s.metric, matching.on, &matching.matching_labels);
            let next = ordinals.len() as u32;
            *ordinals.entry(key).or_insert(next)
        };
        let l: Vec<u32> = lhs.iter().map(&mut sig).collect();
        let r: Vec<u32> = rhs.iter().map(&mut sig).collect();
        let n = ordinals.len();
        (l, r, n)
    }

    fn set_operation(
        &self,
        op: BinaryOp,
        matching: &VectorMatching,
        lhs: &[StepSeries],
        rhs: &[StepSeries],
        sink: Sink,
    ) -> Result<()> {
        let (lsig, rsig, nsigs) = self.signatures(matching, lhs, rhs);
        let mut table = Vec::new();
        let lsteps = ByStep::new(self, lhs, &mut table);
        let rsteps = ByStep::new(self, rhs, &mut table);
        let table = &table;
        let mut present = vec![usize::MAX; nsigs];
        let mut out = Output::new(self);
        // Output series of each input series, created on first use.
        let mut lout = vec![usize::MAX; lhs.len()];
        let mut rout = vec![usize::MAX; rhs.len()];
        let emit = |out: &mut Output<'_, 'c, 'q>,
                    cache: &mut Vec<usize>,
                    side: &[StepSeries],
                    (si, f): (u32, f64),
                    t: i64| {
            let k = match cache[si as usize] {
                usize::MAX => {
                    let s = &side[si as usize];
                    let k = out.series_for(&s.metric, s.drop_name);
                    cache[si as usize] = k;
                    k
                }
                k => k,
            };
            match untag(f) {
                Some(h) => out.push_hist(k, t, Box::new(table[h].clone())),
                None => out.push(k, t, f),
            }
        };
        for i in 0..self.num_steps() {
            self.ctx.stop.check()?;
            let t = self.step_ts(i);
            let (l, r) = (lsteps.at(i), rsteps.at(i));
            match op {
                BinaryOp::And => {
                    if l.is_empty() || r.is_empty() {
                        continue;
                    }
                    for &(si, _) in r {
                        present[rsig[si as usize] as usize] = i;
                    }
                    for &e in l {
                        if present[lsig[e.0 as usize] as usize] == i {
                            emit(&mut out, &mut lout, lhs, e, t)?;
                        }
                    }
                }
                BinaryOp::Or => {
                    for &e in l {
                        present[lsig[e.0 as usize] as usize] = i;
                        emit(&mut out, &mut lout, lhs, e, t)?;
                    }
                    for &e in r {
                        if l.is_empty() || present[rsig[e.0 as usize] as usize] != i {
                            emit(&mut out, &mut rout, rhs, e, t)?;
                        }
                    }
                }
                _ => {
                    // unless
                    for &(si, _) in r {
                        present[rsig[si as usize] as usize] = i;
                    }
                    for &e in l {
                        if r.is_empty() || present[lsig[e.0 as usize] as usize] != i {
                            emit(&mut out, &mut lout, lhs, e, t)?;
                        }
                    }
                }
            }
        }
        out.finish(sink)
    }

    fn vector_binop(
        &self,
        b: &BinaryExpr,
        matching: &VectorMatching,
        lhs_in: &[StepSeries],
        rhs_in: &[StepSeries],
        sink: Sink,
    ) -> Result<()> {
        let (lsig_in, rsig_in, nsigs) = self.signatures(matching, lhs_in, rhs_in);
        let mut table = Vec::new();
        let lsteps_in = ByStep::new(self, lhs_in, &mut table);
        let rsteps_in = ByStep::new(self, rhs_in, &mut table);
        // For one-to-many matching, swap the sides so the "one" side is
        // always on the right; values are swapped back for the operation.
        let swapped = matching.card == Cardinality::OneToMany;
        let (lhs, rhs, lsig, rsig, lsteps, rsteps) = if swapped {
            (rhs_in, lhs_in, &rsig_in, &lsig_in, &rsteps_in, &lsteps_in)
        } else {
            (lhs_in, rhs_in, &lsig_in, &rsig_in, &lsteps_in, &rsteps_in)
        };
        let fill = matching.fill;
        let mut right: Vec<(usize, u32, f64)> = vec![(usize::MAX, 0, 0.0); nsigs];
        let mut m = Matching {
            b,
            matching,
            swapped,
            drop_name: !self.delayed() && b.return_bool,
            lhs,
            rhs,
            step: 0,
            t: 0,
            matched_one: vec![usize::MAX; nsigs],
            matched_many: HashSet::default(),
            matched_count: vec![(usize::MAX, 0); nsigs],
            pairs: FxHashMap::default(),
            incompatible: false,
            table: &table,
            hist_incompatible: None,
            hist_notes: HistOpNotes::default(),
            mixed_schemas: false,
            out: Output::new(self),
        };

        for i in 0..self.num_steps() {
            self.ctx.stop.check()?;
            let (l, r) = (lsteps.at(i), rsteps.at(i));
            if (l.is_empty() && r.is_empty())
                || ((l.is_empty() || r.is_empty()) && fill.lhs.is_none() && fill.rhs.is_none())
            {
                continue;
            }
            m.step = i;
            m.t = self.step_ts(i);
            m.matched_many.clear();
            // The "one" side by signature; two series with one signature
            // there is many-to-many matching.
            for &(si, f) in r {
                let sig = rsig[si as usize];
                let slot = &mut right[sig as usize];
                if slot.0 == i {
                    let one_side = if swapped { "left" } else { "right" };
                    let s = &rhs[si as usize].metric;
                    return Err(Error::eval(format!(
                        "found duplicate series for the match group {} on the {} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                        match_labels(s, matching.on, &matching.matching_labels),
                        one_side,
                        s,
                        rhs[slot.1 as usize].metric
                    )));
                }
                *slot = (i, si, f);
            }
            for &(si, f) in l {
                let sig = lsig[si as usize];
                let slot = right[sig as usize];
                if slot.0 == i {
                    m.apply((Some(si), f), (Some(slot.1), slot.2), sig)?;
                } else if let Some(fv) = fill.rhs {
                    m.apply((Some(si), f), (None, fv), sig)?;
                }
            }
            if let Some(fv) = fill.lhs {
                for &(si, f) in r {
                    let sig = rsig[si as usize];
                    let done = if matching.card == Cardinality::OneToOne {
                        m.matched_one[sig as usize] == i
                    } else {
                        m.matched_count[sig as usize].0 == i && m.matched_count[sig as usize].1 > 0
                    };
                    if !done {
                        m.apply((None, fv), (Some(si), f), sig)?;
                    }
                }
            }
        }
        if m.incompatible {
            self.ctx.annotate(incompatible_types(b.op, b));
        }
        let span = b.lhs.span().to(b.rhs.span());
        if let Some((lt, rt)) = m.hist_incompatible {
            self.ctx.annotate(Annotation::incompatible_types_in_binop(
                b.op.as_str(),
                lt,
                rt,
                span,
            ));
        }
        let operation = if b.op == BinaryOp::Sub {
            "subtraction"
        } else {
            "addition"
        };
        if m.hist_notes.collision {
            self.ctx
                .annotate(Annotation::counter_reset_collision(operation, span));
        }
        if m.hist_notes.reconciled {
            self.ctx
                .annotate(Annotation::mismatched_custom_buckets(operation, span));
        }
        if m.mixed_schemas {
            self.ctx
                .annotate(Annotation::mixed_exponential_custom("", span));
        }
        m.out.finish(sink)
    }
}

/// The state of one vector–vector operation across its steps.
struct Matching<'a, 'c, 'q> {
    b: &'a BinaryExpr,
    matching: &'a VectorMatching,
    swapped: bool,
    drop_name: bool,
    /// The "many" side (after swapping for `group_right`).
    lhs: &'a [StepSeries],
    /// The "one" side.
    rhs: &'a [StepSeries],
    step: usize,
    t: i64,
    matched_one: Vec<usize>,
    /// `(signature, output series)` pairs produced at the current step:
    /// one signature must not produce one label set twice.
    matched_many: HashSet<(u32, usize), std::hash::BuildHasherDefault<FxHasher>>,
    matched_count: Vec<(usize, u32)>,
    /// Output series of each matched pair (`u32::MAX`: a fill value).
    pairs: FxHashMap<(u32, u32), usize>,
    incompatible: bool,
    /// Histograms of tagged entries.
    table: &'a [&'a FloatHistogram],
    hist_incompatible: Option<(&'static str, &'static str)>,
    hist_notes: HistOpNotes,
    mixed_schemas: bool,
    out: Output<'a, 'c, 'q>,
}

impl Matching<'_, '_, '_> {
    /// Prometheus's `resultMetric`.
    fn result_metric(&self, ls: &Labels, rs: &Labels) -> Labels {
        let op = self.b.op;
        let mut l = if self.drop_name || changes_metric_schema(op) {
            drop_metadata(ls)
        } else {
            ls.clone()
        };
        if self.matching.card == Cardinality::OneToOne {
            let names: Vec<&str> = self
                .matching
                .matching_labels
                .iter()
                .map(String::as_str)
                .collect();
            l = if self.matching.on {
                l.keep(&names)
            } else {
                l.without(&names)
            };
        }
        if !self.matching.include.is_empty() {
            let mut bld = l.builder();
            for name in &self.matching.include {
                match rs.get(name) {
                    Some(v) if !v.is_empty() => bld.set(name, v),
                    _ => bld.del(&[name.as_str()]),
                };
            }
            l = bld.build().unwrap_or(l);
        }
        l
    }

    /// One matched pair (or a sample and a fill value, `None` index) of
    /// the many side `ls` and the one side `rs`.
    fn apply(&mut self, ls: (Option<u32>, f64), rs: (Option<u32>, f64), sig: u32) -> Result<()> {
        let (mut fl, mut fr) = (ls.1, rs.1);
        if self.swapped {
            std::mem::swap(&mut fl, &mut fr);
        }
        let (hl, hr) = (untag(fl), untag(fr));
        let mut hist_result = None;
        let (mut v, keep) = if hl.is_some() || hr.is_some() {
            let table = self.table;
            let l = (fl, hl.map(|i| table[i]));
            let r = (fr, hr.map(|i| table[i]));
            match hist_elem_binop(self.b.op, l, r, &mut self.hist_notes) {
                HistElem::Hist(h, keep) => {
                    hist_result = Some(h);
                    (0.0, keep)
                }
                HistElem::Incompatible(lt, rt) => {
                    self.hist_incompatible = Some((lt, rt));
                    return Ok(());
                }
                HistElem::MixedSchemas => {
                    self.mixed_schemas = true;
                    return Ok(());
                }
            }
        } else {
            let Some(r) = elem_binop(self.b.op, fl, fr) else {
                self.incompatible = true;
                return Ok(());
            };
            r
        };
        if self.b.return_bool {
            v = if keep { 1.0 } else { 0.0 };
            hist_result = None;
        }
        let key = (ls.0.unwrap_or(u32::MAX), rs.0.unwrap_or(u32::MAX));
        let k = match self.pairs.get(&key) {
            Some(&k) => k,
            None => {
                let on = self.matching.on;
                let names = &self.matching.matching_labels;
                let metric = match (ls.0, rs.0) {
                    (Some(a), Some(c)) => self
                        .result_metric(&self.lhs[a as usize].metric, &self.rhs[c as usize].metric),
                    (Some(a), None) => {
                        let l = &self.lhs[a as usize].metric;
                        self.result_metric(l, &match_labels(l, on, names))
                    }
                    (None, Some(c)) => {
                        let r = &self.rhs[c as usize].metric;
                        self.result_metric(&match_labels(r, on, names), r)
                    }
                    (None, None) => return Ok(()),
                };
                let k = self.out.series_for(&metric, self.b.return_bool);
                self.pairs.insert(key, k);
                k
            }
        };
        let i = self.step;
        if self.matching.card == Cardinality::OneToOne {
            if self.matched_one[sig as usize] == i {
                return Err(Error::eval(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                ));
            }
            self.matched_one[sig as usize] = i;
        } else {
            if !self.matched_many.insert((sig, k)) {
                return Err(Error::eval(
                    "multiple matches for labels: grouping labels must ensure unique matches",
                ));
            }
            let c = &mut self.matched_count[sig as usize];
            if c.0 != i {
                *c = (i, 0);
            }
            c.1 += 1;
        }
        if !keep && !self.b.return_bool {
            return Ok(());
        }
        match hist_result {
            Some(h) => self.out.push_hist(k, self.t, h),
            None => self.out.push(k, self.t, v),
        }
    }
}
