//! Chunk bytes that keep their storage alive, and a chunk iterator (of any
//! encoding) that owns them.
//!
//! A query reads chunks lazily, long after it started: by then a chunk file
//! may have been truncated away from the head, and an open chunk may have
//! been cut and moved to disk. So an iterator holds its chunk's bytes by
//! ownership (a reference-counted handle on an mmapped file, or a private
//! copy) rather than by a borrow of the head.

use std::error::Error as StdError;
use std::sync::Arc;

use aion_chunkenc::{Chunk, ChunkIter, Encoding, SampleIterator, ValueType};
use aion_model::histogram::{FloatHistogram, Histogram};

/// One `chunks_head/` file, mapped read-only (or, for a read-only open or
/// a file not yet on disk, held in memory): the storage a
/// [`ChunkBytes::File`] handle keeps alive.
pub struct ChunkFile {
    seq: u32,
    data: FileData,
}

enum FileData {
    Mapped(memmap2::Mmap),
    Memory(Box<[u8]>),
}

impl ChunkFile {
    /// File number `seq` read through the mapping `map`.
    pub(crate) fn mapped(seq: u32, map: memmap2::Mmap) -> Self {
        ChunkFile {
            seq,
            data: FileData::Mapped(map),
        }
    }

    /// File number `seq` held in memory.
    pub(crate) fn in_memory(seq: u32, data: Box<[u8]>) -> Self {
        ChunkFile {
            seq,
            data: FileData::Memory(data),
        }
    }

    /// The number in the file's name.
    pub(crate) fn seq(&self) -> u32 {
        self.seq
    }

    /// The file's mapped bytes. For the file being written, only the part
    /// already flushed may be read.
    pub(crate) fn bytes(&self) -> &[u8] {
        match &self.data {
            FileData::Mapped(m) => m,
            FileData::Memory(b) => b,
        }
    }
}

/// The data of one chunk (after its encoding byte), held alive by its
/// handle.
#[derive(Clone)]
pub enum ChunkBytes {
    /// A range of an mmapped (or in-memory) chunk file.
    File {
        /// The file, kept mapped while this handle lives.
        file: Arc<ChunkFile>,
        /// Start of the chunk data in the file.
        start: usize,
        /// End (exclusive) of the chunk data.
        end: usize,
    },
    /// A private copy (an open head chunk, or a chunk still in the write
    /// buffer).
    Heap(Arc<[u8]>),
}

impl ChunkBytes {
    /// The chunk data.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            ChunkBytes::File { file, start, end } => &file.bytes()[*start..*end],
            ChunkBytes::Heap(b) => b,
        }
    }
}

impl std::fmt::Debug for ChunkBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkBytes")
            .field("len", &self.as_slice().len())
            .finish()
    }
}

/// A chunk iterator that owns the bytes it decodes.
///
/// `aion_chunkenc`'s iterators borrow their input; this pairs one with the
/// handle that keeps the input alive, so it can live in a boxed
/// [`SampleIterator`] with no borrow of the head.
pub struct OwnedChunkIterator {
    // Declared first so it is dropped before the bytes it borrows.
    it: ChunkIter<'static>,
    bytes: ChunkBytes,
}

impl OwnedChunkIterator {
    /// An iterator over the chunk data `bytes` of `encoding`; fails (naming
    /// it) for an encoding this build cannot read or data too short for
    /// its header.
    pub fn new(encoding: Encoding, bytes: ChunkBytes) -> Result<Self, aion_chunkenc::Error> {
        let slice: &[u8] = bytes.as_slice();
        // SAFETY: the slice points into memory owned by `bytes`: either an
        // `Arc<[u8]>` allocation or a file mapping owned by an
        // `Arc<ChunkFile>`. Neither moves when `bytes` (a handle) moves, and
        // neither is freed or unmapped while `bytes` lives. `bytes` is
        // stored next to the iterator, never replaced without replacing the
        // iterator too, and dropped after it (field order), so the
        // `'static` borrow never outlives the memory and is never exposed.
        let slice: &'static [u8] = unsafe { &*(slice as *const [u8]) };
        let chunk = Chunk::from_bytes(encoding, slice)?;
        // The iterator borrows `slice`, not `chunk` (a copy of the
        // reference): the chunk value may go.
        let it = match chunk {
            Chunk::Xor(c) => ChunkIter::Xor(aion_chunkenc::XorIterator::new(c.into_inner())),
            Chunk::Xor2(c) => ChunkIter::Xor2(aion_chunkenc::Xor2Iterator::new(c.into_inner())),
            Chunk::Histogram(c) => {
                ChunkIter::Histogram(aion_chunkenc::HistogramIterator::new(c.into_inner()))
            }
            Chunk::FloatHistogram(c) => ChunkIter::FloatHistogram(
                aion_chunkenc::FloatHistogramIterator::new(c.into_inner()),
            ),
            other => {
                return Err(aion_chunkenc::Error::UnsupportedEncoding {
                    encoding: other.encoding(),
                })
            }
        };
        Ok(OwnedChunkIterator { it, bytes })
    }

    /// Why iteration stopped early, as the concrete error type.
    pub fn error(&self) -> Option<&aion_chunkenc::Error> {
        self.it.error()
    }

    /// The chunk bytes this iterator reads.
    pub fn bytes(&self) -> &ChunkBytes {
        &self.bytes
    }
}

impl SampleIterator for OwnedChunkIterator {
    #[inline]
    fn next(&mut self) -> ValueType {
        self.it.next()
    }
    #[inline]
    fn seek(&mut self, t: i64) -> ValueType {
        self.it.seek(t)
    }
    #[inline]
    fn at(&self) -> (i64, f64) {
        self.it.at()
    }
    #[inline]
    fn at_histogram(&self, h: &mut Histogram) -> i64 {
        self.it.at_histogram(h)
    }
    #[inline]
    fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
        self.it.at_float_histogram(fh)
    }
    #[inline]
    fn at_t(&self) -> i64 {
        self.it.at_t()
    }
    #[inline]
    fn read_floats(&mut self, ts: &mut [i64], vs: &mut [f64], maxt: i64) -> (usize, ValueType) {
        self.it.read_floats(ts, vs, maxt)
    }
    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.it.err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aion_chunkenc::XorAppender;

    #[test]
    fn owned_iterator_outlives_the_source_handle() {
        let mut app = XorAppender::new();
        for i in 0..10 {
            app.append(i * 1000, i as f64).unwrap();
        }
        let bytes: Arc<[u8]> = Arc::from(app.bytes());
        drop(app);
        let mut it = OwnedChunkIterator::new(Encoding::Xor, ChunkBytes::Heap(bytes)).unwrap();
        let moved = Box::new(std::mem::replace(
            &mut it,
            OwnedChunkIterator::new(Encoding::Xor, ChunkBytes::Heap(Arc::from(&[0u8, 0][..])))
                .unwrap(),
        ));
        let mut moved: Box<dyn SampleIterator> = moved;
        let mut n = 0;
        while moved.next() == ValueType::Float {
            assert_eq!(moved.at(), (n * 1000, n as f64));
            n += 1;
        }
        assert_eq!(n, 10);
        assert!(moved.err().is_none());
        assert_eq!(it.next(), ValueType::None);
    }
}
