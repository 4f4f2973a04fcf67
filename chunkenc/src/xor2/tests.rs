//! XOR2 bytes and round trips.
//!
//! The golden chunks are encoded by hand from `docs/formats.md#xor2-chunk` (Prometheus's
//! `xor2_test.go` tests by round trip and carries no byte vectors); the
//! round trips run against this crate's own writer.

use proptest::prelude::*;

use super::*;
use crate::{is_stale_nan, SampleIterator, ValueType, STALE_NAN};

fn decode(bytes: &[u8]) -> Vec<(i64, i64, u64)> {
    let mut it = Xor2Iterator::new(bytes);
    let mut out = Vec::new();
    while it.next() == ValueType::Float {
        let (t, v) = it.at();
        out.push((it.at_st(), t, v.to_bits()));
    }
    assert!(it.err().is_none(), "{:?}", it.err());
    out
}

/// `(1000, 1.0) (2000, 1.0) (3000, 2.0) (4001, 2.0) (5002, stale)`:
///
/// ```text
/// 00 05 00              5 samples, no start timestamps
/// d0 0f                 varint(1000)
/// 3f f0 00 … 00         1.0
/// e8 07                 uvarint(1000)
/// 0                     sample 1: value unchanged
/// 10 1 00001 001011 11111111111
///                       sample 2: dod 0, value changed, new window
/// 110 0000000000001 0   sample 3: dod +1 in 13 bits, value unchanged
/// 11111                 sample 4: dod 0, stale marker
/// ```
#[test]
fn golden_bytes_without_start_timestamps() {
    let samples = [
        (1000, 1.0),
        (2000, 1.0),
        (3000, 2.0),
        (4001, 2.0),
        (5002, STALE_NAN),
    ];
    let mut app = Xor2Appender::new();
    for (t, v) in samples {
        app.append(0, t, v).unwrap();
    }
    assert_eq!(
        app.bytes(),
        [
            0x00, 0x05, 0x00, 0xd0, 0x0f, 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe8,
            0x07, 0x50, 0x97, 0xff, 0xf0, 0x00, 0x5f
        ]
    );
    let got = decode(app.bytes());
    assert_eq!(got.len(), 5);
    assert_eq!(got[2], (0, 3000, 2.0f64.to_bits()));
    assert!(is_stale_nan(f64::from_bits(got[4].2)));
}

/// The same samples with start timestamp 500, then 600 from sample 2 on:
/// header `0x82` (first ST known, first change at sample 2), `varint(500)`
/// after v0, and after the values of samples 2, 3, 4 `varbit_int` of
/// `t_prev - st` (1400) and then of its changes (1000, 1001).
#[test]
fn golden_bytes_with_start_timestamps() {
    let samples = [
        (500, 1000, 1.0),
        (500, 2000, 1.0),
        (600, 3000, 2.0),
        (600, 4001, 2.0),
        (600, 5002, STALE_NAN),
    ];
    let mut app = Xor2Appender::new();
    for (st, t, v) in samples {
        app.append(st, t, v).unwrap();
    }
    assert_eq!(
        app.bytes(),
        [
            0x00, 0x05, 0x82, 0xd0, 0x0f, 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe8,
            0x07, 0xe8, 0x07, 0x50, 0x97, 0xff, 0xfc, 0xaf, 0x18, 0x00, 0x2f, 0x1f, 0x47, 0xfc,
            0x7d, 0x20
        ]
    );
    let got: Vec<(i64, i64)> = decode(app.bytes()).iter().map(|s| (s.0, s.1)).collect();
    assert_eq!(
        got,
        [
            (500, 1000),
            (500, 2000),
            (600, 3000),
            (600, 4001),
            (600, 5002)
        ]
    );
}

#[test]
fn generic_chunk_reads_xor2() {
    let mut app = Xor2Appender::new();
    app.append(0, 5, 1.5).unwrap();
    let chunk = crate::Chunk::from_raw(4, app.bytes()).unwrap();
    assert_eq!(chunk.encoding(), crate::Encoding::Xor2);
    let mut it = chunk.iter();
    assert_eq!(it.next(), ValueType::Float);
    assert_eq!(it.at(), (5, 1.5));
    assert!(Xor2Chunk::from_bytes(&[0u8, 0][..]).is_err());
}

fn samples() -> impl Strategy<Value = Vec<(i64, i64, f64)>> {
    let dt = prop_oneof![
        Just(15_000i64),
        14_990i64..15_010,
        0i64..2_000_000,
        any::<i64>().prop_map(|x| x >> 8),
    ];
    let v = prop_oneof![
        Just(1.0f64),
        (0u32..50).prop_map(f64::from),
        any::<f64>(),
        Just(STALE_NAN),
    ];
    let st = prop_oneof![4 => Just(0i64), 2 => Just(1_000i64), 1 => any::<i64>()];
    prop::collection::vec((st, dt, v), 0..300).prop_map(|raw| {
        let mut t = 1_700_000_000_000i64;
        raw.into_iter()
            .map(|(st, dt, v)| {
                t = t.wrapping_add(dt);
                (st, t, v)
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn round_trip_keeps_every_bit(samples in samples()) {
        let mut app = Xor2Appender::new();
        for &(st, t, v) in &samples {
            app.append(st, t, v).unwrap();
        }
        let got = decode(app.bytes());
        let want: Vec<(i64, i64, u64)> = samples.iter().map(|&(st, t, v)| (st, t, v.to_bits())).collect();
        prop_assert_eq!(got, want);
        crate::fuzz::xor2_chunk(app.bytes());
    }

    #[test]
    fn damaged_chunks_never_panic(
        samples in samples(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let mut app = Xor2Appender::new();
        for &(st, t, v) in &samples {
            app.append(st, t, v).unwrap();
        }
        let mut b = app.bytes().to_vec();
        for (at, x) in &flips {
            let i = at.index(b.len());
            b[i] ^= x;
        }
        b.truncate(cut.index(b.len() + 1));
        crate::fuzz::xor2_chunk(&b);
    }
}
