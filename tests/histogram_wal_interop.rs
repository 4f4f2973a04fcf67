//! Native histograms in the head against Prometheus 2.42 on loopback, both
//! ways, through the WAL and `chunks_head/`:
//!
//! - Aion writes a head with integer and float histograms (counters with
//!   resets and new buckets, a gauge, float counters) and floats, enough
//!   for full histogram chunks in `chunks_head/`, and closes it;
//!   `prometheus --enable-feature=native-histograms` started on a copy
//!   replays Aion's WAL (records 7/8) and chunks and answers the raw range
//!   selectors and histogram functions exactly as `aion query` does on
//!   the original.
//! - Prometheus 2.42 with the remote-write receiver and native histograms
//!   is sent RW 1.0 histograms, answers queries, and is SIGKILLed: `aion
//!   query` on a copy of its directory (its WAL, its `chunks_head/`
//!   histogram chunks) answers the same.
//!
//! Answers are compared as data: series as label sets, float and
//! histogram points by timestamp, counts and sums exactly, bucket bounds
//! within 1e-12 relative (Aion rounds exponential bounds correctly where
//! 2.42's table is an ulp low, docs/promql-2x-3x-differences.md §11).
//! Custom-bucket histograms (records 9/10) are not part of it: 2.42 does
//! not know them; the head's tests round-trip them.
//!
//! Without Prometheus the tests print a note and pass, unless
//! `AION_REQUIRE_PROMTOOL=1` (set by `scripts/test`).

#[path = "support/api_compare.rs"]
mod api_compare;
#[path = "support/binaries.rs"]
mod binaries;
#[path = "support/http1.rs"]
mod http1;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use aion::chunkenc::STALE_NAN;
use aion::model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};
use aion::model::Labels;
use aion::remote::send::WriteRequestBuilder;
use aion::tsdb::{Db, Options};
use api_compare::{aion_query, compare, seconds};
use binaries::prometheus;
use http1::{free_addr, http, wait_ready};
use serde_json::Value as Json;

/// Start of the data (ms): 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000;
const STEP: i64 = 15_000;
/// Scrapes per series: 100 min at 15 s, less than the 3 h after which
/// Prometheus would cut a block out of its head.
const SCRAPES: i64 = 400;

/// Prometheus 2.42 with native histograms and the remote-write receiver
/// on `data`; SIGKILLed on drop.
struct Prometheus {
    child: Child,
    addr: String,
}

impl Prometheus {
    fn start(bin: &Path, work: &Path, data: &Path) -> Prometheus {
        let config = work.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1h\n").unwrap();
        let addr = free_addr();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-remote-write-receiver")
            .arg("--enable-feature=native-histograms")
            .arg("--storage.tsdb.retention.time=100y")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let p = Prometheus { child, addr };
        wait_ready(&p.addr, "/-/ready", "prometheus");
        p
    }

    /// The `data` of the API's answer to an instant query.
    fn query(&self, expr: &str, time_ms: i64) -> Json {
        let path = format!(
            "/api/v1/query?query={}&time={}",
            url_encode(expr),
            seconds(time_ms)
        );
        let r = http(&self.addr, "GET", &path, &[], b"").unwrap();
        let body = String::from_utf8_lossy(&r.body).to_string();
        assert_eq!(r.status, 200, "{expr}: {body}");
        let mut v: Json = serde_json::from_str(&body).unwrap();
        v["data"].take()
    }

    /// SIGKILL, as a crash.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and waits for the clean shutdown.
    fn terminate(mut self) {
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let _ = self.child.wait();
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn lbl(name: &str, job: &str) -> Labels {
    Labels::from_pairs(&[("__name__", name), ("job", job)]).unwrap()
}

/// An integer counter histogram after `i` scrapes: schema 1, a zero
/// bucket, negative buckets, positive buckets that grow unevenly (so
/// chunks fill by bytes), new buckets appearing at 100, a reset at 250.
fn counter_histogram(i: i64) -> Histogram {
    let j = if i >= 250 { i - 250 } else { i };
    let positive: i64 = if i >= 100 { 14 } else { 10 };
    // Each bucket grows by a pseudo-random 1..=11 per scrape.
    let grown = |b: i64| -> i64 { (0..=j).map(|k| 1 + (k * 7 + b * 13 + k * k) % 11).sum() };
    let counts: Vec<i64> = (0..positive).map(grown).collect();
    let negative: Vec<i64> = vec![j, 2 * j];
    let zero = j;
    let deltas = |v: &[i64]| {
        let mut prev = 0;
        v.iter()
            .map(|&c| {
                let d = c - prev;
                prev = c;
                d
            })
            .collect::<Vec<i64>>()
    };
    let count = counts.iter().sum::<i64>() + negative.iter().sum::<i64>() + zero;
    Histogram {
        counter_reset_hint: CounterResetHint::Unknown,
        schema: 1,
        zero_threshold: 0.001,
        zero_count: zero as u64,
        count: count as u64,
        sum: count as f64 * 0.75 + j as f64 * 0.125,
        positive_spans: vec![
            Span {
                offset: -2,
                length: 6,
            },
            Span {
                offset: 3,
                length: positive as u32 - 6,
            },
        ],
        positive_buckets: deltas(&counts),
        negative_spans: vec![Span {
            offset: 0,
            length: 2,
        }],
        negative_buckets: deltas(&negative),
        custom_values: Vec::new(),
    }
}

/// A gauge float histogram that goes up and down.
fn gauge_histogram(i: i64) -> FloatHistogram {
    let v = ((i * 37) % 23) as f64 + 0.5;
    FloatHistogram {
        counter_reset_hint: CounterResetHint::Gauge,
        schema: 0,
        zero_threshold: 1e-128,
        zero_count: 1.0,
        count: 1.0 + 3.0 * v,
        sum: v * 2.5 - 3.0,
        positive_spans: vec![Span {
            offset: 1,
            length: 3,
        }],
        positive_buckets: vec![v, v * 0.5, v * 1.5],
        ..FloatHistogram::default()
    }
}

/// The samples both directions write for scrape `i`; after the last
/// scrape, the integer and the gauge histogram series get a (float) stale
/// marker, which both store as a histogram stale marker.
struct Data;

impl Data {
    fn int(i: i64) -> Histogram {
        counter_histogram(i)
    }
    fn gauge(i: i64) -> FloatHistogram {
        gauge_histogram(i)
    }
    /// A float counter histogram: the integer one halved.
    fn float_counter(i: i64) -> FloatHistogram {
        let mut f = counter_histogram(i).to_float();
        f.count /= 2.0;
        f.sum /= 2.0;
        f.zero_count /= 2.0;
        f.positive_buckets.iter_mut().for_each(|b| *b /= 2.0);
        f.negative_buckets.iter_mut().for_each(|b| *b /= 2.0);
        f
    }
    fn float(i: i64) -> f64 {
        (i * 3) as f64 + 0.25
    }
}

/// The queries both directions compare: each series' raw samples over
/// windows ending at a few times (one series per selector: 2.42 mixes up
/// a float-histogram series and an integer one read right after it), and
/// histogram functions. Every time is 7 s off the sample grid, so no
/// sample sits on a window's start, where 2.42's windows (closed) and
/// 3.x's (open) differ (docs/promql-2x-3x-differences.md §1).
fn queries() -> Vec<(String, i64)> {
    let at = |i: i64| T0 + i * STEP + 7_000;
    let end = at(SCRAPES - 1);
    let mut q = Vec::new();
    for name in [
        "aion_interop_int",
        "aion_interop_gauge",
        "aion_interop_float_counter",
        "aion_interop_float",
    ] {
        q.push((format!("{name}[2h]"), end));
        q.push((format!("{name}[10m]"), at(260)));
        q.push((name.to_string(), at(123)));
    }
    // After the stale markers that end the two histogram series.
    for name in [
        "aion_interop_int",
        "aion_interop_gauge",
        "aion_interop_float_counter",
    ] {
        q.push((name.to_string(), at(SCRAPES)));
        q.push((format!("{name}[10m]"), at(SCRAPES)));
    }
    for expr in [
        "histogram_count(rate(aion_interop_int[5m]))",
        "histogram_sum(rate(aion_interop_int[5m]))",
        "histogram_count(aion_interop_gauge)",
        "histogram_sum(aion_interop_float_counter)",
    ] {
        for t in [at(120), at(255), end] {
            q.push((expr.to_string(), t));
        }
    }
    q
}

#[test]
fn prometheus_replays_what_aion_wrote() {
    let Some(bin) = prometheus() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("aion");
    let db = Db::open(
        &dir,
        Options {
            background_compaction: false,
            ..Options::default()
        },
    )
    .unwrap();
    let (int, gauge, fc, float) = (
        lbl("aion_interop_int", "a"),
        lbl("aion_interop_gauge", "b"),
        lbl("aion_interop_float_counter", "c"),
        lbl("aion_interop_float", "d"),
    );
    let mut app = db.appender();
    for i in 0..SCRAPES {
        let t = T0 + i * STEP;
        app.append_histogram(&int, t, &Data::int(i)).unwrap();
        app.append_float_histogram(&gauge, t, &Data::gauge(i))
            .unwrap();
        app.append_float_histogram(&fc, t, &Data::float_counter(i))
            .unwrap();
        app.append(&float, t, Data::float(i)).unwrap();
        app.commit().unwrap();
    }
    let end = T0 + SCRAPES * STEP;
    app.append(&int, end, STALE_NAN).unwrap();
    app.append(&gauge, end, STALE_NAN).unwrap();
    app.commit().unwrap();
    drop(app);
    db.close().unwrap();
    // Full histogram chunks went to chunks_head/ with their encodings.
    let chunk_files = std::fs::read_dir(dir.join("chunks_head")).unwrap().count();
    assert!(chunk_files > 0);

    let served = work.path().join("served");
    copy_dir(&dir, &served);
    std::fs::remove_file(served.join("lock")).ok();
    let prom = Prometheus::start(&bin, work.path(), &served);
    let mut empty = 0;
    for (expr, t) in queries() {
        let theirs = prom.query(&expr, t);
        let ours = aion_query(&dir, &expr, t);
        empty += usize::from(compare(&format!("{expr} @{t}"), &ours, &theirs) == 0);
    }
    // Only the instant selectors of the two ended series.
    assert_eq!(empty, 2);
}

#[test]
fn aion_replays_what_prometheus_received() {
    let Some(bin) = prometheus() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("prometheus");
    let prom = Prometheus::start(&bin, work.path(), &data);
    let headers = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "snappy"),
        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
    ];
    let (int, gauge, fc, float) = (
        lbl("aion_interop_int", "a"),
        lbl("aion_interop_gauge", "b"),
        lbl("aion_interop_float_counter", "c"),
        lbl("aion_interop_float", "d"),
    );
    // 20 scrapes per request, each request one commit in Prometheus.
    for start in (0..SCRAPES).step_by(20) {
        let mut b = WriteRequestBuilder::new();
        let ts: Vec<i64> = (start..(start + 20).min(SCRAPES)).collect();
        b.add_histograms(
            &int,
            &ts.iter()
                .map(|&i| (T0 + i * STEP, Data::int(i)))
                .collect::<Vec<_>>(),
        );
        b.add_float_histograms(
            &gauge,
            &ts.iter()
                .map(|&i| (T0 + i * STEP, Data::gauge(i)))
                .collect::<Vec<_>>(),
        );
        b.add_float_histograms(
            &fc,
            &ts.iter()
                .map(|&i| (T0 + i * STEP, Data::float_counter(i)))
                .collect::<Vec<_>>(),
        );
        b.add_samples(
            &float,
            &ts.iter()
                .map(|&i| (T0 + i * STEP, Data::float(i)))
                .collect::<Vec<_>>(),
        );
        let r = http(&prom.addr, "POST", "/api/v1/write", &headers, &b.encode()).unwrap();
        assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    }
    let mut b = WriteRequestBuilder::new();
    let end = T0 + SCRAPES * STEP;
    b.add_samples(&int, &[(end, STALE_NAN)]);
    b.add_samples(&gauge, &[(end, STALE_NAN)]);
    let r = http(&prom.addr, "POST", "/api/v1/write", &headers, &b.encode()).unwrap();
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let answers: Vec<(String, i64, Json)> = queries()
        .into_iter()
        .map(|(e, t)| {
            let a = prom.query(&e, t);
            (e, t, a)
        })
        .collect();
    // A crash: what Prometheus acknowledged is in its WAL (its m-mapped
    // chunks sit in a write buffer it flushes at 4 MiB or on shutdown).
    prom.kill();
    let copy = work.path().join("killed");
    copy_dir(&data, &copy);
    let mut empty = 0;
    for (expr, t, theirs) in &answers {
        let ours = aion_query(&copy, expr, *t);
        empty += usize::from(compare(&format!("{expr} @{t} (after SIGKILL)"), &ours, theirs) == 0);
    }
    assert_eq!(empty, 2);
    let db = Db::open_read_only(&copy).unwrap();
    let r = db.replay_report().clone();
    assert!(r.histograms_read >= 3 * SCRAPES as u64, "{r:?}");
    assert!(
        r.unknown_records.is_empty() && r.histograms_invalid == 0,
        "{r:?}"
    );
    drop(db);

    // Restarted, Prometheus replays its WAL and m-maps full chunks; shut
    // down cleanly, it flushes them to chunks_head/: Aion loads its
    // histogram chunks and answers the same.
    let prom = Prometheus::start(&bin, work.path(), &data);
    for (expr, t, theirs) in answers.iter().take(3) {
        let again = prom.query(expr, *t);
        compare(
            &format!("{expr} @{t} (Prometheus restarted)"),
            &again,
            theirs,
        );
    }
    prom.terminate();
    let copy = work.path().join("stopped");
    copy_dir(&data, &copy);
    let encodings = chunks_head_encodings(&copy.join("chunks_head"));
    assert!(
        encodings.contains(&2) && encodings.contains(&3),
        "Prometheus m-mapped no histogram chunks: {encodings:?}"
    );
    for (expr, t, theirs) in &answers {
        let ours = aion_query(&copy, expr, *t);
        compare(&format!("{expr} @{t} (after shutdown)"), &ours, theirs);
    }
    let db = Db::open_read_only(&copy).unwrap();
    let r = db.replay_report();
    // Samples inside the loaded chunks are not replayed again.
    assert!(r.mmapped_chunks > 0 && r.samples_skipped > 0, "{r:?}");
    assert!(
        r.mmapped_chunks_unreadable.is_empty() && r.mmapped_chunks_ignored == 0,
        "{r:?}"
    );
}

/// The encoding bytes of every chunk in a `chunks_head/` directory
/// (format: `docs/formats.md#chunks-head`).
fn chunks_head_encodings(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let b = std::fs::read(&f).unwrap();
        let mut at = 8;
        // series ref 8, mint 8, maxt 8, encoding 1, uvarint length, data, crc 4
        while at + 25 < b.len() {
            let encoding = b[at + 24];
            let (mut len, mut shift, mut p) = (0u64, 0, at + 25);
            while p < b.len() {
                let x = b[p];
                len |= u64::from(x & 0x7f) << shift;
                p += 1;
                if x < 0x80 {
                    break;
                }
                shift += 7;
            }
            if encoding == 0 || p + len as usize + 4 > b.len() {
                break;
            }
            out.push(encoding & 0x7f);
            at = p + len as usize + 4;
        }
    }
    out
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}
