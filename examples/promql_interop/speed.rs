//! `promql_interop bench-speed`: the query speed table of issue 19.
//!
//! The eight queries of `interop::SPEED` on the same data, same machine,
//! same run: Aion (default options, and `EngineOptions::parallel = false`),
//! VictoriaMetrics (single node, caches off, `nocache=1`) and Prometheus
//! 2.42. For every round and query, each system is measured in a fresh
//! process (so each peak RSS belongs to one query): one warm-up call, then
//! `runs` timed calls, the median kept. Rounds interleave the systems so
//! that load from other processes hits all of them alike.
//!
//! What is timed: for Aion, evaluation plus encoding Prometheus's JSON
//! answer in process over `Db::open_read_only` of the promtool blocks
//! (`bench-one`); for the servers, the HTTP API call on loopback (request,
//! evaluation, JSON, response).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::interop::{self, Dataset, Query};
use super::proc_status::vm_hwm_kb;
use super::victoria_metrics::{self, VictoriaMetrics};
use super::{aion_bench_process, prometheus_bench, time_calls, Measured, QuerySet, Result};

/// What to run.
pub(crate) struct Plan<'a> {
    pub rounds: usize,
    pub runs: usize,
    /// Comma-separated: `aion`, `serial`, `vm`, `prometheus`.
    pub systems: &'a str,
    /// Comma-separated query indices into `interop::SPEED`; all if `None`.
    pub queries: Option<&'a str>,
}

/// A measured system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum System {
    Aion,
    AionSerial,
    Victoria,
    Prometheus,
}

impl System {
    fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "aion" => System::Aion,
            "serial" => System::AionSerial,
            "vm" => System::Victoria,
            "prometheus" => System::Prometheus,
            other => return Err(format!("unknown system {other:?}")),
        })
    }

    fn title(self) -> &'static str {
        match self {
            System::Aion => "Aion",
            System::AionSerial => "Aion, 1 thread",
            System::Victoria => "VictoriaMetrics",
            System::Prometheus => "Prometheus 2.42",
        }
    }
}

pub(crate) fn bench_speed(dir: &Path, om: &Path, d: &Dataset, plan: &Plan) -> Result {
    let queries = interop::speed_queries(d);
    let picked: Vec<usize> = match plan.queries {
        None => (0..queries.len()).collect(),
        Some(list) => list
            .split(',')
            .map(|k| match k.trim().parse::<usize>() {
                Ok(k) if k < queries.len() => Ok(k),
                _ => Err(format!("no speed query {k:?}")),
            })
            .collect::<Result<_>>()?,
    };
    let systems: Vec<System> = plan
        .systems
        .split(',')
        .map(|s| System::parse(s.trim()))
        .collect::<Result<_>>()?;
    let vm_storage = vm_storage_dir(dir);
    if systems.contains(&System::Victoria) {
        load_victoria(&vm_storage, om)?;
    }
    let mut results: BTreeMap<(usize, System), Vec<Measured>> = BTreeMap::new();
    for round in 1..=plan.rounds {
        for &k in &picked {
            for &system in &systems {
                let m = measure(system, dir, &vm_storage, d, k, &queries[k], plan.runs)?;
                println!(
                    "round {round} q{k} {:<16} median_ms={:.1} min_ms={:.1} peak_rss_kb={} series={}  {}",
                    system.title(),
                    ms(m.median),
                    ms(m.min),
                    m.peak_rss_kb,
                    m.series,
                    queries[k].describe()
                );
                results.entry((k, system)).or_default().push(m);
            }
        }
    }
    print_table(&queries, &picked, &systems, &results);
    Ok(())
}

/// Where VictoriaMetrics keeps its copy of the data: `DIR-vm` beside `DIR`.
fn vm_storage_dir(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push("-vm");
    dir.with_file_name(name)
}

/// Imports `om` into `storage` unless an earlier run did (a marker file
/// records it).
fn load_victoria(storage: &Path, om: &Path) -> Result {
    let marker = storage.join("aion-imported");
    if marker.exists() {
        return Ok(());
    }
    if victoria_metrics::binary().is_none() {
        return Err(format!(
            "{} missing: apt-get install victoria-metrics",
            victoria_metrics::BINARY
        ));
    }
    let start = std::time::Instant::now();
    let vm = VictoriaMetrics::start(storage).map_err(|e| e.to_string())?;
    let samples = vm.import_openmetrics(om).map_err(|e| e.to_string())?;
    drop(vm);
    std::fs::write(
        &marker,
        format!("{samples} samples from {}\n", om.display()),
    )
    .map_err(|e| e.to_string())?;
    println!(
        "victoria-metrics: imported {samples} samples into {} in {:.1}s",
        storage.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn measure(
    system: System,
    dir: &Path,
    vm_storage: &Path,
    d: &Dataset,
    k: usize,
    q: &Query,
    runs: usize,
) -> Result<Measured> {
    match system {
        System::Aion | System::AionSerial => {
            let line = aion_bench_process(
                dir,
                d,
                QuerySet::Speed,
                k,
                runs,
                system == System::AionSerial,
            )?;
            parse_aion_line(&line)
        }
        System::Victoria => {
            let vm = VictoriaMetrics::start(vm_storage).map_err(|e| e.to_string())?;
            let startup_rss_kb = vm_hwm_kb(&vm.pid().to_string());
            let (median, min, series) = time_calls(runs, || vm.query(q))?;
            Ok(Measured {
                median,
                min,
                peak_rss_kb: vm_hwm_kb(&vm.pid().to_string()),
                startup_rss_kb,
                series,
            })
        }
        System::Prometheus => prometheus_bench(dir, q, runs),
    }
}

/// Reads `bench-one`'s `key=value` line.
fn parse_aion_line(line: &str) -> Result<Measured> {
    let field = |key: &str| -> Result<f64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("no {key} in {line:?}"))
    };
    Ok(Measured {
        median: Duration::from_secs_f64(field("median_ms")? / 1e3),
        min: Duration::from_secs_f64(field("min_ms")? / 1e3),
        peak_rss_kb: field("peak_rss_kb")? as u64,
        startup_rss_kb: 0,
        series: field("series")? as usize,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A latency for the table: three significant digits.
fn fmt_ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The median of the rounds' medians (ms).
fn overall(ms_list: &[f64]) -> f64 {
    let mut v = ms_list.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn print_table(
    queries: &[Query],
    picked: &[usize],
    systems: &[System],
    results: &BTreeMap<(usize, System), Vec<Measured>>,
) {
    let has = |s: System| systems.contains(&s);
    let mut header = vec!["query".to_string()];
    header.extend(systems.iter().map(|s| format!("{} (ms)", s.title())));
    let ratios: Vec<(System, System, &str)> = [
        (System::Aion, System::Victoria, "Aion / VM"),
        (System::AionSerial, System::Victoria, "Aion 1 thread / VM"),
        (System::Aion, System::Prometheus, "Aion / Prom"),
    ]
    .into_iter()
    .filter(|(a, b, _)| has(*a) && has(*b))
    .collect();
    header.extend(ratios.iter().map(|r| r.2.to_string()));
    header.push(format!(
        "peak RSS MB ({})",
        systems
            .iter()
            .map(|s| s.title())
            .collect::<Vec<_>>()
            .join(" / ")
    ));
    println!();
    println!("| {} |", header.join(" | "));
    println!("|---|{}", "---:|".repeat(header.len() - 1));
    let mut logs: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for &k in picked {
        let q = &queries[k];
        let kind = match q.range {
            Some((_, _, step)) => format!("range, {step} s step"),
            None => "instant".to_string(),
        };
        let mut row = vec![format!("`{}` ({kind})", q.expr)];
        let mut mid = BTreeMap::new();
        for &s in systems {
            let v: Vec<f64> = results[&(k, s)].iter().map(|m| ms(m.median)).collect();
            mid.insert(s, overall(&v));
            row.push(v.iter().map(|&x| fmt_ms(x)).collect::<Vec<_>>().join(" / "));
        }
        for &(a, b, name) in &ratios {
            let r = mid[&a] / mid[&b];
            let e = logs.entry(name).or_default();
            e.0 += r.ln();
            e.1 += 1;
            row.push(format!("{r:.2}"));
        }
        row.push(
            systems
                .iter()
                .map(|s| {
                    let kb = results[&(k, *s)].iter().map(|m| m.peak_rss_kb).max();
                    format!("{:.0}", kb.unwrap_or(0) as f64 / 1024.0)
                })
                .collect::<Vec<_>>()
                .join(" / "),
        );
        println!("| {} |", row.join(" | "));
    }
    for (name, (sum, n)) in logs {
        println!("geometric mean of {name}: {:.2}", (sum / n as f64).exp());
    }
}
