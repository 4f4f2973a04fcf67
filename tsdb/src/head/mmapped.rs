//! The full chunks of a series that live in `chunks_head/`: their
//! references and time ranges, kept in memory for every series.

use std::alloc::{self, Layout};
use std::fmt;
use std::ptr::NonNull;

use crate::chunks::HeadChunkRef;

/// A full chunk of a series, written to `chunks_head/` and read back
/// through mmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MmappedChunk {
    pub min_time: i64,
    pub max_time: i64,
    pub chunk_ref: HeadChunkRef,
}

/// A series' m-mapped chunks, oldest first, packed into one allocation of
/// exactly their size behind a thin pointer (none while there are none).
///
/// Every series of a head holds one of these, so its bytes count a
/// million times over. Plain `MmappedChunk`s cost 24 bytes each plus a
/// 16-byte fat pointer; here the pointer is 8 bytes and, in the usual
/// (compact) form, a chunk is 16: its times as `u32` offsets from one
/// base time stored once, and its reference. Three chunks, a 2 h head's
/// usual count, take 60 bytes instead of 72. When some time does not fit
/// a `u32` offset (over 49 days apart, or before the base) the list is
/// kept in the wide form, the plain 24-byte chunks, so nothing is ever
/// rounded: what is read back is exactly what was pushed.
///
/// The allocation is `u32` words: a header word (the chunk count, the top
/// bit set for the wide form), then in the compact form the base time (2
/// words) and per chunk `min - base`, `max - base`, the reference (2
/// words); in the wide form per chunk min, max and the reference (2 words
/// each). 64-bit values are stored low word first.
///
/// A chunk is added every 120 samples or so, so rebuilding the list then
/// (a few dozen bytes) is noise.
#[derive(Default)]
pub(crate) struct MmappedChunks(Option<NonNull<u32>>);

// SAFETY: the list owns its allocation outright (nothing else points into
// it) and has no interior mutability, like a `Box<[u32]>`.
unsafe impl Send for MmappedChunks {}
// SAFETY: as for `Send`: `&MmappedChunks` only reads the allocation.
unsafe impl Sync for MmappedChunks {}

/// Header bit marking the wide form.
const WIDE: u32 = 1 << 31;
/// Words per chunk in the compact and the wide form.
const COMPACT_WORDS: usize = 4;
const WIDE_WORDS: usize = 6;

/// Words of a list of `len` chunks in the given form.
fn words_for(len: usize, wide: bool) -> usize {
    if wide {
        1 + len * WIDE_WORDS
    } else {
        1 + 2 + len * COMPACT_WORDS
    }
}

fn layout(words: usize) -> Layout {
    Layout::array::<u32>(words).expect("chunk list layout")
}

fn put64(out: &mut [u32], x: u64) {
    out[0] = x as u32;
    out[1] = (x >> 32) as u32;
}

fn get64(w: &[u32]) -> u64 {
    u64::from(w[0]) | (u64::from(w[1]) << 32)
}

/// `t - base` if it fits a `u32`.
fn offset(t: i64, base: i64) -> Option<u32> {
    u32::try_from(i128::from(t) - i128::from(base)).ok()
}

impl MmappedChunks {
    /// Packs `chunks` (in their order) into a new list.
    pub(crate) fn pack(chunks: &[MmappedChunk]) -> MmappedChunks {
        if chunks.is_empty() {
            return MmappedChunks(None);
        }
        assert!(chunks.len() < WIDE as usize, "too many chunks in a series");
        let base = chunks
            .iter()
            .map(|c| c.min_time.min(c.max_time))
            .min()
            .expect("not empty");
        let wide = !chunks
            .iter()
            .all(|c| offset(c.min_time, base).is_some() && offset(c.max_time, base).is_some());
        let mut words = vec![0u32; words_for(chunks.len(), wide)];
        words[0] = chunks.len() as u32 | if wide { WIDE } else { 0 };
        if wide {
            for (c, w) in chunks.iter().zip(words[1..].chunks_exact_mut(WIDE_WORDS)) {
                put64(&mut w[0..2], c.min_time as u64);
                put64(&mut w[2..4], c.max_time as u64);
                put64(&mut w[4..6], c.chunk_ref.0);
            }
        } else {
            put64(&mut words[1..3], base as u64);
            for (c, w) in chunks
                .iter()
                .zip(words[3..].chunks_exact_mut(COMPACT_WORDS))
            {
                w[0] = offset(c.min_time, base).expect("checked above");
                w[1] = offset(c.max_time, base).expect("checked above");
                put64(&mut w[2..4], c.chunk_ref.0);
            }
        }
        MmappedChunks::from_words(words)
    }

    /// Takes over `words` (a whole list: header, then its form's words)
    /// as the allocation. A `Box<[u32]>` of `n` words is allocated with
    /// `layout(n)`, which is how `Drop` frees it.
    fn from_words(words: Vec<u32>) -> MmappedChunks {
        debug_assert_eq!(
            words.len(),
            words_for((words[0] & !WIDE) as usize, words[0] & WIDE != 0)
        );
        let leaked: &mut [u32] = Box::leak(words.into_boxed_slice());
        MmappedChunks(Some(NonNull::from(leaked).cast::<u32>()))
    }

    /// The whole allocation as words (empty without one).
    fn words(&self) -> &[u32] {
        let Some(ptr) = self.0 else { return &[] };
        // SAFETY: `ptr` came from `from_words`, whose words start with
        // the header; the list is immutable until dropped.
        let header = unsafe { *ptr.as_ptr() };
        let words = words_for((header & !WIDE) as usize, header & WIDE != 0);
        // SAFETY: `from_words` holds exactly `words` initialised words
        // (a function of the header), borrowed here for as long as
        // `self`, which nothing mutates meanwhile.
        unsafe { std::slice::from_raw_parts(ptr.as_ptr(), words) }
    }

    /// Number of chunks.
    #[inline]
    pub fn len(&self) -> usize {
        self.words().first().map_or(0, |h| (h & !WIDE) as usize)
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Chunk `i`, oldest first.
    pub fn get(&self, i: usize) -> Option<MmappedChunk> {
        let words = self.words();
        let header = *words.first()?;
        if i >= (header & !WIDE) as usize {
            return None;
        }
        Some(if header & WIDE != 0 {
            let w = &words[1 + i * WIDE_WORDS..][..WIDE_WORDS];
            MmappedChunk {
                min_time: get64(&w[0..2]) as i64,
                max_time: get64(&w[2..4]) as i64,
                chunk_ref: HeadChunkRef(get64(&w[4..6])),
            }
        } else {
            let base = get64(&words[1..3]) as i64;
            let w = &words[3 + i * COMPACT_WORDS..][..COMPACT_WORDS];
            MmappedChunk {
                min_time: base + i64::from(w[0]),
                max_time: base + i64::from(w[1]),
                chunk_ref: HeadChunkRef(get64(&w[2..4])),
            }
        })
    }

    /// The oldest chunk.
    pub fn first(&self) -> Option<MmappedChunk> {
        self.get(0)
    }

    /// The newest chunk.
    pub fn last(&self) -> Option<MmappedChunk> {
        self.get(self.len().checked_sub(1)?)
    }

    /// The chunks, oldest first.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            list: self,
            next: 0,
            end: self.len(),
        }
    }

    /// The chunks as plain values.
    pub fn to_vec(&self) -> Vec<MmappedChunk> {
        self.iter().collect()
    }

    /// Appends the newest chunk.
    pub fn push(&mut self, c: MmappedChunk) {
        // Every cut of every series comes here. Usually the list is
        // compact and the new chunk's times fit its base: then the new
        // list is the old words and four more (what `pack` would build),
        // one allocation instead of decoding every chunk into a `Vec` and
        // packing that (which took 3 % of `aion bench write`'s CPU).
        let words = self.words();
        if let Some(&header) = words.first() {
            let len = (header & !WIDE) as usize + 1;
            if header & WIDE == 0 && len < WIDE as usize {
                let base = get64(&words[1..3]) as i64;
                if let (Some(lo), Some(hi)) = (offset(c.min_time, base), offset(c.max_time, base)) {
                    let mut v = Vec::with_capacity(words.len() + COMPACT_WORDS);
                    v.extend_from_slice(words);
                    v[0] = len as u32;
                    v.extend_from_slice(&[lo, hi, 0, 0]);
                    let at = v.len() - 2;
                    put64(&mut v[at..], c.chunk_ref.0);
                    *self = MmappedChunks::from_words(v);
                    return;
                }
            }
        }
        let mut v = Vec::with_capacity(self.len() + 1);
        v.extend(self.iter());
        v.push(c);
        *self = MmappedChunks::pack(&v);
    }

    /// Keeps the chunks for which `keep` holds (order unchanged).
    pub fn retain(&mut self, mut keep: impl FnMut(&MmappedChunk) -> bool) {
        // Head truncation asks every series and most keep all their
        // chunks: the kept list is only built from the first dropped one
        // on (and `keep` is asked once per chunk).
        let mut kept: Option<Vec<MmappedChunk>> = None;
        for (i, c) in self.iter().enumerate() {
            match (&mut kept, keep(&c)) {
                (None, false) => kept = Some(self.iter().take(i).collect()),
                (Some(v), true) => v.push(c),
                (None, true) | (Some(_), false) => {}
            }
        }
        if let Some(kept) = kept {
            *self = MmappedChunks::pack(&kept);
        }
    }

    /// Heap bytes of the list.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(self.words())
    }

    /// Whether the list is in the wide form (for tests).
    #[cfg(test)]
    fn is_wide(&self) -> bool {
        self.words().first().is_some_and(|h| h & WIDE != 0)
    }
}

impl Drop for MmappedChunks {
    fn drop(&mut self) {
        let words = self.words().len();
        if let Some(ptr) = self.0.take() {
            // SAFETY: `from_words` leaked a `Box<[u32]>` of `words` words
            // at `ptr`, allocated with `layout(words)` (`words` read back
            // from its header); it is freed only here.
            unsafe { alloc::dealloc(ptr.as_ptr() as *mut u8, layout(words)) };
        }
    }
}

impl Clone for MmappedChunks {
    fn clone(&self) -> Self {
        MmappedChunks::pack(&self.to_vec())
    }
}

impl PartialEq for MmappedChunks {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for MmappedChunks {}

impl fmt::Debug for MmappedChunks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl From<Vec<MmappedChunk>> for MmappedChunks {
    fn from(v: Vec<MmappedChunk>) -> Self {
        MmappedChunks::pack(&v)
    }
}

impl<'a> IntoIterator for &'a MmappedChunks {
    type Item = MmappedChunk;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The chunks of a list, oldest first, by value (they are unpacked).
pub(crate) struct Iter<'a> {
    list: &'a MmappedChunks,
    next: usize,
    end: usize,
}

impl Iterator for Iter<'_> {
    type Item = MmappedChunk;

    #[inline]
    fn next(&mut self) -> Option<MmappedChunk> {
        if self.next == self.end {
            return None;
        }
        self.next += 1;
        self.list.get(self.next - 1)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.end - self.next, Some(self.end - self.next))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(t: i64) -> MmappedChunk {
        MmappedChunk {
            min_time: t,
            max_time: t + 9,
            chunk_ref: HeadChunkRef::new(1, t as u32),
        }
    }

    #[test]
    fn pushes_and_retains_in_order_with_exact_allocations() {
        let mut l = MmappedChunks::default();
        assert!(l.is_empty() && l.heap_bytes() == 0);
        for t in [0, 10, 20, 30] {
            l.push(c(t));
        }
        assert_eq!(
            l.iter().map(|c| c.min_time).collect::<Vec<_>>(),
            [0, 10, 20, 30]
        );
        assert!(!l.is_wide());
        assert_eq!(l.heap_bytes(), 12 + 4 * 16);
        l.retain(|c| c.max_time >= 15);
        assert_eq!(l.to_vec(), [c(10), c(20), c(30)]);
        assert_eq!(l.heap_bytes(), 12 + 3 * 16);
        l.retain(|_| true);
        assert_eq!(l.len(), 3);
        l.retain(|_| false);
        assert!(l.is_empty() && l.heap_bytes() == 0);
        assert_eq!(l.len(), 0);
        assert_eq!(MmappedChunks::from(vec![c(5)]).last(), Some(c(5)));
        assert_eq!(l.first(), None);
    }

    #[test]
    fn the_pointer_is_thin() {
        assert_eq!(std::mem::size_of::<MmappedChunks>(), 8);
    }

    #[test]
    fn times_too_far_apart_keep_the_wide_form_exactly() {
        let far = MmappedChunk {
            min_time: i64::MAX - 1,
            max_time: i64::MAX,
            chunk_ref: HeadChunkRef(u64::MAX),
        };
        let mut l = MmappedChunks::from(vec![c(i64::MIN)]);
        assert!(!l.is_wide());
        l.push(far);
        assert!(l.is_wide());
        assert_eq!(l.to_vec(), [c(i64::MIN), far]);
        assert_eq!(l.heap_bytes(), 4 + 2 * 24);
        l.retain(|c| c.min_time > 0);
        assert!(!l.is_wide());
        assert_eq!(l.to_vec(), [far]);
    }

    fn chunk() -> impl Strategy<Value = MmappedChunk> {
        let time = prop_oneof![
            any::<i64>(),
            -5_000_000_000i64..5_000_000_000,
            Just(i64::MIN),
            Just(i64::MAX),
        ];
        (time.clone(), time, any::<u64>()).prop_map(|(min_time, max_time, r)| MmappedChunk {
            min_time,
            max_time,
            chunk_ref: HeadChunkRef(r),
        })
    }

    proptest! {
        /// Whatever is pushed (in either form) is read back exactly, and
        /// retain, clone and equality agree with a plain `Vec`.
        #[test]
        fn behaves_like_a_vec(
            chunks in prop::collection::vec(chunk(), 0..12),
            keep in prop::collection::vec(any::<bool>(), 12),
        ) {
            let mut l = MmappedChunks::default();
            for (i, &c) in chunks.iter().enumerate() {
                l.push(c);
                prop_assert_eq!(l.len(), i + 1);
                prop_assert_eq!(l.last(), Some(c));
                // `push`'s in-place path builds what packing the whole
                // list builds, word for word.
                let packed = MmappedChunks::pack(&chunks[..=i]);
                prop_assert_eq!(l.words(), packed.words());
            }
            prop_assert_eq!(l.to_vec(), chunks.clone());
            prop_assert_eq!(l.first(), chunks.first().copied());
            prop_assert_eq!(&l.clone(), &l);
            prop_assert_eq!(&MmappedChunks::from(chunks.clone()), &l);
            let mut i = 0;
            l.retain(|_| { i += 1; keep[i - 1] });
            let kept: Vec<_> = chunks.iter().zip(&keep).filter(|(_, &k)| k).map(|(c, _)| *c).collect();
            prop_assert_eq!(l.iter().len(), kept.len());
            prop_assert_eq!(l.to_vec(), kept);
        }
    }
}
