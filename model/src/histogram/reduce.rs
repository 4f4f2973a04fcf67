//! Lowering the resolution of exponential histograms (Prometheus's
//! `ReduceResolution`).
//!
//! A bucket `i` at schema `s` lies entirely inside bucket
//! `((i - 1) >> (s - t)) + 1` at the lower schema `t`, so reducing merges
//! runs of `2^(s - t)` buckets. Readers need it for chunks written with
//! schemas above 8 (which Prometheus reserves up to 52 for finer
//! resolutions and reduces to 8 on read); arithmetic between histograms of
//! different schemas needs it to meet at the lower one.

use super::{FloatHistogram, Histogram, Span};

/// The index at schema `to` of the bucket with index `idx` at schema
/// `from` (`from >= to`).
///
/// ```
/// use aion_model::histogram::target_index;
/// // Schema 1 buckets 1 and 2 (bounds (1, √2] and (√2, 2]) make up
/// // schema 0 bucket 1, bound (1, 2].
/// assert_eq!((target_index(1, 1, 0), target_index(2, 1, 0)), (1, 1));
/// assert_eq!((target_index(0, 1, 0), target_index(-1, 1, 0)), (0, 0));
/// ```
pub fn target_index(idx: i64, from: i32, to: i32) -> i64 {
    ((idx - 1) >> (from - to).clamp(0, 63)) + 1
}

/// Merges buckets addressed by `spans` with absolute `counts` into the
/// buckets of schema `to`, written to `out_spans` (canonical: no empty
/// spans, gaps of at least one bucket) and `out_counts`.
fn reduce<T: Copy + std::ops::Add<Output = T>>(
    spans: &[Span],
    mut counts: impl Iterator<Item = T>,
    from: i32,
    to: i32,
    out_spans: &mut Vec<Span>,
    out_counts: &mut Vec<T>,
) {
    out_spans.clear();
    out_counts.clear();
    let mut idx = 0i64;
    let mut last = None::<i64>;
    for span in spans {
        idx += i64::from(span.offset);
        for _ in 0..span.length {
            let Some(count) = counts.next() else {
                return;
            };
            let target = target_index(idx, from, to);
            match (last, out_spans.last_mut(), out_counts.last_mut()) {
                (Some(l), Some(_), Some(c)) if l == target => *c = *c + count,
                (Some(l), Some(s), _) if l + 1 == target => {
                    s.length += 1;
                    out_counts.push(count);
                }
                (Some(l), _, _) => {
                    out_spans.push(Span {
                        offset: (target - l - 1) as i32,
                        length: 1,
                    });
                    out_counts.push(count);
                }
                (None, _, _) => {
                    out_spans.push(Span {
                        offset: target as i32,
                        length: 1,
                    });
                    out_counts.push(count);
                }
            }
            last = Some(target);
            idx += 1;
        }
    }
}

impl Histogram {
    /// Lowers the resolution to schema `target` (no-op unless `target` is
    /// below the current exponential schema; custom buckets are never
    /// reduced). Counts, sum and zero bucket are unchanged.
    ///
    /// ```
    /// use aion_model::histogram::{Histogram, Span};
    /// let mut h = Histogram {
    ///     schema: 1,
    ///     count: 6,
    ///     positive_spans: vec![Span { offset: 0, length: 3 }],
    ///     positive_buckets: vec![1, 1, 1], // counts 1, 2, 3 at 0, 1, 2
    ///     ..Histogram::default()
    /// };
    /// h.reduce_resolution(0);
    /// assert_eq!(h.positive_spans, [Span { offset: 0, length: 2 }]);
    /// assert_eq!(h.positive_buckets, [1, 4]); // counts 1 and 2 + 3
    /// ```
    pub fn reduce_resolution(&mut self, target: i32) {
        if self.schema == super::CUSTOM_BUCKETS_SCHEMA || target >= self.schema {
            return;
        }
        for (spans, buckets) in [
            (&mut self.positive_spans, &mut self.positive_buckets),
            (&mut self.negative_spans, &mut self.negative_buckets),
        ] {
            let abs = buckets.iter().scan(0i64, |acc, d| {
                *acc = acc.wrapping_add(*d);
                Some(Wrapping(*acc))
            });
            let (mut new_spans, mut counts) = (Vec::new(), Vec::new());
            reduce(spans, abs, self.schema, target, &mut new_spans, &mut counts);
            *spans = new_spans;
            buckets.clear();
            let mut prev = 0i64;
            buckets.extend(counts.into_iter().map(|Wrapping(c)| {
                let d = c.wrapping_sub(prev);
                prev = c;
                d
            }));
        }
        self.schema = target;
    }
}

impl FloatHistogram {
    /// Lowers the resolution to schema `target`, as
    /// [`Histogram::reduce_resolution`].
    pub fn reduce_resolution(&mut self, target: i32) {
        if self.schema == super::CUSTOM_BUCKETS_SCHEMA || target >= self.schema {
            return;
        }
        for (spans, buckets) in [
            (&mut self.positive_spans, &mut self.positive_buckets),
            (&mut self.negative_spans, &mut self.negative_buckets),
        ] {
            let (mut new_spans, mut counts) = (Vec::new(), Vec::new());
            reduce(
                spans,
                buckets.iter().copied(),
                self.schema,
                target,
                &mut new_spans,
                &mut counts,
            );
            *spans = new_spans;
            *buckets = counts;
        }
        self.schema = target;
    }
}

/// `i64` with wrapping `+`, as Go's integer arithmetic.
#[derive(Debug, Clone, Copy)]
struct Wrapping(i64);

impl std::ops::Add for Wrapping {
    type Output = Wrapping;
    fn add(self, other: Wrapping) -> Wrapping {
        Wrapping(self.0.wrapping_add(other.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(offset: i32, length: u32) -> Span {
        Span { offset, length }
    }

    #[test]
    fn merges_across_spans_and_keeps_gaps() {
        // Schema 2 → 0 merges 4 buckets: indices 1..=4 → 1, 5..=8 → 2,
        // -3..=0 → 0, 9..=12 → 3.
        let mut f = FloatHistogram {
            schema: 2,
            positive_spans: vec![s(-1, 3), s(2, 2), s(6, 1)],
            positive_buckets: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            ..FloatHistogram::default()
        };
        // indices -1, 0, 1, 4, 5, 12 → 0, 0, 1, 1, 2, 3
        f.reduce_resolution(0);
        assert_eq!(f.positive_spans, [s(0, 4)]);
        assert_eq!(f.positive_buckets, [3.0, 7.0, 5.0, 6.0]);
        assert_eq!(f.schema, 0);

        // Gaps stay gaps (in target buckets), integer deltas re-derived.
        let mut h = Histogram {
            schema: 3,
            negative_spans: vec![s(0, 1), s(30, 1)],
            negative_buckets: vec![2, 3], // counts 2 at 0, 5 at 31
            ..Histogram::default()
        };
        h.reduce_resolution(1);
        // 0 → 0, 31 → ((30 >> 2) + 1) = 8
        assert_eq!(h.negative_spans, [s(0, 1), s(7, 1)]);
        assert_eq!(h.negative_buckets, [2, 3]);
    }

    #[test]
    fn custom_buckets_and_higher_targets_are_left_alone() {
        let mut h = Histogram {
            schema: crate::histogram::CUSTOM_BUCKETS_SCHEMA,
            positive_spans: vec![s(0, 2)],
            positive_buckets: vec![1, 1],
            ..Histogram::default()
        };
        let before = h.clone();
        h.reduce_resolution(-4);
        assert_eq!(h, before);
        let mut f = before.to_float();
        f.schema = 2;
        let before = f.clone();
        f.reduce_resolution(3);
        assert_eq!(f, before);
    }
}
