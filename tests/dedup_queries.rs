//! HA deduplication through the PromQL engine and the CLI: two replica
//! blocks (replica="a" with a 20-minute gap, replica="b" scraping 3 s
//! later and counting a little behind), with a counter reset at a chunk
//! boundary, queried raw and downsampled.
//!
//! The expected answers are the same queries over one series built here
//! by the penalty rule by hand: replica a (earliest) is followed until its
//! gap; the first b sample more than two scrape intervals after a's last
//! is taken and b followed from then on (a, 15 s later than b's next
//! sample and penalised by twice the interval, never wins again). For the
//! counter functions b is lifted at the switch by what it is behind.

#[path = "support/binaries.rs"]
mod binaries;
#[path = "support/raw_block.rs"]
mod raw_block;

use std::path::Path;

use aion::downsample::{downsample_block, DownsampledQueryable, RES_5M};
use aion::model::{Labels, Matcher};
use aion::promql::{Engine, EngineOptions, Value};
use aion::storage::dedup::{DedupMode, DedupQueryable};
use aion::storage::{MemStorage, Queryable, SelectHints, ValueType};
use aion::tsdb::block::Block;
use aion::tsdb::Db;
use binaries::run_aion as aion;

type Samples = Vec<(i64, f64)>;

const SPAN: i64 = 2 * 3600 * 1000;
const SCRAPE: i64 = 15_000;
/// Replica b scrapes this much after replica a.
const SKEW: i64 = 3_000;
/// Replica a has no samples in `[GAP.0, GAP.1)`.
const GAP: (i64, i64) = (3_000_000, 4_200_000);
/// Both counters restart here: sample 120 of each replica, the first of
/// its second chunk.
const RESET: i64 = 1_800_000;
const JOBS: [(&str, f64); 2] = [("api", 0.5), ("web", 2.0)];

/// The counter of `job` (rising `rate` per second) as replica `behind`
/// units behind sees it at `t`.
fn counter(rate: f64, t: i64, behind: f64) -> f64 {
    if t < RESET {
        1000.0 + rate * t as f64 / 1000.0 - behind
    } else {
        50.0 + rate * (t - RESET) as f64 / 1000.0 - behind / 5.0
    }
}

fn replica_a(rate: f64) -> Samples {
    (0..SPAN / SCRAPE)
        .map(|i| i * SCRAPE)
        .filter(|t| !(GAP.0..GAP.1).contains(t))
        .map(|t| (t, counter(rate, t, 0.0)))
        .collect()
}

fn replica_b(rate: f64) -> Samples {
    (0..SPAN / SCRAPE - 1)
        .map(|i| i * SCRAPE + SKEW)
        .map(|t| (t, counter(rate, t, 100.0)))
        .collect()
}

fn labels(job: &str, replica: Option<&str>) -> Labels {
    let mut pairs = vec![("__name__", "x"), ("job", job)];
    pairs.extend(replica.map(|r| ("replica", r)));
    Labels::from_pairs(&pairs).unwrap()
}

/// The penalty rule by hand: `a` until `switch_after`, then `b` from its
/// first sample more than `2 * interval` later, lifted when `lift` and
/// behind.
fn by_hand(
    a: &[(i64, f64)],
    b: &[(i64, f64)],
    switch_after: i64,
    interval: i64,
    lift: bool,
) -> Samples {
    let mut out: Samples = a.iter().copied().filter(|s| s.0 <= switch_after).collect();
    let last = *out.last().unwrap();
    let rest: Vec<_> = b
        .iter()
        .copied()
        .filter(|s| s.0 > last.0 + 2 * interval)
        .collect();
    let offset = if lift {
        (last.1 - rest[0].1).max(0.0)
    } else {
        0.0
    };
    out.extend(rest.into_iter().map(|(t, v)| (t, v + offset)));
    out
}

struct Fixture {
    raw_dir: tempfile::TempDir,
    bucket: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let (raw_dir, bucket) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (replica, gen) in [("a", replica_a as fn(f64) -> Samples), ("b", replica_b)] {
        let series: Vec<_> = JOBS
            .iter()
            .map(|&(job, rate)| (labels(job, Some(replica)), gen(rate)))
            .collect();
        raw_block::write_raw(raw_dir.path(), &series, 0, SPAN);
        let raw = raw_block::write_raw(bucket.path(), &series, 0, SPAN);
        downsample_block(&raw, bucket.path(), RES_5M)
            .unwrap()
            .0
            .unwrap();
    }
    Fixture { raw_dir, bucket }
}

fn store(series: &[(Labels, Samples)]) -> MemStorage {
    let db = MemStorage::new();
    for (l, samples) in series {
        for &(t, v) in samples {
            db.append(l, t, v).unwrap();
        }
    }
    db
}

/// A range query's matrix as (labels, points).
fn range(q: &dyn Queryable, expr: &str, start: i64, end: i64, step: i64) -> Vec<(Labels, Samples)> {
    let r = Engine::new(EngineOptions::default())
        .range_query(q, expr, start, end, step)
        .unwrap();
    let Value::Matrix(m) = r.value else {
        panic!("{expr}: not a matrix")
    };
    m.into_iter()
        .map(|s| (s.metric, s.floats.iter().map(|p| (p.t, p.f)).collect()))
        .collect()
}

fn open_db(dir: &Path) -> Db {
    Db::open_read_only(dir).unwrap()
}

const RATE: &str = "sum by (job) (rate(x[5m]))";

#[test]
fn penalty_dedup_through_the_engine_equals_the_penalty_rule() {
    let f = fixture();
    let db = open_db(f.raw_dir.path());
    let dedup = DedupQueryable::new(&db, vec!["replica".into()], DedupMode::Penalty);
    let last_before_gap = GAP.0 - SCRAPE;
    let rated: Vec<_> = JOBS
        .iter()
        .map(|&(job, r)| {
            let merged = by_hand(&replica_a(r), &replica_b(r), last_before_gap, SCRAPE, true);
            (labels(job, None), merged)
        })
        .collect();
    let plain: Vec<_> = JOBS
        .iter()
        .map(|&(job, r)| {
            let merged = by_hand(&replica_a(r), &replica_b(r), last_before_gap, SCRAPE, false);
            (labels(job, None), merged)
        })
        .collect();
    // The lift is exercised: b is behind a at the switch.
    assert!(rated[0].1 != plain[0].1);
    // The engine reads from `start - 5m + 1` (left-open windows): a sample
    // of a there, so a is first, as the rule by hand assumes. (One
    // millisecond later b's sample 3 s on would be first, and followed
    // until a's next sample, as Thanos's querier would too.)
    let (start, end, step) = (599_999, SPAN - 60_000, 60_000);
    let got = range(&dedup, RATE, start, end, step);
    let want = range(&store(&rated), RATE, start, end, step);
    assert_eq!(got, want);
    // No false reset at the switch: away from the real reset (where
    // `rate` counts the restarted counter's 50 as increase) the rate never
    // exceeds the counter's.
    for ((_, points), &(job, r)) in got.iter().zip(&JOBS) {
        let away: Vec<_> = points
            .iter()
            .filter(|p| !(RESET..RESET + 300_000).contains(&p.0))
            .collect();
        assert!(away.len() > 100);
        assert!(away.iter().all(|p| p.1 <= r * 1.0001), "{job}: {points:?}");
    }
    // Without the lift the switch would read as a reset: a spike.
    let unlifted = range(&store(&plain), RATE, start, end, step);
    assert!(unlifted[0]
        .1
        .iter()
        .any(|p| p.1 > 2.0 * JOBS[0].1 && p.0 > GAP.0));
    let got = range(&dedup, "x", start, end, step);
    let want = range(&store(&plain), "x", start, end, step);
    assert_eq!(got, want);
    // Without deduplication both replicas are there, and the sum doubles.
    let both = range(&db, RATE, 900_000, 900_000, step);
    assert_eq!(range(&dedup, RATE, 900_000, 900_000, step).len(), 2);
    let api = both.iter().find(|s| s.0.get("job") == Some("api")).unwrap();
    assert!((api.1[0].1 - 2.0 * JOBS[0].1).abs() < 1e-9, "{both:?}");
}

#[test]
fn chain_dedup_unites_the_replicas_samples() {
    let f = fixture();
    let db = open_db(f.raw_dir.path());
    let dedup = DedupQueryable::new(&db, vec!["replica".into()], DedupMode::Chain);
    let q = dedup.querier(0, SPAN).unwrap();
    let hints = SelectHints {
        start: 0,
        end: SPAN,
        ..SelectHints::default()
    };
    let mut set = q.select(true, Some(&hints), &[Matcher::equal("__name__", "x")]);
    for &(job, r) in &JOBS {
        let mut s = set.next().unwrap().unwrap();
        assert_eq!(s.labels, labels(job, None));
        let mut got = Vec::new();
        while s.samples.next() == ValueType::Float {
            got.push(s.samples.at());
        }
        let mut want = replica_a(r);
        want.extend(replica_b(r));
        want.sort_by_key(|p| p.0);
        assert_eq!(got, want, "{job}");
    }
    assert!(set.next().is_none());
}

/// Each replica's counter aggregate (one sample per 5 m window, stamped at
/// the window's end, both replicas alike; plus the first raw sample).
fn aggregates(ds: &DownsampledQueryable, job: &str, replica: &str) -> Samples {
    let q = ds.querier(0, SPAN).unwrap();
    let hints = SelectHints {
        start: 0,
        end: SPAN,
        func: Some("rate"),
        ..SelectHints::default()
    };
    let m = [
        Matcher::equal("job", job),
        Matcher::equal("replica", replica),
    ];
    let mut set = q.select(true, Some(&hints), &m);
    let mut s = set.next().unwrap().unwrap();
    let mut out = Vec::new();
    while s.samples.next() == ValueType::Float {
        out.push(s.samples.at());
    }
    out
}

#[test]
fn penalty_dedup_over_downsampled_blocks() {
    let f = fixture();
    let blocks = || -> Vec<Block> {
        std::fs::read_dir(f.bucket.path())
            .unwrap()
            .map(|e| Block::open(e.unwrap().path()).unwrap())
            .collect()
    };
    let ds = DownsampledQueryable::new(blocks(), RES_5M).unwrap();
    assert_eq!(ds.resolution(), RES_5M);
    let dedup = DedupQueryable::new(
        DownsampledQueryable::new(blocks(), RES_5M).unwrap(),
        vec!["replica".into()],
        DedupMode::Penalty,
    );
    // a's last window before its gap ends at GAP.0 - 1; the windows are
    // 5 m apart, so b's first window more than 10 m later is taken.
    let rated: Vec<_> = JOBS
        .iter()
        .map(|&(job, _)| {
            let (a, b) = (aggregates(&ds, job, "a"), aggregates(&ds, job, "b"));
            (labels(job, None), by_hand(&a, &b, GAP.0 - 1, RES_5M, true))
        })
        .collect();
    let q = "sum by (job) (rate(x[1h]))";
    // Read from 0, a's first raw sample (see the raw test).
    let (start, end, step) = (3_599_999, SPAN, 300_000);
    let got = range(&dedup, q, start, end, step);
    let want = range(&store(&rated), q, start, end, step);
    assert_eq!(got.len(), 2);
    assert_eq!(got, want);
}

/// The `VALUE  SERIES` rows of a table answer.
fn rows(out: &str) -> Vec<(String, f64)> {
    out.lines()
        .skip(1)
        .filter(|l| !l.starts_with('('))
        .map(|l| {
            let (v, series) = l.split_once("  ").unwrap();
            (series.trim().to_string(), v.trim().parse().unwrap())
        })
        .collect()
}

#[test]
fn cli_replica_label_deduplicates() {
    let f = fixture();
    let dir = f.raw_dir.path().to_str().unwrap();
    let t = 3_600_000; // inside a's gap
    let secs = format!("{}", t / 1000);
    let db = open_db(f.raw_dir.path());
    for (mode, flags) in [
        (DedupMode::Penalty, vec!["--replica-label", "replica"]),
        (
            DedupMode::Chain,
            vec!["--replica-label", "replica", "--dedup", "chain"],
        ),
    ] {
        let (code, out, err) = aion(&[&["query", dir, RATE, "--time", &secs][..], &flags].concat());
        assert_eq!(code, 0, "{err}");
        let dedup = DedupQueryable::new(&db, vec!["replica".into()], mode);
        let want = range(&dedup, RATE, t, t, 1000);
        let got = rows(&out);
        assert_eq!(got.len(), 2, "{out}");
        for ((series, v), (l, p)) in got.iter().zip(&want) {
            assert!(
                series.contains(&format!("job=\"{}\"", l.get("job").unwrap())),
                "{out}"
            );
            assert_eq!(*v, p[0].1, "{mode:?}: {out}");
        }
    }
    // The plain selector: one series per job, no replica label.
    let (code, out, err) = aion(&[
        "query",
        dir,
        "x",
        "--time",
        &secs,
        "--replica-label",
        "replica",
    ]);
    assert_eq!(code, 0, "{err}");
    let got = rows(&out);
    assert_eq!(got.len(), 2, "{out}");
    assert!(got.iter().all(|(s, _)| !s.contains("replica")), "{out}");
    // Without the flag both replicas answer (before a's gap).
    let (code, out, _) = aion(&["query", dir, "x", "--time", "900"]);
    assert_eq!(code, 0);
    assert_eq!(rows(&out).len(), 4, "{out}");
    // Over downsampled blocks, as `--resolution` reads them.
    let bucket = f.bucket.path().to_str().unwrap();
    let q = "sum by (job) (rate(x[1h]))";
    let t = SPAN - 300_000;
    let secs = format!("{}", t / 1000);
    let (code, out, err) = aion(&[
        "query",
        bucket,
        q,
        "--time",
        &secs,
        "--resolution",
        "5m",
        "--replica-label",
        "replica",
    ]);
    assert_eq!(code, 0, "{err}");
    let blocks: Vec<Block> = std::fs::read_dir(f.bucket.path())
        .unwrap()
        .map(|e| Block::open(e.unwrap().path()).unwrap())
        .collect();
    let dedup = DedupQueryable::new(
        DownsampledQueryable::new(blocks, RES_5M).unwrap(),
        vec!["replica".into()],
        DedupMode::Penalty,
    );
    let want = range(&dedup, q, t, t, 1000);
    let got = rows(&out);
    assert_eq!(
        got.iter().map(|r| r.1).collect::<Vec<_>>(),
        want.iter().map(|s| s.1[0].1).collect::<Vec<_>>(),
        "{out}"
    );
    // query-range takes the same flags.
    let (code, out, err) = aion(&[
        "query-range",
        dir,
        "x",
        "--start",
        "2700",
        "--end",
        "3900",
        "--step",
        "600",
        "--replica-label",
        "replica",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("\"metric\"").count(), 2, "{out}");
    assert!(!out.contains("replica"), "{out}");
    // Bad flags are refused by name.
    let (code, _, err) = aion(&[
        "query",
        dir,
        "x",
        "--replica-label",
        "replica",
        "--dedup",
        "max",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("want penalty or chain"), "{err}");
    let (code, _, err) = aion(&["query", dir, "x", "--dedup", "chain"]);
    assert_eq!(code, 2);
    assert!(err.contains("--replica-label"), "{err}");
}
