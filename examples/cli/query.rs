//! `aion query` and `aion query-range`: PromQL over a data directory opened
//! read-only, printing Prometheus's HTTP API answer (`--format json`) or a
//! table for humans; what the open skipped reaches the user as warnings.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use aion_model::gotext::format_float;
use aion_model::{gotext::write_go_quoted, Labels};
use aion_promql::{json, AnnotationKind, Engine, EngineOptions, QueryResult, Value};
use aion_tsdb::{Db, Options};
use clap::{Args, ValueEnum};

use super::gofmt::parse_base2_bytes;
use super::timeparse::{parse_step_ms, parse_time_ms};
use super::Failure;

/// Prometheus's API refuses range queries with more points per series.
const MAX_POINTS_PER_SERIES: i64 = 11_000;

pub const QUERY_HELP: &str = "\
EXPR is evaluated at --time (default: now) over the blocks, and the head
rebuilt from the WAL, of DIR, which is opened read-only (no lock, nothing
written; a directory written by Prometheus or by Aion). Semantics are
Prometheus 3's (5 m lookback, left-open range windows).

T is unix seconds (fractions allowed, e.g. 1700000000.5) or RFC 3339
(2023-11-14T22:13:20Z, 2023-11-14T23:13:20.5+01:00).

--format json prints exactly Prometheus's /api/v1/query answer:
{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[...]},
\"warnings\":[...],\"infos\":[...]} (warnings and infos only when there are
some). Warnings and infos also go to stderr, storage warnings (what opening
DIR skipped: an unreadable block, a damaged WAL) as `warning: ` lines; the
answer is then missing that data. --strict refuses instead (exit 1, naming
the file and offset). A parse error names line:column of EXPR.

--max-query-bytes SIZE (64MiB, 1GiB, or bytes) bounds the memory the query
may hold at once (windows, series, labels, aggregation state, the result):
a query that needs more fails with an error saying how much it needed and
what it was holding (exit 1), never a partial answer.

--resolution raw|5m|1h reads only the blocks of DIR (a Thanos bucket's
layout, as `aion downsample` writes), those of the coarsest resolution not
above RES, and each function reads the aggregate Thanos's querier would
(min_*/max_*/count_*/sum_* their own, rate/increase/irate/resets the
counter, anything else sum/count). `auto` is Thanos's step / 5: raw for
instant queries.

--replica-label NAME (repeatable) deduplicates HA replicas as Thanos's
querier does with --query.replica-label: series equal but for the replica
labels are one series, without them. --dedup penalty (the default) follows
one replica and switches only on a gap longer than two scrape intervals,
keeping counters from going down on a switch for rate, increase, irate and
resets; --dedup chain takes every replica's samples, each timestamp once
(identical receive-style replicas). Works with --resolution too: each
replica's aggregate is read, then deduplicated.

Examples:
  aion query data/ 'up'
  aion query data/ 'sum by (job) (rate(http_requests_total[5m]))' --time 1700000000
  aion query data/ 'topk(3, node_memory_bytes)' --time 2023-11-14T22:13:20Z --format json
  aion query bucket/ 'max_over_time(node_load1[1d])' --resolution 1h
  aion query data/ 'sum by (job) (rate(http_requests_total[5m]))' --replica-label replica";

pub const QUERY_RANGE_HELP: &str = "\
EXPR (a scalar or instant vector expression) is evaluated at --start,
--start + --step, ... up to --end over DIR, opened read-only as for
`aion query`. The result is a matrix sorted by labels, at most 11000 points
per series (as Prometheus's API allows).

T is unix seconds (fractions allowed) or RFC 3339; D is a duration (30s,
1m30s, 1h) or a number of seconds (30, 0.5).

--format json prints exactly Prometheus's /api/v1/query_range answer:
{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[...]}}, with
`warnings` and `infos` as for `aion query`; --resolution, --replica-label,
--dedup and --max-query-bytes as for `aion query`.

Examples:
  aion query-range data/ 'rate(http_requests_total[5m])' --start 1700000000 --end 1700003600 --step 30s
  aion query-range data/ 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))' \\
      --start 2023-11-14T22:00:00Z --end 2023-11-15T04:00:00Z --step 1m --format json";

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Prometheus's HTTP API answer (status, data, warnings, infos).
    Json,
    /// Aligned columns for humans.
    Table,
}

#[derive(Args)]
pub struct QueryArgs {
    /// The data directory.
    dir: PathBuf,
    /// The PromQL expression.
    #[arg(allow_hyphen_values = true)]
    expr: String,
    /// Evaluation time (unix seconds or RFC 3339); default now.
    #[arg(long, value_name = "T", value_parser = parse_time_ms, allow_negative_numbers = true)]
    time: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Read the blocks of DIR (not its head) at this resolution: raw, 5m, 1h
    /// (the coarsest blocks not above it, finer ones where they leave time
    /// uncovered, as Thanos's store gateway) or auto (step / 5, as Thanos's
    /// querier). Without it, DIR is opened as a data directory.
    #[arg(long, value_name = "RES", value_parser = super::downsample::parse_query_resolution)]
    resolution: Option<super::downsample::QueryResolution>,
    /// Most bytes the query may hold in memory at once (64MiB, 1GiB, or a
    /// number of bytes); a query that needs more fails (exit 1) instead of
    /// growing. Default: no limit.
    #[arg(long, value_name = "SIZE", value_parser = parse_max_query_bytes)]
    max_query_bytes: Option<usize>,
    #[command(flatten)]
    dedup: super::dedup::DedupFlags,
    #[command(flatten)]
    open: crate::warnings::OpenFlags,
}

#[derive(Args)]
pub struct QueryRangeArgs {
    /// The data directory.
    dir: PathBuf,
    /// The PromQL expression (scalar or instant vector).
    #[arg(allow_hyphen_values = true)]
    expr: String,
    /// Start time (unix seconds or RFC 3339).
    #[arg(long, value_name = "T", value_parser = parse_time_ms, allow_negative_numbers = true)]
    start: i64,
    /// End time (unix seconds or RFC 3339).
    #[arg(long, value_name = "T", value_parser = parse_time_ms, allow_negative_numbers = true)]
    end: i64,
    /// Resolution step (duration like 30s or seconds).
    #[arg(long, value_name = "D", value_parser = parse_step_ms)]
    step: i64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Read the blocks of DIR (not its head) at this resolution: raw, 5m, 1h
    /// (the coarsest blocks not above it, finer ones where they leave time
    /// uncovered, as Thanos's store gateway) or auto (step / 5, as Thanos's
    /// querier). Without it, DIR is opened as a data directory.
    #[arg(long, value_name = "RES", value_parser = super::downsample::parse_query_resolution)]
    resolution: Option<super::downsample::QueryResolution>,
    /// Most bytes the query may hold in memory at once (64MiB, 1GiB, or a
    /// number of bytes); a query that needs more fails (exit 1) instead of
    /// growing. Default: no limit.
    #[arg(long, value_name = "SIZE", value_parser = parse_max_query_bytes)]
    max_query_bytes: Option<usize>,
    #[command(flatten)]
    dedup: super::dedup::DedupFlags,
    #[command(flatten)]
    open: crate::warnings::OpenFlags,
}

/// `aion query DIR EXPR`.
pub fn query(args: QueryArgs) -> Result<(), Failure> {
    let t = match args.time {
        Some(t) => t,
        None => now_ms(),
    };
    let engine = engine(args.max_query_bytes);
    if let Some(res) = args.resolution {
        let blocks = super::downsample::open_for_query(&args.dir, max_resolution(res, 0))?;
        let q = args.dedup.wrap(blocks);
        let result = engine.instant_query(&q, args.expr.as_str(), t)?;
        return print_result(&args.expr, &result, args.format);
    }
    let db = open(&args.dir, args.open)?;
    let result = engine
        .instant_query(&args.dedup.wrap(&db), args.expr.as_str(), t)
        .inspect_err(|_| crate::warnings::print_open_warnings(&db))?;
    print_result(&args.expr, &result, args.format)
}

/// `aion query-range DIR EXPR --start --end --step`.
pub fn query_range(args: QueryRangeArgs) -> Result<(), Failure> {
    if args.end < args.start {
        return Err(Failure(
            "invalid parameter \"end\": end timestamp must not be before start time".into(),
        ));
    }
    if (args.end - args.start) / args.step > MAX_POINTS_PER_SERIES {
        return Err(Failure(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (--step)".into(),
        ));
    }
    let engine = engine(args.max_query_bytes);
    if let Some(res) = args.resolution {
        let blocks = super::downsample::open_for_query(&args.dir, max_resolution(res, args.step))?;
        let q = args.dedup.wrap(blocks);
        let result = engine.range_query(&q, args.expr.as_str(), args.start, args.end, args.step)?;
        return print_result(&args.expr, &result, args.format);
    }
    let db = open(&args.dir, args.open)?;
    let q = args.dedup.wrap(&db);
    let result = engine
        .range_query(&q, args.expr.as_str(), args.start, args.end, args.step)
        .inspect_err(|_| crate::warnings::print_open_warnings(&db))?;
    print_result(&args.expr, &result, args.format)
}

/// The engine of one query: Prometheus's defaults, plus the byte limit
/// when asked for.
fn engine(max_query_bytes: Option<usize>) -> Engine {
    Engine::new(EngineOptions {
        max_query_bytes,
        ..EngineOptions::default()
    })
}

/// `--max-query-bytes`: a size (see [`parse_base2_bytes`]), at least 1.
fn parse_max_query_bytes(s: &str) -> Result<usize, String> {
    match parse_base2_bytes(s)? {
        0 => Err("the limit must be at least 1 byte (omit the flag for no limit)".into()),
        n => usize::try_from(n).map_err(|_| format!("{s} is more than this machine can address")),
    }
}

/// The `max_source_resolution` (ms) a query at `step` reads.
fn max_resolution(res: super::downsample::QueryResolution, step: i64) -> i64 {
    match res {
        super::downsample::QueryResolution::Max(r) => r,
        super::downsample::QueryResolution::Auto => {
            aion_downsample::auto_max_source_resolution(step)
        }
    }
}

/// Opens `dir` read-only; the open's warnings reach the user with the
/// result (the engine reports them as storage warnings), or before the
/// error when the query fails.
fn open(dir: &std::path::Path, flags: crate::warnings::OpenFlags) -> Result<Db, Failure> {
    Ok(Db::open_read_only_with(
        dir,
        flags.options(Options::default()),
    )?)
}

fn print_result(expr: &str, result: &QueryResult, format: Format) -> Result<(), Failure> {
    for a in result.annotations.iter() {
        let text = a.render(expr);
        // Prometheus's own annotations say "PromQL warning: …"; storage
        // warnings (what the open skipped) get the CLI's `warning: `.
        match a.kind() {
            _ if text.starts_with("PromQL ") => eprintln!("{text}"),
            AnnotationKind::Warning => eprintln!("warning: {text}"),
            AnnotationKind::Info => eprintln!("info: {text}"),
        }
    }
    let mut text = match format {
        Format::Json => json::encode_response(result, expr),
        Format::Table => table(&result.value),
    };
    text.push('\n');
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// The value as aligned text: `VALUE  SERIES` rows for a vector, one block
/// of `TIME  VALUE` rows per series for a matrix.
fn table(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Scalar { t, v } => {
            out.push_str(&format!("scalar {} @ {}", format_float(*v), rfc3339(*t)));
        }
        Value::String { t, v } => {
            out.push_str(&format!("string {v:?} @ {}", rfc3339(*t)));
        }
        Value::Vector(samples) => {
            let values: Vec<String> = samples.iter().map(|s| format_float(s.f)).collect();
            let width = values.iter().map(String::len).max().unwrap_or(0).max(5);
            out.push_str(&format!("{:<width$}  SERIES", "VALUE"));
            for (s, v) in samples.iter().zip(&values) {
                out.push_str(&format!("\n{v:<width$}  {}", series_name(&s.metric)));
            }
            if let Some(s) = samples.first() {
                out.push_str(&format!("\n({} series at {})", samples.len(), rfc3339(s.t)));
            } else {
                out.push_str("\n(empty vector)");
            }
        }
        Value::Matrix(series) => {
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(&series_name(&s.metric));
                for p in &s.floats {
                    out.push_str(&format!("\n  {}  {}", rfc3339(p.t), format_float(p.f)));
                }
            }
            if series.is_empty() {
                out.push_str("(empty matrix)");
            } else {
                let points: usize = series.iter().map(|s| s.floats.len()).sum();
                out.push_str(&format!("\n({} series, {points} points)", series.len()));
            }
        }
    }
    out
}

/// `name{label="value", ...}`, as Prometheus's web UI shows series.
fn series_name(labels: &Labels) -> String {
    let mut out = labels.get("__name__").unwrap_or("").to_string();
    out.push('{');
    let mut first = true;
    for l in labels.iter().filter(|l| l.name != "__name__") {
        if !first {
            out.push_str(", ");
        }
        first = false;
        out.push_str(l.name);
        out.push('=');
        let _ = write_go_quoted(&mut out, l.value);
    }
    out.push('}');
    out
}

fn now_ms() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    d.as_millis() as i64
}

/// Milliseconds as RFC 3339 in UTC, with milliseconds only when not zero.
fn rfc3339(ms: i64) -> String {
    aion::model::civil::format_rfc3339(ms, aion::model::civil::Millis::NonZero)
}
