//! Prometheus's own PromQL test scripts (`tests/upstream/`, v3.14.0: see its
//! README; the dialect is described in `docs/promql-test-scripts.md`),
//! one `#[test]` per file, run against the in-memory storage with the
//! settings the scripts assume.
//!
//! A file passes when none of its evals fails. Evals may only be skipped
//! for the reasons listed in [`ALLOWED_SKIPS`] (start
//! timestamps), and each file's pass/skip counts are pinned, so an engine
//! change that makes an eval skip or fail is noticed.

mod common;

use aion_promql::{Engine, EngineOptions};
use aion_promqltest::{run_script, MemTestStorage, Outcome, SkipReason};

/// Why an eval may be skipped: a storage that keeps no start timestamps
/// (the in-memory one keeps them, so nothing is skipped today).
const ALLOWED_SKIPS: &[SkipReason] = &[SkipReason::StartTimestamps];

/// Runs one file and checks it against its pinned `(passed, skipped)`,
/// without a byte limit (the scripts' settings) and again with a roomy
/// one, whose accounting must not change a single result.
fn run_file(name: &str, passed: usize, skipped: usize) {
    for max_query_bytes in [None, Some(1 << 30)] {
        run_file_with(name, passed, skipped, max_query_bytes);
    }
}

fn run_file_with(name: &str, passed: usize, skipped: usize, max_query_bytes: Option<usize>) {
    let path = common::upstream_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let engine = Engine::new(EngineOptions {
        max_query_bytes,
        ..EngineOptions::prometheus_test_suite()
    });
    let report = run_script(&text, &mut MemTestStorage::new(), &engine);
    let mut problems = Vec::new();
    if let Some(e) = &report.error {
        problems.push(format!("{name}: {e}"));
    }
    for e in &report.evals {
        match &e.outcome {
            Outcome::Failed(m) => problems.push(format!("{name}:{}: {}\n    {m}", e.line, e.query)),
            Outcome::Skipped(r) if !ALLOWED_SKIPS.contains(r) => {
                problems.push(format!("{name}:{}: {} skipped: {r}", e.line, e.query))
            }
            _ => {}
        }
    }
    println!(
        "{name} (max_query_bytes {max_query_bytes:?}): {} passed, {} failed, {} skipped {:?}",
        report.passed(),
        report.failed(),
        report.skipped(),
        report.skip_reasons()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(
        (report.passed(), report.skipped()),
        (passed, skipped),
        "{name}: pass/skip counts changed (update the pinned numbers if intended)"
    );
}

macro_rules! upstream {
    ($($test:ident => $file:literal, $passed:literal, $skipped:literal;)*) => {
        $(
            #[test]
            fn $test() {
                run_file($file, $passed, $skipped);
            }
        )*

        /// Every file of the corpus has a test above.
        #[test]
        fn every_upstream_file_is_covered() {
            let known = [$($file),*];
            let mut missing = Vec::new();
            for entry in std::fs::read_dir(common::upstream_dir()).expect("read upstream dir") {
                let name = entry.expect("dir entry").file_name().to_string_lossy().into_owned();
                if name.ends_with(".test") && !known.contains(&name.as_str()) {
                    missing.push(name);
                }
            }
            assert!(missing.is_empty(), "no test for {missing:?}");
        }
    };
}

upstream! {
    aggregators => "aggregators.test", 160, 0;
    at_modifier => "at_modifier.test", 71, 0;
    collision => "collision.test", 2, 0;
    functions => "functions.test", 431, 0;
    histograms => "histograms.test", 185, 0;
    literals => "literals.test", 25, 0;
    native_histograms => "native_histograms.test", 522, 0;
    operators => "operators.test", 213, 0;
    range_queries => "range_queries.test", 18, 0;
    selectors => "selectors.test", 31, 0;
    staleness => "staleness.test", 17, 0;
    start_timestamps => "start_timestamps.test", 26, 0;
    subquery => "subquery.test", 34, 0;
    trig_functions => "trig_functions.test", 19, 0;
}
