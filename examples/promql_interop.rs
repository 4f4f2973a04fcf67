//! PromQL against Prometheus 2.42 on a 10k-series × 6 h dataset: result
//! comparison and latency/memory benchmark.
//!
//! ```text
//! cargo build --release --example aion --example promql_interop
//! E=target/release/examples
//! $E/promql_interop generate /tmp/pq/data.om              # 10k series, 6 h, 15 s
//! $E/promql_interop promtool-blocks /tmp/pq/data.om /tmp/pq/data   # promtool tsdb create-blocks-from openmetrics
//! $E/promql_interop compare /tmp/pq/data                   # every query, match/mismatch
//! $E/promql_interop bench-aion /tmp/pq/data --runs 5       # the 4 heavy queries
//! $E/promql_interop bench-prometheus /tmp/pq/data --runs 5
//! $E/promql_interop bench-speed /tmp/pq/data /tmp/pq/data.om --rounds 3   # issue 19's table
//! ```
//!
//! * `generate OUT [--series N] [--hours H]` writes the dataset of
//!   `tests/support/promql_interop.rs` (counters, gauges, classic
//!   histograms, an info metric; samples off the window boundaries).
//! * `promtool-blocks OM DIR` runs `promtool tsdb create-blocks-from
//!   openmetrics OM DIR`.
//! * `compare DIR` starts Prometheus 2.42 on a copy of DIR, runs every
//!   query through `aion query(-range) --format json` (the `aion` example
//!   next to this binary) and the HTTP API, and prints one line per query:
//!   `MATCH` or `MISMATCH` with the first difference; the last line counts.
//! * `bench-aion DIR` runs each heavy range query (full range, 30 s step) in
//!   a fresh process: open the DB read-only, evaluate and JSON-encode N
//!   times; prints the median and the process's peak RSS (VmHWM).
//! * `bench-prometheus DIR` starts a server on a copy of DIR per query,
//!   warms it with one call, times N API calls and reads the server's
//!   VmHWM from /proc.
//! * `--set speed` makes `compare`, `bench-aion` and `bench-prometheus`
//!   use the eight queries of the query speed benchmark (issue 19)
//!   instead of the four heavy ones (`--set heavy`, the default;
//!   `compare` then runs every comparison query).
//! * `bench-speed DIR OM` runs the speed queries on Aion (default and one
//!   thread), VictoriaMetrics (loaded from OM once, into `DIR-vm`) and
//!   Prometheus 2.42, interleaved, and prints the table of BENCHMARKS.md
//!   (see `promql_interop/speed.rs`).

#[path = "../tests/support/http1.rs"]
mod http1;
#[path = "../tests/support/promql_interop.rs"]
mod interop;
#[path = "../tests/support/proc_status.rs"]
mod proc_status;
#[path = "promql_interop/speed.rs"]
mod speed;
#[path = "../tests/support/victoria_metrics.rs"]
mod victoria_metrics;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use aion::promql::{json, Engine, EngineOptions};
use aion::tsdb::Db;
use interop::{Dataset, Prometheus, Query, T0};
use proc_status::vm_hwm_kb;

const USAGE: &str = "usage: promql_interop generate OUT [--series N] [--hours H]
       promql_interop promtool-blocks OM DIR
       promql_interop compare DIR [--hours H] [--series N] [--set heavy|speed]
       promql_interop bench-aion DIR [--runs N] [--hours H] [--set heavy|speed]
       promql_interop bench-prometheus DIR [--runs N] [--hours H] [--set heavy|speed]
       promql_interop bench-speed DIR OM [--rounds R] [--runs N] [--hours H]
                                  [--systems aion,serial,vm,prometheus] [--queries 0,1,..]";

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
    let dataset = Dataset::with_series(flag("--series", 10_000) as usize, flag("--hours", 6));
    let runs = flag("--runs", 5).max(1) as usize;
    let text = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    };
    let set = match QuerySet::parse(text("--set")) {
        Ok(set) => set,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match cmd.as_str() {
        "generate" => generate(&path, &dataset),
        "promtool-blocks" => match args.get(2) {
            Some(dir) => promtool_blocks(&path, Path::new(dir)),
            None => Err(USAGE.into()),
        },
        "compare" => compare(&path, &dataset, set),
        "bench-aion" => bench_aion(&path, &dataset, set, runs),
        "bench-one" => bench_one(&path, &dataset, set, flag("--query", 0) as usize, runs),
        "bench-prometheus" => bench_prometheus(&path, &dataset, set, runs),
        "bench-speed" => match args.get(2) {
            Some(om) => speed::bench_speed(
                &path,
                Path::new(om),
                &dataset,
                &speed::Plan {
                    rounds: flag("--rounds", 3).max(1) as usize,
                    runs,
                    systems: text("--systems").unwrap_or("aion,serial,vm,prometheus"),
                    queries: text("--queries"),
                },
            ),
            None => Err(USAGE.into()),
        },
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("promql_interop: {e}");
            ExitCode::from(1)
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

/// Which queries a benchmark or comparison runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuerySet {
    /// The four heavy range queries of issue 8 (`compare`: every query).
    Heavy,
    /// The eight queries of the speed benchmark (issue 19).
    Speed,
}

impl QuerySet {
    fn parse(name: Option<&str>) -> Result<Self> {
        match name {
            None | Some("heavy") => Ok(QuerySet::Heavy),
            Some("speed") => Ok(QuerySet::Speed),
            Some(other) => Err(format!("unknown query set {other:?}")),
        }
    }

    fn name(self) -> &'static str {
        match self {
            QuerySet::Heavy => "heavy",
            QuerySet::Speed => "speed",
        }
    }

    /// The benchmark's queries.
    fn bench_queries(self, d: &Dataset) -> Vec<Query> {
        match self {
            QuerySet::Heavy => interop::heavy_queries(d),
            QuerySet::Speed => interop::speed_queries(d),
        }
    }
}

fn generate(out: &Path, d: &Dataset) -> Result {
    let start = Instant::now();
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    let f = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    d.write_openmetrics(&mut w).map_err(|e| e.to_string())?;
    drop(w);
    println!(
        "wrote {} series × {} h ({} samples) from {} to {} in {:.1}s",
        d.series(),
        d.hours,
        d.samples(),
        T0,
        d.end(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn promtool_blocks(om: &Path, dir: &Path) -> Result {
    let (promtool, _) = binaries()?;
    let start = Instant::now();
    interop::promtool_blocks(&promtool, om, dir).map_err(|e| e.to_string())?;
    println!(
        "promtool built blocks in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn binaries() -> Result<(PathBuf, PathBuf)> {
    interop::prometheus_binaries().ok_or_else(|| "promtool/prometheus not installed".to_string())
}

/// A copy of `dir` for Prometheus to write into, removed on drop.
fn served_copy(dir: &Path) -> Result<tempfile::TempDir> {
    let tmp = tempfile::Builder::new()
        .prefix("promql-interop-")
        .tempdir_in(dir.parent().unwrap_or(Path::new(".")))
        .map_err(|e| e.to_string())?;
    interop::copy_dir(dir, tmp.path()).map_err(|e| e.to_string())?;
    Ok(tmp)
}

fn compare(dir: &Path, d: &Dataset, set: QuerySet) -> Result {
    let (_, prometheus) = binaries()?;
    let aion = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("aion");
    if !aion.exists() {
        return Err(format!(
            "{} missing: cargo build --release --example aion",
            aion.display()
        ));
    }
    let copy = served_copy(dir)?;
    let server = Prometheus::start(&prometheus, copy.path()).map_err(|e| e.to_string())?;
    let queries = match set {
        QuerySet::Heavy => interop::queries(d),
        QuerySet::Speed => interop::speed_queries(d),
    };
    let (mut matched, mut empty) = (0, 0);
    for (i, q) in queries.iter().enumerate() {
        let t = Instant::now();
        let ours = interop::aion_query(&aion, dir, q);
        let aion_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let theirs = server.query(q);
        let prom_s = t.elapsed().as_secs_f64();
        let verdict = match (&ours, &theirs) {
            (Ok(a), Ok(p)) => {
                if p["result"].as_array().is_some_and(|r| r.is_empty()) {
                    empty += 1;
                }
                interop::compare(a, p, q.ordered)
            }
            (Err(e), _) => Err(format!("aion: {e}")),
            (_, Err(e)) => Err(format!("prometheus: {e}")),
        };
        let size = theirs
            .as_ref()
            .ok()
            .and_then(|p| p["result"].as_array().map(Vec::len))
            .unwrap_or(0);
        match verdict {
            Ok(()) => {
                matched += 1;
                println!(
                    "{:>2} MATCH    ({size} series; aion {aion_s:.2}s, prometheus {prom_s:.2}s) {}",
                    i + 1,
                    q.describe()
                );
            }
            Err(e) => println!("{:>2} MISMATCH {}\n      {e}", i + 1, q.describe()),
        }
    }
    println!(
        "{matched} of {} queries match ({} series, {} h; {empty} with empty results)",
        queries.len(),
        d.series(),
        d.hours
    );
    if matched == queries.len() {
        Ok(())
    } else {
        Err("mismatches".into())
    }
}

pub(crate) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench_aion(dir: &Path, d: &Dataset, set: QuerySet, runs: usize) -> Result {
    println!("Aion, {runs} runs per query, each query in a fresh process:");
    for (k, q) in set.bench_queries(d).iter().enumerate() {
        let line = aion_bench_process(dir, d, set, k, runs, false)?;
        println!("{line}  {}", q.expr);
    }
    Ok(())
}

/// Runs `bench-one` for query `k` of `set` in a fresh process (on one
/// thread with `serial`); its output line.
pub(crate) fn aion_bench_process(
    dir: &Path,
    d: &Dataset,
    set: QuerySet,
    k: usize,
    runs: usize,
    serial: bool,
) -> Result<String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&exe);
    cmd.arg("bench-one")
        .arg(dir)
        .args(["--query", &k.to_string(), "--runs", &runs.to_string()])
        .args(["--hours", &d.hours.to_string(), "--set", set.name()]);
    if serial {
        cmd.env("AION_SERIAL", "1");
    } else {
        cmd.env_remove("AION_SERIAL");
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// `bench-one`: query `k` of `set`, `runs` times in this process, on one
/// thread if `AION_SERIAL` is set; with `AION_BENCH_JSON=FILE` the
/// result's JSON is written to `FILE`.
fn bench_one(dir: &Path, d: &Dataset, set: QuerySet, k: usize, runs: usize) -> Result {
    let q = set
        .bench_queries(d)
        .into_iter()
        .nth(k)
        .ok_or("no such query")?;
    let open = Instant::now();
    let db = Db::open_read_only(dir).map_err(|e| e.to_string())?;
    let open = open.elapsed();
    let engine = Engine::new(EngineOptions {
        parallel: std::env::var("AION_SERIAL").is_err(),
        ..EngineOptions::default()
    });
    let mut times = Vec::new();
    let (mut eval_t, mut json_t, mut bytes, mut series) = (Duration::ZERO, Duration::ZERO, 0, 0);
    for _ in 0..runs {
        let t = Instant::now();
        let r = match q.range {
            Some((start, end, step)) => {
                engine.range_query(&db, q.expr.as_str(), start * 1000, end * 1000, step * 1000)
            }
            None => engine.instant_query(&db, q.expr.as_str(), q.time * 1000),
        }
        .map_err(|e| e.to_string())?;
        let evaluated = t.elapsed();
        let text = json::encode_data(&r.value);
        let total = t.elapsed();
        eval_t += evaluated;
        json_t += total - evaluated;
        bytes = text.len();
        if let Some(path) = std::env::var_os("AION_BENCH_JSON") {
            // The result itself, to hold two builds or thread settings to
            // the same bytes.
            std::fs::write(path, &text).map_err(|e| e.to_string())?;
        }
        series = r
            .value
            .as_matrix()
            .map(<[_]>::len)
            .or_else(|| r.value.as_vector().map(<[_]>::len))
            .unwrap_or(0);
        times.push(total);
    }
    println!(
        "median_ms={:.1} min_ms={:.1} eval_ms={:.1} json_ms={:.1} open_ms={:.1} peak_rss_kb={} series={series} json_bytes={bytes}",
        median(times.clone()).as_secs_f64() * 1e3,
        times.iter().min().unwrap().as_secs_f64() * 1e3,
        eval_t.as_secs_f64() * 1e3 / runs as f64,
        json_t.as_secs_f64() * 1e3 / runs as f64,
        open.as_secs_f64() * 1e3,
        vm_hwm_kb("self"),
    );
    Ok(())
}

fn bench_prometheus(dir: &Path, d: &Dataset, set: QuerySet, runs: usize) -> Result {
    println!("Prometheus 2.42, {runs} timed API calls per query after one warm-up, a fresh server per query:");
    for q in set.bench_queries(d) {
        let m = prometheus_bench(dir, &q, runs)?;
        println!(
            "median_ms={:.1} min_ms={:.1} peak_rss_kb={} startup_rss_kb={} series={}  {}",
            m.median.as_secs_f64() * 1e3,
            m.min.as_secs_f64() * 1e3,
            m.peak_rss_kb,
            m.startup_rss_kb,
            m.series,
            q.expr
        );
    }
    Ok(())
}

/// What one system's timed calls of one query measured.
pub(crate) struct Measured {
    pub median: Duration,
    pub min: Duration,
    pub peak_rss_kb: u64,
    pub startup_rss_kb: u64,
    pub series: usize,
}

/// Times `runs` calls of `call` after one warm-up call; the warm-up's
/// answer gives the result size.
pub(crate) fn time_calls(
    runs: usize,
    mut call: impl FnMut() -> Result<serde_json::Value>,
) -> Result<(Duration, Duration, usize)> {
    let warm = call()?;
    let series = warm["result"].as_array().map_or(0, Vec::len);
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        call()?;
        times.push(t.elapsed());
    }
    let min = *times.iter().min().expect("runs >= 1");
    Ok((median(times), min, series))
}

/// A fresh Prometheus 2.42 on a copy of `dir`: `runs` timed API calls of
/// `q` after one warm-up, and the server's peak RSS.
pub(crate) fn prometheus_bench(dir: &Path, q: &Query, runs: usize) -> Result<Measured> {
    let (_, prometheus) = binaries()?;
    let copy = served_copy(dir)?;
    let server = Prometheus::start(&prometheus, copy.path()).map_err(|e| e.to_string())?;
    let startup_rss_kb = vm_hwm_kb(&server.pid().to_string());
    let (median, min, series) = time_calls(runs, || server.query(q))?;
    Ok(Measured {
        median,
        min,
        peak_rss_kb: vm_hwm_kb(&server.pid().to_string()),
        startup_rss_kb,
        series,
    })
}
