//! The native histogram scrape harness against a real Prometheus 2.42:
//! it scrapes the protobuf exposition the test serves
//! (`tests/support/native_histograms/`) once a second for about 20 s, and
//! its HTTP API answers with exactly the native histograms served (count,
//! sum, every bucket), before and after a graceful stop on a copy of its
//! data directory. It also pins the 2.42 behaviours the harness's users
//! must shape their data around (`docs/promql-2x-3x-differences.md` §
//! "Native histograms in Prometheus 2.42"): native vs classic is decided
//! by a family's first metric, and a native histogram's classic buckets
//! are not stored.
//!
//! Without Prometheus the test prints a note and passes, unless
//! `AION_REQUIRE_PROMTOOL=1` (set by `scripts/test`).

#[path = "support/native_histograms/mod.rs"]
mod native_histograms;

use aion::chunkenc::synthetic::{float_histogram_series, histogram_series, HistogramShape};
use aion::model::histogram::{FloatHistogram, Histogram};
use native_histograms::exposition_server::Format;
use native_histograms::metrics_proto::{Metric, MetricFamily, MetricType};
use native_histograms::prometheus::Prometheus;
use native_histograms::{
    matrix_histograms, start_prometheus_on, start_scraped_prometheus, vector_floats,
    vector_histograms, ApiHistogram,
};
use serde_json::Value as Json;

/// Steps served (more than the scrapes waited for, so no step repeats).
const STEPS: usize = 60;
/// Scrapes waited for.
const SCRAPES: usize = 20;
/// Classic bucket bounds: native bucket indices at schema 3 (2^(i/8):
/// 0.0625 s, 0.125 s, 0.25 s, 1 s).
const CLASSIC_INDICES: [i32; 4] = [-32, -24, -16, 0];

/// What every step serves.
struct Served {
    api: Vec<Histogram>,
    db: Vec<Histogram>,
    queue: Vec<FloatHistogram>,
}

impl Served {
    fn new() -> Served {
        let ints = |shape, seed| -> Vec<Histogram> {
            histogram_series(shape, 0, STEPS, seed)
                .into_iter()
                .map(|(_, h)| h)
                .collect()
        };
        // A gauge histogram that goes up and down: a float histogram of
        // fractional counts (a queue's depth distribution, averaged).
        let queue = float_histogram_series(HistogramShape::Buckets20, 0, STEPS, 9)
            .into_iter()
            .enumerate()
            .map(|(k, (_, mut h))| {
                h.mul((1.0 + 0.5 * (k as f64 / 3.0).sin()) / (k + 1) as f64);
                h
            })
            .collect();
        Served {
            api: ints(HistogramShape::Buckets20, 3),
            db: ints(HistogramShape::Buckets160, 4),
            queue,
        }
    }

    fn step(&self, k: usize) -> Vec<MetricFamily> {
        let (api, db) = (&self.api[k], &self.db[k]);
        vec![
            MetricFamily::new(
                "aion_it_request_seconds",
                "Request latency.",
                MetricType::Histogram,
            )
            .with(Metric::native_histogram(&[("path", "/api")], api))
            // Classic buckets too, as a client exposing both does.
            .with(
                Metric::native_histogram(&[("path", "/db")], db)
                    .with_classic_buckets(db, &CLASSIC_INDICES),
            ),
            MetricFamily::new(
                "aion_it_queue_depth",
                "Queue depth.",
                MetricType::GaugeHistogram,
            )
            .with(Metric::native_float_histogram(&[], &self.queue[k])),
            MetricFamily::new(
                "aion_it_classic_seconds",
                "Classic only.",
                MetricType::Histogram,
            )
            .with(Metric::classic_histogram(&[], api, &CLASSIC_INDICES)),
            // 2.42 decides native vs classic from the first metric: this
            // family is read as classic throughout, ...
            MetricFamily::new(
                "aion_it_classic_first_seconds",
                "Classic, then native.",
                MetricType::Histogram,
            )
            .with(Metric::classic_histogram(
                &[("kind", "classic")],
                api,
                &CLASSIC_INDICES,
            ))
            .with(
                Metric::native_histogram(&[("kind", "native")], api)
                    .with_classic_buckets(api, &CLASSIC_INDICES),
            ),
            // ... and this one as native throughout.
            MetricFamily::new(
                "aion_it_native_first_seconds",
                "Native, then classic.",
                MetricType::Histogram,
            )
            .with(Metric::native_histogram(&[("kind", "native")], api))
            .with(Metric::classic_histogram(
                &[("kind", "classic")],
                api,
                &CLASSIC_INDICES,
            )),
            MetricFamily::new("aion_it_requests_total", "Requests.", MetricType::Counter)
                .with(Metric::counter(&[], api.count as f64)),
        ]
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn label(metric: &Json, name: &str) -> String {
    metric[name].as_str().unwrap_or("").to_string()
}

/// The steps whose histogram each sample of `points` is, which must be
/// the scrapes in order from the first: `0, 1, 2, …`. Returns the count.
fn match_steps(what: &str, points: &[(i64, ApiHistogram)], served: &[FloatHistogram]) -> usize {
    for (k, (t, got)) in points.iter().enumerate() {
        let want = ApiHistogram::of(&served[k]);
        assert!(
            got.same_as(&want),
            "{what}: sample {k} at {t} is not step {k}:\n got  {got:?}\n want {want:?}"
        );
    }
    points.len()
}

/// The float series of `expr` at `t`: labels and value.
fn float_at(prom: &Prometheus, expr: &str, t: i64) -> Vec<(Json, f64)> {
    vector_floats(&prom.query(expr, t).unwrap())
        .into_iter()
        .map(|(m, _, v)| (m, v))
        .collect()
}

#[test]
fn prometheus_2_42_scrapes_the_protobuf_exposition_as_served() {
    let tmp = tempfile::tempdir().unwrap();
    let served = Served::new();
    let steps: Vec<Vec<MetricFamily>> = (0..STEPS).map(|k| served.step(k)).collect();
    let Some(scraped) = start_scraped_prometheus(&tmp.path().join("data"), steps) else {
        return;
    };
    scraped.wait_for_scrapes(SCRAPES);
    let prom = &scraped.prometheus;
    let now = now_ms();

    // Raw samples: every scrape's native histograms, bucket for bucket.
    let requests = prom.query("aion_it_request_seconds[1m]", now).unwrap();
    let series = matrix_histograms(&requests);
    assert_eq!(series.len(), 2, "{requests}");
    let floats =
        |hs: &[Histogram]| -> Vec<FloatHistogram> { hs.iter().map(Histogram::to_float).collect() };
    let mut last_t = 0;
    for (metric, points) in &series {
        let (path, want) = match label(metric, "path").as_str() {
            "/api" => ("/api", floats(&served.api)),
            "/db" => ("/db", floats(&served.db)),
            other => panic!("unexpected series {other}"),
        };
        let n = match_steps(path, points, &want);
        assert!(
            n >= SCRAPES - 1,
            "{path}: {n} samples for {SCRAPES} scrapes"
        );
        last_t = points.last().unwrap().0;
    }
    let queue = matrix_histograms(&prom.query("aion_it_queue_depth[1m]", now).unwrap());
    assert_eq!(queue.len(), 1);
    assert!(match_steps("queue", &queue[0].1, &served.queue) >= SCRAPES - 1);

    // Functions over them, at the last scrape.
    let last = series[0].1.len() - 1;
    let count = float_at(prom, "histogram_count(aion_it_request_seconds)", last_t);
    let sum = float_at(prom, "histogram_sum(aion_it_request_seconds)", last_t);
    for (rows, of) in [
        (
            &count,
            (|h: &Histogram| h.count as f64) as fn(&Histogram) -> f64,
        ),
        (&sum, |h: &Histogram| h.sum),
    ] {
        assert_eq!(rows.len(), 2);
        for (m, v) in rows {
            let h = if label(m, "path") == "/api" {
                &served.api[last]
            } else {
                &served.db[last]
            };
            assert_eq!(*v, of(h), "{m}");
        }
    }

    // The classic family: bucket series with `le`, count and sum.
    let buckets = float_at(prom, "aion_it_classic_seconds_bucket", last_t);
    assert_eq!(buckets.len(), CLASSIC_INDICES.len() + 1, "{buckets:?}");
    let inf = buckets
        .iter()
        .find(|(m, _)| label(m, "le") == "+Inf")
        .unwrap();
    assert_eq!(inf.1, served.api[last].count as f64);
    let classic_count = float_at(prom, "aion_it_classic_seconds_count", last_t);
    assert_eq!(classic_count[0].1, served.api[last].count as f64);

    // 2.42: a native histogram's classic buckets are not stored.
    assert!(float_at(prom, "aion_it_request_seconds_bucket", last_t).is_empty());
    // 2.42: the first metric decides. Classic first: the native metric is
    // stored as classic series only.
    let first_classic = prom.query("aion_it_classic_first_seconds", last_t).unwrap();
    assert!(
        vector_histograms(&first_classic).is_empty(),
        "{first_classic}"
    );
    let counts = float_at(prom, "aion_it_classic_first_seconds_count", last_t);
    assert_eq!(counts.len(), 2, "{counts:?}");
    // Native first: the classic metric becomes a native histogram with
    // count and sum but no buckets, and its classic buckets are lost.
    let first_native = prom.query("aion_it_native_first_seconds", last_t).unwrap();
    let natives = vector_histograms(&first_native);
    assert_eq!(natives.len(), 2, "{first_native}");
    for (m, _, h) in &natives {
        let want = &served.api[last];
        assert_eq!((h.count, h.sum), (want.count as f64, want.sum), "{m}");
        let buckets = if label(m, "kind") == "classic" {
            0
        } else {
            ApiHistogram::of(&want.to_float()).buckets.len()
        };
        assert_eq!(h.buckets.len(), buckets, "{m}");
    }
    assert!(float_at(prom, "aion_it_native_first_seconds_bucket", last_t).is_empty());
    let total = float_at(prom, "aion_it_requests_total", last_t);
    assert_eq!(total[0].1, served.api[last].count as f64);

    // A graceful stop, then a Prometheus on a copy answers the same.
    let copy = tmp.path().join("copy");
    let scrapes = scraped.stop_and_copy_dir(&copy);
    assert!(scrapes.len() >= SCRAPES);
    for s in &scrapes {
        assert_eq!(s.format, Format::Protobuf, "Accept: {}", s.accept);
    }
    let reopened = start_prometheus_on(&copy).unwrap();
    assert_eq!(
        reopened.query("aion_it_request_seconds[1m]", now).unwrap(),
        requests
    );
}
