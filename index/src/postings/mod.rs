//! Postings: sorted lists of series references, the inverted index's
//! values.
//!
//! A [`Postings`] is a forward-only cursor with `seek`, which is what the
//! set algebra in [`algebra`] needs to intersect a short list with a long
//! one in time proportional to the short one. Both the in-memory index
//! ([`MemPostings`]) and the on-disk reader hand out postings through this
//! trait, so selection logic is written once.

pub mod algebra;
mod list;
mod mem;

pub use algebra::{intersect, merge, without, Intersect, Merge, Without};
pub use list::{BigEndianPostings, BitmapPostings, ListPostings, VecPostings};
pub use mem::{MemPostings, PostingsWriter, ALL_POSTINGS_KEY};

pub use aion_model::SeriesRef;

/// A boxed postings cursor, as returned by index readers.
pub type BoxPostings<'a> = Box<dyn Postings + 'a>;

/// A forward-only cursor over strictly increasing series references.
///
/// The cursor starts *before* the first reference. `next` moves to the
/// following reference; `seek(t)` moves to the first reference `>= t` but
/// never backwards: if the cursor already sits on a reference `>= t`, it
/// stays and returns it. Once either returns `None`, the cursor is
/// exhausted and every later call returns `None`.
///
/// ```
/// use aion_index::postings::{Postings, VecPostings};
/// let mut p = VecPostings::new(vec![2, 4, 8, 16]);
/// assert_eq!(p.seek(5), Some(8));
/// assert_eq!(p.seek(3), Some(8)); // never moves back
/// assert_eq!(p.next(), Some(16));
/// assert_eq!(p.next(), None);
/// ```
pub trait Postings: Send {
    /// Moves to the next reference and returns it.
    fn next(&mut self) -> Option<SeriesRef>;

    /// Moves to the first reference `>= target` (never backwards) and
    /// returns it.
    fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef>;

    /// Whether this cursor is known to yield nothing without advancing it
    /// (true for [`EmptyPostings`]); lets selection short-circuit.
    fn is_known_empty(&self) -> bool {
        false
    }

    /// An upper bound of the references left, if cheaply known; used to
    /// order intersections.
    fn len_hint(&self) -> Option<usize> {
        None
    }

    /// Drains the remaining references into a vector.
    fn collect_refs(&mut self) -> Vec<SeriesRef> {
        let mut v = Vec::with_capacity(self.len_hint().unwrap_or(0).min(1 << 20));
        while let Some(r) = self.next() {
            v.push(r);
        }
        v
    }
}

impl<P: Postings + ?Sized> Postings for Box<P> {
    #[inline]
    fn next(&mut self) -> Option<SeriesRef> {
        (**self).next()
    }
    #[inline]
    fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef> {
        (**self).seek(target)
    }
    fn is_known_empty(&self) -> bool {
        (**self).is_known_empty()
    }
    fn len_hint(&self) -> Option<usize> {
        (**self).len_hint()
    }
}

/// Postings with nothing in them.
#[derive(Debug, Default, Clone, Copy)]
pub struct EmptyPostings;

impl Postings for EmptyPostings {
    fn next(&mut self) -> Option<SeriesRef> {
        None
    }
    fn seek(&mut self, _: SeriesRef) -> Option<SeriesRef> {
        None
    }
    fn is_known_empty(&self) -> bool {
        true
    }
    fn len_hint(&self) -> Option<usize> {
        Some(0)
    }
}

/// A boxed [`EmptyPostings`].
pub fn empty<'a>() -> BoxPostings<'a> {
    Box::new(EmptyPostings)
}
