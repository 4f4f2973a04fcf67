//! Bucket indices of span lists, and the comparisons of two layouts that
//! decide whether a histogram fits a chunk (`docs/formats.md#histogram-chunks`).
//!
//! A span list addresses buckets by index: the first span starts at its
//! offset, every later one `offset` buckets after the end of the previous
//! span. Two layouts are compared index by index; buckets only the new
//! histogram has force the chunk to be re-encoded ("forward" expansion),
//! buckets only the chunk has are filled into the new histogram as zeros
//! ("backward" expansion) – which for counters is allowed only if the
//! chunk's count there is zero, else it is a counter reset.

use aion_model::histogram::Span;

/// The bucket indices a span list addresses, in increasing order (for
/// valid spans: non-negative offsets after the first). Indices are `i64`
/// so that no offset sum can overflow.
#[derive(Debug, Clone)]
pub(crate) struct BucketIndices<'a> {
    spans: &'a [Span],
    span: usize,
    left: u32,
    next: i64,
}

impl<'a> BucketIndices<'a> {
    pub(crate) fn new(spans: &'a [Span]) -> Self {
        BucketIndices {
            spans,
            span: 0,
            left: 0,
            next: 0,
        }
        .entered()
    }

    /// Moves into the span at `self.span` (skipping empty ones).
    fn entered(mut self) -> Self {
        while let Some(s) = self.spans.get(self.span) {
            self.next += i64::from(s.offset);
            if s.length > 0 {
                self.left = s.length;
                break;
            }
            self.span += 1;
        }
        self
    }
}

impl Iterator for BucketIndices<'_> {
    type Item = i64;

    #[inline]
    fn next(&mut self) -> Option<i64> {
        if self.left == 0 {
            return None;
        }
        let idx = self.next;
        self.next += 1;
        self.left -= 1;
        if self.left == 0 {
            self.span += 1;
            let this = std::mem::replace(self, BucketIndices::new(&[]));
            *self = this.entered();
        }
        Some(idx)
    }
}

/// How one side (positive or negative) of a new histogram relates to the
/// chunk's layout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SideChange {
    /// The histogram has buckets the chunk lacks: the chunk needs re-encoding.
    pub(crate) forward: bool,
    /// The chunk has buckets the histogram lacks: the histogram is padded.
    pub(crate) backward: bool,
}

/// Compares a chunk side (`a`, absolute counts) with a counter
/// histogram's side (`b`, absolute counts). `None` is a counter reset: a
/// bucket's count fell, or a bucket in use in the chunk disappeared.
pub(crate) fn compare_counter<T: Copy + PartialOrd + Default>(
    a: &[Span],
    a_counts: impl IntoIterator<Item = T>,
    b: &[Span],
    b_counts: impl IntoIterator<Item = T>,
) -> Option<SideChange> {
    let zero = T::default();
    let mut change = SideChange::default();
    let mut ai = BucketIndices::new(a).zip(a_counts);
    let mut bi = BucketIndices::new(b).zip(b_counts);
    let (mut an, mut bn) = (ai.next(), bi.next());
    loop {
        match (an, bn) {
            (Some((ax, ac)), Some((bx, bc))) if ax == bx => {
                if ac > bc {
                    return None;
                }
                an = ai.next();
                bn = bi.next();
            }
            (Some((ax, ac)), Some((bx, _))) if ax < bx => {
                if ac != zero {
                    return None;
                }
                change.backward = true;
                an = ai.next();
            }
            (Some((_, ac)), None) => {
                if ac != zero {
                    return None;
                }
                change.backward = true;
                an = ai.next();
            }
            (_, Some(_)) => {
                change.forward = true;
                bn = bi.next();
            }
            (None, None) => return Some(change),
        }
    }
}

/// Compares two sides by index only (gauge histograms: counts may do
/// anything).
pub(crate) fn compare_gauge(a: &[Span], b: &[Span]) -> SideChange {
    let mut change = SideChange::default();
    let mut ai = BucketIndices::new(a).peekable();
    let mut bi = BucketIndices::new(b).peekable();
    loop {
        match (ai.peek().copied(), bi.peek().copied()) {
            (Some(x), Some(y)) if x == y => {
                ai.next();
                bi.next();
            }
            (Some(x), Some(y)) if x < y => {
                change.backward = true;
                ai.next();
            }
            (Some(_), None) => {
                change.backward = true;
                ai.next();
            }
            (_, Some(_)) => {
                change.forward = true;
                bi.next();
            }
            (None, None) => return change,
        }
    }
}

/// Writes into `out` the canonical span list of the union of both index
/// sets: the first span at its first index, later spans after gaps of at
/// least one bucket, no empty spans.
pub(crate) fn union_spans(a: &[Span], b: &[Span], out: &mut Vec<Span>) {
    out.clear();
    let mut ai = BucketIndices::new(a).peekable();
    let mut bi = BucketIndices::new(b).peekable();
    let mut last = 0i64;
    loop {
        let idx = match (ai.peek().copied(), bi.peek().copied()) {
            (Some(x), Some(y)) => {
                if x <= y {
                    ai.next();
                }
                if y <= x {
                    bi.next();
                }
                x.min(y)
            }
            (Some(x), None) => {
                ai.next();
                x
            }
            (None, Some(y)) => {
                bi.next();
                y
            }
            (None, None) => return,
        };
        match out.last_mut() {
            Some(span) if idx == last + 1 => span.length += 1,
            Some(_) => {
                // Gaps wider than an `i32` (only reachable from corrupt
                // chunks) are bridged with empty spans instead of being
                // truncated.
                let mut gap = idx - last - 1;
                while gap > i64::from(i32::MAX) {
                    out.push(Span {
                        offset: i32::MAX,
                        length: 0,
                    });
                    gap -= i64::from(i32::MAX);
                }
                out.push(Span {
                    offset: gap as i32,
                    length: 1,
                });
            }
            // The first index is the first offset of one of the lists.
            None => out.push(Span {
                offset: idx as i32,
                length: 1,
            }),
        }
        last = idx;
    }
}

/// Places the values of buckets addressed by `from` at their indices in
/// the layout `to` (which must address every index of `from`), zero
/// elsewhere; `out` receives one value per bucket of `to`.
pub(crate) fn expand_into<T: Copy + Default>(
    from: &[Span],
    values: impl IntoIterator<Item = T>,
    to: &[Span],
    out: &mut Vec<T>,
) {
    out.clear();
    let mut src = BucketIndices::new(from).zip(values).peekable();
    for idx in BucketIndices::new(to) {
        while src.peek().is_some_and(|&(x, _)| x < idx) {
            src.next();
        }
        match src.peek() {
            Some(&(x, v)) if x == idx => {
                out.push(v);
                src.next();
            }
            _ => out.push(T::default()),
        }
    }
}

/// Absolute bucket counts from the delta representation.
pub(crate) fn cumulative(deltas: &[i64]) -> impl Iterator<Item = i64> + '_ {
    deltas.iter().scan(0i64, |acc, d| {
        *acc = acc.wrapping_add(*d);
        Some(*acc)
    })
}

/// Turns absolute counts into deltas, in place.
pub(crate) fn to_deltas(values: &mut [i64]) {
    let mut prev = 0i64;
    for v in values {
        let abs = *v;
        *v = abs.wrapping_sub(prev);
        prev = abs;
    }
}

/// Whether a histogram side is encodable: as many values as the spans
/// address, and no negative offset after the first span (which would make
/// indices go backwards). Returns the addressed count on mismatch.
pub(crate) fn check_side(spans: &[Span], values: usize) -> Result<(), SideProblem> {
    if let Some((index, s)) = spans.iter().enumerate().skip(1).find(|(_, s)| s.offset < 0) {
        return Err(SideProblem::NegativeOffset {
            index,
            offset: s.offset,
        });
    }
    let addressed: u64 = spans.iter().map(|s| u64::from(s.length)).sum();
    if addressed != values as u64 {
        return Err(SideProblem::CountMismatch { addressed });
    }
    Ok(())
}

/// What [`check_side`] found wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SideProblem {
    NegativeOffset { index: usize, offset: i32 },
    CountMismatch { addressed: u64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(offset: i32, length: u32) -> Span {
        Span { offset, length }
    }

    #[test]
    fn indices_follow_offsets_and_skip_empty_spans() {
        let spans = [s(-2, 2), s(0, 0), s(3, 1), s(0, 2), s(1, 0)];
        let got: Vec<i64> = BucketIndices::new(&spans).collect();
        assert_eq!(got, [-2, -1, 3, 4, 5]);
        assert_eq!(BucketIndices::new(&[s(5, 0)]).count(), 0);
        let got: Vec<i64> = BucketIndices::new(&[s(5, 0), s(1, 1)]).collect();
        assert_eq!(got, [6]);
    }

    /// The example of Prometheus's `expandIntSpansAndBuckets` doc comment:
    /// new buckets in several places, reshaped spans.
    #[test]
    fn union_is_canonical() {
        let a = [s(0, 2), s(2, 1), s(3, 2), s(3, 1), s(1, 1)];
        let b = [s(0, 3), s(1, 1), s(1, 4), s(3, 3)];
        let mut out = Vec::new();
        union_spans(&a, &b, &mut out);
        assert_eq!(out, b);
        union_spans(&[], &[], &mut out);
        assert!(out.is_empty());
        union_spans(&[s(0, 1), s(0, 1)], &[], &mut out);
        assert_eq!(out, [s(0, 2)]);
        let far = [s(0, 1), s(i32::MAX, 1), s(i32::MAX, 1)];
        union_spans(&far, &[], &mut out);
        assert_eq!(
            BucketIndices::new(&out).collect::<Vec<_>>(),
            BucketIndices::new(&far).collect::<Vec<_>>()
        );
    }

    #[test]
    fn counter_comparison_detects_resets_and_expansions() {
        let a = [s(0, 2)];
        assert_eq!(
            compare_counter(&a, [1i64, 2], &a, [1, 2]),
            Some(SideChange::default())
        );
        assert_eq!(compare_counter(&a, [1i64, 2], &a, [1, 1]), None);
        let wide = [s(0, 3)];
        assert_eq!(
            compare_counter(&a, [1i64, 2], &wide, [1, 2, 0]),
            Some(SideChange {
                forward: true,
                backward: false
            })
        );
        assert_eq!(
            compare_counter(&wide, [1i64, 0, 0], &a, [1, 2]),
            Some(SideChange {
                forward: false,
                backward: true
            })
        );
        assert_eq!(
            compare_counter(&wide, [1i64, 2, 0], &a, [1, 2]),
            Some(SideChange {
                forward: false,
                backward: true
            })
        );
        assert_eq!(compare_counter(&wide, [1i64, 2, 3], &a, [1, 2]), None);
    }

    #[test]
    fn expansion_places_values_by_index() {
        let mut out = Vec::new();
        expand_into(&[s(1, 1), s(1, 1)], [5i64, 7], &[s(0, 4)], &mut out);
        assert_eq!(out, [0, 5, 0, 7]);
        let mut d = vec![1, 3, 3, 0];
        to_deltas(&mut d);
        assert_eq!(d, [1, 2, 0, -3]);
        assert_eq!(cumulative(&d).collect::<Vec<_>>(), [1, 3, 3, 0]);
    }
}
