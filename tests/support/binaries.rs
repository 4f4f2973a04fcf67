//! What the root integration tests share: finding Debian's promtool and
//! the example binaries (the `aion` CLI, `remote_server`). Included by
//! each test with `#[path]` (a file per test crate, so each test keeps its
//! own binary).

// Not every includer uses every locator.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's `/usr/bin/prometheus` (2.42), or `None` with a note when it is
/// missing, unless `AION_REQUIRE_PROMTOOL=1`, which panics.
pub fn prometheus() -> Option<PathBuf> {
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

pub fn promtool() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/bin/promtool");
    if p.exists() {
        return Some(p);
    }
    if std::env::var("AION_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
        panic!("promtool not found but AION_REQUIRE_PROMTOOL=1 (apt-get install prometheus)");
    }
    eprintln!("note: promtool not found; skipping");
    None
}

/// The example binary: built by `cargo test` (without `--test`) next to
/// this test's binary; otherwise built here, in a target directory of its
/// own (the running cargo holds the lock of the usual one).
pub fn aion_example() -> PathBuf {
    example_binary("aion")
}

/// `aion ARGS…`: exit code (-1 when killed), stdout and stderr.
pub fn run_aion(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(aion_example()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The binary of example `name`, found or built as [`aion_example`] is.
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let bin = profile_dir.join("examples").join(name);
    if bin.exists() {
        return bin;
    }
    let target = profile_dir.parent().unwrap().join("cli-test");
    let st = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", name, "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .unwrap();
    assert!(st.success(), "building the {name} example failed");
    target.join("debug").join("examples").join(name)
}
