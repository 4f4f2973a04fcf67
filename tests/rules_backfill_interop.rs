//! `aion create-blocks-from rules` (examples/aion.rs), reading a data
//! directory in process, against `promtool tsdb create-blocks-from rules`
//! (2.42) querying a Prometheus 2.42 server started on a copy of the same
//! data: the blocks' dumps are equal, and so are their ranges and counts
//! (one block per rule and 2-hour window, as promtool writes them).
//!
//! The data is `support::promql_interop`'s dataset, whose samples sit
//! 7 s off the 15 s grid; the test checks that no group's evaluation slot
//! lands on a sample, so 2.42's left-closed and 3's left-open windows
//! select the same samples (docs/promql-2x-3x-differences.md).
//!
//! Without the binaries the test prints a note and passes, unless
//! `AION_REQUIRE_PROMTOOL=1`.

#[path = "support/promql_interop.rs"]
mod interop;

#[path = "support/binaries.rs"]
mod binaries;

use std::path::Path;
use std::process::Command;

use binaries::aion_example;
use interop::{Dataset, Prometheus, SAMPLE_OFFSET, SCRAPE, T0};

const RULES: &str = r#"groups:
  - name: http
    rules:
      - record: job:http_requests:rate5m
        expr: sum by (job) (rate(http_requests_total[5m]))
      - record: job_code:http_requests:rate5m
        expr: sum by (job, code) (rate(http_requests_total[5m]))
        labels:
          source: backfill
  - name: memory
    interval: 30s
    rules:
      - record: instance:node_memory_bytes:max
        expr: max by (instance, job) (node_memory_bytes)
      - record: memory_series
        expr: count(node_memory_bytes)
      - record: relabelled
        expr: node_memory_bytes{job="api"}
        labels:
          job: renamed
      - record: nothing
        expr: node_memory_bytes{job="none"}
"#;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `(minTime, maxTime, samples, series)` of every block in `dir`, sorted.
fn block_shapes(dir: &Path) -> Vec<(i64, i64, u64, u64)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let meta = e.unwrap().path().join("meta.json");
        let Ok(text) = std::fs::read_to_string(&meta) else {
            continue;
        };
        let m: serde_json::Value = serde_json::from_str(&text).unwrap();
        out.push((
            m["minTime"].as_i64().unwrap(),
            m["maxTime"].as_i64().unwrap(),
            m["stats"]["numSamples"].as_u64().unwrap(),
            m["stats"]["numSeries"].as_u64().unwrap(),
        ));
    }
    out.sort_unstable();
    out
}

/// Every file under `dir` with its size, to show nothing was written.
fn listing(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let md = e.metadata().unwrap();
            if md.is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path().display().to_string(), md.len()));
            }
        }
    }
    out.sort();
    out
}

/// Dumps equal line by line: series and timestamps exactly, values within
/// 1e-12 relative (3's Kahan summation and 2.42's plain one differ in the
/// last bits of `sum`).
fn compare_dumps(ours: &str, theirs: &str) {
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), theirs.lines().collect());
    assert_eq!(a.len(), b.len(), "dumps have different lengths");
    fn split(l: &str) -> (&str, f64, &str) {
        let (rest, ts) = l.rsplit_once(' ').unwrap();
        let (series, v) = rest.rsplit_once(' ').unwrap();
        (series, v.parse().unwrap(), ts)
    }
    let mut differ = Vec::new();
    for (x, y) in a.iter().zip(&b) {
        let ((sx, vx, tx), (sy, vy, ty)) = (split(x), split(y));
        let close = vx == vy
            || (vx.is_nan() && vy.is_nan())
            || (vx - vy).abs() <= 1e-12 * vx.abs().max(vy.abs());
        if sx != sy || tx != ty || !close {
            differ.push((x, y));
        }
    }
    assert!(
        differ.is_empty(),
        "{} lines differ; first (aion, promtool): {:#?}",
        differ.len(),
        &differ[..differ.len().min(5)]
    );
}

#[test]
fn backfilled_blocks_equal_promtools() {
    let Some((promtool, prometheus)) = interop::prometheus_binaries() else {
        return;
    };
    let aion = aion_example();
    let tmp = tempfile::tempdir().unwrap();
    let dataset = Dataset {
        instances_per_job: 2,
        hours: 5,
    };
    let om = tmp.path().join("data.om");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&om).unwrap());
    dataset.write_openmetrics(&mut f).unwrap();
    drop(f);
    let data = tmp.path().join("data");
    interop::promtool_blocks(&promtool, &om, &data).unwrap();
    let served = tmp.path().join("served");
    interop::copy_dir(&data, &served).unwrap();
    std::fs::write(tmp.path().join("rules.yml"), RULES).unwrap();

    // No evaluation slot may coincide with a sample (see the module doc).
    for (name, interval_ms) in [("http", 60_000), ("memory", 30_000)] {
        let offset_ms = (aion::rules::slot::eval_offset_ns(name, "rules.yml", interval_ms)
            + 500_000)
            / 1_000_000;
        let phase = (offset_ms - (T0 + SAMPLE_OFFSET) * 1000).rem_euclid(SCRAPE * 1000);
        assert_ne!(phase, 0, "group {name}'s slots fall on samples: rename it");
    }

    // From the middle of the first window to near the end: three windows.
    let (start, end) = (T0 + 1800, dataset.end() - 600);
    let (start, end) = (start.to_string(), end.to_string());
    let server = Prometheus::start(&prometheus, &served).unwrap();
    run(Command::new(&promtool)
        .current_dir(tmp.path())
        .args([
            "tsdb",
            "create-blocks-from",
            "rules",
            "--start",
            &start,
            "--end",
            &end,
        ])
        .arg(format!("--url=http://127.0.0.1:{}", server.port))
        .args(["--output-dir", "out-promtool", "rules.yml"]));
    drop(server);

    let before = listing(&data);
    let summary = run(Command::new(&aion)
        .current_dir(tmp.path())
        .args([
            "create-blocks-from",
            "rules",
            "--start",
            &start,
            "--end",
            &end,
        ])
        .args(["--output-dir", "out-aion", "data", "rules.yml"]));
    assert!(summary.starts_with("backfilled "), "{summary}");
    assert_eq!(listing(&data), before, "the data directory was written to");

    assert_eq!(
        tmp.path().join("out-promtool/wal").exists(),
        tmp.path().join("out-aion/wal").exists()
    );
    // `promtool tsdb dump` wants a WAL directory, which neither writes.
    let dump = |dir: &str| {
        std::fs::create_dir_all(tmp.path().join(dir).join("wal")).unwrap();
        run(Command::new(&promtool)
            .args(["tsdb", "dump"])
            .arg(tmp.path().join(dir)))
    };
    let (ours, theirs) = (dump("out-aion"), dump("out-promtool"));
    assert!(theirs.lines().count() > 1000, "too little output: {theirs}");
    for name in [
        "job:http_requests:rate5m",
        "job_code:http_requests:rate5m",
        "instance:node_memory_bytes:max",
        "memory_series",
        "relabelled",
    ] {
        assert!(
            theirs.contains(&format!("{{__name__=\"{name}\"")),
            "{name} missing"
        );
    }
    compare_dumps(&ours, &theirs);
    assert_eq!(
        block_shapes(&tmp.path().join("out-aion")),
        block_shapes(&tmp.path().join("out-promtool"))
    );
}

#[test]
fn bad_arguments_fail_as_promtool() {
    let aion = aion_example();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("rules.yml"), RULES).unwrap();
    std::fs::write(
        tmp.path().join("bad.yml"),
        "groups:\n  - name: g\n    rules:\n      - record: x\n        expr: 'sum('\n",
    )
    .unwrap();
    let code = |args: &[&str]| {
        let out = Command::new(&aion)
            .current_dir(tmp.path())
            .args(["create-blocks-from", "rules"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (c, err) = code(&["--start", "200", "--end", "100", "data", "rules.yml"]);
    assert_eq!(c, Some(1));
    assert!(err.contains("start time is not before end time"), "{err}");
    let (c, err) = code(&["--start", "0", "--end", "100", "data", "bad.yml"]);
    assert_eq!(c, Some(1));
    assert!(err.contains("rule importer parse error"), "{err}");
    let (c, _) = code(&["--end", "100", "data", "rules.yml"]);
    assert_eq!(c, Some(2));
    let (c, err) = code(&["--start", "0", "--end", "100", "missing", "rules.yml"]);
    assert_eq!(c, Some(1));
    assert!(err.contains("missing"), "{err}");
    std::fs::create_dir(tmp.path().join("data")).unwrap();
    let (c, err) = code(&[
        "--start",
        "0",
        "--end",
        "100",
        "--output-dir",
        "data",
        "data",
        "rules.yml",
    ]);
    assert_eq!(c, Some(1));
    assert!(err.contains("is DATA_DIR"), "{err}");
}
