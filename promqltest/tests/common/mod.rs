//! What the upstream-script tests share.

use std::path::PathBuf;

/// Prometheus's test scripts: the copy in `tests/upstream/` (see its
/// README), or the directory named by `AION_PROMQL_TESTS`.
pub fn upstream_dir() -> PathBuf {
    match std::env::var_os("AION_PROMQL_TESTS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/upstream"),
    }
}
