//! Alert states and expanded templates of aion-rules, checked by
//! Debian's promtool (2.42): aion evaluates alerting rules over series,
//! then the firing alerts it found (labels and annotations) are written as
//! the expectations of a `promtool test rules` unit test over the same
//! series and rules, which promtool must pass.
//!
//! Without promtool the test prints a note and passes, unless
//! `AION_REQUIRE_PROMTOOL=1`.

#[path = "support/binaries.rs"]
mod binaries;
#[path = "support/promtool_unit.rs"]
mod promtool_unit;

use promtool_unit::q;

use std::fmt::Write as _;

use aion::model::Labels;
use aion::rules::rulefmt::{parse, ParseOptions};
use aion::rules::{AlertState, Group, GroupOptions, Rule};
use aion::storage::MemStorage;

const RULES: &str = r#"groups:
  - name: interop
    rules:
      - alert: InstanceDown
        expr: up == 0
        for: 2m
        labels:
          severity: page
          instance: '{{ $labels.instance | reReplaceAll ":.*" "" }}'
        annotations:
          summary: '{{ $labels.job | toUpper }} {{ $labels.instance }} down'
          value: '{{ $value }}'
      - alert: DiskFull
        expr: disk_used_ratio > 0.9
        annotations:
          pct: '{{ $value | humanizePercentage }}'
          level: '{{ if gt $value 0.95 }}critical{{ else if gt $value 0.92 }}major{{ else }}warning{{ end }}'
          fmt: '{{ printf "%.2f|%5.1f|%v|%s" $value $value $value $labels.mount }}'
      - alert: HighRate
        expr: req_rate > 1000
        for: 1m
        annotations:
          h: '{{ humanize $value }}'
          h1024: '{{ humanize1024 $value }}'
          t: '{{ "hello wide world" | title }}/{{ len $labels }}'
          v: '{{ $value }}'
      - alert: Uptime
        expr: uptime_seconds > 0
        annotations:
          d: '{{ humanizeDuration $value }}'
          small: '{{ humanizeDuration 0.25 }} {{ humanize 0.000123 }} {{ humanize 0 }}'
          missing: '[{{ $labels.nope }}]'
"#;

/// (series, values one a minute from 0).
const SERIES: &[(&str, &[f64])] = &[
    (
        r#"up{job="api", instance="h:1"}"#,
        &[0.0, 0.0, 0.0, 0.0, 0.0],
    ),
    (
        r#"up{job="db", instance="h:2"}"#,
        &[1.0, 1.0, 0.0, 0.0, 0.0],
    ),
    (
        r#"disk_used_ratio{mount="/"}"#,
        &[0.5, 0.953, 0.953, 0.953, 0.96],
    ),
    (
        r#"disk_used_ratio{mount="/var"}"#,
        &[0.93, 0.93, 0.93, 0.93, 0.93],
    ),
    (
        r#"disk_used_ratio{mount="/home"}"#,
        &[0.91, 0.91, 0.91, 0.91, 0.91],
    ),
    (
        r#"req_rate{svc="web"}"#,
        &[1.0, 1234567.8, 1234567.8, 2e6, 1048576.0],
    ),
    (
        r#"uptime_seconds{host="db1"}"#,
        &[90061.0, 90061.0, 90061.0, 90061.0, 90061.0],
    ),
    (r#"uptime_seconds{host="db2"}"#, &[3.5, 3.5, 3.5, 3.5, 61.0]),
];

fn series_labels(text: &str) -> Labels {
    let (name, rest) = text.split_once('{').unwrap();
    let mut pairs = vec![("__name__".to_string(), name.to_string())];
    for kv in rest.trim_end_matches('}').split(", ") {
        let (k, v) = kv.split_once('=').unwrap();
        pairs.push((k.to_string(), v.trim_matches('"').to_string()));
    }
    Labels::from_pairs(&pairs).unwrap()
}

#[test]
fn firing_alerts_and_templates_match_promtool() {
    let Some(promtool) = binaries::promtool() else {
        return;
    };
    let db = MemStorage::new();
    for (s, values) in SERIES {
        let l = series_labels(s);
        for (i, v) in values.iter().enumerate() {
            db.append(&l, i as i64 * 60_000, *v).unwrap();
        }
    }
    let file = parse(RULES.as_bytes(), &ParseOptions::default()).unwrap();
    let mut group = Group::new("alerts.yml", &file.groups[0], &GroupOptions::default()).unwrap();

    let mut cases = String::new();
    let mut firing_total = 0;
    for minute in 0..5 {
        group.evaluate_at(minute * 60_000, &db, &db);
        for rule in group.rules() {
            let Rule::Alerting(r) = rule else { continue };
            assert_eq!(rule.health().last_error, None, "{}", r.name());
            let mut exp = String::new();
            for a in r.alerts().filter(|a| a.state == AlertState::Firing) {
                firing_total += 1;
                let labels: Vec<String> = a
                    .labels
                    .iter()
                    .filter(|l| l.name != "alertname")
                    .map(|l| format!("{}: {}", l.name, q(l.value)))
                    .collect();
                let annotations: Vec<String> = a
                    .annotations
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", q(v)))
                    .collect();
                writeln!(
                    exp,
                    "          - exp_labels: {{{}}}\n            exp_annotations: {{{}}}",
                    labels.join(", "),
                    annotations.join(", ")
                )
                .unwrap();
            }
            write!(
                cases,
                "      - eval_time: {minute}m\n        alertname: {}\n        exp_alerts:{}\n",
                r.name(),
                if exp.is_empty() {
                    " []\n".to_string()
                } else {
                    format!("\n{exp}")
                }
            )
            .unwrap();
        }
    }
    // The fixture exercises pending alerts becoming firing and several
    // alerts per rule.
    assert!(firing_total >= 15, "{firing_total} firing alerts");

    let series: Vec<(&str, Vec<String>)> = SERIES
        .iter()
        .map(|(s, values)| (*s, values.iter().map(|v| format!("{v}")).collect()))
        .collect();
    promtool_unit::assert_promtool_passes(
        &promtool,
        "alerts.yml",
        RULES,
        &series,
        "alert_rule_test",
        &cases,
    );
}
