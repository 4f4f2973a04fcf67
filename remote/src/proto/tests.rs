//! The wire contract: field numbers and types checked against
//! hand-encoded bytes, and round trips of whole requests.

use proptest::prelude::*;
use prost::Message;

use super::*;
use crate::codec;

#[test]
fn v1_field_numbers() {
    let s = Sample {
        value: 1.0,
        timestamp: 2,
    };
    assert_eq!(
        s.encode_to_vec(),
        [0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0x02]
    );
    let m = MetricMetadata {
        r#type: metric_metadata::MetricType::Counter as i32,
        metric_family_name: "a".into(),
        help: "h".into(),
        unit: "u".into(),
    };
    assert_eq!(
        m.encode_to_vec(),
        [0x08, 1, 0x12, 1, b'a', 0x22, 1, b'h', 0x2a, 1, b'u']
    );
    // WriteRequest: timeseries 1, metadata 3 (2 reserved).
    let w = WriteRequest {
        timeseries: vec![TimeSeries::default()],
        metadata: vec![MetricMetadata::default()],
    };
    assert_eq!(w.encode_to_vec(), [0x0a, 0, 0x1a, 0]);
    // TimeSeries: labels 1, samples 2, exemplars 3, histograms 4.
    let ts = TimeSeries {
        labels: vec![Label::default()],
        samples: vec![Sample::default()],
        exemplars: vec![Exemplar::default()],
        histograms: vec![Histogram::default()],
    };
    assert_eq!(ts.encode_to_vec(), [0x0a, 0, 0x12, 0, 0x1a, 0, 0x22, 0]);
}

#[test]
fn histogram_field_numbers() {
    let h = Histogram {
        count: Some(histogram::Count::CountFloat(0.0)),
        schema: -53,
        zero_count: Some(histogram::ZeroCount::ZeroCountInt(3)),
        positive_deltas: vec![-1],
        reset_hint: histogram::ResetHint::Gauge as i32,
        timestamp: 5,
        start_timestamp: 4,
        ..Histogram::default()
    };
    let mut want = vec![0x11, 0, 0, 0, 0, 0, 0, 0, 0]; // count_float = 2 (fixed64)
    want.extend([0x20, 105]); // schema = 4, sint32 zigzag(-53)
    want.extend([0x30, 3]); // zero_count_int = 6
    want.extend([0x62, 1, 1]); // positive_deltas = 12, packed sint64 zigzag(-1)
    want.extend([0x70, 3]); // reset_hint = 14
    want.extend([0x78, 5]); // timestamp = 15
    want.extend([0x88, 0x01, 4]); // start_timestamp = 17
    assert_eq!(h.encode_to_vec(), want);
    let span = BucketSpan {
        offset: -1,
        length: 2,
    };
    assert_eq!(span.encode_to_vec(), [0x08, 1, 0x10, 2]);
}

#[test]
fn read_field_numbers() {
    let r = ReadRequest {
        queries: vec![Query {
            start_timestamp_ms: 1,
            end_timestamp_ms: 2,
            matchers: vec![LabelMatcher {
                r#type: label_matcher::Type::Nre as i32,
                name: "a".into(),
                value: "b".into(),
            }],
            hints: Some(ReadHints {
                range_ms: 3,
                by: true,
                ..ReadHints::default()
            }),
        }],
        accepted_response_types: vec![read_request::ResponseType::StreamedXorChunks as i32],
    };
    let want = [
        0x0a, 20, // queries = 1
        0x08, 1, 0x10, 2, // start 1, end 2
        0x1a, 8, 0x08, 3, 0x12, 1, b'a', 0x1a, 1, b'b', // matchers = 3
        0x22, 4, 0x30, 1, 0x38, 3, // hints = 4: by = 6, range_ms = 7
        0x12, 1, 1, // accepted_response_types = 2, packed
    ];
    assert_eq!(r.encode_to_vec(), want);
    let c = ChunkedReadResponse {
        chunked_series: vec![ChunkedSeries {
            labels: vec![],
            chunks: vec![Chunk {
                min_time_ms: 1,
                max_time_ms: 2,
                r#type: chunk::Encoding::Xor as i32,
                data: bytes::Bytes::from_static(b"\x00\x01"),
            }],
        }],
        query_index: 7,
    };
    assert_eq!(
        c.encode_to_vec(),
        [0x0a, 12, 0x12, 10, 0x08, 1, 0x10, 2, 0x18, 1, 0x22, 2, 0, 1, 0x10, 7]
    );
}

#[test]
fn v2_field_numbers() {
    let req = v2::Request {
        symbols: vec!["".into(), "a".into()],
        timeseries: vec![v2::TimeSeries {
            labels_refs: vec![1, 0],
            samples: vec![v2::Sample {
                value: 0.0,
                timestamp: 1,
                start_timestamp: 2,
            }],
            histograms: vec![Histogram::default()],
            exemplars: vec![v2::Exemplar {
                labels_refs: vec![],
                value: 0.0,
                timestamp: 3,
            }],
            metadata: Some(v2::Metadata {
                r#type: v2::metadata::MetricType::Gauge as i32,
                help_ref: 1,
                unit_ref: 1,
            }),
            created_timestamp: 9,
        }],
    };
    let ts = [
        0x0a, 2, 1, 0, // labels_refs = 1, packed
        0x12, 4, 0x10, 1, 0x18, 2, // samples = 2: timestamp 2, start_timestamp 3
        0x1a, 0, // histograms = 3
        0x22, 2, 0x18, 3, // exemplars = 4: timestamp = 3
        0x2a, 6, 0x08, 2, 0x18, 1, 0x20, 1, // metadata = 5: type 1, help 3, unit 4
        0x30, 9, // created_timestamp = 6
    ];
    let mut want = vec![0x22, 0, 0x22, 1, b'a', 0x2a, ts.len() as u8];
    want.extend(ts);
    assert_eq!(req.encode_to_vec(), want);
}

fn label() -> impl Strategy<Value = Label> {
    ("[a-z_]{1,8}", "\\PC{0,8}").prop_map(|(name, value)| Label { name, value })
}

fn v1_series() -> impl Strategy<Value = TimeSeries> {
    (
        proptest::collection::vec(label(), 0..5),
        proptest::collection::vec((any::<i64>(), -1e300f64..1e300), 0..20),
        proptest::collection::vec(
            (proptest::collection::vec(label(), 0..2), any::<i64>()),
            0..2,
        ),
    )
        .prop_map(|(labels, samples, exemplars)| TimeSeries {
            labels,
            samples: samples
                .into_iter()
                .map(|(timestamp, value)| Sample { value, timestamp })
                .collect(),
            exemplars: exemplars
                .into_iter()
                .map(|(labels, timestamp)| Exemplar {
                    labels,
                    value: 1.5,
                    timestamp,
                })
                .collect(),
            histograms: vec![],
        })
}

proptest! {
    #[test]
    fn write_request_round_trip(ts in proptest::collection::vec(v1_series(), 0..10)) {
        let req = WriteRequest { timeseries: ts, metadata: vec![] };
        let body = codec::encode_write_v1(&req);
        let mut scratch = Vec::new();
        prop_assert_eq!(codec::decode_write_v1(&body, 1 << 24, &mut scratch).unwrap(), req);
    }

    #[test]
    fn v2_request_round_trip(
        symbols in proptest::collection::vec("\\PC{0,6}", 0..10),
        series in proptest::collection::vec(
            (proptest::collection::vec(any::<u32>(), 0..6),
             proptest::collection::vec((any::<i64>(), any::<i64>()), 0..10)), 0..6),
    ) {
        let req = v2::Request {
            symbols,
            timeseries: series.into_iter().map(|(labels_refs, s)| v2::TimeSeries {
                labels_refs,
                samples: s.into_iter().map(|(timestamp, start_timestamp)| v2::Sample {
                    value: timestamp as f64, timestamp, start_timestamp,
                }).collect(),
                ..v2::TimeSeries::default()
            }).collect(),
        };
        let body = codec::encode_write_v2(&req);
        let mut scratch = Vec::new();
        prop_assert_eq!(codec::decode_write_v2(&body, 1 << 24, &mut scratch).unwrap(), req);
    }

    #[test]
    fn decoders_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut scratch = Vec::new();
        let _ = codec::decode_write_v1(&data, 1 << 16, &mut scratch);
        let _ = codec::decode_write_v2(&data, 1 << 16, &mut scratch);
        let _ = codec::decode_read_request(&data, 1 << 16, &mut scratch);
        // Raw protobuf (valid snappy around arbitrary bytes).
        let body = crate::snappy::compress(&data);
        let _ = codec::decode_write_v1(&body, 1 << 16, &mut scratch);
        let _ = codec::decode_write_v2(&body, 1 << 16, &mut scratch);
        let _ = codec::decode_read_request(&body, 1 << 16, &mut scratch);
    }
}
