//! Encoding XOR chunks.

use super::{fits_bits, XorChunk, XorIterator, HEADER_LEN, LEADING_UNSET, MAX_SAMPLES};
use crate::bstream::BitWriter;
use crate::{ChunkFull, Result};

/// Bytes reserved for a new chunk: a 120-sample chunk of a regular series
/// takes 150–250 bytes, and growth doubles from here.
const DEFAULT_CAPACITY: usize = 128;

/// Writes samples into an XOR chunk it owns, producing the bytes
/// Prometheus 3.x produces for the same samples.
///
/// The appender encodes whatever it is given; it does not check that
/// timestamps increase (the head's appender decides what is in order, as in
/// Prometheus). Out-of-order timestamps still round-trip exactly, but
/// [`SampleIterator::seek`](crate::SampleIterator::seek) assumes order.
///
/// [`XorAppender::bytes`] is a complete, readable chunk after every append,
/// so a head can serve queries from the open chunk without a flush step.
///
/// ```
/// use aion_chunkenc::{XorAppender, STALE_NAN, is_stale_nan};
///
/// let mut app = XorAppender::new();
/// for (i, v) in [1.0, 1.0, 2.0].into_iter().enumerate() {
///     app.append(1_000 * (i as i64 + 1), v).unwrap();
/// }
/// app.append(4_000, STALE_NAN).unwrap();
/// assert_eq!(app.num_samples(), 4);
///
/// let samples = app.chunk().samples().unwrap();
/// assert_eq!(samples[2], (3_000, 2.0));
/// assert!(is_stale_nan(samples[3].1));
/// ```
#[derive(Debug, Clone)]
pub struct XorAppender {
    w: BitWriter,
    num: u16,
    t: i64,
    v: u64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
}

impl XorAppender {
    /// An appender for a new, empty chunk.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// An appender for a new chunk with room for `bytes` bytes before it
    /// reallocates.
    pub fn with_capacity(bytes: usize) -> Self {
        Self::fresh(BitWriter::with_capacity(bytes.max(HEADER_LEN)))
    }

    /// An appender starting an empty chunk in `w`, which must be empty.
    fn fresh(mut w: BitWriter) -> Self {
        w.write_bits(0, 16);
        XorAppender {
            w,
            num: 0,
            t: 0,
            v: 0,
            t_delta: 0,
            leading: LEADING_UNSET,
            trailing: 0,
        }
    }

    /// Continues appending to an existing chunk's bytes.
    ///
    /// The encoder state is rebuilt by decoding the chunk, as Prometheus's
    /// `XORChunk.Appender()` does, and appending resumes at the exact bit
    /// where the last sample ends (padding bits and any bytes after them
    /// are dropped). This inherits a Prometheus quirk on purpose, to stay
    /// byte-identical: a decoder starts with a 0/0 leading/trailing window
    /// rather than "unset", so if every value so far was identical the next
    /// changed value is written in the reuse-window form with all 64 bits,
    /// not with a fresh window as an uninterrupted appender would.
    ///
    /// Fails with the decoding error if `bytes` is not a readable chunk.
    pub fn resume(bytes: Vec<u8>) -> Result<Self> {
        let chunk = XorChunk::from_bytes(bytes)?;
        let end = XorIterator::new(chunk.bytes()).end_state()?;
        let mut bytes = chunk.into_inner();
        if end.num_samples == 0 {
            bytes.clear();
            return Ok(Self::fresh(BitWriter::resume(bytes, 0)));
        }
        Ok(XorAppender {
            w: BitWriter::resume(bytes, end.bit_len),
            num: end.num_samples,
            t: end.t,
            v: end.v,
            t_delta: end.t_delta,
            leading: end.leading,
            trailing: end.trailing,
        })
    }

    /// Appends a sample.
    ///
    /// Fails only when the chunk already holds [`MAX_SAMPLES`] samples.
    #[inline]
    pub fn append(&mut self, t: i64, v: f64) -> Result<(), ChunkFull> {
        let v = v.to_bits();
        let mut t_delta = 0;
        match self.num {
            0 => {
                let zigzag = ((t << 1) ^ (t >> 63)) as u64;
                self.write_uvarint(zigzag);
                self.w.write_bits(v, 64);
            }
            1 => {
                t_delta = t.wrapping_sub(self.t) as u64;
                self.write_uvarint(t_delta);
                self.write_value(v);
            }
            u16::MAX => return Err(ChunkFull),
            _ => {
                t_delta = t.wrapping_sub(self.t) as u64;
                self.write_dod(t_delta.wrapping_sub(self.t_delta) as i64);
                self.write_value(v);
            }
        }
        self.t = t;
        self.v = v;
        self.t_delta = t_delta;
        self.num += 1;
        self.w.bytes_mut()[..HEADER_LEN].copy_from_slice(&self.num.to_be_bytes());
        Ok(())
    }

    /// Number of samples appended (including those of a resumed chunk).
    #[inline]
    pub fn num_samples(&self) -> usize {
        usize::from(self.num)
    }

    /// Whether the chunk holds [`MAX_SAMPLES`] samples and takes no more.
    pub fn is_full(&self) -> bool {
        self.num_samples() == MAX_SAMPLES
    }

    /// The last sample appended, if any.
    pub fn last(&self) -> Option<(i64, f64)> {
        (self.num > 0).then(|| (self.t, f64::from_bits(self.v)))
    }

    /// The chunk as encoded so far (complete and readable at any time).
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// Exact length of the encoding in bits, header included; `bytes()` is
    /// this rounded up to whole bytes.
    pub fn bit_len(&self) -> u64 {
        self.w.bit_len()
    }

    /// A cursor over the samples appended so far.
    pub fn iter(&self) -> XorIterator<'_> {
        XorIterator::new(self.bytes())
    }

    /// The chunk as encoded so far, borrowed.
    pub fn chunk(&self) -> XorChunk<&[u8]> {
        XorChunk {
            bytes: self.bytes(),
        }
    }

    /// Ends appending and hands over the chunk.
    pub fn into_chunk(self) -> XorChunk<Vec<u8>> {
        XorChunk {
            bytes: self.w.into_bytes(),
        }
    }

    fn write_uvarint(&mut self, mut x: u64) {
        while x >= 0x80 {
            self.w.write_bits(x | 0x80, 8);
            x >>= 7;
        }
        self.w.write_bits(x, 8);
    }

    /// The delta-of-delta timestamp buckets (NOTES.md §4.1a): the prefix
    /// and the field go out in one write where they fit in 64 bits.
    #[inline(always)]
    fn write_dod(&mut self, dod: i64) {
        let d = dod as u64;
        if dod == 0 {
            self.w.write_bits(0, 1);
        } else if fits_bits(dod, 14) {
            self.w.write_bits(0b10 << 14 | (d & 0x3fff), 16);
        } else if fits_bits(dod, 17) {
            self.w.write_bits(0b110 << 17 | (d & 0x1_ffff), 20);
        } else if fits_bits(dod, 20) {
            self.w.write_bits(0b1110 << 20 | (d & 0xf_ffff), 24);
        } else {
            self.w.write_bits(0b1111, 4);
            self.w.write_bits(d, 64);
        }
    }

    /// Gorilla value compression against the previous value (NOTES.md §4.2).
    #[inline(always)]
    fn write_value(&mut self, v: u64) {
        let delta = v ^ self.v;
        if delta == 0 {
            self.w.write_bits(0, 1);
            return;
        }
        // The leading-zero field has 5 bits, so counts of 32 and more are
        // written as 31; the clamp precedes the window comparison.
        let leading = (delta.leading_zeros() as u8).min(31);
        let trailing = delta.trailing_zeros() as u8;
        if self.leading != LEADING_UNSET && leading >= self.leading && trailing >= self.trailing {
            let significant = 64 - u32::from(self.leading) - u32::from(self.trailing);
            self.w.write_bits(0b10, 2);
            self.w.write_bits(delta >> self.trailing, significant);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        let significant = 64 - u32::from(leading) - u32::from(trailing);
        // 64 significant bits do not fit the 6-bit field; they are written
        // as 0, which a reader maps back to 64.
        let header = 0b11 << 11 | u64::from(leading) << 6 | u64::from(significant & 0x3f);
        self.w.write_bits(header, 13);
        self.w.write_bits(delta >> trailing, significant);
    }
}

impl Default for XorAppender {
    fn default() -> Self {
        XorAppender::new()
    }
}
