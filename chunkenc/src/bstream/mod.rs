//! Bit streams: the substrate of every chunk encoding.
//!
//! Bits are stored most-significant first within each byte, multi-bit
//! fields most-significant bit first, and the last byte is zero-padded in
//! its low bits (`docs/formats.md#conventions`). Both halves work on plain
//! byte slices so a chunk can be read straight out of an mmapped file.

mod reader;
mod writer;

pub(crate) use reader::{BitReader, REFILL_BITS};
pub(crate) use writer::{BitWriter, WRITE_BITS, WRITE_WIDE_BITS};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any sequence of fields written reads back field by field, and the
        /// writer's byte length is exactly the bits rounded up.
        #[test]
        fn fields_round_trip(fields in prop::collection::vec((any::<u64>(), 1u32..=64), 0..200)) {
            let mut w = BitWriter::with_capacity(16);
            for &(value, width) in &fields {
                w.write_bits(value, width);
            }
            prop_assert_eq!(w.bytes().len() as u64, w.bit_len().div_ceil(8));
            let mut r = BitReader::new(w.bytes(), 0);
            for &(value, width) in &fields {
                let mask = if width == 64 { u64::MAX } else { (1 << width) - 1 };
                prop_assert_eq!(r.read_bits(width), value & mask);
            }
            prop_assert_eq!(r.position(), w.bit_len());
        }

        /// Wide (16-byte) writes interleave with word writes.
        #[test]
        fn wide_fields_round_trip(fields in prop::collection::vec((any::<u128>(), 1u32..=WRITE_WIDE_BITS), 0..100)) {
            let mut w = BitWriter::with_capacity(0);
            for &(value, width) in &fields {
                if width <= 64 {
                    w.write_bits(value as u64, width);
                } else {
                    w.write_wide(value, width);
                }
            }
            prop_assert_eq!(w.bytes().len() as u64, w.bit_len().div_ceil(8));
            let mut r = BitReader::new(w.bytes(), 0);
            for &(value, width) in &fields {
                let mask = u128::MAX >> (128 - width);
                let got = if width <= 64 {
                    u128::from(r.read_bits(width))
                } else {
                    u128::from(r.read_bits(width - 64)) << 64 | u128::from(r.read_bits(64))
                };
                prop_assert_eq!(got, value & mask);
            }
            prop_assert!(!r.overran());
        }

        /// Resuming a writer at a bit position continues the stream exactly
        /// where a fresh writer would, whatever garbage sat in the padding.
        #[test]
        fn resume_matches_uninterrupted(
            first in prop::collection::vec((any::<u64>(), 1u32..=64), 0..20),
            second in prop::collection::vec((any::<u64>(), 1u32..=64), 0..20),
            garbage in any::<u8>(),
        ) {
            let mut whole = BitWriter::with_capacity(0);
            let mut part = BitWriter::with_capacity(0);
            for &(v, n) in &first {
                whole.write_bits(v, n);
                part.write_bits(v, n);
            }
            let bits = part.bit_len();
            let mut bytes = part.into_bytes();
            if bits % 8 != 0 {
                *bytes.last_mut().unwrap() |= garbage >> (bits % 8);
            }
            bytes.push(garbage); // a stray trailing byte, as Prometheus 2.x sometimes leaves
            let mut part = BitWriter::resume(bytes, bits);
            for &(v, n) in &second {
                whole.write_bits(v, n);
                part.write_bits(v, n);
            }
            prop_assert_eq!(whole.bytes(), part.bytes());
        }
    }

    #[test]
    fn reads_past_the_end_yield_zeros_and_advance() {
        let mut r = BitReader::new(&[0xff], 0);
        assert_eq!(r.read_bits(4), 0xf);
        assert_eq!(r.read_bits(8), 0xf0);
        assert_eq!(r.read_bits(64), 0);
        assert_eq!(r.position(), 76);
        assert!(r.position() > r.len_bits());
    }
}
