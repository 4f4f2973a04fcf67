//! Thanos's penalty algorithm: several replicas of one series merged into
//! one sample stream that follows one replica at a time.
//!
//! Replicas scrape the same target at shifted times, so uniting their
//! samples would double the sample rate (and make `rate` see jitter).
//! Instead the merge yields the earliest next sample of either side, and
//! the side it did not pick must then skip ahead by a penalty of twice the
//! last yielded interval before it can be picked: a replica is left only
//! when it has a gap longer than two scrape intervals. Before an interval
//! is known the penalty is [`INITIAL_PENALTY_MS`]. Several replicas are a
//! chain of two-way merges, as in Thanos.

use std::error::Error as StdError;

use aion_chunkenc::{SampleIterator, ValueType};
use aion_model::histogram::{CounterResetHint, FloatHistogram, Histogram};

use super::{Adjustable, CounterAdjust, NoAdjust};

/// The penalty (ms) of the replica not picked when no interval is known
/// yet: scrape intervals are seconds, so 5 s, as Thanos's `initialPenalty`.
pub const INITIAL_PENALTY_MS: i64 = 5000;

/// Two replicas merged by the penalty algorithm; `a` is preferred on equal
/// timestamps. It is itself [`Adjustable`], so merges nest.
pub struct PenaltyIterator<'a> {
    a: Box<dyn Adjustable + 'a>,
    b: Box<dyn Adjustable + 'a>,
    aval: ValueType,
    bval: ValueType,
    /// Timestamp of the last sample yielded; `None` before the first.
    last_t: Option<i64>,
    /// How far past `last_t + 1` each side must seek before it may be
    /// picked.
    pen_a: i64,
    pen_b: i64,
    /// Which side the current sample is from.
    use_a: bool,
    /// Whether the current sample's predecessor came from the other side:
    /// its own iterator's counter-reset hint then speaks of a sample the
    /// merge did not yield.
    switched: bool,
    started: bool,
}

impl<'a> PenaltyIterator<'a> {
    /// Merges `a` and `b`, preferring `a`.
    pub fn new(a: Box<dyn Adjustable + 'a>, b: Box<dyn Adjustable + 'a>) -> Self {
        PenaltyIterator {
            a,
            b,
            aval: ValueType::None,
            bval: ValueType::None,
            last_t: None,
            pen_a: 0,
            pen_b: 0,
            use_a: true,
            switched: false,
            started: false,
        }
    }

    /// A counter histogram's hint becomes "unknown" after a switch, as
    /// Prometheus's chain merge does; gauges keep theirs.
    fn fix_hint(&self, hint: &mut CounterResetHint) {
        if self.switched && *hint != CounterResetHint::Gauge {
            *hint = CounterResetHint::Unknown;
        }
    }

    /// The kind of the current sample.
    fn current(&self) -> ValueType {
        if self.use_a {
            self.aval
        } else {
            self.bval
        }
    }

    fn cur(&self) -> &(dyn Adjustable + 'a) {
        if self.use_a {
            &*self.a
        } else {
            &*self.b
        }
    }

    /// The float value last yielded, if the last sample was a float.
    fn last_float(&self) -> Option<f64> {
        self.last_t?;
        (self.current() == ValueType::Float).then(|| self.cur().at().1)
    }

    /// One merge step; the caller adjusts after a switch.
    fn step(&mut self) -> ValueType {
        if !self.started {
            self.started = true;
            self.aval = self.a.next();
            self.bval = self.b.next();
        }
        // Past the last sample yielded plus each side's penalty (before the
        // first, both stand on their first samples: Thanos seeks to
        // `i64::MIN + 1`, which does not move them either).
        if let Some(last) = self.last_t {
            let Some(from) = last.checked_add(1) else {
                // Nothing can follow a sample at `i64::MAX`.
                (self.aval, self.bval) = (ValueType::None, ValueType::None);
                return ValueType::None;
            };
            if self.aval != ValueType::None {
                self.aval = self.a.seek(from.saturating_add(self.pen_a));
            }
            if self.bval != ValueType::None {
                self.bval = self.b.seek(from.saturating_add(self.pen_b));
            }
        }
        if self.aval == ValueType::None {
            self.use_a = false;
            if self.bval != ValueType::None {
                self.last_t = Some(self.b.at_t());
                self.pen_b = 0;
            }
            return self.bval;
        }
        if self.bval == ValueType::None {
            self.use_a = true;
            self.last_t = Some(self.a.at_t());
            self.pen_a = 0;
            return self.aval;
        }
        let (ta, tb) = (self.a.at_t(), self.b.at_t());
        self.use_a = ta <= tb;
        let t = if self.use_a { ta } else { tb };
        let penalty = match self.last_t {
            Some(last) => t.saturating_sub(last).saturating_mul(2),
            None => INITIAL_PENALTY_MS,
        };
        if self.use_a {
            (self.pen_a, self.pen_b) = (0, penalty);
        } else {
            (self.pen_a, self.pen_b) = (penalty, 0);
        }
        self.last_t = Some(t);
        self.current()
    }
}

impl Adjustable for PenaltyIterator<'_> {
    /// Hands `last` to whichever sides stand on a float sample.
    fn adjust_at_value(&mut self, last: f64) {
        if self.aval == ValueType::Float {
            self.a.adjust_at_value(last);
        }
        if self.bval == ValueType::Float {
            self.b.adjust_at_value(last);
        }
    }
}

impl SampleIterator for PenaltyIterator<'_> {
    fn next(&mut self) -> ValueType {
        let (last, was_a, any) = (self.last_float(), self.use_a, self.last_t.is_some());
        let vt = self.step();
        self.switched = any && self.use_a != was_a;
        // Switched replicas after a float: let a counter catch up. (Thanos
        // also does this before the first sample is yielded, with the
        // preferred side's first value; nothing was yielded then, so here
        // nothing is adjusted.)
        if let Some(last) = last.filter(|_| self.use_a != was_a) {
            self.adjust_at_value(last);
        }
        vt
    }

    /// Walks with `next` rather than seeking the replicas, as Thanos does,
    /// so a gap in the followed replica before `t` still switches replicas
    /// the way reading every sample would.
    fn seek(&mut self, t: i64) -> ValueType {
        if self.last_t.is_none() && self.next() == ValueType::None {
            return ValueType::None;
        }
        loop {
            let vt = self.current();
            if vt == ValueType::None || self.cur().at_t() >= t {
                return vt;
            }
            if self.next() == ValueType::None {
                return ValueType::None;
            }
        }
    }

    fn at(&self) -> (i64, f64) {
        self.cur().at()
    }

    fn at_histogram(&self, h: &mut Histogram) -> i64 {
        let t = self.cur().at_histogram(h);
        self.fix_hint(&mut h.counter_reset_hint);
        t
    }

    fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
        let t = self.cur().at_float_histogram(fh);
        self.fix_hint(&mut fh.counter_reset_hint);
        t
    }

    fn at_t(&self) -> i64 {
        self.cur().at_t()
    }

    fn at_st(&self) -> i64 {
        self.cur().at_st()
    }

    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.a.err().or_else(|| self.b.err())
    }
}

/// The replicas of one series merged by the penalty algorithm, the first
/// preferred; with `counter`, each lifted on a switch so the merged counter
/// never goes down ([`CounterAdjust`]).
pub fn penalty_merge<'a>(
    replicas: Vec<Box<dyn SampleIterator + 'a>>,
    counter: bool,
) -> Box<dyn SampleIterator + 'a> {
    let wrap = |it: Box<dyn SampleIterator + 'a>| -> Box<dyn Adjustable + 'a> {
        if counter {
            Box::new(CounterAdjust::new(it))
        } else {
            Box::new(NoAdjust(it))
        }
    };
    let mut replicas = replicas.into_iter();
    let Some(first) = replicas.next() else {
        return Box::new(aion_chunkenc::EmptyIterator);
    };
    let mut merged = wrap(first);
    for r in replicas {
        merged = Box::new(PenaltyIterator::new(merged, wrap(r)));
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SliceIterator;

    fn it(s: &[(i64, f64)]) -> Box<dyn SampleIterator + 'static> {
        Box::new(SliceIterator::new(s.to_vec()))
    }

    fn expand(it: &mut dyn SampleIterator) -> Vec<(i64, f64)> {
        let mut out = Vec::new();
        while it.next() == ValueType::Float {
            out.push(it.at());
        }
        out
    }

    /// Thanos lifts the earlier-starting replica by the preferred one's
    /// first value before anything was yielded; nothing was, so Aion
    /// yields the first sample as stored (Thanos: `(10000, 100)`). The tie
    /// at 20000 then goes to the preferred `a`, which is ahead: no lift.
    #[test]
    fn no_lift_before_the_first_sample() {
        let a = it(&[(20_000, 100.0), (30_000, 110.0)]);
        let b = it(&[(10_000, 50.0), (20_000, 60.0), (30_000, 70.0)]);
        let got = expand(&mut *penalty_merge(vec![a, b], true));
        assert_eq!(got, [(10_000, 50.0), (20_000, 100.0), (30_000, 110.0)]);
    }

    #[test]
    fn empty_and_single_replicas() {
        assert_eq!(expand(&mut *penalty_merge(Vec::new(), true)), []);
        let one = [(1, 1.0), (2, 2.0)];
        assert_eq!(expand(&mut *penalty_merge(vec![it(&one)], false)), one);
        let got = expand(&mut *penalty_merge(vec![it(&[]), it(&one)], false));
        assert_eq!(got, one);
        let got = expand(&mut *penalty_merge(vec![it(&one), it(&[])], false));
        assert_eq!(got, one);
    }

    /// Timestamps at the ends of the i64 range do not overflow the
    /// penalty arithmetic.
    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let a = it(&[(i64::MIN, 1.0), (i64::MAX - 1, 2.0)]);
        let b = it(&[(i64::MIN + 1, 3.0), (i64::MAX, 4.0)]);
        let mut m = penalty_merge(vec![a, b], true);
        let got = expand(&mut *m);
        assert_eq!(got.first(), Some(&(i64::MIN, 1.0)));
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(m.next(), ValueType::None);
        assert_eq!(m.seek(0), ValueType::None);
    }

    fn hists(ts: &[i64], hint: CounterResetHint) -> Box<dyn SampleIterator + 'static> {
        use crate::{SampleValue, ValueSliceIterator};
        let h = std::sync::Arc::new(Histogram {
            counter_reset_hint: hint,
            count: 1,
            ..Histogram::default()
        });
        let samples: Vec<_> = ts
            .iter()
            .map(|&t| (t, SampleValue::Histogram(h.clone())))
            .collect();
        Box::new(ValueSliceIterator::new(samples))
    }

    /// After a switch, a counter histogram's "not a reset" no longer holds
    /// (its predecessor was the other replica's); a gauge's hint does.
    #[test]
    fn a_switch_makes_counter_histogram_hints_unknown() {
        for (hint, after_switch) in [
            (CounterResetHint::NotCounterReset, CounterResetHint::Unknown),
            (CounterResetHint::Gauge, CounterResetHint::Gauge),
        ] {
            let a = hists(&[10_000, 20_000, 30_000, 70_000], hint);
            let b = hists(&[10_100, 20_100, 30_100, 40_100, 50_100, 60_100], hint);
            let mut m = penalty_merge(vec![a, b], false);
            let mut got = Vec::new();
            while m.next() == ValueType::Histogram {
                let mut h = Histogram::default();
                let t = m.at_histogram(&mut h);
                got.push((t, h.counter_reset_hint));
            }
            let want = [
                (10_000, hint),
                (20_000, hint),
                (30_000, hint),
                (50_100, after_switch),
                (60_100, hint),
            ];
            assert_eq!(got, want, "{hint:?}");
        }
    }
}
