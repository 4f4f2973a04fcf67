//! aion-remote against a real Prometheus 2.42 on loopback:
//!
//! - Aion's RW 1.0 encoder → Prometheus's receiver
//!   (`--web.enable-remote-write-receiver`): Prometheus stores exactly the
//!   samples sent (read back through its query API), and answers a body
//!   with an out-of-order sample with the same status as Aion's receiver.
//! - Aion's read client side → Prometheus's `/api/v1/read`: its SAMPLES
//!   answer and its STREAMED_XOR_CHUNKS frames (CRCs checked) decode with
//!   Aion's codecs to the samples sent, and Aion's read server answering
//!   the same request from a Db holding the same samples decodes to the
//!   same series and samples.
//!
//! - Aion's RW 1.0 encoder → VictoriaMetrics 1.79 (`/api/v1/write`): it
//!   stores exactly the samples sent (read back through `/api/v1/export`).
//!
//! Without Prometheus (or VictoriaMetrics) the tests print a note and
//! pass, unless
//! `AION_REQUIRE_PROMTOOL=1` (set by `scripts/test`, which installs the
//! `prometheus` package that has both binaries).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

#[path = "support/http1.rs"]
mod http1;
use http1::{free_addr, http, wait_ready};

use aion::model::Labels;
use aion::remote::codec;
use aion::remote::proto::{
    label_matcher, read_request::ResponseType, LabelMatcher, Query, ReadRequest,
};
use aion::remote::read::{ChunkedReader, ReadServer};
use aion::remote::send::WriteRequestBuilder;
use aion::remote::write::{Receiver, Status};
use aion::storage::{Appendable, MemStorage};

fn prometheus_binary() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/bin/prometheus");
    if p.exists() {
        return Some(p);
    }
    if std::env::var("AION_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
        panic!("prometheus not found but AION_REQUIRE_PROMTOOL=1 (apt-get install prometheus)");
    }
    eprintln!("note: prometheus not found; skipping");
    None
}

/// A child server process, killed on drop.
struct Server {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Prometheus 2.42 on a free loopback port with the remote-write
/// receiver on.
struct Prometheus;

impl Prometheus {
    fn start(bin: &Path) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1h\n").unwrap();
        let addr = free_addr();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server {
            child,
            addr,
            _dir: dir,
        };
        wait_ready(&server.addr, "/-/ready", "prometheus");
        server
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Series sent: three series, 40 samples each 15 s apart ending now, with
/// values that stress float text round trips.
fn dataset(end: i64) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let values = [0.1, -2.5, 1e-300, 123456789.0, 3.0e15, 0.0, 7.25];
    (0..3)
        .map(|i| {
            let l = Labels::from_pairs(&[
                ("__name__", "aion_remote_interop"),
                ("job", "aion"),
                ("series", &i.to_string()),
            ])
            .unwrap();
            let pts = (0..40)
                .map(|k| {
                    let t = end - (39 - k) * 15_000;
                    (t, values[(k as usize + i) % values.len()] * (k + 1) as f64)
                })
                .collect();
            (l, pts)
        })
        .collect()
}

fn write_headers() -> [(&'static str, &'static str); 3] {
    [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "snappy"),
        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
    ]
}

/// `query` at `time` (s) through the query API: (labels text, samples).
fn query_matrix(addr: &str, query: &str, time_ms: i64) -> Vec<(String, Vec<(i64, f64)>)> {
    let path = format!(
        "/api/v1/query?query={}&time={}.{:03}",
        query.replace('[', "%5B").replace(']', "%5D"),
        time_ms / 1000,
        time_ms % 1000
    );
    let r = http(addr, "GET", &path, &[], b"").unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let mut out: Vec<(String, Vec<(i64, f64)>)> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let m = s["metric"].as_object().unwrap();
            let pairs: Vec<(String, String)> = m
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let labels = Labels::from_pairs(&pairs).unwrap().to_string();
            let pts = s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
                    let v: f64 = p[1].as_str().unwrap().parse().unwrap();
                    (t, v)
                })
                .collect();
            (labels, pts)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn prometheus_2_42_stores_what_aion_sends_and_serves_it_back() {
    let Some(bin) = prometheus_binary() else {
        return;
    };
    let prom = Prometheus::start(&bin);
    let end = now_ms() / 1000 * 1000;
    let data = dataset(end);
    let mut b = WriteRequestBuilder::new();
    for (l, pts) in &data {
        b.add_samples(l, pts);
    }
    let body = b.encode();
    let r = http(&prom.addr, "POST", "/api/v1/write", &write_headers(), &body).unwrap();
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));

    // Stored exactly: every sample, value bit for bit through Go's text.
    let got = query_matrix(&prom.addr, "aion_remote_interop[15m]", end);
    let mut want: Vec<(String, Vec<(i64, f64)>)> = data
        .iter()
        .map(|(l, p)| (l.to_string(), p.clone()))
        .collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want);

    // Aion's receiver answers the same body the same way, and stores the
    // same.
    let mem = MemStorage::new();
    let ours = Receiver::new(&mem).receive(Some("application/x-protobuf"), Some("snappy"), &body);
    assert_eq!(ours.status.code(), 204);
    assert_eq!(mem.num_samples(), 120);

    // An out-of-order sample: a 400 from both (Prometheus 2.42 rejects
    // the request; Aion writes the good series and names the bad one).
    let mut bad = WriteRequestBuilder::new();
    bad.add_samples(&data[0].0, &[(end - 3_600_000 + 1, 1.0)]);
    let bad_body = bad.encode();
    let theirs = http(
        &prom.addr,
        "POST",
        "/api/v1/write",
        &write_headers(),
        &bad_body,
    )
    .unwrap();
    let ours = Receiver::new(&mem).receive(None, Some("snappy"), &bad_body);
    assert_eq!(
        theirs.status,
        400,
        "{}",
        String::from_utf8_lossy(&theirs.body)
    );
    assert_eq!(ours.status, Status::BadRequest, "{}", ours.message);

    // A body that is not snappy: 400 from both.
    let theirs = http(
        &prom.addr,
        "POST",
        "/api/v1/write",
        &write_headers(),
        b"garbage",
    )
    .unwrap();
    let ours = Receiver::new(&mem).receive(None, Some("snappy"), b"garbage");
    assert_eq!((theirs.status, ours.status.code()), (400, 400));

    // Remote read from Prometheus, both answer types, and from Aion's
    // read server over a Db holding the same samples.
    let db_dir = tempfile::tempdir().unwrap();
    let db = aion::tsdb::Db::open(db_dir.path(), aion::tsdb::Options::default()).unwrap();
    {
        let mut app = Appendable::appender(&db);
        for (l, pts) in &data {
            for &(t, v) in pts {
                app.append(0, l, t, v).unwrap();
            }
        }
        app.commit().unwrap();
    }
    let query = Query {
        start_timestamp_ms: end - 900_000,
        end_timestamp_ms: end,
        matchers: vec![LabelMatcher {
            r#type: label_matcher::Type::Eq as i32,
            name: "__name__".into(),
            value: "aion_remote_interop".into(),
        }],
        hints: None,
    };
    let server = ReadServer::new();
    for kind in [ResponseType::Samples, ResponseType::StreamedXorChunks] {
        let req = ReadRequest {
            queries: vec![query.clone()],
            accepted_response_types: vec![kind as i32],
        };
        let r = http(
            &prom.addr,
            "POST",
            "/api/v1/read",
            &[
                ("Content-Type", "application/x-protobuf"),
                ("Content-Encoding", "snappy"),
                ("X-Prometheus-Remote-Read-Version", "0.1.0"),
            ],
            &codec::encode_read_request(&req),
        )
        .unwrap();
        assert_eq!(
            r.status,
            200,
            "{kind:?}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let (theirs, ours) = match kind {
            ResponseType::Samples => {
                assert_eq!(r.header("Content-Encoding"), Some("snappy"));
                let mut scratch = Vec::new();
                let resp = codec::decode_read_response(&r.body, 1 << 24, &mut scratch).unwrap();
                let ours = server.read_samples(&db, &req).unwrap();
                (sample_series(&resp), sample_series(&ours))
            }
            ResponseType::StreamedXorChunks => {
                assert_eq!(
                    r.header("Content-Type"),
                    Some(aion::remote::content_type::CONTENT_TYPE_STREAMED)
                );
                let mut ours = Vec::new();
                server.stream_chunks(&db, &req, &mut ours).unwrap();
                (chunk_series(&r.body), chunk_series(&ours))
            }
        };
        assert_eq!(theirs, want, "{kind:?}: Prometheus's answer");
        assert_eq!(ours, theirs, "{kind:?}: Aion's answer");
    }
}

type SeriesSamples = Vec<(String, Vec<(i64, f64)>)>;

fn labels_text(labels: &[aion::remote::proto::Label]) -> String {
    let pairs: Vec<(&str, &str)> = labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    Labels::from_pairs(&pairs).unwrap().to_string()
}

fn sample_series(resp: &aion::remote::proto::ReadResponse) -> SeriesSamples {
    let mut out: SeriesSamples = resp.results[0]
        .timeseries
        .iter()
        .map(|ts| {
            (
                labels_text(&ts.labels),
                ts.samples.iter().map(|s| (s.timestamp, s.value)).collect(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Decodes a frame stream (checking every CRC) into series and samples:
/// one series per frame, a series' frames consecutive.
fn chunk_series(stream: &[u8]) -> SeriesSamples {
    use aion::chunkenc::{Chunk, Encoding, SampleIterator, ValueType};
    let mut reader = ChunkedReader::new(stream, 1 << 24);
    let mut out: SeriesSamples = Vec::new();
    while let Some(frame) = reader.next_frame().unwrap() {
        assert_eq!(frame.chunked_series.len(), 1);
        assert_eq!(frame.query_index, 0);
        let s = &frame.chunked_series[0];
        let key = labels_text(&s.labels);
        let mut pts = Vec::new();
        for c in &s.chunks {
            assert_eq!(c.r#type, 1, "XOR chunk");
            let chunk = Chunk::from_bytes(Encoding::Xor, &c.data).unwrap();
            let mut it = chunk.iter();
            while it.next() == ValueType::Float {
                pts.push(it.at());
            }
            assert!(it.err().is_none());
        }
        match out.last_mut() {
            Some((k, p)) if *k == key => p.extend(pts),
            _ => out.push((key, pts)),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn victoria_metrics_stores_what_aion_sends() {
    let bin = PathBuf::from("/usr/bin/victoria-metrics");
    if !bin.exists() {
        if std::env::var("AION_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
            panic!("victoria-metrics not found (apt-get install victoria-metrics)");
        }
        eprintln!("note: victoria-metrics not found; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let child = Command::new(&bin)
        .arg(format!(
            "-storageDataPath={}",
            dir.path().join("vm").display()
        ))
        .arg(format!("-httpListenAddr={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let vm = Server {
        child,
        addr,
        _dir: dir,
    };
    wait_ready(&vm.addr, "/health", "victoria-metrics");

    // VictoriaMetrics keeps floats as decimal mantissa and exponent, so
    // values here have few significant digits (its own rounding is not
    // what this test is about).
    let end = now_ms() / 1000 * 1000;
    let data: Vec<(Labels, Vec<(i64, f64)>)> = (0..3)
        .map(|i| {
            let l = Labels::from_pairs(&[
                ("__name__", "aion_remote_interop"),
                ("job", "aion"),
                ("series", &i.to_string()),
            ])
            .unwrap();
            let pts = (0..40)
                .map(|k| (end - (39 - k) * 15_000, k as f64 * 0.5 - i as f64 * 1000.0))
                .collect();
            (l, pts)
        })
        .collect();
    let mut b = WriteRequestBuilder::new();
    for (l, pts) in &data {
        b.add_samples(l, pts);
    }
    let r = http(
        &vm.addr,
        "POST",
        "/api/v1/write",
        &write_headers(),
        &b.encode(),
    )
    .unwrap();
    assert!(
        r.status == 204 || r.status == 200,
        "{}: {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    let r = http(&vm.addr, "GET", "/internal/force_flush", &[], b"").unwrap();
    assert_eq!(r.status, 200);

    let r = http(
        &vm.addr,
        "GET",
        "/api/v1/export?match%5B%5D=aion_remote_interop",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let mut got: SeriesSamples = String::from_utf8(r.body)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let pairs: Vec<(String, String)> = v["metric"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let ts = v["timestamps"].as_array().unwrap();
            let vs = v["values"].as_array().unwrap();
            let pts = ts
                .iter()
                .zip(vs)
                .map(|(t, v)| (t.as_i64().unwrap(), v.as_f64().unwrap()))
                .collect();
            (Labels::from_pairs(&pairs).unwrap().to_string(), pts)
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want: SeriesSamples = data
        .iter()
        .map(|(l, p)| (l.to_string(), p.clone()))
        .collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want);
}
