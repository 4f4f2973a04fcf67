//! Aion quickstart: a database in a directory, a realistic workload, a
//! block cut, a compaction, and five PromQL queries.
//!
//! ```sh
//! cargo run --release --example quickstart            # in a temporary directory
//! cargo run --release --example quickstart -- mydata  # kept in mydata/ afterwards
//! ```
//!
//! Ingests 10 hours of 15-second scrapes of ~2500 series (96 targets, each
//! exposing CPU counters, a memory gauge, `up`, request counters and a
//! latency histogram), then compacts: the oldest head ranges become 2-hour
//! blocks and three of them are merged into a 6-hour block, exactly as
//! Prometheus would do it, in Prometheus's formats. Then it runs five
//! queries over blocks and head together and prints each result as a
//! table with the time it took. A directory given as argument is kept and
//! can be explored with `aion list`, `aion analyze`, `aion dump`, or
//! opened by Prometheus itself.

use std::process::ExitCode;
use std::time::Instant;

use aion::model::Labels;
use aion::promql::{Engine, EngineOptions, Value};
use aion::tsdb::{CompactProgress, Db, Options};

#[path = "cli/gofmt.rs"]
mod gofmt;
#[path = "cli/progress.rs"]
mod progress;

const SCRAPE_INTERVAL_MS: i64 = 15_000;
const HOURS: i64 = 10;
const JOBS: [&str; 4] = ["api", "web", "db", "cache"];
const INSTANCES_PER_JOB: usize = 24;
const BUCKETS: [&str; 8] = ["0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "+Inf"];

/// One series of the workload and how its value evolves.
struct Generated {
    labels: Labels,
    kind: Kind,
    value: f64,
    series_ref: Option<u64>,
}

enum Kind {
    /// Grows by about `rate` per second.
    Counter { rate: f64 },
    /// Wanders around `base`.
    Gauge { base: f64 },
    /// Always 1.
    Up,
    /// Cumulative histogram bucket: grows by `share` of `rate` per second.
    Bucket { rate: f64, share: f64 },
}

/// xorshift64*: deterministic noise, no dependency.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs).expect("valid label names")
}

/// The series of every target, as node_exporter and an instrumented HTTP
/// service would expose them.
fn workload(rng: &mut Rng) -> Vec<Generated> {
    let mut out = Vec::new();
    let mut add = |labels: Labels, kind: Kind| {
        out.push(Generated {
            labels,
            kind,
            value: 0.0,
            series_ref: None,
        })
    };
    for job in JOBS {
        for i in 0..INSTANCES_PER_JOB {
            let instance = format!("{job}-{i:02}:9100");
            let inst = instance.as_str();
            add(
                labels(&[("__name__", "up"), ("instance", inst), ("job", job)]),
                Kind::Up,
            );
            for cpu in ["0", "1", "2", "3"] {
                for (mode, rate) in [("idle", 0.7), ("user", 0.25)] {
                    add(
                        labels(&[
                            ("__name__", "node_cpu_seconds_total"),
                            ("cpu", cpu),
                            ("instance", inst),
                            ("job", job),
                            ("mode", mode),
                        ]),
                        Kind::Counter {
                            rate: rate * (0.8 + 0.4 * rng.unit()),
                        },
                    );
                }
            }
            add(
                labels(&[
                    ("__name__", "node_memory_MemAvailable_bytes"),
                    ("instance", inst),
                    ("job", job),
                ]),
                Kind::Gauge {
                    base: 4e9 + 4e9 * rng.unit(),
                },
            );
            let req_rate = 20.0 + 80.0 * rng.unit();
            for method in ["GET", "POST"] {
                for (code, share) in [("200", 0.95), ("404", 0.04), ("500", 0.01)] {
                    add(
                        labels(&[
                            ("__name__", "http_requests_total"),
                            ("code", code),
                            ("instance", inst),
                            ("job", job),
                            ("method", method),
                        ]),
                        Kind::Counter {
                            rate: req_rate * share * if method == "GET" { 0.8 } else { 0.2 },
                        },
                    );
                }
            }
            let mut below = 0.0;
            for le in BUCKETS {
                // Latencies mostly in 10–100 ms, a tail up to seconds.
                below = match le {
                    "0.005" => 0.05_f64,
                    "0.01" => 0.2,
                    "0.05" => 0.6,
                    "0.1" => 0.85,
                    "0.5" => 0.97,
                    "1" => 0.99,
                    "5" => 0.999,
                    _ => 1.0,
                }
                .max(below);
                add(
                    labels(&[
                        ("__name__", "http_request_duration_seconds_bucket"),
                        ("instance", inst),
                        ("job", job),
                        ("le", le),
                    ]),
                    Kind::Bucket {
                        rate: req_rate,
                        share: below,
                    },
                );
            }
            add(
                labels(&[
                    ("__name__", "http_request_duration_seconds_count"),
                    ("instance", inst),
                    ("job", job),
                ]),
                Kind::Counter { rate: req_rate },
            );
        }
    }
    out
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1);
    let temp;
    let dir = match &arg {
        Some(d) => {
            let d = std::path::PathBuf::from(d);
            if d.exists() && std::fs::read_dir(&d)?.next().is_some() {
                return Err(format!("{} is not empty; give a new directory", d.display()).into());
            }
            d
        }
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    // The host decides when to compact (here: once, below); Prometheus's
    // other defaults: 2 h blocks, 15 d retention, compressed WAL.
    let db = Db::open(
        &dir,
        Options {
            background_compaction: false,
            ..Options::default()
        },
    )?;
    println!("Aion quickstart: database in {}", dir.display());

    // 1. Ingest: one commit per scrape round, as a scraper would.
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut series = workload(&mut rng);
    const SIX_HOURS: i64 = 6 * 3_600_000;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    // Start on a 6 h boundary so the compaction below has a whole 6 h
    // range of 2 h blocks to merge.
    let start = (now - HOURS * 3_600_000).div_euclid(SIX_HOURS) * SIX_HOURS;
    let rounds = HOURS * 3_600_000 / SCRAPE_INTERVAL_MS;
    let end = start + (rounds - 1) * SCRAPE_INTERVAL_MS;
    let mut bar = progress::ProgressBar::stderr();
    let began = Instant::now();
    let mut app = db.appender();
    for round in 0..rounds {
        let t = start + round * SCRAPE_INTERVAL_MS;
        let secs = SCRAPE_INTERVAL_MS as f64 / 1000.0;
        // Traffic follows a daily-ish wave.
        let wave = 1.0 + 0.3 * ((t as f64) / 3.6e6 * std::f64::consts::PI / 6.0).sin();
        for s in series.iter_mut() {
            let noise = 0.9 + 0.2 * rng.unit();
            s.value = match s.kind {
                Kind::Counter { rate } => s.value + rate * wave * noise * secs,
                Kind::Bucket { rate, share } => s.value + rate * share * wave * noise * secs,
                Kind::Gauge { base } => base * (0.95 + 0.1 * rng.unit()),
                Kind::Up => 1.0,
            };
            s.series_ref = Some(match s.series_ref {
                Some(r) => app.append_ref(r, t, s.value)?,
                None => app.append(&s.labels, t, s.value)?,
            });
        }
        app.commit()?;
        bar.show("ingesting", round as u64 + 1, rounds as u64);
    }
    bar.clear();
    let samples = series.len() as u64 * rounds as u64;
    let took = began.elapsed();
    println!(
        "ingested {samples} samples of {} series ({HOURS} h at {} s) in {:.2}s: {:.1} M samples/s",
        series.len(),
        SCRAPE_INTERVAL_MS / 1000,
        took.as_secs_f64(),
        samples as f64 / took.as_secs_f64() / 1e6
    );

    // 2. Compact: head ranges become 2 h blocks (a block cut), then three
    // 2 h blocks are merged into a 6 h block.
    let began = Instant::now();
    let report = db.compact_with_progress(&mut |p| match p {
        CompactProgress::PersistingHead { done, total, .. } => {
            bar.show("writing head blocks", done as u64, total as u64)
        }
        CompactProgress::MergingBlocks { parents, .. } => {
            bar.status(&format!("merging {parents} blocks"))
        }
        _ => {}
    })?;
    bar.clear();
    println!(
        "compaction in {:.2}s: {} block(s) cut from the head, {} merged block(s) written, {} block(s) replaced",
        began.elapsed().as_secs_f64(),
        report.head_blocks.len(),
        report.compacted_blocks.len(),
        report.deleted_blocks.len()
    );
    let mut rows = vec![[
        "BLOCK ULID",
        "MIN TIME",
        "MAX TIME",
        "DURATION",
        "NUM SAMPLES",
        "NUM SERIES",
    ]
    .map(String::from)
    .to_vec()];
    for b in db.blocks() {
        let m = b.meta();
        rows.push(vec![
            m.ulid.to_string(),
            gofmt::go_time_utc(m.min_time),
            gofmt::go_time_utc(m.max_time),
            gofmt::go_duration(m.max_time - m.min_time),
            m.stats.num_samples.to_string(),
            m.stats.num_series.to_string(),
        ]);
    }
    let head = db.head_stats(0);
    rows.push(vec![
        "(head)".into(),
        gofmt::go_time_utc(head.min_time),
        gofmt::go_time_utc(head.max_time),
        gofmt::go_duration(head.max_time - head.min_time),
        "-".into(),
        head.num_series.to_string(),
    ]);
    print!("\n{}", gofmt::tabwrite(&rows, 0, 2));

    // 3. Query: blocks and head are one view.
    let engine = Engine::new(EngineOptions::default());
    let queries: [(&str, Option<i64>); 5] = [
        ("sum by (job) (rate(http_requests_total[5m]))", None),
        (
            "topk(5, sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m])))",
            None,
        ),
        (
            "histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket[10m])))",
            None,
        ),
        (
            "sum by (code) (rate(http_requests_total{code!=\"200\"}[1h])) / ignoring(code) group_left sum(rate(http_requests_total[1h]))",
            None,
        ),
        // Over the whole range: reads the merged 6 h block, the 2 h block
        // and the head.
        (
            "sum(avg_over_time(node_memory_MemAvailable_bytes[1h])) / 1e9",
            Some(3_600_000),
        ),
    ];
    for (q, step) in queries {
        let began = Instant::now();
        let result = match step {
            None => engine.instant_query(&db, q, end)?,
            Some(step) => engine.range_query(&db, q, start + step, end, step)?,
        };
        let took = began.elapsed();
        println!("\n> {q}");
        match step {
            None => println!("  instant query at {}", gofmt::go_time_utc(end)),
            Some(s) => println!("  range query, step {}", gofmt::go_duration(s)),
        }
        print!("{}", table(&result.value));
        println!(
            "  ({} in {:.1} ms)",
            rows_of(&result.value),
            took.as_secs_f64() * 1e3
        );
    }
    db.close()?;
    if arg.is_some() {
        println!(
            "\nThe data is in {}: try `cargo run --release --example aion -- list {0}`",
            dir.display()
        );
    }
    Ok(())
}

fn rows_of(v: &Value) -> String {
    match v {
        Value::Vector(s) => format!("{} series", s.len()),
        Value::Matrix(s) => format!("{} series", s.len()),
        _ => "1 value".into(),
    }
}

/// A query result as a table: one row per series (an instant query) or
/// per step (a range query, one column per series).
fn table(v: &Value) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    match v {
        Value::Vector(samples) => {
            rows.push(vec!["  SERIES".into(), "VALUE".into()]);
            for s in samples {
                rows.push(vec![format!("  {}", s.metric), format!("{:.4}", s.f)]);
            }
        }
        Value::Matrix(series) => {
            let mut header = vec!["  TIME".to_string()];
            header.extend(series.iter().map(|s| {
                if s.metric.is_empty() {
                    "VALUE".to_string()
                } else {
                    s.metric.to_string()
                }
            }));
            rows.push(header);
            let mut times: Vec<i64> = series
                .iter()
                .flat_map(|s| s.floats.iter().map(|p| p.t))
                .collect();
            times.sort_unstable();
            times.dedup();
            for t in times {
                let mut row = vec![format!("  {}", gofmt::go_time_utc(t))];
                for s in series {
                    row.push(match s.floats.iter().find(|p| p.t == t) {
                        Some(p) => format!("{:.4}", p.f),
                        None => "-".into(),
                    });
                }
                rows.push(row);
            }
        }
        Value::Scalar { v, .. } => rows.push(vec![format!("  {v}")]),
        Value::String { v, .. } => rows.push(vec![format!("  {v}")]),
    }
    gofmt::tabwrite(&rows, 0, 2)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart: {e}");
            ExitCode::from(1)
        }
    }
}
