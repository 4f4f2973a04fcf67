//! Rule evaluation time, Aion in-process vs a Prometheus 2.42 server, on
//! the 10k-series dataset of `examples/promql_interop.rs`.
//!
//! ```text
//! cargo build --release --example rules_bench
//! E=target/release/examples
//! $E/rules_bench data /tmp/rb/data          # the dataset around "now", in an Aion Db (WAL)
//! $E/rules_bench rules /tmp/rb/rules.yml    # the two groups (for reading)
//! $E/rules_bench bench-aion /tmp/rb/data --runs 9
//! AION_SERIAL=1 $E/rules_bench bench-aion /tmp/rb/data --runs 9
//! AION_SERIAL=1 AION_CONCURRENT=1 $E/rules_bench bench-aion /tmp/rb/data --runs 9
//! $E/rules_bench bench-prometheus /tmp/rb/data --runs 9
//! ```
//!
//! A Prometheus server evaluates rules at wall-clock time, so the data
//! must be around "now": `data` generates the dataset of
//! `tests/support/promql_interop.rs` (10 150 series, 15 s scrapes) and
//! keeps the samples from 2 h before to 40 min after the time it runs,
//! shifted so every instance is live then, written into a Db's head
//! (WAL, Prometheus's format, which Prometheus replays). The head spans
//! less than 1.5 block ranges, so neither side compacts during the run,
//! and rule output (at "now") is inside the head's appendable range.
//! Benchmarks must run within 40 minutes of `data`.
//!
//! The rule file has a group of 50 recording rules (kube-prometheus-like
//! shapes: rates by job/code/instance at 1m–1h windows, error ratios,
//! bucket quantiles, latency averages, joins, `*_over_time`) and a group
//! of 50 alerting rules (thresholds over the same shapes, `for`, label and
//! annotation templates), each at a 15 s interval.
//!
//! * `bench-aion DIR` opens a copy of DIR and evaluates each group
//!   `--runs` times at 15 s steps from now (`Group::evaluate_at`: queries,
//!   templates, appends and commits), printing each group's median.
//! * `bench-prometheus DIR` starts Prometheus 2.42 on a copy of DIR with
//!   the rule file, and reads each group's evaluation time
//!   (`evaluationTime` of `/api/v1/rules`, the value of
//!   `prometheus_rule_group_last_duration_seconds`) after each of
//!   `--runs` evaluations, skipping the first; prints the medians.

#[path = "../tests/support/promql_interop.rs"]
mod interop;

use std::fmt::Write as _;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aion::promql::{Engine, EngineOptions};
use aion::rules::rulefmt::{parse, ParseOptions};
use aion::rules::{Group, GroupOptions};
use aion::tsdb::textparse::{Entry, OpenMetricsParser};
use aion::tsdb::{Db, Options};
use interop::{Dataset, T0};

const USAGE: &str = "usage: rules_bench data DIR [--series N]
       rules_bench rules OUT
       rules_bench bench-aion DIR [--runs N]
       rules_bench bench-prometheus DIR [--runs N]";

type Result<T = ()> = std::result::Result<T, String>;

/// Where "now" falls in the generated 6 h: 3 h in, when every instance
/// is live (some start 1 h late, some stop 2 h early).
const NOW_IN_DATA_S: i64 = 3 * 3600;
/// Samples kept before and after "now".
const KEEP_BEFORE_S: i64 = 2 * 3600;
const KEEP_AFTER_S: i64 = 40 * 60;
/// The groups' interval.
const INTERVAL_S: i64 = 15;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: i64| -> i64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (Some(cmd), Some(path)) = (args.first(), args.get(1)) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let path = PathBuf::from(path);
    let runs = flag("--runs", 9).max(2) as usize;
    let result = match cmd.as_str() {
        "data" => data(&path, flag("--series", 10_000) as usize),
        "rules" => std::fs::write(&path, rules()).map_err(|e| format!("{}: {e}", path.display())),
        "bench-aion" => bench_aion(&path, runs),
        "bench-prometheus" => bench_prometheus(&path, runs),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rules_bench: {e}");
            ExitCode::from(1)
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Parses OpenMetrics text as the generator writes it (series after
/// series) and keeps the samples within the window, shifted by
/// `shift_ms`, to append them time after time (a head accepts samples up
/// to an hour behind its newest only).
struct Loader {
    series: Vec<(aion::model::Labels, Vec<(i64, f64)>)>,
    buf: Vec<u8>,
    line: usize,
    shift_ms: i64,
    keep: (i64, i64),
    samples: u64,
    error: Option<String>,
}

impl Loader {
    fn load(&mut self, text: &[u8], last: bool) {
        let mut p = if last {
            OpenMetricsParser::with_first_line(text, self.line)
        } else {
            OpenMetricsParser::continuing(text, self.line)
        };
        for e in p.by_ref() {
            match e {
                Ok(Entry::Sample(s)) => {
                    let Some(t) = s.timestamp_ms else { continue };
                    let t = t + self.shift_ms;
                    if t < self.keep.0 || t >= self.keep.1 {
                        continue;
                    }
                    match self.series.last_mut() {
                        Some((l, v)) if *l == s.labels => v.push((t, s.value)),
                        _ => self.series.push((s.labels, vec![(t, s.value)])),
                    }
                    self.samples += 1;
                }
                Ok(_) => {}
                Err(e) => {
                    self.error.get_or_insert(e.to_string());
                }
            }
        }
        self.line = p.line();
    }

    /// Appends everything to `db`, oldest samples first.
    fn append_to(&self, db: &Db) -> Result {
        let mut next = vec![0usize; self.series.len()];
        let mut t = self.keep.0;
        while t < self.keep.1 {
            let until = t + 60_000;
            let mut app = db.appender();
            for (i, (l, v)) in self.series.iter().enumerate() {
                while let Some(&(st, sv)) = v.get(next[i]).filter(|s| s.0 < until) {
                    app.append(l, st, sv)
                        .map_err(|e| format!("{l} at {st}: {e}"))?;
                    next[i] += 1;
                }
            }
            app.commit().map_err(|e| e.to_string())?;
            t = until;
        }
        Ok(())
    }
}

impl Write for Loader {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= 8 << 20 {
            if let Some(end) = self.buf.iter().rposition(|&c| c == b'\n') {
                let rest = self.buf.split_off(end + 1);
                let text = std::mem::replace(&mut self.buf, rest);
                self.load(&text, false);
            }
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn data(dir: &Path, series: usize) -> Result {
    let start = Instant::now();
    if dir.exists() {
        return Err(format!("{} exists", dir.display()));
    }
    let d = Dataset::with_series(series, 6);
    let now = now_ms();
    let shift_ms = now - (T0 + NOW_IN_DATA_S) * 1000;
    let options = Options {
        background_compaction: false,
        ..Options::default()
    };
    let mut l = Loader {
        series: Vec::new(),
        buf: Vec::new(),
        line: 1,
        shift_ms,
        keep: (now - KEEP_BEFORE_S * 1000, now + KEEP_AFTER_S * 1000),
        samples: 0,
        error: None,
    };
    d.write_openmetrics(&mut l).map_err(|e| e.to_string())?;
    let rest = std::mem::take(&mut l.buf);
    l.load(&rest, true);
    if let Some(e) = l.error {
        return Err(e);
    }
    let db = Db::open(dir, options).map_err(|e| e.to_string())?;
    l.append_to(&db)?;
    let samples = l.samples;
    db.close().map_err(|e| e.to_string())?;
    println!(
        "wrote {} series, {samples} samples, {} to {} (now = {}), in {:.1}s; benchmark before {}",
        d.series(),
        now / 1000 - KEEP_BEFORE_S,
        now / 1000 + KEEP_AFTER_S,
        now / 1000,
        start.elapsed().as_secs_f64(),
        now / 1000 + KEEP_AFTER_S - 60,
    );
    Ok(())
}

/// The rule file: a recording group and an alerting group of 50 rules.
fn rules() -> String {
    let mut rec: Vec<(String, String)> = Vec::new();
    let windows = ["1m", "5m", "30m", "1h"];
    for w in windows {
        let r = |sel: &str| format!("rate({sel}[{w}])");
        rec.push((
            format!("job:http_requests:rate{w}"),
            format!("sum by (job) ({})", r("http_requests_total")),
        ));
        rec.push((
            format!("job_code:http_requests:rate{w}"),
            format!("sum by (job, code) ({})", r("http_requests_total")),
        ));
        rec.push((
            format!("instance:http_requests:rate{w}"),
            format!("sum by (instance, job) ({})", r("http_requests_total")),
        ));
        rec.push((
            format!("job:http_requests_errors:ratio_rate{w}"),
            format!(
                "sum by (job) ({}) / sum by (job) ({})",
                r("http_requests_total{code=\"500\"}"),
                r("http_requests_total")
            ),
        ));
        rec.push((
            format!("le:http_request_duration_seconds:p99_rate{w}"),
            format!(
                "histogram_quantile(0.99, sum by (le) ({}))",
                r("http_request_duration_seconds_bucket")
            ),
        ));
        rec.push((
            format!("job:http_request_duration_seconds:p99_rate{w}"),
            format!(
                "histogram_quantile(0.99, sum by (le, job) ({}))",
                r("http_request_duration_seconds_bucket")
            ),
        ));
        rec.push((
            format!("job:http_request_duration_seconds:p50_rate{w}"),
            format!(
                "histogram_quantile(0.5, sum by (le, job) ({}))",
                r("http_request_duration_seconds_bucket")
            ),
        ));
        rec.push((
            format!("job:http_request_duration_seconds:mean_rate{w}"),
            format!(
                "sum by (job) ({}) / sum by (job) ({})",
                r("http_request_duration_seconds_sum"),
                r("http_request_duration_seconds_count")
            ),
        ));
    }
    let more = [
        ("job_method:http_requests:rate5m", "sum by (job, method) (rate(http_requests_total[5m]))"),
        ("job:http_requests:irate", "sum by (job) (irate(http_requests_total[5m]))"),
        ("job:http_requests:increase1h", "sum by (job) (increase(http_requests_total[1h]))"),
        ("instance:http_request_duration_seconds:p90_rate5m", "histogram_quantile(0.9, sum by (le, instance) (rate(http_request_duration_seconds_bucket[5m])))"),
        ("job_method:http_request_duration_seconds:p99_rate5m", "histogram_quantile(0.99, sum by (le, job, method) (rate(http_request_duration_seconds_bucket[5m])))"),
        ("job:node_memory_bytes:avg", "avg by (job) (node_memory_bytes)"),
        ("job:node_memory_bytes:max", "max by (job) (node_memory_bytes)"),
        ("job:node_memory_gigabytes:sum", "sum by (job) (node_memory_bytes) / 1e9"),
        ("instance:node_memory_bytes:avg_over_time5m", "avg_over_time(node_memory_bytes[5m])"),
        ("instance:node_memory_bytes:deriv30m", "deriv(node_memory_bytes[30m])"),
        ("job:node_memory_bytes:predict1h", "max by (job) (predict_linear(node_memory_bytes[1h], 3600))"),
        ("instance:node_cpu_temp_celsius:max_over_time30m", "max_over_time(node_cpu_temp_celsius[30m])"),
        ("job:node_cpu_temp_celsius:p90", "quantile by (job) (0.9, node_cpu_temp_celsius)"),
        ("job:node_cpu_temp_celsius:stddev5m", "avg by (job) (stddev_over_time(node_cpu_temp_celsius[5m]))"),
        ("job_version:service_info:count", "count by (job, version) (service_info)"),
        ("job_version:http_requests:rate5m", "sum by (job, version) (rate(http_requests_total[5m]) * on (job, instance) group_left (version) service_info)"),
        ("team:http_requests:rate5m", "sum by (team) (rate(http_requests_total[5m]) * on (job, instance) group_left (team) service_info)"),
        ("instance:http_requests:top5", "topk(5, sum by (instance) (rate(http_requests_total[5m])))"),
    ];
    for (n, e) in more {
        rec.push((n.to_string(), e.to_string()));
    }
    assert_eq!(rec.len(), 50);

    let mut alerts: Vec<(String, String, &str)> = Vec::new();
    for (i, w) in ["5m", "30m"].iter().enumerate() {
        let sfx = ["5m", "30m"][i];
        for (lvl, th) in [("warning", "0.001"), ("critical", "0.01")] {
            alerts.push((
                format!("HighErrorRatio{sfx}_{lvl}"),
                format!("sum by (job) (rate(http_requests_total{{code=\"500\"}}[{w}])) / sum by (job) (rate(http_requests_total[{w}])) > {th}"),
                lvl,
            ));
        }
        for (lvl, th) in [("warning", "0.5"), ("critical", "1")] {
            alerts.push((
                format!("HighLatencyP99{sfx}_{lvl}"),
                format!("histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket[{w}]))) > {th}"),
                lvl,
            ));
            alerts.push((
                format!("HighMeanLatency{sfx}_{lvl}"),
                format!("sum by (job) (rate(http_request_duration_seconds_sum[{w}])) / sum by (job) (rate(http_request_duration_seconds_count[{w}])) > {th}"),
                lvl,
            ));
        }
    }
    for (k, th) in ["1e9", "6e9", "9e9", "1.1e10"].iter().enumerate() {
        alerts.push((
            format!("MemoryHigh{k}"),
            format!("node_memory_bytes > {th}"),
            "warning",
        ));
    }
    for (k, th) in ["40", "55", "65", "70"].iter().enumerate() {
        alerts.push((
            format!("TempHigh{k}"),
            format!("node_cpu_temp_celsius > {th}"),
            "warning",
        ));
    }
    for (k, th) in ["0.5", "2", "5", "10", "20"].iter().enumerate() {
        alerts.push((
            format!("RequestRate{k}"),
            format!("rate(http_requests_total[5m]) > {th}"),
            "info",
        ));
    }
    for (k, th) in ["100", "500", "1000"].iter().enumerate() {
        alerts.push((
            format!("JobTraffic{k}"),
            format!("sum by (job) (rate(http_requests_total[5m])) > {th}"),
            "info",
        ));
    }
    let extra = [
        ("MemoryGrowing", "deriv(node_memory_bytes[30m]) > 0", "info"),
        ("MemoryWillFill", "predict_linear(node_memory_bytes[1h], 4 * 3600) > 1.2e10", "warning"),
        ("TempSpiky", "stddev_over_time(node_cpu_temp_celsius[5m]) > 10", "info"),
        ("TempMaxHigh", "max_over_time(node_cpu_temp_celsius[30m]) > 70", "warning"),
        ("VersionSkew", "count by (job) (count by (job, version) (service_info)) > 1", "info"),
        ("InstanceMissing", "count by (job) (service_info) < 10", "critical"),
        ("NoTraffic", "sum by (instance) (rate(http_requests_total[5m])) == 0", "critical"),
        ("NotFoundRatio", "sum by (job, method) (rate(http_requests_total{code=\"404\"}[5m])) / sum by (job, method) (rate(http_requests_total[5m])) > 0.05", "warning"),
        ("SlowInstance", "histogram_quantile(0.9, sum by (le, instance) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5", "warning"),
        ("CounterReset", "resets(http_requests_total[1h]) > 0", "info"),
        ("AbsentService", "absent(service_info{job=\"billing\"})", "critical"),
        ("TeamTraffic", "sum by (team) (rate(http_requests_total[5m]) * on (job, instance) group_left (team) service_info) > 100", "info"),
        ("TopTalker", "topk(3, sum by (instance) (rate(http_requests_total[5m]))) > 5", "info"),
        ("MemoryTotal", "sum(node_memory_bytes) > 1e12", "warning"),
        ("HistogramCount", "sum by (job) (increase(http_request_duration_seconds_count[1h])) > 1000", "info"),
        ("ChangesInInfo", "changes(service_info[1h]) > 0", "info"),
        ("LatencyP50", "histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.1", "info"),
        ("ErrorBurst", "sum by (instance) (increase(http_requests_total{code=\"500\"}[5m])) > 5", "warning"),
        ("Watchdog", "vector(1)", "none"),
        ("TempAvgHigh", "avg by (job) (node_cpu_temp_celsius) > 45", "warning"),
        ("MemoryMin", "min by (job) (node_memory_bytes) < 5e9", "info"),
        ("InstanceErrorRatio", "sum by (instance) (rate(http_requests_total{code=\"500\"}[5m])) / sum by (instance) (rate(http_requests_total[5m])) > 0.02", "warning"),
    ];
    for (n, e, s) in extra {
        alerts.push((n.to_string(), e.to_string(), s));
    }
    assert_eq!(alerts.len(), 50, "{}", alerts.len());

    let mut out = String::from("groups:\n  - name: recording\n    interval: 15s\n    rules:\n");
    for (n, e) in &rec {
        let _ = writeln!(
            out,
            "      - record: {n}\n        expr: '{}'",
            e.replace('\'', "''")
        );
    }
    out.push_str("  - name: alerting\n    interval: 15s\n    rules:\n");
    for (k, (n, e, s)) in alerts.iter().enumerate() {
        let _ = writeln!(
            out,
            "      - alert: {n}\n        expr: '{}'\n        for: {}m\n        labels:\n          severity: {s}\n          owner: '{{{{ $labels.job | toUpper }}}}'\n        annotations:\n          summary: '{{{{ $labels.instance }}}} of {{{{ $labels.job }}}}: {{{{ $value | humanize }}}}'\n          description: 'value {{{{ printf \"%.2f\" $value }}}} for {n}'",
            e.replace('\'', "''"),
            k % 3 * 5
        );
    }
    out
}

fn copy_of(dir: &Path) -> Result<tempfile::TempDir> {
    let tmp = tempfile::Builder::new()
        .prefix("rules-bench-")
        .tempdir_in(dir.parent().unwrap_or(Path::new(".")))
        .map_err(|e| e.to_string())?;
    interop::copy_dir(dir, tmp.path()).map_err(|e| e.to_string())?;
    Ok(tmp)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench_aion(dir: &Path, runs: usize) -> Result {
    let copy = copy_of(dir)?;
    let options = Options {
        background_compaction: false,
        ..Options::default()
    };
    let open = Instant::now();
    let db = Db::open(copy.path(), options).map_err(|e| e.to_string())?;
    let open = open.elapsed();
    let serial = std::env::var_os("AION_SERIAL").is_some();
    let engine = Engine::new(EngineOptions {
        parallel: !serial,
        ..EngineOptions::default()
    });
    let gopts = GroupOptions {
        engine,
        ..GroupOptions::default()
    };
    let file = parse(rules().as_bytes(), &ParseOptions::default()).map_err(|e| format!("{e:?}"))?;
    let mut groups: Vec<Group> = file
        .groups
        .iter()
        .map(|g| Group::new("rules.yml", g, &gopts).map_err(|e| e.to_string()))
        .collect::<Result<_>>()?;
    // AION_CONCURRENT=1: both groups at once, one thread each, as the
    // manager's threads (and Prometheus's goroutines) run them.
    let concurrent = std::env::var_os("AION_CONCURRENT").is_some();
    let t0 = now_ms() / 1000 * 1000;
    let mut times = vec![Vec::new(); groups.len()];
    for run in 0..runs {
        let t = t0 + run as i64 * INTERVAL_S * 1000;
        let db = &db;
        let eval = |g: &mut Group| {
            let start = Instant::now();
            g.evaluate_at(t, db, db);
            start.elapsed().as_secs_f64() * 1000.0
        };
        if concurrent {
            let took: Vec<f64> = std::thread::scope(|s| {
                let handles: Vec<_> = groups.iter_mut().map(|g| s.spawn(|| eval(g))).collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or(f64::NAN))
                    .collect()
            });
            for (gi, ms) in took.into_iter().enumerate() {
                times[gi].push(ms);
            }
        } else {
            for (gi, g) in groups.iter_mut().enumerate() {
                times[gi].push(eval(g));
            }
        }
    }
    println!(
        "aion ({}, groups {}): opened in {:.1}s",
        if serial {
            "1 thread per query"
        } else {
            "parallel queries"
        },
        if concurrent {
            "concurrently"
        } else {
            "one after another"
        },
        open.as_secs_f64()
    );
    for (g, t) in groups.iter().zip(&mut times) {
        let failing: Vec<String> = g
            .rules()
            .iter()
            .filter_map(|r| {
                r.health()
                    .last_error
                    .as_ref()
                    .map(|e| format!("{}: {e}", r.name()))
            })
            .collect();
        let all = t
            .iter()
            .map(|x| format!("{x:.1}"))
            .collect::<Vec<_>>()
            .join(" ");
        let alerts: usize = g
            .rules()
            .iter()
            .map(|r| match r {
                aion::rules::Rule::Alerting(a) => a.alerts().count(),
                _ => 0,
            })
            .sum();
        if alerts > 0 {
            println!("group {}: {alerts} alerts", g.name());
        }
        println!(
            "group {:<10} median {:>8.1} ms over {} runs  [{all}]  failing rules: {}",
            g.name(),
            median(t),
            t.len(),
            failing.len()
        );
        for f in failing.iter().take(3) {
            println!("  {f}");
        }
        if std::env::var_os("AION_RULE_TIMES").is_some() {
            let mut by: Vec<(f64, &str)> = g
                .rules()
                .iter()
                .map(|r| (r.health().last_duration.as_secs_f64() * 1000.0, r.name()))
                .collect();
            by.sort_by(|a, b| b.0.total_cmp(&a.0));
            for (ms, n) in by.iter().take(8) {
                println!("  {ms:8.1} ms  {n}");
            }
        }
    }
    db.close().map_err(|e| e.to_string())
}

/// Kills the server on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(port: u16, path: &str) -> Result<String> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    if !out.starts_with("HTTP/1.0 200") && !out.starts_with("HTTP/1.1 200") {
        return Err(format!("GET {path}: {}", out.lines().next().unwrap_or("")));
    }
    Ok(body.to_string())
}

/// One evaluation a server reported: `lastEvaluation`, `evaluationTime`
/// (s), rules with health `err`.
type Evaluation = (String, f64, usize);

fn seen_name(g: &serde_json::Value) -> &str {
    g["name"].as_str().unwrap_or("")
}

fn bench_prometheus(dir: &Path, runs: usize) -> Result {
    let (_, prometheus) =
        interop::prometheus_binaries().ok_or("promtool/prometheus not installed")?;
    let copy = copy_of(dir)?;
    let conf = tempfile::tempdir().map_err(|e| e.to_string())?;
    let rules_path = conf.path().join("rules.yml");
    std::fs::write(&rules_path, rules()).map_err(|e| e.to_string())?;
    let config = conf.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  evaluation_interval: {INTERVAL_S}s\nrule_files:\n  - {}\n",
            rules_path.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let started = Instant::now();
    let child = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", copy.path().display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=100y")
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    let _server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(300);
    while http_get(port, "/-/ready").is_err() {
        if Instant::now() > deadline {
            return Err("prometheus not ready in 300 s".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "prometheus ready in {:.1}s; count(http_requests_total) = {}",
        started.elapsed().as_secs_f64(),
        http_get(port, "/api/v1/query?query=count(http_requests_total)")?
    );
    // group -> (lastEvaluation, evaluationTime s, failing rules)
    let mut seen: Vec<(String, Vec<Evaluation>)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(INTERVAL_S as u64 * (runs as u64 + 4) + 60);
    loop {
        let body = http_get(port, "/api/v1/rules")?;
        let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        for g in v["data"]["groups"].as_array().into_iter().flatten() {
            let name = g["name"].as_str().unwrap_or("").to_string();
            let last = g["lastEvaluation"].as_str().unwrap_or("").to_string();
            let secs = g["evaluationTime"].as_f64().unwrap_or(0.0);
            let failing = g["rules"]
                .as_array()
                .map_or(0, |r| r.iter().filter(|r| r["health"] == "err").count());
            if last.starts_with("0001") {
                continue;
            }
            let entry = match seen.iter_mut().position(|(n, _)| *n == name) {
                Some(i) => &mut seen[i].1,
                None => {
                    seen.push((name, Vec::new()));
                    &mut seen.last_mut().unwrap().1
                }
            };
            if entry.last().is_none_or(|(l, _, _)| *l != last) {
                let alerts: usize = g["rules"].as_array().map_or(0, |r| {
                    r.iter()
                        .map(|r| r["alerts"].as_array().map_or(0, |a| a.len()))
                        .sum()
                });
                entry.push((last, secs, failing));
                if entry.len() == runs + 1 && alerts > 0 {
                    println!("group {}: {alerts} alerts", seen_name(g));
                }
            }
        }
        // The first evaluation (cold caches) is skipped.
        if seen.len() == 2 && seen.iter().all(|(_, e)| e.len() > runs) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "only {:?} evaluations seen",
                seen.iter().map(|(n, e)| (n, e.len())).collect::<Vec<_>>()
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    println!("prometheus 2.42:");
    for (name, evals) in &seen {
        let mut t: Vec<f64> = evals[1..=runs].iter().map(|e| e.1 * 1000.0).collect();
        let all = t
            .iter()
            .map(|x| format!("{x:.1}"))
            .collect::<Vec<_>>()
            .join(" ");
        println!(
            "group {name:<10} median {:>8.1} ms over {runs} runs  [{all}]  failing rules: {}",
            median(&mut t),
            evals[runs].2
        );
    }
    Ok(())
}
