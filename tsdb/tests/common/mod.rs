//! Helpers of the integration tests: the Prometheus binaries and the
//! `promtool tsdb bench write` input.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The path of a Prometheus binary, or `None` (with a note) when missing.
/// With `AION_REQUIRE_PROMTOOL=1` (set by `scripts/test`) a missing binary
/// fails the test instead.
pub fn binary(name: &str) -> Option<PathBuf> {
    let candidate = PathBuf::from("/usr/bin").join(name);
    let found = candidate.exists().then_some(candidate).or_else(|| {
        let out = Command::new("which").arg(name).output().ok()?;
        let p = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (!p.is_empty()).then(|| PathBuf::from(p))
    });
    if found.is_none() {
        if std::env::var("AION_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
            panic!("{name} not found but AION_REQUIRE_PROMTOOL=1 (apt-get install prometheus)");
        }
        eprintln!("note: {name} not found; skipping this interop test");
    }
    found
}

/// Writes the first `n` (at most 1,000) lines of Prometheus's
/// `20kseries.json` to `dest`, from the repository's copy
/// (`testdata/20kseries-1k.json`).
pub fn write_series_file(dest: &Path, n: usize) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/20kseries-1k.json");
    let text = fs::read_to_string(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let lines: Vec<&str> = text.lines().take(n).collect();
    assert_eq!(lines.len(), n, "{} has fewer than {n} lines", src.display());
    fs::write(dest, lines.join("\n") + "\n").unwrap();
}

/// Runs `promtool tsdb bench write` into `out`; the data directory is
/// `out/storage`.
pub fn promtool_bench_write(
    promtool: &Path,
    out: &Path,
    input: &Path,
    metrics: usize,
    scrapes: usize,
) -> PathBuf {
    let status = Command::new(promtool)
        .args(["tsdb", "bench", "write"])
        .arg(format!("--out={}", out.display()))
        .arg(format!("--metrics={metrics}"))
        .arg(format!("--scrapes={scrapes}"))
        .arg(input)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "promtool bench write failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    out.join("storage")
}

/// `promtool tsdb dump DIR`, sorted.
pub fn promtool_dump_sorted(promtool: &Path, dir: &Path) -> Vec<String> {
    let out = Command::new(promtool)
        .args(["tsdb", "dump"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool tsdb dump failed: {}",
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

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            fs::copy(e.path(), dest).unwrap();
        }
    }
}
