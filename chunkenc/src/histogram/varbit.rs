//! The variable-width integers of histogram chunks (`varbit_int` and
//! `varbit_uint`, `docs/formats.md#varbit-timestamps`).
//!
//! A value is written as a unary-coded bucket number (`0`, `10`, `110`, …,
//! `11111110`, `11111111`) followed by the value in that bucket's width:
//! 0, 3, 6, 9, 12, 18, 25, 56 or 64 bits. Small values, which is what
//! deltas of deltas of bucket counts almost always are, take a few bits.

use crate::bstream::{BitReader, BitWriter};

/// Value widths of the nine buckets, indexed by the number of leading one
/// bits of the prefix.
const WIDTHS: [u32; 9] = [0, 3, 6, 9, 12, 18, 25, 56, 64];

/// Whether `x` fits the signed `nbits`-bit bucket: `-(2^(n-1) - 1) ..=
/// 2^(n-1)`, the asymmetric range Prometheus's `bitRange` tests.
#[inline(always)]
fn fits_signed(x: i64, nbits: u32) -> bool {
    let half = 1i64 << (nbits - 1);
    -(half - 1) <= x && x <= half
}

/// Writes the bucket prefix for bucket `k` (k ones, then a zero unless k
/// is 8) and the low `WIDTHS[k]` bits of `bits`.
#[inline(always)]
fn put_bucket(w: &mut BitWriter, k: usize, bits: u64) {
    let (prefix, prefix_len) = if k == 8 {
        (0xff, 8)
    } else {
        (((1u64 << k) - 1) << 1, k as u32 + 1)
    };
    let width = WIDTHS[k];
    if width == 0 {
        w.write_bits(prefix, prefix_len);
    } else if prefix_len + width <= 56 {
        let mask = (1u64 << width) - 1;
        w.write_bits(prefix << width | (bits & mask), prefix_len + width);
    } else {
        w.write_bits(prefix, prefix_len);
        w.write_bits(bits, width);
    }
}

/// Appends `v` as a `varbit_int`.
#[inline]
pub(crate) fn put_varbit_int(w: &mut BitWriter, v: i64) {
    let k = if v == 0 {
        0
    } else {
        (1..8).find(|&k| fits_signed(v, WIDTHS[k])).unwrap_or(8)
    };
    put_bucket(w, k, v as u64);
}

/// Appends `v` as a `varbit_uint`.
#[inline]
pub(crate) fn put_varbit_uint(w: &mut BitWriter, v: u64) {
    let k = if v == 0 {
        0
    } else {
        (1..8).find(|&k| v >> WIDTHS[k] == 0).unwrap_or(8)
    };
    put_bucket(w, k, v);
}

/// Reads a bucket prefix and its value bits, returning the width and the
/// raw bits. Past the end of the data the reader yields zero bits; the
/// caller checks [`BitReader::overran`] once per sample.
#[inline(always)]
fn read_bucket(r: &mut BitReader<'_>) -> (u32, u64) {
    if r.available() < 9 {
        r.refill();
    }
    let ones = (!r.peek()).leading_zeros().min(8);
    r.consume(if ones == 8 { 8 } else { ones + 1 });
    let width = WIDTHS[ones as usize];
    if width == 0 {
        (0, 0)
    } else {
        (width, r.read_bits(width))
    }
}

/// Reads a `varbit_int`.
#[inline]
pub(crate) fn read_varbit_int(r: &mut BitReader<'_>) -> i64 {
    match read_bucket(r) {
        (0, _) => 0,
        (64, bits) => bits as i64,
        (width, bits) if bits > 1 << (width - 1) => bits.wrapping_sub(1 << width) as i64,
        (_, bits) => bits as i64,
    }
}

/// Reads a `varbit_uint`.
#[inline]
pub(crate) fn read_varbit_uint(r: &mut BitReader<'_>) -> u64 {
    read_bucket(r).1
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The bit length of each bucket's encoding, as `docs/formats.md#varbit-timestamps` lists.
    #[test]
    fn bucket_boundaries_match_the_format_table() {
        let cases: &[(i64, u64)] = &[
            (0, 1),
            (1, 5),
            (-3, 5),
            (4, 5),
            (-4, 9),
            (5, 9),
            (32, 9),
            (-31, 9),
            (33, 13),
            (256, 13),
            (-255, 13),
            (257, 17),
            (2048, 17),
            (2049, 24),
            (131_072, 24),
            (131_073, 32),
            (16_777_216, 32),
            (16_777_217, 64),
            (1 << 55, 64),
            ((1 << 55) + 1, 72),
            (i64::MIN, 72),
            (i64::MAX, 72),
        ];
        for &(v, bits) in cases {
            let mut w = BitWriter::with_capacity(16);
            put_varbit_int(&mut w, v);
            assert_eq!(w.bit_len(), bits, "varbit_int({v})");
        }
        let ucases: &[(u64, u64)] = &[
            (0, 1),
            (7, 5),
            (8, 9),
            (63, 9),
            (64, 13),
            (4095, 17),
            (4096, 24),
            (33_554_431, 32),
            (33_554_432, 64),
            ((1 << 56) - 1, 64),
            (1 << 56, 72),
            (u64::MAX, 72),
        ];
        for &(v, bits) in ucases {
            let mut w = BitWriter::with_capacity(16);
            put_varbit_uint(&mut w, v);
            assert_eq!(w.bit_len(), bits, "varbit_uint({v})");
        }
    }

    /// Hand-encoded from the format table: 4 is `10` + `100`, -1 is `10` +
    /// `111`, 33 is `1110` + `000100001`.
    #[test]
    fn known_bit_patterns() {
        let mut w = BitWriter::with_capacity(16);
        put_varbit_int(&mut w, 4);
        put_varbit_int(&mut w, -1);
        put_varbit_int(&mut w, 33);
        // 10100 10111 1110000100001 + 7 bits of padding
        assert_eq!(w.bytes(), &[0b1010_0101, 0b1111_1000, 0b0100_0010]);
    }

    proptest! {
        #[test]
        fn ints_round_trip(vs in prop::collection::vec(any::<i64>(), 0..50), small in prop::collection::vec(-70_000i64..70_000, 0..50)) {
            let mut w = BitWriter::with_capacity(16);
            for &v in vs.iter().chain(&small) {
                put_varbit_int(&mut w, v);
            }
            let mut r = BitReader::new(w.bytes(), 0);
            for &v in vs.iter().chain(&small) {
                prop_assert_eq!(read_varbit_int(&mut r), v);
            }
            prop_assert_eq!(r.position(), w.bit_len());
        }

        #[test]
        fn uints_round_trip(vs in prop::collection::vec(any::<u64>(), 0..50), small in prop::collection::vec(0u64..70_000, 0..50)) {
            let mut w = BitWriter::with_capacity(16);
            for &v in vs.iter().chain(&small) {
                put_varbit_uint(&mut w, v);
            }
            let mut r = BitReader::new(w.bytes(), 0);
            for &v in vs.iter().chain(&small) {
                prop_assert_eq!(read_varbit_uint(&mut r), v);
            }
            prop_assert_eq!(r.position(), w.bit_len());
        }
    }
}
