//! Source positions: the byte range a node was written at, carried for
//! error messages and never part of a tree's equality.

/// A byte range `[start, end)` in the query text.
///
/// Spans never make two nodes unequal: `PartialEq` for `Span` is always
/// true, so structural comparison of trees ignores where they came from.
#[derive(Debug, Clone, Copy, Default, Eq)]
pub struct Span {
    /// First byte of the node.
    pub start: usize,
    /// One past the last byte of the node.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}
