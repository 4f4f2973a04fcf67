//! Out-of-order data directories against Prometheus 2.42 on loopback:
//!
//! - Prometheus with `out_of_order_time_window: 30m` and the remote-write
//!   receiver is fed out-of-order samples by remote write 1.0 (Aion's
//!   request builder, snappy), enough to m-map out-of-order chunks and
//!   write mmap markers, then SIGKILLed: `aion dump` of its directory
//!   (WAL, WBL, `chunks_head/`) equals `promtool tsdb dump`, both sorted.
//! - An Aion directory with out-of-order data (a block compacted from the
//!   out-of-order head, a WBL with mmap markers, out-of-order chunks in
//!   `chunks_head/`): Prometheus with the same window opens it (and is
//!   killed), and `promtool tsdb dump` then equals `aion dump`, which
//!   equals what was written.
//!
//! Without Prometheus the tests print a note and pass, unless
//! `AION_REQUIRE_PROMTOOL=1` (set by `scripts/test`).

#[path = "support/binaries.rs"]
mod binaries;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aion::model::gotext::GoFloat;
use aion::model::Labels;
use aion::remote::send::WriteRequestBuilder;
use aion::tsdb::{Db, Options};
use binaries::{aion_example, promtool};

const MIN: i64 = 60_000;
const WINDOW: i64 = 30 * MIN;

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

fn free_addr() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// One HTTP/1.1 request (Connection: close); the status code.
fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> u16 {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return 0;
    };
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    if s.write_all(req.as_bytes()).is_err() || s.write_all(body).is_err() {
        return 0;
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Prometheus 2.42 on `data` with the out-of-order window and the
/// remote-write receiver; SIGKILLed on drop.
struct Prometheus {
    child: Child,
    addr: String,
}

impl Prometheus {
    fn start(bin: &Path, work: &Path, data: &Path) -> Prometheus {
        let config = work.join("prometheus.yml");
        std::fs::write(
            &config,
            "global:\n  scrape_interval: 1h\nstorage:\n  tsdb:\n    out_of_order_time_window: 30m\n",
        )
        .unwrap();
        let addr = free_addr();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let p = Prometheus { child, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        while http(&p.addr, "GET", "/-/ready", &[], b"") != 200 {
            assert!(Instant::now() < deadline, "prometheus not ready after 60 s");
            std::thread::sleep(Duration::from_millis(200));
        }
        p
    }

    /// SIGKILL, as a crash.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sorted_stdout(cmd: &mut Command) -> Vec<String> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

fn promtool_dump(promtool: &Path, dir: &Path) -> Vec<String> {
    sorted_stdout(
        Command::new(promtool)
            .args(["tsdb", "dump", "--min-time", "0"])
            .arg(dir),
    )
}

fn aion_dump(dir: &Path) -> Vec<String> {
    sorted_stdout(Command::new(aion_example()).arg("dump").arg(dir))
}

fn series(i: usize) -> Labels {
    Labels::from_pairs(&[
        ("__name__", "aion_ooo_interop".to_string()),
        ("i", i.to_string()),
    ])
    .unwrap()
}

/// The dump lines of `samples`, as both dumps print them, sorted.
fn lines_of(samples: &BTreeMap<(usize, i64), f64>) -> Vec<String> {
    let mut v: Vec<String> = samples
        .iter()
        .map(|(&(i, t), &x)| format!("{} {} {t}", series(i), GoFloat(x)))
        .collect();
    v.sort();
    v
}

#[test]
fn aion_reads_what_prometheus_stored_out_of_order() {
    let Some(bin) = prometheus_binary() else {
        return;
    };
    let Some(promtool) = promtool() else { return };
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let prom = Prometheus::start(&bin, work.path(), &data);
    let headers = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "snappy"),
        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
    ];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        / 1000
        * 1000;
    let mut want = BTreeMap::new();
    let mut send = |batch: Vec<(usize, i64, f64)>| {
        let mut b = WriteRequestBuilder::new();
        for i in 0..3 {
            let pts: Vec<(i64, f64)> = batch
                .iter()
                .filter(|s| s.0 == i)
                .map(|s| (s.1, s.2))
                .collect();
            if !pts.is_empty() {
                b.add_samples(&series(i), &pts);
            }
        }
        let st = http(&prom.addr, "POST", "/api/v1/write", &headers, &b.encode());
        assert_eq!(st, 204);
        for (i, t, v) in batch {
            want.insert((i, t), v);
        }
    };
    // In order: every 10 s over the last 20 minutes, even slots only.
    let start = now - 20 * MIN;
    send(
        (0..120)
            .filter(|k| k % 2 == 0)
            .flat_map(|k| (0..3).map(move |i| (i, start + k * 10_000, (k * 3 + i as i64) as f64)))
            .collect(),
    );
    // Out of order, newest first, in batches: 60 per series, so chunks of
    // 32 are m-mapped and markers written.
    let odd: Vec<i64> = (0..120).filter(|k| k % 2 == 1).rev().collect();
    for part in odd.chunks(7) {
        send(
            part.iter()
                .flat_map(|&k| (0..3).map(move |i| (i, start + k * 10_000, k as f64 + 0.5)))
                .collect(),
        );
    }
    prom.kill();
    assert!(data.join("wbl").is_dir());

    let theirs = promtool_dump(&promtool, &data);
    let ours = aion_dump(&data);
    assert_eq!(theirs.len(), 3 * 120, "promtool sees every sample");
    assert_eq!(
        ours, theirs,
        "aion dump | sort differs from promtool tsdb dump | sort"
    );
    assert_eq!(ours, lines_of(&want));
}

#[test]
fn prometheus_reads_what_aion_stored_out_of_order() {
    let Some(bin) = prometheus_binary() else {
        return;
    };
    let Some(promtool) = promtool() else { return };
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let opts = Options {
        out_of_order_time_window_ms: WINDOW,
        background_compaction: false,
        ..Options::default()
    };
    // A recent base aligned to the block range.
    let base = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        / (2 * 60 * MIN)
        - 1)
        * (2 * 60 * MIN);
    let mut want = BTreeMap::new();
    {
        let db = Db::open(&data, opts.clone()).unwrap();
        let mut app = db.appender();
        let mut put = |app: &mut aion::tsdb::Appender, i: usize, t: i64, v: f64| {
            app.append(&series(i), t, v).unwrap();
            want.insert((i, t), v);
        };
        // In order from base+2h for 20 minutes at 10 s.
        for k in 0..120 {
            for i in 0..3 {
                put(&mut app, i, base + 120 * MIN + k * 10_000, k as f64);
            }
            app.commit().unwrap();
        }
        // Out of order before base+2h (within the window): they belong to
        // the block [base, base+2h), where no in-order data is.
        for k in 1..=30 {
            for i in 0..3 {
                put(&mut app, i, base + 120 * MIN - k * 10_000, -(k as f64));
            }
            app.commit().unwrap();
        }
        let ooo_blocks = db.compact_out_of_order().unwrap();
        assert_eq!(ooo_blocks.len(), 1);
        // More in order, with holes filled out of order afterwards: these
        // stay in the WBL, in m-mapped out-of-order chunks and in memory.
        for k in 120..240 {
            for i in 0..3 {
                if !(150..200).contains(&k) || k % 2 == 0 {
                    put(&mut app, i, base + 120 * MIN + k * 10_000, k as f64);
                }
            }
            app.commit().unwrap();
        }
        for k in (150..200).filter(|k| k % 2 == 1).rev() {
            for i in 0..3 {
                put(&mut app, i, base + 120 * MIN + k * 10_000, k as f64 + 0.25);
            }
            app.commit().unwrap();
        }
        assert_eq!(db.head_stats(0).out_of_order_appended, 3 * (30 + 25));
        db.close().unwrap();
    }
    let meta = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("meta.json").exists())
        .map(|p| std::fs::read_to_string(p.join("meta.json")).unwrap())
        .unwrap();
    assert!(
        meta.contains("\"hints\"") && meta.contains("\"from-out-of-order\""),
        "{meta}"
    );
    let expect = lines_of(&want);
    assert_eq!(aion_dump(&data), expect, "aion dump of its own directory");

    let prom = Prometheus::start(&bin, work.path(), &data);
    prom.kill();
    let theirs = promtool_dump(&promtool, &data);
    let ours = aion_dump(&data);
    assert_eq!(theirs.len(), expect.len(), "promtool sees every sample");
    assert_eq!(
        ours, theirs,
        "aion dump | sort differs from promtool tsdb dump | sort"
    );
    assert_eq!(ours, expect);
}
