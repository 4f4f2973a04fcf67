//! Read-server cases: SAMPLES from MemStorage, STREAMED_XOR_CHUNKS from a
//! Db with frames decoded and checksums checked.

use aion_chunkenc::{Chunk as XorChunk, Encoding, SampleIterator, ValueType};
use aion_model::Labels;
use aion_storage::{Appendable, MemStorage};
use prost::Message;

use super::*;
use crate::proto::{label_matcher::Type, LabelMatcher, ReadHints};

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs).unwrap()
}

fn query(start: i64, end: i64, matchers: &[(Type, &str, &str)]) -> Query {
    Query {
        start_timestamp_ms: start,
        end_timestamp_ms: end,
        matchers: matchers
            .iter()
            .map(|(t, n, v)| LabelMatcher {
                r#type: *t as i32,
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        hints: Some(ReadHints {
            func: "rate".into(),
            ..ReadHints::default()
        }),
    }
}

fn request(queries: Vec<Query>, types: &[ResponseType]) -> ReadRequest {
    ReadRequest {
        queries,
        accepted_response_types: types.iter().map(|t| *t as i32).collect(),
    }
}

#[test]
fn samples_answer_with_external_labels_and_ranges() {
    let store = MemStorage::new();
    for i in 0..3 {
        let l = ls(&[("__name__", "m"), ("i", &i.to_string())]);
        for t in 0..10 {
            store.append(&l, t * 1000, (i * 10 + t) as f64).unwrap();
        }
    }
    let server = ReadServer::new().with_external_labels(ls(&[("cluster", "eu"), ("i", "ext")]));
    let req = request(
        vec![
            query(
                2000,
                4000,
                &[(Type::Eq, "__name__", "m"), (Type::Eq, "i", "1")],
            ),
            // cluster="eu" is the server's own external label: it matches.
            query(0, 0, &[(Type::Eq, "cluster", "eu"), (Type::Re, "i", "0|2")]),
            query(0, 0, &[(Type::Eq, "cluster", "us")]),
        ],
        &[],
    );
    assert_eq!(server.response_type(&req).unwrap(), ResponseType::Samples);
    let body = server.answer_samples(&store, &req).unwrap();
    let mut scratch = Vec::new();
    let resp = codec::decode_read_response(&body, 1 << 20, &mut scratch).unwrap();
    assert_eq!(resp.results.len(), 3);
    let r0 = &resp.results[0].timeseries;
    assert_eq!(r0.len(), 1);
    let names: Vec<(&str, &str)> = r0[0]
        .labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    // The series' own i wins over the external i.
    assert_eq!(names, [("__name__", "m"), ("cluster", "eu"), ("i", "1")]);
    let pts: Vec<(i64, f64)> = r0[0]
        .samples
        .iter()
        .map(|s| (s.timestamp, s.value))
        .collect();
    assert_eq!(pts, [(2000, 12.0), (3000, 13.0), (4000, 14.0)]);
    assert_eq!(resp.results[1].timeseries.len(), 2);
    assert_eq!(resp.results[1].timeseries[0].samples.len(), 1);
    assert!(resp.results[2].timeseries.is_empty());
}

#[test]
fn sample_limit_and_negotiation_errors_are_400() {
    let store = MemStorage::new();
    let l = ls(&[("__name__", "m")]);
    for t in 0..10 {
        store.append(&l, t, 1.0).unwrap();
    }
    let server = ReadServer::new().with_sample_limit(5);
    let req = request(vec![query(0, 100, &[(Type::Eq, "__name__", "m")])], &[]);
    let e = server.read_samples(&store, &req).unwrap_err();
    assert!(
        matches!(e, ReadError::SampleLimit { query: 0, limit: 5 }),
        "{e}"
    );
    assert_eq!(e.status(), 400);
    assert_eq!(e.to_string(), "query 0: exceeded sample limit (5)");

    let req = ReadRequest {
        queries: vec![],
        accepted_response_types: vec![7, 1, 0],
    };
    assert_eq!(
        server.response_type(&req).unwrap(),
        ResponseType::StreamedXorChunks
    );
    let req = ReadRequest {
        queries: vec![],
        accepted_response_types: vec![7],
    };
    assert_eq!(server.response_type(&req).unwrap_err().status(), 400);
    assert_eq!(
        server
            .decode_request(b"not snappy", 1 << 20)
            .unwrap_err()
            .status(),
        400
    );
}

fn decode_xor(data: &[u8]) -> Vec<(i64, f64)> {
    let c = XorChunk::from_bytes(Encoding::Xor, data).unwrap();
    let mut it = c.iter();
    let mut out = Vec::new();
    while it.next() == ValueType::Float {
        out.push(it.at());
    }
    assert!(it.err().is_none());
    out
}

#[test]
fn streamed_chunks_from_a_db_frame_by_frame() {
    let dir = tempfile::tempdir().unwrap();
    let db = aion_tsdb::Db::open(dir.path(), aion_tsdb::Options::default()).unwrap();
    let base = 1_700_000_000_000i64;
    let n_series = 4;
    let n_samples = 1000i64;
    {
        let mut app = Appendable::appender(&db);
        for i in 0..n_series {
            let l = ls(&[("__name__", "m"), ("i", &i.to_string())]);
            for k in 0..n_samples {
                app.append(0, &l, base + k * 15_000, (i as i64 * k) as f64)
                    .unwrap();
            }
        }
        app.commit().unwrap();
    }
    // A small frame limit forces each series over several frames.
    let server = ReadServer::new()
        .with_external_labels(ls(&[("replica", "a")]))
        .with_max_bytes_in_frame(300);
    let req = request(
        vec![
            query(
                base,
                base + n_samples * 15_000,
                &[(Type::Eq, "__name__", "m")],
            ),
            query(base, base + 1, &[(Type::Eq, "i", "2")]),
        ],
        &[ResponseType::StreamedXorChunks],
    );
    assert_eq!(
        server.response_type(&req).unwrap(),
        ResponseType::StreamedXorChunks
    );
    let mut out = Vec::new();
    let stats = server.stream_chunks(&db, &req, &mut out).unwrap();
    assert_eq!(stats.bytes, out.len() as u64);
    assert_eq!(stats.series, n_series as u64 + 1);

    let mut reader = ChunkedReader::new(out.as_slice(), 1 << 20);
    // (query index, labels, samples) per series, in stream order.
    type Streamed = (i64, String, Vec<(i64, f64)>);
    let mut by_series: Vec<Streamed> = Vec::new();
    let mut frames = 0;
    while let Some(f) = reader.next_frame().unwrap() {
        frames += 1;
        assert_eq!(f.chunked_series.len(), 1, "one series per frame");
        let s = &f.chunked_series[0];
        let labels: Vec<String> = s
            .labels
            .iter()
            .map(|l| format!("{}={}", l.name, l.value))
            .collect();
        let key = labels.join(",");
        assert!(key.ends_with("replica=a"), "{key}");
        let mut pts = Vec::new();
        for c in &s.chunks {
            assert_eq!(c.r#type, 1);
            let decoded = decode_xor(&c.data);
            assert_eq!(decoded.first().unwrap().0, c.min_time_ms);
            assert_eq!(decoded.last().unwrap().0, c.max_time_ms);
            pts.extend(decoded);
        }
        match by_series.last_mut() {
            // A series continues in the next frame: never interleaved.
            Some((q, k, p)) if *q == f.query_index && *k == key => p.extend(pts),
            _ => {
                assert!(
                    !by_series
                        .iter()
                        .any(|(q, k, _)| *q == f.query_index && *k == key),
                    "series {key} resumed after another series"
                );
                by_series.push((f.query_index, key, pts));
            }
        }
    }
    assert_eq!(frames, stats.frames);
    assert!(frames > by_series.len() as u64, "the limit split series");
    assert_eq!(by_series.len(), n_series + 1);
    for (i, (q, key, pts)) in by_series.iter().take(n_series).enumerate() {
        assert_eq!(*q, 0);
        assert_eq!(key, &format!("__name__=m,i={i},replica=a"));
        let want: Vec<(i64, f64)> = (0..n_samples)
            .map(|k| (base + k * 15_000, (i as i64 * k) as f64))
            .collect();
        assert_eq!(pts, &want);
    }
    // The second query: whole chunks overlapping its range.
    let (q, key, pts) = &by_series[n_series];
    assert_eq!((*q, key.as_str()), (1, "__name__=m,i=2,replica=a"));
    assert_eq!(pts[0], (base, 0.0));
}

#[test]
fn streamed_frames_are_cut_near_the_default_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = aion_tsdb::Db::open(dir.path(), aion_tsdb::Options::default()).unwrap();
    let base = 1_700_000_000_000i64;
    let l = ls(&[("__name__", "big")]);
    {
        let mut app = Appendable::appender(&db);
        // Noisy values so chunks are large: about 2.4 MB of chunks.
        let mut x = 1u64;
        for k in 0..200_000i64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            app.append(0, &l, base + k * 1000, (x >> 11) as f64)
                .unwrap();
        }
        app.commit().unwrap();
    }
    let req = request(
        vec![query(
            base,
            base + 200_000_000,
            &[(Type::Eq, "__name__", "big")],
        )],
        &[ResponseType::StreamedXorChunks],
    );
    let mut out = Vec::new();
    let stats = ReadServer::new()
        .stream_chunks(&db, &req, &mut out)
        .unwrap();
    assert!(stats.frames >= 2, "{stats:?}");
    let mut reader = ChunkedReader::new(out.as_slice(), 2 << 20);
    let mut sizes = Vec::new();
    let mut total = 0;
    while let Some(f) = reader.next_frame().unwrap() {
        sizes.push(f.encoded_len());
        total += f.chunked_series[0]
            .chunks
            .iter()
            .map(|c| decode_xor(&c.data).len())
            .sum::<usize>();
    }
    assert_eq!(total, 200_000);
    // Every frame but the last is just over 1 MiB: by its last chunk and
    // the few bytes of field framing per chunk that the cut, counting
    // chunk sizes as Prometheus does, leaves out (under 1%).
    for s in &sizes[..sizes.len() - 1] {
        assert!(
            *s >= 1 << 20 && *s < (1 << 20) + (1 << 20) / 100,
            "{sizes:?}"
        );
    }
}
