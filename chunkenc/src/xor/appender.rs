//! Encoding XOR chunks.

use super::{fits_bits, XorChunk, XorIterator, HEADER_LEN, LEADING_UNSET, MAX_SAMPLES};
use crate::bstream::{BitWriter, WRITE_BITS, WRITE_WIDE_BITS};
use crate::{ChunkFull, Result};

/// Bytes reserved for a new chunk: a 120-sample chunk takes from about 50
/// bytes (constant series) to about 1 KiB (full-precision noise), with
/// typical Prometheus data averaging 1–2 bytes per sample; growth doubles
/// from here.
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
    /// A byte of what would be padding, with 255 invalid values: enums and
    /// options around the appender keep their tag in it instead of a word
    /// of their own (a head keeps one per series, in an
    /// `Option<enum of appenders>`).
    _niche: Niche,
}

/// A one-value byte: see `XorAppender::_niche`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Niche {
    Zero = 0,
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

    /// An appender for a new, empty chunk in the allocation of `buf` (the
    /// bytes of a finished chunk), cut back to a new chunk's size: a head
    /// cutting chunks reuses one buffer instead of freeing and allocating.
    ///
    /// ```
    /// use aion_chunkenc::XorAppender;
    ///
    /// let mut full = XorAppender::new();
    /// for i in 0..120 {
    ///     full.append(i * 15_000, i as f64 * 0.1).unwrap();
    /// }
    /// let mut next = XorAppender::reuse(full.into_chunk().into_inner());
    /// let mut fresh = XorAppender::new();
    /// next.append(1_800_000, 7.0).unwrap();
    /// fresh.append(1_800_000, 7.0).unwrap();
    /// assert_eq!(next.bytes(), fresh.bytes());
    /// assert_eq!(next.num_samples(), 1);
    /// ```
    pub fn reuse(buf: Vec<u8>) -> Self {
        Self::fresh(BitWriter::reuse(buf, DEFAULT_CAPACITY))
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
            _niche: Niche::Zero,
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
            _niche: Niche::Zero,
        })
    }

    /// Appends a sample.
    ///
    /// Fails only when the chunk already holds [`MAX_SAMPLES`] samples.
    ///
    /// Always inlined: it is the inner step of every ingestion loop, and
    /// left to the optimiser the call survived or not depending on
    /// unrelated code in the caller's crate (15 instructions a sample
    /// for the call when it did).
    #[inline(always)]
    pub fn append(&mut self, t: i64, v: f64) -> Result<(), ChunkFull> {
        let v = v.to_bits();
        let t_delta = t.wrapping_sub(self.t) as u64;
        if self.num >= 2 && self.num < u16::MAX {
            let dod = t_delta.wrapping_sub(self.t_delta) as i64;
            match dod_code(dod) {
                Some((code, len)) => self.write_value(code, len, v),
                None => {
                    self.w.write_bits(0b1111, 4);
                    self.w.write_bits(dod as u64, 64);
                    self.write_value(0, 0, v);
                }
            }
            self.commit(t, v, t_delta);
            return Ok(());
        }
        match self.num {
            0 => {
                let zigzag = ((t << 1) ^ (t >> 63)) as u64;
                self.write_uvarint(zigzag);
                self.w.write_bits(v, 64);
                self.commit(t, v, 0);
            }
            1 => {
                self.write_uvarint(t_delta);
                self.write_value(0, 0, v);
                self.commit(t, v, t_delta);
            }
            _ => return Err(ChunkFull),
        }
        Ok(())
    }

    /// Records the sample as the last one and bumps the header count.
    #[inline(always)]
    fn commit(&mut self, t: i64, v: u64, t_delta: u64) {
        self.t = t;
        self.v = v;
        self.t_delta = t_delta;
        self.num += 1;
        self.w.patch_u16_at_start(self.num);
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

    /// Time of the first sample, if any: the varint that opens the
    /// stream after the header, read without starting a decoder (the head
    /// asks at every chunk cut, where an iterator decoded a whole batch
    /// of samples to answer).
    pub fn first_time(&self) -> Option<i64> {
        if self.num == 0 {
            return None;
        }
        aion_model::encoding::varint(self.bytes().get(HEADER_LEN..)?).map(|(t, _)| t)
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

    /// Writes `prefix` (the low `prefix_len` bits of it, the sample's
    /// timestamp part) followed by the Gorilla-compressed value
    /// (`docs/formats.md#xor-chunk`), merging them into as few bit-writer
    /// calls as fit.
    #[inline(always)]
    fn write_value(&mut self, prefix: u64, prefix_len: u32, v: u64) {
        let delta = v ^ self.v;
        if delta == 0 {
            // `0`: value unchanged.
            self.write_merged(prefix << 1, prefix_len + 1, 0, 0);
            return;
        }
        // The leading-zero field has 5 bits, so counts of 32 and more are
        // written as 31; the clamp precedes the window comparison.
        let leading = (delta.leading_zeros() as u8).min(31);
        let trailing = delta.trailing_zeros() as u8;
        if self.leading != LEADING_UNSET && leading >= self.leading && trailing >= self.trailing {
            // `10`: the stored window still covers the change.
            let significant = 64 - u32::from(self.leading) - u32::from(self.trailing);
            let payload = delta >> self.trailing;
            self.write_merged(prefix << 2 | 0b10, prefix_len + 2, payload, significant);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        // `11`, 5 bits of leading zeros, 6 of significant-bit count: 64
        // does not fit and is written as 0, which readers map back.
        let significant = 64 - u32::from(leading) - u32::from(trailing);
        let header = 0b11 << 11 | u64::from(leading) << 6 | u64::from(significant & 0x3f);
        self.write_merged(
            prefix << 13 | header,
            prefix_len + 13,
            delta >> trailing,
            significant,
        );
    }

    /// Writes `head` (`head_len` ≤ 37 bits) then `tail` (`tail_len` ≤ 64
    /// bits, 0 for none) in one store.
    #[inline(always)]
    fn write_merged(&mut self, head: u64, head_len: u32, tail: u64, tail_len: u32) {
        let len = head_len + tail_len;
        if len <= WRITE_BITS {
            // `tail_len` < 56 here, so the shift is in range.
            self.w.write_bits(head << tail_len | tail, len);
        } else {
            debug_assert!(len <= WRITE_WIDE_BITS);
            self.w
                .write_wide(u128::from(head) << tail_len | u128::from(tail), len);
        }
    }
}

/// The delta-of-delta timestamp buckets
/// (`docs/formats.md#varbit-timestamps`) as a prefixed code and its length,
/// or `None` for the whole-int64 bucket (`1111` and 64 bits), which does
/// not fit one word.
#[inline(always)]
fn dod_code(dod: i64) -> Option<(u64, u32)> {
    let d = dod as u64;
    if dod == 0 {
        Some((0, 1))
    } else if fits_bits(dod, 14) {
        Some((0b10 << 14 | (d & 0x3fff), 16))
    } else if fits_bits(dod, 17) {
        Some((0b110 << 17 | (d & 0x1_ffff), 20))
    } else if fits_bits(dod, 20) {
        Some((0b1110 << 20 | (d & 0xf_ffff), 24))
    } else {
        None
    }
}

impl Default for XorAppender {
    fn default() -> Self {
        XorAppender::new()
    }
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    #[test]
    fn options_and_enums_of_the_appender_need_no_tag_word() {
        let size = std::mem::size_of::<XorAppender>();
        assert_eq!(std::mem::size_of::<Option<XorAppender>>(), size);
        #[allow(dead_code)]
        enum Four {
            A(XorAppender),
            B(Box<u8>),
            C(Box<u16>),
            D(Box<u32>),
        }
        assert_eq!(std::mem::size_of::<Option<Four>>(), size);
    }
}
