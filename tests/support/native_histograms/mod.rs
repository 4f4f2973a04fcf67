//! What the native histogram interop tests run Prometheus 2.42 with: a
//! protobuf exposition target, the Prometheus process
//! (`--enable-feature=native-histograms`), and the native histograms of
//! its HTTP API answers. Included by tests with `#[path]`.
//!
//! | file | concept |
//! |---|---|
//! | `metrics_proto.rs` | the `io.prometheus.client` messages, built from Aion's histograms |
//! | `exposition_server.rs` | the scrape target: delimited protobuf or text, by `Accept` header |
//! | `prometheus.rs` | the Prometheus process: scraping, remote-write receiving, graceful stop |
//! | this file | a scraped Prometheus in one call; histograms of API answers |
//!
//! A test comparing Aion with a scraping Prometheus is a few lines:
//!
//! ```text
//! let Some(scraped) = start_scraped_prometheus(&dir, steps) else { return };
//! scraped.wait_for_scrapes(20);
//! let copy = tmp.path().join("copy");
//! let scrapes = scraped.stop_and_copy_dir(&copy);
//! let prom = start_prometheus_on(&copy).unwrap();  // answers from the copy
//! // ... open `dir` (or another copy) with Aion and compare answers
//! ```

// Not every includer uses every helper.
#![allow(dead_code)]

pub mod exposition_server;
#[path = "../http1.rs"]
mod http1;
pub mod metrics_proto;
pub mod prometheus;

use std::path::Path;
use std::time::{Duration, Instant};

use aion::model::histogram::FloatHistogram;
use serde_json::Value as Json;

use exposition_server::{ExpositionServer, Scrape};
use metrics_proto::MetricFamily;
use prometheus::{copy_tree, prometheus_binary, Options, Prometheus};

/// A Prometheus 2.42 scraping an [`ExpositionServer`] once a second.
pub struct ScrapedPrometheus {
    pub target: ExpositionServer,
    pub prometheus: Prometheus,
}

/// Serves `steps` (scrape `k` gets step `min(k, last)`) and starts
/// Prometheus 2.42 on `dir` scraping them every second, as job `native`.
/// `None` (the test skips) without a Prometheus binary, unless
/// `AION_REQUIRE_PROMTOOL=1`.
pub fn start_scraped_prometheus(
    dir: &Path,
    steps: Vec<Vec<MetricFamily>>,
) -> Option<ScrapedPrometheus> {
    let bin = prometheus_binary()?;
    let target = ExpositionServer::start(steps);
    let options = Options {
        scrape: Some((target.addr().to_string(), "1s".to_string())),
        ..Options::default()
    };
    let prometheus = Prometheus::start(&bin, dir, &options).unwrap();
    Some(ScrapedPrometheus { target, prometheus })
}

/// Prometheus 2.42 with native histograms serving `dir` (no scraping),
/// e.g. a copy made by [`ScrapedPrometheus::stop_and_copy_dir`] or a
/// directory Aion wrote. `None` without a binary, as above.
pub fn start_prometheus_on(dir: &Path) -> Option<Prometheus> {
    let bin = prometheus_binary()?;
    Some(Prometheus::start(&bin, dir, &Options::default()).unwrap())
}

impl ScrapedPrometheus {
    /// Waits (up to `n + 60` seconds) until the target has been scraped
    /// `n` times and Prometheus has had a moment to commit the last one.
    pub fn wait_for_scrapes(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(n as u64 + 60);
        while self.target.scrapes().len() < n {
            assert!(
                Instant::now() < deadline,
                "only {} scrapes:\n{}",
                self.target.scrapes().len(),
                self.prometheus.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Stops Prometheus gracefully (its full head chunks are then in
    /// `chunks_head/`, the rest in the WAL), stops the target, and copies
    /// the data directory to `to`. Returns what every scrape was served.
    pub fn stop_and_copy_dir(self, to: &Path) -> Vec<Scrape> {
        let dir = self.prometheus.stop();
        let scrapes = self.target.scrapes();
        drop(self.target);
        copy_tree(&dir, to).unwrap();
        scrapes
    }
}

/// One bucket of a native histogram in an API answer: boundary rule (0:
/// `(lower, upper]`, 1: `[lower, upper)`, 2: open, 3: closed), bounds,
/// count.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiBucket {
    pub boundaries: u64,
    pub lower: f64,
    pub upper: f64,
    pub count: f64,
}

/// A native histogram as Prometheus's HTTP API encodes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiHistogram {
    pub count: f64,
    pub sum: f64,
    pub buckets: Vec<ApiBucket>,
}

fn number(v: &Json) -> f64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("a string number, got {v}"));
    match s {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap_or_else(|_| panic!("a number, got {s:?}")),
    }
}

impl ApiHistogram {
    /// Parses `{"count": .., "sum": .., "buckets": [[rule, lo, hi, n], ..]}`.
    pub fn from_json(v: &Json) -> ApiHistogram {
        let buckets = v["buckets"]
            .as_array()
            .map(|bs| {
                bs.iter()
                    .map(|b| ApiBucket {
                        boundaries: b[0].as_u64().expect("boundary rule"),
                        lower: number(&b[1]),
                        upper: number(&b[2]),
                        count: number(&b[3]),
                    })
                    .collect()
            })
            .unwrap_or_default();
        ApiHistogram {
            count: number(&v["count"]),
            sum: number(&v["sum"]),
            buckets,
        }
    }

    /// What the API shows for `h`: every non-empty bucket, lowest first.
    pub fn of(h: &FloatHistogram) -> ApiHistogram {
        let buckets = h
            .all_buckets()
            .filter(|b| b.count != 0.0)
            .map(|b| ApiBucket {
                boundaries: match (b.lower_inclusive, b.upper_inclusive) {
                    (false, true) => 0,
                    (true, false) => 1,
                    (false, false) => 2,
                    (true, true) => 3,
                },
                lower: b.lower,
                upper: b.upper,
                count: b.count,
            })
            .collect();
        ApiHistogram {
            count: h.count,
            sum: h.sum,
            buckets,
        }
    }

    /// Whether `self` and `other` show the same histogram: counts, sum and
    /// boundary rules exactly, bucket bounds to one ulp (Aion's bounds are
    /// correctly rounded; Prometheus's table of bound fractions is one ulp
    /// low for most entries: docs/promql-2x-3x-differences.md §11).
    pub fn same_as(&self, other: &ApiHistogram) -> bool {
        let close = |a: f64, b: f64| {
            a == b || (a.signum() == b.signum() && a.to_bits().abs_diff(b.to_bits()) <= 1)
        };
        self.count == other.count
            && self.sum.to_bits() == other.sum.to_bits()
            && self.buckets.len() == other.buckets.len()
            && self.buckets.iter().zip(&other.buckets).all(|(a, b)| {
                a.boundaries == b.boundaries
                    && a.count == b.count
                    && close(a.lower, b.lower)
                    && close(a.upper, b.upper)
            })
    }
}

/// Milliseconds of an API timestamp (seconds, up to 3 decimals).
fn api_time(v: &Json) -> i64 {
    (v.as_f64().expect("a timestamp") * 1000.0).round() as i64
}

/// The series of a matrix answer (`metric[range]`): labels (name
/// included) and their native histogram samples, in answer order.
pub fn matrix_histograms(data: &Json) -> Vec<(Json, Vec<(i64, ApiHistogram)>)> {
    assert_eq!(data["resultType"], "matrix", "{data}");
    data["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let points = s["histograms"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| (api_time(&p[0]), ApiHistogram::from_json(&p[1])))
                        .collect()
                })
                .unwrap_or_default();
            (s["metric"].clone(), points)
        })
        .collect()
}

/// The series of a vector answer with native histogram values.
pub fn vector_histograms(data: &Json) -> Vec<(Json, i64, ApiHistogram)> {
    assert_eq!(data["resultType"], "vector", "{data}");
    data["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("histogram").is_some())
        .map(|s| {
            let h = &s["histogram"];
            (
                s["metric"].clone(),
                api_time(&h[0]),
                ApiHistogram::from_json(&h[1]),
            )
        })
        .collect()
}

/// The series of a vector answer with float values.
pub fn vector_floats(data: &Json) -> Vec<(Json, i64, f64)> {
    assert_eq!(data["resultType"], "vector", "{data}");
    data["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("value").is_some())
        .map(|s| {
            let v = &s["value"];
            (s["metric"].clone(), api_time(&v[0]), number(&v[1]))
        })
        .collect()
}
