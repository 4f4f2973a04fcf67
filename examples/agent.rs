//! A Prometheus agent (`--enable-feature=agent`) as an Aion host: scrapes
//! Prometheus text and OpenMetrics targets over HTTP, appends into
//! WAL-only agent storage, and forwards the WAL over remote write.
//!
//! ```text
//! cargo run --release --example agent -- --dir agent-data \
//!     --scrape http://127.0.0.1:9100/metrics#node --scrape-interval 15s \
//!     --remote-write http://127.0.0.1:8428/api/v1/write
//! ```
//!
//! * Scrapes follow Prometheus's defaults: the scrape time is the
//!   sample timestamp (exposed timestamps are not honoured), `job` (the
//!   URL's fragment, else `--job`) and `instance` (`host:port`) are added,
//!   exposed labels of those names become `exported_*`, the report series
//!   `up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
//!   `scrape_samples_post_metric_relabeling` and `scrape_series_added` are
//!   appended, and a series that disappears (or whose target goes down)
//!   gets a stale marker.
//! * Forwarding tails the WAL from its checkpoint. What the receiver
//!   accepted is saved every second in `DIR/remote-progress`; a restarted
//!   agent (even after SIGKILL) resends only the rest, plus what was
//!   accepted in the last second before a kill (the same samples, same
//!   values: the duplicates Prometheus sends when it retries a request
//!   whose answer was lost).
//! * The WAL is truncated every `--truncate-frequency` and at shutdown as
//!   Prometheus's agent does (keep 5 minutes before the newest sent
//!   sample, never more than 4 hours).
//! * A status line on stderr every 10 s:
//!   `pending=… shards=… sent=… failed=… retried=… lag_s=…`.
//! * SIGTERM or SIGINT: scraping stops, the queue is flushed (at most
//!   `--flush-deadline`), the WAL truncated and closed, exit 0.
#![forbid(unsafe_code)]

#[path = "agent/forward.rs"]
mod forward;
#[path = "agent/progress.rs"]
mod progress;
#[path = "agent/scrape.rs"]
mod scrape;
#[path = "agent/stop.rs"]
mod stop;
#[path = "agent/transport.rs"]
mod transport;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aion::agent::{AgentDb, AgentOptions};
use aion::remote::queue::{Protocol, QueueConfig, QueueSnapshot};
use clap::{Parser, ValueEnum};

use crate::forward::Forwarder;
use crate::scrape::{ScrapeLoop, Target};
use crate::stop::Stop;

#[derive(Parser)]
#[command(about = "Scrape targets into agent storage and forward them over remote write")]
struct Args {
    /// The agent directory (its WAL is DIR/wal, as Prometheus's agent's).
    #[arg(long)]
    dir: PathBuf,
    /// A target, `http://host:port/path[#job]` (repeatable).
    #[arg(long = "scrape", value_name = "URL", required = true)]
    scrape: Vec<String>,
    /// The `job` of targets without a `#job` fragment.
    #[arg(long, default_value = "agent")]
    job: String,
    /// How often each target is scraped.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    scrape_interval: Duration,
    /// The remote-write endpoint.
    #[arg(long, value_name = "URL")]
    remote_write: String,
    /// The remote-write protocol (2.0 falls back to 1.0 when the receiver
    /// does not speak it).
    #[arg(long, value_enum, default_value = "v1")]
    protocol: ProtocolArg,
    /// Most shards.
    #[arg(long)]
    max_shards: Option<usize>,
    /// Fewest shards.
    #[arg(long)]
    min_shards: Option<usize>,
    /// Samples buffered per shard.
    #[arg(long)]
    capacity: Option<usize>,
    /// Most samples per request.
    #[arg(long)]
    max_samples_per_send: Option<usize>,
    /// Longest a sample waits for its batch.
    #[arg(long, value_parser = parse_duration)]
    batch_send_deadline: Option<Duration>,
    /// Longest retry delay.
    #[arg(long, value_parser = parse_duration)]
    max_backoff: Option<Duration>,
    /// How long a shutdown waits for the queue to drain.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    flush_deadline: Duration,
    /// How often the WAL is truncated (Prometheus's agent: 2h).
    #[arg(long, default_value = "2h", value_parser = parse_duration)]
    truncate_frequency: Duration,
    /// How often the status line is printed.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    status_interval: Duration,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProtocolArg {
    V1,
    V2,
}

/// `500ms`, `15s`, `5m`, `2h`, `1d`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("duration {s:?} needs a unit (ms, s, m, h, d)"))?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    let ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("invalid duration unit in {s:?}")),
    };
    Ok(Duration::from_millis(n * ms))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn status_line(s: &QueueSnapshot, series: usize) -> String {
    format!(
        "pending={} shards={} sent={} failed={} retried={} lag_s={:.1} dropped={} desired_shards={} series={}",
        s.samples_pending,
        s.shards,
        s.samples_out,
        s.samples_failed,
        s.samples_retried,
        s.lag_seconds(),
        s.samples_dropped,
        s.desired_shards,
        series
    )
}

fn truncate(db: &AgentDb, fwd: &Forwarder) {
    let sent = fwd.stats().highest_sent_ms;
    let mint = db.options().truncation_time(sent, now_ms());
    match db.truncate(mint) {
        Ok(r) => {
            fwd.prune(mint);
            eprintln!(
                "agent: truncated the WAL before {mint}: {} series removed, checkpoint {:?}",
                r.series_removed, r.checkpoint
            );
        }
        Err(e) => eprintln!("agent: truncating the WAL: {e}"),
    }
}

fn run(args: Args) -> Result<(), String> {
    let targets = args
        .scrape
        .iter()
        .map(|s| Target::parse(s, &args.job))
        .collect::<Result<Vec<_>, _>>()?;
    let defaults = QueueConfig::default();
    let config = QueueConfig {
        protocol: match args.protocol {
            ProtocolArg::V1 => Protocol::V1,
            ProtocolArg::V2 => Protocol::V2,
        },
        max_shards: args.max_shards.unwrap_or(defaults.max_shards),
        min_shards: args.min_shards.unwrap_or(defaults.min_shards),
        capacity: args.capacity.unwrap_or(defaults.capacity),
        max_samples_per_send: args
            .max_samples_per_send
            .unwrap_or(defaults.max_samples_per_send),
        batch_send_deadline: args
            .batch_send_deadline
            .unwrap_or(defaults.batch_send_deadline),
        max_backoff: args.max_backoff.unwrap_or(defaults.max_backoff),
        ..defaults
    };
    let db = Arc::new(
        AgentDb::open(&args.dir, AgentOptions::default())
            .map_err(|e| format!("opening {}: {e}", args.dir.display()))?,
    );
    let replay = db.replay_report();
    eprintln!(
        "agent: opened {}: {} series, {} samples in the WAL",
        args.dir.display(),
        db.num_series(),
        replay.samples
    );
    let mut fwd = Forwarder::start(db.clone(), config, &args.remote_write)?;

    let signalled = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, signalled.clone())
            .map_err(|e| format!("installing the signal handler: {e}"))?;
    }
    let stop = Arc::new(Stop::default());
    let scrapers: Vec<_> = targets
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let (db, stop) = (db.clone(), stop.clone());
            let interval = args.scrape_interval;
            std::thread::Builder::new()
                .name(format!("agent-scrape-{i}"))
                .spawn(move || ScrapeLoop::new(t, db, interval).run(&stop))
                .map_err(|e| format!("starting a scrape loop: {e}"))
        })
        .collect::<Result<_, _>>()?;

    let started = Instant::now();
    let (mut next_status, mut next_truncate) = (
        started + args.status_interval,
        started + args.truncate_frequency,
    );
    while !signalled.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let now = Instant::now();
        fwd.save_progress();
        if now >= next_status {
            eprintln!("{}", status_line(&fwd.stats(), db.num_series()));
            next_status += args.status_interval;
        }
        if now >= next_truncate {
            truncate(&db, &fwd);
            next_truncate += args.truncate_frequency;
        }
    }
    eprintln!("agent: stopping: scrapes stop, the queue flushes");
    stop.stop();
    for s in scrapers {
        let _ = s.join();
    }
    let stats = fwd.stats();
    eprintln!("{}", status_line(&stats, db.num_series()));
    let final_stats = {
        // Forwarder::stop consumes it; truncation needs the sent figures.
        let s = fwd.stop(args.flush_deadline);
        eprintln!("{}", status_line(&s, db.num_series()));
        s
    };
    let mint = db
        .options()
        .truncation_time(final_stats.highest_sent_ms, now_ms());
    match db.truncate(mint) {
        Ok(r) => eprintln!(
            "agent: truncated the WAL before {mint}: {} series removed, checkpoint {:?}",
            r.series_removed, r.checkpoint
        ),
        Err(e) => eprintln!("agent: truncating the WAL: {e}"),
    }
    db.close().map_err(|e| format!("closing the WAL: {e}"))?;
    if final_stats.samples_pending > 0 {
        eprintln!(
            "agent: {} samples not sent; they are in the WAL and go out on the next start",
            final_stats.samples_pending
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agent: {e}");
            ExitCode::from(1)
        }
    }
}
