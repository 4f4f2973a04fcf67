//! `aion query --max-query-bytes` / `aion query-range --max-query-bytes`
//! (issue 19): a query that needs more memory than the limit fails with
//! exit 1 and an error on stderr saying the limit, the need and what was
//! held, printing no partial answer; with room enough the answer is byte
//! for byte the one without the flag; a malformed size is a usage error.

#[path = "support/binaries.rs"]
mod binaries;

use std::path::{Path, PathBuf};
use std::process::Command;

use aion::model::Labels;
use aion::tsdb::{Db, Options};

/// 300 `load{i}` series every 15 s for an hour, in the head (WAL).
fn data_dir(root: &Path) -> PathBuf {
    let dir = root.join("data");
    let db = Db::open(
        &dir,
        Options {
            background_compaction: false,
            ..Options::default()
        },
    )
    .unwrap();
    let series: Vec<Labels> = (0..300)
        .map(|i| {
            Labels::from_pairs(&[
                ("__name__", "load"),
                ("instance", &format!("host-{i:03}.example.org:9100")),
                ("job", if i % 2 == 0 { "node" } else { "db" }),
            ])
            .unwrap()
        })
        .collect();
    for step in 0..=240i64 {
        let mut app = db.appender();
        for (i, s) in series.iter().enumerate() {
            app.append(s, step * 15_000, (step * (i as i64 + 1)) as f64)
                .unwrap();
        }
        app.commit().unwrap();
    }
    db.close().unwrap();
    dir
}

/// Runs `aion ARGS…`; returns (exit code, stdout, stderr).
fn aion(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binaries::aion_example())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn max_query_bytes_fails_the_query_or_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = data_dir(root.path());
    let dir = dir.to_str().unwrap();
    let range = |expr: &'static str, extra: &[&'static str]| {
        let mut args = vec![
            "query-range",
            dir,
            expr,
            "--start",
            "600",
            "--end",
            "3600",
            "--step",
            "30s",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        aion(&args)
    };
    let instant = |expr: &'static str, extra: &[&'static str]| {
        let mut args = vec!["query", dir, expr, "--time", "3600", "--format", "json"];
        args.extend_from_slice(extra);
        aion(&args)
    };
    type Run<'a> = &'a dyn Fn(&'static str, &[&'static str]) -> (i32, String, String);
    let cases: [(Run, &str); 4] = [
        // A range query over many series, a big topk, a subquery.
        (&range, "rate(load[5m])"),
        (&range, "topk(200, load)"),
        (&instant, "max_over_time(rate(load[5m])[30m:15s])"),
        (&instant, "sort_desc(load)"),
    ];
    for (run, expr) in cases {
        let (code, free, stderr) = run(expr, &[]);
        assert_eq!(code, 0, "{expr}: {stderr}");
        assert!(
            free.starts_with("{\"status\":\"success\""),
            "{expr}: {free}"
        );

        let (code, out, stderr) = run(expr, &["--max-query-bytes", "1GiB"]);
        assert_eq!((code, out.as_str()), (0, free.as_str()), "{expr}: {stderr}");

        let (code, out, stderr) = run(expr, &["--max-query-bytes", "16KiB"]);
        assert_eq!(code, 1, "{expr}: {out}");
        assert!(out.is_empty(), "{expr}: a partial answer: {out}");
        assert!(
            stderr.starts_with("aion: query processing would use too much memory: "),
            "{expr}: {stderr}"
        );
        assert!(stderr.contains("limit of 16384 bytes"), "{expr}: {stderr}");
        assert!(stderr.contains("--max-query-bytes"), "{expr}: {stderr}");
    }

    // A size the flag cannot read is a usage error (clap's exit 2).
    let (code, _, stderr) = range("load", &["--max-query-bytes", "64XB"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("invalid size \"64XB\""), "{stderr}");
    let (code, _, stderr) = range("load", &["--max-query-bytes", "0"]);
    assert_eq!(code, 2, "{stderr}");
}
