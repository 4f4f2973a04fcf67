//! Crash loop: a child process appends and commits from several threads
//! while background compaction cuts head blocks, checkpoints and truncates
//! the WAL and deletes blocks past retention; the parent SIGKILLs it at a
//! random moment, reopens the directory as a restarted server would, and
//! checks what survived, for `--rounds` rounds.
//!
//! ```sh
//! cargo run --release --example crash_loop -- --rounds 1000
//! ```
//!
//! What is checked after every kill, from Prometheus's guarantees:
//!
//! * every **acknowledged** commit (its `commit()` returned `Ok` and the
//!   child then logged it, fsynced, to a side file) is present, every
//!   sample once, unless retention has since deleted its whole block;
//! * a commit is **all or nothing**: its samples (one per series of its
//!   thread, one timestamp) are all present or all absent. A commit whose
//!   WAL record was written but whose acknowledgement the kill prevented
//!   may be present: the record is in the log, as in Prometheus, and the
//!   caller never learned the outcome;
//! * nothing else is present: every sample has the value its writer gave
//!   it, no timestamp twice in a series;
//! * the reopen reports only what a crash leaves (a torn WAL tail, a torn
//!   `chunks_head/` file), never damage inside the log or an unreadable
//!   block.
//!
//! The last line is a summary: rounds, commits acknowledged, commits
//! present without acknowledgement, blocks and checkpoints seen.

use std::collections::{BTreeMap, HashSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aion::model::{Labels, Matcher};
use aion::storage::Queryable;
use aion::tsdb::{Db, Options, SampleIterator, ValueType};
use clap::{Parser, Subcommand};

/// Writer threads in the child.
const THREADS: usize = 4;
/// Series per thread: one commit is one sample of each.
const SERIES: usize = 8;
/// Logical time between a thread's commits (ms).
const STEP: i64 = 100;
/// Small, so head compaction runs every few hundred commits.
const BLOCK_RANGE: i64 = 60_000;
/// Blocks older than this behind the newest are deleted.
const RETENTION: i64 = 5 * 60_000;

#[derive(Parser)]
#[command(about = "SIGKILL a writing child at random moments and check what survives")]
struct Cli {
    #[command(subcommand)]
    child: Option<Child>,
    /// Kill/reopen/check rounds.
    #[arg(long, default_value_t = 100)]
    rounds: usize,
    /// Data directory (default: a temporary one, removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Longest time the child runs before the kill (ms); each round draws
    /// a time up to it.
    #[arg(long, default_value_t = 600)]
    max_kill_ms: u64,
    /// Random seed (default: from the clock), printed for reruns.
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Subcommand)]
enum Child {
    /// Internal: the process that gets killed.
    Child { dir: PathBuf, acks: PathBuf },
}

fn options() -> Options {
    Options {
        block_range_ms: BLOCK_RANGE,
        retention_ms: RETENTION,
        wal_segment_size: 128 * 1024,
        compaction_interval: Duration::from_millis(20),
        ..Options::default()
    }
}

fn labels(thread: usize, i: usize) -> Labels {
    Labels::from_pairs(&[
        ("__name__", "crash_loop"),
        ("thread", &thread.to_string()),
        ("i", &i.to_string()),
    ])
    .expect("valid labels")
}

/// The value a writer gives series `i` of its thread at `t`: a sample
/// with any other value was never written.
fn value(t: i64, i: usize) -> f64 {
    (t / STEP) as f64 * 10.0 + i as f64
}

/// The child: commits forever from `THREADS` threads, logging each
/// acknowledged commit as `thread t` to `acks` and fsyncing it.
fn child(dir: &Path, acks: &Path) -> Result<(), String> {
    let db = Db::open(dir, options()).map_err(|e| format!("open: {e}"))?;
    // Later than anything in the directory, acknowledged or not.
    let newest = db
        .blocks()
        .iter()
        .map(|b| b.max_time())
        .chain([db.head().max_time(), 0])
        .max()
        .unwrap_or(0);
    let clock = AtomicI64::new(newest / STEP + 1);
    let log = Mutex::new(
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(acks)
            .map_err(|e| format!("{}: {e}", acks.display()))?,
    );
    std::thread::scope(|s| {
        for thread in 0..THREADS {
            let (db, clock, log) = (&db, &clock, &log);
            s.spawn(move || {
                if let Err(e) = write_forever(db, thread, clock, log) {
                    // The parent sees the child exit before its kill.
                    eprintln!("crash_loop child, thread {thread}: {e}");
                    std::process::exit(3);
                }
            });
        }
    });
    Err("writer threads ended".into())
}

/// One writer thread of the child.
fn write_forever(
    db: &Db,
    thread: usize,
    clock: &AtomicI64,
    log: &Mutex<std::fs::File>,
) -> Result<(), String> {
    let series: Vec<Labels> = (0..SERIES).map(|i| labels(thread, i)).collect();
    loop {
        let t = clock.fetch_add(1, Ordering::Relaxed) * STEP;
        let mut app = db.appender();
        let appended = series
            .iter()
            .enumerate()
            .try_for_each(|(i, l)| app.append(l, t, value(t, i)).map(|_| ()));
        if appended.is_err() {
            // Out of the appendable window (a thread fell
            // behind): refused, never in the WAL.
            app.rollback().map_err(|e| e.to_string())?;
            continue;
        }
        app.commit().map_err(|e| format!("commit: {e}"))?;
        let mut f = log.lock().expect("ack log lock");
        f.write_all(format!("{thread} {t}\n").as_bytes())
            .and_then(|()| f.sync_data())
            .map_err(|e| format!("ack log: {e}"))?;
    }
}

/// Acknowledged commits: complete lines of the ack log (a kill may cut
/// the last one; it then counts as not acknowledged).
fn read_acks(path: &Path) -> HashSet<(usize, i64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |n| &text[..=n]);
    complete
        .lines()
        .filter_map(|l| {
            let (a, b) = l.split_once(' ')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect()
}

/// Totals over all rounds.
#[derive(Default)]
struct Seen {
    acked: usize,
    unacked_present: usize,
    max_blocks: usize,
    checkpoints: HashSet<String>,
    torn_tails: usize,
}

/// Reopens `dir` for writing (repairing what the kill tore) and checks it
/// against the acknowledged commits.
fn check(dir: &Path, acks: &HashSet<(usize, i64)>, seen: &mut Seen) -> Result<(), String> {
    let db = Db::open(
        dir,
        Options {
            background_compaction: false,
            ..options()
        },
    )
    .map_err(|e| format!("reopen: {e}"))?;
    for w in db.warnings() {
        let crash_signature = w.contains("torn") || w.starts_with("chunks_head: ");
        if !crash_signature {
            return Err(format!("reopen after a kill reported damage: {w}"));
        }
        seen.torn_tails += 1;
    }
    let q = db.querier(i64::MIN, i64::MAX).map_err(|e| e.to_string())?;
    let mut set = q.select(true, None, &[Matcher::equal("__name__", "crash_loop")]);
    // (thread, t) -> how many of the thread's series have a sample at t.
    let mut commits: BTreeMap<(usize, i64), usize> = BTreeMap::new();
    while let Some(s) = set.next() {
        let mut s = s.map_err(|e| e.to_string())?;
        let thread: usize = s
            .labels
            .get("thread")
            .and_then(|v| v.parse().ok())
            .ok_or("no thread label")?;
        let i: usize = s
            .labels
            .get("i")
            .and_then(|v| v.parse().ok())
            .ok_or("no i label")?;
        let mut last = i64::MIN;
        while s.samples.next() == ValueType::Float {
            let (t, v) = s.samples.at();
            if t <= last {
                return Err(format!(
                    "{}: t={t} after t={last} (a duplicate or disorder)",
                    s.labels
                ));
            }
            if v.to_bits() != value(t, i).to_bits() {
                return Err(format!("{}: t={t} has {v}, nobody wrote that", s.labels));
            }
            last = t;
            *commits.entry((thread, t)).or_default() += 1;
        }
        if let Some(e) = s.samples.err() {
            return Err(format!("{}: {e}", s.labels));
        }
    }
    drop(set);
    drop(q);
    for (&(thread, t), &n) in &commits {
        if n != SERIES {
            return Err(format!(
                "commit of thread {thread} at t={t} half there: {n} of {SERIES} samples"
            ));
        }
    }
    // Retention deletes whole blocks ending before this; a commit at or
    // after it must still be there.
    let newest_block = db.blocks().iter().map(|b| b.max_time()).max();
    let kept_from = newest_block.map_or(i64::MIN, |m| m - RETENTION);
    for &(thread, t) in acks {
        if t >= kept_from && !commits.contains_key(&(thread, t)) {
            return Err(format!(
                "acknowledged commit of thread {thread} at t={t} lost (kept from {kept_from})"
            ));
        }
    }
    seen.acked = acks.len();
    seen.unacked_present = commits.keys().filter(|k| !acks.contains(k)).count();
    seen.max_blocks = seen.max_blocks.max(db.blocks().len());
    for e in std::fs::read_dir(dir.join("wal")).map_err(|e| e.to_string())? {
        let name = e
            .map_err(|e| e.to_string())?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.starts_with("checkpoint.") {
            seen.checkpoints.insert(name);
        }
    }
    db.close().map_err(|e| format!("close: {e}"))
}

/// xorshift64*: enough randomness for kill times, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

fn parent(cli: &Cli) -> Result<(), String> {
    let tmp;
    let dir = match &cli.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
            tmp.path().to_path_buf()
        }
    };
    let data = dir.join("data");
    let acks_path = dir.join("acks");
    let seed = cli.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1
    });
    eprintln!(
        "crash_loop: {} rounds in {}, seed {seed}",
        cli.rounds,
        dir.display()
    );
    let mut rng = Rng(seed);
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut seen = Seen::default();
    let start = Instant::now();
    for round in 1..=cli.rounds {
        let mut child = Command::new(&exe)
            .arg("child")
            .arg(&data)
            .arg(&acks_path)
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let wait = Duration::from_millis(cli.max_kill_ms / 10 + rng.below(cli.max_kill_ms));
        std::thread::sleep(wait);
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("round {round}: the child exited early ({status})"));
        }
        child.kill().map_err(|e| format!("SIGKILL: {e}"))?;
        child.wait().map_err(|e| e.to_string())?;
        let acks = read_acks(&acks_path);
        check(&data, &acks, &mut seen).map_err(|e| format!("round {round} (seed {seed}): {e}"))?;
        if round % 50 == 0 || round == cli.rounds {
            eprintln!(
                "round {round}: {} commits acknowledged, {} present unacknowledged, {} blocks at most, {} checkpoints, {:.0?}",
                seen.acked,
                seen.unacked_present,
                seen.max_blocks,
                seen.checkpoints.len(),
                start.elapsed()
            );
        }
    }
    println!(
        "rounds={} acknowledged_commits={} present_unacknowledged={} max_blocks={} checkpoints={} crash_repairs={} seconds={:.1}",
        cli.rounds,
        seen.acked,
        seen.unacked_present,
        seen.max_blocks,
        seen.checkpoints.len(),
        seen.torn_tails,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.child {
        Some(Child::Child { dir, acks }) => child(dir, acks),
        None => parent(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash_loop: {e}");
            ExitCode::from(1)
        }
    }
}
