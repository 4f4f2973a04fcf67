//! An immutable byte string kept inline when it is short: what a head
//! series' label references ([`InternedLabels`](super::symbols::InternedLabels))
//! are stored in.

use std::fmt;
use std::ptr::NonNull;

/// Longest string kept inline (the first byte holds its length).
const INLINE_CAP: usize = 15;

/// First byte of a string on the heap (inline lengths are at most
/// [`INLINE_CAP`]).
const HEAP_TAG: u8 = 0xff;

/// Immutable bytes in 16 bytes: up to 15 inline, longer ones in an exact
/// heap allocation.
///
/// A series' label references are 10–20 bytes (a varint per symbol id);
/// as a `Box<[u8]>` they cost a 16-byte fat pointer in the series plus
/// the allocation. Five labels with ids below 16 384 fit inline, which
/// saves every such series its allocation; longer sets cost what a boxed
/// slice did.
pub(crate) struct SmallBytes(Repr);

/// Both forms start with a byte: the inline length, or [`HEAP_TAG`].
#[repr(C)]
union Repr {
    /// Length, the bytes, zeros.
    inline: [u8; 16],
    heap: Heap,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Heap {
    tag: u8,
    zero: [u8; 3],
    len: u32,
    /// From `Box<[u8]>::into_raw` of `len` bytes; owned by this string.
    ptr: NonNull<u8>,
}

// SAFETY: the heap bytes are owned by the string alone and never
// mutated, as in a `Box<[u8]>`.
unsafe impl Send for SmallBytes {}
// SAFETY: as for `Send`; `&SmallBytes` only reads.
unsafe impl Sync for SmallBytes {}

impl SmallBytes {
    pub fn new(bytes: &[u8]) -> SmallBytes {
        if bytes.len() <= INLINE_CAP {
            let mut inline = [0u8; 16];
            inline[0] = bytes.len() as u8;
            inline[1..=bytes.len()].copy_from_slice(bytes);
            return SmallBytes(Repr { inline });
        }
        let len = u32::try_from(bytes.len()).expect("at most 4 GiB");
        let raw = Box::into_raw(Box::<[u8]>::from(bytes));
        SmallBytes(Repr {
            heap: Heap {
                tag: HEAP_TAG,
                zero: [0; 3],
                len,
                ptr: NonNull::new(raw as *mut u8).expect("a box is not null"),
            },
        })
    }

    /// The heap form, if the string is in it.
    #[inline]
    fn heap(&self) -> Option<Heap> {
        // SAFETY: both forms initialise their first byte as a `u8` (the
        // inline length or the tag), so reading it is defined either way;
        // with the tag, the whole heap form was written.
        unsafe { (self.0.heap.tag == HEAP_TAG).then_some(self.0.heap) }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self.heap() {
            // SAFETY: `ptr` owns `len` initialised bytes (see `Heap`),
            // freed only when `self` drops.
            Some(h) => unsafe { std::slice::from_raw_parts(h.ptr.as_ptr(), h.len as usize) },
            None => {
                // SAFETY: not the heap form, so the inline form was
                // written, all 16 bytes of it.
                let inline = unsafe { &self.0.inline };
                &inline[1..=inline[0] as usize]
            }
        }
    }

    /// Bytes allocated on the heap (0 when inline).
    pub fn heap_bytes(&self) -> usize {
        self.heap().map_or(0, |h| h.len as usize)
    }
}

impl Drop for SmallBytes {
    fn drop(&mut self) {
        if let Some(h) = self.heap() {
            let raw = std::ptr::slice_from_raw_parts_mut(h.ptr.as_ptr(), h.len as usize);
            // SAFETY: `raw` is what `Box::into_raw` returned in `new`
            // (pointer and length), dropped only here.
            drop(unsafe { Box::from_raw(raw) });
        }
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for SmallBytes {}

impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_bytes(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn is_16_bytes_and_short_strings_stay_inline() {
        assert_eq!(std::mem::size_of::<SmallBytes>(), 16);
        let s = SmallBytes::new(&[7; 15]);
        assert_eq!((s.as_bytes(), s.heap_bytes()), (&[7u8; 15][..], 0));
        let s = SmallBytes::new(&[0xff; 16]);
        assert_eq!((s.as_bytes(), s.heap_bytes()), (&[0xffu8; 16][..], 16));
        assert_eq!(SmallBytes::new(&[]).as_bytes(), &[] as &[u8]);
    }

    proptest! {
        #[test]
        fn reads_back_what_it_was_given(a in prop::collection::vec(any::<u8>(), 0..40),
                                        b in prop::collection::vec(any::<u8>(), 0..40)) {
            let (sa, sb) = (SmallBytes::new(&a), SmallBytes::new(&b));
            prop_assert_eq!(sa.as_bytes(), &a[..]);
            prop_assert_eq!(sa.heap_bytes(), if a.len() > INLINE_CAP { a.len() } else { 0 });
            prop_assert_eq!(sa == sb, a == b);
            // Moved, as a series moves into its allocation.
            let moved = Box::new([sa, sb]);
            prop_assert_eq!(moved[1].as_bytes(), &b[..]);
        }
    }
}
