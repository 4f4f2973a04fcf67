//! Out-of-order data through compaction: blocks of their own, marked as
//! Prometheus marks them, merged vertically with the in-order blocks; the
//! WBL truncated; and a crash at every step loses and duplicates nothing.

use super::*;
use crate::block::HINT_FROM_OUT_OF_ORDER;

const WINDOW: i64 = 6 * H;

fn ooo_opts() -> Options {
    Options {
        out_of_order_time_window_ms: WINDOW,
        ..opts()
    }
}

/// A sample every minute over `[0, 12h)` for 3 series, the odd minutes of
/// `[6h, 11h)` appended last, out of order.
fn fill_with_ooo(db: &Db) -> Dump {
    let mut expect = Dump::new();
    let late = |t: i64| (6 * H..11 * H).contains(&t) && (t / STEP) % 2 == 1;
    let mut app = db.appender();
    for pass in [false, true] {
        let mut t = 0;
        while t < 12 * H {
            if late(t) == pass {
                for i in 0..3 {
                    let v = (t / STEP) as f64 + i as f64;
                    app.append(&series(i), t, v).unwrap();
                    expect.entry(series(i)).or_default().push((t, v.to_bits()));
                }
                app.commit().unwrap();
            }
            t += STEP;
        }
    }
    for v in expect.values_mut() {
        v.sort_by_key(|s| s.0);
    }
    assert!(db.head_stats(0).out_of_order_appended > 0);
    expect
}

/// Compares dumps, naming the first few differences only.
#[track_caller]
fn same(got: &Dump, want: &Dump, ctx: &str) {
    if got == want {
        return;
    }
    let mut diffs = Vec::new();
    for (l, w) in want {
        let g = got.get(l).cloned().unwrap_or_default();
        let gs: std::collections::BTreeSet<_> = g.iter().collect();
        let ws: std::collections::BTreeSet<_> = w.iter().collect();
        let missing: Vec<i64> = ws.difference(&gs).map(|s| s.0).take(5).collect();
        let extra: Vec<i64> = gs.difference(&ws).map(|s| s.0).take(5).collect();
        diffs.push(format!(
            "{l}: got {} want {}, missing {missing:?} extra {extra:?}",
            g.len(),
            w.len()
        ));
    }
    panic!("{ctx}: {diffs:#?}");
}

fn wbl_segments(dir: &Path) -> Vec<String> {
    dirs(&dir.join("wbl"))
}

/// Blocks do not overlap each other, and blocks plus head hold every
/// sample exactly once.
fn check_once(db: &Db, expect: &Dump) {
    let blocks = db.blocks();
    for w in blocks.windows(2) {
        assert!(w[0].max_time() <= w[1].min_time(), "overlapping blocks");
    }
    let in_blocks: u64 = blocks.iter().map(|b| b.meta().stats.num_samples).sum();
    let head = dump(&**db.head(), i64::MIN, i64::MAX);
    let in_head: usize = head.values().map(Vec::len).sum();
    let total: usize = expect.values().map(Vec::len).sum();
    assert_eq!(in_blocks as usize + in_head, total);
}

#[test]
fn out_of_order_data_is_compacted_into_marked_blocks_then_merged() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), ooo_opts()).unwrap();
    let expect = fill_with_ooo(&db);
    same(&dump(&db, i64::MIN, i64::MAX), &expect, "dump");
    let segments_before = wbl_segments(dir.path());
    // Out-of-order blocks alone first, to look at them.
    let mut written = Vec::new();
    {
        let ulids = db.compact_out_of_order().unwrap();
        for u in &ulids {
            let b = db.blocks().into_iter().find(|b| b.ulid() == *u).unwrap();
            let m = b.meta();
            assert_eq!(m.compaction.hints, [HINT_FROM_OUT_OF_ORDER]);
            assert_eq!(m.min_time % (2 * H), 0);
            assert_eq!(m.max_time - m.min_time, 2 * H);
            written.push((m.min_time, m.max_time));
        }
    }
    assert_eq!(written, [(6 * H, 8 * H), (8 * H, 10 * H), (10 * H, 12 * H)]);
    assert_eq!(db.head_stats(0).out_of_order_appended, 3 * 150);
    same(&dump(&db, i64::MIN, i64::MAX), &expect, "dump");
    // The WBL segments before the new one are gone.
    let after = wbl_segments(dir.path());
    assert!(after.len() <= 1 && after != segments_before, "{after:?}");
    db.compact().unwrap();
    same(&dump(&db, i64::MIN, i64::MAX), &expect, "dump");
    db.close().unwrap();
    let db = Db::open(dir.path(), ooo_opts()).unwrap();
    same(&dump(&db, i64::MIN, i64::MAX), &expect, "dump");
    db.compact().unwrap();
    same(&dump(&db, i64::MIN, i64::MAX), &expect, "dump");
    db.close().unwrap();
}

#[test]
fn compaction_writes_out_of_order_blocks_after_persisting_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), ooo_opts()).unwrap();
    let expect = fill_with_ooo(&db);
    let report = db.compact().unwrap();
    assert_eq!(report.out_of_order_blocks.len(), 3);
    assert!(!report.compacted_blocks.is_empty());
    same(&dump(&db, i64::MIN, i64::MAX), &expect, "dump");
    check_once(&db, &expect);
    db.close().unwrap();
}

const OOO_CRASH_POINTS: [&str; 5] = [
    "block_writer.before_rename",
    "ooo.after_blocks_written",
    "ooo.before_truncation",
    "compact.before_deleting_parents",
    "db.before_wal_truncation",
];

/// Crashes the compaction at the `skip`-th hit of `point`, reopens, and
/// checks every sample is there once; then finishing the compaction keeps
/// them once.
fn ooo_crash_at(point: &str, skip: usize) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), ooo_opts()).unwrap();
    let expect = fill_with_ooo(&db);
    // Forget hits of earlier runs on this thread.
    crate::failpoint::take_log();
    crate::failpoint::arm(point, skip);
    let res = db.compact();
    let hit = crate::failpoint::take_log()
        .iter()
        .filter(|p| **p == point)
        .count()
        > skip;
    if !hit {
        assert!(res.is_ok());
        return false;
    }
    assert!(
        matches!(res, Err(crate::Error::Injected(_))),
        "{point}: {res:?}"
    );
    std::mem::forget(db);
    let db = Db::open(dir.path(), ooo_opts()).unwrap();
    same(
        &dump(&db, i64::MIN, i64::MAX),
        &expect,
        &format!("{point} #{skip}"),
    );
    // Prometheus compacts the out-of-order head after the next head
    // persistence; do it now to finish what the crash interrupted.
    db.compact().unwrap();
    db.compact_out_of_order().unwrap();
    db.compact().unwrap();
    same(
        &dump(&db, i64::MIN, i64::MAX),
        &expect,
        &format!("{point} #{skip}"),
    );
    check_once(&db, &expect);
    assert!(
        dirs(dir.path()).iter().all(|d| !d.contains(".tmp")),
        "{point}: {:?}",
        dirs(dir.path())
    );
    db.close().unwrap();
    let db = Db::open(dir.path(), ooo_opts()).unwrap();
    same(
        &dump(&db, i64::MIN, i64::MAX),
        &expect,
        &format!("{point} #{skip}"),
    );
    true
}

#[test]
fn a_crash_at_any_step_of_out_of_order_compaction_loses_and_duplicates_nothing() {
    for point in OOO_CRASH_POINTS {
        for skip in [0, 1, 2] {
            if !ooo_crash_at(point, skip) {
                break;
            }
        }
    }
}
