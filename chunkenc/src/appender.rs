//! Appending to a chunk of any writable encoding behind one type.

use aion_model::histogram::{FloatHistogram, Histogram};
use thiserror::Error;

use crate::{
    AppendOutcome, Encoding, Error, FloatHistogramAppender, HistogramAppendError,
    HistogramAppender, Xor2Appender, XorAppender,
};

/// An appender of any encoding Aion writes: what code holds that
/// re-encodes or merges chunks whose encoding the data decides (floats,
/// integer or float histograms), Prometheus's `chunkenc.Appender`.
///
/// Histogram appends follow the histogram appenders' rules (re-encoding
/// to a wider layout, a new chunk on a counter reset or an incompatible
/// layout: [`AppendOutcome`]); float appends always go into this chunk.
///
/// ```
/// use aion_chunkenc::{AppendOutcome, ChunkAppender, Encoding};
/// use aion_model::histogram::Histogram;
///
/// let mut app = ChunkAppender::new(Encoding::Xor).unwrap();
/// app.append_float(0, 1_000, 1.0).unwrap();
/// assert!(app.append_histogram(2_000, &Histogram::default()).is_err());
///
/// let mut app = ChunkAppender::new(Encoding::Histogram).unwrap();
/// let outcome = app.append_histogram(1_000, &Histogram::default()).unwrap();
/// assert!(matches!(outcome, AppendOutcome::Appended));
/// assert_eq!((app.encoding(), app.num_samples()), (Encoding::Histogram, 1));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ChunkAppender {
    /// Floats (encoding 1).
    Xor(XorAppender),
    /// Floats with start timestamps (encoding 4).
    Xor2(Xor2Appender),
    /// Integer native histograms (encoding 2).
    Histogram(HistogramAppender),
    /// Float native histograms (encoding 3).
    FloatHistogram(FloatHistogramAppender),
}

/// Why a sample could not be appended to a [`ChunkAppender`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SampleAppendError {
    /// The sample's kind does not go into chunks of this encoding (a float
    /// into a histogram chunk, a histogram into an XOR chunk, …).
    #[error("a {kind} sample cannot be appended to a {encoding} chunk")]
    WrongKind {
        /// The chunk's encoding.
        encoding: Encoding,
        /// "float", "histogram" or "float histogram".
        kind: &'static str,
    },
    /// The chunk already holds 65535 samples.
    #[error("{0} chunk is full: it already holds the maximum of 65535 samples")]
    Full(Encoding),
    /// The histogram appender refused the histogram.
    #[error(transparent)]
    Histogram(#[from] HistogramAppendError),
}

impl ChunkAppender {
    /// An appender for a new, empty chunk of `encoding`; fails for the
    /// encodings Aion reads but does not write.
    pub fn new(encoding: Encoding) -> Result<Self, Error> {
        Ok(match encoding {
            Encoding::Xor => ChunkAppender::Xor(XorAppender::new()),
            Encoding::Xor2 => ChunkAppender::Xor2(Xor2Appender::new()),
            Encoding::Histogram => ChunkAppender::Histogram(HistogramAppender::new()),
            Encoding::FloatHistogram => {
                ChunkAppender::FloatHistogram(FloatHistogramAppender::new())
            }
            Encoding::None => return Err(Error::NoneEncoding),
            encoding => return Err(Error::UnsupportedEncoding { encoding }),
        })
    }

    /// The chunk's encoding.
    pub fn encoding(&self) -> Encoding {
        match self {
            ChunkAppender::Xor(_) => Encoding::Xor,
            ChunkAppender::Xor2(_) => Encoding::Xor2,
            ChunkAppender::Histogram(_) => Encoding::Histogram,
            ChunkAppender::FloatHistogram(_) => Encoding::FloatHistogram,
        }
    }

    /// Samples in the chunk.
    pub fn num_samples(&self) -> usize {
        match self {
            ChunkAppender::Xor(a) => a.num_samples(),
            ChunkAppender::Xor2(a) => a.num_samples(),
            ChunkAppender::Histogram(a) => a.num_samples(),
            ChunkAppender::FloatHistogram(a) => a.num_samples(),
        }
    }

    /// The chunk data as encoded so far (readable at any moment).
    pub fn bytes(&self) -> &[u8] {
        match self {
            ChunkAppender::Xor(a) => a.bytes(),
            ChunkAppender::Xor2(a) => a.bytes(),
            ChunkAppender::Histogram(a) => a.bytes(),
            ChunkAppender::FloatHistogram(a) => a.bytes(),
        }
    }

    /// Ends appending and hands over the chunk data.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            ChunkAppender::Xor(a) => a.into_chunk().into_inner(),
            ChunkAppender::Xor2(a) => a.into_chunk().into_inner(),
            ChunkAppender::Histogram(a) => a.into_chunk().into_inner(),
            ChunkAppender::FloatHistogram(a) => a.into_chunk().into_inner(),
        }
    }

    fn wrong(&self, kind: &'static str) -> SampleAppendError {
        SampleAppendError::WrongKind {
            encoding: self.encoding(),
            kind,
        }
    }

    /// Appends a float with start timestamp `st` (0: none). XOR chunks
    /// have no place for start timestamps and drop them; choose XOR2 for
    /// samples that carry one.
    pub fn append_float(&mut self, st: i64, t: i64, v: f64) -> Result<(), SampleAppendError> {
        let full = SampleAppendError::Full(self.encoding());
        match self {
            ChunkAppender::Xor(a) => a.append(t, v).map_err(|_| full),
            ChunkAppender::Xor2(a) => a.append(st, t, v).map_err(|_| full),
            _ => Err(self.wrong("float")),
        }
    }

    /// Appends an integer histogram, re-encoding the chunk or starting a
    /// new one as [`HistogramAppender::append`] decides.
    pub fn append_histogram(
        &mut self,
        t: i64,
        h: &Histogram,
    ) -> Result<AppendOutcome<ChunkAppender>, SampleAppendError> {
        match self {
            ChunkAppender::Histogram(a) => Ok(match a.append(t, h)? {
                AppendOutcome::Appended => AppendOutcome::Appended,
                AppendOutcome::Recoded => AppendOutcome::Recoded,
                AppendOutcome::NewChunk(n) => AppendOutcome::NewChunk(ChunkAppender::Histogram(n)),
            }),
            _ => Err(self.wrong("histogram")),
        }
    }

    /// Appends a float histogram, as [`FloatHistogramAppender::append`]
    /// decides.
    pub fn append_float_histogram(
        &mut self,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<AppendOutcome<ChunkAppender>, SampleAppendError> {
        match self {
            ChunkAppender::FloatHistogram(a) => Ok(match a.append(t, h)? {
                AppendOutcome::Appended => AppendOutcome::Appended,
                AppendOutcome::Recoded => AppendOutcome::Recoded,
                AppendOutcome::NewChunk(n) => {
                    AppendOutcome::NewChunk(ChunkAppender::FloatHistogram(n))
                }
            }),
            _ => Err(self.wrong("float histogram")),
        }
    }

    /// Appends an integer histogram without re-encoding or cutting
    /// (Prometheus's `appendOnly`): for samples known to fit, such as
    /// those of one chunk written again without some of them.
    pub fn append_histogram_in_place(
        &mut self,
        t: i64,
        h: &Histogram,
    ) -> Result<(), SampleAppendError> {
        match self {
            ChunkAppender::Histogram(a) => Ok(a.append_in_place(t, h)?),
            _ => Err(self.wrong("histogram")),
        }
    }

    /// The float-histogram form of
    /// [`ChunkAppender::append_histogram_in_place`].
    pub fn append_float_histogram_in_place(
        &mut self,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<(), SampleAppendError> {
        match self {
            ChunkAppender::FloatHistogram(a) => Ok(a.append_in_place(t, h)?),
            _ => Err(self.wrong("float histogram")),
        }
    }
}

impl From<XorAppender> for ChunkAppender {
    fn from(a: XorAppender) -> Self {
        ChunkAppender::Xor(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Chunk, SampleIterator, ValueType};
    use aion_model::histogram::{CounterResetHint, Span};

    fn h(count: u64) -> Histogram {
        Histogram {
            count,
            sum: count as f64,
            positive_spans: vec![Span {
                offset: 0,
                length: 1,
            }],
            positive_buckets: vec![count as i64],
            ..Histogram::default()
        }
    }

    #[test]
    fn each_encoding_takes_its_own_kind_only() {
        for enc in [
            Encoding::Xor,
            Encoding::Xor2,
            Encoding::Histogram,
            Encoding::FloatHistogram,
        ] {
            let mut app = ChunkAppender::new(enc).unwrap();
            assert_eq!(app.encoding(), enc);
            let float = app.append_float(5, 1, 1.0);
            let int = app.append_histogram(2, &h(1)).map(|_| ());
            let fl = app.append_float_histogram(3, &h(1).to_float()).map(|_| ());
            let ok = [float.is_ok(), int.is_ok(), fl.is_ok()];
            let want = match enc {
                Encoding::Xor | Encoding::Xor2 => [true, false, false],
                Encoding::Histogram => [false, true, false],
                _ => [false, false, true],
            };
            assert_eq!(ok, want, "{enc}");
            assert_eq!(app.num_samples(), 1);
            let err = [float, int, fl].into_iter().find_map(Result::err).unwrap();
            assert!(err.to_string().contains(enc.name()), "{err}");
            let chunk = Chunk::from_bytes(enc, app.bytes()).unwrap();
            let mut it = chunk.iter();
            assert_ne!(it.next(), ValueType::None);
            assert_eq!(it.at_st(), if enc == Encoding::Xor2 { 5 } else { 0 });
        }
        assert!(ChunkAppender::new(Encoding::HistogramSt).is_err());
        assert!(ChunkAppender::new(Encoding::None).is_err());
    }

    #[test]
    fn a_counter_reset_hands_back_a_new_chunk_of_the_same_kind() {
        let mut app = ChunkAppender::new(Encoding::Histogram).unwrap();
        app.append_histogram(1, &h(5)).unwrap();
        match app.append_histogram(2, &h(1)).unwrap() {
            AppendOutcome::NewChunk(ChunkAppender::Histogram(next)) => {
                assert_eq!(next.counter_reset_header(), CounterResetHint::CounterReset);
            }
            other => panic!("{other:?}"),
        }
        assert!(app.append_histogram_in_place(3, &h(1)).is_err());
        app.append_histogram_in_place(3, &h(6)).unwrap();
        assert_eq!(app.num_samples(), 2);
        let bytes = app.clone().into_bytes();
        assert_eq!(bytes, app.bytes());
    }
}
