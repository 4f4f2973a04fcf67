//! Evaluation over `MemStorage` with a deterministic clock.

use aion_chunkenc::is_stale_nan;
use aion_model::{Labels, Matcher};
use aion_storage::{MemStorage, Queryable, SampleIterator, ValueType};

use crate::rulefmt::{parse, ParseOptions};
use crate::{AlertState, Group, GroupOptions, Health, Rule};

const M: i64 = 60_000;

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs).unwrap()
}

fn group(src: &str) -> Group {
    group_with(src, &GroupOptions::default())
}

fn group_with(src: &str, opts: &GroupOptions) -> Group {
    let f = parse(src.as_bytes(), &ParseOptions::default()).unwrap();
    Group::new("rules.yml", &f.groups[0], opts).unwrap()
}

/// Every stored sample of the series named `name`, by labels.
fn stored(db: &MemStorage, name: &str) -> Vec<(String, Vec<(i64, f64)>)> {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let mut set = q.select(true, None, &[Matcher::equal("__name__", name)]);
    let mut out = Vec::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        let mut pts = Vec::new();
        while s.samples.next() == ValueType::Float {
            pts.push(s.samples.at());
        }
        out.push((s.labels.to_string(), pts));
    }
    out
}

fn alerts(g: &Group) -> Vec<(String, AlertState, i64)> {
    let Rule::Alerting(r) = &g.rules()[0] else {
        panic!("not an alerting rule")
    };
    r.alerts()
        .map(|a| (a.labels.to_string(), a.state, a.active_at))
        .collect()
}

#[test]
fn recording_rules_rename_relabel_and_see_earlier_output() {
    let db = MemStorage::new();
    db.append(&ls(&[("__name__", "up"), ("job", "a"), ("i", "1")]), 0, 1.0)
        .unwrap();
    db.append(&ls(&[("__name__", "up"), ("job", "a"), ("i", "2")]), 0, 0.0)
        .unwrap();
    let mut g = group(
        "groups:
  - name: g
    labels:
      team: infra
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels:
          source: rule
      - record: job:up:sum_x10
        expr: job:up:sum * 10
        labels:
          team: ''
      - record: answer
        expr: '42'
",
    );
    g.evaluate_at(M, &db, &db);
    assert_eq!(
        stored(&db, "job:up:sum"),
        [(
            r#"{__name__="job:up:sum", job="a", source="rule", team="infra"}"#.to_string(),
            vec![(M, 1.0)]
        )]
    );
    // The second rule saw the first rule's output of the same evaluation;
    // an empty label value removes the group label.
    assert_eq!(
        stored(&db, "job:up:sum_x10"),
        [(
            r#"{__name__="job:up:sum_x10", job="a", source="rule"}"#.to_string(),
            vec![(M, 10.0)]
        )]
    );
    // A scalar result is one series with only the rule's labels.
    assert_eq!(
        stored(&db, "answer"),
        [(
            r#"{__name__="answer", team="infra"}"#.to_string(),
            vec![(M, 42.0)]
        )]
    );
    for r in g.rules() {
        assert_eq!(r.health().health, Health::Good, "{}", r.name());
        assert_eq!(r.health().last_evaluation, Some(M));
    }
    assert_eq!(g.health().last_evaluation, Some(M));
    assert_eq!(g.health().evaluations, 1);
}

#[test]
fn series_that_disappear_get_stale_markers() {
    let db = MemStorage::new();
    let a = ls(&[("__name__", "up"), ("job", "a")]);
    let b = ls(&[("__name__", "up"), ("job", "b")]);
    db.append(&a, 0, 1.0).unwrap();
    db.append(&b, 0, 1.0).unwrap();
    let mut g = group(
        "groups:
  - name: g
    rules:
      - record: r
        expr: up{job=\"a\"} or (up{job=\"b\"} and on() (vector(time()) < 90))
",
    );
    g.evaluate_at(M, &db, &db);
    g.evaluate_at(2 * M, &db, &db);
    let got = stored(&db, "r");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1, vec![(M, 1.0), (2 * M, 1.0)]);
    assert_eq!(got[1].0, r#"{__name__="r", job="b"}"#);
    assert_eq!(got[1].1.len(), 2);
    assert_eq!(got[1].1[0], (M, 1.0));
    assert_eq!(got[1].1[1].0, 2 * M);
    assert!(is_stale_nan(got[1].1[1].1));
    // The engine treats the marker as the series' end.
    let r = aion_promql::Engine::default()
        .instant_query(&db, "r", 2 * M)
        .unwrap();
    assert_eq!(r.value.as_vector().unwrap().len(), 1);
}

#[test]
fn duplicate_series_limit_and_query_errors_mark_the_rule_bad() {
    let db = MemStorage::new();
    db.append(&ls(&[("__name__", "up"), ("job", "a")]), 0, 1.0)
        .unwrap();
    db.append(&ls(&[("__name__", "up"), ("job", "b")]), 0, 1.0)
        .unwrap();
    let mut g = group(
        "groups:
  - name: g
    limit: 1
    rules:
      - record: dup
        expr: up
        labels:
          job: same
      - record: many
        expr: up
      - record: one
        expr: sum(up)
      - record: bad
        expr: '{__name__=~\"u.*\"} + on(nope) group_left up'
",
    );
    g.evaluate_at(M, &db, &db);
    let errs: Vec<(Health, Option<String>)> = g
        .rules()
        .iter()
        .map(|r| (r.health().health, r.health().last_error.clone()))
        .collect();
    assert_eq!(
        errs[0],
        (
            Health::Bad,
            Some(
                "vector contains metrics with the same labelset after applying rule labels".into()
            )
        )
    );
    assert_eq!(
        errs[1],
        (
            Health::Bad,
            Some("exceeded limit of 1 with 2 series".into())
        )
    );
    assert_eq!(errs[2], (Health::Good, None));
    assert_eq!(errs[3].0, Health::Bad);
    assert!(stored(&db, "dup").is_empty() && stored(&db, "many").is_empty());
    assert_eq!(stored(&db, "one")[0].1, vec![(M, 2.0)]);
    assert_eq!(g.health().rule_failures, 3);
}

#[test]
fn alerts_go_pending_then_firing_then_resolved() {
    let db = MemStorage::new();
    let up = ls(&[("__name__", "up"), ("job", "api"), ("instance", "h:1")]);
    // Down from 0 to 4m, up again from 5m.
    for i in 0..=10 {
        db.append(&up, i * M, if i <= 4 { 0.0 } else { 1.0 })
            .unwrap();
    }
    let mut g = group(
        "groups:
  - name: g
    rules:
      - alert: InstanceDown
        expr: up == 0
        for: 2m
        labels:
          severity: page
          instance: '{{ $labels.instance | stripPort }}'
        annotations:
          summary: '{{ $labels.job }} down, value {{ $value }}'
",
    );
    let key = r#"{alertname="InstanceDown", instance="h", job="api", severity="page"}"#;
    g.evaluate_at(0, &db, &db);
    assert_eq!(alerts(&g), [(key.to_string(), AlertState::Pending, 0)]);
    g.evaluate_at(M, &db, &db);
    assert_eq!(alerts(&g)[0].1, AlertState::Pending);
    g.evaluate_at(2 * M, &db, &db);
    assert_eq!(alerts(&g)[0].1, AlertState::Firing);
    let Rule::Alerting(r) = &g.rules()[0] else {
        panic!()
    };
    let a = r.alerts().next().unwrap();
    assert_eq!(a.fired_at, Some(2 * M));
    assert_eq!(
        a.annotations,
        [("summary".to_string(), "api down, value 0".to_string())]
    );
    g.evaluate_at(4 * M, &db, &db);
    g.evaluate_at(5 * M, &db, &db);
    assert_eq!(alerts(&g)[0].1, AlertState::Inactive);
    let Rule::Alerting(r) = &g.rules()[0] else {
        panic!()
    };
    assert_eq!(r.alerts().next().unwrap().resolved_at, Some(5 * M));

    let series = stored(&db, "ALERTS");
    let pending = r#"{__name__="ALERTS", alertname="InstanceDown", alertstate="pending", instance="h", job="api", severity="page"}"#.to_string();
    let firing = pending.replace("pending", "firing");
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].0, firing);
    assert_eq!(series[1].0, pending);
    // Firing at 2m and 4m, then a stale marker when resolved at 5m.
    assert_eq!(&series[0].1[..2], &[(2 * M, 1.0), (4 * M, 1.0)]);
    assert!(is_stale_nan(series[0].1[2].1) && series[0].1[2].0 == 5 * M);
    // Pending at 0 and 1m, stale once firing.
    assert_eq!(&series[1].1[..2], &[(0, 1.0), (M, 1.0)]);
    assert!(is_stale_nan(series[1].1[2].1) && series[1].1[2].0 == 2 * M);
    let for_state = stored(&db, "ALERTS_FOR_STATE");
    assert_eq!(
        for_state[0].0,
        r#"{__name__="ALERTS_FOR_STATE", alertname="InstanceDown", instance="h", job="api", severity="page"}"#
    );
    assert_eq!(
        &for_state[0].1[..4],
        &[(0, 0.0), (M, 0.0), (2 * M, 0.0), (4 * M, 0.0)]
    );

    // Resolved alerts are kept 15 minutes, then dropped.
    g.evaluate_at(20 * M, &db, &db);
    assert_eq!(alerts(&g).len(), 1);
    g.evaluate_at(20 * M + 1, &db, &db);
    assert!(alerts(&g).is_empty());
}

#[test]
fn pending_alerts_that_clear_are_dropped_and_zero_for_fires_at_once() {
    let db = MemStorage::new();
    let x = ls(&[("__name__", "x")]);
    db.append(&x, 0, 1.0).unwrap();
    db.append(&x, M, 0.0).unwrap();
    let mut g = group(
        "groups:
  - name: g
    rules:
      - alert: A
        expr: x > 0
        for: 5m
",
    );
    g.evaluate_at(0, &db, &db);
    assert_eq!(alerts(&g)[0].1, AlertState::Pending);
    g.evaluate_at(M, &db, &db);
    assert!(alerts(&g).is_empty());
    let mut g = group("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x > 0\n");
    g.evaluate_at(0, &db, &db);
    assert_eq!(alerts(&g)[0].1, AlertState::Firing);
}

#[test]
fn keep_firing_for_holds_a_cleared_alert() {
    let db = MemStorage::new();
    let x = ls(&[("__name__", "x")]);
    for (i, v) in [1.0, 1.0, 0.0, 0.0, 0.0, 0.0].into_iter().enumerate() {
        db.append(&x, i as i64 * M, v).unwrap();
    }
    let mut g = group(
        "groups:
  - name: g
    rules:
      - alert: A
        expr: x > 0
        keep_firing_for: 2m
",
    );
    let mut states = Vec::new();
    for i in 0..6 {
        g.evaluate_at(i * M, &db, &db);
        states.push(alerts(&g).first().map(|a| a.1));
    }
    use AlertState::*;
    // Cleared at 2m; kept firing at 2m and 3m (less than 2m since), resolved at 4m.
    assert_eq!(
        states,
        [
            Some(Firing),
            Some(Firing),
            Some(Firing),
            Some(Firing),
            Some(Inactive),
            Some(Inactive)
        ]
    );
    let Rule::Alerting(r) = &g.rules()[0] else {
        panic!()
    };
    assert_eq!(r.alerts().next().unwrap().resolved_at, Some(4 * M));
}

#[test]
fn alert_limit_drops_all_alerts() {
    let db = MemStorage::new();
    for j in ["a", "b"] {
        db.append(&ls(&[("__name__", "x"), ("j", j)]), 0, 1.0)
            .unwrap();
    }
    let mut g = group(
        "groups:\n  - name: g\n    limit: 1\n    rules:\n      - alert: A\n        expr: x\n",
    );
    g.evaluate_at(0, &db, &db);
    assert_eq!(
        g.rules()[0].health().last_error.as_deref(),
        Some("exceeded limit of 1 with 2 alerts")
    );
    assert!(alerts(&g).is_empty());
    assert!(stored(&db, "ALERTS").is_empty());
}

#[test]
fn duplicate_alerts_and_template_errors() {
    let db = MemStorage::new();
    for j in ["a", "b"] {
        db.append(&ls(&[("__name__", "x"), ("j", j)]), 0, 1.0)
            .unwrap();
    }
    let mut g = group(
        "groups:
  - name: g
    rules:
      - alert: A
        expr: x
        labels:
          j: same
",
    );
    g.evaluate_at(0, &db, &db);
    assert_eq!(
        g.rules()[0].health().last_error.as_deref(),
        Some("vector contains metrics with the same labelset after applying alert labels")
    );
    let mut g = group(
        "groups:
  - name: g
    rules:
      - alert: A
        expr: x{j=\"a\"}
        annotations:
          d: '{{ humanize $labels.j }}'
",
    );
    g.evaluate_at(0, &db, &db);
    let Rule::Alerting(r) = &g.rules()[0] else {
        panic!()
    };
    let d = &r.alerts().next().unwrap().annotations[0].1;
    assert!(
        d.starts_with("<error expanding template: error executing template __alert_A:")
            && d.ends_with(
                "error calling humanize: strconv.ParseFloat: parsing \"a\": invalid syntax>"
            ),
        "{d}"
    );
}

#[test]
fn query_offset_shifts_queries_and_output() {
    let db = MemStorage::new();
    let x = ls(&[("__name__", "x")]);
    db.append(&x, 0, 1.0).unwrap();
    db.append(&x, M, 2.0).unwrap();
    let mut g = group(
        "groups:\n  - name: g\n    query_offset: 1m\n    rules:\n      - record: y\n        expr: x\n",
    );
    assert_eq!(g.query_offset(), M);
    g.evaluate_at(2 * M, &db, &db);
    assert_eq!(stored(&db, "y")[0].1, vec![(M, 2.0)]);
    let opts = GroupOptions {
        default_query_offset: M,
        default_interval: 15_000,
        ..GroupOptions::default()
    };
    let g = group_with("groups:\n  - name: g\n    rules: []\n", &opts);
    assert_eq!((g.query_offset(), g.interval()), (M, 15_000));
}

#[test]
fn eval_timestamp_is_the_slot() {
    let g = group("groups:\n  - name: g\n    interval: 30s\n    rules: []\n");
    let now_ns = 1_700_000_000_123_456_789;
    let t = g.eval_timestamp(now_ns);
    let off = crate::slot::eval_offset_ns("g", "rules.yml", 30_000);
    assert!(t * 1_000_000 <= now_ns);
    assert!(now_ns - t * 1_000_000 < 30_000_000_000 + 1_000_000);
    assert_eq!(
        crate::slot::eval_timestamp_ns("g", "rules.yml", 30_000, now_ns) % 30_000_000_000,
        off % 30_000_000_000
    );
}
