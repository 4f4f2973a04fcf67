//! Receiver cases: the spec's answers, partial writes, both protocols,
//! into MemStorage and into a real Db.

use aion_model::histogram::{Histogram, Span};
use aion_model::{Labels, Matcher};
use aion_storage::{MemStorage, Queryable, ValueType};
use prost::Message;

use super::*;
use crate::codec::{encode_write_v1, encode_write_v2};
use crate::content_type::CONTENT_TYPE_V2;
use crate::proto::{v2, Label, Sample, TimeSeries, WriteRequest};
use crate::send::{RequestBuilder, WriteRequestBuilder};
use crate::snappy;

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs).unwrap()
}

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| Sample { value, timestamp })
            .collect(),
        ..TimeSeries::default()
    }
}

fn dump(q: &dyn Queryable) -> Vec<(String, Vec<(i64, f64)>)> {
    let querier = q.querier(i64::MIN, i64::MAX).unwrap();
    let m = [Matcher::new(aion_model::MatchType::Regex, "__name__", ".+").unwrap()];
    let mut set = querier.select(true, None, &m);
    let mut out = Vec::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        let mut pts = Vec::new();
        while s.samples.next() == ValueType::Float {
            pts.push(s.samples.at());
        }
        out.push((s.labels.to_string(), pts));
    }
    out
}

fn v1(store: &MemStorage, req: &WriteRequest) -> WriteResponse {
    Receiver::new(store).receive(
        Some("application/x-protobuf"),
        Some("snappy"),
        &encode_write_v1(req),
    )
}

fn v2_send(store: &MemStorage, req: &v2::Request) -> WriteResponse {
    Receiver::new(store).receive(Some(CONTENT_TYPE_V2), Some("snappy"), &encode_write_v2(req))
}

#[test]
fn rw1_appends_and_answers_204() {
    let store = MemStorage::new();
    let mut b = WriteRequestBuilder::new();
    b.add_samples(
        &ls(&[("__name__", "a"), ("job", "x")]),
        &[(1, 1.0), (2, 2.0)],
    );
    b.add_samples(&ls(&[("__name__", "b")]), &[(5, 5.0)]);
    let r = Receiver::new(&store).receive(None, None, &b.encode());
    assert_eq!(r.status, Status::NoContent, "{}", r.message);
    assert_eq!(r.status.code(), 204);
    assert!(
        r.headers().is_empty(),
        "RW1 answers carry no written counts"
    );
    assert_eq!(
        dump(&store),
        [
            (
                r#"{__name__="a", job="x"}"#.to_string(),
                vec![(1, 1.0), (2, 2.0)]
            ),
            (r#"{__name__="b"}"#.to_string(), vec![(5, 5.0)]),
        ]
    );
}

#[test]
fn rw1_invalid_labels_are_a_partial_write_answered_400() {
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[("__name__", "m"), ("a", "1"), ("a", "2")],
            "duplicate label name",
        ),
        (&[("", "x"), ("__name__", "m")], "empty name"),
        (&[("job", "x")], "no __name__"),
    ];
    for (bad, why) in cases {
        let store = MemStorage::new();
        let req = WriteRequest {
            timeseries: vec![
                series(&[("__name__", "good1")], &[(1, 1.0)]),
                series(bad, &[(1, 1.0)]),
                series(&[("__name__", "good2")], &[(1, 2.0)]),
            ],
            metadata: vec![],
        };
        let r = v1(&store, &req);
        assert_eq!(r.status, Status::BadRequest, "{bad:?}");
        assert!(r.message.starts_with("timeseries[1]"), "{}", r.message);
        assert!(r.message.contains(why), "{} lacks {why}", r.message);
        // The good series around the bad one are stored.
        let names: Vec<String> = dump(&store).into_iter().map(|(l, _)| l).collect();
        assert_eq!(names, [r#"{__name__="good1"}"#, r#"{__name__="good2"}"#]);
        assert_eq!(r.written.samples, 2);
    }
}

#[test]
fn unsorted_labels_are_sorted_as_prometheus_does() {
    let store = MemStorage::new();
    let req = WriteRequest {
        timeseries: vec![series(
            &[("job", "x"), ("__name__", "m"), ("a", "1")],
            &[(1, 1.0)],
        )],
        metadata: vec![],
    };
    assert_eq!(v1(&store, &req).status, Status::NoContent);
    let syms = ["", "__name__", "m", "job", "x"];
    let req = v2_req(&syms, vec![(vec![3, 4, 1, 2], vec![(2, 2.0)])]);
    let r = v2_send(&store, &req);
    assert_eq!(r.status, Status::NoContent, "{}", r.message);
    assert_eq!(
        dump(&store),
        [
            (
                r#"{__name__="m", a="1", job="x"}"#.to_string(),
                vec![(1, 1.0)]
            ),
            (r#"{__name__="m", job="x"}"#.to_string(), vec![(2, 2.0)]),
        ]
    );
}

#[test]
fn bad_bodies_are_400_and_unknown_types_415() {
    let store = MemStorage::new();
    let rx = Receiver::new(&store);
    // Not snappy.
    let r = rx.receive(None, Some("snappy"), b"\xff\xff\xff\xff\xff\xff");
    assert_eq!(r.status, Status::BadRequest);
    assert!(r.message.contains("snappy"), "{}", r.message);
    // Snappy, but not protobuf (a truncated length-delimited field).
    let r = rx.receive(None, None, &snappy::compress(&[0x0a, 0x05, 0x01]));
    assert_eq!(r.status, Status::BadRequest);
    assert!(
        r.message.contains("prometheus.WriteRequest"),
        "{}",
        r.message
    );
    // Oversized.
    let big = snappy::compress(&vec![0u8; 4096]);
    let r = Receiver::new(&store)
        .with_max_decoded_bytes(1024)
        .receive(None, None, &big);
    assert_eq!(r.status, Status::BadRequest);
    assert!(
        r.message.contains("over the limit of 1024"),
        "{}",
        r.message
    );
    // Unsupported.
    for (ct, enc) in [
        (Some("application/json"), None),
        (Some("application/x-protobuf;proto=foo.Bar"), None),
        (None, Some("gzip")),
    ] {
        let r = rx.receive(ct, enc, &big);
        assert_eq!(r.status, Status::UnsupportedMediaType, "{ct:?} {enc:?}");
        assert_eq!(r.status.code(), 415);
    }
    assert_eq!(store.num_samples(), 0);
}

#[test]
fn rw2_appends_and_reports_written_counts() {
    let store = MemStorage::new();
    let mut b = RequestBuilder::new();
    b.add_samples(
        &ls(&[("__name__", "a"), ("job", "x")]),
        &[(1, 1.0, 0), (2, 2.0, 1)],
        None,
    );
    b.add_samples(&ls(&[("__name__", "b")]), &[(3, 3.0, 0)], None);
    let r = v2_send(&store, &b.finish());
    assert_eq!(r.status, Status::NoContent, "{}", r.message);
    assert_eq!(
        r.headers(),
        [
            ("X-Prometheus-Remote-Write-Samples-Written", "3".to_string()),
            (
                "X-Prometheus-Remote-Write-Histograms-Written",
                "0".to_string()
            ),
            (
                "X-Prometheus-Remote-Write-Exemplars-Written",
                "0".to_string()
            ),
        ]
    );
    assert_eq!(store.num_samples(), 3);
}

/// Label refs and `(t, v)` samples of one RW2 series.
type RawSeries = (Vec<u32>, Vec<(i64, f64)>);

fn v2_req(symbols: &[&str], series: Vec<RawSeries>) -> v2::Request {
    v2::Request {
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        timeseries: series
            .into_iter()
            .map(|(labels_refs, samples)| v2::TimeSeries {
                labels_refs,
                samples: samples
                    .into_iter()
                    .map(|(timestamp, value)| v2::Sample {
                        value,
                        timestamp,
                        start_timestamp: 0,
                    })
                    .collect(),
                ..v2::TimeSeries::default()
            })
            .collect(),
    }
}

#[test]
fn rw2_symbol_table_cases() {
    // symbols[0] must be "": nothing is appended.
    let store = MemStorage::new();
    let r = v2_send(
        &store,
        &v2_req(&["__name__", "m"], vec![(vec![0, 1], vec![(1, 1.0)])]),
    );
    assert_eq!(r.status, Status::BadRequest);
    assert!(r.message.contains("symbols[0]"), "{}", r.message);
    let r = v2_send(&store, &v2_req(&[], vec![(vec![0, 0], vec![(1, 1.0)])]));
    assert_eq!(r.status, Status::BadRequest);
    assert_eq!(store.num_samples(), 0);
    // An empty request is fine.
    assert_eq!(
        v2_send(&store, &v2::Request::default()).status,
        Status::NoContent
    );

    // Out-of-range and odd refs refuse that series only.
    let syms = ["", "__name__", "m", "job", "x"];
    for (refs, why) in [
        (
            vec![1, 2, 3, 9],
            "ref 9 at position 3 is out of range (5 symbols)",
        ),
        (vec![1, 2, 3], "odd number"),
        (vec![3, 4], "no __name__"),
    ] {
        let store = MemStorage::new();
        let req = v2_req(
            &syms,
            vec![(refs, vec![(1, 1.0)]), (vec![1, 2, 3, 4], vec![(1, 7.0)])],
        );
        let r = v2_send(&store, &req);
        assert_eq!(r.status, Status::BadRequest);
        assert!(r.message.starts_with("timeseries[0]"), "{}", r.message);
        assert!(r.message.contains(why), "{} lacks {why}", r.message);
        assert_eq!(r.written.samples, 1);
        assert_eq!(
            dump(&store),
            [(r#"{__name__="m", job="x"}"#.to_string(), vec![(1, 7.0)])]
        );
    }

    // Metadata and exemplar refs are checked too.
    let mut req = v2_req(&syms, vec![(vec![1, 2], vec![(1, 1.0)])]);
    req.timeseries[0].metadata = Some(v2::Metadata {
        r#type: 1,
        help_ref: 99,
        unit_ref: 0,
    });
    let r = v2_send(&MemStorage::new(), &req);
    assert_eq!(r.status, Status::BadRequest);
    assert!(r.message.contains("metadata.help_ref 99"), "{}", r.message);

    let mut req = v2_req(&syms, vec![(vec![1, 2], vec![(1, 1.0)])]);
    req.timeseries[0].exemplars = vec![
        v2::Exemplar {
            labels_refs: vec![3, 4],
            value: 1.0,
            timestamp: 1,
        },
        v2::Exemplar {
            labels_refs: vec![3, 5],
            value: 1.0,
            timestamp: 1,
        },
    ];
    let r = v2_send(&MemStorage::new(), &req);
    assert_eq!(r.status, Status::BadRequest);
    assert!(
        r.message
            .contains("exemplars[1].labels_refs ref 5 at position 1 is out of range"),
        "{}",
        r.message
    );
}

#[test]
fn rw1_body_read_as_rw2_is_empty_not_garbage() {
    // Fields 1..3 are reserved in v2, so a v1 body decodes to an empty
    // request: nothing appended, no error.
    let mut b = WriteRequestBuilder::new();
    b.add_samples(&ls(&[("__name__", "a")]), &[(1, 1.0)]);
    let store = MemStorage::new();
    let r = Receiver::new(&store).receive(Some(CONTENT_TYPE_V2), None, &b.encode());
    assert_eq!(r.status, Status::NoContent);
    assert_eq!(r.written, Written::default());
}

#[test]
fn out_of_order_into_memstorage_refuses_the_commit() {
    // MemStorage validates at commit: the whole batch is refused, 400,
    // nothing counted as written.
    let store = MemStorage::new();
    store.append(&ls(&[("__name__", "a")]), 10, 1.0).unwrap();
    let req = WriteRequest {
        timeseries: vec![series(&[("__name__", "a")], &[(5, 1.0)])],
        metadata: vec![],
    };
    let r = v1(&store, &req);
    assert_eq!(r.status, Status::BadRequest, "{}", r.message);
    assert_eq!(r.written, Written::default());
}

#[test]
fn into_a_db_partial_writes_and_histograms() {
    let dir = tempfile::tempdir().unwrap();
    let db = aion_tsdb::Db::open(dir.path(), aion_tsdb::Options::default()).unwrap();
    let base = 1_700_000_000_000i64;
    let rx = Receiver::new(&db);
    let mut b = WriteRequestBuilder::new();
    b.add_samples(
        &ls(&[("__name__", "a")]),
        &[(base, 1.0), (base + 1000, 2.0)],
    );
    assert_eq!(
        rx.receive(None, None, &b.encode()).status,
        Status::NoContent
    );

    // Series a goes back in time (out of order); b is fine.
    b.add_samples(
        &ls(&[("__name__", "a")]),
        &[(base + 500, 9.0), (base + 2000, 3.0)],
    );
    b.add_samples(&ls(&[("__name__", "b")]), &[(base, 4.0)]);
    let r = rx.receive(None, None, &b.encode());
    assert_eq!(r.status, Status::BadRequest, "{}", r.message);
    assert!(
        r.message.contains(r#"timeseries[0] {__name__="a"}"#),
        "{}",
        r.message
    );
    assert!(
        r.message.contains(&format!("sample at {}", base + 500)),
        "{}",
        r.message
    );
    assert_eq!(
        dump(&db),
        [
            (
                r#"{__name__="a"}"#.to_string(),
                vec![(base, 1.0), (base + 1000, 2.0)]
            ),
            (r#"{__name__="b"}"#.to_string(), vec![(base, 4.0)]),
        ]
    );

    // Native histograms are stored beside floats.
    let h = Histogram {
        count: 3,
        sum: 3.0,
        positive_spans: vec![Span {
            offset: 0,
            length: 2,
        }],
        positive_buckets: vec![1, 1],
        ..Histogram::default()
    };
    b.add_samples(&ls(&[("__name__", "c")]), &[(base, 1.0)]);
    b.add_histograms(&ls(&[("__name__", "h")]), &[(base, h.clone())]);
    let r = rx.receive(None, None, &b.encode());
    assert_eq!(r.status, Status::NoContent, "{}", r.message);
    assert_eq!((r.written.samples, r.written.histograms), (1, 1));
    assert_eq!(dump(&db).len(), 4);
    {
        let q = aion_storage::Queryable::querier(&db, i64::MIN, i64::MAX).unwrap();
        let mut set = q.select(false, None, &[Matcher::equal("__name__", "h")]);
        let mut s = set.next().unwrap().unwrap();
        assert_eq!(s.samples.next(), ValueType::Histogram);
        let mut got = Histogram::default();
        assert_eq!(s.samples.at_histogram(&mut got), base);
        assert!(got.equals(&h));
    }

    // One whose count does not add up is the sender's fault (400, as
    // Prometheus's head validation answers), and the rest is written.
    let bad = Histogram { count: 4, ..h };
    b.add_histograms(&ls(&[("__name__", "bad")]), &[(base, bad)]);
    b.add_samples(&ls(&[("__name__", "d")]), &[(base, 1.0)]);
    let r = rx.receive(None, None, &b.encode());
    assert_eq!(r.status, Status::BadRequest, "{}", r.message);
    assert!(
        r.message
            .contains("3 observations found in buckets, but the Count field is 4"),
        "{}",
        r.message
    );
    assert_eq!(r.written.samples, 1);
    assert!(dump(&db).iter().any(|(l, _)| l == r#"{__name__="d"}"#));
}

#[test]
fn encoded_v1_and_v2_decode_to_the_same_series() {
    // The same data sent both ways lands identically.
    let a = MemStorage::new();
    let b = MemStorage::new();
    let mut w1 = WriteRequestBuilder::new();
    let mut w2 = RequestBuilder::new();
    for i in 0..50 {
        let l = ls(&[("__name__", "m"), ("i", &i.to_string()), ("job", "j")]);
        let pts: Vec<(i64, f64)> = (0..10).map(|k| (k * 15, (i * k) as f64)).collect();
        w1.add_samples(&l, &pts);
        let pts2: Vec<(i64, f64, i64)> = pts.iter().map(|&(t, v)| (t, v, 0)).collect();
        w2.add_samples(&l, &pts2, None);
    }
    let body1 = w1.encode();
    let req2 = w2.finish();
    assert_eq!(
        v1(
            &a,
            &WriteRequest::decode(&*snappy::decompress(&body1, 1 << 20).unwrap()).unwrap()
        )
        .status,
        Status::NoContent
    );
    assert_eq!(v2_send(&b, &req2).status, Status::NoContent);
    assert_eq!(dump(&a), dump(&b));
    let raw1 = snappy::decompress(&body1, 1 << 20).unwrap().len();
    assert!(req2.encoded_len() < raw1, "RW2 interning is smaller");
}

#[test]
fn special_values_pass_through_bit_for_bit() {
    // Stale markers, NaN and infinities are samples like any other: the
    // receiver must not normalise them. Negative zero arrives as +0: proto3
    // omits a field equal to its default and -0.0 == 0.0, in prost as in
    // Prometheus's Go encoder, so no sender can put -0 on the wire.
    let stale = f64::from_bits(aion_chunkenc::STALE_NAN_BITS);
    let values = [stale, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0];
    let store = MemStorage::new();
    let mut b = RequestBuilder::new();
    let pts: Vec<(i64, f64, i64)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (i as i64, *v, 0))
        .collect();
    b.add_samples(&ls(&[("__name__", "m")]), &pts, None);
    assert_eq!(v2_send(&store, &b.finish()).status, Status::NoContent);
    let got: Vec<u64> = dump(&store)[0].1.iter().map(|(_, v)| v.to_bits()).collect();
    let mut want: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
    want[4] = 0.0f64.to_bits();
    assert_eq!(got, want);
}
