//! Reading bit fields from a borrowed byte slice.

/// How many bits of a [`BitReader::peek`] are guaranteed to be stream bits.
pub(crate) const PEEK_BITS: u32 = 57;

/// A cursor over the bits of a byte slice.
///
/// Reads never fail and never panic: bits past the end of the slice read as
/// zeros while the position keeps advancing. A decoder therefore checks
/// [`BitReader::overran`] once per decoded item instead of once per field,
/// which keeps the hot loop free of error branches; an item that ran past
/// the end is discarded and reported as truncated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Bit position of the next read, counted from the start of `data`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader over `data` positioned at bit `bit_pos`.
    pub(crate) fn new(data: &'a [u8], bit_pos: u64) -> Self {
        BitReader {
            data,
            pos: usize::try_from(bit_pos).unwrap_or(usize::MAX / 2),
        }
    }

    /// The bit position of the next read.
    #[inline]
    pub(crate) fn position(&self) -> u64 {
        self.pos as u64
    }

    /// Total number of bits in the slice.
    #[inline]
    pub(crate) fn len_bits(&self) -> u64 {
        self.data.len() as u64 * 8
    }

    /// Whether reads have gone past the end of the slice.
    #[inline]
    pub(crate) fn overran(&self) -> bool {
        self.position() > self.len_bits()
    }

    /// The next 64 bits, most significant first, without consuming them.
    ///
    /// The top `64 - (position % 8)` bits (at least 57) are stream bits;
    /// the rest are zero. Past the end of the slice everything is zero.
    #[inline(always)]
    pub(crate) fn peek(&self) -> u64 {
        let byte = self.pos >> 3;
        let word = match self.data.get(byte..byte.wrapping_add(8)) {
            Some(&[a, b, c, d, e, f, g, h]) => u64::from_be_bytes([a, b, c, d, e, f, g, h]),
            _ => self.peek_tail(byte),
        };
        word << (self.pos & 7)
    }

    /// `peek` for the last 7 bytes of the slice and beyond, zero-filled.
    #[cold]
    #[inline(never)]
    fn peek_tail(&self, byte: usize) -> u64 {
        let mut buf = [0u8; 8];
        if let Some(rest) = self.data.get(byte..) {
            let n = rest.len().min(8);
            buf[..n].copy_from_slice(&rest[..n]);
        }
        u64::from_be_bytes(buf)
    }

    /// Consumes `n` bits.
    #[inline(always)]
    pub(crate) fn skip(&mut self, n: u32) {
        self.pos += n as usize;
    }

    /// Reads an `n`-bit field (1 ≤ n ≤ 64) as the low bits of the result.
    #[inline(always)]
    pub(crate) fn read_bits(&mut self, n: u32) -> u64 {
        debug_assert!((1..=64).contains(&n));
        if n <= PEEK_BITS {
            let v = self.peek() >> (64 - n);
            self.skip(n);
            v
        } else {
            self.read_wide(n)
        }
    }

    /// `read_bits` for fields longer than one `peek` guarantees.
    #[inline(never)]
    fn read_wide(&mut self, n: u32) -> u64 {
        let hi = self.read_bits(n - 32);
        let lo = self.read_bits(32);
        (hi << 32) | lo
    }
}
