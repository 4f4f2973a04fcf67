//! Reading bit fields from a borrowed byte slice.

/// How many bits [`BitReader::peek`] holds after [`BitReader::refill`]:
/// at least this many, so a refill covers any field group up to 56 bits.
pub(crate) const REFILL_BITS: u32 = 56;

/// A cursor over the bits of a byte slice, buffering the next bits in a
/// 64-bit register so that fields are cut out by shifts and the slice is
/// touched only once every seven bytes or so.
///
/// Reads never fail and never panic: bits past the end of the slice read as
/// zeros while the position keeps advancing. A decoder therefore checks
/// [`BitReader::overran`] once per decoded item instead of once per field,
/// which keeps the hot loop free of error branches; an item that ran past
/// the end is discarded and reported as truncated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// The next bits of the stream, most significant first. The top
    /// `avail` bits are counted; the bits below them are zeros or (after a
    /// refill) the stream bits that follow, which the next refill ORs in
    /// again unchanged.
    buf: u64,
    avail: u32,
    /// Index of the first byte not yet loaded into `buf`.
    next_byte: usize,
}

impl<'a> BitReader<'a> {
    /// A reader over `data` positioned at bit `bit_pos`.
    #[inline]
    pub(crate) fn new(data: &'a [u8], bit_pos: u64) -> Self {
        let bit_pos = usize::try_from(bit_pos).unwrap_or(usize::MAX / 16);
        let mut r = BitReader {
            data,
            buf: 0,
            avail: 0,
            next_byte: bit_pos / 8,
        };
        r.refill();
        r.consume((bit_pos % 8) as u32);
        r
    }

    /// The reader's state as plain values (the bytes, the buffer, how
    /// many of its bits count, the next byte to load), for a decoder loop
    /// that keeps them in registers and refills inline; give them back
    /// with [`BitReader::from_parts`].
    #[inline(always)]
    pub(crate) fn into_parts(self) -> (&'a [u8], u64, u32, usize) {
        (self.data, self.buf, self.avail, self.next_byte)
    }

    /// A reader from [`BitReader::into_parts`]'s values, as changed by a
    /// loop that kept the buffer invariant (the bits below `avail` are
    /// zeros or the stream bits that follow).
    #[inline(always)]
    pub(crate) fn from_parts(data: &'a [u8], buf: u64, avail: u32, next_byte: usize) -> Self {
        debug_assert!(avail < 64);
        BitReader {
            data,
            buf,
            avail,
            next_byte,
        }
    }

    /// The bit position of the next read.
    #[inline]
    pub(crate) fn position(&self) -> u64 {
        self.next_byte as u64 * 8 - u64::from(self.avail)
    }

    /// Total number of bits in the slice.
    #[inline]
    pub(crate) fn len_bits(&self) -> u64 {
        self.data.len() as u64 * 8
    }

    /// Whether reads have gone past the end of the slice.
    #[inline(always)]
    pub(crate) fn overran(&self) -> bool {
        self.next_byte > self.data.len() && self.position() > self.len_bits()
    }

    /// Number of buffered bits [`BitReader::peek`] guarantees.
    #[inline(always)]
    pub(crate) fn available(&self) -> u32 {
        self.avail
    }

    /// Tops the buffer up to at least [`REFILL_BITS`] bits.
    #[inline(always)]
    pub(crate) fn refill(&mut self) {
        let word = match self
            .data
            .get(self.next_byte..self.next_byte.wrapping_add(8))
        {
            Some(&[a, b, c, d, e, f, g, h]) => u64::from_be_bytes([a, b, c, d, e, f, g, h]),
            _ => load_tail(self.data, self.next_byte),
        };
        // `avail` < 64 here (at most 63 after any refill, and consuming
        // only lowers it), so the shift is in range.
        self.buf |= word >> self.avail;
        let bytes = (63 - self.avail) >> 3;
        self.next_byte += bytes as usize;
        self.avail += bytes * 8;
    }

    /// The buffered bits, most significant first; the top
    /// [`BitReader::available`] of them are stream bits.
    #[inline(always)]
    pub(crate) fn peek(&self) -> u64 {
        self.buf
    }

    /// Drops `n` buffered bits (n ≤ available, n < 64).
    #[inline(always)]
    pub(crate) fn consume(&mut self, n: u32) {
        debug_assert!(n <= self.avail && n < 64);
        self.buf <<= n;
        self.avail -= n;
    }

    /// Reads an `n`-bit field (1 ≤ n ≤ 64) as the low bits of the result.
    #[inline(always)]
    pub(crate) fn read_bits(&mut self, n: u32) -> u64 {
        debug_assert!((1..=64).contains(&n));
        if n > REFILL_BITS {
            return self.read_wide(n);
        }
        if self.avail < n {
            self.refill();
        }
        let v = self.buf >> (64 - n);
        self.consume(n);
        v
    }

    /// `read_bits` for fields longer than one refill guarantees: the top
    /// 32 bits, a refill, then the rest.
    #[inline(always)]
    fn read_wide(&mut self, n: u32) -> u64 {
        if self.avail < 32 {
            self.refill();
        }
        let hi = self.buf >> 32;
        self.consume(32);
        self.refill();
        let rest = n - 32;
        let lo = self.buf >> (64 - rest);
        self.consume(rest);
        (hi << rest) | lo
    }
}

/// The 8 bytes of `data` at `at`, near or past the end: zero-filled.
///
/// A free function taking values, so that calling it out of line does not
/// force a reader that lives in registers into memory.
#[inline(never)]
fn load_tail(data: &[u8], at: usize) -> u64 {
    let rest = data.get(at..).unwrap_or_default();
    let mut word = 0u64;
    for i in 0..8 {
        word = word << 8 | u64::from(rest.get(i).copied().unwrap_or(0));
    }
    word
}
