//! Chunks of any encoding behind one type.

use std::error::Error as StdError;

use aion_model::histogram::{FloatHistogram, Histogram};

use crate::{
    Encoding, Error, FloatHistogramChunk, FloatHistogramIterator, HistogramChunk,
    HistogramIterator, Result, SampleIterator, ValueType, Xor2Chunk, Xor2Iterator, XorChunk,
    XorIterator,
};

/// A chunk of any supported encoding, over bytes of any ownership.
///
/// This is what block and head readers build from an encoding byte and the
/// chunk data that follows it. Floats ([`Encoding::Xor`],
/// [`Encoding::Xor2`]), integer histograms ([`Encoding::Histogram`]) and
/// float histograms ([`Encoding::FloatHistogram`]) are readable; the
/// histogram encodings with start timestamps (5, 6) and the others
/// Prometheus defines are recognised and refused with
/// [`Error::UnsupportedEncoding`] (the enum is `#[non_exhaustive]`, so
/// variants can be added for them).
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
/// assert!(Chunk::from_raw(5, data).is_err()); // histogramST: not yet
/// assert!(Chunk::from_raw(9, data).is_err()); // not an encoding at all
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Chunk<B = Vec<u8>> {
    /// Float samples (encoding 1).
    Xor(XorChunk<B>),
    /// Integer native histograms (encoding 2).
    Histogram(HistogramChunk<B>),
    /// Floats with optional start timestamps (encoding 4).
    Xor2(Xor2Chunk<B>),
    /// Float native histograms (encoding 3).
    FloatHistogram(FloatHistogramChunk<B>),
}

impl<B: AsRef<[u8]>> Chunk<B> {
    /// A chunk of `encoding` over its data (the bytes after the encoding
    /// byte). Only the header is checked here; the rest is validated while
    /// iterating.
    pub fn from_bytes(encoding: Encoding, bytes: B) -> Result<Self> {
        match encoding {
            Encoding::Xor => Ok(Chunk::Xor(XorChunk::from_bytes(bytes)?)),
            Encoding::Histogram => Ok(Chunk::Histogram(HistogramChunk::from_bytes(bytes)?)),
            Encoding::Xor2 => Ok(Chunk::Xor2(Xor2Chunk::from_bytes(bytes)?)),
            Encoding::FloatHistogram => Ok(Chunk::FloatHistogram(FloatHistogramChunk::from_bytes(
                bytes,
            )?)),
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
            Chunk::Histogram(_) => Encoding::Histogram,
            Chunk::Xor2(_) => Encoding::Xor2,
            Chunk::FloatHistogram(_) => Encoding::FloatHistogram,
        }
    }

    /// The chunk data (without the encoding byte).
    pub fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Xor(c) => c.bytes(),
            Chunk::Histogram(c) => c.bytes(),
            Chunk::Xor2(c) => c.bytes(),
            Chunk::FloatHistogram(c) => c.bytes(),
        }
    }

    /// The sample count from the chunk header.
    pub fn num_samples(&self) -> usize {
        match self {
            Chunk::Xor(c) => c.num_samples(),
            Chunk::Histogram(c) => c.num_samples(),
            Chunk::Xor2(c) => c.num_samples(),
            Chunk::FloatHistogram(c) => c.num_samples(),
        }
    }

    /// A cursor over the samples.
    pub fn iter(&self) -> ChunkIter<'_> {
        match self {
            Chunk::Xor(c) => ChunkIter::Xor(c.iter()),
            Chunk::Histogram(c) => ChunkIter::Histogram(c.iter()),
            Chunk::Xor2(c) => ChunkIter::Xor2(c.iter()),
            Chunk::FloatHistogram(c) => ChunkIter::FloatHistogram(c.iter()),
        }
    }

    /// Gives up the byte container.
    pub fn into_inner(self) -> B {
        match self {
            Chunk::Xor(c) => c.into_inner(),
            Chunk::Histogram(c) => c.into_inner(),
            Chunk::Xor2(c) => c.into_inner(),
            Chunk::FloatHistogram(c) => c.into_inner(),
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
    /// Over an integer histogram chunk.
    Histogram(HistogramIterator<'a>),
    /// Over an XOR2 chunk.
    Xor2(Xor2Iterator<'a>),
    /// Over a float histogram chunk.
    FloatHistogram(FloatHistogramIterator<'a>),
}

impl<'a> ChunkIter<'a> {
    /// A cursor over chunk data (the bytes after the encoding byte) of
    /// `encoding`, borrowing the data for `'a` (not a [`Chunk`] value):
    /// what readers of mapped files hold while they walk a series' chunks.
    /// Damaged data is reported by the iterator (`err` after
    /// [`ValueType::None`]); only encodings Aion cannot read fail here.
    pub fn new(encoding: Encoding, data: &'a [u8]) -> Result<Self> {
        Self::reuse(None, encoding, data)
    }

    /// Like [`ChunkIter::new`], reusing `spare` (a finished iterator) when
    /// it is of the same encoding: histogram iterators keep their bucket
    /// vectors, so walking a series chunk after chunk allocates nothing
    /// once the widest layout has been seen.
    ///
    /// ```
    /// use aion_chunkenc::{ChunkIter, Encoding, SampleIterator, ValueType, XorAppender};
    ///
    /// let mut a = XorAppender::new();
    /// a.append(1, 1.0).unwrap();
    /// let mut b = XorAppender::new();
    /// b.append(2, 2.0).unwrap();
    /// let mut it = ChunkIter::new(Encoding::Xor, a.bytes()).unwrap();
    /// while it.next() == ValueType::Float {}
    /// let mut it = ChunkIter::reuse(Some(it), Encoding::Xor, b.bytes()).unwrap();
    /// assert_eq!(it.next(), ValueType::Float);
    /// assert_eq!(it.at(), (2, 2.0));
    /// assert!(ChunkIter::new(Encoding::HistogramSt, b.bytes()).is_err());
    /// ```
    pub fn reuse(spare: Option<Self>, encoding: Encoding, data: &'a [u8]) -> Result<Self> {
        Ok(match (encoding, spare) {
            // Float iterators hold no allocation worth keeping.
            (Encoding::Xor, _) => ChunkIter::Xor(XorIterator::new(data)),
            (Encoding::Xor2, _) => ChunkIter::Xor2(Xor2Iterator::new(data)),
            (Encoding::Histogram, Some(ChunkIter::Histogram(mut it))) => {
                it.reset(data);
                ChunkIter::Histogram(it)
            }
            (Encoding::Histogram, _) => ChunkIter::Histogram(HistogramIterator::new(data)),
            (Encoding::FloatHistogram, Some(ChunkIter::FloatHistogram(mut it))) => {
                it.reset(data);
                ChunkIter::FloatHistogram(it)
            }
            (Encoding::FloatHistogram, _) => {
                ChunkIter::FloatHistogram(FloatHistogramIterator::new(data))
            }
            (Encoding::None, _) => return Err(Error::NoneEncoding),
            (encoding, _) => return Err(Error::UnsupportedEncoding { encoding }),
        })
    }
}

/// Calls `$body` with `$it` bound to the iterator inside `$self`.
macro_rules! dispatch {
    ($self:expr, $it:ident => $body:expr) => {
        match $self {
            ChunkIter::Xor($it) => $body,
            ChunkIter::Histogram($it) => $body,
            ChunkIter::Xor2($it) => $body,
            ChunkIter::FloatHistogram($it) => $body,
        }
    };
}

impl ChunkIter<'_> {
    /// Why iteration stopped early, as the concrete error type.
    pub fn error(&self) -> Option<&Error> {
        dispatch!(self, it => it.error())
    }
}

impl SampleIterator for ChunkIter<'_> {
    #[inline]
    fn next(&mut self) -> ValueType {
        dispatch!(self, it => it.next())
    }

    #[inline]
    fn seek(&mut self, t: i64) -> ValueType {
        dispatch!(self, it => it.seek(t))
    }

    #[inline]
    fn at(&self) -> (i64, f64) {
        dispatch!(self, it => it.at())
    }

    #[inline]
    fn at_histogram(&self, h: &mut Histogram) -> i64 {
        dispatch!(self, it => it.at_histogram(h))
    }

    #[inline]
    fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
        dispatch!(self, it => it.at_float_histogram(fh))
    }

    #[inline]
    fn at_t(&self) -> i64 {
        dispatch!(self, it => it.at_t())
    }

    #[inline]
    fn read_floats(&mut self, ts: &mut [i64], vs: &mut [f64], maxt: i64) -> (usize, ValueType) {
        match self {
            ChunkIter::Xor(it) => it.read_floats(ts, vs, maxt),
            ChunkIter::Xor2(it) => it.read_floats(ts, vs, maxt),
            // Histogram chunks hold no floats: nothing is copied.
            ChunkIter::Histogram(_) => (0, ValueType::Histogram),
            ChunkIter::FloatHistogram(_) => (0, ValueType::FloatHistogram),
        }
    }

    #[inline]
    fn at_st(&self) -> i64 {
        dispatch!(self, it => it.at_st())
    }

    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        dispatch!(self, it => it.err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::XorAppender;

    #[test]
    fn unreadable_encodings_are_refused_with_their_name() {
        let data = [0u8, 0, 0];
        assert_eq!(
            Chunk::from_raw(0, &data[..]).unwrap_err(),
            Error::NoneEncoding
        );
        for byte in [5, 6, 0xFF] {
            let err = Chunk::from_raw(byte, &data[..]).unwrap_err();
            let encoding = Encoding::try_from(byte).unwrap();
            assert_eq!(err, Error::UnsupportedEncoding { encoding });
            assert!(err.to_string().contains(encoding.name()), "{err}");
        }
        for byte in 7..u8::MAX {
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
        assert_eq!(
            Chunk::from_raw(2, &[0u8, 0][..]).unwrap_err(),
            Error::MissingHistogramHeader {
                encoding: Encoding::Histogram,
                len: 2
            }
        );
    }

    #[test]
    fn histogram_chunks_read_through_the_generic_door() {
        use aion_model::histogram::Span;
        let h = Histogram {
            count: 2,
            sum: 1.0,
            positive_spans: vec![Span {
                offset: 3,
                length: 1,
            }],
            positive_buckets: vec![2],
            ..Histogram::default()
        };
        let mut app = crate::HistogramAppender::new();
        app.append(5, &h).unwrap();
        let chunk = Chunk::from_raw(2, app.bytes()).unwrap();
        assert_eq!(
            (chunk.encoding(), chunk.num_samples()),
            (Encoding::Histogram, 1)
        );
        let mut it = chunk.iter();
        assert_eq!(it.next(), ValueType::Histogram);
        let mut fh = FloatHistogram::default();
        assert_eq!(it.at_float_histogram(&mut fh), 5);
        assert_eq!(fh, h.to_float());

        let mut fapp = crate::FloatHistogramAppender::new();
        fapp.append(7, &fh).unwrap();
        let chunk = Chunk::from_raw(3, fapp.bytes()).unwrap();
        let mut it = chunk.iter();
        assert_eq!(it.seek(7), ValueType::FloatHistogram);
        let mut got = FloatHistogram::default();
        assert_eq!(it.at_float_histogram(&mut got), 7);
        assert_eq!(got, fh);
        assert_eq!(it.next(), ValueType::None);
        assert!(it.err().is_none());
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
