//! Shared by `tests/query_interop.rs` and `examples/promql_interop.rs`:
//! a synthetic OpenMetrics dataset, PromQL queries over it, a Prometheus
//! server guard, and a comparison of query results with Prometheus's
//! semantics (labels as sets, floats within 1e-9 relative, order only where
//! PromQL defines it).
//!
//! Samples sit at `T0 + 15k + 7` seconds and every evaluation time is
//! `≡ 2 (mod 15)` seconds (and `≡ 17 or 47 (mod 60)`), so no sample and no
//! subquery point ever falls on a window boundary: Prometheus 2.42's
//! left-closed windows and 3.x's left-open ones select the same samples
//! (docs/promql-2x-3x-differences.md, section 1). Counters start far from
//! zero (section 3) and resets only halve them.

// The test uses the comparison, the example also the benchmark helpers.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

/// Start of the dataset (unix seconds, a whole hour: 2023-11-14T22:00:00Z).
pub const T0: i64 = 1_699_999_200;
/// Scrape interval (s).
pub const SCRAPE: i64 = 15;
/// Offset of every sample from the 15 s grid (s).
pub const SAMPLE_OFFSET: i64 = 7;

const JOBS: [&str; 5] = ["api", "web", "db", "cache", "auth"];
const CODES: [&str; 3] = ["200", "404", "500"];
const METHODS: [&str; 2] = ["GET", "POST"];
const BUCKETS: [&str; 11] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf",
];
/// Instances `i` with `i % 5 == LATE` start an hour after [`T0`].
const LATE: usize = 2;
/// Instances `i` with `i % 5 == GONE` stop two hours before the end.
const GONE: usize = 3;
/// Series per instance: requests (3 codes × 2 methods), histogram (2
/// methods × (11 buckets + sum + count)), memory, temperature, info.
const SERIES_PER_INSTANCE: usize = 6 + 26 + 3;

/// Shape of a generated dataset.
#[derive(Debug, Clone, Copy)]
pub struct Dataset {
    /// Instances per job (5 jobs).
    pub instances_per_job: usize,
    /// Hours of samples from [`T0`].
    pub hours: i64,
}

impl Dataset {
    /// The dataset with about `series` series over `hours` hours.
    pub fn with_series(series: usize, hours: i64) -> Self {
        let per_job = series.div_ceil(SERIES_PER_INSTANCE * JOBS.len()).max(1);
        Dataset {
            instances_per_job: per_job,
            hours,
        }
    }

    /// Number of series.
    pub fn series(&self) -> usize {
        self.instances_per_job * JOBS.len() * SERIES_PER_INSTANCE
    }

    /// Samples in the dataset: fewer than series × steps, since some
    /// instances start late or stop early ([`Dataset::is_live`]).
    pub fn samples(&self) -> usize {
        let steps = self.hours * 3600 / SCRAPE;
        let live_steps: usize = (0..self.instances_per_job)
            .map(|i| (0..steps).filter(|&k| self.is_live(i, k)).count())
            .sum();
        live_steps * JOBS.len() * SERIES_PER_INSTANCE
    }

    /// Whether instance `i` of each job has samples at step `k`: some
    /// start an hour late, some stop two hours early (churn, lookback
    /// expiry).
    fn is_live(&self, i: usize, k: i64) -> bool {
        let steps = self.hours * 3600 / SCRAPE;
        let late = i % 5 == LATE && k < 3600 / SCRAPE;
        let gone = i % 5 == GONE && k >= steps - 2 * 3600 / SCRAPE;
        !late && !gone
    }

    /// End of the data (unix seconds, exclusive).
    pub fn end(&self) -> i64 {
        T0 + self.hours * 3600
    }

    /// An instant-query time near the middle of the data, `≡ 17 (mod 60)`.
    pub fn mid(&self) -> i64 {
        T0 + self.hours * 3600 / 2 / 60 * 60 + 17
    }

    /// Writes the dataset as OpenMetrics text (ending in `# EOF`).
    pub fn write_openmetrics(&self, out: &mut impl Write) -> io::Result<()> {
        let steps = self.hours * 3600 / SCRAPE;
        let mut buf = String::with_capacity(1 << 20);
        let instances: Vec<(usize, &str, String)> = JOBS
            .iter()
            .flat_map(|job| (0..self.instances_per_job).map(move |i| (i, *job)))
            .map(|(i, job)| (i, job, format!("{job}-{i}:9100")))
            .collect();
        let live = |i: usize, k: i64| self.is_live(i, k);
        let flush = |buf: &mut String, out: &mut dyn Write| -> io::Result<()> {
            out.write_all(buf.as_bytes())?;
            buf.clear();
            Ok(())
        };

        buf.push_str("# TYPE http_requests counter\n");
        for (i, job, inst) in &instances {
            for (ci, code) in CODES.iter().enumerate() {
                for (mi, method) in METHODS.iter().enumerate() {
                    let mut rng = Rng::new(hash(&[job, inst, code, method]));
                    let mut v = 1_000_000 + rng.next() % 1_000_000;
                    // Rarer codes grow slower.
                    let scale = [40, 8, 2][ci] * (2 - mi as u64);
                    let reset_at = (i % 5 == 1 && ci == 0 && mi == 0).then_some(steps / 2);
                    for k in 0..steps {
                        v += rng.next() % (scale + 1);
                        if Some(k) == reset_at {
                            v /= 2;
                        }
                        if live(*i, k) {
                            let _ = writeln!(
                                buf,
                                "http_requests_total{{code=\"{code}\",instance=\"{inst}\",job=\"{job}\",method=\"{method}\"}} {v} {}",
                                ts(k)
                            );
                        }
                    }
                    flush(&mut buf, out)?;
                }
            }
        }

        buf.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (i, job, inst) in &instances {
            for method in METHODS {
                let mut rng = Rng::new(hash(&[job, inst, method, "hist"]));
                // Far from zero, like the counters (a histogram that
                // started long ago).
                let base = 100_000 + rng.next() % 100_000;
                let mut counts: [u64; BUCKETS.len()] =
                    std::array::from_fn(|b| base + 10_000 * b as u64);
                let mut sum_ms = base * 150;
                let mut rows: Vec<String> = vec![String::new(); BUCKETS.len() + 2];
                for k in 0..steps {
                    let n = rng.next() % 12;
                    for _ in 0..n {
                        // Latency skewed by job: slow jobs fill higher buckets.
                        let shift = (hash(&[job]) % 3) as usize;
                        let b = ((rng.next() % 8) as usize + shift).min(BUCKETS.len() - 1);
                        for c in &mut counts[b..] {
                            *c += 1;
                        }
                        sum_ms += 3 + (rng.next() % 200) * (1 + b as u64);
                    }
                    if !live(*i, k) {
                        continue;
                    }
                    let t = ts(k);
                    for (bi, le) in BUCKETS.iter().enumerate() {
                        let _ = writeln!(
                            rows[bi],
                            "http_request_duration_seconds_bucket{{instance=\"{inst}\",job=\"{job}\",le=\"{le}\",method=\"{method}\"}} {} {t}",
                            counts[bi]
                        );
                    }
                    let _ = writeln!(
                        rows[BUCKETS.len()],
                        "http_request_duration_seconds_sum{{instance=\"{inst}\",job=\"{job}\",method=\"{method}\"}} {} {t}",
                        sum_ms as f64 / 1000.0
                    );
                    let _ = writeln!(
                        rows[BUCKETS.len() + 1],
                        "http_request_duration_seconds_count{{instance=\"{inst}\",job=\"{job}\",method=\"{method}\"}} {} {t}",
                        counts[BUCKETS.len() - 1]
                    );
                }
                for r in &mut rows {
                    buf.push_str(r);
                    flush(&mut buf, out)?;
                    r.clear();
                }
            }
        }

        buf.push_str("# TYPE node_memory_bytes gauge\n");
        for (i, job, inst) in &instances {
            let mut rng = Rng::new(hash(&[job, inst, "mem"]));
            let mut v: i64 = 4_000_000_000 + (rng.next() % 8_000_000_000) as i64;
            for k in 0..steps {
                v += (rng.next() % 2_000_001) as i64 - 1_000_000;
                if live(*i, k) {
                    let _ = writeln!(
                        buf,
                        "node_memory_bytes{{instance=\"{inst}\",job=\"{job}\"}} {v} {}",
                        ts(k)
                    );
                }
            }
            flush(&mut buf, out)?;
        }

        buf.push_str("# TYPE node_cpu_temp_celsius gauge\n");
        for (i, job, inst) in &instances {
            let mut rng = Rng::new(hash(&[job, inst, "temp"]));
            for k in 0..steps {
                let v = 30.0 + (rng.next() % 4000) as f64 / 97.0;
                if live(*i, k) {
                    let _ = writeln!(
                        buf,
                        "node_cpu_temp_celsius{{instance=\"{inst}\",job=\"{job}\"}} {v} {}",
                        ts(k)
                    );
                }
            }
            flush(&mut buf, out)?;
        }

        buf.push_str("# TYPE service_info gauge\n");
        for (i, job, inst) in &instances {
            let version = format!("1.{}.{}", i % 3, hash(&[inst]) % 4);
            let team = ["core", "edge", "data"][(hash(&[job]) % 3) as usize];
            for k in 0..steps {
                if live(*i, k) {
                    let _ = writeln!(
                        buf,
                        "service_info{{instance=\"{inst}\",job=\"{job}\",team=\"{team}\",version=\"{version}\"}} 1 {}",
                        ts(k)
                    );
                }
            }
            flush(&mut buf, out)?;
        }
        buf.push_str("# EOF\n");
        flush(&mut buf, out)
    }
}

fn ts(k: i64) -> i64 {
    T0 + k * SCRAPE + SAMPLE_OFFSET
}

/// FNV-1a of the parts, for per-series seeds.
fn hash(parts: &[&str]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11
    }
}

/// An instant or range query.
#[derive(Debug, Clone)]
pub struct Query {
    /// The expression.
    pub expr: String,
    /// `None` for an instant query at `time`.
    pub range: Option<(i64, i64, i64)>,
    /// Instant query time (unix seconds).
    pub time: i64,
    /// The result's order is defined by PromQL (sort, ungrouped topk), up to
    /// ties.
    pub ordered: bool,
}

impl Query {
    fn instant(expr: String, time: i64) -> Self {
        let ordered = expr.starts_with("sort")
            || ((expr.starts_with("topk(") || expr.starts_with("bottomk("))
                && !expr.contains(" by "));
        Query {
            expr,
            range: None,
            time,
            ordered,
        }
    }

    fn range(expr: String, start: i64, end: i64, step: i64) -> Self {
        Query {
            expr,
            range: Some((start, end, step)),
            time: start,
            ordered: false,
        }
    }

    /// `instant @t` or `range start..end/step`, for reports.
    pub fn describe(&self) -> String {
        match self.range {
            None => format!("instant @{}: {}", self.time, self.expr),
            Some((s, e, st)) => format!("range {s}..{e}/{st}s: {}", self.expr),
        }
    }

    /// The `aion` CLI arguments after the binary name (DIR first).
    pub fn cli_args(&self, dir: &Path) -> Vec<String> {
        let dir = dir.display().to_string();
        match self.range {
            None => vec![
                "query".into(),
                dir,
                self.expr.clone(),
                "--time".into(),
                self.time.to_string(),
                "--format".into(),
                "json".into(),
            ],
            Some((s, e, st)) => vec![
                "query-range".into(),
                dir,
                self.expr.clone(),
                "--start".into(),
                s.to_string(),
                "--end".into(),
                e.to_string(),
                "--step".into(),
                st.to_string(),
                "--format".into(),
                "json".into(),
            ],
        }
    }

    /// Path and query string of Prometheus's API request.
    pub fn api_path(&self) -> String {
        match self.range {
            None => format!(
                "/api/v1/query?query={}&time={}",
                url_encode(&self.expr),
                self.time
            ),
            Some((s, e, st)) => format!(
                "/api/v1/query_range?query={}&start={s}&end={e}&step={st}",
                url_encode(&self.expr)
            ),
        }
    }
}

/// The comparison queries over `d`: selectors, the rate family, every
/// aggregation, histogram_quantile, joins, subqueries, `@` and `offset`,
/// `*_over_time`, label functions, binary operators, absent, scalars.
pub fn queries(d: &Dataset) -> Vec<Query> {
    let t = d.mid();
    let late = T0 + 3600 / 2 / 60 * 60 + 17;
    // A 1 h range in the second half; start ≡ 17 (mod 60), 30 s step keeps
    // every evaluation time ≡ 2 (mod 15).
    let (rs, re) = (t, t + 3600);
    let at = T0 + 3600 + 2; // ≡ 2 (mod 15)
    let gone = format!("api-{GONE}:9100");
    let end = d.end();
    let i = |e: &str| Query::instant(e.to_string(), t);
    let r = |e: &str, step: i64| Query::range(e.to_string(), rs, re, step);
    vec![
        // Selectors.
        i("http_requests_total"),
        i(r#"http_requests_total{job="api",code=~"5..",method!="POST"}"#),
        i(r#"node_memory_bytes{instance!~"(api|web)-1.*"}"#),
        r(r#"node_cpu_temp_celsius{job="db"}"#, 60),
        // 2m25s after the last sample of a series that stopped.
        Query::instant(
            format!(r#"node_memory_bytes{{instance="{gone}"}}"#),
            end - 2 * 3600 + 137,
        ),
        Query::instant(
            format!(r#"node_memory_bytes{{instance="{gone}"}}"#),
            end - 2 * 3600 + 317,
        ),
        // Rate family.
        r(r#"rate(http_requests_total{job="api"}[5m])"#, 30),
        i("irate(http_requests_total[1m])"),
        i("increase(http_requests_total[10m])"),
        r(r#"delta(node_cpu_temp_celsius{job="web"}[15m])"#, 60),
        i("deriv(node_memory_bytes[30m])"),
        i("predict_linear(node_memory_bytes[30m], 3600)"),
        i("idelta(node_cpu_temp_celsius[2m])"),
        i("resets(http_requests_total[2h])"),
        i("changes(node_cpu_temp_celsius[10m])"),
        // Aggregations.
        r("sum by (job) (rate(http_requests_total[5m]))", 30),
        i("avg by (job, code) (rate(http_requests_total[5m]))"),
        i("min by (job) (node_memory_bytes)"),
        i("max without (instance) (node_memory_bytes)"),
        i("count by (code) (http_requests_total)"),
        i("stddev by (job) (node_cpu_temp_celsius)"),
        i("stdvar(node_cpu_temp_celsius)"),
        i("topk(5, node_memory_bytes)"),
        i("bottomk(3, deriv(node_memory_bytes[30m]))"),
        i("topk by (job) (2, rate(http_request_duration_seconds_sum[5m]))"),
        i("quantile by (job) (0.9, node_cpu_temp_celsius)"),
        i(r#"count_values("bucket", floor(node_cpu_temp_celsius / 10))"#),
        i("group by (job, instance) (http_requests_total)"),
        r("count by (job) (node_memory_bytes)", 60),
        // Classic histograms.
        r(
            "histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m])))",
            30,
        ),
        i(r#"histogram_quantile(0.5, rate(http_request_duration_seconds_bucket{job="web"}[10m]))"#),
        i("rate(http_request_duration_seconds_sum[5m]) / rate(http_request_duration_seconds_count[5m])"),
        // Joins.
        i("rate(http_requests_total[5m]) * on (job, instance) group_left (version) service_info"),
        r(
            "sum by (team) (rate(http_requests_total[5m]) * on (job, instance) group_left (team) service_info)",
            60,
        ),
        i(r#"sum without (method) (rate(http_requests_total{code="500"}[5m])) / ignoring (code) group_left sum without (method, code) (rate(http_requests_total[5m]))"#),
        i(r#"node_memory_bytes and on (instance) node_cpu_temp_celsius > 60"#),
        i(r#"node_memory_bytes unless on (job, instance) service_info{version=~"1.0.*"}"#),
        i(r#"node_cpu_temp_celsius{job="api"} or node_cpu_temp_celsius{job="db"} > 55"#),
        // Subqueries, @ and offset.
        i(r#"max_over_time(rate(http_requests_total{job="api"}[5m])[30m:1m])"#),
        r("avg_over_time(node_memory_bytes[10m:1m])", 30),
        i(&format!("node_memory_bytes @ {at}")),
        i("rate(http_requests_total[5m] offset 30m)"),
        r(r#"sum(rate(http_requests_total{job="db"}[5m] @ end()))"#, 60),
        r(r#"node_memory_bytes{job="auth"} offset 1h"#, 60),
        Query::instant(
            r#"min_over_time(sum by (job) (rate(http_requests_total[5m]))[20m:2m] offset 10m)"#.into(),
            late + 3600,
        ),
        // *_over_time.
        i("min_over_time(node_cpu_temp_celsius[1h])"),
        i("max_over_time(node_memory_bytes[1h])"),
        i("sum_over_time(node_cpu_temp_celsius[10m])"),
        i("count_over_time(http_requests_total[7m])"),
        i("avg_over_time(node_cpu_temp_celsius[30m])"),
        i("quantile_over_time(0.75, node_cpu_temp_celsius[20m])"),
        i("stddev_over_time(node_cpu_temp_celsius[20m])"),
        i("stdvar_over_time(node_memory_bytes[20m])"),
        Query::instant(
            "last_over_time(node_memory_bytes[3h])".into(),
            end - 1800 + 17,
        ),
        i("present_over_time(service_info[5m])"),
        Query::instant(
            format!(r#"absent_over_time(node_memory_bytes{{instance="{gone}"}}[10m])"#),
            end - 13,
        ),
        // Label functions.
        i(r#"label_replace(node_memory_bytes, "host", "$1", "instance", "(.*):.*")"#),
        i(r#"label_join(node_memory_bytes, "id", "/", "job", "instance")"#),
        // Binary operators, absent, scalars and math.
        i("node_cpu_temp_celsius > bool 50"),
        i("rate(http_requests_total[5m]) > 0.5 < 1.5"),
        i("-node_memory_bytes % 7 + 2 ^ 3"),
        i(r#"absent(nonexistent_metric{job="x"})"#),
        i("absent(node_memory_bytes)"),
        i("scalar(sum(node_memory_bytes)) / 1e9"),
        i("time() - timestamp(node_memory_bytes)"),
        r("time()", 300),
        i("round(node_cpu_temp_celsius, 0.5) + ceil(node_cpu_temp_celsius) - floor(sqrt(node_cpu_temp_celsius))"),
        i(r#"clamp(abs(delta(node_cpu_temp_celsius[5m])), 1, 10) * sgn(node_cpu_temp_celsius)"#),
        i("ln(node_memory_bytes) + exp(-node_cpu_temp_celsius / 10) + log2(node_cpu_temp_celsius)"),
        i("hour(timestamp(node_memory_bytes)) * 60 + minute(timestamp(node_memory_bytes))"),
        i("day_of_week() + days_in_month() + day_of_month() + day_of_year() + month() + year()"),
        // Ordered results.
        i(r#"sort_desc(sum by (instance) (rate(http_requests_total{job="db"}[5m])))"#),
        i(r#"sort(node_cpu_temp_celsius{job="cache"})"#),
    ]
    .into_iter()
    .chain(heavy_queries(d))
    .collect()
}

/// The four heavy range queries of the benchmark (issue 8).
pub const HEAVY: [&str; 4] = [
    "sum by (job) (rate(http_requests_total[5m]))",
    "histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m])))",
    "topk(10, max_over_time(node_memory_bytes[1h]))",
    "sum by (job, version) (rate(http_requests_total[5m]) * on (job, instance) group_left (version) service_info)",
];

/// [`HEAVY`] over the whole dataset at a 30 s step.
pub fn heavy_queries(d: &Dataset) -> Vec<Query> {
    HEAVY
        .iter()
        .map(|e| Query::range(e.to_string(), T0 + 17, d.end() - 13, 30))
        .collect()
}

/// The eight queries of the query speed benchmark against VictoriaMetrics
/// (issue 19): range queries over the whole dataset (the step in
/// seconds) and, with step 0, instant queries at its end. The issue's
/// `sum by (job, handler)` is `sum by (job, method)` here: the dataset's
/// histograms have a `method` label, no `handler`.
pub const SPEED: [(&str, i64); 8] = [
    ("sum by (job) (rate(http_requests_total[5m]))", 30),
    (
        "histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m])))",
        30,
    ),
    (
        "sum by (job, method) (rate(http_request_duration_seconds_bucket[5m]))",
        30,
    ),
    (
        "topk(10, sum by (instance) (rate(http_requests_total[5m])))",
        30,
    ),
    (r#"count by (__name__) ({__name__=~".+"})"#, 60),
    ("sum by (job) (increase(http_requests_total[6h]))", 0),
    (r#"count(last_over_time({__name__=~".+"}[6h]))"#, 0),
    (
        "avg by (job) (max_over_time(node_memory_bytes[15m]) - min_over_time(node_memory_bytes[15m]))",
        60,
    ),
];

/// [`SPEED`] over `d`: ranges from its start to its end, instants at its
/// end (both `≡ 2 (mod 15)` seconds, off the samples).
pub fn speed_queries(d: &Dataset) -> Vec<Query> {
    SPEED
        .iter()
        .map(|&(e, step)| match step {
            0 => Query::instant(e.to_string(), d.end() - 13),
            _ => Query::range(e.to_string(), T0 + 17, d.end() - 13, step),
        })
        .collect()
}

/// Percent-encodes a query string value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A Prometheus 2.42 server on 127.0.0.1, killed by PID on drop.
pub struct Prometheus {
    child: Child,
    /// Port it listens on.
    pub port: u16,
    _config_dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts `binary` serving the TSDB in `data_dir` (which it may
    /// write to: pass a copy), and waits until it is ready.
    pub fn start(binary: &Path, data_dir: &Path) -> io::Result<Prometheus> {
        Self::start_with(binary, data_dir, &[])
    }

    /// [`Prometheus::start`] with more command-line flags (feature flags,
    /// the remote-write receiver).
    pub fn start_with(binary: &Path, data_dir: &Path, flags: &[&str]) -> io::Result<Prometheus> {
        let config_dir = tempfile::tempdir()?;
        let config = config_dir.path().join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 15s\n")?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data_dir.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // Retention counts from the newest block, but keep everything.
            .arg("--storage.tsdb.retention.time=100y")
            .arg("--log.level=warn")
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let p = Prometheus {
            child,
            port,
            _config_dir: config_dir,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok((200, _)) = p.get("/-/ready") {
                return Ok(p);
            }
            if Instant::now() > deadline {
                return Err(io::Error::other("prometheus did not become ready in 120 s"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET path` over HTTP/1.0: status and body.
    pub fn get(&self, path: &str) -> io::Result<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(600)))?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp)?;
        let resp = String::from_utf8_lossy(&resp);
        let (head, body) = resp
            .split_once("\r\n\r\n")
            .ok_or_else(|| io::Error::other("malformed HTTP response"))?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other("malformed HTTP status line"))?;
        Ok((status, body.to_string()))
    }

    /// The `data` object of the API answer to `q`.
    pub fn query(&self, q: &Query) -> Result<Json, String> {
        let (status, body) = self.get(&q.api_path()).map_err(|e| e.to_string())?;
        let v: Json = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if status != 200 || v["status"] != "success" {
            return Err(format!("HTTP {status}: {body}"));
        }
        Ok(v["data"].clone())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cp -a src dst`.
pub fn copy_dir(src: &Path, dst: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for e in std::fs::read_dir(src)? {
        let e = e?;
        let to = dst.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &to)?;
        } else {
            std::fs::copy(e.path(), &to)?;
        }
    }
    Ok(())
}

/// Builds blocks from `om` into `dir` with `promtool tsdb
/// create-blocks-from openmetrics`.
pub fn promtool_blocks(promtool: &Path, om: &Path, dir: &Path) -> io::Result<()> {
    let out = Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(om)
        .arg(dir)
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "promtool failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// Runs `aion` (the CLI example) for `q` over `dir`: its JSON output.
pub fn aion_query(aion: &Path, dir: &Path, q: &Query) -> Result<Json, String> {
    let out = Command::new(aion)
        .args(q.cli_args(dir))
        .output()
        .map_err(|e| format!("running {}: {e}", aion.display()))?;
    if !out.status.success() {
        return Err(format!(
            "aion exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut answer: Json = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("aion printed invalid JSON: {e}"))?;
    // The whole API answer; the comparison is of its `data`.
    Ok(answer["data"].take())
}

/// The labels of a result element as a sorted list (a set).
fn metric_key(m: &Json) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = m
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn parse_value(v: &Json) -> Option<f64> {
    match v.as_str()? {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        s => s.parse().ok(),
    }
}

/// Equal within 1e-9 relative (NaN equals NaN, infinities by sign).
pub fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    if a.is_infinite() || b.is_infinite() {
        return false;
    }
    let diff = (a - b).abs();
    diff <= 1e-9 * a.abs().max(b.abs()) || diff < 1e-12
}

fn compare_point(what: &str, a: &Json, b: &Json) -> Result<(), String> {
    let (ta, tb) = (a[0].as_f64(), b[0].as_f64());
    if ta.is_none() || ta != tb {
        return Err(format!("{what}: timestamp {} vs {}", a[0], b[0]));
    }
    match (parse_value(&a[1]), parse_value(&b[1])) {
        (Some(x), Some(y)) if close(x, y) => Ok(()),
        _ => Err(format!("{what}: value {} vs {} at {}", a[1], b[1], a[0])),
    }
}

fn fmt_key(k: &[(String, String)]) -> String {
    let inner: Vec<String> = k.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(","))
}

/// Compares Aion's `data` with Prometheus's: `Err` describes the first
/// differences.
pub fn compare(aion: &Json, prom: &Json, ordered: bool) -> Result<(), String> {
    if aion["resultType"] != prom["resultType"] {
        return Err(format!(
            "resultType {} vs {}",
            aion["resultType"], prom["resultType"]
        ));
    }
    let (ra, rp) = (&aion["result"], &prom["result"]);
    match aion["resultType"].as_str() {
        Some("scalar") | Some("string") => {
            if aion["resultType"] == "scalar" {
                compare_point("scalar", ra, rp)
            } else if ra == rp {
                Ok(())
            } else {
                Err(format!("string {ra} vs {rp}"))
            }
        }
        Some(kind @ ("vector" | "matrix")) => {
            let (xa, xp) = (
                ra.as_array().cloned().unwrap_or_default(),
                rp.as_array().cloned().unwrap_or_default(),
            );
            if xa.len() != xp.len() {
                let ka: std::collections::BTreeSet<_> =
                    xa.iter().map(|e| metric_key(&e["metric"])).collect();
                let kp: std::collections::BTreeSet<_> =
                    xp.iter().map(|e| metric_key(&e["metric"])).collect();
                let only_a = ka.difference(&kp).next().map(|k| fmt_key(k));
                let only_p = kp.difference(&ka).next().map(|k| fmt_key(k));
                return Err(format!(
                    "{} series vs {} (only in aion: {only_a:?}; only in prometheus: {only_p:?})",
                    xa.len(),
                    xp.len()
                ));
            }
            let key = |e: &Json| metric_key(&e["metric"]);
            if ordered {
                // The order is defined up to ties; values equal within the
                // tolerance may come in either order (2.42 sums without
                // compensation, so mathematically equal values can differ
                // in the last bit there and sort differently).
                for (j, (a, p)) in xa.iter().zip(&xp).enumerate() {
                    compare_point(&format!("position {j}"), &a["value"], &p["value"])?;
                }
            }
            let (mut sa, mut sp) = (xa.clone(), xp.clone());
            sa.sort_by_key(key);
            sp.sort_by_key(key);
            for (a, p) in sa.iter().zip(&sp) {
                let (ka, kp) = (key(a), key(p));
                if ka != kp {
                    return Err(format!("series {} vs {}", fmt_key(&ka), fmt_key(&kp)));
                }
                let what = fmt_key(&ka);
                if kind == "vector" {
                    compare_point(&what, &a["value"], &p["value"])?;
                } else {
                    let empty = Vec::new();
                    let pa = a["values"].as_array().unwrap_or(&empty);
                    let pp = p["values"].as_array().unwrap_or(&empty);
                    if pa.len() != pp.len() {
                        return Err(format!("{what}: {} points vs {}", pa.len(), pp.len()));
                    }
                    for (x, y) in pa.iter().zip(pp) {
                        compare_point(&what, x, y)?;
                    }
                }
            }
            Ok(())
        }
        _ => Err(format!("unexpected resultType {}", aion["resultType"])),
    }
}

/// `/usr/bin/promtool` and `/usr/bin/prometheus`, or `None` (with a
/// note) when missing, unless `AION_REQUIRE_PROMTOOL=1`, which panics.
pub fn prometheus_binaries() -> Option<(PathBuf, PathBuf)> {
    let (pt, pm) = (
        PathBuf::from("/usr/bin/promtool"),
        PathBuf::from("/usr/bin/prometheus"),
    );
    if pt.exists() && pm.exists() {
        return Some((pt, pm));
    }
    if std::env::var("AION_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
        panic!("promtool/prometheus not found but AION_REQUIRE_PROMTOOL=1 (apt-get install prometheus)");
    }
    eprintln!("note: promtool/prometheus not found; skipping");
    None
}
