//! PromQL over Thanos-downsampled native histograms: every function class
//! reads the aggregate Thanos's querier would (counter for `rate` and
//! `increase`, sum for `sum_over_time`, count for `count_over_time`, sum /
//! count for the rest), and its result equals the same query over a raw
//! block holding exactly that aggregate, computed here from the raw
//! histograms by Thanos's rule: per window `[k·r, (k+1)·r)` stamped
//! `(k+1)·r − 1` (the last window at the last sample), the counter is the
//! running total with resets folded in, the sum adds the window's
//! histograms, the count counts them.

use std::collections::BTreeMap;
use std::path::Path;

use aion::chunkenc::{AppendOutcome, Encoding, HistogramAppender, XorAppender};
use aion::downsample::{downsample_block, window_end, DownsampledQueryable, RES_1H, RES_5M};
use aion::model::histogram::{Histogram, Span};
use aion::model::Labels;
use aion::promql::{Engine, EngineOptions, Value};
use aion::storage::SeriesChunk;
use aion::tsdb::block::{Block, BlockMeta, BlockWriter, BlockWriterOptions, Ulid};

const SPAN: i64 = 6 * 3600 * 1000;
const SCRAPE: i64 = 15_000;
const OFFSET: i64 = 7_000;
const BUCKETS: usize = 4;

/// Absolute bucket counts, count and sum of one scrape.
#[derive(Clone, Debug, PartialEq)]
struct Counts {
    buckets: [u64; BUCKETS],
    sum: f64,
}

impl Counts {
    fn zero() -> Self {
        Counts {
            buckets: [0; BUCKETS],
            sum: 0.0,
        }
    }

    fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    fn plus(&self, o: &Counts) -> Counts {
        Counts {
            buckets: std::array::from_fn(|i| self.buckets[i] + o.buckets[i]),
            sum: self.sum + o.sum,
        }
    }

    fn minus(&self, o: &Counts) -> Counts {
        Counts {
            buckets: std::array::from_fn(|i| self.buckets[i] - o.buckets[i]),
            sum: self.sum - o.sum,
        }
    }

    /// As an integer native histogram of schema 0 (buckets 0..4).
    fn histogram(&self, gauge: bool) -> Histogram {
        let mut deltas = Vec::with_capacity(BUCKETS);
        let mut prev = 0i64;
        for &b in &self.buckets {
            deltas.push(b as i64 - prev);
            prev = b as i64;
        }
        Histogram {
            counter_reset_hint: if gauge {
                aion::model::histogram::CounterResetHint::Gauge
            } else {
                aion::model::histogram::CounterResetHint::Unknown
            },
            schema: 0,
            count: self.count(),
            sum: self.sum,
            positive_spans: vec![Span {
                offset: 0,
                length: BUCKETS as u32,
            }],
            positive_buckets: deltas,
            ..Histogram::default()
        }
    }
}

/// A counter histogram scraped every 15 s over 6 h, with a gap and a reset
/// (at a different place per seed). Sums are integers, so any order of
/// adding them is exact.
fn raw_series(seed: u64) -> Vec<(i64, Counts)> {
    let mut c = Counts::zero();
    let mut out = Vec::new();
    for k in 0..SPAN / SCRAPE {
        if (k as u64 + seed) % 41 == 0 {
            continue;
        }
        if k == 500 + 300 * seed as i64 {
            c = Counts::zero();
        }
        for (b, v) in c.buckets.iter_mut().enumerate() {
            *v += (b as u64 + 1 + (k as u64 + seed) % 3) * (seed + 1);
        }
        c.sum += (10 + k as u64 % 7) as f64;
        out.push((k * SCRAPE + OFFSET, c.clone()));
    }
    out
}

/// Thanos's aggregates of `raw` at `res`: counter, sum and count per window.
struct Windows {
    counter: Vec<(i64, Counts)>,
    sum: Vec<(i64, Counts)>,
    count: Vec<(i64, f64)>,
}

fn aggregate(raw: &[(i64, Counts)], res: i64) -> Windows {
    let last = raw.last().unwrap().0;
    let mut by_window: BTreeMap<i64, (Counts, Counts, f64)> = BTreeMap::new();
    let mut total = Counts::zero();
    let mut prev: Option<&Counts> = None;
    for (t, c) in raw {
        total = match prev {
            Some(p) if c.buckets.iter().zip(&p.buckets).all(|(a, b)| a >= b) => {
                total.plus(&c.minus(p))
            }
            Some(_) => total.plus(c),
            None => c.clone(),
        };
        prev = Some(c);
        let e = by_window
            .entry(window_end(*t, res).min(last))
            .or_insert_with(|| (Counts::zero(), Counts::zero(), 0.0));
        e.0 = total.clone();
        e.1 = e.1.plus(c);
        e.2 += 1.0;
    }
    Windows {
        counter: by_window.iter().map(|(t, w)| (*t, w.0.clone())).collect(),
        sum: by_window.iter().map(|(t, w)| (*t, w.1.clone())).collect(),
        count: by_window.iter().map(|(t, w)| (*t, w.2)).collect(),
    }
}

/// A sample of a test block.
#[derive(Clone)]
enum Sample {
    Float(f64),
    Hist(Counts, bool),
}

fn write_block(dir: &Path, series: &[(Labels, Vec<(i64, Sample)>)]) -> Block {
    let ulid = Ulid::generate();
    let mut w = BlockWriter::create(dir, ulid, BlockWriterOptions::default()).unwrap();
    let mut symbols: Vec<String> = series
        .iter()
        .flat_map(|(l, _)| {
            l.iter()
                .flat_map(|l| [l.name.to_string(), l.value.to_string()])
        })
        .collect();
    symbols.sort();
    symbols.dedup();
    for s in &symbols {
        w.add_symbol(s).unwrap();
    }
    let mut sorted: Vec<&(Labels, Vec<(i64, Sample)>)> = series.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (labels, samples) in sorted {
        let mut chunks = Vec::new();
        if let Some((_, Sample::Float(_))) = samples.first() {
            for part in samples.chunks(120) {
                let mut app = XorAppender::new();
                for (t, s) in part {
                    let Sample::Float(v) = s else { unreachable!() };
                    app.append(*t, *v).unwrap();
                }
                chunks.push(SeriesChunk {
                    min_time: part[0].0,
                    max_time: part[part.len() - 1].0,
                    encoding: Encoding::Xor,
                    data: app.bytes().to_vec(),
                });
            }
        } else {
            // Cut at 120 samples and where the appender asks (a reset), as
            // Prometheus's head does.
            let mut app = HistogramAppender::new();
            let (mut first, mut last) = (0, 0);
            let mut flush = |app: &HistogramAppender, first: i64, last: i64| {
                chunks.push(SeriesChunk {
                    min_time: first,
                    max_time: last,
                    encoding: Encoding::Histogram,
                    data: app.bytes().to_vec(),
                });
            };
            for (t, s) in samples {
                let Sample::Hist(c, gauge) = s else {
                    unreachable!()
                };
                let h = c.histogram(*gauge);
                if app.num_samples() == 120 {
                    flush(&app, first, last);
                    app = HistogramAppender::new();
                }
                if app.num_samples() == 0 {
                    first = *t;
                }
                match app.append(*t, &h).unwrap() {
                    AppendOutcome::Appended | AppendOutcome::Recoded => {}
                    AppendOutcome::NewChunk(next) => {
                        flush(&app, first, last);
                        app = next;
                        first = *t;
                    }
                }
                last = *t;
            }
            if app.num_samples() > 0 {
                flush(&app, first, last);
            }
        }
        w.add_series(labels, &chunks).unwrap();
    }
    let meta = BlockMeta::new(ulid, 0, SPAN);
    let m = w.finish(meta).unwrap().unwrap();
    Block::open(dir.join(m.ulid.to_string())).unwrap()
}

fn labels(job: &str) -> Labels {
    Labels::from_pairs(&[("__name__", "h"), ("job", job)]).unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    stores: BTreeMap<i64, DownsampledQueryable>,
    raw: BTreeMap<&'static str, Vec<(i64, Counts)>>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let raw: BTreeMap<&'static str, Vec<(i64, Counts)>> =
        [("api", raw_series(0)), ("web", raw_series(1))]
            .into_iter()
            .collect();
    let series: Vec<(Labels, Vec<(i64, Sample)>)> = raw
        .iter()
        .map(|(job, s)| {
            (
                labels(job),
                s.iter()
                    .map(|(t, c)| (*t, Sample::Hist(c.clone(), false)))
                    .collect(),
            )
        })
        .collect();
    let raw_dir = dir.path().join("raw");
    std::fs::create_dir_all(&raw_dir).unwrap();
    let raw_block = write_block(&raw_dir, &series);
    let m5 = downsample_block(&raw_block, &raw_dir, RES_5M)
        .unwrap()
        .0
        .unwrap();
    let b5 = Block::open(raw_dir.join(m5.ulid.to_string())).unwrap();
    let m1h = downsample_block(&b5, &raw_dir, RES_1H).unwrap().0.unwrap();
    let mut stores = BTreeMap::new();
    for res in [RES_5M, RES_1H] {
        let h1 = raw_dir.join(m1h.ulid.to_string());
        let blocks = [raw_block.dir(), b5.dir(), h1.as_path()]
            .into_iter()
            .map(|d| Block::open(d).unwrap())
            .collect();
        let q = DownsampledQueryable::new(blocks, res).unwrap();
        assert_eq!(q.resolution(), res);
        stores.insert(res, q);
    }
    Fixture {
        _dir: dir,
        stores,
        raw,
    }
}

/// A raw store holding `pick`'s aggregate series per job, as ordinary samples.
fn expected_store(
    dir: &Path,
    f: &Fixture,
    res: i64,
    pick: impl Fn(&Windows) -> Vec<(i64, Sample)>,
) -> DownsampledQueryable {
    let series: Vec<(Labels, Vec<(i64, Sample)>)> = f
        .raw
        .iter()
        .map(|(job, s)| (labels(job), pick(&aggregate(s, res))))
        .collect();
    let b = write_block(dir, &series);
    DownsampledQueryable::new(vec![b], 0).unwrap()
}

/// `query` at `t`: job → value, on any store.
fn run(store: &DownsampledQueryable, query: &str, t: i64) -> BTreeMap<String, f64> {
    let engine = Engine::new(EngineOptions::default());
    let r = engine.instant_query(store, query, t).unwrap();
    let Value::Vector(v) = r.value else {
        panic!("{query}: not a vector")
    };
    v.into_iter()
        .map(|s| (s.metric.get("job").unwrap_or("").to_string(), s.f))
        .collect()
}

/// Evaluation times (not on window edges).
const TIMES: [i64; 3] = [
    3 * 3_600_000 + 17_000,
    4 * 3_600_000 + 1_800_000,
    SPAN - 61_000,
];

fn range_for(res: i64) -> &'static str {
    if res == RES_5M {
        "1h"
    } else {
        "3h"
    }
}

#[test]
fn every_function_class_reads_its_histogram_aggregate() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    for res in [RES_5M, RES_1H] {
        let r = range_for(res);
        let sub = |name: &str| {
            let d = dir.path().join(format!("{res}-{name}"));
            std::fs::create_dir_all(&d).unwrap();
            d
        };
        let counter = expected_store(&sub("counter"), &f, res, |w| {
            w.counter
                .iter()
                .map(|(t, c)| (*t, Sample::Hist(c.clone(), false)))
                .collect()
        });
        let sum = expected_store(&sub("sum"), &f, res, |w| {
            w.sum
                .iter()
                .map(|(t, c)| (*t, Sample::Hist(c.clone(), true)))
                .collect()
        });
        let count = expected_store(&sub("count"), &f, res, |w| {
            w.count
                .iter()
                .map(|(t, n)| (*t, Sample::Float(*n)))
                .collect()
        });
        let cases: [(String, &DownsampledQueryable); 7] = [
            (format!("histogram_count(rate(h[{r}]))"), &counter),
            (format!("histogram_sum(increase(h[{r}]))"), &counter),
            (format!("histogram_quantile(0.9, rate(h[{r}]))"), &counter),
            (format!("histogram_count(sum_over_time(h[{r}]))"), &sum),
            (format!("histogram_sum(sum_over_time(h[{r}]))"), &sum),
            (format!("count_over_time(h[{r}])"), &count),
            (
                format!("histogram_count(sum by (job) (rate(h[{r}])))"),
                &counter,
            ),
        ];
        for t in TIMES {
            for (q, want_store) in &cases {
                let got = run(&f.stores[&res], q, t);
                let want = run(want_store, q, t);
                assert!(!want.is_empty(), "{q} @{t}: nothing expected");
                assert_eq!(
                    got.keys().collect::<Vec<_>>(),
                    want.keys().collect::<Vec<_>>(),
                    "{q} @{t} res {res}"
                );
                for (k, w) in &want {
                    let g = got[k];
                    assert!(
                        (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                        "{q} @{t} res {res} job {k}: got {g}, want {w}"
                    );
                }
            }
            // The bare selector and last_over_time: the last window's
            // average histogram (sum / count).
            for q in [
                "histogram_count(h)".to_string(),
                format!("histogram_sum(last_over_time(h[{r}]))"),
            ] {
                let got = run(&f.stores[&res], &q, t);
                for (job, raw) in &f.raw {
                    let w = aggregate(raw, res);
                    let i = w.sum.partition_point(|(wt, _)| *wt <= t) - 1;
                    let (s, n) = (&w.sum[i].1, w.count[i].1);
                    let want = if q.starts_with("histogram_count") {
                        s.count() as f64 / n
                    } else {
                        s.sum / n
                    };
                    if q == "histogram_count(h)" && t - w.sum[i].0 > 5 * 60_000 {
                        // Older than the lookback delta: nothing, as for
                        // any sparse series.
                        assert!(!got.contains_key(*job), "{q} @{t} res {res}: {got:?}");
                        continue;
                    }
                    let g = *got
                        .get(*job)
                        .unwrap_or_else(|| panic!("{q} @{t} res {res}: no {job} in {got:?}"));
                    assert!(
                        (g - want).abs() <= 1e-9 * want.abs(),
                        "{q} @{t} res {res} job {job}: got {g}, want {want}"
                    );
                }
            }
        }
        // Histograms have no min or max aggregate: min_over_time reads
        // nothing, as it reads nothing of raw histograms either.
        assert!(run(&f.stores[&res], &format!("min_over_time(h[{r}])"), TIMES[0]).is_empty());
    }
}

#[test]
fn a_block_mixing_float_and_histogram_series_downsamples_both() {
    let dir = tempfile::tempdir().unwrap();
    let floats: Vec<(i64, Sample)> = (0..SPAN / SCRAPE)
        .map(|k| (k * SCRAPE + OFFSET, Sample::Float(k as f64)))
        .collect();
    let hists: Vec<(i64, Sample)> = raw_series(2)
        .into_iter()
        .map(|(t, c)| (t, Sample::Hist(c, false)))
        .collect();
    let series = vec![(labels("float"), floats), (labels("hist"), hists)];
    let raw = write_block(dir.path(), &series);
    let (m5, report) = downsample_block(&raw, dir.path(), RES_5M).unwrap();
    let m5 = m5.unwrap();
    assert_eq!(report.series, 2);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let b5 = Block::open(dir.path().join(m5.ulid.to_string())).unwrap();
    let q = DownsampledQueryable::new(vec![b5], RES_5M).unwrap();
    let t = 3 * 3_600_000 + 17_000;
    let got = run(&q, "count_over_time(h[1h])", t);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got["float"], got["hist"], "twelve windows each");
}
