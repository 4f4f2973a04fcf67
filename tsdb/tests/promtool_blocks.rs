//! Blocks between Aion and Prometheus 2.42 (Debian's `promtool` and
//! `prometheus`), in all three directions:
//!
//! * Aion's backfill of an OpenMetrics file gives blocks that
//!   `promtool tsdb dump` prints exactly as it prints the blocks
//!   `promtool tsdb create-blocks-from openmetrics` makes of the same file
//!   (and whose index and chunk files are byte-identical to them);
//! * Aion reads promtool's blocks and finds the same samples;
//! * `promtool tsdb analyze` accepts Aion's blocks, and a Prometheus server
//!   started on a directory of them answers a query with their samples.
//!
//! Without the binaries the tests print a note and pass, unless
//! `AION_REQUIRE_PROMTOOL=1` (set by `scripts/test`), which makes them fail.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aion_model::gotext::GoFloat;
use aion_storage::Queryable;
use aion_tsdb::backfill::{import_openmetrics, BackfillOptions};
use aion_tsdb::block::{Block, BlockMeta};
use aion_tsdb::{SampleIterator, ValueType};

fn binary(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from("/usr/bin").join(name);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("AION_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
        panic!("{name} not found but AION_REQUIRE_PROMTOOL=1 (apt-get install prometheus)");
    }
    eprintln!("note: {name} not found; skipping Prometheus interop test");
    None
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A few hundred series over 5 hours: counters, gauges with a handful of
/// distinct values, series starting late and ending early, odd intervals,
/// fractional-second timestamps, escapes in label values.
fn openmetrics_text() -> String {
    let start = 1_700_000_000i64; // seconds
    let mut out = String::new();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    out.push_str(
        "# HELP http_requests_total Requests \"served\".\n# TYPE http_requests_total counter\n",
    );
    for s in 0..200 {
        let job = ["api", "db", "web\\\"x\\\""][s % 3];
        let step = [15, 30, 10][s % 3];
        let (from, to) = match s % 7 {
            0 => (3600, 5 * 3600),
            1 => (0, 2 * 3600 + 1234),
            _ => (0, 5 * 3600),
        };
        let mut v = 0u64;
        let mut t = from;
        while t < to {
            v += rnd() % 10;
            let _ = writeln!(
                out,
                "http_requests_total{{job=\"{job}\",instance=\"10.0.{}.{}:9100\"}} {v} {}.{:03}",
                s / 50,
                s % 50,
                start + t,
                (s * 7) % 1000
            );
            t += step;
        }
    }
    out.push_str("# TYPE temperature_celsius gauge\n# UNIT temperature_celsius celsius\n");
    for s in 0..100 {
        let mut t = 0;
        while t < 5 * 3600 {
            let v = (rnd() % 64) as f64 * 0.25 - 4.0;
            let _ = writeln!(
                out,
                "temperature_celsius{{sensor=\"s{s}\"}} {v} {}",
                start + t
            );
            t += 60;
        }
    }
    out.push_str("# EOF\n");
    out
}

/// `promtool tsdb dump DIR`, lines sorted.
fn promtool_dump(promtool: &Path, dir: &Path) -> Vec<String> {
    std::fs::create_dir_all(dir.join("wal")).unwrap();
    let out = run(Command::new(promtool).args(["tsdb", "dump"]).arg(dir));
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// Every sample of every block in `dir`, read by Aion, in `promtool tsdb
/// dump`'s format, sorted.
fn aion_dump(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for b in blocks(dir) {
        let block = Block::open(&b).unwrap();
        block.verify().unwrap();
        let q = block.querier(i64::MIN, i64::MAX).unwrap();
        let mut set = q.select(true, None, &[]);
        while let Some(s) = set.next() {
            let mut s = s.unwrap();
            while s.samples.next() == ValueType::Float {
                let (t, v) = s.samples.at();
                lines.push(format!("{} {} {t}", s.labels, GoFloat(v)));
            }
            assert!(s.samples.err().is_none());
        }
    }
    lines.sort();
    lines
}

fn blocks(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").exists())
        .collect();
    v.sort();
    v
}

/// Block directories by min time.
fn blocks_by_min_time(dir: &Path) -> BTreeMap<i64, (PathBuf, BlockMeta)> {
    blocks(dir)
        .into_iter()
        .map(|p| {
            let m = BlockMeta::read(&p).unwrap();
            (m.min_time, (p, m))
        })
        .collect()
}

#[test]
fn backfill_matches_promtool_create_blocks_from() {
    let Some(promtool) = binary("promtool") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input.om");
    std::fs::write(&input, openmetrics_text()).unwrap();

    let theirs = tmp.path().join("promtool");
    run(Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(&theirs));
    let ours = tmp.path().join("aion");
    let report =
        import_openmetrics(&input, &ours, BackfillOptions::default(), &mut |_| {}).unwrap();
    assert!(report.blocks.len() >= 3);

    let their_dump = promtool_dump(&promtool, &theirs);
    let our_dump = promtool_dump(&promtool, &ours);
    assert!(their_dump.len() > 100_000, "{}", their_dump.len());
    assert_eq!(their_dump.len(), report.samples as usize);
    assert!(our_dump == their_dump, "promtool dumps differ");
    // Aion reads promtool's blocks and its own alike.
    assert!(
        aion_dump(&theirs) == their_dump,
        "Aion's dump of promtool's blocks differs"
    );
    assert!(
        aion_dump(&ours) == their_dump,
        "Aion's dump of its own blocks differs"
    );

    // Same block ranges and stats, same symbols, series and chunk time
    // ranges, and the same chunk bytes but for one 2.42 quirk: its bit
    // stream leaves a trailing zero byte after a byte-aligned write
    // (Prometheus 3 does not; Aion writes what Prometheus 3 writes). So the
    // files are byte-identical whenever no chunk ends that way.
    let (t, o) = (blocks_by_min_time(&theirs), blocks_by_min_time(&ours));
    assert_eq!(t.keys().collect::<Vec<_>>(), o.keys().collect::<Vec<_>>());
    let mut chunks_with_quirk = 0;
    let mut chunks = 0;
    for ((tp, tm), (op, om)) in t.values().zip(o.values()) {
        assert_eq!((tm.min_time, tm.max_time), (om.min_time, om.max_time));
        assert_eq!(tm.stats.num_samples, om.stats.num_samples);
        assert_eq!(tm.stats.num_series, om.stats.num_series);
        assert_eq!(tm.stats.num_chunks, om.stats.num_chunks);
        assert_eq!(tm.compaction.level, om.compaction.level);
        assert_eq!(
            std::fs::read(tp.join("tombstones")).unwrap(),
            std::fs::read(op.join("tombstones")).unwrap()
        );
        let (ti, oi) = (Block::open(tp).unwrap(), Block::open(op).unwrap());
        let syms = |b: &Block| -> Vec<String> {
            b.index()
                .symbols()
                .map(|s| s.unwrap().to_string())
                .collect()
        };
        assert_eq!(syms(&ti), syms(&oi));
        let mut quirk_free = true;
        for (x, y) in ti.index().series_iter().zip(oi.index().series_iter()) {
            let (x, y) = (x.unwrap(), y.unwrap());
            assert_eq!(x.labels, y.labels);
            assert_eq!(x.chunks.len(), y.chunks.len(), "{}", x.labels);
            for (a, b) in x.chunks.iter().zip(&y.chunks) {
                assert_eq!((a.min_time, a.max_time), (b.min_time, b.max_time));
                let (ea, da) = ti.chunks().chunk(a.chunk_ref).unwrap();
                let (eb, db) = oi.chunks().chunk(b.chunk_ref).unwrap();
                assert_eq!(ea, eb);
                chunks += 1;
                if da != db {
                    assert_eq!(
                        &da[..da.len() - 1],
                        db,
                        "{} chunk at {}",
                        x.labels,
                        a.min_time
                    );
                    assert_eq!(da[da.len() - 1], 0);
                    chunks_with_quirk += 1;
                    quirk_free = false;
                }
            }
        }
        if quirk_free {
            for f in ["index", "chunks/000001"] {
                let (a, b) = (
                    std::fs::read(tp.join(f)).unwrap(),
                    std::fs::read(op.join(f)).unwrap(),
                );
                assert!(a == b, "{f} of the block at {} differs", tm.min_time);
            }
        }
    }
    eprintln!("{chunks_with_quirk} of {chunks} chunks end in 2.42's extra zero byte");
    assert!(chunks_with_quirk < chunks / 4);
}

#[test]
fn promtool_analyze_accepts_aion_blocks() {
    let Some(promtool) = binary("promtool") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input.om");
    std::fs::write(&input, openmetrics_text()).unwrap();
    let ours = tmp.path().join("aion");
    let report =
        import_openmetrics(&input, &ours, BackfillOptions::default(), &mut |_| {}).unwrap();
    std::fs::create_dir_all(ours.join("wal")).unwrap();
    for meta in &report.blocks {
        let out = run(Command::new(&promtool)
            .args(["tsdb", "analyze"])
            .arg(&ours)
            .arg(meta.ulid.to_string()));
        assert!(out.contains(&format!("Block ID: {}", meta.ulid)), "{out}");
        assert!(
            out.contains(&format!("Series: {}", meta.stats.num_series)),
            "{out}"
        );
    }
}

/// A Prometheus server on a data directory, killed (by PID) when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let status = resp.split(' ').nth(1)?.parse().ok()?;
    let body = resp.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

#[test]
fn prometheus_serves_aion_blocks() {
    let Some(prometheus) = binary("prometheus") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input.om");
    std::fs::write(&input, openmetrics_text()).unwrap();
    let data = tmp.path().join("data");
    let report =
        import_openmetrics(&input, &data, BackfillOptions::default(), &mut |_| {}).unwrap();
    let config = tmp.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1h\n").unwrap();
    let port = free_port();
    let child = Command::new(&prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=100y")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((200, _)) = http_get(server.port, "/-/ready") {
            break;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            let mut err = String::new();
            server
                .child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("prometheus exited with {status}: {err}");
        }
        assert!(Instant::now() < deadline, "prometheus did not become ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The sum of every counter at the end of the data: each series' last
    // value, computed from the blocks by Aion.
    let end_ms = report.blocks.iter().map(|m| m.max_time).max().unwrap() - 1;
    let mut want = 0.0;
    let mut series = 0;
    for b in blocks(&data) {
        let block = Block::open(&b).unwrap();
        let q = block.querier(end_ms - 5 * 60_000 + 1, end_ms).unwrap();
        let mut set = q.select(
            true,
            None,
            &[aion_model::Matcher::equal(
                "__name__",
                "http_requests_total",
            )],
        );
        while let Some(s) = set.next() {
            let mut s = s.unwrap();
            let mut last = None;
            while s.samples.next() == ValueType::Float {
                last = Some(s.samples.at().1);
            }
            if let Some(v) = last {
                want += v;
                series += 1;
            }
        }
    }
    assert!(series > 50, "{series}");
    let t = format!("{}.{:03}", end_ms / 1000, end_ms % 1000);
    let path = format!("/api/v1/query?query=sum(http_requests_total)&time={t}");
    let (status, body) = http_get(server.port, &path).unwrap();
    assert_eq!(status, 200, "{body}");
    let expected = format!("\"{}\"]", GoFloat(want));
    assert!(body.contains(&expected), "want {expected} in {body}");
    let path = format!("/api/v1/query?query=count(http_requests_total)&time={t}");
    let (_, body) = http_get(server.port, &path).unwrap();
    assert!(
        body.contains(&format!("\"{series}\"]")),
        "want {series} in {body}"
    );
}

/// Blocks the Db writes itself — persisted from the head, then merged by
/// leveled compaction, with a deletion applied — are read by promtool
/// exactly as Aion wrote them: `promtool tsdb dump` of the directory
/// (blocks plus what is left in the head and WAL) prints every sample that
/// was appended and not deleted, and `promtool tsdb analyze` accepts the
/// compacted block.
#[test]
fn promtool_reads_blocks_the_db_persisted_and_compacted() {
    let Some(promtool) = binary("promtool") else {
        return;
    };
    use aion_model::{Labels, Matcher};
    use aion_tsdb::{Db, Options};
    const H: i64 = 3_600_000;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let db = Db::open(
        &dir,
        Options {
            background_compaction: false,
            ..Options::default()
        },
    )
    .unwrap();
    // 14 h from an aligned start: the first three 2 h blocks fill one 6 h
    // range, and blocks after them let the planner (like Prometheus's)
    // pick it.
    let start = 1_699_984_800_000;
    let mut expect = Vec::new();
    let mut t = start + 7_001;
    while t < start + 14 * H {
        let mut app = db.appender();
        for i in 0..20 {
            let l = Labels::from_pairs(&[
                ("__name__", if i % 2 == 0 { "up" } else { "requests_total" }),
                ("instance", &format!("host-{i}")),
            ])
            .unwrap();
            let v = ((t - start) / 15_000) as f64 * (i as f64 + 0.25);
            app.append(&l, t, v).unwrap();
            let deleted = i == 3 && (start + H..=start + 3 * H).contains(&t);
            if !deleted {
                expect.push(format!("{l} {} {t}", GoFloat(v)));
            }
        }
        app.commit().unwrap();
        t += 15_000;
    }
    db.compact().unwrap();
    db.delete(
        &[Matcher::equal("instance", "host-3")],
        start + H,
        start + 3 * H,
    )
    .unwrap();
    db.compact().unwrap();
    db.clean_tombstones().unwrap();
    let levels: Vec<i64> = db
        .blocks()
        .iter()
        .map(|b| b.meta().compaction.level)
        .collect();
    assert!(levels.contains(&2), "a compacted block exists: {levels:?}");
    db.close().unwrap();
    expect.sort();
    assert_eq!(promtool_dump(&promtool, &dir), expect);
    for b in blocks(&dir) {
        let ulid = b.file_name().unwrap().to_string_lossy().into_owned();
        let out = run(Command::new(&promtool)
            .args(["tsdb", "analyze"])
            .arg(&dir)
            .arg(&ulid));
        assert!(out.contains(&format!("Block ID: {ulid}")), "{out}");
    }
}
