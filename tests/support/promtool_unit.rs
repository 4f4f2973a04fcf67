//! A promtool unit test built by a test: the rule file, the input series
//! and the expectations Aion computed, run through `promtool test rules`,
//! which must pass. Shared by the rules interop tests (`#[path]`).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// YAML double-quoted string (JSON's quoting is valid YAML).
pub fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Writes `rules` as `rules_file` and a unit test over `series` (each with
/// its values in the expanding notation's words) whose `section`
/// (`alert_rule_test` or `promql_expr_test`) is `cases`, then asserts that
/// `promtool test rules` passes it.
pub fn assert_promtool_passes(
    promtool: &Path,
    rules_file: &str,
    rules: &str,
    series: &[(&str, Vec<String>)],
    section: &str,
    cases: &str,
) {
    let mut test = format!(
        "rule_files: [{rules_file}]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n"
    );
    for (s, values) in series {
        writeln!(
            test,
            "      - series: {}\n        values: {}",
            q(s),
            q(&values.join(" "))
        )
        .unwrap();
    }
    writeln!(test, "    {section}:").unwrap();
    test.push_str(cases);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(rules_file), rules).unwrap();
    std::fs::write(dir.path().join("test.yml"), &test).unwrap();
    let out = Command::new(promtool)
        .args(["test", "rules", "test.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool disagrees:\n{}\n{}\n--- test file:\n{test}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
