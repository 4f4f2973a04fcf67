//! Hand-checked encodings.
//!
//! Each expected byte string was derived by hand, field by field (the
//! comments give every field), then packed MSB-first into bytes. Sequences
//! A, B, C and the one-sample chunk are also written into the OpenMetrics
//! file of `tests/prometheus_bytes.rs`, which asserts that promtool 2.42
//! produces these same bytes.

use super::*;
use crate::{is_stale_nan, ChunkFull, STALE_NAN};

fn encode(samples: &[(i64, f64)]) -> XorAppender {
    let mut app = XorAppender::new();
    for &(t, v) in samples {
        app.append(t, v).unwrap();
    }
    app
}

fn decode(bytes: &[u8]) -> Vec<(i64, u64)> {
    let mut it = XorIterator::new(bytes);
    let mut out = Vec::new();
    while it.next() == ValueType::Float {
        let (t, v) = it.at();
        out.push((t, v.to_bits()));
    }
    assert!(it.err().is_none(), "{:?}", it.err());
    out
}

fn assert_golden(samples: &[(i64, f64)], expected: &[u8]) {
    let app = encode(samples);
    assert_eq!(app.bytes(), expected, "encoding differs");
    let want: Vec<_> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
    assert_eq!(decode(expected), want, "decoding differs");
}

/// Timestamps of sequence A: t0 = 1000, t1 − t0 = 100000, then dods
/// +8192, −8191, −8192, +65536, −65535, 0.
const DOD_14_17_TIMESTAMPS: [i64; 8] = [
    1_000, 101_000, 209_192, 309_193, 401_002, 558_347, 650_157, 741_967,
];

/// Timestamps of sequence B: t0 = 1000, t1 − t0 = 600000, then dods
/// −65536, +524288, −524287, +524289, −524288, 0.
const DOD_20_64_TIMESTAMPS: [i64; 8] = [
    1_000, 601_000, 1_135_464, 2_194_216, 2_728_681, 3_787_435, 4_321_901, 4_856_367,
];

/// Values of sequence C (timestamps k·1000).
fn value_window_values() -> [f64; 10] {
    [
        1.0,
        f64::from_bits(0x3ff0_0000_0000_0001),
        f64::from_bits(0x3ff0_0000_0000_0002),
        1.5,
        -1.5,
        f64::from_bits(0x3ff8_0000_0000_0001),
        f64::from_bits(0x3ff8_0000_0000_0001),
        -0.0,
        f64::INFINITY,
        f64::from_bits(0x7ff8_0000_0000_0001), // Go's math.NaN()
    ]
}

#[test]
fn notes_worked_example() {
    // The worked example of docs/formats.md#xor-chunk, whose bytes match
    // chunks Prometheus wrote.
    assert_golden(
        &[
            (1000, 1.0),
            (2000, 1.0),
            (3000, 2.0),
            (4001, 2.0),
            (5002, 2.5),
        ],
        &[
            0x00, 0x05, 0xd0, 0x0f, 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe8, 0x07,
            0x30, 0x97, 0xff, 0xe0, 0x00, 0x4d, 0xa0, 0xc0,
        ],
    );
}

#[test]
fn dod_on_14_and_17_bit_edges() {
    // 00 08                      8 samples
    // d0 0f                      varint(1000): zig-zag 2000 = 0x50|0x80, 0x0f
    // 00 ×8                      v0 = 0.0
    // a0 8d 06                   uvarint(100000): 0x20|0x80, 0x0d|0x80, 0x06
    // bits:
    //   0                                  s1 value unchanged
    //   10 10000000000000        0         s2 dod +8192 = 2^13, 14-bit maximum
    //   10 10000000000001        0         s3 dod −8191 = 2^14 − 8191 = 8193, 14-bit minimum
    //   110 11110000000000000    0         s4 dod −8192: 17 bits, 2^17 − 8192 = 0x1e000
    //   110 10000000000000000    0         s5 dod +65536 = 2^16, 17-bit maximum
    //   110 10000000000000001    0         s6 dod −65535: 2^17 − 65535 = 65537, 17-bit minimum
    //   0 0                                s7 dod 0, value unchanged
    //   0000                               padding (100 bits used)
    let samples: Vec<_> = DOD_14_17_TIMESTAMPS.iter().map(|&t| (t, 0.0)).collect();
    assert_golden(
        &samples,
        &[
            0x00, 0x08, 0xd0, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x8d,
            0x06, 0x50, 0x00, 0x28, 0x00, 0x5b, 0xc0, 0x00, 0xd0, 0x00, 0x06, 0x80, 0x00, 0x80,
        ],
    );
}

#[test]
fn dod_on_20_and_64_bit_edges() {
    // 00 08, d0 0f, 00 ×8        as above
    // c0 cf 24                   uvarint(600000): 0x40|0x80, 0x4f|0x80, 0x24
    // bits:
    //   0                                  s1 value unchanged
    //   1110 11110000000000000000  0       s2 dod −65536: 20 bits, 2^20 − 65536 = 0xf0000
    //   1110 10000000000000000000  0       s3 dod +524288 = 2^19, 20-bit maximum
    //   1110 10000000000000000001  0       s4 dod −524287: 2^20 − 524287 = 524289, 20-bit minimum
    //   1111 0x0000000000080001    0       s5 dod +524289: whole int64
    //   1111 0xfffffffffff80000    0       s6 dod −524288: whole int64
    //   0 0                                s7
    //   00000000                           padding (216 bits used)
    let samples: Vec<_> = DOD_20_64_TIMESTAMPS.iter().map(|&t| (t, 0.0)).collect();
    assert_golden(
        &samples,
        &[
            0x00, 0x08, 0xd0, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xcf,
            0x24, 0x77, 0x80, 0x00, 0x3a, 0x00, 0x00, 0x1d, 0x00, 0x00, 0x2f, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x08, 0x00, 0x01, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0, 0x00, 0x00,
        ],
    );
}

#[test]
fn value_windows_clamp_and_64_significant_bits() {
    // 00 0a, 00 (varint 0), 3f f0 00.. (1.0), e8 07 (uvarint 1000); dods all 0.
    // s1 1.0 → 0x3ff0000000000001: delta 1, clz 63 clamped to 31, ctz 0:
    //    11 11111 100001 + 33 bits (0…01)               new window 31/0
    // s2 → 0x…02: delta 3, clz 62 → 31 ≥ 31, ctz 0 ≥ 0:
    //    0 10 + 33 bits (0…011)                         reuse
    // s3 → 1.5 = 0x3ff8000000000000: delta 0x0008000000000002, clz 12 < 31:
    //    0 11 01100 110011 + 51 bits (1 0×49 1)          new window 12/1
    // s4 → −1.5: delta 0x8000000000000000, clz 0 < 12:
    //    0 11 00000 000001 1                             new window 0/63
    // s5 → 0x3ff8000000000001: delta 0x8000000000000001, ctz 0 < 63:
    //    0 11 00000 000000 + 64 bits                     new window 0/0, 64 written as 0
    // s6 same value: 0 0
    // s7 → −0.0: delta 0xbff8000000000001: 0 10 + 64 bits   reuse 0/0
    // s8 → +Inf: delta 0xfff0000000000000: 0 10 + 64 bits   reuse 0/0
    // s9 → NaN 0x7ff8000000000001: delta 0x0008000000000001: 0 10 + 64 bits
    // 443 bits, 5 bits of padding.
    let samples: Vec<_> = value_window_values()
        .into_iter()
        .enumerate()
        .map(|(k, v)| (k as i64 * 1000, v))
        .collect();
    assert_golden(
        &samples,
        &[
            0x00, 0x0a, 0x00, 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe8, 0x07, 0xff,
            0x08, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0xdb, 0x33, 0x80, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x2c, 0x00, 0xd8, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x01, 0x15, 0xff, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0xff, 0xf0, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20,
        ],
    );
}

#[test]
fn single_sample() {
    // Prometheus 2.x appends one more zero byte here (see
    // tests/prometheus_bytes.rs); 3.x writes exactly this.
    assert_golden(
        &[(1000, 1.0)],
        &[
            0x00, 0x01, 0xd0, 0x0f, 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ],
    );
}

#[test]
fn empty_chunk() {
    let app = XorAppender::new();
    assert_eq!(app.bytes(), [0, 0]);
    assert_eq!(app.last(), None);
    assert_eq!(decode(app.bytes()), []);
    assert_eq!(XorChunk::new().bytes(), [0, 0]);
}

#[test]
fn extreme_timestamps_wrap_like_go() {
    // t0 = i64::MIN: zig-zag u64::MAX = ff×9 01.
    // t1 = i64::MAX: t1 − t0 wraps to u64::MAX: ff×9 01.
    // t2 = i64::MIN: delta wraps to 1, dod = 1 − u64::MAX wraps to 2:
    //    bits 0 (s1) | 10 00000000000010 0 (s2) → 0x40 0x01 0x00
    let samples = [(i64::MIN, 0.0), (i64::MAX, 0.0), (i64::MIN, 0.0)];
    let mut expected = vec![0x00, 0x03];
    expected.extend([0xff; 9]);
    expected.push(0x01);
    expected.extend([0x00; 8]);
    expected.extend([0xff; 9]);
    expected.push(0x01);
    expected.extend([0x40, 0x01, 0x00]);
    assert_golden(&samples, &expected);
}

#[test]
fn resumed_appender_reproduces_prometheus_window_quirk() {
    let head = [(1000, 1.0), (2000, 1.0)];
    // Uninterrupted: s2's value opens a new window (leading was unset):
    //    0 (s1) | 0 11 00001 001011 11111111111 (s2)
    let uninterrupted = encode(&[(1000, 1.0), (2000, 1.0), (3000, 2.0)]);
    assert_eq!(
        uninterrupted.bytes(),
        [
            0x00, 0x03, 0xd0, 0x0f, 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe8, 0x07,
            0x30, 0x97, 0xff, 0xc0,
        ]
    );
    // Resumed after two equal values: the decoder's window is 0/0, so s2
    // reuses it with all 64 bits: 0 (s1) | 0 10 0x7ff0000000000000 (s2).
    let mut resumed = XorAppender::resume(encode(&head).bytes().to_vec()).unwrap();
    resumed.append(3000, 2.0).unwrap();
    assert_eq!(
        resumed.bytes(),
        [
            0x00, 0x03, 0xd0, 0x0f, 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe8, 0x07,
            0x27, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ]
    );
    assert_eq!(decode(resumed.bytes()), decode(uninterrupted.bytes()));
}

#[test]
fn resuming_after_a_value_change_is_seamless() {
    let all = [
        (1000, 1.0),
        (2000, 2.0),
        (3005, 2.5),
        (4000, 3.5),
        (5000, 3.5),
    ];
    let whole = encode(&all);
    for split in 2..all.len() {
        let mut app = encode(&all[..split]).into_chunk().into_appender().unwrap();
        for &(t, v) in &all[split..] {
            app.append(t, v).unwrap();
        }
        assert_eq!(app.bytes(), whole.bytes(), "split at {split}");
    }
}

#[test]
fn resume_drops_garbage_padding_and_trailing_bytes() {
    let mut bytes = encode(&[(1000, 1.0), (2000, 2.0), (3000, 2.0)])
        .bytes()
        .to_vec();
    let bits = encode(&[(1000, 1.0), (2000, 2.0), (3000, 2.0)]).bit_len();
    assert_ne!(bits % 8, 0, "test needs padding bits");
    *bytes.last_mut().unwrap() |= 0xff >> (bits % 8);
    bytes.extend([0xaa, 0x55]);
    let mut resumed = XorAppender::resume(bytes).unwrap();
    assert_eq!(resumed.bit_len(), bits);
    resumed.append(4000, 7.0).unwrap();
    let expected = encode(&[(1000, 1.0), (2000, 2.0), (3000, 2.0), (4000, 7.0)]);
    assert_eq!(resumed.bytes(), expected.bytes());
}

#[test]
fn resume_of_an_empty_chunk_starts_fresh() {
    let mut app = XorAppender::resume(vec![0, 0, 0xff, 0xff]).unwrap();
    assert_eq!(app.bytes(), [0, 0]);
    app.append(1000, 1.0).unwrap();
    app.append(2000, 2.0).unwrap();
    assert_eq!(app.bytes(), encode(&[(1000, 1.0), (2000, 2.0)]).bytes());
}

#[test]
fn resume_refuses_corrupt_chunks() {
    assert_eq!(
        XorAppender::resume(vec![0]).unwrap_err(),
        Error::MissingHeader { len: 1 }
    );
    let err = XorAppender::resume(vec![0, 2, 0xd0, 0x0f]).unwrap_err();
    assert!(matches!(err, Error::Truncated { sample: 0, .. }), "{err}");
}

#[test]
fn stale_marker_survives() {
    let app = encode(&[
        (0, 1.0),
        (15_000, STALE_NAN),
        (30_000, 2.0),
        (45_000, STALE_NAN),
    ]);
    let samples = app.chunk().samples().unwrap();
    assert!(is_stale_nan(samples[1].1));
    assert!(is_stale_nan(samples[3].1));
    assert_eq!(samples[2], (30_000, 2.0));
}

#[test]
fn full_chunk_refuses_more() {
    let mut app = XorAppender::with_capacity(0);
    for i in 0..MAX_SAMPLES as i64 {
        app.append(i, (i % 3) as f64).unwrap();
    }
    assert!(app.is_full());
    let before = app.bytes().to_vec();
    assert_eq!(app.append(1 << 40, 1.0), Err(ChunkFull));
    assert_eq!(app.bytes(), before);
    let samples = app.chunk().samples().unwrap();
    assert_eq!(samples.len(), MAX_SAMPLES);
    assert_eq!(samples[MAX_SAMPLES - 1], (MAX_SAMPLES as i64 - 1, 2.0));
    let mut resumed = app.into_chunk().into_appender().unwrap();
    assert_eq!(resumed.append(1 << 40, 1.0), Err(ChunkFull));
}

#[test]
fn seek_follows_the_cursor_contract() {
    let app = encode(&[(10, 1.0), (20, 2.0), (30, 3.0)]);
    let mut it = app.iter();
    // Unpositioned: seek moves to the first sample at or after t.
    assert_eq!(it.seek(i64::MIN), ValueType::Float);
    assert_eq!(it.at(), (10, 1.0));
    // Already there: no movement, never backwards.
    assert_eq!(it.seek(5), ValueType::Float);
    assert_eq!(it.at(), (10, 1.0));
    assert_eq!(it.seek(11), ValueType::Float);
    assert_eq!(it.at(), (20, 2.0));
    assert_eq!(it.next(), ValueType::Float);
    assert_eq!(it.at_t(), 30);
    assert_eq!(it.seek(31), ValueType::None);
    // Once exhausted, always exhausted, even for an earlier t.
    assert_eq!(it.seek(0), ValueType::None);
    assert_eq!(it.next(), ValueType::None);
    assert!(it.err().is_none());

    let mut it = app.iter();
    assert_eq!(it.seek(25), ValueType::Float);
    assert_eq!(it.at(), (30, 3.0));
}

#[test]
fn errors_name_the_place() {
    // Header promises 3 samples; the data holds 2 and a bit.
    let two = encode(&[(1000, 1.0), (2000, 2.0)]);
    let mut bytes = two.bytes().to_vec();
    bytes[1] = 3;
    let mut it = XorIterator::new(&bytes);
    assert_eq!(it.next(), ValueType::Float);
    // The decoder has run into the damage already (it reads ahead), but
    // the samples before it come first and the error only after them.
    assert!(it.err().is_none());
    assert_eq!(it.next(), ValueType::Float);
    assert!(it.err().is_none());
    assert_eq!(it.next(), ValueType::None);
    let err = it.error().unwrap().clone();
    assert_eq!(
        err,
        Error::Truncated {
            sample: 2,
            num_samples: 3,
            bit_offset: two.bit_len(),
            len: bytes.len(),
        }
    );
    assert_eq!(it.at(), (2000, 2.0), "the last good sample stays readable");
    assert_eq!(
        err.to_string(),
        format!(
            "XOR chunk truncated: sample 2 of 3 starts at byte {} bit {} and runs past the end of the {}-byte chunk",
            two.bit_len() / 8,
            two.bit_len() % 8,
            bytes.len()
        )
    );

    // An 11-byte varint.
    let mut bytes = vec![0, 1];
    bytes.extend([0x80; 10]);
    bytes.push(0);
    let mut it = XorIterator::new(&bytes);
    assert_eq!(it.next(), ValueType::None);
    assert_eq!(
        it.error(),
        Some(&Error::VarintOverflow {
            sample: 0,
            byte_offset: 2
        })
    );
    // A 10th varint byte above 1 overflows too (Go's rule).
    let mut bytes = vec![0, 1];
    bytes.extend([0xff; 9]);
    bytes.push(2);
    bytes.extend([0; 8]);
    let mut it = XorIterator::new(&bytes);
    assert_eq!(it.next(), ValueType::None);
    assert!(matches!(it.error(), Some(Error::VarintOverflow { .. })));

    // A value window of 31 leading zeros and 40 significant bits.
    let mut bytes = encode(&[(0, 0.0)]).bytes().to_vec();
    bytes[1] = 2;
    bytes.extend([0x08]); // uvarint(8)
    bytes.extend([0b1111_1111, 0b0100_0000, 0, 0, 0, 0, 0, 0]);
    let mut it = XorIterator::new(&bytes);
    assert_eq!(it.next(), ValueType::Float);
    assert_eq!(it.next(), ValueType::None);
    let err = it.error().unwrap();
    assert_eq!(
        *err,
        Error::BadValueWindow {
            sample: 1,
            bit_offset: 88,
            leading: 31,
            significant: 40
        }
    );
    assert!(err.to_string().contains("byte 11 bit 0"), "{err}");

    // Too short for the header.
    let mut it = XorIterator::new(&[7]);
    assert_eq!(it.next(), ValueType::None);
    assert_eq!(it.error(), Some(&Error::MissingHeader { len: 1 }));
    assert!(XorChunk::from_bytes(&[7u8][..]).is_err());
}

#[test]
fn iterator_size_is_bounded() {
    // Documented on XorIterator: iterators are created per chunk read, so
    // their size is part of the cost of a query.
    let size = std::mem::size_of::<XorIterator<'static>>();
    assert!(size <= 360, "XorIterator grew to {size} bytes");
    eprintln!("XorIterator: {size} bytes");
}

#[test]
fn runs_of_repeats_decode_like_single_samples() {
    // Long runs of `0 0` samples cross batch boundaries and buffer refills.
    let mut samples: Vec<(i64, f64)> = (0..300).map(|k| (k * 15_000, 1.0)).collect();
    samples[150].1 = 2.0; // a change in the middle breaks the run
    samples[151].1 = 2.0;
    let app = encode(&samples);
    let want: Vec<_> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
    assert_eq!(decode(app.bytes()), want);
    let mut it = app.iter();
    assert_eq!(it.seek(2_000_000), ValueType::Float);
    assert_eq!(it.at(), (2_010_000, 1.0));
    assert_eq!(it.seek(2_240_001), ValueType::Float);
    assert_eq!(it.at(), (2_250_000, 2.0));

    // A header promising more samples than the data holds: the padding
    // bits after the last sample read as further repeats (as in
    // Prometheus's reader), then decoding runs out of bits.
    let mut bytes = app.bytes().to_vec();
    let padding = bytes.len() as u64 * 8 - app.bit_len();
    // 300 samples are 0x012c; claim 0x01ff.
    bytes[0] = 0x01;
    bytes[1] = 0xff;
    let mut it = XorIterator::new(&bytes);
    let mut n = 0;
    while it.next() == ValueType::Float {
        n += 1;
    }
    let expected = 300 + padding / 2;
    assert_eq!(n, expected);
    assert!(
        matches!(it.error(), Some(Error::Truncated { sample, num_samples: 0x1ff, .. }) if u64::from(*sample) == expected),
        "{:?}",
        it.error()
    );
}
