//! Native histogram sample records.
//!
//! | type | content |
//! |---|---|
//! | 7 | integer histograms, exponential schemas |
//! | 8 | float histograms, exponential schemas |
//! | 9 | integer histograms with custom buckets (Prometheus ≥ 3.2) |
//! | 10 | float histograms with custom buckets (Prometheus ≥ 3.2) |
//! | 12, 13 | v2 of 7/9 and 8/10 with start timestamps (Prometheus ≥ 3.12) |
//!
//! Types 7–10 share the layout of v1 float samples with the histogram
//! (see [`super::histogram`]) in place of the value:
//!
//! ```text
//! u8 type, if non-empty: be64 first.ref, be64 first.t,
//! then for every sample, the first included: varint(ref − first.ref), varint(t − first.t), histogram
//! ```
//!
//! Types 12/13 use the v2 sample layout (see [`super::samples`]). Start
//! timestamps are dropped when decoding, as for float samples.

use super::buf::{slot, Buf, DeltaBase};
use super::error::DecodeError;
use super::histogram::{FloatHistogram, Histogram, HistogramValue};
use super::samples::{skip_first_start_time, skip_start_time_marker};
use super::RecordType;
use aion_model::encoding::put_varint;

/// An integer native histogram sample of a head series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RefHistogramSample {
    /// Head series reference.
    pub r#ref: u64,
    /// Timestamp in milliseconds.
    pub t: i64,
    /// The histogram.
    pub h: Histogram,
}

/// A float native histogram sample of a head series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RefFloatHistogramSample {
    /// Head series reference.
    pub r#ref: u64,
    /// Timestamp in milliseconds.
    pub t: i64,
    /// The histogram.
    pub fh: FloatHistogram,
}

/// Shared access to the two sample flavours.
trait Sample: Default {
    type Value: HistogramValue;
    fn parts(&self) -> (u64, i64, &Self::Value);
    fn parts_mut(&mut self) -> (&mut u64, &mut i64, &mut Self::Value);
}

impl Sample for RefHistogramSample {
    type Value = Histogram;
    fn parts(&self) -> (u64, i64, &Histogram) {
        (self.r#ref, self.t, &self.h)
    }
    fn parts_mut(&mut self) -> (&mut u64, &mut i64, &mut Histogram) {
        (&mut self.r#ref, &mut self.t, &mut self.h)
    }
}

impl Sample for RefFloatHistogramSample {
    type Value = FloatHistogram;
    fn parts(&self) -> (u64, i64, &FloatHistogram) {
        (self.r#ref, self.t, &self.fh)
    }
    fn parts_mut(&mut self) -> (&mut u64, &mut i64, &mut FloatHistogram) {
        (&mut self.r#ref, &mut self.t, &mut self.fh)
    }
}

fn encode_v1<S: Sample>(typ: RecordType, samples: &[S], buf: &mut Vec<u8>) {
    buf.push(typ as u8);
    let Some(first) = samples.first() else {
        return;
    };
    let (first_ref, first_t, _) = first.parts();
    let base = DeltaBase::put(buf, first_ref, first_t);
    for s in samples {
        let (r, t, h) = s.parts();
        base.put_element(buf, r, t);
        h.encode(buf);
    }
}

fn encode_v2<S: Sample>(typ: RecordType, samples: &[S], buf: &mut Vec<u8>) {
    buf.push(typ as u8);
    let Some(first) = samples.first() else {
        return;
    };
    let (first_ref, first_t, h) = first.parts();
    put_varint(buf, first_ref as i64);
    put_varint(buf, first_t);
    put_varint(buf, 0);
    h.encode(buf);
    let mut prev_ref = first_ref;
    for s in &samples[1..] {
        let (r, t, h) = s.parts();
        put_varint(buf, (r as i64).wrapping_sub(prev_ref as i64));
        put_varint(buf, t.wrapping_sub(first_t));
        buf.push(0);
        h.encode(buf);
        prev_ref = r;
    }
}

fn decode<S: Sample>(
    rec: &[u8],
    out: &mut Vec<S>,
    name: &'static str,
    v1_types: [RecordType; 2],
    v2_type: RecordType,
    expected: &'static str,
) -> Result<(), DecodeError> {
    let accepted = [v1_types[0] as u8, v1_types[1] as u8, v2_type as u8];
    let (mut b, typ) = Buf::new_typed(rec, name, &accepted, expected)?;
    let mut n = 0;
    let result = if b.is_empty() {
        Ok(())
    } else if typ == v2_type as u8 {
        decode_v2_body(&mut b, out, &mut n)
    } else {
        decode_v1_body(&mut b, out, &mut n)
    };
    out.truncate(n);
    result
}

fn decode_v1_body<S: Sample>(
    b: &mut Buf<'_>,
    out: &mut Vec<S>,
    n: &mut usize,
) -> Result<(), DecodeError> {
    let base = DeltaBase::read(b)?;
    while !b.is_empty() {
        let (r#ref, ts) = base.read_element(b)?;
        let (r, t, h) = slot(out, *n).parts_mut();
        (*r, *t) = (r#ref, ts);
        h.decode_into(b)?;
        *n += 1;
    }
    Ok(())
}

fn decode_v2_body<S: Sample>(
    b: &mut Buf<'_>,
    out: &mut Vec<S>,
    n: &mut usize,
) -> Result<(), DecodeError> {
    let mut r#ref = b.varint("first ref")?;
    let first_t = b.varint("first timestamp")?;
    skip_first_start_time(b)?;
    let mut t = first_t;
    loop {
        let (r, ts, h) = slot(out, *n).parts_mut();
        *r = r#ref as u64;
        *ts = t;
        h.decode_into(b)?;
        *n += 1;
        if b.is_empty() {
            return Ok(());
        }
        r#ref = r#ref.wrapping_add(b.varint("ref delta")?);
        t = first_t.wrapping_add(b.varint("timestamp delta")?);
        skip_start_time_marker(b)?;
    }
}

/// Appends an integer histogram samples record (type 7). Prometheus ≥ 3.2
/// puts custom-bucket histograms in type 9 instead; see
/// [`encode_custom_buckets_histogram_samples`].
pub fn encode_histogram_samples(samples: &[RefHistogramSample], buf: &mut Vec<u8>) {
    encode_v1(RecordType::HistogramSamples, samples, buf);
}

/// Appends a custom-bucket integer histogram samples record (type 9).
pub fn encode_custom_buckets_histogram_samples(samples: &[RefHistogramSample], buf: &mut Vec<u8>) {
    encode_v1(RecordType::CustomBucketsHistogramSamples, samples, buf);
}

/// Appends a v2 integer histogram samples record (type 12) without start
/// timestamps. Only Prometheus ≥ 3.12 reads it.
pub fn encode_histogram_samples_v2(samples: &[RefHistogramSample], buf: &mut Vec<u8>) {
    encode_v2(RecordType::HistogramSamplesV2, samples, buf);
}

/// Decodes an integer histogram samples record (type 7, 9 or 12) into
/// `out`, replacing its contents and reusing the bucket vectors of the
/// elements already there.
pub fn decode_histogram_samples(
    rec: &[u8],
    out: &mut Vec<RefHistogramSample>,
) -> Result<(), DecodeError> {
    decode(
        rec,
        out,
        "histogram samples",
        [
            RecordType::HistogramSamples,
            RecordType::CustomBucketsHistogramSamples,
        ],
        RecordType::HistogramSamplesV2,
        "7, 9 or 12 (histogram samples)",
    )
}

/// Appends a float histogram samples record (type 8).
pub fn encode_float_histogram_samples(samples: &[RefFloatHistogramSample], buf: &mut Vec<u8>) {
    encode_v1(RecordType::FloatHistogramSamples, samples, buf);
}

/// Appends a custom-bucket float histogram samples record (type 10).
pub fn encode_custom_buckets_float_histogram_samples(
    samples: &[RefFloatHistogramSample],
    buf: &mut Vec<u8>,
) {
    encode_v1(RecordType::CustomBucketsFloatHistogramSamples, samples, buf);
}

/// Appends a v2 float histogram samples record (type 13) without start
/// timestamps. Only Prometheus ≥ 3.12 reads it.
pub fn encode_float_histogram_samples_v2(samples: &[RefFloatHistogramSample], buf: &mut Vec<u8>) {
    encode_v2(RecordType::FloatHistogramSamplesV2, samples, buf);
}

/// Decodes a float histogram samples record (type 8, 10 or 13) into `out`,
/// replacing its contents and reusing the bucket vectors of the elements
/// already there.
pub fn decode_float_histogram_samples(
    rec: &[u8],
    out: &mut Vec<RefFloatHistogramSample>,
) -> Result<(), DecodeError> {
    decode(
        rec,
        out,
        "float histogram samples",
        [
            RecordType::FloatHistogramSamples,
            RecordType::CustomBucketsFloatHistogramSamples,
        ],
        RecordType::FloatHistogramSamplesV2,
        "8, 10 or 13 (float histogram samples)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::histogram::{CounterResetHint, Span, CUSTOM_BUCKETS_SCHEMA};

    fn hist(schema: i32) -> Histogram {
        Histogram {
            counter_reset_hint: CounterResetHint::NotCounterReset,
            schema,
            zero_threshold: 0.001,
            zero_count: 2,
            count: 10,
            sum: 18.4,
            positive_spans: vec![
                Span {
                    offset: 0,
                    length: 2,
                },
                Span {
                    offset: 1,
                    length: 2,
                },
            ],
            negative_spans: vec![Span {
                offset: -3,
                length: 1,
            }],
            positive_buckets: vec![1, 1, -1, 0],
            negative_buckets: vec![2],
            custom_values: if schema == CUSTOM_BUCKETS_SCHEMA {
                vec![0.5, 1.0, 2.5]
            } else {
                vec![]
            },
        }
    }

    /// The example of Prometheus's record tests, encoded by hand from the
    /// layout in `docs/formats.md#wal-records`.
    #[test]
    fn known_bytes() {
        let s = RefHistogramSample {
            r#ref: 56,
            t: 1234,
            h: Histogram {
                count: 5,
                zero_count: 2,
                zero_threshold: 0.001,
                sum: 18.4,
                schema: 1,
                positive_spans: vec![Span {
                    offset: 0,
                    length: 2,
                }],
                positive_buckets: vec![1, 1],
                ..Default::default()
            },
        };
        let mut buf = Vec::new();
        encode_histogram_samples(std::slice::from_ref(&s), &mut buf);
        let mut want = vec![7];
        want.extend_from_slice(&56u64.to_be_bytes());
        want.extend_from_slice(&1234u64.to_be_bytes());
        want.extend_from_slice(&[0, 0, 0, 2]);
        want.extend_from_slice(&0.001f64.to_bits().to_be_bytes());
        want.extend_from_slice(&[2, 5]);
        want.extend_from_slice(&18.4f64.to_bits().to_be_bytes());
        want.extend_from_slice(&[1, 0, 2, 0, 2, 2, 2, 0]);
        assert_eq!(buf, want);
        let mut out = Vec::new();
        decode_histogram_samples(&buf, &mut out).unwrap();
        assert_eq!(out, [s]);
    }

    #[test]
    fn all_types_round_trip() {
        let ints = vec![
            RefHistogramSample {
                r#ref: 3,
                t: 100,
                h: hist(3),
            },
            RefHistogramSample {
                r#ref: 1,
                t: 90,
                h: hist(CUSTOM_BUCKETS_SCHEMA),
            },
        ];
        type IntEncoder = fn(&[RefHistogramSample], &mut Vec<u8>);
        let encoders: [IntEncoder; 3] = [
            encode_histogram_samples,
            encode_custom_buckets_histogram_samples,
            encode_histogram_samples_v2,
        ];
        for enc in encoders {
            let mut buf = Vec::new();
            enc(&ints, &mut buf);
            let mut out = vec![RefHistogramSample::default(); 5];
            decode_histogram_samples(&buf, &mut out).unwrap();
            assert_eq!(out, ints);
            assert!(decode_histogram_samples(&buf[..buf.len() - 1], &mut out).is_err());
        }
        let floats: Vec<RefFloatHistogramSample> = ints
            .iter()
            .map(|s| RefFloatHistogramSample {
                r#ref: s.r#ref,
                t: s.t,
                fh: FloatHistogram {
                    counter_reset_hint: CounterResetHint::Gauge,
                    schema: s.h.schema,
                    zero_threshold: 0.5,
                    zero_count: 1.5,
                    count: 7.25,
                    sum: -3.0,
                    positive_spans: s.h.positive_spans.clone(),
                    negative_spans: vec![],
                    positive_buckets: vec![1.0, 0.5, 2.0, 3.75],
                    negative_buckets: vec![],
                    custom_values: s.h.custom_values.clone(),
                },
            })
            .collect();
        type FloatEncoder = fn(&[RefFloatHistogramSample], &mut Vec<u8>);
        let encoders: [FloatEncoder; 3] = [
            encode_float_histogram_samples,
            encode_custom_buckets_float_histogram_samples,
            encode_float_histogram_samples_v2,
        ];
        for enc in encoders {
            let mut buf = Vec::new();
            enc(&floats, &mut buf);
            let mut out = Vec::new();
            decode_float_histogram_samples(&buf, &mut out).unwrap();
            assert_eq!(out, floats);
        }
    }

    #[test]
    fn rejects_bad_hint_and_wrong_type() {
        let mut buf = Vec::new();
        encode_histogram_samples(
            &[RefHistogramSample {
                r#ref: 1,
                t: 1,
                h: hist(0),
            }],
            &mut buf,
        );
        let mut out = Vec::new();
        let mut bad = buf.clone();
        bad[17 + 2] = 9; // after type, ref, t and two zero deltas
        assert!(decode_histogram_samples(&bad, &mut out).is_err());
        assert!(decode_float_histogram_samples(&buf, &mut Vec::new()).is_err());
    }
}
