//! Crash recovery: a child process appends and commits in a loop, printing
//! each committed batch; the parent kills it with SIGKILL at a random
//! moment, reopens the directory and checks that every printed batch is
//! there, that opening succeeds, and that appends go on.
//!
//! The child is this test binary itself, re-run with `AION_CRASH_CHILD`
//! set (it then runs only `crash_child`). Now and then the child also
//! truncates the head (writing a WAL checkpoint and deleting chunk files
//! and segments), so kills land in the middle of that too.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aion_model::{Labels, Matcher};
use aion_storage::Queryable;
use aion_tsdb::{Db, Options, SampleIterator, ValueType};

const SERIES: usize = 30;
/// Time between batches (ms): 120-sample chunks are cut every 2 minutes.
const STEP: i64 = 1000;
const CHILD_ENV: &str = "AION_CRASH_CHILD";

fn options() -> Options {
    Options {
        // Small segments: rotation and checkpoints happen often.
        wal_segment_size: 64 * 1024,
        ..Options::default()
    }
}

fn labels(i: usize) -> Labels {
    Labels::from_pairs(&[
        ("__name__", "crash_test"),
        ("series", &i.to_string()),
        ("pad", "some-label-value-to-make-records-bigger"),
    ])
    .unwrap()
}

/// The newest batch number present for all series (batch `b` has
/// timestamp `b * STEP` and value `b`), and the samples by series.
fn read_batches(db: &Db) -> Vec<Vec<(i64, f64)>> {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let mut set = q.select(true, None, &[Matcher::equal("__name__", "crash_test")]);
    let mut out = vec![Vec::new(); SERIES];
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        let i: usize = s.labels.get("series").unwrap().parse().unwrap();
        while s.samples.next() == ValueType::Float {
            out[i].push(s.samples.at());
        }
        assert!(s.samples.err().is_none(), "{:?}", s.samples.err());
    }
    out
}

fn last_batch(data: &[Vec<(i64, f64)>]) -> i64 {
    data.iter()
        .filter_map(|v| v.last().map(|s| s.0 / STEP))
        .max()
        .unwrap_or(0)
}

/// The child: appends batches forever.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let db = Db::open(&dir, options()).unwrap();
    let mut batch = last_batch(&read_batches(&db)) + 1;
    let mut app = db.appender();
    loop {
        for i in 0..SERIES {
            app.append(&labels(i), batch * STEP, batch as f64).unwrap();
        }
        app.commit().unwrap();
        println!("COMMITTED {batch}");
        if batch % 700 == 0 {
            let mint = (batch - 300) * STEP;
            println!("TRUNCATING {mint}");
            db.head().truncate(mint).unwrap();
        }
        batch += 1;
    }
}

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Kills the child (SIGKILL) when dropped, so a failing parent leaves no
/// process behind.
struct ChildGuard(std::process::Child);
impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_rounds(rounds: usize, max_kill_after_ms: u64) {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("seed {seed}");
    let mut rng = XorShift(seed);
    let exe = std::env::current_exe().unwrap();
    let mut truncated_to = i64::MIN;
    let mut last_committed_seen = 0;
    let mut rounds_with_commits = 0;
    for round in 0..rounds {
        let (printed, truncating) = run_child(&exe, dir.path(), &mut rng, max_kill_after_ms);
        truncated_to = truncated_to.max(truncating);
        let before = last_committed_seen;
        last_committed_seen = last_committed_seen.max(printed);
        if last_committed_seen > before {
            rounds_with_commits += 1;
        }

        let db = Db::open(dir.path(), options())
            .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        let data = read_batches(&db);
        for (i, samples) in data.iter().enumerate() {
            let have: std::collections::HashSet<i64> = samples.iter().map(|s| s.0).collect();
            for b in 1..=printed {
                let t = b * STEP;
                if t < truncated_to {
                    continue;
                }
                assert!(
                    have.contains(&t),
                    "round {round}: series {i} lost committed batch {b} (printed up to {printed}, truncated to {truncated_to}); replay: {:?}",
                    db.replay_report()
                );
            }
            for w in samples.windows(2) {
                assert!(w[0].0 < w[1].0, "round {round}: samples out of order");
            }
            for s in samples {
                assert_eq!(s.0, s.1 as i64 * STEP, "round {round}: wrong value");
            }
        }
        // Appends go on after the crash.
        let next = last_batch(&data) + 1;
        let mut app = db.appender();
        for i in 0..SERIES {
            app.append(&labels(i), next * STEP, next as f64).unwrap();
        }
        app.commit().unwrap();
        drop(app);
        db.close().unwrap();
    }
    // The child must have been killed while working, not before.
    assert!(
        rounds_with_commits * 2 >= rounds,
        "only {rounds_with_commits} of {rounds} rounds committed anything"
    );
    assert!(truncated_to > i64::MIN, "no round reached a truncation");
}

/// Starts the child, kills it after a random time, returns the last batch
/// it printed and the highest truncation it announced.
fn run_child(exe: &Path, dir: &Path, rng: &mut XorShift, max_ms: u64) -> (i64, i64) {
    let child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let stdout = guard.0.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut printed, mut truncating) = (0i64, i64::MIN);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(b) = line.strip_prefix("COMMITTED ") {
                printed = b.parse().unwrap();
            } else if let Some(t) = line.strip_prefix("TRUNCATING ") {
                truncating = truncating.max(t.parse().unwrap());
            }
        }
        (printed, truncating)
    });
    // Give it time to open and replay, then a random amount of work.
    let start = Instant::now();
    let wait = Duration::from_millis(50 + rng.next() % max_ms);
    while start.elapsed() < wait {
        if let Ok(Some(status)) = guard.0.try_wait() {
            panic!("child exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    guard.0.kill().unwrap();
    let _ = guard.0.wait();
    reader.join().unwrap()
}

#[test]
fn survives_sigkill_at_random_moments() {
    run_rounds(20, 400);
}

/// The long version: `cargo test -p aion-tsdb --test crash_recovery -- --ignored`.
#[test]
#[ignore]
fn survives_sigkill_at_random_moments_long() {
    run_rounds(200, 1500);
}
