//! Concrete postings lists: owned vectors, snapshots of the in-memory
//! index's lists, and on-disk big-endian arrays, all sharing one cursor
//! with galloping `seek`.

use std::sync::Arc;

use super::{Postings, SeriesRef};

/// Random access to a sorted run of references.
trait RefSource: Send {
    fn len(&self) -> usize;
    fn get(&self, i: usize) -> SeriesRef;
}

impl RefSource for Vec<SeriesRef> {
    #[inline]
    fn len(&self) -> usize {
        Vec::len(self)
    }
    #[inline]
    fn get(&self, i: usize) -> SeriesRef {
        self[i]
    }
}

impl RefSource for Arc<RefList> {
    #[inline]
    fn len(&self) -> usize {
        RefList::len(self)
    }
    #[inline]
    fn get(&self, i: usize) -> SeriesRef {
        RefList::get(self, i)
    }
}

struct BigEndianRefs<'a>(&'a [u8]);

impl RefSource for BigEndianRefs<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.0.len() / 4
    }
    #[inline]
    fn get(&self, i: usize) -> SeriesRef {
        let b = &self.0[i * 4..i * 4 + 4];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as SeriesRef
    }
}

/// Cursor state shared by all list postings: `pos` is the index of the
/// next element to read, `cur` the element the cursor sits on.
struct Cursor<S> {
    src: S,
    pos: usize,
    cur: Option<SeriesRef>,
}

impl<S: RefSource> Cursor<S> {
    fn new(src: S) -> Self {
        Cursor {
            src,
            pos: 0,
            cur: None,
        }
    }

    #[inline]
    fn next(&mut self) -> Option<SeriesRef> {
        if self.pos < self.src.len() {
            let v = self.src.get(self.pos);
            self.pos += 1;
            self.cur = Some(v);
        } else {
            self.pos = self.src.len();
            self.cur = None;
        }
        self.cur
    }

    #[inline]
    fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef> {
        if let Some(c) = self.cur {
            if c >= target {
                return Some(c);
            }
        }
        let len = self.src.len();
        // Gallop from the current position: seeks are usually short hops
        // inside long lists, so probing 1, 2, 4, ... ahead beats a binary
        // search over the whole tail.
        let mut lo = self.pos;
        let mut hi = self.pos;
        let mut step = 1;
        while hi < len && self.src.get(hi) < target {
            lo = hi + 1;
            hi += step;
            step *= 2;
        }
        let mut hi = hi.min(len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.src.get(mid) < target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo < len {
            let v = self.src.get(lo);
            self.pos = lo + 1;
            self.cur = Some(v);
        } else {
            self.pos = len;
            self.cur = None;
        }
        self.cur
    }

    fn remaining(&self) -> usize {
        self.src.len() - self.pos + usize::from(self.cur.is_some())
    }
}

macro_rules! cursor_postings {
    ($ty:ty) => {
        impl Postings for $ty {
            #[inline]
            fn next(&mut self) -> Option<SeriesRef> {
                self.0.next()
            }
            #[inline]
            fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef> {
                self.0.seek(target)
            }
            fn is_known_empty(&self) -> bool {
                self.0.remaining() == 0
            }
            fn len_hint(&self) -> Option<usize> {
                Some(self.0.remaining())
            }
        }
    };
}

/// Postings over an owned, strictly increasing vector.
pub struct VecPostings(Cursor<Vec<SeriesRef>>);

impl VecPostings {
    /// Wraps `refs`, which must be strictly increasing (checked in debug
    /// builds; unsorted input gives wrong results, never undefined
    /// behaviour).
    pub fn new(refs: Vec<SeriesRef>) -> Self {
        debug_assert!(refs.windows(2).all(|w| w[0] < w[1]));
        VecPostings(Cursor::new(refs))
    }
}
cursor_postings!(VecPostings);

/// Postings over a snapshot of one of [`MemPostings`](super::MemPostings)'s
/// lists. Holding it never blocks writers: a writer that changes the list
/// copies it first (copy-on-write).
pub struct ListPostings(Cursor<Arc<RefList>>);

impl ListPostings {
    pub(crate) fn new(list: Arc<RefList>) -> Self {
        ListPostings(Cursor::new(list))
    }
}
cursor_postings!(ListPostings);

/// Postings over an index file's list of big-endian `u32` series
/// references (the payload of a postings entry, after its count).
pub struct BigEndianPostings<'a>(Cursor<BigEndianRefs<'a>>);

impl<'a> BigEndianPostings<'a> {
    /// Wraps `bytes`; a trailing partial reference is ignored.
    pub fn new(bytes: &'a [u8]) -> Self {
        BigEndianPostings(Cursor::new(BigEndianRefs(bytes)))
    }
}
cursor_postings!(BigEndianPostings<'_>);

/// A sorted set of series references stored as compactly as its largest
/// element allows: `u32`s until a reference needs more (head references
/// are counters that practically never get there), then `u64`s.
#[derive(Debug, Clone)]
pub(crate) enum RefList {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl RefList {
    pub(crate) fn new() -> Self {
        RefList::Narrow(Vec::new())
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        match self {
            RefList::Narrow(v) => v.len(),
            RefList::Wide(v) => v.len(),
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> SeriesRef {
        match self {
            RefList::Narrow(v) => v[i] as SeriesRef,
            RefList::Wide(v) => v[i],
        }
    }

    /// Inserts `r`, keeping the list sorted and unique. Appending (the
    /// common case: new series get larger references) is O(1) amortised.
    pub(crate) fn add(&mut self, r: SeriesRef) {
        if let RefList::Narrow(v) = self {
            match u32::try_from(r) {
                Ok(r32) => return insert_sorted(v, r32),
                Err(_) => *self = RefList::Wide(v.iter().map(|&x| x as u64).collect()),
            }
        }
        if let RefList::Wide(v) = self {
            insert_sorted(v, r);
        }
    }

    /// Removes `r`; returns whether it was present.
    pub(crate) fn remove(&mut self, r: SeriesRef) -> bool {
        match self {
            RefList::Narrow(v) => match u32::try_from(r) {
                Ok(r32) => remove_sorted(v, r32),
                Err(_) => false,
            },
            RefList::Wide(v) => remove_sorted(v, r),
        }
    }

    /// Heap bytes owned by the list's buffer.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            RefList::Narrow(v) => v.capacity() * 4,
            RefList::Wide(v) => v.capacity() * 8,
        }
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        match self {
            RefList::Narrow(v) => v.shrink_to_fit(),
            RefList::Wide(v) => v.shrink_to_fit(),
        }
    }
}

#[inline]
fn insert_sorted<T: Ord + Copy>(v: &mut Vec<T>, x: T) {
    match v.last() {
        None => v.push(x),
        Some(&last) if last < x => v.push(x),
        Some(&last) if last == x => {}
        _ => {
            if let Err(i) = v.binary_search(&x) {
                v.insert(i, x);
            }
        }
    }
}

fn remove_sorted<T: Ord>(v: &mut Vec<T>, x: T) -> bool {
    match v.binary_search(&x) {
        Ok(i) => {
            v.remove(i);
            true
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seek_semantics() {
        let mut p = VecPostings::new(vec![1, 3, 5, 7, 9, 11, 13, 100, 1000]);
        assert_eq!(p.seek(0), Some(1));
        assert_eq!(p.seek(1), Some(1));
        assert_eq!(p.seek(6), Some(7));
        assert_eq!(p.next(), Some(9));
        assert_eq!(p.seek(101), Some(1000));
        assert_eq!(p.seek(1001), None);
        assert_eq!(p.next(), None);
        assert_eq!(p.seek(0), None);
    }

    #[test]
    fn big_endian() {
        let bytes: Vec<u8> = [5u32, 9, 70000]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        let mut p = BigEndianPostings::new(&bytes);
        assert_eq!(p.len_hint(), Some(3));
        assert_eq!(p.collect_refs(), vec![5, 9, 70000]);
    }

    #[test]
    fn ref_list_widens() {
        let mut l = RefList::new();
        for r in [5, 1, 3, 3, 9] {
            l.add(r);
        }
        assert!(matches!(l, RefList::Narrow(_)));
        l.add(1 << 40);
        l.add(2);
        assert!(matches!(l, RefList::Wide(_)));
        let got: Vec<_> = (0..l.len()).map(|i| l.get(i)).collect();
        assert_eq!(got, vec![1, 2, 3, 5, 9, 1 << 40]);
        assert!(l.remove(3));
        assert!(!l.remove(4));
        assert_eq!(l.len(), 5);
    }
}
