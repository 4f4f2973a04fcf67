//! Byte-exact encodings.
//!
//! Prometheus's `histogram_test.go` and `float_histogram_test.go` carry no
//! expected byte slices (they test by round trip), so the two golden
//! chunks here were encoded by hand from the format description
//! (`docs/formats.md#varbit-timestamps`, `#xor-chunk`, `#histogram-chunks`, i.e. Prometheus's `histogram.go`,
//! `float_histogram.go`, `histogram_meta.go`, `varbit.go`), field by field
//! as the comments show. The other tests pin Prometheus's append
//! semantics: which headers new chunks get, and that re-encoding on new
//! buckets gives the bytes of a chunk written with the wide layout from
//! the start.

use aion_model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};

use super::*;
use crate::{SampleIterator, ValueType, STALE_NAN};

fn span(offset: i32, length: u32) -> Span {
    Span { offset, length }
}

/// schema 1, default zero threshold, buckets 0 and 1.
fn h(count: u64, sum: f64, buckets: Vec<i64>) -> Histogram {
    Histogram {
        schema: 1,
        zero_threshold: 2f64.powi(-128),
        zero_count: 1,
        count,
        sum,
        positive_spans: vec![span(0, buckets.len() as u32)],
        positive_buckets: buckets,
        ..Histogram::default()
    }
}

fn appended(app: &mut HistogramAppender, t: i64, h: &Histogram) {
    assert!(matches!(app.append(t, h).unwrap(), AppendOutcome::Appended));
}

/// Two integer histograms: (t=1000, count 5, zero 1, sum 2.0, buckets
/// 1,3) and (t=16000, count 7, zero 1, sum 3.0, buckets 1,5).
///
/// ```text
/// 00 02 00                      2 samples, counter-reset header "unknown"
/// 01110100                      zero threshold 2^-128 = 0.5·2^-127: byte 116
/// 10 001                        schema 1
/// 10 001 | 10 010 0             1 positive span: length 2, offset 0
/// 0                             no negative spans
/// 11110 001111101000            t 1000 (12-bit bucket)
/// 10 101 | 10 001               count 5, zero count 1
/// 0x4000000000000000            sum 2.0
/// 10 001 | 10 010               bucket deltas 1, 2
/// 111110 000011101010011000     t dod 15000 (18-bit bucket)
/// 10 010 | 0                    count dod 2, zero count dod 0
/// 1 1 01100 000001 1            sum 2.0 → 3.0: xor 0x0008…, 12 leading, 1 bit
/// 0 | 10 010                    bucket dods 0, 2
/// 00000                         padding
/// ```
#[test]
fn integer_chunk_golden_bytes() {
    let mut app = HistogramAppender::new();
    appended(&mut app, 1000, &h(5, 2.0, vec![1, 2]));
    appended(&mut app, 16_000, &h(7, 3.0, vec![1, 4]));
    assert_eq!(
        app.bytes(),
        [
            0x00, 0x02, 0x00, 0x74, 0x8c, 0x64, 0x78, 0xfa, 0x2b, 0x14, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x08, 0xcb, 0xe0, 0xea, 0x62, 0x4d, 0x80, 0xd2
        ]
    );
    let mut it = HistogramIterator::new(app.bytes());
    let mut got = Histogram::default();
    assert_eq!(it.next(), ValueType::Histogram);
    assert_eq!(it.at_histogram(&mut got), 1000);
    assert_eq!(got, h(5, 2.0, vec![1, 2]));
    assert_eq!(it.next(), ValueType::Histogram);
    assert_eq!(it.at_histogram(&mut got), 16_000);
    let mut want = h(7, 3.0, vec![1, 4]);
    want.counter_reset_hint = CounterResetHint::NotCounterReset;
    assert_eq!(got, want);
    assert_eq!(it.next(), ValueType::None);
    assert!(it.err().is_none());
}

/// The same two histograms as floats.
///
/// ```text
/// 00 02 00 74 ...               header and layout as above
/// 11110 001111101000            t 1000
/// 5.0, 1.0, 2.0, 1.0, 3.0       count, zero count, sum, buckets: 64 bits each
/// 111110 000011101010011000     t dod 15000
/// 1 1 01100 000001 1            count 5.0 → 7.0
/// 0                             zero count unchanged
/// 1 1 01100 000001 1            sum 2.0 → 3.0
/// 0                             bucket 0 unchanged
/// 1 1 01011 000011 111          bucket 1 3.0 → 5.0: xor 0x001C…, 11 leading, 3 bits
/// ```
#[test]
fn float_chunk_golden_bytes() {
    let mut app = FloatHistogramAppender::new();
    for (t, hist) in [
        (1000, h(5, 2.0, vec![1, 2])),
        (16_000, h(7, 3.0, vec![1, 4])),
    ] {
        assert!(matches!(
            app.append(t, &hist.to_float()).unwrap(),
            AppendOutcome::Appended
        ));
    }
    assert_eq!(
        app.bytes(),
        [
            0x00, 0x02, 0x00, 0x74, 0x8c, 0x64, 0x78, 0xfa, 0x10, 0x05, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x0f, 0xfc, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x0f, 0xfc, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x02,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3e, 0x0e, 0xa6, 0x36, 0x03, 0x6c, 0x06, 0xd6,
            0x1f
        ]
    );
    let mut it = FloatHistogramIterator::new(app.bytes());
    let mut got = FloatHistogram::default();
    assert_eq!(it.seek(2000), ValueType::FloatHistogram);
    assert_eq!(it.at_float_histogram(&mut got), 16_000);
    assert_eq!(got.positive_buckets, [1.0, 5.0]);
    assert_eq!(got.count, 7.0);
}

/// New buckets re-encode the chunk: the result is exactly the chunk one
/// gets by writing the first histogram with the wide layout (its missing
/// bucket as an explicit zero) from the start.
#[test]
fn recoding_equals_writing_wide_from_the_start() {
    let narrow = Histogram {
        positive_spans: vec![span(0, 1), span(2, 1)],
        positive_buckets: vec![2, 1],
        ..h(4, 2.0, vec![])
    };
    let wide = Histogram {
        positive_spans: vec![span(0, 4)],
        positive_buckets: vec![2, 1, -3, 3],
        ..h(7, 3.0, vec![])
    };
    let mut app = HistogramAppender::new();
    appended(&mut app, 0, &narrow);
    assert!(matches!(
        app.append(15_000, &wide).unwrap(),
        AppendOutcome::Recoded
    ));
    let mut direct = HistogramAppender::new();
    let narrow_wide = Histogram {
        positive_spans: wide.positive_spans.clone(),
        positive_buckets: vec![2, -2, 0, 3], // counts 2, 0, 0, 3
        ..narrow.clone()
    };
    appended(&mut direct, 0, &narrow_wide);
    appended(&mut direct, 15_000, &wide);
    assert_eq!(app.bytes(), direct.bytes());

    // A later histogram without the (empty) bucket 2 is padded.
    let mut lacking = wide.clone();
    lacking.count = 11;
    lacking.positive_spans = vec![span(0, 2), span(1, 1)];
    lacking.positive_buckets = vec![2, 1, 2]; // counts 2, 3, 5 at 0, 1, 3
    let mut lacking_wide = lacking.clone();
    lacking_wide.positive_spans = wide.positive_spans.clone();
    lacking_wide.positive_buckets = vec![2, 1, -3, 5];
    let mut a = app.clone();
    appended(&mut a, 30_000, &lacking);
    appended(&mut direct, 30_000, &lacking_wide);
    assert_eq!(a.bytes(), direct.bytes());
}

#[test]
fn cuts_carry_prometheus_headers() {
    use CounterResetHint::*;
    let base = h(5, 2.0, vec![1, 2]);
    let new_header =
        |app: &mut HistogramAppender, hist: &Histogram| match app.append(99, hist).unwrap() {
            AppendOutcome::NewChunk(next) => Some(next.counter_reset_header()),
            _ => None,
        };
    let mut app = HistogramAppender::new();
    appended(&mut app, 0, &base);
    assert_eq!(app.counter_reset_header(), Unknown);
    // Count drop: counter reset.
    assert_eq!(
        new_header(&mut app.clone(), &h(4, 2.0, vec![1, 2])),
        Some(CounterReset)
    );
    // A bucket drop: counter reset (a sum drop alone is not).
    assert_eq!(
        new_header(&mut app.clone(), &h(6, 2.0, vec![1, 1])),
        Some(CounterReset)
    );
    assert_eq!(new_header(&mut app.clone(), &h(5, 1.0, vec![1, 2])), None);
    // Schema change: unknown.
    let mut other = base.clone();
    other.schema = 0;
    assert_eq!(new_header(&mut app.clone(), &other), Some(Unknown));
    // Gauge after counter: a gauge chunk.
    let mut gauge = base.clone();
    gauge.counter_reset_hint = Gauge;
    assert_eq!(new_header(&mut app.clone(), &gauge), Some(Gauge));
    // Explicit hint.
    let mut hinted = base.clone();
    hinted.counter_reset_hint = CounterReset;
    assert_eq!(new_header(&mut app.clone(), &hinted), Some(CounterReset));
    // A stale marker fits; after it only stale markers do.
    let stale = Histogram {
        sum: STALE_NAN,
        ..Histogram::default()
    };
    let mut s = app.clone();
    appended(&mut s, 15_000, &stale);
    appended(&mut s, 30_000, &stale);
    assert_eq!(new_header(&mut s, &base), Some(Unknown));
    // Counter after gauge chunk: Prometheus's integer appender says
    // "not a counter reset" here, its float appender "unknown".
    let mut g = HistogramAppender::new();
    appended(&mut g, 0, &gauge);
    assert_eq!(g.counter_reset_header(), Gauge);
    assert_eq!(new_header(&mut g, &base), Some(NotCounterReset));
    let mut fg = FloatHistogramAppender::new();
    assert!(fg.append(0, &gauge.to_float()).is_ok());
    match fg.append(1, &base.to_float()).unwrap() {
        AppendOutcome::NewChunk(next) => assert_eq!(next.counter_reset_header(), Unknown),
        other => panic!("{other:?}"),
    }
    // A chunk cut for size continuing a counter.
    assert_eq!(
        app.start_after(1, &h(6, 2.0, vec![1, 2]))
            .unwrap()
            .counter_reset_header(),
        NotCounterReset
    );
    assert_eq!(
        app.start_after(1, &h(1, 2.0, vec![1, 2]))
            .unwrap()
            .counter_reset_header(),
        CounterReset
    );
}

#[test]
fn stale_markers_round_trip() {
    let stale = Histogram {
        sum: STALE_NAN,
        count: 10,
        schema: 3,
        ..Histogram::default()
    };
    let mut app = HistogramAppender::new();
    appended(&mut app, 0, &stale);
    appended(&mut app, 1, &stale);
    let mut it = app.iter();
    let mut got = h(1, 1.0, vec![1]);
    while it.next() == ValueType::Histogram {
        it.at_histogram(&mut got);
        assert!(crate::is_stale_nan(got.sum));
        assert_eq!((got.count, got.schema), (0, 0));
        assert!(got.positive_buckets.is_empty());
    }
    assert!(it.err().is_none());
}

#[test]
fn custom_bucket_layout_is_written_and_compared() {
    let nhcb = |count: u64, bounds: Vec<f64>| Histogram {
        schema: aion_model::histogram::CUSTOM_BUCKETS_SCHEMA,
        count,
        sum: 1.0,
        positive_spans: vec![span(0, 3)],
        positive_buckets: vec![1, 0, 0],
        custom_values: bounds,
        ..Histogram::default()
    };
    let mut app = HistogramAppender::new();
    appended(&mut app, 0, &nhcb(3, vec![0.25, 1.5]));
    // Layout: zt 0 (byte 0), schema -53 (varbit 13 bits), 1 span (3, 0),
    // 0 spans, 2 bounds: 251 and 1501 (varbit_uint, 13 and 17 bits).
    assert_eq!(&app.bytes()[3..4], &[0]);
    let mut it = app.iter();
    let mut got = Histogram::default();
    assert_eq!(it.next(), ValueType::Histogram);
    it.at_histogram(&mut got);
    assert_eq!(got.custom_values, [0.25, 1.5]);
    // Other bounds: a counter reset.
    match app.append(1, &nhcb(3, vec![0.25, 2.0])).unwrap() {
        AppendOutcome::NewChunk(next) => {
            assert_eq!(next.counter_reset_header(), CounterResetHint::CounterReset)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_histograms_are_refused() {
    let mut app = HistogramAppender::new();
    let mut bad = h(5, 2.0, vec![1, 2]);
    bad.positive_buckets.push(1);
    assert!(matches!(
        app.append(0, &bad),
        Err(AppendError::BucketCountMismatch { .. })
    ));
    bad.positive_buckets.pop();
    bad.positive_spans = vec![span(0, 1), span(-1, 1)];
    assert!(matches!(
        app.append(0, &bad),
        Err(AppendError::NegativeSpanOffset { .. })
    ));
    assert_eq!(app.num_samples(), 0);
}

/// The size figure the issue asks for: a 20-bucket histogram scraped every
/// 15 s, 120 samples in one chunk, each bucket growing by a pseudo-random
/// 0..4 per scrape. Run with `--nocapture` to see the bytes.
#[test]
fn bytes_per_histogram_for_20_buckets_at_15s() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut counts = [0u64; 20];
    let (mut zero, mut sum) = (0u64, 0.0f64);
    let mut app = HistogramAppender::new();
    let mut fapp = FloatHistogramAppender::new();
    for i in 0..120 {
        for c in &mut counts {
            *c += next() % 5;
        }
        zero += next() % 2;
        sum += (next() % 1000) as f64 * 0.013;
        let mut prev = 0i64;
        let buckets: Vec<i64> = counts
            .iter()
            .map(|&c| {
                let d = c as i64 - prev;
                prev = c as i64;
                d
            })
            .collect();
        let hist = Histogram {
            schema: 3,
            zero_threshold: 2f64.powi(-128),
            zero_count: zero,
            count: zero + counts.iter().sum::<u64>(),
            sum,
            positive_spans: vec![span(-4, 12), span(3, 8)],
            positive_buckets: buckets,
            ..Histogram::default()
        };
        let t = 1_700_000_000_000 + i * 15_000;
        appended(&mut app, t, &hist);
        assert!(matches!(
            fapp.append(t, &hist.to_float()).unwrap(),
            AppendOutcome::Appended
        ));
    }
    let (n, fnb) = (app.bytes().len(), fapp.bytes().len());
    eprintln!(
        "20 buckets, 15 s, 120 samples: histogram chunk {n} bytes ({:.2} bytes/histogram), \
         float histogram chunk {fnb} bytes ({:.2} bytes/histogram)",
        n as f64 / 120.0,
        fnb as f64 / 120.0
    );
    // Bucket dods of 0..4-increments take 5-9 bits each: about 20 bytes
    // per sample, far below the 20·8 bytes of raw counts.
    assert!(n < 120 * 40, "{n}");
    assert!(fnb < 120 * 20 * 8, "{fnb}");
}

/// Schemas above 8 (reserved by Prometheus for finer resolutions) are
/// stored as written and reduced to 8 on read, as Prometheus's readers do.
#[test]
fn finer_schemas_are_reduced_to_8_on_read() {
    let fine = Histogram {
        schema: 10,
        count: 10,
        sum: 1.0,
        positive_spans: vec![span(1, 4)],
        positive_buckets: vec![1, 1, 1, 1], // counts 1, 2, 3, 4 at 1..=4
        ..Histogram::default()
    };
    let mut app = HistogramAppender::new();
    appended(&mut app, 0, &fine);
    // A new bucket forces a re-encoding, which must keep schema 10.
    let mut wider = fine.clone();
    wider.positive_spans = vec![span(1, 5)];
    wider.positive_buckets = vec![1, 1, 1, 1, 1];
    wider.count = 15;
    assert!(matches!(
        app.append(1, &wider).unwrap(),
        AppendOutcome::Recoded
    ));
    let mut it = app.iter();
    let mut got = Histogram::default();
    assert_eq!(it.next(), ValueType::Histogram);
    it.at_histogram(&mut got);
    // Schema 10 → 8 merges 4 buckets: 1..=4 → 1; 5 → 2.
    assert_eq!(got.schema, 8);
    assert_eq!(got.positive_spans, [span(1, 2)]);
    assert_eq!(got.positive_buckets, [10, -10]);
    let mut f = FloatHistogram::default();
    it.at_float_histogram(&mut f);
    assert_eq!(f.positive_buckets, [10.0, 0.0]);
    assert_eq!(it.next(), ValueType::Histogram);
    it.at_histogram(&mut got);
    assert_eq!(got.positive_buckets, [10, -5]);
}
