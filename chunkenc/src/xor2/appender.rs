//! Encoding XOR2 chunks.

use super::{Xor2Chunk, Xor2Iterator, HEADER_LEN, MAX_FIRST_ST_CHANGE};
use crate::bstream::BitWriter;
use crate::histogram::varbit::put_varbit_int;
use crate::{is_stale_nan, ChunkFull, MAX_SAMPLES};

/// `leading` value meaning "no window chosen yet".
const LEADING_UNSET: u8 = 0xff;

/// Writes float samples (with optional start timestamps, 0 meaning none)
/// into an XOR2 chunk, producing Prometheus 3.11+'s bytes.
///
/// ```
/// use aion_chunkenc::{SampleIterator, ValueType, Xor2Appender, STALE_NAN};
///
/// let mut app = Xor2Appender::new();
/// for i in 0..10 {
///     app.append(0, i * 15_000, 1.0).unwrap();
/// }
/// app.append(0, 150_000, STALE_NAN).unwrap();
/// // 3 header bytes, 1 + 8 bytes for the first sample, 2 for the second
/// // delta, then one bit per repeated sample and 5 for the stale marker.
/// assert_eq!(app.bytes().len(), 16);
/// let mut it = app.iter();
/// let mut n = 0;
/// while it.next() == ValueType::Float {
///     n += 1;
/// }
/// assert_eq!(n, 11);
/// ```
#[derive(Debug, Clone)]
pub struct Xor2Appender {
    w: BitWriter,
    num: u16,
    st: i64,
    t: i64,
    /// Bits of the last non-stale value: the XOR baseline.
    v: u64,
    t_delta: u64,
    st_diff: i64,
    leading: u8,
    trailing: u8,
    first_st_change: u16,
}

impl Xor2Appender {
    /// An appender for a new, empty chunk.
    pub fn new() -> Self {
        let mut w = BitWriter::with_capacity(128);
        w.write_bits(0, 8 * HEADER_LEN as u32);
        Xor2Appender {
            w,
            num: 0,
            st: 0,
            t: i64::MIN,
            v: 0,
            t_delta: 0,
            st_diff: 0,
            leading: LEADING_UNSET,
            trailing: 0,
            first_st_change: 0,
        }
    }

    /// Number of samples appended.
    pub fn num_samples(&self) -> usize {
        usize::from(self.num)
    }

    /// Time of the last sample, `None` while the chunk is empty: what a
    /// head reads instead of keeping a copy per open chunk.
    pub fn last_time(&self) -> Option<i64> {
        (self.num > 0).then_some(self.t)
    }

    /// The chunk as encoded so far (readable at any moment).
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// A cursor over the samples appended so far.
    pub fn iter(&self) -> Xor2Iterator<'_> {
        Xor2Iterator::new(self.bytes())
    }

    /// Ends appending and hands over the chunk.
    pub fn into_chunk(self) -> Xor2Chunk {
        Xor2Chunk {
            bytes: self.w.into_bytes(),
        }
    }

    fn or_header(&mut self, bits: u8) {
        let b = self.bytes()[2] | bits;
        self.w.patch_byte(2, b);
    }

    /// Appends a sample with start timestamp `st` (0: unknown).
    ///
    /// Fails only when the chunk already holds 65535 samples.
    pub fn append(&mut self, st: i64, t: i64, v: f64) -> Result<(), ChunkFull> {
        if usize::from(self.num) >= MAX_SAMPLES {
            return Err(ChunkFull);
        }
        let bits = v.to_bits();
        let mut t_delta = 0;
        match self.num {
            0 => {
                self.write_varint(t);
                self.w.write_bits(bits, 64);
                if st != 0 {
                    self.write_varint(t.wrapping_sub(st));
                    self.w.patch_byte(2, 0x80);
                }
                self.st_diff = 0;
            }
            1 => {
                t_delta = t.wrapping_sub(self.t) as u64;
                self.write_uvarint(t_delta);
                self.write_value(bits);
                self.st_diff = 0;
                if st != self.st {
                    self.st_diff = self.t.wrapping_sub(st);
                    self.first_st_change = 1;
                    self.or_header(1);
                    put_varbit_int(&mut self.w, self.st_diff);
                }
            }
            _ => {
                t_delta = t.wrapping_sub(self.t) as u64;
                let dod = t_delta.wrapping_sub(self.t_delta) as i64;
                self.write_joint(dod, bits);
                if self.first_st_change > 0 {
                    let diff = self.t.wrapping_sub(st);
                    put_varbit_int(&mut self.w, diff.wrapping_sub(self.st_diff));
                    self.st_diff = diff;
                } else if st != self.st || self.num == MAX_FIRST_ST_CHANGE {
                    self.st_diff = self.t.wrapping_sub(st);
                    self.first_st_change = self.num;
                    if self.num <= MAX_FIRST_ST_CHANGE {
                        self.or_header(self.num as u8);
                    }
                    put_varbit_int(&mut self.w, self.st_diff);
                }
            }
        }
        self.st = st;
        self.t = t;
        if !is_stale_nan(v) {
            self.v = bits;
        }
        self.t_delta = t_delta;
        self.num += 1;
        self.w.patch_u16_at_start(self.num);
        Ok(())
    }

    fn write_varint(&mut self, x: i64) {
        self.write_uvarint(((x << 1) ^ (x >> 63)) as u64);
    }

    fn write_uvarint(&mut self, mut x: u64) {
        while x >= 0x80 {
            self.w.write_bits(x | 0x80, 8);
            x >>= 7;
        }
        self.w.write_bits(x, 8);
    }

    /// The joint control code of samples k ≥ 2 and their value.
    fn write_joint(&mut self, dod: i64, bits: u64) {
        if dod == 0 {
            if is_stale_nan(f64::from_bits(bits)) {
                self.w.write_bits(0b11111, 5);
                return;
            }
            let delta = bits ^ self.v;
            if delta == 0 {
                self.w.write_bits(0, 1);
                return;
            }
            self.w.write_bits(0b10, 2);
            // The value is known to have changed: `0` reuses the window,
            // `1` starts a new one.
            match self.window(delta) {
                Some(significant) => {
                    self.w.write_bits(0, 1);
                    self.w.write_bits(delta >> self.trailing, significant);
                }
                None => self.write_new_window(0b1, 1, delta),
            }
            return;
        }
        if (-(1 << 12)..(1 << 12)).contains(&dod) {
            self.w.write_bits(0b110 << 13 | (dod as u64 & 0x1fff), 16);
        } else if (-(1 << 19)..(1 << 19)).contains(&dod) {
            self.w
                .write_bits(0b1110 << 20 | (dod as u64 & 0xf_ffff), 24);
        } else {
            self.w.write_bits(0b11110, 5);
            self.w.write_bits(dod as u64, 64);
        }
        if bits == self.v {
            self.w.write_bits(0, 1);
        } else {
            self.write_value(bits);
        }
    }

    /// `<varbit_xor2>`: `0` unchanged, `10` reuse window, `110` new
    /// window, `111` stale marker.
    fn write_value(&mut self, bits: u64) {
        if is_stale_nan(f64::from_bits(bits)) {
            self.w.write_bits(0b111, 3);
            return;
        }
        let delta = bits ^ self.v;
        if delta == 0 {
            self.w.write_bits(0, 1);
            return;
        }
        match self.window(delta) {
            Some(significant) => {
                self.w.write_bits(0b10, 2);
                self.w.write_bits(delta >> self.trailing, significant);
            }
            None => self.write_new_window(0b110, 3, delta),
        }
    }

    /// The significant-bit count of the stored window if it covers
    /// `delta`, else `None`.
    fn window(&self, delta: u64) -> Option<u32> {
        let leading = (delta.leading_zeros() as u8).min(31);
        let trailing = delta.trailing_zeros() as u8;
        (self.leading != LEADING_UNSET && leading >= self.leading && trailing >= self.trailing)
            .then(|| 64 - u32::from(self.leading) - u32::from(self.trailing))
    }

    fn write_new_window(&mut self, prefix: u64, prefix_len: u32, delta: u64) {
        let leading = (delta.leading_zeros() as u8).min(31);
        let trailing = delta.trailing_zeros() as u8;
        self.leading = leading;
        self.trailing = trailing;
        let significant = 64 - u32::from(leading) - u32::from(trailing);
        self.w.write_bits(prefix, prefix_len);
        self.w
            .write_bits(u64::from(leading) << 6 | u64::from(significant & 0x3f), 11);
        self.w.write_bits(delta >> trailing, significant);
    }
}

impl Default for Xor2Appender {
    fn default() -> Self {
        Xor2Appender::new()
    }
}
