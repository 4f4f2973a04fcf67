//! `aion check rules` (examples/aion.rs) against Debian's `promtool check
//! rules` (2.42) on the same files: stdout, stderr and exit code equal.
//!
//! Only files on which Prometheus 2.42 and 3 agree are compared (3 added
//! the braces check on record names, names the rule type `rulefmt.Rule`
//! in unknown-field errors, reports duration errors of both decoding
//! passes and words them as `unknown unit`); aion follows 3, with legacy
//! name validation here as in 2.42.
//!
//! Without promtool the test prints a note and passes, unless
//! `AION_REQUIRE_PROMTOOL=1`.

#[path = "support/binaries.rs"]
mod binaries;

use std::path::Path;
use std::process::Command;

use binaries::{aion_example, promtool};

const FILES: &[(&str, &str)] = &[
    (
        "good.yml",
        r#"groups:
  - name: example
    interval: 30s
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        labels:
          severity: page
        annotations:
          summary: "Instance {{ $labels.instance }} down {{ $value | humanize }}"
          description: '{{ if gt $value 0.5 }}high{{ else }}low{{ end }} {{ printf "%.2f" $value }}'
  - name: second
    rules:
      - record: a:b
        expr: vector(1)
"#,
    ),
    (
        "bad.yml",
        r#"groups:
  - name: example
    rules:
      - record: job:up:sum
        expr: sum by (job) (up
        for: 5m
      - alert: X
        record: y
        expr: up
      - expr: up
      - record: r
  - name: example
    rules:
      - record: "a-b"
        expr: rate(x[5m)
        labels:
          __name__: x
      - record: ok
        expr: up
        annotations:
          a: b
        keep_firing_for: 1m
"#,
    ),
    (
        "template.yml",
        r#"groups:
  - name: t
    rules:
      - alert: a
        expr: up
        annotations:
          x: "{{ $labels.instance "
      - alert: b
        expr: up
        labels:
          y: "{{ nosuch 1 }}"
"#,
    ),
    (
        "unknown.yml",
        "groups:\n  - name: example\n    foo: 1\n    rules: []\nbar: 2\n",
    ),
    (
        "types.yml",
        "groups:\n  - name: [a]\n    limit: abc\n    rules: []\n",
    ),
    ("empty.yml", ""),
    ("comment.yml", "# nothing here\n"),
    (
        "dup.yml",
        "groups:\n  - name: a\n    rules:\n      - record: x\n        expr: up\n        labels:\n          k: v\n      - record: x\n        expr: up\n        labels:\n          k: v\n",
    ),
    ("syntax1.yml", "groups: [\n"),
    ("syntax2.yml", "a: \"x\n"),
    ("syntax3.yml", "a: b: c\n"),
    ("syntax4.yml", "groups:\n  - name: a\n   rules: x\n"),
    (
        "emptygroup.yml",
        "groups:\n  - name: ''\n    rules:\n      - record: r\n        expr: up\n",
    ),
];

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

fn compare(aion: &Path, promtool: &Path, dir: &Path, args: &[&str]) {
    let a = run(
        Command::new(aion)
            .args(["check", "rules", "--name-validation", "legacy"])
            .args(args),
        dir,
    );
    let p = run(
        Command::new(promtool).args(["check", "rules"]).args(args),
        dir,
    );
    assert_eq!(a.stdout, p.stdout, "stdout of {args:?}");
    assert_eq!(a.stderr, p.stderr, "stderr of {args:?}");
    assert_eq!(a.code, p.code, "exit code of {args:?}");
}

#[test]
fn check_rules_matches_promtool() {
    let Some(promtool) = promtool() else { return };
    let aion = aion_example();
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in FILES {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    for (name, _) in FILES {
        compare(&aion, &promtool, dir.path(), &[name]);
    }
    // Several files: one bad file fails the run; lint errors alone do not,
    // unless --lint-fatal (exit 3); --lint=none skips the lint.
    compare(
        &aion,
        &promtool,
        dir.path(),
        &["good.yml", "bad.yml", "empty.yml"],
    );
    compare(&aion, &promtool, dir.path(), &["good.yml", "dup.yml"]);
    compare(&aion, &promtool, dir.path(), &["--lint-fatal", "dup.yml"]);
    compare(&aion, &promtool, dir.path(), &["--lint=none", "dup.yml"]);
    compare(
        &aion,
        &promtool,
        dir.path(),
        &["--lint-fatal", "dup.yml", "bad.yml"],
    );
}

/// Prometheus v3.14.0's own promtool rule files (`rules/tests/upstream/`):
/// the exit codes its `cmd/promtool/main_test.go` expects, and the same
/// output as promtool 2.42.
#[test]
fn upstream_rule_files_get_prometheus_exit_codes() {
    let Some(promtool) = promtool() else { return };
    let aion = aion_example();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/tests/upstream/promtool");
    let cases: [(&[&str], i32); 4] = [
        (&["rules.yml"], 0),
        (&["rules-bad.yml"], 1),
        (&["--lint-fatal", "prometheus-rules.lint.yml"], 3),
        (&["--lint-fatal", "rules_duplicates.yml"], 3),
    ];
    for (args, code) in cases {
        compare(&aion, &promtool, &dir, args);
        let out = Command::new(&aion)
            .args(["check", "rules"])
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
    }
}

/// `features.yml` parses with the features Prometheus's
/// `TestCheckRulesWithFeatureFlag` enables, and not without them.
#[test]
fn features_are_enabled_as_promtools() {
    let aion = aion_example();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/tests/upstream/promtool");
    let code = |features: &[&str]| {
        Command::new(&aion)
            .args(["check", "rules"])
            .args(features)
            .arg("features.yml")
            .current_dir(&dir)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(
        code(&[
            "--enable-feature=promql-experimental-functions",
            "--enable-feature=promql-extended-range-selectors,promql-binop-fill-modifiers",
        ]),
        Some(0)
    );
    assert_eq!(code(&[]), Some(1));
}
