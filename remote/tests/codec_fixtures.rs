//! The fixtures of Prometheus's `storage/remote/codec_test.go`, as data:
//! `testHistogram`, `testHistogramCustomBuckets`, `writeRequestFixture`
//! (RW 1.0) and `writeV2RequestFixture` (RW 2.0, the same series
//! symbolized, with metadata), and the label cases of
//! `TestValidateLabelsAndMetricName`.
//!
//! Covered: `TestDecodeWriteRequest` and `TestDecodeWriteV2Request` (each
//! fixture encodes and decodes to itself through snappy and protobuf),
//! `TestHistogramFixtureValid` (every fixture histogram converts to the
//! model and back to the same message), `TestWriteV2RequestFixture`
//! (Aion's interner symbolizes the 1.0 fixture into exactly the 2.0
//! fixture's symbol table and refs), `TestValidateLabelsAndMetricName`
//! (as receiver answers: the invalid-UTF-8 cases cannot reach label
//! validation, since the protobuf decoder refuses the whole body, which
//! is a 400 as Prometheus's per-series refusal is), and the fixtures
//! through the receiver: floats stored; with their histograms a 400 from
//! `MemStorage` (which keeps histograms: each fixture has a float and a
//! histogram at one timestamp of one series, a duplicate) and a 500 from
//! `aion_tsdb::Db` (which keeps no native histograms yet).
//!
//! Not covered: the read-side tests of that file (`TestConcreteSeries*`,
//! `TestChunkedSeries*`, `TestStreamResponse`, `TestMergeLabels`,
//! `TestNegotiateResponseType`) test Go types; their behaviour is covered
//! by `aion-remote`'s read tests and the interop tests, not as these
//! fixtures. `TestDecodeOTLPWriteRequestGzipSizeLimit`: Aion has no OTLP.

use aion_model::histogram::{Histogram as ModelH, Span};
use aion_remote::codec;
use aion_remote::convert::{
    from_float_histogram, from_histogram, labels_from_pairs, to_model_histogram, LabelsError,
    ModelHistogram,
};
use aion_remote::proto::v2::{self, metadata::MetricType, Metadata};
use aion_remote::proto::{Exemplar, Label, Sample, TimeSeries, WriteRequest};
use aion_remote::send::Interner;
use aion_remote::write::{Receiver, Status};
use aion_storage::MemStorage;

const LIMIT: usize = 1 << 20;

/// `testHistogram`.
fn test_histogram() -> ModelH {
    ModelH {
        schema: 2,
        zero_threshold: 1e-128,
        zero_count: 0,
        count: 3,
        sum: 20.0,
        positive_spans: vec![Span {
            offset: 0,
            length: 1,
        }],
        positive_buckets: vec![1],
        negative_spans: vec![Span {
            offset: 0,
            length: 1,
        }],
        negative_buckets: vec![2],
        ..ModelH::default()
    }
}

/// `testHistogramCustomBuckets`.
fn test_histogram_custom_buckets() -> ModelH {
    ModelH {
        schema: -53,
        count: 16,
        sum: 20.0,
        positive_spans: vec![Span {
            offset: 1,
            length: 2,
        }],
        positive_buckets: vec![10, -4],
        custom_values: vec![0.1, 1.0],
        ..ModelH::default()
    }
}

fn label(name: &str, value: &str) -> Label {
    Label {
        name: name.into(),
        value: value.into(),
    }
}

fn series_labels() -> Vec<Label> {
    vec![
        label("__name__", "test_metric1"),
        label("b", "c"),
        label("baz", "qux"),
        label("d", "e"),
        label("foo", "bar"),
    ]
}

/// `writeRequestFixture`.
fn write_request_fixture() -> WriteRequest {
    let h = test_histogram();
    let series = |v: f64, ex: (&str, &str), h1: i64, h2: i64| TimeSeries {
        labels: series_labels(),
        samples: vec![Sample {
            value: v,
            timestamp: v as i64,
        }],
        exemplars: vec![Exemplar {
            labels: vec![label(ex.0, ex.1)],
            value: v,
            timestamp: v as i64,
        }],
        histograms: vec![
            from_histogram(h1, &h),
            from_float_histogram(h2, &h.to_float()),
        ],
    };
    WriteRequest {
        timeseries: vec![series(1.0, ("f", "g"), 1, 2), series(2.0, ("h", "i"), 3, 4)],
        metadata: vec![],
    }
}

const V2_SYMBOLS: [&str; 18] = [
    "",
    "__name__",
    "test_metric1",
    "b",
    "c",
    "baz",
    "qux",
    "d",
    "e",
    "foo",
    "bar",
    "f",
    "g",
    "h",
    "i",
    "Test gauge for test purposes",
    "Maybe op/sec who knows (:",
    "Test counter for test purposes",
];

/// `writeV2RequestFixture`.
fn write_v2_request_fixture() -> v2::Request {
    let (h, c) = (test_histogram(), test_histogram_custom_buckets());
    let hists = |ts: [i64; 4], st: [i64; 4]| {
        let mut out = vec![
            from_histogram(ts[0], &h),
            from_float_histogram(ts[1], &h.to_float()),
            from_histogram(ts[2], &c),
            from_float_histogram(ts[3], &c.to_float()),
        ];
        for (p, s) in out.iter_mut().zip(st) {
            p.start_timestamp = s;
        }
        out
    };
    let refs: Vec<u32> = (1..=10).collect();
    v2::Request {
        symbols: V2_SYMBOLS.iter().map(|s| s.to_string()).collect(),
        timeseries: vec![
            v2::TimeSeries {
                labels_refs: refs.clone(),
                metadata: Some(Metadata {
                    r#type: MetricType::Gauge as i32,
                    help_ref: 15,
                    unit_ref: 16,
                }),
                samples: vec![v2::Sample {
                    value: 1.0,
                    timestamp: 10,
                    start_timestamp: 1,
                }],
                exemplars: vec![v2::Exemplar {
                    labels_refs: vec![11, 12],
                    value: 1.0,
                    timestamp: 10,
                }],
                // FromIntHistogram(st, t, h): start timestamps 1, 2, 11, 21.
                histograms: hists([10, 20, 30, 40], [1, 2, 11, 21]),
                ..v2::TimeSeries::default()
            },
            v2::TimeSeries {
                labels_refs: refs,
                metadata: Some(Metadata {
                    r#type: MetricType::Counter as i32,
                    help_ref: 17,
                    unit_ref: 0,
                }),
                samples: vec![v2::Sample {
                    value: 2.0,
                    timestamp: 20,
                    start_timestamp: 0,
                }],
                exemplars: vec![v2::Exemplar {
                    labels_refs: vec![13, 14],
                    value: 2.0,
                    timestamp: 20,
                }],
                histograms: hists([50, 60, 70, 80], [31, 41, 51, 61]),
                ..v2::TimeSeries::default()
            },
        ],
    }
}

#[test]
fn fixtures_decode_to_themselves() {
    let v1 = write_request_fixture();
    let mut scratch = Vec::new();
    let back = codec::decode_write_v1(&codec::encode_write_v1(&v1), LIMIT, &mut scratch).unwrap();
    assert_eq!(back, v1);
    let v2 = write_v2_request_fixture();
    let back = codec::decode_write_v2(&codec::encode_write_v2(&v2), LIMIT, &mut scratch).unwrap();
    assert_eq!(back, v2);
}

#[test]
fn fixture_histograms_are_valid_and_round_trip() {
    let v1 = write_request_fixture();
    let v2 = write_v2_request_fixture();
    let all = v1
        .timeseries
        .iter()
        .flat_map(|ts| &ts.histograms)
        .chain(v2.timeseries.iter().flat_map(|ts| &ts.histograms));
    let mut n = 0;
    for p in all {
        n += 1;
        let again = match to_model_histogram(p).unwrap() {
            ModelHistogram::Int(h) => from_histogram(p.timestamp, &h),
            ModelHistogram::Float(f) => from_float_histogram(p.timestamp, &f),
        };
        let mut want = p.clone();
        want.start_timestamp = 0;
        assert_eq!(again, want);
    }
    assert_eq!(n, 12);
    match to_model_histogram(&v1.timeseries[0].histograms[0]).unwrap() {
        ModelHistogram::Int(h) => assert_eq!(h, test_histogram()),
        ModelHistogram::Float(_) => panic!("an integer histogram"),
    }
}

#[test]
fn the_v2_fixture_is_the_v1_fixture_symbolized() {
    let v1 = write_request_fixture();
    let mut sym = Interner::new();
    let refs = |labels: &[Label], sym: &mut Interner| -> Vec<u32> {
        labels
            .iter()
            .flat_map(|l| [sym.intern(&l.name), sym.intern(&l.value)])
            .collect()
    };
    let series_refs = refs(&v1.timeseries[0].labels, &mut sym);
    let ex1 = refs(&v1.timeseries[0].exemplars[0].labels, &mut sym);
    let ex2 = refs(&v1.timeseries[1].exemplars[0].labels, &mut sym);
    let help1 = sym.intern("Test gauge for test purposes");
    let unit1 = sym.intern("Maybe op/sec who knows (:");
    let help2 = sym.intern("Test counter for test purposes");
    let v2 = write_v2_request_fixture();
    assert_eq!(sym.symbols(), &v2.symbols[..]);
    assert_eq!(series_refs, v2.timeseries[0].labels_refs);
    assert_eq!(ex1, v2.timeseries[0].exemplars[0].labels_refs);
    assert_eq!(ex2, v2.timeseries[1].exemplars[0].labels_refs);
    let m = v2.timeseries[0].metadata.unwrap();
    assert_eq!((m.help_ref, m.unit_ref), (help1, unit1));
    assert_eq!(v2.timeseries[1].metadata.unwrap().help_ref, help2);
}

#[test]
fn fixtures_through_the_receiver() {
    // Without their histograms, the floats of both fixtures are stored.
    let mut v1 = write_request_fixture();
    let mut v2 = write_v2_request_fixture();
    v1.timeseries.iter_mut().for_each(|t| t.histograms.clear());
    v2.timeseries.iter_mut().for_each(|t| t.histograms.clear());
    let (s1, s2) = (MemStorage::new(), MemStorage::new());
    let r1 = Receiver::new(&s1).append_v1(&v1);
    let r2 = Receiver::new(&s2).append_v2(&v2);
    assert_eq!(r1.status, Status::NoContent, "{}", r1.message);
    assert_eq!(r2.status, Status::NoContent, "{}", r2.message);
    assert_eq!((s1.num_samples(), s2.num_samples()), (2, 2));
    assert_eq!(r2.written.samples, 2);

    // With them, into a store that keeps histograms: each fixture puts a
    // float and an integer histogram at the same timestamp of one series
    // (t = 1 in 1.0, t = 10 in 2.0), a duplicate the store refuses at
    // commit: a 400 naming it, and the request rolled back.
    let (v1, v2) = (write_request_fixture(), write_v2_request_fixture());
    let (s1, s2) = (MemStorage::new(), MemStorage::new());
    let r1 = Receiver::new(&s1).append_v1(&v1);
    let r2 = Receiver::new(&s2).append_v2(&v2);
    assert_eq!(r1.status, Status::BadRequest, "{}", r1.message);
    assert!(
        r1.message.contains("duplicate sample for timestamp 1 "),
        "{}",
        r1.message
    );
    assert_eq!(r2.status, Status::BadRequest, "{}", r2.message);
    assert!(
        r2.message.contains("duplicate sample for timestamp 10 "),
        "{}",
        r2.message
    );
    assert_eq!((s1.num_samples(), s2.num_samples()), (0, 0));

    // Into the Db, which checks samples at append against what is
    // committed (as Prometheus's head does): everything is accepted, and
    // at commit, of the float and the histogram at one timestamp, the one
    // applied first stays (floats before histograms within a type-clean
    // segment, as Prometheus commits them): in v1, the histogram at 1 and
    // the float at 2 are dropped; in v2 (ten times the timestamps, more
    // histograms), the same two.
    use aion_storage::ValueType::{Float, FloatHistogram, Histogram};
    let cases = [
        (
            true,
            vec![
                (1, Float),
                (2, FloatHistogram),
                (3, Histogram),
                (4, FloatHistogram),
            ],
        ),
        (
            false,
            vec![
                (10, Float),
                (20, FloatHistogram),
                (30, Histogram),
                (40, FloatHistogram),
                (50, Histogram),
                (60, FloatHistogram),
                (70, Histogram),
                (80, FloatHistogram),
            ],
        ),
    ];
    for (is_v1, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let db = aion_tsdb::Db::open(dir.path(), aion_tsdb::Options::default()).unwrap();
        let r = if is_v1 {
            Receiver::new(&db).append_v1(&v1)
        } else {
            Receiver::new(&db).append_v2(&v2)
        };
        assert_eq!(r.status, Status::NoContent, "{}", r.message);
        let stats = db.head_stats(0);
        assert_eq!(stats.samples_appended, want.len() as u64);
        assert_eq!(stats.samples_dropped_at_commit, 2);
        let q = aion_storage::Queryable::querier(&db, i64::MIN, i64::MAX).unwrap();
        let mut set = q.select(
            true,
            None,
            &[aion_model::Matcher::equal("__name__", "test_metric1")],
        );
        let mut s = set.next().unwrap().unwrap();
        let mut got = Vec::new();
        loop {
            let vt = s.samples.next();
            if vt == aion_storage::ValueType::None {
                break;
            }
            got.push((s.samples.at_t(), vt));
        }
        assert_eq!(got, want);
        assert!(set.next().is_none());
    }
}

#[test]
fn validate_labels_and_metric_name_cases() {
    let ok = |pairs: &[(&str, &str)]| labels_from_pairs(pairs.iter().copied());
    assert!(ok(&[("__name__", "name"), ("labelName", "labelValue")]).is_ok());
    assert!(ok(&[("__name__", "name"), ("_labelName", "labelValue")]).is_ok());
    assert_eq!(
        ok(&[("__name__", "name"), ("", "labelValue")]),
        Err(LabelsError::EmptyName { index: 1 })
    );
    assert_eq!(
        ok(&[("__name__", "name1"), ("__name__", "name2")]),
        Err(LabelsError::Duplicate("__name__".into()))
    );
    // Duplicate values are fine (no __name__ here: refused for that).
    assert_eq!(
        ok(&[("label1", "name"), ("label2", "name")]),
        Err(LabelsError::MissingMetricName)
    );
    assert!(ok(&[("__name__", "m"), ("label1", "name"), ("label2", "name")]).is_ok());
    // An empty name is reported as empty, not as a duplicate.
    assert_eq!(
        ok(&[("", "name"), ("label2", "name")]),
        Err(LabelsError::EmptyName { index: 0 })
    );

    // Invalid UTF-8 in a label name, a label value and the metric name:
    // the decoder refuses the body (400) before labels are looked at.
    for (name, value) in [
        (&b"@labelName\xff"[..], &b"labelValue"[..]),
        (b"labelName", b"\xff"),
        (b"__name__", b"invalid_name\xff"),
    ] {
        let body = raw_write_request(name, value);
        let store = MemStorage::new();
        let r = Receiver::new(&store).receive(None, Some("snappy"), &body);
        assert_eq!(r.status, Status::BadRequest, "{name:?}={value:?}");
        assert_eq!(store.num_samples(), 0);
    }
}

/// A snappy `WriteRequest` of one series `{__name__="name", NAME=VALUE}`
/// with one sample, encoded by hand so the strings can be invalid UTF-8.
fn raw_write_request(name: &[u8], value: &[u8]) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, tag: u8, data: &[u8]) {
        out.push(tag);
        out.push(data.len() as u8);
        out.extend_from_slice(data);
    }
    let mut l1 = Vec::new();
    field(&mut l1, 0x0a, b"__name__");
    field(&mut l1, 0x12, b"name");
    let mut l2 = Vec::new();
    field(&mut l2, 0x0a, name);
    field(&mut l2, 0x12, value);
    // Sample: value (fixed64, field 1) and timestamp (varint, field 2).
    let mut s = vec![0x09];
    s.extend_from_slice(&1f64.to_le_bytes());
    s.extend_from_slice(&[0x10, 0x01]);
    let mut ts = Vec::new();
    if name != b"__name__" {
        field(&mut ts, 0x0a, &l1);
    }
    field(&mut ts, 0x0a, &l2);
    field(&mut ts, 0x12, &s);
    let mut req = Vec::new();
    field(&mut req, 0x0a, &ts);
    aion_remote::snappy::compress(&req)
}
