//! PromQL over Thanos-downsampled blocks: every function class reads the
//! aggregate Thanos's querier would, and its result equals the value
//! computed here straight from the raw samples the way those aggregates
//! summarise them (windows `[k·r, (k+1)·r)` stamped `(k+1)·r − 1`).

#[path = "support/binaries.rs"]
mod binaries;
#[path = "support/raw_block.rs"]
mod raw_block;

use std::collections::BTreeMap;
use std::path::Path;

use aion::downsample::{
    aggregate_for, auto_max_source_resolution, downsample_block, AggrType, Aggregate,
    DownsampledQueryable, RES_1H, RES_5M,
};
use aion::model::Labels;
use aion::promql::{Engine, EngineOptions, Value};
use aion::tsdb::block::Block;
use binaries::run_aion as aion;

const SPAN: i64 = 6 * 3600 * 1000;
const SCRAPE: i64 = 15_000;
const OFFSET: i64 = 7_000;

type Samples = Vec<(i64, f64)>;

/// The expected value for one series' raw samples.
type Pick<'a> = dyn Fn(&Samples) -> f64 + 'a;

fn gauge(seed: i64) -> Samples {
    (0..(SPAN - OFFSET) / SCRAPE)
        .map(|i| {
            (
                OFFSET + i * SCRAPE,
                ((i * 37 + seed * 11) % 101) as f64 - 50.0,
            )
        })
        .collect()
}

/// A counter rising by 1..=5 per scrape, reset to a small value three times
/// inside 5 m windows.
fn counter(seed: i64) -> Samples {
    let mut v = 0.0;
    (0..(SPAN - OFFSET) / SCRAPE)
        .map(|i| {
            if i == 500 + seed || i == 1000 || i == 1203 {
                v = (i % 3) as f64;
            } else {
                v += ((i + seed) % 5 + 1) as f64;
            }
            (OFFSET + i * SCRAPE, v)
        })
        .collect()
}

fn write_raw(dir: &Path, series: &[(Labels, Samples)]) -> Block {
    raw_block::write_raw(dir, series, 0, SPAN)
}

/// Raw samples grouped by window of `res`, keyed by the window's timestamp.
fn windows(raw: &[(i64, f64)], res: i64) -> BTreeMap<i64, Vec<(i64, f64)>> {
    let mut out: BTreeMap<i64, Vec<(i64, f64)>> = BTreeMap::new();
    for &(t, v) in raw {
        out.entry(t.div_euclid(res) * res + res - 1)
            .or_default()
            .push((t, v));
    }
    out
}

/// Windows whose timestamp lies in the range selector's `(t − range, t]`.
fn in_range(
    w: &BTreeMap<i64, Vec<(i64, f64)>>,
    t: i64,
    range: i64,
) -> Vec<(i64, &Vec<(i64, f64)>)> {
    w.range(t - range + 1..=t).map(|(&k, v)| (k, v)).collect()
}

/// The counter series Thanos's querier reads: the first raw sample, then
/// per window the reset-corrected total at its last raw sample.
fn counter_series(raw: &[(i64, f64)], res: i64) -> Samples {
    let mut corrected = Vec::with_capacity(raw.len());
    let (mut offset, mut prev) = (0.0, raw[0].1);
    for &(t, v) in raw {
        if v < prev {
            offset += prev;
        }
        prev = v;
        corrected.push((t, v + offset));
    }
    let mut out = vec![corrected[0]];
    for (ts, w) in windows(&corrected, res) {
        out.push((ts, w.last().unwrap().1));
    }
    out
}

/// Prometheus 3's extrapolated `rate` over samples in `(t − range, t]`.
fn expected_rate(s: &[(i64, f64)], t: i64, range: i64) -> f64 {
    let s: Vec<_> = s.iter().filter(|p| p.0 > t - range && p.0 <= t).collect();
    assert!(s.len() >= 2);
    let (first, last) = (s[0], s[s.len() - 1]);
    let result = last.1 - first.1;
    let sampled = (last.0 - first.0) as f64 / 1000.0;
    let avg = sampled / (s.len() - 1) as f64;
    let mut to_start = (first.0 - (t - range)) as f64 / 1000.0;
    let mut to_end = (t - last.0) as f64 / 1000.0;
    if result > 0.0 && first.1 >= 0.0 {
        to_start = to_start.min(sampled * (first.1 / result));
    }
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    result * (sampled + to_start + to_end) / sampled / (range as f64 / 1000.0)
}

struct Fixture {
    _dir: tempfile::TempDir,
    raw: BTreeMap<String, (Samples, Samples)>,
    stores: BTreeMap<i64, DownsampledQueryable>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut series = Vec::new();
    let mut raw = BTreeMap::new();
    for (i, job) in ["api", "web"].into_iter().enumerate() {
        let (g, c) = (gauge(i as i64), counter(i as i64));
        series.push((
            Labels::from_pairs(&[("__name__", "g"), ("job", job)]).unwrap(),
            g.clone(),
        ));
        series.push((
            Labels::from_pairs(&[("__name__", "c"), ("job", job)]).unwrap(),
            c.clone(),
        ));
        raw.insert(job.to_string(), (g, c));
    }
    let raw_block = write_raw(dir.path(), &series);
    let m5 = downsample_block(&raw_block, dir.path(), RES_5M)
        .unwrap()
        .0
        .unwrap();
    let b5 = Block::open(dir.path().join(m5.ulid.to_string())).unwrap();
    let m1h = downsample_block(&b5, dir.path(), RES_1H)
        .unwrap()
        .0
        .unwrap();
    let mut stores = BTreeMap::new();
    for res in [0, RES_5M, RES_1H] {
        let blocks: Vec<Block> = [raw_block.dir(), b5.dir()]
            .into_iter()
            .map(|d| Block::open(d).unwrap())
            .chain([Block::open(dir.path().join(m1h.ulid.to_string())).unwrap()])
            .collect();
        let q = DownsampledQueryable::new(blocks, res).unwrap();
        assert_eq!(q.resolution(), res);
        stores.insert(res, q);
    }
    Fixture {
        _dir: dir,
        raw,
        stores,
    }
}

/// `query` at `t` on resolution `res`: job → value.
fn run(f: &Fixture, res: i64, query: &str, t: i64) -> BTreeMap<String, f64> {
    let engine = Engine::new(EngineOptions::default());
    let r = engine.instant_query(&f.stores[&res], query, t).unwrap();
    let Value::Vector(v) = r.value else {
        panic!("{query}: not a vector")
    };
    v.into_iter()
        .map(|s| (s.metric.get("job").unwrap_or("").to_string(), s.f))
        .collect()
}

fn assert_close(
    query: &str,
    res: i64,
    t: i64,
    got: &BTreeMap<String, f64>,
    want: BTreeMap<String, f64>,
) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{query} @{t} res {res}"
    );
    for (k, w) in &want {
        let g = got[k];
        assert!(
            (g - w).abs() <= 1e-9 * w.abs().max(1.0),
            "{query} @{t} res {res} job {k}: got {g}, want {w}"
        );
    }
}

/// Evaluation times (not on window edges) and the range used at each resolution.
const TIMES: [i64; 3] = [
    3 * 3_600_000 + 17_000,
    4 * 3_600_000 + 1_800_000,
    SPAN - 61_000,
];

fn range_for(res: i64) -> i64 {
    if res == RES_5M {
        3_600_000
    } else {
        3 * 3_600_000
    }
}

fn per_job(f: &Fixture, pick: impl Fn(&Samples, &Samples) -> f64) -> BTreeMap<String, f64> {
    f.raw
        .iter()
        .map(|(j, (g, c))| (j.clone(), pick(g, c)))
        .collect()
}

#[test]
fn over_time_functions_read_their_aggregate() {
    let f = fixture();
    for res in [RES_5M, RES_1H] {
        let range = range_for(res);
        let r = format!("{}m", range / 60_000);
        for t in TIMES {
            let win = |g: &Samples| windows(g, res);
            let cases: [(&str, Box<Pick<'_>>); 5] = [
                (
                    "min_over_time",
                    Box::new(|g| {
                        in_range(&win(g), t, range)
                            .iter()
                            .flat_map(|w| w.1.iter().map(|s| s.1))
                            .fold(f64::INFINITY, f64::min)
                    }),
                ),
                (
                    "max_over_time",
                    Box::new(|g| {
                        in_range(&win(g), t, range)
                            .iter()
                            .flat_map(|w| w.1.iter().map(|s| s.1))
                            .fold(f64::NEG_INFINITY, f64::max)
                    }),
                ),
                (
                    "sum_over_time",
                    Box::new(|g| {
                        in_range(&win(g), t, range)
                            .iter()
                            .flat_map(|w| w.1.iter().map(|s| s.1))
                            .sum()
                    }),
                ),
                // count_over_time counts the count aggregate's samples: one per window.
                (
                    "count_over_time",
                    Box::new(|g| in_range(&win(g), t, range).len() as f64),
                ),
                // Others read sum/count per window: avg_over_time averages the window means.
                (
                    "avg_over_time",
                    Box::new(|g| {
                        let all = win(g);
                        let ws = in_range(&all, t, range);
                        ws.iter()
                            .map(|w| w.1.iter().map(|s| s.1).sum::<f64>() / w.1.len() as f64)
                            .sum::<f64>()
                            / ws.len() as f64
                    }),
                ),
            ];
            for (func, want) in cases {
                let q = format!("{func}(g[{r}])");
                let got = run(&f, res, &q, t);
                assert_close(&q, res, t, &got, per_job(&f, |g, _| want(g)));
            }
            // last_over_time is an "other": the last window's mean.
            let q = format!("last_over_time(g[{r}])");
            let want = per_job(&f, |g, _| {
                let all = windows(g, res);
                let (_, w) = in_range(&all, t, range).pop().unwrap();
                w.iter().map(|s| s.1).sum::<f64>() / w.len() as f64
            });
            assert_close(&q, res, t, &run(&f, res, &q, t), want);
        }
    }
}

#[test]
fn counter_functions_read_the_counter_aggregate() {
    let f = fixture();
    for res in [RES_5M, RES_1H] {
        let range = range_for(res);
        let r = format!("{}m", range / 60_000);
        for t in TIMES {
            let q = format!("rate(c[{r}])");
            let want = per_job(&f, |_, c| expected_rate(&counter_series(c, res), t, range));
            assert_close(&q, res, t, &run(&f, res, &q, t), want);

            let q = format!("increase(c[{r}])");
            let want = per_job(&f, |_, c| {
                expected_rate(&counter_series(c, res), t, range) * range as f64 / 1000.0
            });
            assert_close(&q, res, t, &run(&f, res, &q, t), want);

            let q = format!("irate(c[{r}])");
            let want = per_job(&f, |_, c| {
                let s: Vec<_> = counter_series(c, res)
                    .into_iter()
                    .filter(|p| p.0 > t - range && p.0 <= t)
                    .collect();
                let (a, b) = (s[s.len() - 2], s[s.len() - 1]);
                (b.1 - a.1) / ((b.0 - a.0) as f64 / 1000.0)
            });
            assert_close(&q, res, t, &run(&f, res, &q, t), want);

            // The counter aggregate has resets applied: none remain visible.
            let q = format!("resets(c[{r}])");
            assert_close(&q, res, t, &run(&f, res, &q, t), per_job(&f, |_, _| 0.0));
        }
    }
}

#[test]
fn aggregations_read_their_aggregate() {
    let f = fixture();
    // At 5 m the 5 m lookback holds exactly one window sample.
    let res = RES_5M;
    for t in TIMES {
        let last_window = |g: &Samples| {
            windows(g, res)
                .range(..=t)
                .next_back()
                .map(|(_, w)| w.clone())
                .unwrap()
        };
        let all = |pick: &Pick<'_>| {
            f.raw
                .values()
                .map(|(g, _)| pick(&last_window(g)))
                .collect::<Vec<_>>()
        };
        let cases: [(&str, f64); 3] = [
            (
                "max(g)",
                all(&|w| w.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max))
                    .into_iter()
                    .fold(f64::NEG_INFINITY, f64::max),
            ),
            (
                "min(g)",
                all(&|w| w.iter().map(|s| s.1).fold(f64::INFINITY, f64::min))
                    .into_iter()
                    .fold(f64::INFINITY, f64::min),
            ),
            // Plain `sum` falls through to the average, as in Thanos.
            (
                "sum(g)",
                all(&|w| w.iter().map(|s| s.1).sum::<f64>() / w.len() as f64)
                    .into_iter()
                    .sum(),
            ),
        ];
        for (q, want) in cases {
            let got = run(&f, res, q, t);
            assert_close(q, res, t, &got, BTreeMap::from([(String::new(), want)]));
        }
    }
}

#[test]
fn raw_resolution_reads_raw_samples() {
    let f = fixture();
    let t = TIMES[0];
    let got = run(&f, 0, "count_over_time(g[1h])", t);
    let want = per_job(&f, |g, _| {
        g.iter().filter(|s| s.0 > t - 3_600_000 && s.0 <= t).count() as f64
    });
    assert_close("count_over_time(g[1h])", 0, t, &got, want);
}

#[test]
fn thanos_resolution_and_aggregate_rules() {
    assert_eq!(auto_max_source_resolution(60_000), 12_000);
    assert_eq!(auto_max_source_resolution(3_600_000), 720_000);
    for (func, want) in [
        (Some("min_over_time"), Aggregate::One(AggrType::Min)),
        (Some("max"), Aggregate::One(AggrType::Max)),
        (Some("count_over_time"), Aggregate::One(AggrType::Count)),
        (Some("sum_over_time"), Aggregate::One(AggrType::Sum)),
        (Some("sum"), Aggregate::Average),
        (Some("rate"), Aggregate::One(AggrType::Counter)),
        (Some("resets"), Aggregate::One(AggrType::Counter)),
        (Some("quantile_over_time"), Aggregate::Average),
        (None, Aggregate::Average),
    ] {
        assert_eq!(aggregate_for(func), want, "{func:?}");
    }
}

#[test]
fn cli_resolution_flag_reads_the_chosen_blocks() {
    let f = fixture();
    let dir = f._dir.path().to_str().unwrap();
    let t = TIMES[0];
    let secs = format!("{}", t as f64 / 1000.0);
    for (flag, res) in [("raw", 0), ("5m", RES_5M), ("1h", RES_1H)] {
        let q = "max_over_time(g[3h])";
        let (code, out, err) = aion(&["query", dir, q, "--time", &secs, "--resolution", flag]);
        assert_eq!(code, 0, "{flag}: {err}");
        let want = run(&f, res, q, t);
        for (job, v) in &want {
            let row = out
                .lines()
                .find(|l| l.contains(&format!("job=\"{job}\"")))
                .unwrap_or_else(|| panic!("{flag}: no {job} in {out}"));
            let got: f64 = row.split_whitespace().next().unwrap().parse().unwrap();
            assert_eq!(got, *v, "{flag} {job}");
        }
    }
    // auto: a 2 h step allows 24 m sources, so the 5 m blocks; count_over_time
    // then counts 5 m windows (12 in an hour).
    let end = format!("{}", (SPAN - 3_600_000) as f64 / 1000.0);
    let (code, out, err) = aion(&[
        "query-range",
        dir,
        "count_over_time(g[1h])",
        "--start",
        &end,
        "--end",
        &end,
        "--step",
        "2h",
        "--resolution",
        "auto",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .filter(|l| l.trim_end().ends_with("  12"))
            .count()
            == 2,
        "{out}"
    );
    let (code, _, err) = aion(&["query", dir, "g", "--resolution", "15m"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("want raw, 5m, 1h or auto"), "{err}");
}

/// As Thanos's store gateway: a 5 m query over an old downsampled block
/// (its raw source deleted, as retention does) and a recent raw block not
/// yet downsampled reads both, each where it is the coarsest there is.
#[test]
fn recent_raw_blocks_fill_what_downsampled_blocks_do_not_cover() {
    let dir = tempfile::tempdir().unwrap();
    let old_dir = dir.path().join("old");
    let bucket = dir.path().join("bucket");
    std::fs::create_dir_all(&old_dir).unwrap();
    std::fs::create_dir_all(&bucket).unwrap();
    let labels = Labels::from_pairs(&[("__name__", "g"), ("job", "api")]).unwrap();
    // The old block: [0, 6 h), downsampled to 5 m, raw gone.
    let old = write_raw(&old_dir, &[(labels.clone(), gauge(0))]);
    let m5 = downsample_block(&old, &bucket, RES_5M).unwrap().0.unwrap();
    // The recent block: [6 h, 8 h), raw only.
    let recent: Samples = (0..2 * 3_600_000 / SCRAPE)
        .map(|i| (SPAN + OFFSET + i * SCRAPE, i as f64))
        .collect();
    let recent_block =
        raw_block::write_raw(&bucket, &[(labels, recent)], SPAN, SPAN + 2 * 3_600_000);
    let blocks = || {
        vec![
            Block::open(bucket.join(m5.ulid.to_string())).unwrap(),
            Block::open(recent_block.dir()).unwrap(),
        ]
    };
    let store = DownsampledQueryable::new(blocks(), RES_5M).unwrap();
    assert_eq!(store.resolution(), RES_5M);
    let engine = Engine::new(EngineOptions::default());
    let count = |q: &DownsampledQueryable, t: i64| {
        let r = engine
            .instant_query(q, "count_over_time(g[1h])", t)
            .unwrap();
        let Value::Vector(v) = r.value else { panic!() };
        v.first().map(|s| s.f)
    };
    // In the old block's time: twelve 5 m windows an hour.
    assert_eq!(count(&store, 3 * 3_600_000), Some(12.0));
    // In the recent block's: 240 raw samples an hour.
    assert_eq!(count(&store, SPAN + 3_600_000 + OFFSET), Some(240.0));
    // A range query across the boundary sees both, with no gap.
    let r = engine
        .range_query(
            &store,
            "count_over_time(g[1h])",
            3_600_000,
            SPAN + 2 * 3_600_000,
            1_800_000,
        )
        .unwrap();
    let Value::Matrix(m) = r.value else { panic!() };
    assert_eq!(m.len(), 1);
    let got: Vec<f64> = m[0].floats.iter().map(|p| p.f).collect();
    // 1 h … 6 h: windows; 6.5 h: half an hour of each; 7 h … 8 h: raw.
    let mut want = vec![12.0; 11];
    want.extend([6.0 + 120.0, 240.0, 240.0, 240.0]);
    assert_eq!(got, want);
    // At raw resolution only the raw block qualifies: the old hours are empty.
    let raw_only = DownsampledQueryable::new(blocks(), 0).unwrap();
    assert_eq!(count(&raw_only, 3 * 3_600_000), None);
    assert_eq!(count(&raw_only, SPAN + 3_600_000 + OFFSET), Some(240.0));
}
