//! `aion`: the command-line tool of the Aion TSDB.
//!
//! ```text
//! cargo run --release --example aion -- --help
//! cargo run --release --example aion -- dump data/ --match 'up{job="api"}'
//! cargo run --release --example aion -- bench write --metrics 1000 20kseries.json
//! ```
//!
//! Exit codes: 0 success, 1 a data or query error (message on stderr),
//! 2 a usage error.
//!
//! Output formats are exact: `dump` prints what `promtool tsdb dump` prints
//! for the same data, line for line.

use std::collections::HashSet;
use std::fs;
use std::io::{self, BufRead, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use aion_model::gotext::GoFloat;
use aion_model::histogram::{FloatHistogram, Histogram};
use aion_model::{Labels, Matcher};
use aion_storage::{Queryable, Series, SeriesSet};
use aion_tsdb::{Db, Options, SampleIterator, ValueType};
use clap::{Args, Parser, Subcommand};

#[path = "cli/analyze.rs"]
mod analyze;
#[path = "cli/check.rs"]
mod check;
#[path = "cli/compact.rs"]
mod compact;
#[path = "cli/create_blocks.rs"]
mod create_blocks;
#[path = "cli/dedup.rs"]
mod dedup;
#[path = "cli/downsample.rs"]
mod downsample;
#[path = "cli/features.rs"]
mod features;
#[path = "cli/gofmt.rs"]
mod gofmt;
#[path = "cli/labels.rs"]
mod labels;
#[path = "cli/list.rs"]
mod list;
#[path = "cli/progress.rs"]
mod progress;
use progress::ProgressBar;
#[path = "cli/query.rs"]
mod query;
#[path = "cli/test_rules.rs"]
mod test_rules;
#[path = "cli/timeparse.rs"]
mod timeparse;
use timeparse::parse_duration_ms;
#[path = "cli/warnings.rs"]
mod warnings;
// Shared with the benchmark examples: `aion bench` prints the peak RSS.
#[path = "../tests/support/proc_status.rs"]
mod proc_status;
use proc_status::peak_rss_kb;

#[derive(Parser)]
#[command(
    name = "aion",
    version,
    about = "Aion: an embeddable Prometheus-compatible TSDB and PromQL engine",
    after_help = "Exit codes: 0 success, 1 data or query error, 2 usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print every sample of a data directory, as `promtool tsdb dump` does.
    #[command(after_help = "\
Output: one line per sample, `{labels} value timestamp_ms`, values in Go's %g
format and native histograms as `{count:…, sum:…, (lower,upper]:n, …}`,
exactly as `promtool tsdb dump` (3.x) prints them. The directory is opened
read-only: no lock is taken and nothing is written, so it works while another
process writes to it.

Examples:
  aion dump data/
  aion dump data/ --match 'up{job=\"api\"}' --match '{__name__=~\"node_.*\"}'
  aion dump data/ --min-time 1700000000000 --max-time 1700003600000 | sort")]
    Dump(DumpArgs),
    /// Benchmarks.
    #[command(
        subcommand,
        after_help = "Examples:\n  aion bench write ../shared/data/20kseries.json\n  aion bench write --help"
    )]
    Bench(BenchCommand),
    /// Backfill data from other formats into blocks.
    #[command(
        subcommand,
        after_help = "Examples:\n  aion import openmetrics metrics.om data/\n  aion import openmetrics --help"
    )]
    Import(ImportCommand),
    /// List the blocks and the head of a data directory, as `promtool tsdb
    /// list` does.
    #[command(after_help = list::HELP)]
    List(list::ListArgs),
    /// Cardinality and churn report of a block or the head, as `promtool
    /// tsdb analyze` prints it.
    #[command(after_help = analyze::HELP)]
    Analyze(analyze::AnalyzeArgs),
    /// Label names, or the values of one label.
    #[command(after_help = labels::HELP)]
    Labels(labels::LabelsArgs),
    /// Compact a data directory now: head to blocks, blocks merged,
    /// retention applied.
    #[command(after_help = compact::HELP)]
    Compact(compact::CompactArgs),
    /// Write Thanos-compatible 5m and 1h downsampled blocks.
    #[command(after_help = downsample::HELP)]
    Downsample(downsample::DownsampleArgs),
    /// Evaluate a PromQL expression at one time (an instant query).
    #[command(after_help = query::QUERY_HELP)]
    Query(query::QueryArgs),
    /// Evaluate a PromQL expression over a time range (a range query).
    #[command(after_help = query::QUERY_RANGE_HELP)]
    QueryRange(query::QueryRangeArgs),
    /// Check files, as `promtool check` does.
    #[command(subcommand)]
    Check(CheckCommand),
    /// Unit tests, as `promtool test` runs them.
    #[command(subcommand)]
    Test(TestCommand),
    /// Create blocks of new data, as `promtool tsdb create-blocks-from`
    /// does.
    #[command(subcommand)]
    CreateBlocksFrom(CreateBlocksCommand),
}

#[derive(Subcommand)]
enum CreateBlocksCommand {
    /// Backfill recording rules over a data directory, as `promtool tsdb
    /// create-blocks-from rules` does over a server.
    #[command(after_help = create_blocks::HELP)]
    Rules(create_blocks::RulesArgs),
}

#[derive(Subcommand)]
enum TestCommand {
    /// Run rule unit-test files, as `promtool test rules` does.
    #[command(after_help = test_rules::HELP)]
    Rules(test_rules::RulesArgs),
}

#[derive(Subcommand)]
enum CheckCommand {
    /// Check rule files, as `promtool check rules` does.
    #[command(after_help = check::HELP)]
    Rules(check::RulesArgs),
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Build blocks from an OpenMetrics text file, as `promtool tsdb
    /// create-blocks-from openmetrics` does.
    #[command(after_help = "\
FILE is OpenMetrics text ending in `# EOF`; every sample needs a timestamp
(seconds). Blocks are cut at aligned windows of the block duration (2h, or
the largest of 2h·3^n not above --max-block-duration) and written into DIR
(created if missing), ready for `aion dump`, Prometheus or promtool. Samples
may come in any order; memory stays bounded (sorted runs are spilled to DIR
while reading). On invalid input the error names the line and column, and
nothing of the import is left in DIR.

A progress bar is drawn on stderr when it is a terminal; the last line on
stdout summarises what was written.

Examples:
  aion import openmetrics metrics.om data/
  aion import openmetrics --max-block-duration 24h metrics.om data/")]
    Openmetrics(ImportArgs),
}

#[derive(Args)]
struct ImportArgs {
    /// The OpenMetrics text file.
    file: PathBuf,
    /// The directory to write blocks into.
    #[arg(default_value = "data/")]
    dir: PathBuf,
    /// Longest block to create (e.g. `2h`, `6h`, `1d`); rounded down to
    /// one of Prometheus's block ranges, at least 2h.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    max_block_duration: Option<i64>,
}

#[derive(Args)]
struct DumpArgs {
    /// The data directory.
    #[arg(default_value = "data/")]
    dir: PathBuf,
    /// Series selector (repeatable; series matching any are printed).
    #[arg(
        long = "match",
        value_name = "SELECTOR",
        default_value = "{__name__=~'(?s:.*)'}"
    )]
    matchers: Vec<String>,
    /// Minimum timestamp to dump (ms).
    #[arg(long, value_name = "T", default_value_t = i64::MIN, allow_negative_numbers = true)]
    min_time: i64,
    /// Maximum timestamp to dump (ms).
    #[arg(long, value_name = "T", default_value_t = i64::MAX, allow_negative_numbers = true)]
    max_time: i64,
    #[command(flatten)]
    open: crate::warnings::OpenFlags,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Ingestion benchmark, the same workload as `promtool tsdb bench write`.
    #[command(after_help = "\
Reads the first --metrics distinct label sets of FILE (one JSON object of
labels per line, like Prometheus's 20kseries.json), then ingests --scrapes
scrapes in rounds of 100: each round splits the series into shards of 1000,
each shard on its own thread committing one batch per scrape, 30 s apart, as
promtool does. The data directory is OUT/storage (WAL uncompressed, as
promtool's). The last line is `samples_per_sec=<n> peak_rss_kb=<n>`.

Examples:
  aion bench write ../shared/data/20kseries.json
  aion bench write --out /tmp/bench --metrics 1000 --scrapes 500 20kseries.json")]
    Write(BenchWriteArgs),
}

#[derive(Args)]
struct BenchWriteArgs {
    /// Set the output path (deleted first).
    #[arg(long, default_value = "benchout")]
    out: PathBuf,
    /// Number of metrics to read.
    #[arg(long, default_value_t = 10000)]
    metrics: usize,
    /// Number of scrapes to simulate.
    #[arg(long, default_value_t = 3000)]
    scrapes: usize,
    /// Input file with samples data.
    #[arg(default_value = "../../tsdb/testdata/20kseries.json")]
    file: PathBuf,
    /// Send this percentage of samples late (10 scrapes, 5 minutes), out of
    /// order, into a head with a 1 h out-of-order window. Without the flag
    /// the window is 0, as promtool's.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
    ooo_percent: Option<u8>,
    /// After ingesting, time this PromQL expression (e.g.
    /// `sum(rate(NAME[5m]))`) as a range query over the head (step 1 m,
    /// median of 5 runs) and print `query_ms=`.
    #[arg(long, value_name = "EXPR")]
    query: Option<String>,
    /// Take a new appender for every scrape, as promtool does, instead of
    /// one per shard committed after every scrape. A reused appender
    /// remembers the series it resolved; a new one looks each up by
    /// reference again (what a scrape loop that opens an appender per
    /// scrape pays).
    #[arg(long)]
    appender_per_scrape: bool,
}

/// How many scrapes late an out-of-order sample of `bench write` arrives.
const OOO_LAG_SCRAPES: usize = 10;

/// A failure to report on stderr with exit code 1.
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dump(args) => dump(args),
        Command::Bench(BenchCommand::Write(args)) => bench_write(args),
        Command::Import(ImportCommand::Openmetrics(args)) => import_openmetrics(args),
        Command::List(args) => list::run(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Labels(args) => labels::run(args),
        Command::Compact(args) => compact::run(args),
        Command::Downsample(args) => downsample::run(args),
        Command::Query(args) => query::query(args),
        Command::QueryRange(args) => query::query_range(args),
        // promtool's exit codes (0, 1, 3), not the `Failure` convention.
        Command::Check(CheckCommand::Rules(args)) => return check::rules(args),
        Command::Test(TestCommand::Rules(args)) => return test_rules::rules(args),
        Command::CreateBlocksFrom(CreateBlocksCommand::Rules(args)) => create_blocks::rules(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            eprintln!("aion: {msg}");
            ExitCode::from(1)
        }
    }
}

/// Writes `text` to stdout; a reader that went away (`| head`) is not an
/// error.
fn print_stdout(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// The matchers of a series selector, as `promtool`'s
/// `parser.ParseMetricSelector` accepts it.
fn parse_selector(s: &str) -> Result<Vec<Matcher>, Failure> {
    aion_promql::parse_metric_selector(s)
        .map_err(|e| Failure(format!("invalid series selector {s:?}: {e}")))
}

fn dump(args: DumpArgs) -> Result<(), Failure> {
    let selectors = args
        .matchers
        .iter()
        .map(|s| parse_selector(s))
        .collect::<Result<Vec<_>, _>>()?;
    let db = crate::warnings::open_read_only(&args.dir, args.open)?;
    let q = db.querier(args.min_time, args.max_time)?;
    let mut sets: Vec<Box<dyn SeriesSet<'_> + '_>> = selectors
        .iter()
        .map(|ms| q.select(true, None, ms))
        .collect();
    let mut heads: Vec<Option<Series<'_>>> = Vec::with_capacity(sets.len());
    for set in &mut sets {
        heads.push(set.next().transpose()?);
    }
    let stdout = io::stdout();
    // Progress only when the samples go elsewhere than the terminal.
    let mut bar = ProgressBar::new(io::stderr().is_terminal() && !stdout.is_terminal());
    let (mut series, mut samples) = (0u64, 0u64);
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    // Series matched by several selectors are printed once: merge the
    // sorted sets.
    while let Some(min) = heads.iter().flatten().map(|s| &s.labels).min().cloned() {
        let mut printed = false;
        for (i, head) in heads.iter_mut().enumerate() {
            if head.as_ref().is_some_and(|s| s.labels == min) {
                let mut s = head.take().expect("checked");
                if !printed {
                    samples += write_series(&mut out, &mut s)?;
                    series += 1;
                    bar.status(&format!("dumped {series} series, {samples} samples"));
                    printed = true;
                }
                drop(s);
                *head = sets[i].next().transpose()?;
            }
        }
    }
    bar.clear();
    for set in &sets {
        if let Some(w) = set.warnings().first() {
            return Err(Failure(w.clone()));
        }
    }
    match out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Prints the samples of `s`; returns how many. Floats in Go's `%g`,
/// native histograms in the `String()` form of Prometheus's `Histogram`
/// and `FloatHistogram` (integer counts for integer histograms), as
/// promtool 3.x prints them. (promtool 2.42 prints floats only and stops
/// at a series' first histogram sample.)
fn write_series(out: &mut impl Write, s: &mut Series<'_>) -> Result<u64, Failure> {
    let labels = s.labels.to_string();
    let mut n = 0;
    let mut h = Histogram::default();
    let mut fh = FloatHistogram::default();
    loop {
        let written = match s.samples.next() {
            ValueType::None => break,
            ValueType::Float => {
                let (t, v) = s.samples.at();
                writeln!(out, "{labels} {} {t}", GoFloat(v))
            }
            ValueType::Histogram => {
                let t = s.samples.at_histogram(&mut h);
                writeln!(out, "{labels} {h} {t}")
            }
            ValueType::FloatHistogram => {
                let t = s.samples.at_float_histogram(&mut fh);
                writeln!(out, "{labels} {fh} {t}")
            }
        };
        n += 1;
        if let Err(e) = written {
            if e.kind() == io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            return Err(e.into());
        }
    }
    if let Some(e) = s.samples.err() {
        return Err(Failure(format!("reading {labels}: {e}")));
    }
    Ok(n)
}

/// Timestamp step between scrapes (promtool's `timeDelta`).
const TIME_DELTA: i64 = 30_000;

/// promtool's `readPrometheusLabels`: strips `"`, `{` and `}`, splits on
/// `,` then `:`, and keeps the first `n` distinct label sets.
fn read_labels(path: &Path, n: usize) -> Result<Vec<Labels>, Failure> {
    let f = fs::File::open(path).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for line in io::BufReader::new(f).lines() {
        if out.len() >= n {
            break;
        }
        let line = line?;
        let s: String = line
            .chars()
            .filter(|c| !matches!(c, '"' | '{' | '}'))
            .collect();
        let mut pairs = Vec::new();
        for chunk in s.split(',') {
            let mut parts = chunk.split(':');
            let name = parts.next().unwrap_or("");
            let value = parts
                .next()
                .ok_or_else(|| Failure(format!("{}: malformed line {line:?}", path.display())))?;
            pairs.push((name.to_string(), value.to_string()));
        }
        let labels = Labels::from_pairs(&pairs)?;
        if seen.insert(labels.stable_hash()) {
            out.push(labels);
        }
    }
    Ok(out)
}

fn measure<T>(
    stage: &str,
    f: impl FnOnce() -> Result<T, Failure>,
) -> Result<(T, Duration), Failure> {
    println!(">> start stage={stage}");
    let start = Instant::now();
    let v = f()?;
    let d = start.elapsed();
    println!(">> completed stage={stage} duration={d:?}");
    Ok((v, d))
}

/// One shard's 100 scrapes, each committed as one batch (promtool's
/// `ingestScrapesShard`), through one appender or (`appender_per_scrape`)
/// a new one per scrape as promtool.
fn ingest_shard(
    db: &Db,
    labels: &[Labels],
    scrapes: usize,
    base_t: i64,
    ooo_percent: u8,
    appender_per_scrape: bool,
) -> Result<u64, Failure> {
    let mut refs: Vec<Option<u64>> = vec![None; labels.len()];
    let mut values: Vec<i64> = vec![123_456_789; labels.len()];
    // Late samples by the scrape they are sent with: (series, t, v).
    let mut late: std::collections::VecDeque<Vec<(usize, i64, f64)>> =
        (0..OOO_LAG_SCRAPES).map(|_| Vec::new()).collect();
    let mut ts = base_t;
    let mut total = 0;
    let mut app = db.appender();
    fn append(
        app: &mut aion_tsdb::Appender,
        refs: &mut [Option<u64>],
        labels: &[Labels],
        (i, t, v): (usize, i64, f64),
    ) -> Result<(), Failure> {
        let r = match refs[i] {
            Some(r) => app.append_ref(r, t, v),
            None => app.append(&labels[i], t, v),
        }?;
        refs[i] = Some(r);
        Ok(())
    }
    for scrape in 0..scrapes {
        ts += TIME_DELTA;
        let mut held = Vec::new();
        for i in 0..labels.len() {
            values[i] += 1000;
            let v = values[i] as f64;
            // A series' first sample is never late (it creates the series).
            let is_late = ooo_percent > 0
                && refs[i].is_some()
                && (i.wrapping_mul(2_654_435_761) ^ scrape.wrapping_mul(40_503)) % 100
                    < ooo_percent as usize;
            if is_late {
                held.push((i, ts, v));
            } else {
                append(&mut app, &mut refs, labels, (i, ts, v))?;
            }
            total += 1;
        }
        for s in late.pop_front().unwrap_or_default() {
            append(&mut app, &mut refs, labels, s)?;
        }
        late.push_back(held);
        app.commit()?;
        if appender_per_scrape {
            app = db.appender();
        }
    }
    for batch in late {
        for s in batch {
            append(&mut app, &mut refs, labels, s)?;
        }
    }
    app.commit()?;
    Ok(total)
}

/// Times `q` over the head as a range query (median of 5 runs,
/// milliseconds).
fn time_range_query(db: &Db, q: &str) -> Result<f64, Failure> {
    let (mint, maxt) = (db.head().min_time(), db.head().max_time());
    let engine = aion_promql::Engine::new(aion_promql::EngineOptions::default());
    let mut ms = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let r = engine.range_query(db, q, mint + 5 * 60_000, maxt, 60_000)?;
        std::hint::black_box(&r);
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    Ok(ms[ms.len() / 2])
}

fn bench_write(args: BenchWriteArgs) -> Result<(), Failure> {
    match fs::remove_dir_all(&args.out) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    fs::create_dir_all(&args.out)?;
    let dir = args.out.join("storage");
    // promtool opens its DB with a literal tsdb.Options: 15d retention, 2h
    // blocks, and the zero value (off) for WAL compression.
    let db = Db::open(
        &dir,
        Options {
            wal_compression: false,
            out_of_order_time_window_ms: if args.ooo_percent.is_some() {
                60 * 60 * 1000
            } else {
                0
            },
            ..Options::default()
        },
    )?;
    let ooo_percent = args.ooo_percent.unwrap_or(0);
    let fresh = args.appender_per_scrape;
    let (labels, _) = measure("readData", || read_labels(&args.file, args.metrics))?;
    let (total, dur) = measure("ingestScrapes", || {
        let mut total = 0u64;
        for i in (0..args.scrapes).step_by(100) {
            let base_t = TIME_DELTA * i as i64;
            let results: Vec<Result<u64, Failure>> = std::thread::scope(|s| {
                let handles: Vec<_> = labels
                    .chunks(1000)
                    .map(|shard| {
                        let db = &db;
                        s.spawn(move || ingest_shard(db, shard, 100, base_t, ooo_percent, fresh))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            });
            for r in results {
                total += r?;
            }
        }
        println!("ingestion completed");
        Ok(total)
    })?;
    let per_sec = total as f64 / dur.as_secs_f64();
    println!(" > total samples: {total}");
    println!(" > samples/sec: {per_sec}");
    let ooo = db.head_stats(0).out_of_order_appended;
    if args.ooo_percent.is_some() {
        println!(" > out-of-order samples: {ooo}");
    }
    let query_ms = match &args.query {
        Some(q) => Some(time_range_query(&db, q)?),
        None => None,
    };
    measure("stopStorage", || Ok(db.close()?))?;
    if let Some(ms) = query_ms {
        println!("query_ms={ms:.1}");
    }
    println!(
        "samples_per_sec={} peak_rss_kb={}",
        per_sec.round() as u64,
        peak_rss_kb()
    );
    Ok(())
}

/// `aion import openmetrics FILE DIR`.
fn import_openmetrics(args: ImportArgs) -> Result<(), Failure> {
    use aion_tsdb::backfill::{self, BackfillOptions, ImportProgress};

    let start = Instant::now();
    let mut options = BackfillOptions::default();
    if let Some(max) = args.max_block_duration {
        options.block_duration_ms = BackfillOptions::block_duration_for(max);
    }
    let mut bar = ProgressBar::stderr();
    let report = backfill::import_openmetrics(&args.file, &args.dir, options, &mut |p| match p {
        ImportProgress::Parsing { done, total } => bar.show("reading", done, total),
        ImportProgress::Writing { done, total } => {
            bar.show("writing blocks", done as u64, total as u64)
        }
    });
    bar.clear();
    let report = report?;
    println!(
        "imported {} samples of {} series into {} block(s) in {} ({:.2}s)",
        report.samples,
        report.series,
        report.blocks.len(),
        args.dir.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
