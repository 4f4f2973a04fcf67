//! The byte limit (`EngineOptions::max_query_bytes`): queries that need
//! more fail with `Error::QueryMemoryLimit`; with room enough they give
//! exactly the results of an engine without the limit; and every charge is
//! given back by the end of a query (no leaked accounting).

use std::cell::Cell;

use aion_model::histogram::{Histogram, Span};
use aion_model::Labels;
use aion_storage::MemStorage;
use proptest::prelude::*;

use super::*;

thread_local! {
    /// The bytes still charged when the last query of this thread
    /// returned its result (set by `Engine::exec` in test builds).
    pub(crate) static RESIDUAL_BYTES: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn ls(p: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(p).unwrap()
}

const MIN: i64 = 60_000;

/// 120 `req_total{job, instance}` counters and 120 `mem` gauges every 15 s
/// for an hour, classic histogram buckets for 3 jobs, an info metric, and
/// one native histogram series.
fn fixture() -> MemStorage {
    let db = MemStorage::new();
    let mut batch = Vec::new();
    for j in 0..3 {
        let job = format!("job{j}");
        for i in 0..40 {
            let inst = format!("host-{i:03}.example.org:9100");
            let c = ls(&[
                ("__name__", "req_total"),
                ("job", &job),
                ("instance", &inst),
            ]);
            let g = ls(&[("__name__", "mem"), ("job", &job), ("instance", &inst)]);
            for k in 0..=240i64 {
                batch.push((c.clone(), k * 15_000, (k * (i + 1) + j) as f64));
                batch.push((g.clone(), k * 15_000, ((k * 7 + i * 3 + j) % 101) as f64));
            }
        }
        let info = ls(&[
            ("__name__", "target_info"),
            ("job", &job),
            ("instance", "host-000.example.org:9100"),
            ("version", "1.2"),
        ]);
        for (le, mult) in [("0.1", 1), ("1", 3), ("10", 5), ("+Inf", 6)] {
            let b = ls(&[("__name__", "lat_bucket"), ("job", &job), ("le", le)]);
            for k in 0..=240i64 {
                batch.push((b.clone(), k * 15_000, (k * mult) as f64));
            }
        }
        for k in 0..=240i64 {
            batch.push((info.clone(), k * 15_000, 1.0));
        }
    }
    db.append_batch(batch).unwrap();
    let h = ls(&[("__name__", "req_hist"), ("job", "job0")]);
    for k in 0..=240i64 {
        let n = k as u64 + 1;
        db.append_histogram(
            &h,
            k * 15_000,
            Histogram {
                count: 2 * n,
                sum: 3.0 * n as f64,
                positive_spans: vec![Span {
                    offset: 0,
                    length: 2,
                }],
                positive_buckets: vec![n as i64, 0],
                ..Histogram::default()
            },
        )
        .unwrap();
    }
    db
}

/// Queries over every place the engine holds data: (text, range query?).
const QUERIES: &[(&str, bool)] = &[
    // Range windows and selector batches over many series.
    ("rate(req_total[5m])", true),
    ("sum by (job) (rate(req_total[5m]))", true),
    (
        "avg by (job) (max_over_time(mem[15m]) - min_over_time(mem[15m]))",
        true,
    ),
    ("quantile by (job) (0.9, mem)", true),
    ("count_values(\"v\", mem)", false),
    // Heaps.
    ("topk(100, mem)", true),
    ("bottomk(5, rate(req_total[5m]))", true),
    ("limitk(3, mem)", false),
    // Subqueries.
    ("max_over_time(rate(req_total[5m])[30m:1m])", true),
    ("rate(req_total[5m])[10m:1m]", false),
    ("req_total[5m]", false),
    // Whole vectors: sort, vector matching, relabelling, info.
    ("mem unless on (instance) (mem > 50)", true),
    ("sort_desc(mem)", false),
    (
        "mem * on (job, instance) group_left rate(req_total[5m])",
        true,
    ),
    (
        "label_replace(mem, \"host\", \"$1\", \"instance\", \"(.*):.*\")",
        true,
    ),
    ("info(mem)", true),
    (
        "histogram_quantile(0.9, sum by (job, le) (rate(lat_bucket[5m])))",
        true,
    ),
    // Name removal's duplicate check (functions, unary minus, arithmetic).
    ("-abs(mem) * 2", true),
    // Native histograms: windows, aggregation, quantile.
    ("histogram_quantile(0.5, sum(rate(req_hist[5m])))", true),
    ("req_hist", true),
];

fn engine(limit: Option<usize>, parallel: bool) -> Engine {
    Engine::new(EngineOptions {
        max_query_bytes: limit,
        parallel,
        // `limitk` and `info` are experimental.
        parse_options: crate::parser::ParseOptions::experimental(),
        ..EngineOptions::default()
    })
}

fn run(e: &Engine, db: &MemStorage, q: &str, range: bool) -> Result<QueryResult> {
    if range {
        e.range_query(db, q, 20 * MIN, 60 * MIN, 30_000)
    } else {
        e.instant_query(db, q, 45 * MIN)
    }
}

fn residual() -> usize {
    RESIDUAL_BYTES.with(|r| r.get())
}

#[test]
fn off_counts_nothing() {
    let db = fixture();
    let r = run(&engine(None, true), &db, "rate(req_total[5m])", true).unwrap();
    assert_eq!(r.peak_bytes, 0);
}

/// With room enough every query gives the result of an engine without
/// the limit and hands back every byte it charged; one byte less than its
/// (sequential, so deterministic) peak fails the query with the limit's
/// error, never a truncated answer.
#[test]
fn room_enough_is_identical_and_less_fails() {
    let db = fixture();
    let off = engine(None, true);
    for &(q, range) in QUERIES {
        let want = run(&off, &db, q, range).unwrap();
        for parallel in [true, false] {
            let got = run(&engine(Some(1 << 40), parallel), &db, q, range).unwrap();
            assert_eq!(got.value, want.value, "{q} (parallel: {parallel})");
            assert_eq!(got.annotations, want.annotations, "{q}");
            assert!(got.peak_bytes > 0, "{q}: nothing counted");
            assert_eq!(
                residual(),
                0,
                "{q} (parallel: {parallel}): bytes left charged"
            );
        }
        let peak = run(&engine(Some(1 << 40), false), &db, q, range)
            .unwrap()
            .peak_bytes;
        let exact = run(&engine(Some(peak), false), &db, q, range).unwrap();
        assert_eq!(exact.value, want.value, "{q} at exactly its peak");
        match run(&engine(Some(peak - 1), false), &db, q, range) {
            Err(Error::QueryMemoryLimit { limit, needed, .. }) => {
                assert_eq!(limit, peak - 1, "{q}");
                assert!(needed > limit, "{q}");
            }
            other => panic!("{q}: {peak} - 1 bytes gave {:?}", other.map(|r| r.value)),
        }
    }
}

/// The cases: a range query over many series, a big `topk` and a
/// subquery each need far more than 64 KiB, and fail with a message that
/// says the limit, the need, what was held and how to raise it.
#[test]
fn queries_that_need_more_fail_with_the_limit() {
    let db = fixture();
    for (q, parallel, holding) in [
        ("rate(req_total[5m])", true, None),
        ("topk(100, mem)", true, None),
        ("max_over_time(rate(req_total[5m])[30m:1m])", true, None),
        // One series at a time: the groups' cells are what grows.
        ("sum by (instance) (mem)", false, Some(memory::what::GROUPS)),
        ("topk(100, mem)", false, Some(memory::what::HEAPS)),
    ] {
        let e = engine(Some(64 * 1024), parallel);
        let err = run(&e, &db, q, true).unwrap_err();
        let Error::QueryMemoryLimit {
            limit,
            needed,
            what,
        } = &err
        else {
            panic!("{q}: unexpected {err}");
        };
        assert_eq!(*limit, 64 * 1024);
        assert!(*needed > *limit);
        if let Some(h) = holding {
            assert_eq!(*what, h, "{q}");
        }
        let msg = err.to_string();
        assert!(msg.contains("65536 bytes"), "{msg}");
        assert!(msg.contains(&format!("{needed} bytes needed")), "{msg}");
        assert!(msg.contains(what), "{msg}");
        assert!(msg.contains("--max-query-bytes"), "{msg}");
    }
}

/// The peak is limited, not the sum: `sum(rate(...))` reads the same 120
/// windows as `rate(...)` but holds one series at a time, so its peak is a
/// fraction of the one that keeps all 120 outputs, and it passes a limit
/// the other fails.
#[test]
fn peak_not_sum() {
    let db = fixture();
    let e = engine(Some(1 << 40), false);
    let all = run(&e, &db, "rate(req_total[5m])", true)
        .unwrap()
        .peak_bytes;
    let folded = run(&e, &db, "sum(rate(req_total[5m]))", true)
        .unwrap()
        .peak_bytes;
    assert!(folded * 10 < all, "sum: {folded} bytes, all series: {all}");
    let tight = engine(Some(folded), false);
    assert!(run(&tight, &db, "sum(rate(req_total[5m]))", true).is_ok());
    assert!(run(&tight, &db, "rate(req_total[5m])", true).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any limit either gives the unlimited result with every charge
    /// given back, or the limit's error; never another answer.
    #[test]
    fn any_limit_is_all_or_the_error(
        q in 0..QUERIES.len(),
        limit in 1usize..4_000_000,
        parallel: bool,
        step in prop::sample::select(vec![15_000i64, 30_000, 60_000, 300_000]),
    ) {
        thread_local!(static DB: MemStorage = fixture());
        let (q, range) = QUERIES[q];
        DB.with(|db| {
            let exec = |e: &Engine| if range {
                e.range_query(db, q, 20 * MIN, 60 * MIN, step)
            } else {
                e.instant_query(db, q, 45 * MIN)
            };
            let want = exec(&engine(None, true)).unwrap();
            match exec(&engine(Some(limit), parallel)) {
                Ok(got) => {
                    prop_assert_eq!(&got.value, &want.value);
                    prop_assert!(got.peak_bytes <= limit);
                    prop_assert_eq!(residual(), 0, "bytes left charged");
                }
                Err(Error::QueryMemoryLimit { limit: l, needed, .. }) => {
                    prop_assert_eq!(l, limit);
                    prop_assert!(needed > limit);
                }
                Err(e) => prop_assert!(false, "unexpected {}", e),
            }
            Ok(())
        })?;
    }
}
