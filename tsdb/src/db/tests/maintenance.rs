//! Compaction, retention, deletion and the background thread.

use super::*;

#[test]
fn leveled_compaction_merges_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let mut expect = Dump::new();
    fill(&db, 4, 0, 12 * H, &mut expect);
    let report = db.compact().unwrap();
    assert_eq!(report.head_blocks.len(), 5, "{report:?}");
    assert_eq!(report.compacted_blocks.len(), 1, "{report:?}");
    assert_eq!(report.deleted_blocks.len(), 3);
    let ranges: Vec<_> = db
        .blocks()
        .iter()
        .map(|b| {
            (
                b.min_time() / H,
                b.max_time() / H,
                b.meta().compaction.level,
            )
        })
        .collect();
    assert_eq!(ranges, [(0, 6, 2), (6, 8, 1), (8, 10, 1)]);
    assert_eq!(dump(&db, i64::MIN, i64::MAX), expect);
    check_no_duplicates(&db, &expect);
    // Parents are gone from disk (no query held them).
    assert_eq!(dirs(dir.path()).iter().filter(|d| d.len() == 26).count(), 3);
}

#[test]
fn retention_by_time_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let o = Options {
        retention_ms: 4 * H,
        max_block_duration_ms: Some(2 * H),
        ..opts()
    };
    let db = Db::open(dir.path(), o).unwrap();
    let mut expect = Dump::new();
    fill(&db, 2, 0, 11 * H, &mut expect);
    db.compact().unwrap();
    // Blocks up to 8h; the newest ends at 8h, so those ending at or
    // before 4h are gone.
    let ranges: Vec<_> = db
        .blocks()
        .iter()
        .map(|b| (b.min_time() / H, b.max_time() / H))
        .collect();
    assert_eq!(ranges, [(4, 6), (6, 8)]);
    drop(db);

    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db, 2, 0, 11 * H, &mut Dump::new());
    db.compact().unwrap();
    let sizes: Vec<u64> = db.blocks().iter().map(|b| b.size()).collect();
    drop(db);
    let wal_and_head = crate::db::maintenance::dir_size(&dir.path().join("wal")).unwrap()
        + crate::db::maintenance::dir_size(&dir.path().join("chunks_head")).unwrap();
    let limit = wal_and_head + sizes[sizes.len() - 1] + sizes[sizes.len() - 2] + 1;
    let o = Options {
        retention_bytes: Some(limit),
        ..opts()
    };
    let db = Db::open(dir.path(), o).unwrap();
    db.compact().unwrap();
    assert_eq!(db.blocks().len(), 2);
}

#[test]
fn deletion_hides_at_once_and_compaction_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let mut expect = Dump::new();
    fill(&db, 4, 0, 7 * H, &mut expect);
    db.compact().unwrap();
    let odd = [Matcher::equal("parity", "odd")];
    // Across the first block, the second and the head.
    let (mint, maxt) = (H, 5 * H);
    db.delete(&odd, mint, maxt).unwrap();
    for (l, v) in expect.iter_mut() {
        if l.get("parity") == Some("odd") {
            v.retain(|s| s.0 < mint || s.0 > maxt);
        }
    }
    assert_eq!(dump(&db, i64::MIN, i64::MAX), expect);
    assert!(db
        .blocks()
        .iter()
        .all(|b| b.meta().stats.num_tombstones == 2));
    // Tombstones survive a reopen (blocks: files; head: WAL).
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(dump(&db, i64::MIN, i64::MAX), expect);
    let rewritten = db.clean_tombstones().unwrap();
    assert_eq!(rewritten.len(), 2);
    assert!(db.blocks().iter().all(|b| b.tombstones().is_empty()));
    let stats: Vec<_> = db
        .blocks()
        .iter()
        .map(|b| (b.meta().stats.num_samples, b.meta().stats.num_series))
        .collect();
    // [0, 2h): odd series keep their first hour; [2h, 4h): odd series gone.
    assert_eq!(stats, [(2 * 120 + 2 * 60, 4), (2 * 120, 2)]);
    assert_eq!(dump(&db, i64::MIN, i64::MAX), expect);
    // The head's deleted samples do not come back when persisted.
    fill(&db, 4, 7 * H, 9 * H, &mut expect);
    db.compact().unwrap();
    assert_eq!(dump(&db, i64::MIN, i64::MAX), expect);
    // A head truncation deferred while the reader ran happens at the next
    // compaction; run one now rather than wait for the thread's.
    db.compact().unwrap();
    check_no_duplicates(&db, &expect);
}

/// The Db's own compaction thread works while a writer appends and a
/// reader queries: appends never fail or wait for a compaction to finish,
/// every query sees each series as one gapless, duplicate-free run of
/// samples from the start (blocks and head consistent with each other),
/// and at the end blocks hold the old data and nothing is lost.
#[test]
fn background_compaction_runs_beside_appends_and_queries() {
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            background_compaction: true,
            compaction_interval: std::time::Duration::from_millis(5),
            ..opts()
        },
    )
    .unwrap();
    let n = 6;
    let end = 16 * H;
    let committed = AtomicI64::new(-1);
    let done = AtomicBool::new(false);
    let mut expect = Dump::new();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut queries = 0;
            while !done.load(Ordering::Acquire) || queries < 3 {
                let upto = committed.load(Ordering::Acquire);
                let got = dump(&db, 0, i64::MAX);
                for (l, v) in &got {
                    for (k, (t, _)) in v.iter().enumerate() {
                        assert_eq!(*t, k as i64 * STEP, "{l}: gap or duplicate");
                    }
                    let last = v.last().map_or(-1, |s| s.0);
                    assert!(last >= upto, "{l}: committed sample {upto} missing");
                }
                queries += 1;
            }
        });
        let mut t = 0;
        while t < end {
            fill(&db, n, t, t + STEP, &mut expect);
            committed.store(t, Ordering::Release);
            t += STEP;
        }
        // Give the thread rounds after the last append until it has
        // caught up: on a loaded machine one round (fsyncs included) can
        // take longer than a fixed pause.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while db.blocks().len() < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        done.store(true, Ordering::Release);
    });
    assert!(
        db.blocks().len() >= 3,
        "the background thread persisted the head: {:?}",
        db.blocks().iter().map(|b| b.meta()).collect::<Vec<_>>()
    );
    assert_eq!(dump(&db, i64::MIN, i64::MAX), expect);
    // A head truncation deferred while the reader ran happens at the next
    // compaction; run one now rather than wait for the thread's.
    db.compact().unwrap();
    check_no_duplicates(&db, &expect);
}
