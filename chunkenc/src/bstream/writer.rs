//! Writing bit fields into a growing byte buffer.

/// The longest field [`BitWriter::write_bits`] stores in one step: with up
/// to 7 bits of a partial byte in front, it still fits a 64-bit word.
pub(crate) const WRITE_BITS: u32 = 56;

/// The longest field [`BitWriter::write_wide`] stores in one step.
pub(crate) const WRITE_WIDE_BITS: u32 = 120;

/// Zero bytes kept after the data, so that every write is one 8- or 16-byte
/// store without a length check per byte.
const SLACK: usize = 16;

/// An append-only bit stream over an owned byte buffer.
///
/// [`BitWriter::bytes`] is exactly `ceil(bit_len / 8)` bytes with the
/// unused low bits of the last byte zero, so it is a finished encoding at
/// every moment and no flush step exists to forget. Behind the data the
/// buffer keeps a few zero bytes of slack, which lets a write store a whole
/// 64-bit word.
///
/// The buffer is a boxed slice, not a `Vec` (8 bytes less in every open
/// chunk of a head), and grows by about an eighth at a time to lengths
/// the system allocator serves without rounding ([`grown_len`]): an open
/// chunk's buffer is most of a head series' memory, and doubling left a
/// quarter of it unused on average.
#[derive(Debug, Clone)]
pub(crate) struct BitWriter {
    /// The data, then at least `SLACK` zero bytes.
    buf: Box<[u8]>,
    bit_len: u64,
}

/// Smallest step a buffer grows by, so that a chunk growing a byte or two
/// per sample reallocates every dozen samples or so, not at each.
const MIN_GROWTH: usize = 32;

/// The length a buffer of `len` bytes grows to when it needs `need`:
/// `len` plus an eighth (at least [`MIN_GROWTH`]), and then up to the next
/// `16 k + 8` bytes, a size glibc's malloc (16-byte granules holding an
/// 8-byte header) serves exactly, so the bytes counted are the bytes held.
/// Growth stays geometric, so appends remain amortised O(1).
pub(crate) fn grown_len(len: usize, need: usize) -> usize {
    let want = need.max(len + (len / 8).max(MIN_GROWTH));
    (want.saturating_sub(8)).div_ceil(16) * 16 + 8
}

impl BitWriter {
    /// An empty stream with room for `capacity` bytes before it grows.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        BitWriter {
            buf: vec![0; capacity.max(SLACK) + SLACK].into_boxed_slice(),
            bit_len: 0,
        }
    }

    /// An empty stream in the allocation of `buf` (a finished stream's
    /// bytes), cut back to room for `capacity` bytes: what `with_capacity`
    /// allocates, without a new allocation (a shrink is done in place).
    pub(crate) fn reuse(mut buf: Vec<u8>, capacity: usize) -> Self {
        let len = capacity.max(SLACK) + SLACK;
        buf.clear();
        buf.shrink_to(len);
        buf.reserve_exact(len);
        buf.resize(len, 0);
        BitWriter {
            buf: buf.into_boxed_slice(),
            bit_len: 0,
        }
    }

    /// Continues the stream held in `buf` after its first `bit_len` bits.
    /// Whatever follows those bits (padding, stray bytes) is discarded.
    pub(crate) fn resume(mut buf: Vec<u8>, bit_len: u64) -> Self {
        let bit_len = bit_len.min(buf.len() as u64 * 8);
        let len = bit_len.div_ceil(8) as usize;
        buf.truncate(len);
        let used = (bit_len % 8) as u32;
        if used != 0 {
            if let Some(last) = buf.last_mut() {
                *last &= !(0xffu8 >> used);
            }
        }
        buf.resize(len + SLACK, 0);
        BitWriter {
            buf: buf.into_boxed_slice(),
            bit_len,
        }
    }

    /// Number of bytes the data occupies.
    #[inline]
    fn len(&self) -> usize {
        self.bit_len.div_ceil(8) as usize
    }

    /// The bytes written so far, the last one zero-padded.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len()]
    }

    /// Overwrites the first two bytes (a header written earlier).
    #[inline]
    pub(crate) fn patch_u16_at_start(&mut self, value: u16) {
        debug_assert!(self.bit_len >= 16);
        self.buf[..2].copy_from_slice(&value.to_be_bytes());
    }

    /// Overwrites byte `at` of the data (a header field written earlier).
    #[inline]
    pub(crate) fn patch_byte(&mut self, at: usize, value: u8) {
        debug_assert!(at < self.len());
        self.buf[at] = value;
    }

    /// Gives up the buffer, cut to the data.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        let len = self.len();
        let mut buf = self.buf.into_vec();
        buf.truncate(len);
        buf
    }

    /// Number of bits written.
    #[inline]
    pub(crate) fn bit_len(&self) -> u64 {
        self.bit_len
    }

    /// Appends the low `n` bits of `value` (1 ≤ n ≤ 64), most significant
    /// first; higher bits of `value` are ignored.
    #[inline(always)]
    pub(crate) fn write_bits(&mut self, value: u64, n: u32) {
        debug_assert!((1..=64).contains(&n));
        if n > WRITE_BITS {
            self.write_short(value >> 32, n - 32);
            self.write_short(value & 0xffff_ffff, 32);
        } else {
            self.write_short(value, n);
        }
    }

    /// `write_bits` for `n` ≤ [`WRITE_BITS`]: the partial last byte and the
    /// new bits are merged into one word and stored whole; the bytes after
    /// the new end receive zeros, which keeps the slack clean.
    #[inline(always)]
    fn write_short(&mut self, value: u64, n: u32) {
        debug_assert!((1..=WRITE_BITS).contains(&n));
        let at = (self.bit_len / 8) as usize;
        if self.buf.len() < at + SLACK {
            self.grow();
        }
        let used = (self.bit_len % 8) as u32;
        let window = &mut self.buf[at..at + 8];
        let word = u64::from(window[0]) << 56 | (value << (64 - n)) >> used;
        window.copy_from_slice(&word.to_be_bytes());
        self.bit_len += u64::from(n);
    }

    /// Appends the low `n` bits of `value` (1 ≤ n ≤ [`WRITE_WIDE_BITS`])
    /// with one 16-byte store, for fields that do not fit a 64-bit word.
    #[inline(always)]
    pub(crate) fn write_wide(&mut self, value: u128, n: u32) {
        debug_assert!((1..=WRITE_WIDE_BITS).contains(&n));
        let at = (self.bit_len / 8) as usize;
        if self.buf.len() < at + SLACK {
            self.grow();
        }
        let used = (self.bit_len % 8) as u32;
        let window = &mut self.buf[at..at + SLACK];
        let word = u128::from(window[0]) << 120 | (value << (128 - n)) >> used;
        window.copy_from_slice(&word.to_be_bytes());
        self.bit_len += u64::from(n);
    }

    /// Grows the buffer to [`grown_len`] (zero-filled), allocating
    /// exactly that much.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let len = grown_len(self.buf.len(), self.len() + 2 * SLACK);
        let mut buf = std::mem::take(&mut self.buf).into_vec();
        // `resize` alone would round the capacity up to double; reserving
        // exactly keeps capacity == length, so the boxing below is free.
        buf.reserve_exact(len - buf.len());
        buf.resize(len, 0);
        self.buf = buf.into_boxed_slice();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_geometric_fits_malloc_granules_and_covers_the_need() {
        let mut len = 144;
        let mut steps = 0;
        while len < 1 << 20 {
            let next = grown_len(len, len + 1);
            assert_eq!(next % 16, 8, "{len} -> {next}");
            assert!(
                next >= len + MIN_GROWTH && next >= len + len / 8,
                "{len} -> {next}"
            );
            assert!(next <= len + len / 8 + MIN_GROWTH + 16, "{len} -> {next}");
            len = next;
            steps += 1;
        }
        // Geometric: about log_{9/8}(2^20 / 144) steps, not linear.
        assert!(steps < 100, "{steps}");
        assert!(grown_len(144, 1000) >= 1000);
        assert_eq!(grown_len(0, 0), 40);
    }

    #[test]
    fn a_reused_buffer_is_empty_zeroed_and_cut_to_the_new_size() {
        let mut w = BitWriter::with_capacity(0);
        for i in 0..500u64 {
            w.write_bits(u64::MAX - i, 64);
        }
        let w = BitWriter::reuse(w.into_bytes(), 128);
        assert_eq!((w.bit_len(), w.buf.len()), (0, 144));
        assert!(w.buf.iter().all(|&b| b == 0));
        let w = BitWriter::reuse(vec![1, 2, 3], 128);
        assert_eq!(w.buf.len(), 144);
        assert!(w.buf.iter().all(|&b| b == 0));
    }

    #[test]
    fn growing_keeps_the_slack_zero_and_the_data_exact() {
        let mut w = BitWriter::with_capacity(0);
        for i in 0..2000u64 {
            w.write_bits(i & 0x1ff, 9);
            w.write_wide(u128::from(i) << 60 | 1, 100);
            assert!(w.buf.len() > w.len());
            assert!(w.buf[w.len()..].iter().all(|&b| b == 0), "{i}");
        }
        assert_eq!(w.buf.len() % 16, 8);
        let n = (2000 * 109usize).div_ceil(8);
        assert_eq!(w.into_bytes().len(), n);
    }
}
