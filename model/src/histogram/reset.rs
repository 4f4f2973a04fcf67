//! Counter-reset detection between two consecutive histograms of a
//! counter, with Prometheus's rules: any count going down (total, zero
//! bucket, a bucket — a populated bucket disappearing counts), a finer
//! schema or a narrower zero bucket is a reset; a lower sum alone is not.

use super::buckets::{exponential_bound, IndexedCounts};
use super::reduce::target_index;
use super::{CounterResetHint, FloatHistogram};

/// `(index at target schema, count)` of one sign's buckets, merged to the
/// coarser `target` schema, skipping buckets whose upper bound is at most
/// `start` (inside a zero bucket of that width).
struct Reduced<'a> {
    inner: std::iter::Peekable<IndexedCounts<'a, f64>>,
    from: i32,
    to: i32,
    start: f64,
}

impl Iterator for Reduced<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        loop {
            let (idx, mut c) = self.inner.next()?;
            let t = target_index(i64::from(idx), self.from, self.to);
            if self.start > 0.0 && exponential_bound(t as i32, self.to) <= self.start {
                continue;
            }
            while let Some(&(j, d)) = self.inner.peek() {
                if target_index(i64::from(j), self.from, self.to) != t {
                    break;
                }
                c += d;
                self.inner.next();
            }
            return Some((t, c));
        }
    }
}

fn reduced<'a>(h: &'a FloatHistogram, positive: bool, start: f64, to: i32) -> Reduced<'a> {
    let (spans, counts) = if positive {
        (&h.positive_spans, &h.positive_buckets)
    } else {
        (&h.negative_spans, &h.negative_buckets)
    };
    let custom = h.uses_custom_buckets();
    Reduced {
        inner: IndexedCounts::new(spans, counts).peekable(),
        from: if custom { 0 } else { h.schema },
        to: if custom { 0 } else { to },
        start: if custom { 0.0 } else { start },
    }
}

/// Whether a bucket of `prev` went down or vanished while populated in
/// `curr` (both at the same schema).
fn buckets_reset(mut curr: Reduced<'_>, prev: Reduced<'_>) -> bool {
    let mut c = curr.next();
    for (pi, pc) in prev {
        while let Some((ci, _)) = c {
            if ci >= pi {
                break;
            }
            c = curr.next();
        }
        match c {
            Some((ci, cc)) if ci == pi => {
                if cc < pc {
                    return true;
                }
            }
            _ => {
                if pc != 0.0 {
                    return true;
                }
            }
        }
    }
    false
}

impl FloatHistogram {
    /// Whether a counter reset happened between `previous` and `self`.
    /// A hint of "reset" or "not reset" on `self` decides; otherwise (and
    /// for gauges, which PromQL then treats as counters) the counts decide.
    pub fn detect_reset(&self, previous: &FloatHistogram) -> bool {
        match self.counter_reset_hint {
            CounterResetHint::CounterReset => return true,
            CounterResetHint::NotCounterReset => return false,
            _ => {}
        }
        if self.count < previous.count {
            return true;
        }
        if self.uses_custom_buckets() {
            if !previous.uses_custom_buckets() {
                return true;
            }
            if self.custom_values != previous.custom_values {
                return self.custom_reset_mismatched(previous);
            }
            return buckets_reset(reduced(self, true, 0.0, 0), reduced(previous, true, 0.0, 0));
        }
        if previous.uses_custom_buckets() || self.schema > previous.schema {
            return true;
        }
        if self.zero_threshold < previous.zero_threshold {
            return true;
        }
        let (prev_zero, t) = previous.zero_count_for_larger_threshold(self.zero_threshold);
        if t != self.zero_threshold || self.zero_count < prev_zero {
            return true;
        }
        let (t, s) = (self.zero_threshold, self.schema);
        buckets_reset(reduced(self, true, t, s), reduced(previous, true, t, s))
            || buckets_reset(reduced(self, false, t, s), reduced(previous, false, t, s))
    }

    /// Reset detection between custom-bucket histograms with different
    /// bounds: the cumulative-by-bucket counts at the bounds both share
    /// must not go down.
    fn custom_reset_mismatched(&self, previous: &FloatHistogram) -> bool {
        let up_to = |h: &FloatHistogram, bound: f64| -> f64 {
            h.positive_bucket_iter()
                .filter(|b| b.upper <= bound)
                .map(|b| b.count)
                .sum()
        };
        let shared = self
            .custom_values
            .iter()
            .copied()
            .filter(|v| previous.custom_values.contains(v))
            .chain(std::iter::once(f64::INFINITY));
        let mut below = (0.0, 0.0);
        for bound in shared {
            let (c, p) = (up_to(self, bound), up_to(previous, bound));
            if c - below.0 < p - below.1 {
                return true;
            }
            below = (c, p);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::super::Span;
    use super::*;

    fn h(schema: i32, count: f64, sum: f64, buckets: &[f64]) -> FloatHistogram {
        FloatHistogram {
            schema,
            count,
            sum,
            positive_spans: vec![Span {
                offset: 0,
                length: buckets.len() as u32,
            }],
            positive_buckets: buckets.to_vec(),
            ..FloatHistogram::default()
        }
    }

    #[test]
    fn resets() {
        let prev = h(1, 6.0, 10.0, &[1.0, 2.0, 3.0]);
        // Sum going down alone: no reset.
        assert!(!h(1, 6.0, 5.0, &[1.0, 2.0, 3.0]).detect_reset(&prev));
        assert!(!h(1, 7.0, 11.0, &[1.0, 3.0, 3.0]).detect_reset(&prev));
        assert!(h(1, 7.0, 11.0, &[2.0, 1.0, 4.0]).detect_reset(&prev));
        assert!(h(1, 5.0, 11.0, &[1.0, 2.0, 3.0]).detect_reset(&prev));
        // A populated bucket disappearing.
        assert!(h(1, 6.0, 11.0, &[1.0, 5.0]).detect_reset(&prev));
        // Finer schema: reset; coarser with merged counts: none.
        assert!(h(2, 6.0, 11.0, &[1.0, 2.0, 3.0]).detect_reset(&prev));
        assert!(!h(0, 6.0, 11.0, &[1.0, 5.0]).detect_reset(&prev));
        // Hints decide.
        let mut hinted = h(1, 0.0, 0.0, &[]);
        hinted.counter_reset_hint = CounterResetHint::NotCounterReset;
        assert!(!hinted.detect_reset(&prev));
        let mut hinted = prev.clone();
        hinted.counter_reset_hint = CounterResetHint::CounterReset;
        assert!(hinted.detect_reset(&prev));
    }

    #[test]
    fn zero_threshold_changes() {
        let mut prev = h(0, 3.0, 1.0, &[1.0, 2.0]); // (0.5,1]:1 (1,2]:2
        prev.zero_threshold = 0.1;
        let mut curr = h(0, 3.0, 1.0, &[0.0, 2.0]);
        curr.zero_threshold = 1.0;
        curr.zero_count = 1.0;
        assert!(!curr.detect_reset(&prev));
        curr.zero_threshold = 0.01;
        assert!(curr.detect_reset(&prev));
    }
}
