//! Aion answers a data directory that Prometheus 2.42 wrote by *scraping*
//! native histograms exactly as Prometheus 2.42 answers a copy of it.
//!
//! 2.42 (`--enable-feature=native-histograms`) scrapes the protobuf
//! exposition the test serves (`tests/support/native_histograms/`) once a
//! second: integer and float counter histograms, two series each, with
//! new buckets appearing at step [`LAYOUT`] and a counter reset at step
//! [`RESET`] (2.42 cuts a chunk there, so a full chunk is m-mapped to
//! `chunks_head/` besides the WAL). After a graceful stop, `aion query` /
//! `aion query-range` on the directory and a 2.42 server on a copy answer
//! the histogram queries below, instant and range, compared as data
//! (`tests/support/api_compare.rs`).
//!
//! Shaped around the documented 2.42/3.x differences
//! (docs/promql-2x-3x-differences.md): evaluation times are chosen so no
//! sample sits on a window's start or the lookback's edge (§1); the
//! integer and float histograms are separate metric names, each queried
//! alone (§16); counters start far from zero (§3); bucket `(4, 8]`, where
//! `histogram_fraction(0, 5, …)` would interpolate, stays empty; and
//! `histogram_quantile` is compared through the rank within its bucket,
//! because 2.42 interpolates linearly inside exponential buckets where
//! Aion, as 3.x, interpolates logarithmically (§15).
//!
//! Without Prometheus the test prints a note and passes, unless
//! `AION_REQUIRE_PROMTOOL=1` (set by `scripts/test`).

#[path = "support/api_compare.rs"]
mod api_compare;
#[path = "support/binaries.rs"]
mod binaries;
#[path = "support/native_histograms/mod.rs"]
mod native_histograms;

use std::collections::BTreeSet;
use std::path::Path;

use aion::model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};
use api_compare::{aion_query, aion_query_range, compare, num, series_points, sorted_series};
use native_histograms::metrics_proto::{Metric, MetricFamily, MetricType};
use native_histograms::prometheus::Prometheus;
use native_histograms::{matrix_histograms, start_prometheus_on, start_scraped_prometheus};
use serde_json::Value as Json;

/// Steps served (more than the scrapes waited for, so no step repeats).
const STEPS: usize = 80;
/// Scrapes waited for.
const SCRAPES: usize = 36;
/// The step from which two more buckets are exposed.
const LAYOUT: usize = 8;
/// The step at which every counter restarts.
const RESET: usize = 20;

const INT: &str = "aion_sc_int_seconds";
const FLOAT: &str = "aion_sc_float_seconds";

/// The integer counter histogram of series `seed` at step `k`: schema 0,
/// a zero bucket, one negative bucket, positive buckets `(1/8, 4]` and
/// `(8, 16]` growing unevenly, `(1/16, 1/8]` and `(16, 32]` from
/// [`LAYOUT`] on; never anything in `(4, 8]`. Counts start near 10^4 and
/// restart near 5·10^3 at [`RESET`].
fn int_histogram(seed: i64, k: usize) -> Histogram {
    let (base, j) = if k >= RESET {
        (5_000, (k - RESET) as i64)
    } else {
        (10_000, k as i64)
    };
    let grown = |b: i64| -> i64 {
        base + b * 100
            + (0..=j)
                .map(|m| 1 + (m * 7 + b * 13 + seed * 5 + m * m) % 9)
                .sum::<i64>()
    };
    let wide = k >= LAYOUT;
    // Bucket indices: (2^(i-1), 2^i] at schema 0.
    let indices: Vec<i32> = if wide {
        vec![-3, -2, -1, 0, 1, 2, 4, 5]
    } else {
        vec![-2, -1, 0, 1, 2, 4]
    };
    let positive: Vec<i64> = indices.iter().map(|&i| grown(i64::from(i) + 3)).collect();
    let positive_spans = if wide {
        vec![
            Span {
                offset: -3,
                length: 6,
            },
            Span {
                offset: 1,
                length: 2,
            },
        ]
    } else {
        vec![
            Span {
                offset: -2,
                length: 5,
            },
            Span {
                offset: 1,
                length: 1,
            },
        ]
    };
    let negative = grown(20);
    let zero = grown(30);
    let count = positive.iter().sum::<i64>() + negative + zero;
    let deltas = |v: &[i64]| {
        let mut prev = 0;
        v.iter()
            .map(|&c| {
                let d = c - prev;
                prev = c;
                d
            })
            .collect::<Vec<i64>>()
    };
    Histogram {
        counter_reset_hint: CounterResetHint::Unknown,
        schema: 0,
        zero_threshold: 0.001,
        zero_count: zero as u64,
        count: count as u64,
        sum: count as f64 * 1.25 + j as f64 * 0.125,
        positive_spans,
        positive_buckets: deltas(&positive),
        negative_spans: vec![Span {
            offset: 0,
            length: 1,
        }],
        negative_buckets: vec![negative],
        custom_values: Vec::new(),
    }
}

/// The float counter histogram of series `seed` at step `k`: the integer
/// one scaled by 0.375 (exact in binary), so fractional counts.
fn float_histogram(seed: i64, k: usize) -> FloatHistogram {
    let mut f = int_histogram(seed + 10, k).to_float();
    f.mul(0.375);
    f
}

fn step(k: usize) -> Vec<MetricFamily> {
    vec![
        MetricFamily::new(INT, "Integer counts.", MetricType::Histogram)
            .with(Metric::native_histogram(
                &[("path", "/a")],
                &int_histogram(1, k),
            ))
            .with(Metric::native_histogram(
                &[("path", "/b")],
                &int_histogram(2, k),
            )),
        MetricFamily::new(FLOAT, "Float counts.", MetricType::Histogram)
            .with(Metric::native_float_histogram(
                &[("path", "/a")],
                &float_histogram(1, k),
            ))
            .with(Metric::native_float_histogram(
                &[("path", "/b")],
                &float_histogram(2, k),
            )),
    ]
}

/// The first time at or after `t` (in 7 ms steps) such that no sample
/// sits on the start of a 1 m window or the 5 m lookback's edge at any of
/// `t + i*step`, `i < n` (2.42 includes such samples, 3.x and Aion not).
fn clear_of_edges(samples: &BTreeSet<i64>, mut t: i64, n: i64, step: i64) -> i64 {
    let hit = |t: i64| {
        (0..n).any(|i| {
            let at = t + i * step;
            samples.contains(&(at - 60_000)) || samples.contains(&(at - 300_000))
        })
    };
    while hit(t) {
        t += 7;
    }
    t
}

/// The quantile `q` of every series of an answer, keyed by labels.
fn quantile_points(data: &Json) -> Vec<(Json, Vec<Json>)> {
    sorted_series(data)
        .into_iter()
        .map(|s| {
            let (floats, _) = series_points(&data["resultType"], &s);
            (s["metric"].clone(), floats)
        })
        .collect()
}

/// The bucket of an API histogram holding `v`, as (lower, upper).
fn bucket_of(h: &Json, v: f64) -> Option<(f64, f64)> {
    h["buckets"].as_array()?.iter().find_map(|b| {
        let (lo, hi) = (num(&b[1]), num(&b[2]));
        (lo <= v && v <= hi).then_some((lo, hi))
    })
}

/// Compares a `histogram_quantile` answer of Aion with 2.42's: the same
/// series and points, each pair in the same bucket of the histogram the
/// quantile was taken of (`hists`, already compared equal) at the same
/// fraction of it: linearly for 2.42, logarithmically for Aion (as 3.x)
/// inside exponential buckets, linearly for both in the zero bucket.
fn compare_quantiles(what: &str, aion: &Json, prom: &Json, hists: &Json) -> usize {
    let (qa, qp) = (quantile_points(aion), quantile_points(prom));
    let keys = |v: &[(Json, Vec<Json>)]| v.iter().map(|(m, _)| m.to_string()).collect::<Vec<_>>();
    assert_eq!(keys(&qa), keys(&qp), "{what}: series");
    // The histograms by labels without the name (functions drop it).
    let hs: Vec<(Json, Vec<Json>)> = sorted_series(hists)
        .into_iter()
        .map(|s| {
            let (_, h) = series_points(&hists["resultType"], &s);
            let mut m = s["metric"].clone();
            if let Some(labels) = m.as_object_mut() {
                labels.remove("__name__");
            }
            (m, h)
        })
        .collect();
    let mut points = 0;
    for ((m, pa), (_, pp)) in qa.iter().zip(&qp) {
        assert_eq!(pa.len(), pp.len(), "{what} {m}: points");
        let of = &hs
            .iter()
            .find(|(k, _)| k == m)
            .unwrap_or_else(|| panic!("{what}: no histogram for {m}"))
            .1;
        for (a, p) in pa.iter().zip(pp) {
            assert_eq!(a[0], p[0], "{what} {m}: time");
            let (va, vp) = (num(&a[1]), num(&p[1]));
            let h = &of
                .iter()
                .find(|h| h[0] == a[0])
                .unwrap_or_else(|| panic!("{what} {m}: no histogram at {}", a[0]))[1];
            let (lo, hi) =
                bucket_of(h, vp).unwrap_or_else(|| panic!("{what} {m}: {vp} in no bucket of {h}"));
            let linear = (vp - lo) / (hi - lo);
            let ours = if lo > 0.0 {
                (va.log2() - lo.log2()) / (hi.log2() - lo.log2())
            } else if hi < 0.0 {
                ((-va).log2() - (-lo).log2()) / ((-hi).log2() - (-lo).log2())
            } else {
                (va - lo) / (hi - lo)
            };
            assert!(
                (lo..=hi).contains(&va) && (ours - linear).abs() <= 1e-9,
                "{what} {m} at {}: Aion {va}, 2.42 {vp}: fractions {ours} vs {linear} of ({lo}, {hi}]",
                a[0]
            );
            points += 1;
        }
    }
    points
}

/// The raw samples' timestamps of every series of `name` (2.42's answer
/// to `name[10m]` at `at`).
fn sample_times(prom: &Prometheus, name: &str, at: i64) -> Vec<i64> {
    let data = prom.query(&format!("{name}[10m]"), at).unwrap();
    let mut out: Vec<i64> = matrix_histograms(&data)
        .into_iter()
        .flat_map(|(_, ps)| ps.into_iter().map(|(t, _)| t))
        .collect();
    out.sort_unstable();
    out
}

/// An instant or range query both engines answer.
enum Query {
    Instant(i64),
    Range(i64, i64, i64),
}

fn ask(dir: &Path, prom: &Prometheus, expr: &str, q: &Query) -> (Json, Json) {
    match *q {
        Query::Instant(t) => (aion_query(dir, expr, t), prom.query(expr, t).unwrap()),
        Query::Range(s, e, st) => (
            aion_query_range(dir, expr, s, e, st),
            prom.query_range(expr, s, e, st).unwrap(),
        ),
    }
}

#[test]
fn aion_answers_what_prometheus_2_42_scraped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let Some(scraped) = start_scraped_prometheus(&dir, (0..STEPS).map(step).collect()) else {
        return;
    };
    scraped.wait_for_scrapes(SCRAPES);
    let copy = tmp.path().join("copy");
    let scrapes = scraped.stop_and_copy_dir(&copy);
    assert!(scrapes.len() >= SCRAPES);
    // The reset cut a chunk, which the graceful stop left in chunks_head/.
    let head_chunks: u64 = std::fs::read_dir(dir.join("chunks_head"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(head_chunks > 8, "no m-mapped chunks in chunks_head/");
    let prom = start_prometheus_on(&copy).unwrap();

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let times = sample_times(&prom, INT, now);
    let float_times = sample_times(&prom, FLOAT, now);
    assert_eq!(times, float_times);
    let samples: BTreeSet<i64> = times.iter().copied().collect();
    let ts: Vec<i64> = samples.iter().copied().collect();
    // A scrape that timed out on a loaded machine leaves no sample (and
    // stale markers, which both engines must then read alike); enough
    // must remain for the times picked below.
    assert!(ts.len() > RESET + 4, "only {} scrapes stored", ts.len());
    let at = |i: usize| clear_of_edges(&samples, ts[i] + 500, 1, 0);
    let last = ts.len() - 1;
    let mut queries = vec![
        Query::Instant(at(LAYOUT + 3)),
        Query::Instant(at(RESET - 1)),
        // The window holds the reset.
        Query::Instant(at(RESET + 4)),
        Query::Instant(at(last)),
    ];
    let step_ms = 5_000;
    let n = ((ts[last] - ts[0]) / step_ms) + 2;
    let start = clear_of_edges(&samples, ts[0] + 500, n, step_ms);
    queries.push(Query::Range(start, start + (n - 1) * step_ms, step_ms));
    // A finer range over the reset.
    let n = 12;
    let start = clear_of_edges(&samples, ts[RESET - 4] + 300, n, 1_000);
    queries.push(Query::Range(start, start + (n - 1) * 1_000, 1_000));

    let (mut answered, mut quantiles) = (0, 0);
    for name in [INT, FLOAT] {
        for q in &queries {
            let what = |e: &str| match q {
                Query::Instant(t) => format!("{e} @{t}"),
                Query::Range(s, e2, st) => format!("{e} [{s}..{e2} /{st}]"),
            };
            for expr in [
                format!("sum(rate({name}[1m]))"),
                format!("histogram_count(rate({name}[1m]))"),
                format!("histogram_sum(rate({name}[1m]))"),
                format!("histogram_fraction(0, 5, rate({name}[1m]))"),
                name.to_string(),
                format!("rate({name}[1m])"),
            ] {
                let (ours, theirs) = ask(&dir, &prom, &expr, q);
                answered += compare(&what(&expr), &ours, &theirs);
            }
            // Quantiles: compared within the bucket of the histogram
            // both engines agree on.
            for (expr, of) in [
                (
                    format!("histogram_quantile(0.9, sum(rate({name}[1m])))"),
                    format!("sum(rate({name}[1m]))"),
                ),
                (
                    format!("histogram_quantile(0.5, rate({name}[1m]))"),
                    format!("rate({name}[1m])"),
                ),
            ] {
                let (ours, theirs) = ask(&dir, &prom, &expr, q);
                let (hist, _) = ask(&dir, &prom, &of, q);
                let n = compare_quantiles(&what(&expr), &ours, &theirs, &hist);
                assert!(n > 0, "{}: no points", what(&expr));
                quantiles += n;
            }
        }
    }
    // Every query answered something: 2 names × 6 windows × 6 queries.
    assert!(answered >= 2 * queries.len() * 6, "{answered}");
    eprintln!(
        "{} scrapes; {answered} series equal, {quantiles} quantile points at the same rank in the same bucket",
        ts.len()
    );
}
