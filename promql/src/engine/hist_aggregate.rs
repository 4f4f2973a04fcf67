//! The histogram side of `sum` and `avg`: per-group, per-step histogram
//! state next to the float cells of `aggregate.rs`, folded in input order
//! as Prometheus does (`avg` as an incremental mean).

use aion_model::histogram::{CounterResetHint, FloatHistogram};

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
        if self.incompatible {
            return;
        }
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
