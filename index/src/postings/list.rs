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

/// A snapshot of a [`RefList`] stored as a vector.
struct SliceSnapshot(Arc<RefList>);

impl RefSource for SliceSnapshot {
    #[inline]
    fn len(&self) -> usize {
        match &*self.0 {
            RefList::Small(v) => v.len(),
            RefList::Wide(v) => v.len(),
            RefList::Bitmap(_) => 0,
        }
    }
    #[inline]
    fn get(&self, i: usize) -> SeriesRef {
        match &*self.0 {
            RefList::Small(v) => v[i] as SeriesRef,
            RefList::Wide(v) => v[i],
            RefList::Bitmap(_) => unreachable!("bitmaps use their own cursor"),
        }
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
        // Callers ask only for i < len(), so the read is in bounds.
        aion_model::encoding::be32_at(self.0, i * 4).map_or(0, SeriesRef::from)
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
/// lists. Holding it never blocks writers: a writer that changes a list
/// still shared with a snapshot copies it first (copy-on-write).
pub struct ListPostings(Snapshot);

enum Snapshot {
    Slice(Cursor<SliceSnapshot>),
    Bitmap(BitmapPostings),
}

impl ListPostings {
    pub(crate) fn new(list: Arc<RefList>) -> Self {
        ListPostings(match &*list {
            // The bitmap is copied out of the shared list (outside any
            // lock); the copy is its compressed size, small next to the
            // work of iterating it.
            RefList::Bitmap(b) => Snapshot::Bitmap(BitmapPostings::new(b.clone())),
            _ => Snapshot::Slice(Cursor::new(SliceSnapshot(list))),
        })
    }
}

impl Postings for ListPostings {
    #[inline]
    fn next(&mut self) -> Option<SeriesRef> {
        match &mut self.0 {
            Snapshot::Slice(c) => c.next(),
            Snapshot::Bitmap(b) => b.next(),
        }
    }

    #[inline]
    fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef> {
        match &mut self.0 {
            Snapshot::Slice(c) => c.seek(target),
            Snapshot::Bitmap(b) => b.seek(target),
        }
    }

    fn is_known_empty(&self) -> bool {
        self.len_hint() == Some(0)
    }

    fn len_hint(&self) -> Option<usize> {
        match &self.0 {
            Snapshot::Slice(c) => Some(c.remaining()),
            Snapshot::Bitmap(b) => b.len_hint(),
        }
    }
}

/// Postings over an owned roaring bitmap (32-bit references).
pub struct BitmapPostings {
    it: roaring::bitmap::IntoIter,
    cur: Option<SeriesRef>,
}

impl BitmapPostings {
    /// Iterates `bitmap` in order.
    pub fn new(bitmap: roaring::RoaringBitmap) -> Self {
        BitmapPostings {
            it: bitmap.into_iter(),
            cur: None,
        }
    }
}

impl Postings for BitmapPostings {
    #[inline]
    fn next(&mut self) -> Option<SeriesRef> {
        self.cur = self.it.next().map(SeriesRef::from);
        self.cur
    }

    #[inline]
    fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef> {
        if let Some(c) = self.cur {
            if c >= target {
                return Some(c);
            }
        }
        match u32::try_from(target) {
            Ok(t) => {
                self.it.advance_to(t);
                self.cur = self.it.next().map(SeriesRef::from);
            }
            // A bitmap holds nothing that large: exhaust it.
            Err(_) => {
                self.it.advance_to(u32::MAX);
                self.it.next();
                self.cur = None;
            }
        }
        self.cur
    }

    fn is_known_empty(&self) -> bool {
        self.len_hint() == Some(0)
    }

    fn len_hint(&self) -> Option<usize> {
        Some(self.it.len() + usize::from(self.cur.is_some()))
    }
}

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

/// Lists up to this long stay plain sorted `u32` vectors: below it a
/// roaring bitmap's fixed overhead outweighs its compression (measured in
/// `BENCHMARKS.md`, "Index").
const SMALL_MAX: usize = 32;

/// A sorted set of series references, stored by size: short lists as
/// sorted `u32`s, longer ones as roaring bitmaps (a fraction of a byte per
/// reference for the dense lists of low-cardinality labels), and sorted
/// `u64`s once a reference needs more than 32 bits (head references are
/// counters that practically never get there).
#[derive(Debug, Clone)]
pub(crate) enum RefList {
    Small(Vec<u32>),
    Bitmap(roaring::RoaringBitmap),
    Wide(Vec<u64>),
}

impl RefList {
    pub(crate) fn new() -> Self {
        RefList::Small(Vec::new())
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        match self {
            RefList::Small(v) => v.len(),
            RefList::Bitmap(b) => b.len() as usize,
            RefList::Wide(v) => v.len(),
        }
    }

    /// The references in order (tests and conversions).
    pub(crate) fn to_vec(&self) -> Vec<SeriesRef> {
        match self {
            RefList::Small(v) => v.iter().map(|&r| r as SeriesRef).collect(),
            RefList::Bitmap(b) => b.iter().map(SeriesRef::from).collect(),
            RefList::Wide(v) => v.clone(),
        }
    }

    /// Inserts `r`, keeping the set sorted and unique. Appending (the
    /// common case: new series get larger references) is O(1) amortised.
    pub(crate) fn add(&mut self, r: SeriesRef) {
        let Ok(r32) = u32::try_from(r) else {
            if !matches!(self, RefList::Wide(_)) {
                *self = RefList::Wide(self.to_vec());
            }
            if let RefList::Wide(v) = self {
                insert_sorted(v, r);
            }
            return;
        };
        match self {
            RefList::Small(v) => {
                insert_sorted(v, r32);
                if v.len() > SMALL_MAX {
                    *self = RefList::Bitmap(v.iter().copied().collect());
                }
            }
            RefList::Bitmap(b) => {
                // `try_push` is the cheap append; `insert` handles the rest.
                if b.try_push(r32).is_err() {
                    b.insert(r32);
                }
            }
            RefList::Wide(v) => insert_sorted(v, r),
        }
    }

    /// Removes `r`; returns whether it was present.
    pub(crate) fn remove(&mut self, r: SeriesRef) -> bool {
        match self {
            RefList::Small(v) => u32::try_from(r).is_ok_and(|r| remove_sorted(v, r)),
            RefList::Bitmap(b) => u32::try_from(r).is_ok_and(|r| b.remove(r)),
            RefList::Wide(v) => remove_sorted(v, r),
        }
    }

    /// Approximate heap bytes owned by the list.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            RefList::Small(v) => v.capacity() * 4,
            RefList::Bitmap(b) => b.serialized_size() + 32 * b.statistics().n_containers as usize,
            RefList::Wide(v) => v.capacity() * 8,
        }
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        match self {
            RefList::Small(v) => v.shrink_to_fit(),
            RefList::Bitmap(b) => {
                b.optimize();
            }
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

    fn walk(l: &RefList, ops: &[(bool, u64)]) -> Vec<Option<u64>> {
        let mut p = ListPostings::new(Arc::new(l.clone()));
        ops.iter()
            .map(|&(seek, t)| if seek { p.seek(t) } else { p.next() })
            .collect()
    }

    #[test]
    fn ref_list_changes_layout_with_size_and_width() {
        let mut l = RefList::new();
        for r in [5, 1, 3, 3, 9] {
            l.add(r);
        }
        assert!(matches!(l, RefList::Small(_)));
        for r in (100..200).rev() {
            l.add(r);
        }
        assert!(matches!(l, RefList::Bitmap(_)));
        assert_eq!(l.len(), 104);
        l.add(1 << 40);
        l.add(2);
        assert!(matches!(l, RefList::Wide(_)));
        let got = l.to_vec();
        assert_eq!(&got[..5], &[1, 2, 3, 5, 9]);
        assert_eq!(*got.last().unwrap(), 1 << 40);
        assert!(l.remove(3));
        assert!(!l.remove(4));
        assert_eq!(l.len(), 105);
    }

    proptest::proptest! {
        #[test]
        fn every_layout_walks_like_a_sorted_set(
            refs in proptest::collection::btree_set(0u64..5000, 0..200),
            wide in proptest::bool::ANY,
            ops in proptest::collection::vec((proptest::bool::ANY, 0u64..5100), 0..60),
        ) {
            let mut l = RefList::new();
            for &r in &refs {
                l.add(r);
            }
            if wide {
                l.add(1 << 33);
            }
            let mut want: Vec<u64> = refs.iter().copied().collect();
            if wide {
                want.push(1 << 33);
            }
            proptest::prop_assert_eq!(l.to_vec(), want.clone());
            let mut v = VecPostings::new(want);
            let expected: Vec<Option<u64>> = ops
                .iter()
                .map(|&(seek, t)| if seek { v.seek(t) } else { v.next() })
                .collect();
            proptest::prop_assert_eq!(walk(&l, &ops), expected);
        }
    }
}
