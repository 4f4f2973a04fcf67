//! `aion test rules` (examples/aion.rs) against Debian's `promtool test
//! rules` (2.42): the same stdout (less the `Unit Testing:  FILE` line
//! promtool 2 prints and 3 does not), stderr and exit code.
//!
//! Compared: Prometheus v3.14.0's unit-test files (`rules/tests/upstream/`)
//! that use nothing 2.42 lacks (`start_timestamp`, `fuzzy_compare`,
//! `--run`, `--ignore-unknown-fields`, a test interval defaulting to the
//! evaluation interval, native histograms), and a file of our own with
//! alerts, templates, `external_labels`, `external_url` and
//! `group_eval_order`, written so no sample sits on a window boundary
//! (2.42's windows are closed on the left, 3's open; see
//! docs/promql-2x-3x-differences.md). Also the exit codes of the command's
//! flags, which need no promtool.
//!
//! Without promtool the comparison prints a note and passes, unless
//! `AION_REQUIRE_PROMTOOL=1`.

#[path = "support/binaries.rs"]
mod binaries;

use std::path::{Path, PathBuf};
use std::process::Command;

use binaries::{aion_example, promtool};

fn upstream() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/tests/upstream/promtool")
}

struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

fn run(cmd: &mut Command, dir: &Path) -> Run {
    let out = cmd.current_dir(dir).output().unwrap();
    Run {
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        code: out.status.code(),
    }
}

fn aion_test(aion: &Path, dir: &Path, args: &[&str]) -> Run {
    run(Command::new(aion).args(["test", "rules"]).args(args), dir)
}

/// Compares the two tools on `file` in `dir`; `messages` false compares
/// only the exit code (the parser's own words differ).
fn compare(aion: &Path, promtool: &Path, dir: &Path, file: &str, messages: bool) {
    let a = aion_test(aion, dir, &[file]);
    let p = run(Command::new(promtool).args(["test", "rules", file]), dir);
    assert_eq!(a.code, p.code, "exit code of {file}: {}", a.stderr);
    if messages {
        let p_stdout: String = p
            .stdout
            .lines()
            .filter(|l| !l.starts_with("Unit Testing:  "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(a.stdout, p_stdout, "stdout of {file}");
        assert_eq!(
            sort_series_lists(&a.stderr),
            sort_series_lists(&p.stderr),
            "stderr of {file}"
        );
    }
}

/// Sorts the items of each `[{...}, {...}]` list: the two series of
/// Prometheus's "found duplicate series" error come in map order, which
/// varies from run to run of promtool itself.
fn sort_series_lists(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("[{") {
        let Some(len) = rest[start..].find("}]") else {
            break;
        };
        out.push_str(&rest[..start]);
        let inner = &rest[start + 2..start + len];
        let mut items: Vec<&str> = inner.split("}, {").collect();
        items.sort_unstable();
        out.push_str(&format!("[{{{}}}]", items.join("}, {")));
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

const RULES: &str = r#"groups:
  - name: first
    rules:
      - record: job:errors:max
        expr: max by (job) (http_errors)
  - name: second
    rules:
      - alert: Down
        expr: up == 0
        for: 2m
        labels:
          severity: page
          cluster_copy: '{{ $externalLabels.cluster }}'
        annotations:
          summary: '{{ $labels.instance }} of {{ $labels.job }} down'
          url: '{{ $externalURL }}/alerts'
          value: '{{ $value }}'
      - alert: ManyErrors
        expr: job:errors:max > 50
        annotations:
          summary: 'errors {{ $value | humanize }}'
"#;

/// The unit test over [`RULES`]; `{A}`..`{D}` are replaced to make
/// passing and failing variants.
const TEST: &str = r#"rule_files: [custom-rules.yml]
evaluation_interval: 30s
group_eval_order: [second, first]
tests:
  - interval: 15s
    external_labels: {cluster: eu1}
    external_url: http://prom.example
    input_series:
      - series: 'http_errors{job="api", instance="a"}'
        values: '0+3x40'
      - series: 'http_errors{job="web", instance="b"}'
        values: '5 5 _ 5 stale'
      - series: 'up{job="api", instance="a"}'
        values: '1 1 0x40'
    alert_rule_test:
      - eval_time: 1m
        alertname: Down
        exp_alerts: []
      - eval_time: 10m
        alertname: Down
        exp_alerts:
          - exp_labels: {job: api, instance: a, severity: page, cluster_copy: eu1}
            exp_annotations:
              summary: 'a of api down'
              url: 'http://prom.example/alerts'
              value: '{A}'
      # `second` runs before `first`: at 4m30s the alert still sees the
      # 4m recording (48), at 5m the 4m30s one (54).
      - eval_time: 4m30s
        alertname: ManyErrors
        exp_alerts: []
      - eval_time: 5m
        alertname: ManyErrors
        exp_alerts:
          - exp_labels: {job: api}
            exp_annotations: {summary: 'errors {B}'}
    promql_expr_test:
      - expr: job:errors:max
        eval_time: 50s
        exp_samples:
          - labels: 'job:errors:max{job="api"}'
            value: 6
          - labels: 'job:errors:max{job="web"}'
            value: {C}
      - expr: http_errors{job="web"}
        eval_time: 70s
        exp_samples: []
      - expr: round(rate(http_errors{job="api"}[5m]) * 1000)
        eval_time: 7m5s
        exp_samples:
          - labels: '{job="api", instance="a"}'
            value: {D}
"#;

#[test]
fn unit_tests_match_promtool() {
    let Some(promtool) = promtool() else { return };
    let aion = aion_example();
    for file in [
        "long-period.yml",
        "bad-promql.yml",
        "bad-rules-syntax-test.yml",
        "bad-rules-error-test.yml",
        "failing.yml",
        "at-modifier-test.yml",
        "negative-offset-test.yml",
        "rules_run.yml",
    ] {
        compare(&aion, &promtool, &upstream(), file, true);
    }
    compare(&aion, &promtool, &upstream(), "bad-input-series.yml", false);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("custom-rules.yml"), RULES).unwrap();
    let variants = [
        ("pass.yml", ["0", "54", "5", "200"]),
        ("fail.yml", ["1", "55", "4", "250"]),
    ];
    for (name, [a, b, c, d]) in variants {
        let text = TEST
            .replace("{A}", a)
            .replace("{B}", b)
            .replace("{C}", c)
            .replace("{D}", d);
        std::fs::write(dir.path().join(name), text).unwrap();
        compare(&aion, &promtool, dir.path(), name, true);
    }
    let pass = aion_test(&aion, dir.path(), &["pass.yml"]);
    assert_eq!(pass.code, Some(0), "{}", pass.stderr);
    // Several files: one failure fails the run, each file gets its verdict.
    let both = aion_test(&aion, dir.path(), &["pass.yml", "fail.yml"]);
    assert_eq!(both.code, Some(1));
    assert!(both.stdout.starts_with("  SUCCESS\n\n"), "{}", both.stdout);
}

#[test]
fn flags_select_and_relax_as_promtool_3() {
    let aion = aion_example();
    let dir = upstream();
    let code = |args: &[&str]| aion_test(&aion, &dir, args).code;
    assert_eq!(code(&["rules_run.yml"]), Some(1));
    assert_eq!(code(&["--run", "correct", "rules_run.yml"]), Some(0));
    assert_eq!(
        code(&["--run", "correct", "--run", "wrong", "rules_run.yml"]),
        Some(1)
    );
    assert_eq!(code(&["rules_run_extrafields.yml"]), Some(1));
    assert_eq!(
        code(&["--ignore-unknown-fields", "rules_run_extrafields.yml"]),
        Some(0)
    );
    assert_eq!(code(&["--run", "correct", "rules_run_fuzzy.yml"]), Some(0));
    assert_eq!(code(&["--run", "(", "rules_run.yml"]), Some(2));
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("report.xml");
    let junit = [
        "--junit",
        report.to_str().unwrap(),
        "failing.yml",
        "long-period.yml",
    ];
    assert_eq!(code(&junit), Some(1));
    let xml = std::fs::read_to_string(&report).unwrap();
    assert!(
        xml.starts_with(
            r#"<testsuites><testsuite name="failing.yml" tests="2" failures="4" errors="0""#
        ),
        "{xml}"
    );
    assert!(xml.contains(r#"<testsuite name="long-period.yml" tests="1" failures="0" errors="0""#));
    assert_eq!(code(&[]), Some(2));
}
