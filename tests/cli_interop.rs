//! `aion list`, `aion analyze`, `aion labels` and `aion compact`
//! (examples/aion.rs) on a directory promtool built and on one Aion
//! built, against `promtool tsdb list` / `promtool tsdb analyze` and the
//! labels that were written.
//!
//! Without promtool the tests print a note and pass, unless
//! `AION_REQUIRE_PROMTOOL=1` (set by `scripts/test`), which makes them fail.

#[path = "support/binaries.rs"]
mod binaries;

use binaries::{aion_example, promtool};

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const JOBS: [&str; 3] = ["api", "db", "web"];

/// OpenMetrics text: `http_requests_total` for 3 jobs × 5 instances over
/// 5 h (every minute), and `up` for 8 nodes over hours 1–3 only, so
/// blocks differ in series and churn is not zero everywhere.
fn openmetrics() -> String {
    let start = 1_700_000_000i64;
    let mut s = String::from("# TYPE http_requests_total counter\n");
    for job in JOBS {
        for i in 0..5 {
            for t in (start..start + 5 * 3600).step_by(60) {
                let v = t - start;
                writeln!(
                    s,
                    "http_requests_total{{job=\"{job}\",instance=\"i{i}\",code=\"200\"}} {v} {t}"
                )
                .unwrap();
            }
        }
    }
    s.push_str("# TYPE up gauge\n");
    for i in 0..8 {
        for t in (start + 3600..start + 3 * 3600 - 600 * i).step_by(30) {
            writeln!(s, "up{{job=\"node\",instance=\"n{i}\"}} 1 {t}").unwrap();
        }
    }
    s.push_str("# EOF\n");
    s
}

/// `promtool tsdb analyze` output with each list section's lines sorted:
/// promtool orders ties arbitrarily (an unstable sort over a map).
fn normalized_analysis(text: &str) -> Vec<Vec<String>> {
    text.replace("\nSeries: ", "\nTotal Series: ")
        .split("\n\n")
        .map(|section| {
            let mut lines: Vec<String> = section.lines().map(str::to_string).collect();
            if lines.first().is_some_and(|l| l.ends_with(':')) {
                lines[1..].sort();
            }
            lines
        })
        .collect()
}

fn lines(text: &str) -> BTreeSet<String> {
    text.lines().map(str::to_string).collect()
}

/// The checks both kinds of directory get.
fn check_dir(aion: &Path, promtool: &Path, dir: &Path) {
    // list: the block table is promtool's, byte for byte.
    for flags in [&[][..], &["-r"][..]] {
        let theirs = run(Command::new(promtool)
            .args(["tsdb", "list"])
            .args(flags)
            .arg(dir));
        let ours = run(Command::new(aion).arg("list").args(flags).arg(dir));
        // The head's table, if any, follows a blank line.
        let ours_blocks = match ours.split_once("\n\n") {
            Some((blocks, _)) => format!("{blocks}\n"),
            None => ours,
        };
        assert_eq!(
            ours_blocks, theirs,
            "aion list {flags:?} differs from promtool"
        );
        assert!(theirs.lines().count() > 1, "{theirs}");
    }
    // analyze: same sections and figures, for every block.
    let listing = run(Command::new(promtool).args(["tsdb", "list"]).arg(dir));
    let ulids: Vec<&str> = listing
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let mut with_default: Vec<Option<&str>> = ulids.iter().copied().map(Some).collect();
    with_default.push(None);
    for ulid in with_default {
        let theirs = run(Command::new(promtool)
            .args(["tsdb", "analyze", "--limit=1000"])
            .arg(dir)
            .args(ulid));
        let ours = run(Command::new(aion)
            .args(["analyze", "--limit", "1000"])
            .arg(dir)
            .args(ulid));
        assert_eq!(
            normalized_analysis(&ours),
            normalized_analysis(&theirs),
            "analyze {ulid:?}:\n{ours}\n---\n{theirs}"
        );
    }
}

#[test]
fn list_analyze_labels_on_a_promtool_dir() {
    let Some(promtool) = promtool() else { return };
    let aion = aion_example();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("m.om");
    std::fs::write(&input, openmetrics()).unwrap();
    let dir = tmp.path().join("promtool");
    run(Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(&dir));
    check_dir(&aion, &promtool, &dir);

    let names = run(Command::new(&aion).arg("labels").arg(&dir));
    assert_eq!(names, "__name__\ncode\ninstance\njob\n");
    let jobs = run(Command::new(&aion).args(["labels"]).arg(&dir).arg("job"));
    assert_eq!(jobs, "api\ndb\nnode\nweb\n");
    let nodes = run(Command::new(&aion).arg("labels").arg(&dir).args([
        "instance",
        "--match",
        "up{job=\"node\"}",
    ]));
    assert_eq!(lines(&nodes), (0..8).map(|i| format!("n{i}")).collect());
    let two = run(Command::new(&aion).arg("labels").arg(&dir).args([
        "job",
        "--match",
        "{job=\"api\"}",
        "--match",
        "up",
    ]));
    assert_eq!(two, "api\nnode\n");
    let names_of_up = run(Command::new(&aion)
        .arg("labels")
        .arg(&dir)
        .args(["--match", "up"]));
    assert_eq!(names_of_up, "__name__\ninstance\njob\n");
}

/// 120 label sets for `bench write` (one JSON object per line).
fn bench_labels() -> String {
    let mut s = String::new();
    for i in 0..120 {
        writeln!(
            s,
            "{{\"__name__\":\"metric_{}\",\"instance\":\"host-{i}\",\"job\":\"{}\"}}",
            i % 7,
            JOBS[i % 3]
        )
        .unwrap();
    }
    s
}

#[test]
fn list_analyze_labels_compact_on_an_aion_dir() {
    let Some(promtool) = promtool() else { return };
    let aion = aion_example();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("labels.json");
    std::fs::write(&input, bench_labels()).unwrap();
    let out = tmp.path().join("bench");
    // 1000 scrapes 30 s apart: 8 h 20 min in the head, no block yet.
    run(Command::new(&aion)
        .args([
            "bench",
            "write",
            "--metrics",
            "120",
            "--scrapes",
            "1000",
            "--out",
        ])
        .arg(&out)
        .arg(&input));
    let dir = out.join("storage");
    let before = run(Command::new(&aion).arg("list").arg(&dir));
    let (blocks, head) = before.split_once("\n\n").expect("a head section");
    assert_eq!(blocks.lines().count(), 1, "{before}");
    let head_row: Vec<&str> = head.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(head_row[..4], ["30000", "30000000", "8h19m30s", "120"]);

    let compacted = run(Command::new(&aion).arg("compact").arg(&dir));
    // [0, 6 h) becomes three 2 h blocks; the newest block is never
    // merged, so nothing else happens.
    assert!(
        compacted.contains(": 3 head block(s), 0 compacted block(s) written, 0 block(s) deleted"),
        "{compacted}"
    );
    check_dir(&aion, &promtool, &dir);

    // Every sample is in exactly one of blocks and head.
    let after = run(Command::new(&aion).arg("list").arg(&dir));
    let (blocks, head) = after.split_once("\n\n").expect("a head section");
    let in_blocks: u64 = blocks
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(4).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(blocks.lines().count(), 4, "{after}");
    assert_eq!(in_blocks, 120 * 719, "{after}");
    assert!(
        head.lines().nth(1).unwrap().starts_with("21600000 "),
        "{after}"
    );
    let dumped = run(Command::new(&aion).arg("dump").arg(&dir));
    assert_eq!(dumped.lines().count(), 120 * 1000);

    let names = run(Command::new(&aion).arg("labels").arg(&dir).arg("__name__"));
    assert_eq!(
        lines(&names),
        (0..7).map(|i| format!("metric_{i}")).collect()
    );
    let hosts = run(Command::new(&aion).arg("labels").arg(&dir).args([
        "instance",
        "--match",
        "metric_3{job=\"api\"}",
    ]));
    let expected: BTreeSet<String> = (0..120)
        .filter(|i| i % 7 == 3 && i % 3 == 0)
        .map(|i| format!("host-{i}"))
        .collect();
    assert_eq!(lines(&hosts), expected);
    let head_report = run(Command::new(&aion).arg("analyze").arg(&dir).arg("head"));
    assert!(head_report.starts_with("Block ID: head\n"), "{head_report}");
    assert!(
        head_report.contains("\nTotal Series: 120\n"),
        "{head_report}"
    );
}

#[test]
fn new_commands_help_and_exit_codes() {
    let aion = aion_example();
    for cmd in ["list", "analyze", "labels", "compact", "import", "dump"] {
        let out = Command::new(&aion).args([cmd, "--help"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{cmd}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Examples:"),
            "{cmd} --help has no examples"
        );
        let out = Command::new(&aion)
            .args([cmd, "--no-such-flag"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing");
    for args in [
        vec!["list"],
        vec!["analyze"],
        vec!["labels"],
        vec!["compact"],
    ] {
        let out = Command::new(&aion)
            .args(&args)
            .arg(&missing)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
    assert!(!missing.exists(), "a command created the directory");
    let out = Command::new(&aion)
        .arg("labels")
        .arg(tmp.path())
        .args(["--match", "sum(x)"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid series selector"));
    let out = Command::new(&aion)
        .arg("analyze")
        .arg(tmp.path())
        .arg("01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
}
