//! Chunks of any encoding behind one type.

use std::error::Error as StdError;

use crate::{Encoding, Error, Result, SampleIterator, ValueType, XorChunk, XorIterator};

/// A chunk of any supported encoding, over bytes of any ownership.
///
/// This is what block and head readers build from an encoding byte and the
/// chunk data that follows it. Today only [`Encoding::Xor`] is readable;
/// the histogram encodings are recognised and refused with
/// [`Error::UnsupportedEncoding`] until native histograms are stored, and
/// new variants will be added then (the enum is `#[non_exhaustive]`).
///
/// ```
/// use aion_chunkenc::{Chunk, Encoding, SampleIterator, ValueType, XorAppender};
///
/// let mut app = XorAppender::new();
/// app.append(0, 42.0).unwrap();
/// let (encoding_byte, data) = (1u8, app.bytes());
///
/// let chunk = Chunk::from_raw(encoding_byte, data).unwrap();
/// assert_eq!(chunk.encoding(), Encoding::Xor);
/// assert_eq!(chunk.num_samples(), 1);
/// let mut it = chunk.iter();
/// assert_eq!(it.next(), ValueType::Float);
/// assert_eq!(it.at(), (0, 42.0));
///
/// assert!(Chunk::from_raw(2, data).is_err()); // histograms: not yet
/// assert!(Chunk::from_raw(9, data).is_err()); // not an encoding at all
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Chunk<B = Vec<u8>> {
    /// Float samples (encoding 1).
    Xor(XorChunk<B>),
}

impl<B: AsRef<[u8]>> Chunk<B> {
    /// A chunk of `encoding` over its data (the bytes after the encoding
    /// byte). Only the header is checked here; the rest is validated while
    /// iterating.
    pub fn from_bytes(encoding: Encoding, bytes: B) -> Result<Self> {
        match encoding {
            Encoding::Xor => Ok(Chunk::Xor(XorChunk::from_bytes(bytes)?)),
            Encoding::None => Err(Error::NoneEncoding),
            encoding => Err(Error::UnsupportedEncoding { encoding }),
        }
    }

    /// Like [`Chunk::from_bytes`], from the raw encoding byte as stored in
    /// a chunk segment file.
    pub fn from_raw(encoding: u8, bytes: B) -> Result<Self> {
        Self::from_bytes(Encoding::try_from(encoding)?, bytes)
    }

    /// The chunk's encoding.
    pub fn encoding(&self) -> Encoding {
        match self {
            Chunk::Xor(_) => Encoding::Xor,
        }
    }

    /// The chunk data (without the encoding byte).
    pub fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Xor(c) => c.bytes(),
        }
    }

    /// The sample count from the chunk header.
    pub fn num_samples(&self) -> usize {
        match self {
            Chunk::Xor(c) => c.num_samples(),
        }
    }

    /// A cursor over the samples.
    pub fn iter(&self) -> ChunkIter<'_> {
        match self {
            Chunk::Xor(c) => ChunkIter::Xor(c.iter()),
        }
    }

    /// Gives up the byte container.
    pub fn into_inner(self) -> B {
        match self {
            Chunk::Xor(c) => c.into_inner(),
        }
    }
}

impl<B> From<XorChunk<B>> for Chunk<B> {
    fn from(chunk: XorChunk<B>) -> Self {
        Chunk::Xor(chunk)
    }
}

/// The iterator of a [`Chunk`], dispatching to the encoding's own.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ChunkIter<'a> {
    /// Over an XOR chunk.
    Xor(XorIterator<'a>),
}

impl SampleIterator for ChunkIter<'_> {
    #[inline]
    fn next(&mut self) -> ValueType {
        match self {
            ChunkIter::Xor(it) => it.next(),
        }
    }

    #[inline]
    fn seek(&mut self, t: i64) -> ValueType {
        match self {
            ChunkIter::Xor(it) => it.seek(t),
        }
    }

    #[inline]
    fn at(&self) -> (i64, f64) {
        match self {
            ChunkIter::Xor(it) => it.at(),
        }
    }

    #[inline]
    fn at_t(&self) -> i64 {
        match self {
            ChunkIter::Xor(it) => it.at_t(),
        }
    }

    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        match self {
            ChunkIter::Xor(it) => it.err(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::XorAppender;

    #[test]
    fn encodings_other_than_xor_are_refused_with_their_name() {
        let data = [0u8, 0];
        assert_eq!(
            Chunk::from_raw(0, &data[..]).unwrap_err(),
            Error::NoneEncoding
        );
        for byte in 2..=6u8 {
            let err = Chunk::from_raw(byte, &data[..]).unwrap_err();
            let encoding = Encoding::try_from(byte).unwrap();
            assert_eq!(err, Error::UnsupportedEncoding { encoding });
            assert!(err.to_string().contains(encoding.name()), "{err}");
        }
        for byte in 7..=u8::MAX {
            assert_eq!(
                Chunk::from_raw(byte, &data[..]).unwrap_err(),
                Error::UnknownEncoding(byte)
            );
        }
    }

    #[test]
    fn short_data_is_refused() {
        assert_eq!(
            Chunk::from_raw(1, &[0u8][..]).unwrap_err(),
            Error::MissingHeader { len: 1 }
        );
    }

    #[test]
    fn owned_and_borrowed_chunks_read_the_same() {
        let mut app = XorAppender::new();
        for i in 0..10 {
            app.append(i * 15_000, i as f64 * 0.5).unwrap();
        }
        let borrowed = Chunk::from_bytes(Encoding::Xor, app.bytes()).unwrap();
        let owned = Chunk::from(app.clone().into_chunk());
        assert_eq!(borrowed.bytes(), owned.bytes());
        assert_eq!(borrowed.num_samples(), 10);
        let (mut a, mut b) = (borrowed.iter(), owned.iter());
        assert_eq!(a.seek(40_000), ValueType::Float);
        assert_eq!(a.at(), (45_000, 1.5));
        while b.next() == ValueType::Float {
            if b.at_t() == 45_000 {
                break;
            }
        }
        assert_eq!(a.at(), b.at());
        assert_eq!(owned.into_inner(), app.bytes());
    }
}
