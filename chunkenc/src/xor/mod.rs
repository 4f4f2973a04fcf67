//! XOR chunks (encoding 1): Prometheus's float sample compression.
//!
//! Layout (`docs/formats.md#xor-chunk`), byte-identical to what Prometheus
//! 3.x writes:
//!
//! ```text
//! be16 num_samples
//! sample 0:  varint(t0)                 ++ 64 bits of v0
//! sample 1:  uvarint(t1 - t0)           ++ xor_value(v1, v0)
//! sample k:  dod(k) in 1/16/20/24/68 bits ++ xor_value(vk, vk-1)
//! zero padding to a byte boundary
//! ```
//!
//! Timestamps use wrapping two's-complement arithmetic exactly as Go's does,
//! so every `i64` sequence round-trips, and values are stored as raw bits,
//! so NaN payloads (the stale marker among them), infinities and `-0.0`
//! survive unchanged.
//!
//! [`XorAppender`] writes chunks, [`XorIterator`] reads them from any byte
//! slice, and [`XorChunk`] ties a finished chunk's bytes (owned, borrowed
//! from an mmapped file, or shared) to both.

mod appender;
mod iterator;

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod proptests;

pub use appender::XorAppender;
pub use iterator::XorIterator;

use crate::{ChunkFull, Error, Result, SampleIterator, ValueType};

/// Length of the sample-count header that starts every chunk.
pub(crate) const HEADER_LEN: usize = 2;

/// `leading` value meaning "no value window chosen yet" (appender only).
pub(crate) const LEADING_UNSET: u8 = 0xff;

/// The most samples a chunk's 16-bit header can count.
pub const MAX_SAMPLES: usize = u16::MAX as usize;

/// A finished XOR chunk over bytes of any ownership.
///
/// `B` is the byte container: `Vec<u8>` (the default) for owned chunks,
/// `&[u8]` for chunks read in place from an mmapped block, or any other
/// `AsRef<[u8]>` such as `bytes::Bytes`. Construction checks only that the
/// 2-byte header is present; the bit stream is validated lazily by the
/// iterator, which reports corruption through [`SampleIterator::err`].
///
/// ```
/// use aion_chunkenc::{SampleIterator, ValueType, XorAppender, XorChunk};
///
/// let mut app = XorAppender::new();
/// app.append(1_000, 1.0).unwrap();
/// app.append(2_000, 2.5).unwrap();
///
/// // Read it back without copying, as a block reader would.
/// let chunk = XorChunk::from_bytes(app.bytes()).unwrap();
/// assert_eq!(chunk.num_samples(), 2);
/// let mut it = chunk.iter();
/// assert_eq!(it.seek(1_500), ValueType::Float);
/// assert_eq!(it.at(), (2_000, 2.5));
/// assert_eq!(it.next(), ValueType::None);
/// assert!(it.err().is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XorChunk<B = Vec<u8>> {
    bytes: B,
}

impl<B: AsRef<[u8]>> XorChunk<B> {
    /// Wraps chunk data (the bytes after the encoding byte in a segment
    /// file). Fails only if the 2-byte header is missing.
    pub fn from_bytes(bytes: B) -> Result<Self> {
        let len = bytes.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::MissingHeader { len });
        }
        Ok(XorChunk { bytes })
    }

    /// The encoded chunk.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    /// Gives up the byte container.
    pub fn into_inner(self) -> B {
        self.bytes
    }

    /// The sample count from the header (not validated against the data).
    #[inline]
    pub fn num_samples(&self) -> usize {
        let b = self.bytes();
        usize::from(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A cursor over the samples. It allocates nothing.
    #[inline]
    pub fn iter(&self) -> XorIterator<'_> {
        XorIterator::new(self.bytes())
    }

    /// The same chunk borrowing this one's bytes.
    pub fn as_borrowed(&self) -> XorChunk<&[u8]> {
        XorChunk {
            bytes: self.bytes(),
        }
    }

    /// Decodes every sample into a vector. Prefer [`XorChunk::iter`] on hot
    /// paths; this is for tools and tests.
    pub fn samples(&self) -> Result<Vec<(i64, f64)>> {
        let mut it = self.iter();
        let mut out = Vec::with_capacity(self.num_samples().min(MAX_SAMPLES));
        while it.next() == ValueType::Float {
            out.push(it.at());
        }
        match it.error() {
            Some(err) => Err(err.clone()),
            None => Ok(out),
        }
    }

    /// An appender continuing this chunk, on a copy of its bytes.
    ///
    /// See [`XorAppender::resume`] for how the encoder state is rebuilt.
    pub fn appender(&self) -> Result<XorAppender> {
        XorAppender::resume(self.bytes().to_vec())
    }
}

impl XorChunk<Vec<u8>> {
    /// An empty chunk: a zero sample count and nothing else.
    pub fn new() -> Self {
        XorChunk {
            bytes: vec![0; HEADER_LEN],
        }
    }

    /// Encodes `samples` into one chunk.
    ///
    /// ```
    /// use aion_chunkenc::XorChunk;
    /// let chunk = XorChunk::encode([(1_000, 1.0), (2_000, 1.0)]).unwrap();
    /// assert_eq!(chunk.samples().unwrap(), [(1_000, 1.0), (2_000, 1.0)]);
    /// ```
    ///
    /// Fails if there are more than [`MAX_SAMPLES`].
    pub fn encode(samples: impl IntoIterator<Item = (i64, f64)>) -> Result<Self, ChunkFull> {
        let mut app = XorAppender::new();
        for (t, v) in samples {
            app.append(t, v)?;
        }
        Ok(app.into_chunk())
    }

    /// An appender continuing this chunk in place (no copy).
    ///
    /// See [`XorAppender::resume`] for how the encoder state is rebuilt.
    pub fn into_appender(self) -> Result<XorAppender> {
        XorAppender::resume(self.bytes)
    }
}

impl Default for XorChunk<Vec<u8>> {
    fn default() -> Self {
        XorChunk::new()
    }
}

impl<B: AsRef<[u8]>> AsRef<[u8]> for XorChunk<B> {
    fn as_ref(&self) -> &[u8] {
        self.bytes()
    }
}

/// Whether `x` fits the signed `nbits`-bit field of the XOR timestamp
/// buckets: `-(2^(n-1) - 1) ..= 2^(n-1)`, asymmetric like Prometheus's
/// `bitRange` (`docs/formats.md#bit-widths`).
#[inline(always)]
pub(crate) fn fits_bits(x: i64, nbits: u32) -> bool {
    let half = 1i64 << (nbits - 1);
    -(half - 1) <= x && x <= half
}

/// Reverses the two's-complement truncation of an `nbits`-bit field read
/// as unsigned, with the same asymmetric range as [`fits_bits`]
/// (`raw` < 2^nbits).
///
/// Shifting the range by `half - 1` makes the values that stand for
/// negatives (above `half`) wrap past 2^nbits, so one mask subtracts
/// 2^nbits from exactly those: an add, an and and a subtract instead of
/// a compare and a select, in the decoder's hottest line.
#[inline(always)]
pub(crate) fn sign_extend(raw: u64, nbits: u32) -> i64 {
    let bias = (1u64 << (nbits - 1)) - 1;
    let mask = (1u64 << nbits) - 1;
    ((raw + bias) & mask) as i64 - bias as i64
}

#[cfg(test)]
mod sign_extend_tests {
    use super::{fits_bits, sign_extend};

    /// Every raw value of every dod bucket width maps as the plain
    /// definition (above `half` is negative) does, and back through the
    /// writer's range check.
    #[test]
    fn matches_the_definition_exhaustively() {
        for nbits in [14u32, 17, 20] {
            let half = 1u64 << (nbits - 1);
            for raw in 0..1u64 << nbits {
                let want = if raw > half {
                    raw as i64 - (1i64 << nbits)
                } else {
                    raw as i64
                };
                let got = sign_extend(raw, nbits);
                assert_eq!(got, want, "raw {raw} nbits {nbits}");
                assert!(fits_bits(got, nbits), "{got} out of the {nbits}-bit range");
                assert_eq!(got as u64 & ((1 << nbits) - 1), raw, "truncates back");
            }
        }
    }
}
