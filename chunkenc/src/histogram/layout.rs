//! The bucket layout every histogram chunk starts with (`docs/formats.md#histogram-chunks`):
//! zero threshold, schema, positive and negative spans, and (schema −53
//! only) the custom bucket bounds. The first sample of a chunk fixes it;
//! later samples are encoded against it.

use aion_model::histogram::{Span, CUSTOM_BUCKETS_SCHEMA};

use super::varbit::{put_varbit_int, put_varbit_uint, read_varbit_int, read_varbit_uint};
use crate::bstream::{BitReader, BitWriter};
use crate::error::LayoutPart;
use crate::{Encoding, Error};

/// Schemas a chunk may hold: the exponential range Prometheus reserves
/// (−9…52; the iterators reduce schemas above 8 to 8, as Prometheus's do)
/// and custom buckets.
fn is_readable_schema(schema: i64) -> bool {
    (-9..=52).contains(&schema) || schema == i64::from(CUSTOM_BUCKETS_SCHEMA)
}

/// The highest schema readers hand out; chunks with finer (reserved)
/// schemas are reduced to it.
pub(crate) const MAX_SCHEMA: i32 = 8;

/// A chunk's bucket layout, decoded into reusable vectors.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Layout {
    pub(crate) schema: i32,
    pub(crate) zero_threshold: f64,
    pub(crate) positive: Vec<Span>,
    pub(crate) negative: Vec<Span>,
    pub(crate) custom_values: Vec<f64>,
}

/// Number of buckets the spans address.
pub(crate) fn bucket_count(spans: &[Span]) -> usize {
    spans.iter().map(|s| s.length as usize).sum()
}

impl Layout {
    /// Copies the layout fields of a histogram into this one, reusing the
    /// vectors.
    pub(crate) fn set(
        &mut self,
        schema: i32,
        zero_threshold: f64,
        positive: &[Span],
        negative: &[Span],
        custom_values: &[f64],
    ) {
        self.schema = schema;
        self.zero_threshold = zero_threshold;
        self.positive.clear();
        self.positive.extend_from_slice(positive);
        self.negative.clear();
        self.negative.extend_from_slice(negative);
        self.custom_values.clear();
        self.custom_values.extend_from_slice(custom_values);
    }

    /// Writes a layout.
    pub(crate) fn write(
        w: &mut BitWriter,
        schema: i32,
        zero_threshold: f64,
        positive: &[Span],
        negative: &[Span],
        custom_values: &[f64],
    ) {
        put_zero_threshold(w, zero_threshold);
        put_varbit_int(w, i64::from(schema));
        put_spans(w, positive);
        put_spans(w, negative);
        if schema == CUSTOM_BUCKETS_SCHEMA {
            put_varbit_uint(w, custom_values.len() as u64);
            for &bound in custom_values {
                put_custom_bound(w, bound);
            }
        }
    }

    /// Reads a layout into this one. Counts are checked against the bits
    /// left before anything is allocated, so corrupt data cannot make the
    /// reader reserve more memory than the chunk is long.
    pub(crate) fn read(
        &mut self,
        r: &mut BitReader<'_>,
        encoding: Encoding,
        len: usize,
        num_samples: u16,
    ) -> Result<(), Error> {
        self.zero_threshold = read_zero_threshold(r);
        let schema = read_varbit_int(r);
        if r.overran() {
            return Err(truncated(encoding, len, num_samples));
        }
        if !is_readable_schema(schema) {
            return Err(Error::UnsupportedHistogramSchema { encoding, schema });
        }
        self.schema = schema as i32;
        read_spans(r, &mut self.positive, encoding, LayoutPart::PositiveSpans)?;
        read_spans(r, &mut self.negative, encoding, LayoutPart::NegativeSpans)?;
        self.custom_values.clear();
        if self.schema == CUSTOM_BUCKETS_SCHEMA {
            let at = r.position();
            let count = read_varbit_uint(r);
            check_count(r, count, 1, at, encoding, LayoutPart::CustomBounds)?;
            for _ in 0..count {
                self.custom_values.push(read_custom_bound(r));
            }
        }
        if r.overran() {
            return Err(truncated(encoding, len, num_samples));
        }
        Ok(())
    }
}

/// The error for a layout running past the end: sample 0 is truncated.
fn truncated(encoding: Encoding, len: usize, num_samples: u16) -> Error {
    Error::HistogramTruncated {
        encoding,
        sample: 0,
        num_samples,
        bit_offset: 24,
        len,
    }
}

/// Fails if `count` items of at least `min_bits` bits each cannot fit in
/// what is left of the stream.
pub(crate) fn check_count(
    r: &BitReader<'_>,
    count: u64,
    min_bits: u64,
    at: u64,
    encoding: Encoding,
    what: LayoutPart,
) -> Result<(), Error> {
    let left = r.len_bits().saturating_sub(r.position());
    if count.saturating_mul(min_bits) > left {
        return Err(Error::HistogramLayoutTooLarge {
            encoding,
            what,
            count,
            bit_offset: at,
        });
    }
    Ok(())
}

fn put_spans(w: &mut BitWriter, spans: &[Span]) {
    put_varbit_uint(w, spans.len() as u64);
    for s in spans {
        put_varbit_uint(w, u64::from(s.length));
        put_varbit_int(w, i64::from(s.offset));
    }
}

fn read_spans(
    r: &mut BitReader<'_>,
    spans: &mut Vec<Span>,
    encoding: Encoding,
    what: LayoutPart,
) -> Result<(), Error> {
    spans.clear();
    let at = r.position();
    let count = read_varbit_uint(r);
    check_count(r, count, 2, at, encoding, what)?;
    for _ in 0..count {
        // Narrowed as Prometheus narrows them (uint32, int32).
        let length = read_varbit_uint(r) as u32;
        let offset = read_varbit_int(r) as i32;
        spans.push(Span { offset, length });
    }
    Ok(())
}

/// Byte `0` for 0, byte `e + 243` for `0.5·2^e` with −242 ≤ e ≤ 11, else
/// byte `255` and the 64 float bits.
fn put_zero_threshold(w: &mut BitWriter, threshold: f64) {
    if threshold == 0.0 {
        w.write_bits(0, 8);
        return;
    }
    let bits = threshold.to_bits();
    let biased = (bits >> 52) as i64; // sign bit included: negatives fall out below
    let e = biased - 1022;
    if bits & ((1 << 52) - 1) == 0 && (1..2047).contains(&biased) && (-242..=11).contains(&e) {
        w.write_bits((e + 243) as u64, 8);
    } else {
        w.write_bits(255, 8);
        w.write_bits(bits, 64);
    }
}

fn read_zero_threshold(r: &mut BitReader<'_>) -> f64 {
    match r.read_bits(8) {
        0 => 0.0,
        255 => f64::from_bits(r.read_bits(64)),
        // 0.5·2^(b−243) = 2^(b−244), a normal float for every b in 1..=254.
        b => f64::from_bits((b + 1023 - 244) << 52),
    }
}

/// A bound that is a multiple of 0.001 in 0…33554.430 is written as
/// `varbit_uint(bound·1000 + 1)`; anything else as a `0` bit and the 64
/// float bits.
fn put_custom_bound(w: &mut BitWriter, bound: f64) {
    let scaled = bound * 1000.0;
    let whole =
        (0.0..=33_554_430.0).contains(&scaled) && (scaled.round() as u64) as f64 / 1000.0 == bound;
    if whole {
        put_varbit_uint(w, scaled.round() as u64 + 1);
    } else {
        w.write_bits(0, 1);
        w.write_bits(bound.to_bits(), 64);
    }
}

fn read_custom_bound(r: &mut BitReader<'_>) -> f64 {
    match read_varbit_uint(r) {
        0 => f64::from_bits(r.read_bits(64)),
        v => (v - 1) as f64 / 1000.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn threshold_bytes(t: f64) -> Vec<u8> {
        let mut w = BitWriter::with_capacity(16);
        put_zero_threshold(&mut w, t);
        w.bytes().to_vec()
    }

    #[test]
    fn zero_thresholds_take_one_byte_when_powers_of_two() {
        assert_eq!(threshold_bytes(0.0), [0]);
        // The default 2^-128 is 0.5·2^-127: byte 116 (`docs/formats.md#histogram-chunks`).
        assert_eq!(threshold_bytes(2f64.powi(-128)), [116]);
        assert_eq!(threshold_bytes(2f64.powi(-243)), [1]);
        assert_eq!(threshold_bytes(1024.0), [254]);
        assert_eq!(threshold_bytes(0.001).len(), 9);
        assert_eq!(threshold_bytes(2048.0).len(), 9);
        assert_eq!(threshold_bytes(2f64.powi(-244)).len(), 9);
        assert_eq!(threshold_bytes(-0.5).len(), 9);
        assert_eq!(threshold_bytes(f64::INFINITY).len(), 9);
        for b in 1..=254u64 {
            let mut w = BitWriter::with_capacity(16);
            w.write_bits(b, 8);
            let t = read_zero_threshold(&mut BitReader::new(w.bytes(), 0));
            assert_eq!(threshold_bytes(t), [b as u8]);
        }
    }

    #[test]
    fn custom_bounds_prefer_the_short_form() {
        let bits = |x: f64| {
            let mut w = BitWriter::with_capacity(16);
            put_custom_bound(&mut w, x);
            w.bit_len()
        };
        assert_eq!(bits(0.0), 5); // varbit_uint(1)
        assert_eq!(bits(0.5), 13); // 501 → 9-bit bucket
        assert_eq!(bits(33_554.43), 32);
        assert_eq!(bits(33_554.431), 65);
        assert_eq!(bits(-1.0), 65);
        assert_eq!(bits(0.0001), 65);
        assert_eq!(bits(f64::INFINITY), 65);
        assert_eq!(bits(f64::NAN), 65);
    }

    fn spans() -> impl Strategy<Value = Vec<Span>> {
        prop::collection::vec(
            (any::<i32>(), any::<u32>()).prop_map(|(offset, length)| Span { offset, length }),
            0..6,
        )
    }

    proptest! {
        #[test]
        fn layouts_round_trip(
            schema in prop_oneof![-9i32..=8, Just(CUSTOM_BUCKETS_SCHEMA)],
            zt in prop_oneof![Just(0.0), Just(2f64.powi(-128)), any::<f64>()],
            positive in spans(),
            negative in spans(),
            custom in prop::collection::vec(prop_oneof![any::<f64>(), (0u32..100_000).prop_map(|x| f64::from(x) / 1000.0)], 0..8),
        ) {
            let custom = if schema == CUSTOM_BUCKETS_SCHEMA { custom } else { Vec::new() };
            let mut w = BitWriter::with_capacity(16);
            Layout::write(&mut w, schema, zt, &positive, &negative, &custom);
            let mut l = Layout::default();
            l.read(&mut BitReader::new(w.bytes(), 0), Encoding::Histogram, w.bytes().len(), 1).unwrap();
            prop_assert_eq!(l.schema, schema);
            // -0.0 is written as the zero byte and reads back as +0.0.
            let zt = if zt == 0.0 { 0.0 } else { zt };
            prop_assert_eq!(l.zero_threshold.to_bits(), zt.to_bits());
            prop_assert_eq!(&l.positive, &positive);
            prop_assert_eq!(&l.negative, &negative);
            let got: Vec<u64> = l.custom_values.iter().map(|x| x.to_bits()).collect();
            // -0.0 is written in the short form and reads back as +0.0.
            let want: Vec<u64> = custom.iter().map(|x| if *x == 0.0 { 0 } else { x.to_bits() }).collect();
            prop_assert_eq!(got, want);
        }
    }
}
