//! The histogram side of `sum` and `avg`: per-group, per-step histogram
//! state next to the float cells of `aggregate.rs`, folded in input order
//! as Prometheus does (`avg` as an incremental mean).

use aion_model::histogram::{CounterResetHint, FloatHistogram};

use super::mathx::kahan_inc;

/// Kahan-compensated totals of the `sum` and `count` fields, which
/// Prometheus sums with compensation (so `1e100 + x - 1e100` keeps `x`).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KahanFields {
    sum: (f64, f64),
    count: (f64, f64),
}

impl KahanFields {
    pub(crate) fn add(&mut self, h: &FloatHistogram) {
        self.sum = kahan_inc(h.sum, self.sum.0, self.sum.1);
        self.count = kahan_inc(h.count, self.count.0, self.count.1);
    }

    /// The compensated totals, divided by `n`.
    pub(crate) fn totals(&self, n: f64) -> (f64, f64) {
        let s = if self.sum.0.is_infinite() {
            self.sum.0
        } else {
            self.sum.0 + self.sum.1
        };
        let c = if self.count.0.is_infinite() {
            self.count.0
        } else {
            self.count.0 + self.count.1
        };
        (s / n, c / n)
    }
}

/// One group's histogram state at one step.
#[derive(Debug, Default, Clone)]
pub(crate) struct HistCell {
    /// The sum (or mean) so far.
    pub h: Option<Box<FloatHistogram>>,
    count: f64,
    /// Exponential and custom-bucket histograms met: no result.
    pub incompatible: bool,
    pub drop_name: bool,
    reset: bool,
    not_reset: bool,
    /// Custom bounds were reconciled on the way.
    pub reconciled: bool,
    kahan: KahanFields,
    avg: bool,
}

impl HistCell {
    /// Whether a histogram was folded in.
    pub fn seen(&self) -> bool {
        self.count > 0.0
    }

    /// A collision of "reset" and "not reset" hints among the inputs.
    pub fn collision(&self) -> bool {
        self.reset && self.not_reset
    }

    /// Folds `h` into a sum (`avg == false`) or a running mean.
    pub fn fold(&mut self, h: &FloatHistogram, avg: bool, drop_name: bool) {
        self.drop_name |= drop_name;
        match h.counter_reset_hint {
            CounterResetHint::CounterReset => self.reset = true,
            CounterResetHint::NotCounterReset => self.not_reset = true,
            _ => {}
        }
        self.count += 1.0;
        self.avg = avg;
        if self.incompatible {
            return;
        }
        self.kahan.add(h);
        let Some(acc) = &mut self.h else {
            self.h = Some(Box::new(h.clone()));
            return;
        };
        let r = if avg {
            let mut left = h.clone();
            left.div(self.count);
            let mut right = (**acc).clone();
            right.div(self.count);
            left.sub(&right).and_then(|o| {
                let p = acc.add(&left)?;
                Ok(super::hist_aggregate::merge(o, p))
            })
        } else {
            acc.add(h)
        };
        match r {
            Ok(o) => self.reconciled |= o.custom_bounds_reconciled,
            Err(_) => self.incompatible = true,
        }
    }

    /// The result, compacted.
    pub fn take(&mut self) -> Option<Box<FloatHistogram>> {
        let mut h = self.h.take()?;
        let (sum, count) = self.kahan.totals(if self.avg { self.count } else { 1.0 });
        h.sum = sum;
        if !self.avg || count.is_finite() {
            // A mean's count may only be representable incrementally.
            h.count = count;
        }
        h.compact(0);
        Some(h)
    }
}

fn merge(
    a: aion_model::histogram::OpOutcome,
    b: aion_model::histogram::OpOutcome,
) -> aion_model::histogram::OpOutcome {
    aion_model::histogram::OpOutcome {
        counter_reset_collision: a.counter_reset_collision || b.counter_reset_collision,
        custom_bounds_reconciled: a.custom_bounds_reconciled || b.custom_bounds_reconciled,
    }
}
