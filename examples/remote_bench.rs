//! `remote_bench`: the remote write/read benchmarks of BENCHMARKS.md
//! ("Remote write and read"), run against real servers on loopback.
//!
//! ```text
//! cargo build --release --example remote_server --example remote_bench
//! target/release/examples/remote_bench write   # receive throughput, bytes per sample
//! target/release/examples/remote_bench read    # streamed read of 10k series × 6 h
//! ```
//!
//! `write` sends the same pre-encoded bodies (2,000 samples each: 1,000
//! series × 2 scrapes, series split between the client threads so every
//! series stays in order) to, in turn: Aion's receiver in process
//! (decode + append into a `Db`, no HTTP), `remote_server`, Prometheus
//! 2.42 (`--web.enable-remote-write-receiver`) and VictoriaMetrics
//! (`/api/v1/write`), each on a fresh data directory; one and two client
//! threads; a warm-up run that creates the series, then `--reps` timed
//! runs (median reported). RW 2.0 goes to Aion only: neither peer here
//! reads it. Each server's peak RSS is its `VmHWM` at the end.
//!
//! `read` writes 10k series × 6 h of 15 s samples into a data directory
//! (cut into blocks), starts `remote_server` (and Prometheus 2.42) on it
//! and times a STREAMED_XOR_CHUNKS read of everything, frames decoded and
//! CRC-checked by the client, with the server's peak RSS.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use aion_model::Labels;
use aion_remote::codec;
use aion_remote::content_type::CONTENT_TYPE_V2;
use aion_remote::proto::{
    label_matcher, read_request::ResponseType, LabelMatcher, Query, ReadRequest,
};
use aion_remote::read::ChunkedReader;
use aion_remote::send::{RequestBuilder, WriteRequestBuilder};
use aion_remote::write::Receiver;
use aion_storage::Appendable;
use aion_tsdb::{Db, Options};

#[path = "remote_bench/client.rs"]
mod client;
#[path = "../tests/support/proc_status.rs"]
mod proc_status;

use client::Conn;

const SERIES: usize = 10_000;
const SERIES_PER_BODY: usize = 1_000;
const SCRAPES_PER_BODY: usize = 2;
const ROUNDS_PER_RUN: usize = 30;
const STEP_MS: i64 = 15_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Proto {
    V1,
    V2,
}

impl Proto {
    fn headers(self) -> [(&'static str, &'static str); 3] {
        match self {
            Proto::V1 => [
                ("Content-Type", "application/x-protobuf"),
                ("Content-Encoding", "snappy"),
                ("X-Prometheus-Remote-Write-Version", "0.1.0"),
            ],
            Proto::V2 => [
                ("Content-Type", CONTENT_TYPE_V2),
                ("Content-Encoding", "snappy"),
                ("X-Prometheus-Remote-Write-Version", "2.0.0"),
            ],
        }
    }
}

/// Series `i`: a node-exporter-like label set.
fn series_labels(i: usize) -> Labels {
    Labels::from_pairs(&[
        ("__name__", format!("node_metric_{}", i % 50).as_str()),
        (
            "instance",
            format!("10.0.{}.{}:9100", i / 250, i % 250).as_str(),
        ),
        ("job", "node"),
        ("mode", ["user", "system", "idle", "iowait"][i % 4]),
    ])
    .expect("valid labels")
}

fn value(i: usize, round: usize) -> f64 {
    (round * (i % 97 + 1)) as f64 * 0.25 + (i % 13) as f64
}

/// The bodies of rounds `[first, first + rounds)`, per client thread
/// (thread `k` of `threads` owns the series blocks `b % threads == k`).
fn bodies(
    proto: Proto,
    base: i64,
    first: usize,
    rounds: usize,
    threads: usize,
) -> Vec<Vec<Vec<u8>>> {
    let mut per_thread = vec![Vec::new(); threads];
    for pair in (first..first + rounds).step_by(SCRAPES_PER_BODY) {
        for block in 0..SERIES / SERIES_PER_BODY {
            let series = block * SERIES_PER_BODY..(block + 1) * SERIES_PER_BODY;
            let body = match proto {
                Proto::V1 => {
                    let mut b = WriteRequestBuilder::new();
                    for i in series {
                        let pts: Vec<(i64, f64)> = (pair..pair + SCRAPES_PER_BODY)
                            .map(|r| (base + r as i64 * STEP_MS, value(i, r)))
                            .collect();
                        b.add_samples(&series_labels(i), &pts);
                    }
                    b.encode()
                }
                Proto::V2 => {
                    let mut b = RequestBuilder::new();
                    for i in series {
                        let pts: Vec<(i64, f64, i64)> = (pair..pair + SCRAPES_PER_BODY)
                            .map(|r| (base + r as i64 * STEP_MS, value(i, r), 0))
                            .collect();
                        b.add_samples(&series_labels(i), &pts, None);
                    }
                    b.encode()
                }
            };
            per_thread[block % threads].push(body);
        }
    }
    per_thread
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

/// Where the bodies go.
enum Target {
    InProcess(Box<Db>),
    Http(String),
}

/// Sends every thread's bodies; samples per second over the wall time.
fn run(target: &Target, proto: Proto, per_thread: &[Vec<Vec<u8>>]) -> f64 {
    let samples: usize =
        per_thread.iter().map(Vec::len).sum::<usize>() * SERIES_PER_BODY * SCRAPES_PER_BODY;
    let barrier = Barrier::new(per_thread.len() + 1);
    let headers = proto.headers();
    let elapsed = std::thread::scope(|s| {
        for bodies in per_thread {
            let barrier = &barrier;
            s.spawn(move || match target {
                Target::InProcess(db) => {
                    let rx = Receiver::new(&**db);
                    barrier.wait();
                    for b in bodies {
                        let r = rx.receive(Some(headers[0].1), Some("snappy"), b);
                        assert_eq!(r.status.code(), 204, "{}", r.message);
                    }
                }
                Target::Http(addr) => {
                    let mut c = Conn::connect(addr).expect("connect");
                    barrier.wait();
                    for b in bodies {
                        let (st, body) = c
                            .request("POST", "/api/v1/write", &headers, b)
                            .expect("write");
                        assert!(st / 100 == 2, "{st}: {}", String::from_utf8_lossy(&body));
                    }
                }
            });
        }
        barrier.wait();
        let t0 = Instant::now();
        // Scope end joins the threads.
        t0
    });
    let secs = elapsed.elapsed().as_secs_f64();
    samples as f64 / secs
}

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    format!("127.0.0.1:{}", l.local_addr().expect("addr").port())
}

fn wait_ready(addr: &str, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(mut c) = Conn::connect(addr) {
            if matches!(c.request("GET", path, &[], b""), Ok((200, _))) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{addr}{path} not ready after 60 s");
}

/// A server process, stopped (SIGTERM) on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn remote_server(dir: &Path) -> Server {
        let bin = std::env::current_exe()
            .expect("own path")
            .with_file_name("remote_server");
        let mut child = Command::new(&bin)
            .args(["--listen", "127.0.0.1:0", "--dir"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (cargo build --release --example remote_server)",
                    bin.display()
                )
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("listening line");
        let addr = line.trim().trim_start_matches("listening on ").to_string();
        Server { child, addr }
    }

    fn prometheus(dir: &Path) -> Option<Server> {
        let bin = Path::new("/usr/bin/prometheus");
        if !bin.exists() {
            eprintln!("note: no /usr/bin/prometheus; skipped");
            return None;
        }
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1h\n").expect("config");
        let addr = free_addr();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus");
        wait_ready(&addr, "/-/ready");
        Some(Server { child, addr })
    }

    fn victoria_metrics(dir: &Path) -> Option<Server> {
        let bin = Path::new("/usr/bin/victoria-metrics");
        if !bin.exists() {
            eprintln!("note: no /usr/bin/victoria-metrics; skipped");
            return None;
        }
        let addr = free_addr();
        let child = Command::new(bin)
            .arg(format!("-storageDataPath={}", dir.join("vm").display()))
            .arg(format!("-httpListenAddr={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("victoria-metrics");
        wait_ready(&addr, "/health");
        Some(Server { child, addr })
    }

    fn peak_rss_kb(&self) -> u64 {
        proc_status::vm_hwm_kb(&self.child.id().to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A target under load: its name, protocol, where its bodies go and the
/// next round it has not been sent.
struct Load {
    name: &'static str,
    proto: Proto,
    target: Target,
    server: Option<Server>,
    round: usize,
    /// (threads, samples/s, CPU µs per sample) of the timed runs.
    runs: Vec<(usize, f64, f64)>,
}

impl Load {
    /// The process doing the receiving: the server, or this one.
    fn pid(&self) -> String {
        self.server
            .as_ref()
            .map_or("self".to_string(), |s| s.child.id().to_string())
    }
}

/// User + system CPU time of process `pid` in seconds, from
/// `/proc/PID/stat` (clock ticks of 1/100 s, Linux's `USER_HZ`). On a
/// shared machine wall-clock throughput follows the scheduler; CPU time
/// per sample is the cost that does not.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the command: state is field 3, utime 14, stime 15.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// For 1 and 2 client threads: a warm-up run, then `reps` timed runs,
/// each run going to every target in turn, so the machine's noise falls
/// on all of them alike.
fn measure(loads: &mut [Load], reps: usize, base: i64) {
    for threads in [1, 2] {
        for rep in 0..=reps {
            for l in loads.iter_mut() {
                let per_thread = bodies(l.proto, base, l.round, ROUNDS_PER_RUN, threads);
                l.round += ROUNDS_PER_RUN;
                let pid = l.pid();
                let cpu0 = cpu_seconds(&pid);
                let r = run(&l.target, l.proto, &per_thread);
                let cpu = cpu_seconds(&pid) - cpu0;
                let samples = (ROUNDS_PER_RUN * SERIES) as f64;
                if rep > 0 {
                    l.runs.push((threads, r, cpu * 1e6 / samples));
                }
            }
        }
    }
}

fn report(l: &Load) {
    let rss = l.server.as_ref().map(Server::peak_rss_kb);
    for threads in [1, 2] {
        let mine = || l.runs.iter().filter(|r| r.0 == threads);
        let mut runs: Vec<f64> = mine().map(|r| r.1).collect();
        let mut cpu: Vec<f64> = mine().map(|r| r.2).collect();
        let shown: Vec<String> = runs.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "{:<22} {:?} threads={threads} samples_per_sec_median={:.0} runs=[{}] cpu_us_per_sample_median={:.2} peak_rss_kb={}",
            l.name,
            l.proto,
            median(&mut runs),
            shown.join(","),
            median(&mut cpu),
            rss.map_or("-".to_string(), |k| k.to_string())
        );
    }
}

/// `only`: run just the targets whose name contains it.
fn write_bench(reps: usize, only: Option<&str>) {
    // Timestamps from 70 min ago, 15 s apart: every target accepts them
    // (Prometheus's head takes samples within an hour of its newest).
    let base = now_ms() - 70 * 60_000;
    for proto in [Proto::V1, Proto::V2] {
        let b = bodies(proto, base, 0, 2, 1);
        let compressed: usize = b[0].iter().map(Vec::len).sum();
        let raw: usize = b[0]
            .iter()
            .map(|x| {
                aion_remote::snappy::decompress(x, 1 << 30)
                    .expect("snappy")
                    .len()
            })
            .sum();
        let samples = SERIES * 2;
        println!(
            "wire {proto:?}: {:.2} bytes/sample compressed, {:.2} uncompressed ({} bodies of {} samples)",
            compressed as f64 / samples as f64,
            raw as f64 / samples as f64,
            b[0].len(),
            SERIES_PER_BODY * SCRAPES_PER_BODY
        );
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = |name: &str| {
        let d = tmp.path().join(name);
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    };
    let load = |name, proto, target, server| Load {
        name,
        proto,
        target,
        server,
        round: 0,
        runs: Vec::new(),
    };
    let want = |name: &str| only.is_none_or(|o| name.contains(o));
    let mut loads = Vec::new();
    for (proto, d) in [(Proto::V1, "in1"), (Proto::V2, "in2")] {
        if !want("aion in-process") {
            break;
        }
        let db = Db::open(dir(d), Options::default()).expect("db");
        loads.push(load(
            "aion in-process",
            proto,
            Target::InProcess(Box::new(db)),
            None,
        ));
    }
    for (proto, d) in [(Proto::V1, "rs1"), (Proto::V2, "rs2")] {
        if !want("aion remote_server") {
            break;
        }
        let s = Server::remote_server(&dir(d));
        loads.push(load(
            "aion remote_server",
            proto,
            Target::Http(s.addr.clone()),
            Some(s),
        ));
    }
    if let Some(s) = want("prometheus")
        .then(|| Server::prometheus(&dir("prom")))
        .flatten()
    {
        loads.push(load(
            "prometheus 2.42",
            Proto::V1,
            Target::Http(s.addr.clone()),
            Some(s),
        ));
    }
    if let Some(s) = want("victoria")
        .then(|| Server::victoria_metrics(&dir("vm")))
        .flatten()
    {
        loads.push(load(
            "victoria-metrics 1.79",
            Proto::V1,
            Target::Http(s.addr.clone()),
            Some(s),
        ));
    }
    measure(&mut loads, reps, base);
    for l in &loads {
        report(l);
    }
}

/// 10k series × `hours` of 15 s samples ending now, cut into blocks.
fn read_setup(dir: &Path, hours: i64) -> usize {
    let options = Options {
        background_compaction: false,
        ..Options::default()
    };
    let db = Db::open(dir, options).expect("db");
    let labels: Vec<Labels> = (0..SERIES).map(series_labels).collect();
    let points = (hours * 3_600_000 / STEP_MS) as usize;
    let end = now_ms() / STEP_MS * STEP_MS;
    let start = end - (points as i64 - 1) * STEP_MS;
    let mut refs = vec![0u64; SERIES];
    for p in 0..points {
        let t = start + p as i64 * STEP_MS;
        let mut app = Appendable::appender(&db);
        for (i, l) in labels.iter().enumerate() {
            refs[i] = app.append(refs[i], l, t, value(i, p)).expect("append");
        }
        app.commit().expect("commit");
        if p % 480 == 479 {
            db.compact().expect("compact");
        }
    }
    db.compact().expect("compact");
    db.close().expect("close");
    points * SERIES
}

/// One streamed read of everything: (seconds, series, chunks, samples, bytes).
fn streamed_read(addr: &str) -> (f64, usize, usize, usize, usize) {
    let req = ReadRequest {
        queries: vec![Query {
            start_timestamp_ms: 0,
            end_timestamp_ms: i64::MAX / 2,
            matchers: vec![LabelMatcher {
                r#type: label_matcher::Type::Re as i32,
                name: "__name__".into(),
                value: "node_metric_.*".into(),
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
    let mut c = Conn::connect(addr).expect("connect");
    let t0 = Instant::now();
    let (status, stream) = c
        .stream("POST", "/api/v1/read", &headers, &body)
        .expect("read");
    assert_eq!(status, 200);
    let mut counting = CountingRead {
        inner: stream,
        n: 0,
    };
    let (mut series, mut chunks, mut samples) = (0, 0, 0);
    {
        let mut reader = ChunkedReader::new(&mut counting, 16 << 20);
        let mut last = String::new();
        while let Some(frame) = reader.next_frame().expect("frame") {
            for s in &frame.chunked_series {
                let key: String = s
                    .labels
                    .iter()
                    .map(|l| format!("{}={},", l.name, l.value))
                    .collect();
                if key != last {
                    series += 1;
                    last = key;
                }
                for ch in &s.chunks {
                    chunks += 1;
                    samples += u16::from_be_bytes([ch.data[0], ch.data[1]]) as usize;
                }
            }
        }
    }
    (
        t0.elapsed().as_secs_f64(),
        series,
        chunks,
        samples,
        counting.n,
    )
}

struct CountingRead<R> {
    inner: R,
    n: usize,
}

impl<R: std::io::Read> std::io::Read for CountingRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k;
        Ok(k)
    }
}

fn read_bench(reps: usize) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("aion");
    let t0 = Instant::now();
    let written = read_setup(&dir, 6);
    println!(
        "setup: {written} samples in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let copy = tmp.path().join("prom");
    copy_dir(&dir, &copy.join("data"));
    let mut servers = vec![("aion remote_server", Server::remote_server(&dir))];
    if let Some(p) = Server::prometheus(&copy) {
        servers.push(("prometheus 2.42", p));
    }
    for (name, server) in &servers {
        let before = server.peak_rss_kb();
        let mut times = Vec::new();
        let mut last = (0, 0, 0, 0);
        for _ in 0..reps {
            let (secs, series, chunks, samples, bytes) = streamed_read(&server.addr);
            times.push(secs);
            last = (series, chunks, samples, bytes);
        }
        println!(
            "{name:<20} streamed read: median {:.2} s (runs {:?}) series={} chunks={} samples={} bytes={} peak_rss_kb before={} after={}",
            median(&mut times.clone()),
            times.iter().map(|t| format!("{t:.2}")).collect::<Vec<_>>(),
            last.0,
            last.1,
            last.2,
            last.3,
            before,
            server.peak_rss_kb()
        );
    }
}

fn copy_dir(from: &Path, to: &PathBuf) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else if e.file_name() != "lock" {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let reps = args
        .iter()
        .position(|a| a == "--reps")
        .and_then(|i| args.get(i + 1))
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    match args.first().map(String::as_str) {
        Some("write") => {
            let only = args
                .iter()
                .position(|a| a == "--only")
                .and_then(|i| args.get(i + 1))
                .map(String::as_str);
            write_bench(reps, only)
        }
        Some("read") => read_bench(reps),
        _ => {
            eprintln!("usage: remote_bench write [--reps N] [--only TARGET] | read [--reps N]");
            std::process::exit(2);
        }
    }
}
