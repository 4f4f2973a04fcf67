//! Gorilla XOR compression of one float field (`docs/formats.md#xor-chunk`), as the sum
//! of integer histograms and every field of float histograms use it.
//!
//! The XOR chunk has its own, heavily fused copy of this code for speed;
//! this one is the plain field-at-a-time form the histogram codecs need,
//! where each field carries its own `(leading, trailing)` window.

use crate::bstream::{BitReader, BitWriter};

/// `leading` value meaning "no window chosen yet" (writers only).
pub(crate) const LEADING_UNSET: u8 = 0xff;

/// One XOR-compressed float field: its last value (as bits) and window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct XorField {
    pub(crate) bits: u64,
    pub(crate) leading: u8,
    pub(crate) trailing: u8,
}

impl XorField {
    /// A writer's state before the first XOR-encoded value.
    pub(crate) const fn for_writer(bits: u64) -> Self {
        XorField {
            bits,
            leading: LEADING_UNSET,
            trailing: 0,
        }
    }

    /// A reader's state before the first XOR-encoded value (Prometheus's
    /// readers start from a 0/0 window).
    pub(crate) const fn for_reader(bits: u64) -> Self {
        XorField {
            bits,
            leading: 0,
            trailing: 0,
        }
    }

    /// The last value.
    #[inline]
    pub(crate) fn value(&self) -> f64 {
        f64::from_bits(self.bits)
    }

    /// Writes `new` relative to the last value and makes it the last value.
    #[inline]
    pub(crate) fn write(&mut self, w: &mut BitWriter, new: u64) {
        let delta = new ^ self.bits;
        self.bits = new;
        if delta == 0 {
            w.write_bits(0, 1);
            return;
        }
        // The leading-zero field has 5 bits: counts of 32 and more are
        // written as 31, and the clamp precedes the window comparison.
        let leading = (delta.leading_zeros() as u8).min(31);
        let trailing = delta.trailing_zeros() as u8;
        if self.leading != LEADING_UNSET && leading >= self.leading && trailing >= self.trailing {
            w.write_bits(0b10, 2);
            let significant = 64 - u32::from(self.leading) - u32::from(self.trailing);
            w.write_bits(delta >> self.trailing, significant);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        let significant = 64 - u32::from(leading) - u32::from(trailing);
        // A count of 64 does not fit 6 bits and is written as 0.
        w.write_bits(
            0b11 << 11 | u64::from(leading) << 6 | u64::from(significant & 0x3f),
            13,
        );
        w.write_bits(delta >> trailing, significant);
    }

    /// Reads the next value into the field. Fails with the declared
    /// `(leading, significant)` if they add up to more than 64 bits.
    #[inline]
    pub(crate) fn read(&mut self, r: &mut BitReader<'_>) -> Result<(), (u8, u8)> {
        if r.read_bits(1) == 0 {
            return Ok(());
        }
        let significant = if r.read_bits(1) == 0 {
            64 - u32::from(self.leading) - u32::from(self.trailing)
        } else {
            let leading = r.read_bits(5) as u32;
            let significant = match r.read_bits(6) as u32 {
                0 => 64,
                m => m,
            };
            if leading + significant > 64 {
                return Err((leading as u8, significant as u8));
            }
            self.leading = leading as u8;
            self.trailing = (64 - leading - significant) as u8;
            significant
        };
        let x = r.read_bits(significant);
        self.bits ^= x << self.trailing;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The value part of `docs/formats.md#xor-chunk`'s worked example: 1.0 then 2.0 is
    /// `1 1 00001 001011 11111111111`.
    #[test]
    fn matches_the_worked_example() {
        let mut w = BitWriter::with_capacity(8);
        let mut f = XorField::for_writer(1.0f64.to_bits());
        f.write(&mut w, 2.0f64.to_bits());
        assert_eq!(w.bit_len(), 24);
        assert_eq!(w.bytes(), &[0b1100_0010, 0b0101_1111, 0b1111_1111]);
    }

    proptest! {
        #[test]
        fn values_round_trip(first in any::<u64>(), vs in prop::collection::vec(prop_oneof![any::<u64>(), (0u32..200).prop_map(|x| f64::from(x).to_bits())], 0..60)) {
            let mut w = BitWriter::with_capacity(8);
            let mut wf = XorField::for_writer(first);
            for &v in &vs {
                wf.write(&mut w, v);
            }
            let mut r = BitReader::new(w.bytes(), 0);
            let mut rf = XorField::for_reader(first);
            for &v in &vs {
                prop_assert!(rf.read(&mut r).is_ok());
                prop_assert_eq!(rf.bits, v);
            }
            prop_assert_eq!(r.position(), w.bit_len());
        }
    }
}
