//! The full chunks of a series that live in `chunks_head/`: their
//! references and time ranges, kept in memory for every series.

use std::ops::Deref;

use crate::chunks::HeadChunkRef;

/// A full chunk of a series, written to `chunks_head/` and read back
/// through mmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MmappedChunk {
    pub min_time: i64,
    pub max_time: i64,
    pub chunk_ref: HeadChunkRef,
}

/// A series' m-mapped chunks, oldest first, in one allocation of exactly
/// their size (none while there are none).
///
/// A `Vec` would cost every series 24 bytes inline and, growing 0 → 4, a
/// 96-byte allocation for the usual three chunks of a 2 h head; this is 16
/// bytes inline and 72 for three. A chunk is added every 120 samples or
/// so, so copying the list then (a few dozen bytes) is noise.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct MmappedChunks(Box<[MmappedChunk]>);

impl MmappedChunks {
    /// Appends the newest chunk.
    pub fn push(&mut self, c: MmappedChunk) {
        let mut v = Vec::with_capacity(self.0.len() + 1);
        v.extend_from_slice(&self.0);
        v.push(c);
        self.0 = v.into_boxed_slice();
    }

    /// Keeps the chunks for which `keep` holds (order unchanged).
    pub fn retain(&mut self, mut keep: impl FnMut(&MmappedChunk) -> bool) {
        if self.0.iter().all(&mut keep) {
            return;
        }
        let kept: Vec<MmappedChunk> = self.0.iter().copied().filter(|c| keep(c)).collect();
        *self = MmappedChunks::from(kept);
    }

    /// Heap bytes of the list.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.0)
    }
}

impl From<Vec<MmappedChunk>> for MmappedChunks {
    fn from(v: Vec<MmappedChunk>) -> Self {
        MmappedChunks(v.into_boxed_slice())
    }
}

impl Deref for MmappedChunks {
    type Target = [MmappedChunk];

    fn deref(&self) -> &[MmappedChunk] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a MmappedChunks {
    type Item = &'a MmappedChunk;
    type IntoIter = std::slice::Iter<'a, MmappedChunk>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(l.heap_bytes(), 4 * std::mem::size_of::<MmappedChunk>());
        l.retain(|c| c.max_time >= 15);
        assert_eq!(&*l, &[c(10), c(20), c(30)]);
        assert_eq!(l.heap_bytes(), 3 * std::mem::size_of::<MmappedChunk>());
        l.retain(|_| true);
        assert_eq!(l.len(), 3);
        l.retain(|_| false);
        assert!(l.is_empty() && l.heap_bytes() == 0);
        assert_eq!(MmappedChunks::from(vec![c(5)]).last(), Some(&c(5)));
    }
}
