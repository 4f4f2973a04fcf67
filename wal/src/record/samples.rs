//! Float sample records: v1 (type 2, every Prometheus version) and v2
//! (type 11, Prometheus ≥ 3.11 with start-timestamp storage).
//!
//! ```text
//! v1: u8 type = 2
//!     if non-empty: be64 first.ref, be64 first.t,
//!     then for every sample, the first included:
//!         varint(ref − first.ref), varint(t − first.t), be64 value bits
//! v2: u8 type = 11
//!     varint first.ref, varint first.t, varint first.st, be64 first.value,
//!     then per further sample: varint(ref − previous.ref), varint(t − first.t),
//!         u8 st marker (0 none, 1 same as previous, 2 explicit + varint(st − first.st)),
//!         be64 value bits
//! ```
//!
//! Aion does not store start timestamps: v2 records decode to the same
//! [`RefSample`]s with the start timestamps dropped.

use super::buf::{Buf, DeltaBase};
use super::error::{DecodeError, Problem};
use super::RecordType;
use aion_model::encoding::{put_be64, put_varint, varint};

/// One float sample of a head series.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RefSample {
    /// Head series reference.
    pub r#ref: u64,
    /// Timestamp in milliseconds.
    pub t: i64,
    /// Value (stale markers are a NaN with bits `0x7ff0000000000002`).
    pub v: f64,
}

/// Appends a v1 samples record (type 2), the format every Prometheus
/// version reads.
pub fn encode_samples(samples: &[RefSample], buf: &mut Vec<u8>) {
    buf.push(RecordType::Samples as u8);
    let Some(first) = samples.first() else {
        return;
    };
    buf.reserve(16 + samples.len() * 12);
    let base = DeltaBase::put(buf, first.r#ref, first.t);
    for s in samples {
        base.put_element(buf, s.r#ref, s.t);
        put_be64(buf, s.v.to_bits());
    }
}

/// Appends a v2 samples record (type 11) with no start timestamps. Only
/// Prometheus ≥ 3.11 reads it; Aion writes v1. Provided for tests and
/// tools.
pub fn encode_samples_v2(samples: &[RefSample], buf: &mut Vec<u8>) {
    buf.push(RecordType::SamplesV2 as u8);
    let Some(first) = samples.first() else {
        return;
    };
    put_varint(buf, first.r#ref as i64);
    put_varint(buf, first.t);
    put_varint(buf, 0);
    put_be64(buf, first.v.to_bits());
    for w in samples.windows(2) {
        let (prev, s) = (&w[0], &w[1]);
        put_varint(buf, (s.r#ref as i64).wrapping_sub(prev.r#ref as i64));
        put_varint(buf, s.t.wrapping_sub(first.t));
        buf.push(START_TIME_NONE);
        put_be64(buf, s.v.to_bits());
    }
}

const START_TIME_NONE: u8 = 0;
const START_TIME_SAME: u8 = 1;
const START_TIME_EXPLICIT: u8 = 2;

/// Decodes a samples record (type 2 or 11) into `out`, replacing its
/// contents. `out`'s allocation is reused.
pub fn decode_samples(rec: &[u8], out: &mut Vec<RefSample>) -> Result<(), DecodeError> {
    out.clear();
    // Each sample takes at least 10 bytes.
    out.reserve(rec.len() / 10);
    decode_samples_where(rec, out, |_| true).map(drop)
}

/// Decodes a samples record (type 2 or 11) and appends to `out` the
/// samples `keep` accepts, in record order; returns how many it did not.
///
/// For a reader that drops most samples as it decodes them (WAL replay
/// skips what `chunks_head/` already holds): the samples it drops are never
/// stored, where decoding into a buffer and filtering that wrote and read
/// every one. On an error `out` is as it was: a damaged record adds
/// nothing.
///
/// ```
/// use aion_wal::record::{decode_samples_where, encode_samples, RefSample};
/// let samples = [
///     RefSample { r#ref: 1, t: 1_000, v: 1.0 },
///     RefSample { r#ref: 2, t: 1_000, v: 2.0 },
///     RefSample { r#ref: 1, t: 2_000, v: 3.0 },
/// ];
/// let mut rec = Vec::new();
/// encode_samples(&samples, &mut rec);
/// let mut kept = Vec::new();
/// let dropped = decode_samples_where(&rec, &mut kept, |s| s.r#ref == 1).unwrap();
/// assert_eq!((kept, dropped), (vec![samples[0], samples[2]], 1));
/// ```
pub fn decode_samples_where(
    rec: &[u8],
    out: &mut Vec<RefSample>,
    mut keep: impl FnMut(&RefSample) -> bool,
) -> Result<u64, DecodeError> {
    let before = out.len();
    let (mut b, typ) = Buf::new_typed(
        rec,
        "samples",
        &[RecordType::Samples as u8, RecordType::SamplesV2 as u8],
        "2 or 11 (samples)",
    )?;
    if b.is_empty() {
        return Ok(0);
    }
    let mut total = 0u64;
    let mut sink = |s: RefSample| {
        total += 1;
        if keep(&s) {
            out.push(s);
        }
    };
    let decoded = if typ == RecordType::Samples as u8 {
        decode_v1(&mut b, &mut sink)
    } else {
        decode_v2(&mut b, &mut sink)
    };
    match decoded {
        Ok(()) => Ok(total - (out.len() - before) as u64),
        Err(e) => {
            out.truncate(before);
            Err(e)
        }
    }
}

fn decode_v1(b: &mut Buf<'_>, out: &mut impl FnMut(RefSample)) -> Result<(), DecodeError> {
    let base = DeltaBase::read(b)?;
    b.skip(decode_v1_short(b.rest(), base.base(), out));
    // What the fast loop left (a short last element, long varints,
    // damage), with the checks that name what is wrong.
    while !b.is_empty() {
        let (r#ref, t) = base.read_element(b)?;
        let v = b.be64_f64("value")?;
        out(RefSample { r#ref, t, v });
    }
    Ok(())
}

/// Decodes the leading elements of a v1 record's body whose ref and time
/// deltas take one to three bytes each (a commit's samples: refs within a
/// few hundred thousand of the first one, one scrape time), as long as 14
/// bytes remain; returns
/// the bytes used. No error is possible here: anything else stops the loop
/// for the careful decoder. Replay decodes every sample of the log, and
/// this loop is most of that.
#[inline]
fn decode_v1_short(
    data: &[u8],
    (base_ref, base_t): (i64, i64),
    out: &mut impl FnMut(RefSample),
) -> usize {
    let mut at = 0;
    while let Some(e) = data.get(at..at + 14) {
        let Some((dref, n1)) = varint(e) else {
            break;
        };
        let Some((dt, n2)) = varint(&e[n1..]) else {
            break;
        };
        // Longer deltas would leave the value outside the window.
        if n1 + n2 > 6 {
            break;
        }
        let v = &e[n1 + n2..n1 + n2 + 8];
        out(RefSample {
            r#ref: base_ref.wrapping_add(dref) as u64,
            t: base_t.wrapping_add(dt),
            v: f64::from_bits(u64::from_be_bytes(v.try_into().expect("8 bytes"))),
        });
        at += n1 + n2 + 8;
    }
    at
}

fn decode_v2(b: &mut Buf<'_>, out: &mut impl FnMut(RefSample)) -> Result<(), DecodeError> {
    let mut r#ref = b.varint("first ref")?;
    let first_t = b.varint("first timestamp")?;
    skip_first_start_time(b)?;
    let v = b.be64_f64("value")?;
    out(RefSample {
        r#ref: r#ref as u64,
        t: first_t,
        v,
    });
    while !b.is_empty() {
        r#ref = r#ref.wrapping_add(b.varint("ref delta")?);
        let t = first_t.wrapping_add(b.varint("timestamp delta")?);
        skip_start_time_marker(b)?;
        let v = b.be64_f64("value")?;
        out(RefSample {
            r#ref: r#ref as u64,
            t,
            v,
        });
    }
    Ok(())
}

pub(crate) fn skip_first_start_time(b: &mut Buf<'_>) -> Result<(), DecodeError> {
    b.varint("first start timestamp").map(drop)
}

/// Reads (and drops) the start-timestamp marker of a v2 sample.
pub(crate) fn skip_start_time_marker(b: &mut Buf<'_>) -> Result<(), DecodeError> {
    let at = b.pos();
    match b.byte("start timestamp marker")? {
        START_TIME_NONE | START_TIME_SAME => Ok(()),
        START_TIME_EXPLICIT => b.varint("start timestamp delta").map(drop),
        _ => Err(b.error_at(at, Problem::OutOfRange("start timestamp marker"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(r: u64, t: i64, v: f64) -> RefSample {
        RefSample { r#ref: r, t, v }
    }

    #[test]
    fn v1_known_bytes() {
        let samples = [s(5, 1000, 1.0), s(3, 1500, -2.0)];
        let mut buf = Vec::new();
        encode_samples(&samples, &mut buf);
        let mut want = vec![2];
        want.extend_from_slice(&5u64.to_be_bytes());
        want.extend_from_slice(&1000u64.to_be_bytes());
        want.extend_from_slice(&[0, 0]);
        want.extend_from_slice(&1.0f64.to_bits().to_be_bytes());
        want.extend_from_slice(&[3, 0xe8, 0x07]);
        want.extend_from_slice(&(-2.0f64).to_bits().to_be_bytes());
        assert_eq!(buf, want);
        let mut out = Vec::new();
        decode_samples(&buf, &mut out).unwrap();
        assert_eq!(out, samples);
    }

    #[test]
    fn empty_record_is_the_type_byte() {
        let mut buf = Vec::new();
        encode_samples(&[], &mut buf);
        assert_eq!(buf, [2]);
        let mut out = vec![s(1, 1, 1.0)];
        decode_samples(&buf, &mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn v2_with_start_times() {
        // first: ref 7, t 100, st 90, v 1.0; then ref 9 (delta 2), t 110
        // (delta 10), explicit st 95 (delta 5), v 2.0; then ref 8, t 120,
        // same st, v 3.0.
        let mut buf = vec![11];
        for v in [7i64, 100, 90] {
            put_varint(&mut buf, v);
        }
        put_be64(&mut buf, 1.0f64.to_bits());
        put_varint(&mut buf, 2);
        put_varint(&mut buf, 10);
        buf.push(START_TIME_EXPLICIT);
        put_varint(&mut buf, 5);
        put_be64(&mut buf, 2.0f64.to_bits());
        put_varint(&mut buf, -1);
        put_varint(&mut buf, 20);
        buf.push(START_TIME_SAME);
        put_be64(&mut buf, 3.0f64.to_bits());
        let mut out = Vec::new();
        decode_samples(&buf, &mut out).unwrap();
        assert_eq!(out, [s(7, 100, 1.0), s(9, 110, 2.0), s(8, 120, 3.0)]);

        let mut bad = buf.clone();
        let marker_at = bad.iter().position(|&b| b == START_TIME_EXPLICIT).unwrap();
        bad[marker_at] = 9;
        assert!(decode_samples(&bad, &mut out).is_err());
    }

    #[test]
    fn wrapping_deltas() {
        let samples = [s(u64::MAX, i64::MIN, 0.0), s(0, i64::MAX, 1.0)];
        for enc in [encode_samples, encode_samples_v2] {
            let mut buf = Vec::new();
            enc(&samples, &mut buf);
            let mut out = Vec::new();
            decode_samples(&buf, &mut out).unwrap();
            assert_eq!(out, samples);
        }
    }
}
