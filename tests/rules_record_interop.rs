//! Recording rules of aion-rules checked by Debian's promtool (2.42):
//! aion evaluates the rules minute by minute over series in MemStorage,
//! queries the recorded series, and writes what it found as the
//! expectations of a `promtool test rules` unit test over the same series
//! and rules, which promtool must pass. A source series that goes stale
//! checks the stale markers of recorded series that disappear.
//!
//! Range windows avoid sample-aligned edges: Prometheus 2.42's windows are
//! closed on the left, 3's (which aion follows) open, so `[2m]` over
//! minutely samples differs between them by design.
//!
//! Without promtool the test prints a note and passes, unless
//! `AION_REQUIRE_PROMTOOL=1`.

#[path = "support/binaries.rs"]
mod binaries;
#[path = "support/promtool_unit.rs"]
mod promtool_unit;

use promtool_unit::q;

use std::fmt::Write as _;

use aion::model::gotext::format_go_g;
use aion::model::Labels;
use aion::promql::Engine;
use aion::rules::rulefmt::{parse, ParseOptions};
use aion::rules::{Group, GroupOptions};
use aion::storage::MemStorage;

const RULES: &str = r#"groups:
  - name: recording
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - record: job:up:sum_x10
        expr: job:up:sum * 10
        labels:
          scaled: "yes"
      - record: instance:up:copy
        expr: up
        labels:
          instance: ""
          source: rule
      - record: requests:rate1m
        expr: rate(requests_total[150s])
      - record: answer
        expr: "42"
      - record: job:relabel
        expr: up
        labels:
          job: fixed
          team: '{{ not a template }}'
"#;

/// (series, values one a minute from 0; `None` is a stale marker).
const SERIES: &[(&str, &[Option<f64>])] = &[
    (
        r#"up{job="a", instance="1"}"#,
        &[
            Some(1.0),
            Some(1.0),
            Some(0.0),
            Some(1.0),
            Some(1.0),
            Some(1.0),
        ],
    ),
    (
        r#"up{job="b", instance="2"}"#,
        &[Some(1.0), Some(0.0), None, None, None, None],
    ),
    (
        r#"requests_total{job="a"}"#,
        &[
            Some(0.0),
            Some(60.0),
            Some(150.0),
            Some(150.0),
            Some(300.0),
            Some(420.0),
        ],
    ),
];

const RECORDED: &[&str] = &[
    "job:up:sum",
    "job:up:sum_x10",
    "instance:up:copy",
    "requests:rate1m",
    "answer",
    "job:relabel",
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
fn recorded_series_match_promtool() {
    let Some(promtool) = binaries::promtool() else {
        return;
    };
    let db = MemStorage::new();
    for (s, values) in SERIES {
        let l = series_labels(s);
        for (i, v) in values.iter().enumerate() {
            let v = v.unwrap_or(aion::chunkenc::STALE_NAN);
            db.append(&l, i as i64 * 60_000, v).unwrap();
        }
    }
    let file = parse(RULES.as_bytes(), &ParseOptions::default()).unwrap();
    let mut group = Group::new("rules.yml", &file.groups[0], &GroupOptions::default()).unwrap();
    let engine = Engine::default();

    let mut cases = String::new();
    let mut samples = 0;
    for minute in 0..6 {
        let t = minute * 60_000;
        group.evaluate_at(t, &db, &db);
        for r in group.rules() {
            assert_eq!(r.health().last_error, None, "{}", r.name());
        }
        for name in RECORDED {
            let v = engine.instant_query(&db, *name, t).unwrap().value;
            let mut exp = String::new();
            for s in v.as_vector().unwrap() {
                samples += 1;
                writeln!(
                    exp,
                    "          - labels: {}\n            value: {}",
                    q(&s.metric.to_string()),
                    format_go_g(s.f)
                )
                .unwrap();
            }
            write!(
                cases,
                "      - expr: {name}\n        eval_time: {minute}m\n        exp_samples:{}\n",
                if exp.is_empty() {
                    " []\n".to_string()
                } else {
                    format!("\n{exp}")
                }
            )
            .unwrap();
        }
    }
    assert!(samples >= 30, "{samples} recorded samples");

    let series: Vec<(&str, Vec<String>)> = SERIES
        .iter()
        .map(|(s, values)| {
            (
                *s,
                values
                    .iter()
                    .map(|v| v.map_or("stale".to_string(), format_go_g))
                    .collect(),
            )
        })
        .collect();
    promtool_unit::assert_promtool_passes(
        &promtool,
        "rules.yml",
        RULES,
        &series,
        "promql_expr_test",
        &cases,
    );
}
