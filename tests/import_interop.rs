//! `aion import openmetrics` (examples/aion.rs) against
//! `promtool tsdb create-blocks-from openmetrics` on the same file of a few
//! hundred series over 5 hours:
//!
//! * `promtool tsdb dump | sort` of Aion's blocks equals that of
//!   promtool's blocks;
//! * `aion dump | sort` of promtool's blocks equals both;
//! * invalid input fails naming the line, and leaves the directory as it
//!   was.
//!
//! Without promtool the tests print a note and pass, unless
//! `AION_REQUIRE_PROMTOOL=1` (set by `scripts/test`), which makes them fail.

#[path = "support/binaries.rs"]
mod binaries;

use binaries::{aion_example, promtool};

use std::fmt::Write as _;
use std::process::Command;

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn sorted_lines(out: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// 300 series over 5 hours: counters with varying intervals, gauges with
/// fractional values and NaN/Inf, series that start late or stop early,
/// samples of one family interleaved out of time order.
fn generated() -> String {
    let start = 1_699_999_000i64;
    let mut s = String::new();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    s.push_str("# HELP requests_total Requests.\n# TYPE requests_total counter\n");
    for i in 0..200 {
        let step = [15, 30, 60][i % 3];
        let (from, to) = if i % 10 == 0 {
            (7200, 18000)
        } else {
            (0, 18000 - (i % 4) * 1000)
        };
        let mut v = 0u64;
        let mut t = from as i64;
        while t < to as i64 {
            v += rnd() % 5;
            let _ = writeln!(
                s,
                "requests_total{{code=\"{}\",handler=\"/api/v{}\",pod=\"p-{i}\"}} {v} {}",
                [200, 404, 500][i % 3],
                i % 7,
                start + t
            );
            t += step;
        }
    }
    s.push_str("# TYPE load gauge\n");
    // Time-ordered per series, but the series interleaved sample by sample.
    let mut t = 0i64;
    while t < 18000 {
        for i in 0..100 {
            let v = match rnd() % 50 {
                0 => "NaN".to_string(),
                1 => "+Inf".to_string(),
                k => format!("{}", (k as f64 - 25.0) / 8.0),
            };
            let _ = writeln!(s, "load{{cpu=\"{i}\"}} {v} {}.{:03}", start + t, i * 10);
        }
        t += 60;
    }
    s.push_str("# EOF\n");
    s
}

#[test]
fn import_then_dump_equals_promtool() {
    let Some(promtool) = promtool() else { return };
    let aion = aion_example();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("metrics.om");
    std::fs::write(&input, generated()).unwrap();

    let ours = tmp.path().join("aion");
    let summary = run(Command::new(&aion)
        .args(["import", "openmetrics"])
        .arg(&input)
        .arg(&ours));
    let summary = String::from_utf8(summary).unwrap();
    assert!(summary.starts_with("imported "), "{summary}");
    assert!(summary.contains(" of 300 series into "), "{summary}");
    assert_eq!(summary.lines().count(), 1);

    let theirs = tmp.path().join("promtool");
    run(Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(&theirs));
    for d in [&ours, &theirs] {
        // promtool's dump reads the WAL too, and wants the directory.
        std::fs::create_dir_all(d.join("wal")).unwrap();
    }

    let promtool_of_ours = sorted_lines(&run(Command::new(&promtool)
        .args(["tsdb", "dump"])
        .arg(&ours)));
    let promtool_of_theirs = sorted_lines(&run(Command::new(&promtool)
        .args(["tsdb", "dump"])
        .arg(&theirs)));
    assert!(
        promtool_of_theirs.len() > 100_000,
        "{}",
        promtool_of_theirs.len()
    );
    assert!(
        promtool_of_ours == promtool_of_theirs,
        "promtool dump of aion's blocks differs from promtool's"
    );
    let aion_of_theirs = sorted_lines(&run(Command::new(&aion).arg("dump").arg(&theirs)));
    assert!(
        aion_of_theirs == promtool_of_theirs,
        "aion dump of promtool's blocks differs"
    );
    let n = summary.split(' ').nth(1).unwrap().parse::<usize>().unwrap();
    assert_eq!(n, promtool_of_theirs.len());
}

#[test]
fn invalid_input_names_the_line_and_leaves_nothing() {
    let aion = aion_example();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("bad.om");
    let mut text = generated();
    // Break a line in the middle of the file.
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.len() / 2;
    let broken = lines[at].replacen('{', "{=", 1);
    let mut rebuilt: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    rebuilt[at] = broken;
    text = rebuilt.join("\n") + "\n";
    std::fs::write(&input, text).unwrap();

    // Into a new directory: it is not created.
    let fresh = tmp.path().join("fresh");
    let out = Command::new(&aion)
        .args(["import", "openmetrics"])
        .arg(&input)
        .arg(&fresh)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("line {}:", at + 1)), "{err}");
    assert!(!fresh.exists());

    // Into a directory holding data: it is left exactly as it was.
    let existing = tmp.path().join("existing");
    let good = tmp.path().join("good.om");
    std::fs::write(&good, "a 1 1\n# EOF\n").unwrap();
    run(Command::new(&aion)
        .args(["import", "openmetrics"])
        .arg(&good)
        .arg(&existing));
    let before: Vec<_> = std::fs::read_dir(&existing)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let out = Command::new(&aion)
        .args(["import", "openmetrics"])
        .arg(&input)
        .arg(&existing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let after: Vec<_> = std::fs::read_dir(&existing)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after);
}
