//! `aion dump` (examples/aion.rs) prints exactly what `promtool tsdb dump`
//! prints for a directory `promtool tsdb bench write` made.

#[path = "support/binaries.rs"]
mod binaries;

use binaries::{aion_example, promtool};

use std::path::Path;
use std::process::Command;

fn sorted_stdout(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<&[u8]> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    let mut v = lines.join(&b'\n');
    v.push(b'\n');
    v
}

fn first_lines(src: &Path, n: usize, dest: &Path) {
    let text = std::fs::read_to_string(src).unwrap();
    let lines: Vec<&str> = text.lines().take(n).collect();
    std::fs::write(dest, lines.join("\n") + "\n").unwrap();
}

#[test]
fn aion_dump_equals_promtool_dump() {
    let Some(promtool) = promtool() else { return };
    let aion = aion_example();
    // The first 1,000 lines of Prometheus's 20kseries.json.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/20kseries-1k.json");
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("1k.json");
    first_lines(&shared, 1000, &input);
    let out = tmp.path().join("out");
    let st = Command::new(&promtool)
        .args(["tsdb", "bench", "write", "--metrics=1000", "--scrapes=500"])
        .arg(format!("--out={}", out.display()))
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let dir = out.join("storage");

    let theirs = sorted_stdout(Command::new(&promtool).args(["tsdb", "dump"]).arg(&dir));
    let ours = sorted_stdout(Command::new(&aion).arg("dump").arg(&dir));
    assert_eq!(theirs.iter().filter(|&&b| b == b'\n').count(), 500_000);
    assert!(
        ours == theirs,
        "aion dump | sort differs from promtool tsdb dump | sort"
    );

    // With a selector and a time range, as promtool filters.
    let args = [
        "--match",
        "{__name__=~\"a.*\"}",
        "--min-time",
        "3000000",
        "--max-time",
        "6000000",
    ];
    let theirs = sorted_stdout(
        Command::new(&promtool)
            .args([
                "tsdb",
                "dump",
                "--match={__name__=~\"a.*\"}",
                "--min-time=3000000",
                "--max-time=6000000",
            ])
            .arg(&dir),
    );
    let ours = sorted_stdout(Command::new(&aion).arg("dump").args(args).arg(&dir));
    assert!(theirs.len() > 1);
    assert!(ours == theirs, "filtered dumps differ");
}

#[test]
fn cli_exit_codes() {
    let aion = aion_example();
    let st = Command::new(&aion).arg("--help").output().unwrap();
    assert_eq!(st.status.code(), Some(0));
    let st = Command::new(&aion)
        .args(["dump", "--help"])
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&st.stdout).contains("Examples:"));
    let st = Command::new(&aion)
        .args(["bench", "write", "--help"])
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(0));
    let st = Command::new(&aion)
        .args(["dump", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(2));
    let st = Command::new(&aion)
        .args(["dump", "/nonexistent/aion-dir"])
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(1));
    assert!(!st.stderr.is_empty());
    let tmp = tempfile::tempdir().unwrap();
    let st = Command::new(&aion)
        .args(["dump", "--match", "rate(x[5m])"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&st.stderr).contains("invalid series selector"));
}
