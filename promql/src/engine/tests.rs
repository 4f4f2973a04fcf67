//! Engine tests for semantics the upstream scripts do not pin down (eager
//! name removal, limits, cancellation) and property tests of invariants
//! (range queries agree with instant queries at every step, evaluation
//! order does not change results).

use aion_chunkenc::STALE_NAN;
use aion_model::Labels;
use aion_storage::MemStorage;
use proptest::prelude::*;

use super::*;
use crate::value::{Sample, Value};

fn ls(p: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(p).unwrap()
}

/// `http_requests_total{job, instance}` counters and a `mem` gauge every
/// 15 s for 10 minutes, plus a histogram.
fn fixture() -> MemStorage {
    let db = MemStorage::new();
    let mut batch = Vec::new();
    for (job, instances) in [("api", 3), ("db", 2)] {
        for i in 0..instances {
            let inst = i.to_string();
            let c = ls(&[
                ("__name__", "http_requests_total"),
                ("job", job),
                ("instance", &inst),
            ]);
            let g = ls(&[("__name__", "mem"), ("job", job), ("instance", &inst)]);
            for k in 0..=40i64 {
                batch.push((c.clone(), k * 15_000, (k * (i + 1)) as f64));
                batch.push((g.clone(), k * 15_000, ((k * 7 + i * 3) % 11) as f64));
            }
        }
        for (le, mult) in [("0.1", 1), ("1", 3), ("+Inf", 4)] {
            let b = ls(&[("__name__", "lat_bucket"), ("job", job), ("le", le)]);
            for k in 0..=40i64 {
                batch.push((b.clone(), k * 15_000, (k * mult) as f64));
            }
        }
    }
    db.append_batch(batch).unwrap();
    db
}

fn engine() -> Engine {
    Engine::new(EngineOptions::default())
}

fn vector(r: QueryResult) -> Vec<Sample> {
    match r.value {
        Value::Vector(v) => v,
        other => panic!("expected a vector, got {other:?}"),
    }
}

#[test]
fn eager_name_removal_without_the_feature() {
    let db = fixture();
    let e = engine();
    let v = vector(
        e.instant_query(&db, "rate(http_requests_total[1m])", 300_000)
            .unwrap(),
    );
    assert!(v.iter().all(|s| s.metric.metric_name().is_none()));
    let v = vector(
        e.instant_query(&db, "last_over_time(mem[1m])", 300_000)
            .unwrap(),
    );
    assert!(v.iter().all(|s| s.metric.metric_name() == Some("mem")));
    let v = vector(e.instant_query(&db, "mem > 3", 300_000).unwrap());
    assert!(v.iter().all(|s| s.metric.metric_name() == Some("mem")));
    let v = vector(e.instant_query(&db, "mem > bool 3", 300_000).unwrap());
    assert!(v.iter().all(|s| s.metric.metric_name().is_none()));
    // Dropping the name makes two series equal: Prometheus's error.
    let err = e
        .instant_query(
            &db,
            r#"abs({__name__=~"mem|http_requests_total", job="db", instance="0"})"#,
            300_000,
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
}

#[test]
fn delayed_name_removal_keeps_names_for_matching() {
    let db = fixture();
    let e = Engine::new(EngineOptions {
        delayed_name_removal: true,
        ..EngineOptions::default()
    });
    // With the name kept until the end, a regex on __name__ after a
    // function works.
    let v = vector(
        e.instant_query(
            &db,
            r#"label_replace(rate(http_requests_total{job="db"}[1m]), "n", "$1", "__name__", "(.*)")"#,
            300_000,
        )
        .unwrap(),
    );
    assert_eq!(v.len(), 2);
    assert!(v
        .iter()
        .all(|s| s.metric.get("n") == Some("http_requests_total")
            && s.metric.metric_name().is_none()));
}

#[test]
fn vector_matching_errors_have_prometheus_texts() {
    let db = fixture();
    let e = engine();
    let err = e
        .instant_query(&db, "mem + on(job) http_requests_total", 300_000)
        .unwrap_err();
    assert!(
        err.to_string().starts_with("found duplicate series for the match group {job=\"api\"} on the right hand-side of the operation"),
        "{err}"
    );
    let err = e
        .instant_query(&db, "mem + on(job) group_right sum by (job) (mem)", 300_000)
        .unwrap_err();
    assert!(err.to_string().contains("on the left hand-side"), "{err}");
    let v = vector(
        e.instant_query(&db, "mem * on(job) group_left sum by (job) (mem)", 300_000)
            .unwrap(),
    );
    assert_eq!(v.len(), 5);
    let err = e
        .instant_query(&db, "mem + ignoring(instance) sum by (job) (mem)", 300_000)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    );
}

#[test]
fn histogram_quantile_over_classic_buckets() {
    let db = fixture();
    let v = vector(
        engine()
            .instant_query(
                &db,
                "histogram_quantile(0.5, rate(lat_bucket[1m]))",
                300_000,
            )
            .unwrap(),
    );
    // Buckets 1, 3, 4 per second: the median 2 falls in (0.1, 1].
    assert_eq!(v.len(), 2);
    for s in v {
        assert!(
            (s.f - (0.1 + 0.9 * (2.0 - 1.0) / 2.0)).abs() < 1e-9,
            "{}",
            s.f
        );
    }
}

#[test]
fn too_many_samples() {
    let db = fixture();
    let e = Engine::new(EngineOptions {
        max_samples: 100,
        ..EngineOptions::default()
    });
    let err = e
        .range_query(&db, "http_requests_total", 0, 600_000, 15_000)
        .unwrap_err();
    assert!(matches!(err, Error::TooManySamples), "{err}");
    assert_eq!(
        err.to_string(),
        "query processing would load too many samples into memory in query execution"
    );
    // Aggregating streams: only the output is held.
    e.range_query(&db, "sum(http_requests_total)", 0, 600_000, 15_000)
        .unwrap();
}

#[test]
fn cancellation_and_timeouts() {
    let db = fixture();
    let e = engine();
    let token = CancellationToken::new();
    token.cancel();
    let opts = QueryOptions {
        cancel: Some(token),
        ..QueryOptions::default()
    };
    let err = e
        .range_query_with(
            &db,
            "sum(rate(http_requests_total[1m]))",
            0,
            600_000,
            1_000,
            &opts,
        )
        .unwrap_err();
    assert!(matches!(err, Error::Canceled));
    let opts = QueryOptions {
        timeout: Some(std::time::Duration::ZERO),
        ..QueryOptions::default()
    };
    let err = e
        .range_query_with(
            &db,
            "sum(rate(http_requests_total[1m]))",
            0,
            600_000,
            1_000,
            &opts,
        )
        .unwrap_err();
    assert_eq!(err.to_string(), "query timed out in expression evaluation");
}

#[test]
fn range_query_type_and_step_are_checked() {
    let db = fixture();
    let err = engine()
        .range_query(&db, "mem[5m]", 0, 60_000, 15_000)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"
    );
    assert!(engine().range_query(&db, "mem", 0, 60_000, 0).is_err());
}

#[test]
fn at_and_negative_offset_can_be_disabled() {
    let db = fixture();
    let e = Engine::new(EngineOptions {
        enable_at_modifier: false,
        enable_negative_offset: false,
        ..EngineOptions::default()
    });
    assert!(matches!(
        e.instant_query(&db, "mem @ 100", 0),
        Err(Error::AtModifierDisabled)
    ));
    assert!(matches!(
        e.instant_query(&db, "mem offset -1m", 0),
        Err(Error::NegativeOffsetDisabled)
    ));
}

#[test]
fn stale_markers_end_series_and_are_skipped_in_windows() {
    let db = MemStorage::new();
    let m = ls(&[("__name__", "m")]);
    db.append_batch([
        (m.clone(), 0, 1.0),
        (m.clone(), 10_000, STALE_NAN),
        (m.clone(), 20_000, 3.0),
    ])
    .unwrap();
    let e = engine();
    assert!(vector(e.instant_query(&db, "m", 15_000).unwrap()).is_empty());
    let v = vector(
        e.instant_query(&db, "count_over_time(m[1m])", 30_000)
            .unwrap(),
    );
    assert_eq!(v[0].f, 2.0);
}

#[test]
fn one_step_range_queries_return_matrices() {
    let db = fixture();
    let r = engine().range_query(&db, "mem", 60_000, 60_000, 1).unwrap();
    assert!(matches!(r.value, Value::Matrix(ref m) if m.len() == 5));
}

#[test]
fn scalar_range_queries_return_a_series() {
    let db = MemStorage::new();
    let r = engine()
        .range_query(&db, "time() * 2", 0, 120_000, 60_000)
        .unwrap();
    let Value::Matrix(m) = r.value else { panic!() };
    assert_eq!(m.len(), 1);
    assert!(m[0].metric.is_empty());
    assert_eq!(
        m[0].floats.iter().map(|p| p.f).collect::<Vec<_>>(),
        [0.0, 120.0, 240.0]
    );
}

// ---------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------

/// Queries covering selectors, windows, aggregations, matching and
/// subqueries.
const QUERIES: &[&str] = &[
    "m",
    "m offset 30s",
    "rate(m[1m])",
    "delta(m[45s])",
    "irate(m[1m])",
    "sum by (g) (m)",
    "avg without (i) (m)",
    "max(m) - min(m)",
    "count_values(\"v\", round(m))",
    "topk(2, m)",
    "bottomk by (g) (1, m)",
    "quantile(0.3, m)",
    "stddev by (g) (m)",
    "m > on(i, g) group_left m2",
    "m and m2 > 5",
    "m or m2",
    "m unless on(g) m2",
    "max_over_time(m[2m])",
    "avg_over_time(rate(m[1m])[3m:20s])",
    "sum(rate(m[1m])) * 60",
    "changes(m[5m]) + resets(m[5m])",
    "deriv(m[2m])",
    "predict_linear(m[2m], 30)",
    "quantile_over_time(0.7, m[2m])",
    "absent(m{g=\"none\"})",
    "absent_over_time(m[30s])",
    "scalar(sum(m)) + vector(1)",
    "-m * 2 ^ 2",
    "label_replace(m, \"x\", \"$1\", \"i\", \"(.)\")",
    "clamp(m, 2, 8)",
    "m @ 120 + 0 * m",
    "sum_over_time(m[1m] @ 180)",
    "timestamp(m)",
];

fn dataset() -> impl Strategy<Value = Vec<(Labels, Vec<(i64, f64)>)>> {
    let series = (0..3u8, 0..2u8, 1..3u8).prop_flat_map(|(i, g, name)| {
        let labels = ls(&[
            ("__name__", if name == 1 { "m" } else { "m2" }),
            ("i", &i.to_string()),
            ("g", &g.to_string()),
        ]);
        let samples = proptest::collection::vec(
            (
                1i64..40_000,
                prop_oneof![8 => 0.0..10.0f64, 1 => Just(STALE_NAN), 1 => Just(0.0)],
            ),
            0..30,
        );
        (Just(labels), samples)
    });
    proptest::collection::vec(series, 1..8).prop_map(|v| {
        let mut out: Vec<(Labels, Vec<(i64, f64)>)> = Vec::new();
        for (l, gaps) in v {
            if out.iter().any(|(x, _)| *x == l) {
                continue;
            }
            let mut t = 0;
            let samples = gaps
                .into_iter()
                .map(|(gap, f)| {
                    t += gap;
                    (t, f)
                })
                .collect();
            out.push((l, samples));
        }
        out
    })
}

fn load(data: &[(Labels, Vec<(i64, f64)>)]) -> MemStorage {
    let db = MemStorage::new();
    db.append_batch(
        data.iter()
            .flat_map(|(l, s)| s.iter().map(move |&(t, f)| (l.clone(), t, f))),
    )
    .unwrap();
    db
}

fn same(a: f64, b: f64) -> bool {
    almost_equal(a, b, 1e-9)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// Step invariance: every point of a range query equals the instant
    /// query at that step (labels and value), and no series is missing.
    #[test]
    fn range_query_points_equal_instant_queries(
        data in dataset(),
        q in proptest::sample::select(QUERIES),
        start in 0i64..200_000,
        step in prop_oneof![Just(15_000i64), Just(60_000), 1_000i64..90_000],
    ) {
        let db = load(&data);
        let e = engine();
        let end = start + 4 * step;
        let range = e.range_query(&db, q, start, end, step);
        let Ok(range) = range else {
            // Errors must then also occur at some step of instant mode.
            let any_err = (0..5).any(|i| e.instant_query(&db, q, start + i * step).is_err());
            prop_assert!(any_err, "range failed but no instant query did: {:?}", range.unwrap_err().to_string());
            return Ok(());
        };
        let Value::Matrix(m) = range.value else { panic!() };
        for i in 0..5 {
            let t = start + i * step;
            let inst = match e.instant_query(&db, q, t) {
                Ok(r) => r,
                Err(err) => {
                    prop_assert!(false, "instant query failed at {}: {}", t, err);
                    unreachable!()
                }
            };
            let mut want: Vec<(Labels, f64)> = match inst.value {
                Value::Vector(v) => v.into_iter().map(|s| (s.metric, s.f)).collect(),
                Value::Scalar { v, .. } => vec![(Labels::new(), v)],
                other => panic!("{other:?}"),
            };
            want.sort_by(|a, b| a.0.cmp(&b.0));
            let got: Vec<(Labels, f64)> = m
                .iter()
                .filter_map(|s| s.floats.iter().find(|p| p.t == t).map(|p| (s.metric.clone(), p.f)))
                .collect();
            prop_assert_eq!(got.len(), want.len(), "query {} at {}: {:?} vs {:?}", q, t, got, want);
            for (g, w) in got.iter().zip(&want) {
                prop_assert_eq!(&g.0, &w.0, "query {} at {}", q, t);
                prop_assert!(same(g.1, w.1), "query {} at {}: {} vs {}", q, t, g.1, w.1);
            }
        }
    }

    /// Parallel batches and sequential evaluation give identical bits.
    #[test]
    fn parallelism_does_not_change_results(
        data in dataset(),
        q in proptest::sample::select(QUERIES),
    ) {
        let db = load(&data);
        let par = engine().range_query(&db, q, 0, 200_000, 10_000);
        let seq = Engine::new(EngineOptions { parallel: false, ..EngineOptions::default() })
            .range_query(&db, q, 0, 200_000, 10_000);
        match (par, seq) {
            (Ok(a), Ok(b)) => prop_assert_eq!(
                crate::json::encode_data(&a.value),
                crate::json::encode_data(&b.value)
            ),
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a.map(|r| r.value), b.map(|r| r.value)),
        }
    }

    /// Summing per-shard sums gives the total sum (up to float rounding).
    #[test]
    fn sum_of_shard_sums_is_the_sum(data in dataset(), t in 0i64..300_000) {
        let db = load(&data);
        let e = engine();
        let total = vector(e.instant_query(&db, "sum({__name__=~\"m|m2\"})", t).unwrap());
        let sharded = vector(e.instant_query(&db, "sum(sum by (g) ({__name__=~\"m|m2\"}))", t).unwrap());
        prop_assert_eq!(total.len(), sharded.len());
        if let (Some(a), Some(b)) = (total.first(), sharded.first()) {
            prop_assert!(almost_equal(a.f, b.f, 1e-9), "{} vs {}", a.f, b.f);
        }
    }
}

/// Pieces of PromQL glued into random (mostly invalid) queries.
const FRAGMENTS: &[&str] = &[
    "m",
    "m2",
    "{g=\"1\"}",
    "[1m]",
    "[5m:20s]",
    "[1h:]",
    "@ 100",
    "@ 1e12",
    "offset 1m",
    "offset -2h",
    "(",
    ")",
    ",",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "==",
    "!=",
    "> bool",
    "<",
    "and",
    "or",
    "unless",
    "on(g)",
    "ignoring(i)",
    "group_left(i)",
    "group_right",
    "sum",
    "avg",
    "count",
    "max",
    "min",
    "stddev",
    "quantile(0.5,",
    "topk(2,",
    "bottomk(1,",
    "limitk(1,",
    "limit_ratio(0.5,",
    "count_values(\"v\",",
    "by (g)",
    "without (i)",
    "rate(",
    "irate(",
    "increase(",
    "delta(",
    "deriv(",
    "predict_linear(",
    "histogram_quantile(0.9,",
    "histogram_fraction(0,1,",
    "label_replace(",
    "label_join(",
    "sort(",
    "sort_desc(",
    "sort_by_label(",
    "absent(",
    "absent_over_time(",
    "scalar(",
    "vector(",
    "time()",
    "timestamp(",
    "clamp(",
    "round(",
    "abs(",
    "exp(",
    "ln(",
    "year(",
    "hour()",
    "max_over_time(",
    "quantile_over_time(0.9,",
    "mad_over_time(",
    "changes(",
    "resets(",
    "double_exponential_smoothing(",
    "info(",
    "0.5",
    "1",
    "-1",
    "NaN",
    "Inf",
    "1e308",
    "\"x\"",
    "\"(.*)\"",
    "step()",
    "[5m+step()]",
];

/// Mostly valid queries from a small grammar of vectors, range vectors,
/// functions, aggregations and operators.
fn query() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("m".to_string()),
        Just("m2{g=\"1\"}".to_string()),
        Just("m offset 1m".to_string()),
        Just("m @ 100".to_string()),
        Just("vector(1)".to_string()),
        Just("time()".to_string()),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        let range = prop_oneof![
            Just("m[1m]".to_string()),
            Just("m2[2m] offset 30s".to_string()),
            inner.clone().prop_map(|e| format!("({e})[2m:20s]")),
        ];
        prop_oneof![
            (
                proptest::sample::select(
                    &[
                        "rate",
                        "deriv",
                        "max_over_time",
                        "changes",
                        "absent_over_time",
                        "mad_over_time"
                    ][..]
                ),
                range
            )
                .prop_map(|(f, r)| format!("{f}({r})")),
            (
                proptest::sample::select(
                    &["abs", "sort_desc", "absent", "-", "ln", "timestamp"][..]
                ),
                inner.clone()
            )
                .prop_map(|(f, e)| format!("{f}({e})")),
            (
                proptest::sample::select(
                    &[
                        "sum by (g)",
                        "avg",
                        "topk(2,",
                        "count_values(\"v\",",
                        "quantile(0.7,",
                        "stddev without (i)"
                    ][..]
                ),
                inner.clone()
            )
                .prop_map(|(a, e)| if a.ends_with(',') {
                    format!("{a} {e})")
                } else {
                    format!("{a} ({e})")
                }),
            (
                inner.clone(),
                proptest::sample::select(
                    &[
                        "+",
                        "/ on(g) group_left",
                        "> bool",
                        "or",
                        "unless",
                        "and on(i)",
                        "^"
                    ][..]
                ),
                inner
            )
                .prop_map(|(l, op, r)| format!("({l}) {op} ({r})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever parses evaluates to a result or an error, never a panic,
    /// and range results are label-sorted matrices on the step grid.
    #[test]
    fn arbitrary_queries_do_not_panic(
        data in dataset(),
        soup in proptest::collection::vec(proptest::sample::select(FRAGMENTS), 1..12),
        grammar in query(),
        use_grammar in any::<bool>(),
    ) {
        let q = if use_grammar { grammar } else { soup.join(" ") };
        let Ok(expr) = crate::parse_with(&q, &crate::ParseOptions::experimental()) else {
            return Ok(());
        };
        let db = load(&data);
        let e = Engine::new(EngineOptions {
            max_samples: 100_000,
            ..EngineOptions::prometheus_test_suite()
        });
        for t in [0, 123_456] {
            let _ = e.instant_query(&db, &expr, t);
        }
        if let Ok(r) = e.range_query(&db, &expr, 10_000, 190_000, 30_000) {
            let Value::Matrix(m) = r.value else { panic!("{q}: not a matrix") };
            for w in m.windows(2) {
                prop_assert!(w[0].metric < w[1].metric, "{}: unsorted", q);
            }
            for s in &m {
                for p in &s.floats {
                    prop_assert!((10_000..=190_000).contains(&p.t) && (p.t - 10_000) % 30_000 == 0);
                }
            }
        }
    }
}

#[test]
fn anchored_and_smoothed_windows() {
    // 1..5 every 15 s from 0, then 9..13 from 75 s.
    let db = MemStorage::new();
    let m = ls(&[("__name__", "metric")]);
    db.append_batch((0..10).map(|k| {
        let v = if k < 5 { k + 1 } else { k + 4 };
        (m.clone(), k * 15_000, v as f64)
    }))
    .unwrap();
    let e = Engine::new(EngineOptions::prometheus_test_suite());
    let at = |q: &str, t: i64| vector(e.instant_query(&db, q, t).unwrap())[0].f;
    // Anchored: from the last sample at or before the range start (2 at
    // 15 s) to the last one (9 at 75 s), no extrapolation.
    assert_eq!(at("increase(metric[1m] anchored)", 80_000), 7.0);
    // Smoothed: values interpolated at 5 s (1.333) and 65 s (6.333).
    assert!((at("increase(metric[1m] smoothed)", 65_000) - 5.0).abs() < 1e-9);
    // A smoothed selector interpolates between neighbours.
    assert!((at("metric smoothed", 70_000) - (5.0 + 4.0 * 10.0 / 15.0)).abs() < 1e-9);
    let err = e
        .instant_query(&db, "max_over_time(metric[1m] anchored)", 80_000)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "anchored modifier can only be used with: changes, delta, increase, rate, resets - not with max_over_time"
    );
    // The range vector itself gets points at the range edges.
    let r = e.instant_query(&db, "metric[1m] anchored", 80_000).unwrap();
    let Value::Matrix(m) = r.value else { panic!() };
    let pts: Vec<(i64, f64)> = m[0].floats.iter().map(|p| (p.t, p.f)).collect();
    assert_eq!(
        pts,
        [
            (20_000, 2.0),
            (30_000, 3.0),
            (45_000, 4.0),
            (60_000, 5.0),
            (75_000, 9.0),
            (80_000, 9.0)
        ]
    );
}

/// A store whose queriers know of damage (as a Db that skipped a block).
struct Damaged(MemStorage, Vec<String>);

struct DamagedQuerier<'a>(Box<dyn aion_storage::Querier + 'a>, &'a [String]);

impl aion_storage::LabelQuerier for DamagedQuerier<'_> {
    fn label_values(
        &self,
        name: &str,
        m: &[aion_model::Matcher],
    ) -> aion_storage::Result<Vec<String>> {
        self.0.label_values(name, m)
    }
    fn label_names(&self, m: &[aion_model::Matcher]) -> aion_storage::Result<Vec<String>> {
        self.0.label_names(m)
    }
    fn warnings(&self) -> Vec<String> {
        self.1.to_vec()
    }
}

impl aion_storage::Querier for DamagedQuerier<'_> {
    fn select<'b>(
        &'b self,
        sorted: bool,
        hints: Option<&aion_storage::SelectHints<'_>>,
        matchers: &[aion_model::Matcher],
    ) -> Box<dyn aion_storage::SeriesSet<'b> + 'b> {
        self.0.select(sorted, hints, matchers)
    }
}

impl Queryable for Damaged {
    fn querier(
        &self,
        mint: i64,
        maxt: i64,
    ) -> aion_storage::Result<Box<dyn aion_storage::Querier + '_>> {
        Ok(Box::new(DamagedQuerier(
            self.0.querier(mint, maxt)?,
            &self.1,
        )))
    }
}

#[test]
fn storage_warnings_reach_the_result_and_the_api_answer() {
    let store = Damaged(
        fixture(),
        vec!["skipped unreadable block 01H: index: checksum mismatch".into()],
    );
    // Merged with another store (a host's own), still reported, once.
    let merged = aion_storage::MergeQueryable::new(vec![Box::new(&store), Box::new(&store)]);
    for q in [&store as &dyn Queryable, &merged] {
        for expr in ["1", "sum(rate(http_requests_total[5m]))"] {
            let r = engine().instant_query(q, expr, 300_000).unwrap();
            let w: Vec<&str> = r.annotations.warnings().map(|a| a.message()).collect();
            assert_eq!(w, [store.1[0].as_str()], "{expr}");
            let body = crate::json::encode_response(&r, expr);
            assert!(
                body.ends_with(
                    r#","warnings":["skipped unreadable block 01H: index: checksum mismatch"]}"#
                ),
                "{body}"
            );
        }
    }
    // A healthy store: no `warnings` field at all.
    let r = engine().instant_query(&fixture(), "1", 0).unwrap();
    assert!(r.annotations.is_empty());
    assert!(!crate::json::encode_response(&r, "1").contains("warnings"));
}

#[test]
fn api_answers_list_warnings_then_infos_with_positions() {
    let s = fixture();
    // A warning (quantile out of range) and an info (`rate` of a name
    // that does not look like a counter).
    let expr = "quantile(2, mem) + on() sum(rate(mem[5m]))";
    let r = engine().instant_query(&s, expr, 300_000).unwrap();
    assert_eq!(
        (
            r.annotations.warnings().count(),
            r.annotations.infos().count()
        ),
        (1, 1),
        "{:?}",
        r.annotations
    );
    let body = crate::json::encode_response(&r, expr);
    assert!(
        body.starts_with(r#"{"status":"success","data":{"resultType":"vector","result":["#),
        "{body}"
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let w = r.annotations.warnings().next().unwrap().render(expr);
    let i = r.annotations.infos().next().unwrap().render(expr);
    assert!(
        w.starts_with("PromQL warning: quantile value") && w.ends_with("(1:10)"),
        "{w}"
    );
    assert!(
        i.starts_with("PromQL info: metric might not be a counter"),
        "{i}"
    );
    assert_eq!(v["warnings"], serde_json::json!([w]));
    assert_eq!(v["infos"], serde_json::json!([i]));
    // Field order as Prometheus's: status, data, warnings, infos.
    assert!(body.find("\"warnings\"").unwrap() < body.find("\"infos\"").unwrap());
}
