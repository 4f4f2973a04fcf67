//! `examples/remote_server.rs` against a real Prometheus 2.42 on loopback:
//!
//! - **Remote write in**: Prometheus scrapes itself every second with
//!   `remote_write` to the example, then both are stopped (SIGTERM; the
//!   example must exit 0). Everything Prometheus stored in the forwarded
//!   range is in Aion's directory: `promtool tsdb dump` of Prometheus's
//!   directory and `aion dump` of Aion's, line for line.
//!
//!   *The forwarded range* is `[lo, hi]`, the first and last timestamps
//!   in Aion's dump. Its ends are not Prometheus's: its WAL watcher
//!   forwards only samples newer than the moment it started, and on
//!   shutdown the scrape loops write their last scrape and staleness
//!   markers to the WAL after the remote-write queues may already have
//!   read their last record. Inside the range nothing may be missing or
//!   extra: Prometheus's samples with `lo <= t <= hi` must equal Aion's
//!   (so a batch lost in the middle fails the test), and the range must
//!   hold at least five scrapes.
//! - **Remote read out**: Prometheus with `remote_read` (`read_recent:
//!   true`) to the example and an empty TSDB answers `/api/v1/query` and
//!   `/api/v1/query_range` with exactly the example's own answers to the
//!   same requests (the `data` objects compared as JSON values), and
//!   `aion query`/`query-range --format json` on the directory after the
//!   server stopped prints the same objects. Sample
//!   times sit 7 ms off whole seconds so the 2.x closed and 3.x left-open
//!   window ends (see `docs/promql-2x-3x-differences.md`) select the same
//!   samples.
//! - **Streamed read**: a STREAMED_XOR_CHUNKS request of our own to the
//!   example and to a Prometheus 2.42 holding the same remote-written
//!   samples: the frames (CRCs checked) decode to the same series with
//!   byte-identical XOR chunks, and to the samples sent.
//! - **Bad bodies** (no peer needed): garbage to `/api/v1/write` and `/api/v1/read` is a
//!   400 and the server goes on answering good writes and queries.
//!
//! Without Prometheus the tests print a note and pass, unless
//! `AION_REQUIRE_PROMTOOL=1` (set by `scripts/test`).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aion::model::Labels;
use aion::remote::codec;
use aion::remote::content_type::CONTENT_TYPE_STREAMED;
use aion::remote::proto::{
    label_matcher, read_request::ResponseType, LabelMatcher, Query, ReadRequest,
};
use aion::remote::read::ChunkedReader;
use aion::remote::send::{RequestBuilder, WriteRequestBuilder};

#[path = "support/binaries.rs"]
mod binaries;
#[path = "support/http1.rs"]
mod http1;
use http1::{free_addr, http, wait_ready};

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

/// Sends SIGTERM and waits (at most 60 s) for the process to exit.
fn terminate(child: &mut Child) -> ExitStatus {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process {} ignored SIGTERM for 60 s", child.id());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The example server on a free port, killed on drop.
struct RemoteServer {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl RemoteServer {
    fn start(dir: &Path, log: &Path) -> RemoteServer {
        Self::start_with(dir, log, &[])
    }

    fn start_with(dir: &Path, log: &Path, flags: &[&str]) -> RemoteServer {
        let mut child = Command::new(binaries::example_binary("remote_server"))
            .args(["--listen", "127.0.0.1:0", "--dir"])
            .arg(dir)
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "remote_server printed {line:?}; log: {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            })
            .to_string();
        RemoteServer {
            child,
            addr,
            log: log.to_path_buf(),
        }
    }

    /// SIGTERM; asserts a clean exit.
    fn stop(mut self) {
        let st = terminate(&mut self.child);
        assert!(
            st.success(),
            "remote_server exited with {st}; log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

impl Drop for RemoteServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Prometheus 2.42 with `config`, killed on drop.
struct Prometheus {
    child: Child,
    addr: String,
}

impl Prometheus {
    fn start(bin: &Path, dir: &Path, config: &str, extra: &[&str]) -> Prometheus {
        let addr = free_addr();
        let config = config.replace("PROM_ADDR", &addr);
        let file = dir.join("prometheus.yml");
        std::fs::write(&file, config).unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let p = Prometheus { child, addr };
        wait_ready(&p.addr, "/-/ready", "prometheus");
        p
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Percent-encodes a query parameter value.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn get_json(addr: &str, path: &str) -> serde_json::Value {
    let r = http(addr, "GET", path, &[], b"").unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_else(|e| {
        panic!(
            "{path}: {e}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        )
    });
    assert_eq!(r.status, 200, "{path}: {v}");
    v
}

/// A dump (`promtool tsdb dump` / `aion dump`) as (labels, value, t) rows.
fn dump_rows(out: &[u8]) -> BTreeSet<(String, String, i64)> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (rest, t) = l.rsplit_once(' ').unwrap();
            let (labels, v) = rest.rsplit_once(' ').unwrap();
            (labels.to_string(), v.to_string(), t.parse().unwrap())
        })
        .collect()
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn prometheus_remote_writes_everything_it_stores_to_the_example() {
    let Some(bin) = prometheus_binary() else {
        return;
    };
    let Some(promtool) = binaries::promtool() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let aion_dir = tmp.path().join("aion");
    let server = RemoteServer::start(&aion_dir, &tmp.path().join("server.log"));
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1h\n\
         scrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['PROM_ADDR']\n\
         remote_write:\n  - url: http://{}/api/v1/write\n    queue_config:\n      batch_send_deadline: 200ms\n      min_backoff: 50ms\n      max_backoff: 500ms\n",
        server.addr
    );
    let prom_dir = tmp.path().join("prom");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let mut prom = Prometheus::start(&bin, &prom_dir, &config, &[]);

    // Wait until at least six scrapes of `up` reached Aion.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let v = get_json(
            &server.addr,
            &format!(
                "/api/v1/query?query={}",
                enc("count_over_time(up{job=\"prometheus\"}[10m])")
            ),
        );
        let n = v["data"]["result"][0]["value"][1]
            .as_str()
            .map_or(0.0, |s| s.parse::<f64>().unwrap());
        if n >= 6.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {n} scrapes forwarded after 90 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let st = terminate(&mut prom.child);
    assert!(st.success(), "prometheus exited with {st}");
    server.stop();

    let theirs = dump_rows(&run(Command::new(&promtool)
        .args(["tsdb", "dump"])
        .arg(prom_dir.join("data"))));
    let ours = dump_rows(&run(Command::new(binaries::aion_example())
        .arg("dump")
        .arg(&aion_dir)));
    let lo = ours.iter().map(|r| r.2).min().unwrap();
    let hi = ours.iter().map(|r| r.2).max().unwrap();
    let ups: BTreeSet<i64> = ours
        .iter()
        .filter(|r| r.0.starts_with("{__name__=\"up\""))
        .map(|r| r.2)
        .collect();
    assert!(
        ups.len() >= 5,
        "the forwarded range [{lo}, {hi}] holds {} scrapes",
        ups.len()
    );
    let theirs_in_range: BTreeSet<_> = theirs
        .into_iter()
        .filter(|r| (lo..=hi).contains(&r.2))
        .collect();
    let missing: Vec<_> = theirs_in_range.difference(&ours).take(5).collect();
    let extra: Vec<_> = ours.difference(&theirs_in_range).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "in [{lo}, {hi}]: {} rows in Prometheus, {} in Aion; missing from Aion: {missing:?}; not in Prometheus: {extra:?}",
        theirs_in_range.len(),
        ours.len()
    );
    eprintln!(
        "{} samples of {} scrapes compared in [{lo}, {hi}]",
        ours.len(),
        ups.len()
    );
}

/// Three series of 40 samples 15 s apart, 7 ms off whole seconds, the
/// last at about `end`; values with many digits.
fn dataset(end: i64) -> Vec<(Labels, Vec<(i64, f64)>)> {
    (0..3)
        .map(|i| {
            let l = Labels::from_pairs(&[
                ("__name__", "aion_rr"),
                ("job", if i == 2 { "other" } else { "aion" }),
                ("series", &i.to_string()),
            ])
            .unwrap();
            let pts = (0..40)
                .map(|k| {
                    let t = end - (39 - k) * 15_000 + 7;
                    (t, (k * k) as f64 * 0.37 + i as f64 * 1e9 + 1.0 / 3.0)
                })
                .collect();
            (l, pts)
        })
        .collect()
}

const RW1_HEADERS: [(&str, &str); 3] = [
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

fn write_dataset(addr: &str, data: &[(Labels, Vec<(i64, f64)>)]) {
    let mut b = WriteRequestBuilder::new();
    for (l, pts) in data {
        b.add_samples(l, pts);
    }
    let r = http(addr, "POST", "/api/v1/write", &RW1_HEADERS, &b.encode()).unwrap();
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn prometheus_remote_reads_the_examples_answers() {
    let Some(bin) = prometheus_binary() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let server = RemoteServer::start(&tmp.path().join("aion"), &tmp.path().join("server.log"));
    let end = now_ms() / 1000 * 1000 - 30_000;
    write_dataset(&server.addr, &dataset(end));
    let config = format!(
        "global:\n  scrape_interval: 1h\n\
         remote_read:\n  - url: http://{}/api/v1/read\n    read_recent: true\n",
        server.addr
    );
    let prom_dir = tmp.path().join("prom");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let prom = Prometheus::start(&bin, &prom_dir, &config, &[]);

    let t = end / 1000 - 20;
    let instant = [
        "aion_rr",
        "sum by (job) (aion_rr)",
        "rate(aion_rr[2m])",
        "aion_rr{series=\"1\"} * 2 + 1",
        "count_over_time(aion_rr[5m])",
        "max_over_time(aion_rr{job=\"aion\"}[3m])",
        "aion_rr[1m]",
    ];
    let mut paths: Vec<String> = instant
        .iter()
        .map(|q| format!("/api/v1/query?query={}&time={t}", enc(q)))
        .collect();
    for q in ["aion_rr", "rate(aion_rr[1m])", "sum(aion_rr) by (job)"] {
        paths.push(format!(
            "/api/v1/query_range?query={}&start={}&end={t}&step=30",
            enc(q),
            t - 480
        ));
    }
    let mut prometheus_answers = Vec::new();
    for path in &paths {
        let theirs = get_json(&prom.addr, path);
        let ours = get_json(&server.addr, path);
        assert!(
            !theirs["data"]["result"].as_array().unwrap().is_empty(),
            "{path}: Prometheus read nothing: {theirs}"
        );
        assert_eq!(theirs["data"], ours["data"], "{path}");
        prometheus_answers.push(theirs["data"].clone());
    }
    drop(prom);
    server.stop();

    // And `aion query` on the directory the server closed says the same.
    let aion = binaries::aion_example();
    for (q, theirs) in instant.iter().zip(&prometheus_answers) {
        let out = run(Command::new(&aion)
            .arg("query")
            .arg(tmp.path().join("aion"))
            .arg(q)
            .args(["--time", &t.to_string(), "--format", "json"]));
        let ours: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(&ours["data"], theirs, "aion query {q:?}");
    }
    for (q, theirs) in ["aion_rr", "rate(aion_rr[1m])", "sum(aion_rr) by (job)"]
        .iter()
        .zip(&prometheus_answers[instant.len()..])
    {
        let out = run(Command::new(&aion)
            .arg("query-range")
            .arg(tmp.path().join("aion"))
            .arg(q)
            .args(["--start", &(t - 480).to_string(), "--end", &t.to_string()])
            .args(["--step", "30s", "--format", "json"]));
        let ours: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(&ours["data"], theirs, "aion query-range {q:?}");
    }
}

/// Per series (labels text): its chunks as (min, max, type, bytes), from
/// a frame stream whose CRCs are checked by the reader.
type StreamedSeries = Vec<(String, Vec<(i64, i64, i32, Vec<u8>)>)>;

/// `theirs` with Prometheus 2.x's one known difference taken out where it
/// shows: its bit writer (before prometheus/prometheus#14854, released in
/// 3.0) leaves an extra zero byte after a chunk whose last write was whole
/// bytes from a byte boundary; Aion writes what 3.x writes. Whether a
/// chunk ends that way depends on where the 2 h boundary cuts it, so on the
/// time the test runs. Only exactly that shape is forgiven (our bytes plus
/// one zero byte).
fn without_2x_trailing_zero(theirs: &StreamedSeries, ours: &StreamedSeries) -> StreamedSeries {
    let mut fixed = theirs.clone();
    for ((_, tc), (_, oc)) in fixed.iter_mut().zip(ours) {
        for (t, o) in tc.iter_mut().zip(oc) {
            let (td, od) = (&mut t.3, &o.3);
            if td.len() == od.len() + 1 && td.last() == Some(&0) && td[..od.len()] == od[..] {
                td.pop();
            }
        }
    }
    fixed
}

/// The forgiveness covers the 2.x extra zero byte and nothing else (the
/// first case is the chunk of a CI run whose 2 h cut fell after 5 samples).
#[test]
fn only_the_2x_trailing_zero_is_forgiven() {
    let ours_chunk = vec![0, 5, 174, 178, 189, 33, 72];
    let one =
        |data: Vec<u8>| -> StreamedSeries { vec![("{a=\"b\"}".into(), vec![(1, 2, 1, data)])] };
    let ours = one(ours_chunk.clone());
    let mut with_zero = ours_chunk.clone();
    with_zero.push(0);
    assert_eq!(without_2x_trailing_zero(&one(with_zero), &ours), ours);
    let mut other = ours_chunk.clone();
    other.push(1);
    assert_ne!(without_2x_trailing_zero(&one(other), &ours), ours);
    let mut two = ours_chunk;
    two.extend([0, 0]);
    assert_ne!(without_2x_trailing_zero(&one(two), &ours), ours);
}

fn streamed_series(body: &[u8]) -> StreamedSeries {
    let mut reader = ChunkedReader::new(body, 1 << 24);
    let mut out: StreamedSeries = Vec::new();
    while let Some(frame) = reader.next_frame().unwrap() {
        assert_eq!(frame.chunked_series.len(), 1, "one series per frame");
        assert_eq!(frame.query_index, 0);
        let s = &frame.chunked_series[0];
        let pairs: Vec<(&str, &str)> = s
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        let key = Labels::from_pairs(&pairs).unwrap().to_string();
        let chunks: Vec<_> = s
            .chunks
            .iter()
            .map(|c| (c.min_time_ms, c.max_time_ms, c.r#type, c.data.to_vec()))
            .collect();
        match out.last_mut() {
            Some((k, cs)) if *k == key => cs.extend(chunks),
            _ => out.push((key, chunks)),
        }
    }
    out
}

fn chunk_samples(chunks: &[(i64, i64, i32, Vec<u8>)]) -> Vec<(i64, f64)> {
    use aion::chunkenc::{Chunk, Encoding, SampleIterator, ValueType};
    let mut pts = Vec::new();
    for (_, _, typ, data) in chunks {
        assert_eq!(*typ, 1, "XOR chunk");
        let chunk = Chunk::from_bytes(Encoding::Xor, data).unwrap();
        let mut it = chunk.iter();
        while it.next() == ValueType::Float {
            pts.push(it.at());
        }
        assert!(it.err().is_none());
    }
    pts
}

#[test]
fn streamed_chunks_from_the_example_equal_prometheus_2_42s() {
    let Some(bin) = prometheus_binary() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let server = RemoteServer::start(&tmp.path().join("aion"), &tmp.path().join("server.log"));
    let prom_dir = tmp.path().join("prom");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let prom = Prometheus::start(
        &bin,
        &prom_dir,
        "global:\n  scrape_interval: 1h\n",
        &["--web.enable-remote-write-receiver"],
    );
    let end = now_ms() / 1000 * 1000;
    let data = dataset(end);
    write_dataset(&server.addr, &data);
    write_dataset(&prom.addr, &data);

    let req = ReadRequest {
        queries: vec![Query {
            start_timestamp_ms: end - 3_600_000,
            end_timestamp_ms: end + 1000,
            matchers: vec![LabelMatcher {
                r#type: label_matcher::Type::Re as i32,
                name: "__name__".into(),
                value: "aion_.*".into(),
            }],
            hints: None,
        }],
        accepted_response_types: vec![ResponseType::StreamedXorChunks as i32],
    };
    let body = codec::encode_read_request(&req);
    let headers = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "snappy"),
        ("X-Prometheus-Remote-Read-Version", "0.1.0"),
    ];
    let mut answers = Vec::new();
    for addr in [&prom.addr, &server.addr] {
        let r = http(addr, "POST", "/api/v1/read", &headers, &body).unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("Content-Type"), Some(CONTENT_TYPE_STREAMED));
        answers.push(streamed_series(&r.body));
    }
    let (theirs, ours) = (&answers[0], &answers[1]);
    assert_eq!(theirs.len(), 3);
    assert_eq!(
        ours,
        &without_2x_trailing_zero(theirs, ours),
        "the same series and chunk bytes"
    );
    let mut want: Vec<(String, Vec<(i64, f64)>)> = data
        .iter()
        .map(|(l, p)| (l.to_string(), p.clone()))
        .collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    let got: Vec<_> = ours
        .iter()
        .map(|(k, cs)| (k.clone(), chunk_samples(cs)))
        .collect();
    assert_eq!(got, want);
    drop(prom);
    server.stop();
}

#[test]
fn a_bad_body_is_a_400_and_the_server_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let server = RemoteServer::start(&tmp.path().join("aion"), &tmp.path().join("server.log"));
    let addr = server.addr.clone();

    let r = http(&addr, "POST", "/api/v1/write", &RW1_HEADERS, b"garbage").unwrap();
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    // Valid snappy around a body that is not a WriteRequest.
    let not_proto = aion::remote::snappy::compress(&[0xff; 64]);
    let r = http(&addr, "POST", "/api/v1/write", &RW1_HEADERS, &not_proto).unwrap();
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    let r = http(
        &addr,
        "POST",
        "/api/v1/write",
        &[("Content-Type", "application/json")],
        b"{}",
    )
    .unwrap();
    assert_eq!(r.status, 415);
    let r = http(&addr, "POST", "/api/v1/read", &[], b"garbage").unwrap();
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));

    // Still serving: a 1.0 and a 2.0 write, then a query sees both.
    let end = now_ms() / 1000 * 1000;
    write_dataset(&addr, &dataset(end));
    let mut v2 = RequestBuilder::new();
    let l = Labels::from_pairs(&[("__name__", "aion_rw2"), ("job", "aion")]).unwrap();
    v2.add_samples(&l, &[(end - 1000, 1.5, 0), (end, 2.5, 0)], None);
    let r = http(
        &addr,
        "POST",
        "/api/v1/write",
        &[
            ("Content-Type", aion::remote::content_type::CONTENT_TYPE_V2),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "2.0.0"),
        ],
        &v2.encode(),
    )
    .unwrap();
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("X-Prometheus-Remote-Write-Samples-Written"),
        Some("2")
    );
    assert_eq!(
        r.header("X-Prometheus-Remote-Write-Histograms-Written"),
        Some("0")
    );
    let v = get_json(
        &addr,
        &format!(
            "/api/v1/query?query={}&time={}",
            enc("count({__name__=~\"aion_rr|aion_rw2\"})"),
            end / 1000
        ),
    );
    assert_eq!(v["data"]["result"][0]["value"][1], "4", "{v}");
    let v = get_json(&addr, "/api/v1/label/__name__/values");
    assert_eq!(v["data"], serde_json::json!(["aion_rr", "aion_rw2"]));
    let v = get_json(
        &addr,
        &format!("/api/v1/series?{}={}", enc("match[]"), enc("aion_rw2")),
    );
    assert_eq!(
        v["data"],
        serde_json::json!([{"__name__": "aion_rw2", "job": "aion"}])
    );

    // A form-encoded POST (what Grafana sends) answers as the GET does.
    let form = format!(
        "query={}&time={}",
        enc("sum by (job) (aion_rr)"),
        end / 1000
    );
    let r = http(
        &addr,
        "POST",
        "/api/v1/query",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let posted: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(posted, get_json(&addr, &format!("/api/v1/query?{form}")));
    // Prometheus's error envelope and status for a query that does not
    // parse, and for a bad parameter.
    let r = http(&addr, "GET", "/api/v1/query?query=sum(", &[], b"").unwrap();
    assert_eq!(r.status, 400);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "bad_data");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid parameter \"query\": 1:"),
        "{v}"
    );
    let r = http(
        &addr,
        "GET",
        "/api/v1/query_range?query=up&start=10&end=5&step=1",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 400);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        v["error"],
        "invalid parameter \"end\": end timestamp must not be before start time"
    );
    assert_eq!(http(&addr, "GET", "/nope", &[], b"").unwrap().status, 404);
    server.stop();
}

/// A directory that opened with damage answers over HTTP as `aion query`
/// does: with the data that is readable and the open's warnings in the
/// API answer's `warnings` array (queries, series and label lookups).
/// The damage is random bytes inside a WAL segment, which a writable open
/// repairs by cutting (a block whose `meta.json` is garbage makes a
/// writable open fail, as it makes Prometheus's).
#[test]
fn a_damaged_directory_answers_with_its_open_warnings() {
    use aion::tsdb::{Db, Options};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("aion");
    let options = Options {
        wal_segment_size: 64 * 1024,
        wal_compression: false,
        background_compaction: false,
        ..Options::default()
    };
    let db = Db::open(&dir, options).unwrap();
    let series: Vec<Labels> = (0..50)
        .map(|i| Labels::from_pairs(&[("__name__", "load"), ("i", &i.to_string())]).unwrap())
        .collect();
    for step in 0..300i64 {
        let mut app = db.appender();
        for s in &series {
            app.append(s, step * 15_000, step as f64).unwrap();
        }
        app.commit().unwrap();
    }
    db.close().unwrap();
    let segment = dir.join("wal").join("00000001");
    assert!(segment.is_file(), "the WAL has a second segment");
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[1000..1064].fill(0xa5);
    std::fs::write(&segment, bytes).unwrap();

    let server = RemoteServer::start(&dir, &tmp.path().join("server.log"));
    let addr = server.addr.clone();
    let end = 299 * 15;
    for path in [
        format!("/api/v1/query?query={}&time={end}", enc("count(load)")),
        format!("/api/v1/series?match[]=load&start=0&end={end}"),
        format!("/api/v1/labels?start=0&end={end}"),
    ] {
        let v = get_json(&addr, &path);
        assert_eq!(v["status"], "success", "{path}: {v}");
        let warnings = v["warnings"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: no warning for the cut WAL: {v}"));
        assert!(
            warnings
                .iter()
                .any(|w| w.as_str().is_some_and(|w| w.contains("00000001"))),
            "{path}: {v}"
        );
    }
    server.stop();
}

/// `--out-of-order-window`: a late sample inside the window is stored (204)
/// and queried beside the newer ones; one older than the window is a 400,
/// as Prometheus's receiver answers `out of bounds`/`too old`.
#[test]
fn the_out_of_order_window_flag_accepts_late_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let server = RemoteServer::start_with(
        &tmp.path().join("aion"),
        &tmp.path().join("server.log"),
        &["--out-of-order-window", "30m"],
    );
    let addr = server.addr.clone();
    let end = now_ms() / 1000 * 1000;
    let l = Labels::from_pairs(&[("__name__", "aion_late"), ("job", "aion")]).unwrap();
    let post = |samples: &[(i64, f64)]| {
        let mut b = WriteRequestBuilder::new();
        b.add_samples(&l, samples);
        http(&addr, "POST", "/api/v1/write", &RW1_HEADERS, &b.encode()).unwrap()
    };
    let r = post(&[(end, 3.0)]);
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let r = post(&[(end - 10 * 60_000, 1.0), (end - 5 * 60_000, 2.0)]);
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let r = post(&[(end - 2 * 3_600_000, 0.5)]);
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    let v = get_json(
        &addr,
        &format!(
            "/api/v1/query?query={}&time={}",
            enc("count_over_time(aion_late[1h])"),
            end / 1000
        ),
    );
    assert_eq!(v["data"]["result"][0]["value"][1], "3", "{v}");
    server.stop();
}
