use super::file::parse_time;
use super::*;

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("aion-unittest-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const RULES: &str = "groups:
  - name: alerts
    rules:
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        labels:
          severity: page
        annotations:
          summary: 'Instance {{ $labels.instance }} down'
";

#[test]
fn unknown_fields_are_errors_unless_ignored() {
    let err = parse_test_file("tests: []\nbogus: 1\n", false).unwrap_err();
    assert_eq!(
        err,
        "yaml: unmarshal errors:\n  line 2: field bogus not found in type main.unitTestFile"
    );
    assert!(parse_test_file("tests: []\nbogus: 1\n", true).is_ok());
}

#[test]
fn times_are_unix_seconds_or_rfc3339() {
    assert_eq!(parse_time("1609459200").unwrap(), 1_609_459_200_000);
    assert_eq!(
        parse_time("2024-01-01T00:00:00Z").unwrap(),
        1_704_067_200_000
    );
    assert_eq!(
        parse_time("2024-01-01T01:00:00.5+01:00").unwrap(),
        1_704_067_200_500
    );
    assert!(parse_time("yesterday").is_err());
}

#[test]
fn firing_alert_passes_and_a_wrong_expectation_prints_as_promtool() {
    let d = Dir::new("alerts");
    d.write("rules.yml", RULES);
    let test = d.write(
        "t.yml",
        r#"rule_files: [rules.yml]
tests:
  - name: down
    input_series:
      - series: 'up{job="j", instance="i"}'
        values: 0x10
    alert_rule_test:
      - eval_time: 4m
        alertname: InstanceDown
        exp_alerts: []
      - eval_time: 5m
        alertname: InstanceDown
        exp_alerts:
          - exp_labels: {severity: page, job: j, instance: i}
            exp_annotations: {summary: Instance i down}
      - eval_time: 6m
        alertname: InstanceDown
        exp_alerts: []
"#,
    );
    let out = run_file(&test, &Options::default());
    assert_eq!(
        out.errors,
        vec![
            "    name: down,\n    alertname: InstanceDown, time: 6m, \n        exp:[], \n        got:[\n            \
             0:\n              Labels:{alertname=\"InstanceDown\", instance=\"i\", job=\"j\", severity=\"page\"}\n              \
             Annotations:{summary=\"Instance i down\"}\n            ]"
                .to_string()
        ]
    );
}

#[test]
fn promql_checks_and_rule_errors() {
    let d = Dir::new("promql");
    d.write(
        "r.yml",
        "groups:\n  - name: g\n    rules:\n      - record: joined\n        expr: a + on(x) b\n",
    );
    let ok = d.write(
        "ok.yml",
        r#"tests:
  - interval: 1m
    input_series:
      - series: test
        values: 1+1x3 stale
    promql_expr_test:
      - expr: test
        eval_time: 2m
        exp_samples:
          - labels: test
            value: 3
      - expr: test
        eval_time: 4m
        exp_samples: []
      - expr: test
        eval_time: 1m
        exp_samples:
          - labels: test
            value: 5
"#,
    );
    let out = run_file(&ok, &Options::default());
    assert_eq!(
        out.errors,
        vec![
            "    expr: \"test\", time: 1m,\n        exp: {__name__=\"test\"} 5E+00\n        got: {__name__=\"test\"} 2E+00"
                .to_string()
        ]
    );
    let bad = d.write(
        "bad.yml",
        r#"rule_files: [r.yml]
tests:
  - input_series:
      - series: 'a{x="1",y="1"}'
        values: 1
      - series: 'b{x="1",y="2"}'
        values: 1
      - series: 'b{x="1",y="3"}'
        values: 1
"#,
    );
    let out = run_file(&bad, &Options::default());
    assert_eq!(out.errors.len(), 1);
    assert!(
        out.errors[0].starts_with("    rule: joined, time: 0s, err: found duplicate series"),
        "{}",
        out.errors[0]
    );
}

#[test]
fn run_filter_missing_files_and_histograms() {
    let d = Dir::new("misc");
    let t = d.write(
        "t.yml",
        r#"rule_files: [nothing-*.yml]
tests:
  - name: right
    promql_expr_test:
      - expr: vector(1)
        exp_samples: [{value: 1}]
  - name: wrong
    promql_expr_test:
      - expr: vector(1)
        exp_samples: [{value: 2}]
"#,
    );
    let only = |re: &str| Options {
        run: Some(Regex::new(re).unwrap()),
        ..Options::default()
    };
    let out = run_file(&t, &only("right"));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].starts_with("  WARNING: no file match pattern "));
    assert_eq!(run_file(&t, &only("wrong")).errors.len(), 1);
    let missing = run_file(&d.0.join("none.yml"), &Options::default()).errors;
    assert!(missing[0].ends_with("none.yml: no such file or directory"));
}

#[test]
fn native_histograms_load_and_compare_as_promtool() {
    let d = Dir::new("hist");
    let t = d.write(
        "t.yml",
        r#"tests:
  - name: right
    input_series:
      - series: h
        values: '{{sum:1 count:1 buckets:[1]}}+{{sum:2 count:1 buckets:[1]}}x2'
    promql_expr_test:
      - expr: h
        eval_time: 1m
        exp_samples:
          - labels: h
            histogram: '{{sum:3 count:2 counter_reset_hint:not_reset buckets:[2] offset:0}}'
      - expr: histogram_count(h)
        eval_time: 2m
        exp_samples: [{value: 3}]
  - name: wrong
    input_series:
      - series: h
        values: '{{sum:1 count:1}}'
    promql_expr_test:
      - expr: h
        exp_samples: [{labels: h, histogram: '{{sum:2 count:1}}'}]
  - name: float
    promql_expr_test:
      - expr: vector(1)
        exp_samples: [{histogram: '7'}]
"#,
    );
    let only = |re: &str| Options {
        run: Some(Regex::new(re).unwrap()),
        ..Options::default()
    };
    let right = run_file(&t, &only("right")).errors;
    assert!(right.is_empty(), "{right:?}");
    assert_eq!(
        run_file(&t, &only("wrong")).errors,
        [
            "    expr: \"h\", time: 0s,\n        exp: {__name__=\"h\"} {{count:1 sum:2}}\n        \
          got: {__name__=\"h\"} {{count:1 sum:1}}"
        ]
    );
    assert_eq!(
        run_file(&t, &only("float")).errors,
        ["    expr: \"vector(1)\", time: 0s, err: labels \"\": expected histogram, got 7"]
    );
}

#[test]
fn paths_are_joined_and_cleaned_as_go_does() {
    assert_eq!(clean_join(Path::new("a/b"), "../c.yml"), "a/c.yml");
    assert_eq!(clean_join(Path::new(""), "./c.yml"), "c.yml");
    assert_eq!(clean_join(Path::new("/x"), "y/./z.yml"), "/x/y/z.yml");
}

#[test]
fn debug_dumps_every_series_as_promtool() {
    let d = Dir::new("debug");
    d.write(
        "r.yml",
        "groups:\n  - name: g\n    rules:\n      - record: twice\n        expr: up * 2\n",
    );
    let t = d.write(
        "t.yml",
        r#"rule_files: [r.yml]
tests:
  - input_series:
      - series: up
        values: 1 2
    promql_expr_test:
      - expr: twice
        eval_time: 1m
        exp_samples: [{labels: twice, value: 4}]
"#,
    );
    let out = run_file(
        &t,
        &Options {
            debug: true,
            ..Options::default()
        },
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.debug.len(), 3, "{:?}", out.debug);
    assert_eq!(out.debug[0], "DEBUG: Starting test unnamed#0");
    // promtool 3 queries `[1m1s]` at 1m1s: the window is open on the
    // left, so the samples at 0 are not in its dump either.
    assert_eq!(
        out.debug[1],
        "DEBUG: Dump of all data (input_series and rules) at 1m1s:\n\
         {__name__=\"twice\"} =>\n4 @[60000]\n{__name__=\"up\"} =>\n2 @[60000]"
    );
    assert!(out.debug[2].starts_with("DEBUG: Test unnamed#0 finished, took "));
}

#[test]
fn disabled_query_features_fail_the_rules_that_use_them() {
    let d = Dir::new("features");
    d.write(
        "r.yml",
        "groups:\n  - name: g\n    rules:\n      - record: x\n        expr: 'up @ 100'\n      - record: y\n        expr: 'up offset -5m'\n",
    );
    let t = d.write(
        "t.yml",
        "rule_files: [r.yml]\ntests:\n  - input_series: [{series: up, values: '1'}]\n",
    );
    assert!(run_file(&t, &Options::default()).errors.is_empty());
    let off = Options {
        disable_at_modifier: true,
        disable_negative_offset: true,
        ..Options::default()
    };
    let errs = run_file(&t, &off).errors;
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs[0].starts_with("    rule: x, time: 0s, err: "),
        "{}",
        errs[0]
    );
    assert!(errs[0].contains("@ modifier is disabled"), "{}", errs[0]);
    assert!(
        errs[1].contains("negative offset is disabled"),
        "{}",
        errs[1]
    );
}
