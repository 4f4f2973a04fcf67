//! Writing bit fields into a growing byte buffer.

/// An append-only bit stream over an owned `Vec<u8>`.
///
/// The buffer always holds exactly `ceil(bit_len / 8)` bytes with the unused
/// low bits of the last byte zero, so [`BitWriter::bytes`] is a finished
/// encoding at every moment and no flush step exists to forget.
#[derive(Debug, Clone, Default)]
pub(crate) struct BitWriter {
    buf: Vec<u8>,
    bit_len: u64,
}

impl BitWriter {
    /// An empty stream with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        BitWriter {
            buf: Vec::with_capacity(capacity),
            bit_len: 0,
        }
    }

    /// Continues the stream held in `buf` after its first `bit_len` bits.
    /// Whatever follows those bits (padding, stray bytes) is discarded.
    pub(crate) fn resume(mut buf: Vec<u8>, bit_len: u64) -> Self {
        let bytes = usize::try_from(bit_len.div_ceil(8)).unwrap_or(usize::MAX);
        let bit_len = bit_len.min(buf.len() as u64 * 8);
        buf.truncate(bytes);
        let used = (bit_len % 8) as u32;
        if used != 0 {
            if let Some(last) = buf.last_mut() {
                *last &= !(0xffu8 >> used);
            }
        }
        BitWriter { buf, bit_len }
    }

    /// The bytes written so far, the last one zero-padded.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Mutable access to the bytes, for patching fixed-width headers.
    #[inline]
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// Gives up the buffer.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
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
        let mut v = value << (64 - n);
        let mut n = n as u64;
        let free = (8 - (self.bit_len % 8)) % 8;
        self.bit_len += n;
        if free != 0 {
            // The partial last byte takes the first `free` bits.
            if let Some(last) = self.buf.last_mut() {
                *last |= (v >> (64 - free)) as u8;
            }
            if n <= free {
                return;
            }
            v <<= free;
            n -= free;
        }
        // Aligned now: store a whole word, then keep only the bytes in use.
        // A fixed 8-byte copy plus a length cut is cheaper than a
        // variable-length copy.
        let len = self.buf.len();
        self.buf.extend_from_slice(&v.to_be_bytes());
        self.buf.truncate(len + n.div_ceil(8) as usize);
    }
}
