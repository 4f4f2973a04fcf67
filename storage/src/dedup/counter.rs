//! The counter-aware adjustment of the penalty merge.
//!
//! Replicas of a counter do not agree on its value: each scrapes at its
//! own times, and one that missed samples across a restart (or whose
//! resets were stitched differently by downsampling) can be behind the
//! other by a constant. Switching from the replica ahead to the one behind
//! would make the merged counter go down, which `rate` reads as a reset and
//! turns into a huge spike (thanos#2401). When the merge switches replicas
//! it hands the new replica the last value it yielded; a replica whose
//! value is lower lifts all its values from then on by the difference
//! (a counter cannot go down).

use std::error::Error as StdError;

use aion_chunkenc::{SampleIterator, ValueType};
use aion_model::histogram::{FloatHistogram, Histogram};

/// A sample iterator the penalty merge can tell, on a replica switch, the
/// last float value it yielded, so a counter replica can adjust.
pub trait Adjustable: SampleIterator {
    /// The merge switched to this iterator after yielding `last` from
    /// another; a counter lifts its values if its current one is lower.
    fn adjust_at_value(&mut self, last: f64);
}

/// A replica of a series that is not read as a counter: no adjustment.
pub struct NoAdjust<'a>(pub Box<dyn SampleIterator + 'a>);

/// A counter replica: its values lifted by what it was found to be behind
/// the replicas read before it.
pub struct CounterAdjust<'a> {
    it: Box<dyn SampleIterator + 'a>,
    /// Added to every float value.
    offset: f64,
}

impl<'a> CounterAdjust<'a> {
    /// Wraps a replica's samples, not yet adjusted.
    pub fn new(it: Box<dyn SampleIterator + 'a>) -> Self {
        CounterAdjust { it, offset: 0.0 }
    }
}

impl Adjustable for NoAdjust<'_> {
    fn adjust_at_value(&mut self, _last: f64) {}
}

impl Adjustable for CounterAdjust<'_> {
    fn adjust_at_value(&mut self, last: f64) {
        let (_, v) = self.at();
        if last > v {
            self.offset += last - v;
            // `v + (last - v)` can round to just below `last`, and a
            // counter one ulp lower is a reset to `rate` (Thanos has that
            // rounding; Aion lifts to at least `last`). Float addition is
            // monotone, so the replica's later values stay at or above.
            let raw = self.it.at().1;
            for _ in 0..64 {
                if raw + self.offset >= last {
                    break;
                }
                self.offset = self.offset.next_up();
            }
        }
    }
}

/// Both wrappers forward everything to the replica; only `at` differs.
macro_rules! forward {
    ($ty:ty, |$s:ident| $at:expr) => {
        impl SampleIterator for $ty {
            fn next(&mut self) -> ValueType {
                self.it().next()
            }
            fn seek(&mut self, t: i64) -> ValueType {
                self.it().seek(t)
            }
            fn at(&self) -> (i64, f64) {
                let $s = self;
                $at
            }
            fn at_histogram(&self, h: &mut Histogram) -> i64 {
                self.it_ref().at_histogram(h)
            }
            fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
                self.it_ref().at_float_histogram(fh)
            }
            fn at_t(&self) -> i64 {
                self.it_ref().at_t()
            }
            fn at_st(&self) -> i64 {
                self.it_ref().at_st()
            }
            fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
                self.it_ref().err()
            }
        }
    };
}

impl<'a> NoAdjust<'a> {
    fn it(&mut self) -> &mut (dyn SampleIterator + 'a) {
        &mut *self.0
    }
    fn it_ref(&self) -> &(dyn SampleIterator + 'a) {
        &*self.0
    }
}

impl<'a> CounterAdjust<'a> {
    fn it(&mut self) -> &mut (dyn SampleIterator + 'a) {
        &mut *self.it
    }
    fn it_ref(&self) -> &(dyn SampleIterator + 'a) {
        &*self.it
    }
}

forward!(NoAdjust<'_>, |s| s.0.at());
forward!(CounterAdjust<'_>, |s| {
    let (t, v) = s.it.at();
    // NaNs pass untouched: arithmetic would quiet the stale marker's
    // signalling NaN into a plain NaN that no longer reads as stale.
    if s.offset == 0.0 || v.is_nan() {
        (t, v)
    } else {
        (t, v + s.offset)
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SliceIterator;

    #[test]
    fn a_counter_behind_is_lifted_and_one_ahead_is_not() {
        let mut c = CounterAdjust::new(Box::new(SliceIterator::new(vec![(1, 5.0), (2, 7.0)])));
        assert_eq!(c.next(), ValueType::Float);
        c.adjust_at_value(8.0);
        assert_eq!(c.at(), (1, 8.0));
        c.adjust_at_value(3.0);
        assert_eq!(c.at(), (1, 8.0));
        assert_eq!(c.next(), ValueType::Float);
        assert_eq!(c.at(), (2, 10.0));
        // A stale marker stays a stale marker, and never moves the offset.
        let stale = aion_chunkenc::STALE_NAN;
        let mut s = CounterAdjust::new(Box::new(SliceIterator::new(vec![(1, 2.0), (2, stale)])));
        s.next();
        s.adjust_at_value(4.0);
        s.next();
        assert!(aion_chunkenc::is_stale_nan(s.at().1));
        let mut n = NoAdjust(Box::new(SliceIterator::new(vec![(1, 1.0)])));
        n.next();
        n.adjust_at_value(9.0);
        assert_eq!(n.at(), (1, 1.0));
    }

    #[test]
    fn the_lift_never_rounds_below_the_last_value() {
        let (last, v) = (42.284549823791345, 8.536514490084162);
        let mut c = CounterAdjust::new(Box::new(SliceIterator::new(vec![(1, v)])));
        c.next();
        c.adjust_at_value(last);
        assert!(c.at().1 >= last, "{} < {last}", c.at().1);
    }
}
