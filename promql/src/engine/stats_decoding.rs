//! Which selectors read histograms only for their count and sum
//! (Prometheus's `detectHistogramStatsDecoding`): those under
//! `histogram_count`, `histogram_sum` or `histogram_avg` with no
//! subquery, `histogram_quantile(s)`, `histogram_fraction` or trimming
//! operator above them.
//!
//! Prometheus reads those through its `HistogramStatsIterator`, which
//! also decides counter resets on the fly: a histogram stored without a
//! hint gets "reset" or "not reset" by comparison with the histogram read
//! before it. The cursors do the same for these selectors
//! ([`StatsHints`]), so aggregations see the same hints.

use std::collections::HashSet;

use aion_model::histogram::{CounterResetHint, FloatHistogram};

use crate::ast::{BinaryOp, Expr, VectorSelector};

/// The selectors (by address) that are read for statistics.
pub(crate) fn stats_selectors(expr: &Expr) -> HashSet<usize> {
    let mut out = HashSet::new();
    expr.accept(&mut |e: &Expr, path: &[&Expr]| {
        let vs: &VectorSelector = match e {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(ms) => &ms.selector,
            _ => return true,
        };
        let mut stats = false;
        for p in path.iter().rev() {
            match p {
                Expr::Subquery(_) => {
                    stats = false;
                    break;
                }
                Expr::Call(c) => match c.func.name {
                    "histogram_count" | "histogram_sum" | "histogram_avg" => stats = true,
                    "histogram_quantile" | "histogram_quantiles" | "histogram_fraction" => {
                        stats = false;
                        break;
                    }
                    _ => {}
                },
                Expr::Binary(b) if matches!(b.op, BinaryOp::TrimUpper | BinaryOp::TrimLower) => {
                    stats = false;
                    break;
                }
                _ => {}
            }
        }
        if stats {
            out.insert(vs as *const VectorSelector as usize);
        }
        true
    });
    out
}

/// Counter-reset hints decided while reading, for selectors read for
/// statistics.
#[derive(Default)]
pub(crate) struct StatsHints {
    enabled: bool,
    prev: Option<FloatHistogram>,
}

impl StatsHints {
    pub(crate) fn new(enabled: bool) -> Self {
        StatsHints {
            enabled,
            prev: None,
        }
    }

    /// Sets the hint of `h`, just read after `prev` (when `contiguous`:
    /// read by `next`, not after a `seek` jumped over samples).
    pub(crate) fn apply(&mut self, h: &mut FloatHistogram, contiguous: bool) {
        if !self.enabled {
            return;
        }
        if !contiguous {
            self.prev = None;
        }
        if h.counter_reset_hint == CounterResetHint::Unknown {
            if let Some(p) = &self.prev {
                h.counter_reset_hint = if h.detect_reset(p) {
                    CounterResetHint::CounterReset
                } else {
                    CounterResetHint::NotCounterReset
                };
            }
        }
        match &mut self.prev {
            Some(p) => p.clone_from(h),
            None => self.prev = Some(h.clone()),
        }
    }

    /// A float sample came between histograms.
    #[inline]
    pub(crate) fn float_seen(&mut self) {
        if self.prev.is_some() {
            self.prev = None;
        }
    }
}
