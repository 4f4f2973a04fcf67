//! The short crash loop in CI: `examples/crash_loop.rs` SIGKILLs a child
//! appending from four threads (with head compaction, WAL checkpoints and
//! truncation, and retention running in the killed windows) 50 times,
//! reopening and checking after each kill that every acknowledged commit
//! is there exactly once and no commit half-exists. BENCHMARKS.md
//! ("Faults") reports a 1000-round run.

#[path = "support/binaries.rs"]
mod binaries;

use std::process::Command;

#[test]
fn fifty_kills_lose_nothing_acknowledged_and_tear_no_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(binaries::example_binary("crash_loop"))
        .args(["--rounds", "50", "--max-kill-ms", "400", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let summary = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> u64 {
        summary
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {name} in {summary}")) as u64
    };
    assert_eq!(field("rounds"), 50, "{summary}");
    assert!(field("acknowledged_commits") > 100, "{summary}");
    // The kills landed while compaction and WAL truncation were at work.
    assert!(field("max_blocks") >= 1, "{summary}");
    assert!(field("checkpoints") >= 1, "{summary}");
    eprintln!("{summary}");
}
