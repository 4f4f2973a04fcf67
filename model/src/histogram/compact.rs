//! Compaction: dropping empty buckets and merging spans, so equal
//! distributions get equal layouts.

use super::buckets::IndexedCounts;
use super::{FloatHistogram, Histogram, Span};

/// Rebuilds `(spans, counts)` keeping every non-empty bucket and the empty
/// buckets of gaps of at most `max_empty` buckets between two non-empty
/// ones (which then share a span); all other empty buckets go.
pub(crate) fn compact_buckets<T: Copy + PartialEq + Default>(
    spans: &[Span],
    counts: &[T],
    max_empty: usize,
) -> (Vec<Span>, Vec<T>) {
    let zero = T::default();
    let mut out_spans: Vec<Span> = Vec::with_capacity(spans.len());
    let mut out: Vec<T> = Vec::with_capacity(counts.len());
    let mut last: Option<i32> = None;
    for (idx, c) in IndexedCounts::new(spans, counts) {
        if c == zero {
            continue;
        }
        match (last, out_spans.last_mut()) {
            (Some(l), Some(s)) if (i64::from(idx) - i64::from(l) - 1) as usize <= max_empty => {
                let gap = (idx - l - 1) as usize;
                out.extend(std::iter::repeat_n(zero, gap));
                s.length += gap as u32 + 1;
            }
            (Some(l), _) => out_spans.push(Span {
                offset: idx - l - 1,
                length: 1,
            }),
            (None, _) => out_spans.push(Span {
                offset: idx,
                length: 1,
            }),
        }
        out.push(c);
        last = Some(idx);
    }
    (out_spans, out)
}

impl FloatHistogram {
    /// Drops empty buckets, merging spans at most `max_empty` empty
    /// buckets apart (Prometheus's `Compact`); bucket totals are kept.
    pub fn compact(&mut self, max_empty: usize) -> &mut Self {
        let (s, b) = compact_buckets(&self.positive_spans, &self.positive_buckets, max_empty);
        self.positive_spans = s;
        self.positive_buckets = b;
        let (s, b) = compact_buckets(&self.negative_spans, &self.negative_buckets, max_empty);
        self.negative_spans = s;
        self.negative_buckets = b;
        self
    }
}

impl Histogram {
    /// [`FloatHistogram::compact`] for an integer histogram (whose bucket
    /// deltas are re-derived).
    pub fn compact(&mut self, max_empty: usize) -> &mut Self {
        for (spans, buckets) in [
            (&mut self.positive_spans, &mut self.positive_buckets),
            (&mut self.negative_spans, &mut self.negative_buckets),
        ] {
            let mut acc = 0i64;
            let abs: Vec<i64> = buckets
                .iter()
                .map(|d| {
                    acc = acc.wrapping_add(*d);
                    acc
                })
                .collect();
            let (s, counts) = compact_buckets(spans, &abs, max_empty);
            *spans = s;
            let mut prev = 0i64;
            *buckets = counts
                .into_iter()
                .map(|c| {
                    let d = c.wrapping_sub(prev);
                    prev = c;
                    d
                })
                .collect();
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(offset: i32, length: u32) -> Span {
        Span { offset, length }
    }

    #[test]
    fn drops_empty_buckets_and_merges_close_spans() {
        let mut f = FloatHistogram {
            positive_spans: vec![s(-2, 3), s(0, 2), s(2, 1)],
            positive_buckets: vec![0.0, 1.0, 0.0, 0.0, 2.0, 3.0],
            ..FloatHistogram::default()
        };
        // Buckets: -2:0 -1:1 0:0 1:0 2:2 5:3.
        let mut g = f.clone();
        f.compact(0);
        assert_eq!(f.positive_spans, [s(-1, 1), s(2, 1), s(2, 1)]);
        assert_eq!(f.positive_buckets, [1.0, 2.0, 3.0]);
        let mut h = g.clone();
        g.compact(2);
        assert_eq!(g.positive_spans, [s(-1, 7)]);
        assert_eq!(g.positive_buckets, [1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 3.0]);
        h.compact(1);
        assert_eq!(h.positive_spans, [s(-1, 1), s(2, 1), s(2, 1)]);
    }

    #[test]
    fn integer_deltas_are_rederived() {
        let mut h = Histogram {
            positive_spans: vec![s(0, 4)],
            positive_buckets: vec![1, -1, 2, -1], // 1 0 2 1
            ..Histogram::default()
        };
        h.compact(0);
        assert_eq!(h.positive_spans, [s(0, 1), s(1, 2)]);
        assert_eq!(h.positive_buckets, [1, 1, -1]);
    }
}
