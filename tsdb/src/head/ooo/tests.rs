//! Out-of-order ingestion through the public API: acceptance, queries,
//! isolation, the WBL and its replay.

use std::collections::BTreeMap;

use aion_model::{Labels, MatchType, Matcher};
use aion_storage::{ChunkQueryable, Queryable};
use proptest::prelude::*;

use crate::{Db, Error, Options, ValueType};

const MIN: i64 = 60_000;

fn opts(window: i64) -> Options {
    Options {
        out_of_order_time_window_ms: window,
        background_compaction: false,
        ..Options::default()
    }
}

fn series(i: usize) -> Labels {
    Labels::from_pairs(&[("__name__", "m".to_string()), ("i", i.to_string())]).unwrap()
}

fn all() -> Vec<Matcher> {
    vec![Matcher::new(MatchType::Regex, "__name__", ".+").unwrap()]
}

/// Every sample of `q` by series label string.
fn dump(q: &dyn Queryable) -> BTreeMap<String, Vec<(i64, f64)>> {
    let q = q.querier(i64::MIN, i64::MAX).unwrap();
    let mut set = q.select(true, None, &all());
    let mut out = BTreeMap::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        let mut v = Vec::new();
        while s.samples.next() == ValueType::Float {
            v.push(s.samples.at());
        }
        out.insert(s.labels.to_string(), v);
    }
    out
}

/// Every sample the chunk querier returns, checking chunks do not overlap.
fn chunk_dump(q: &dyn ChunkQueryable) -> BTreeMap<String, Vec<(i64, f64)>> {
    let q = q.chunk_querier(i64::MIN, i64::MAX).unwrap();
    let mut set = q.select(true, None, &all());
    let mut out = BTreeMap::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        let mut v: Vec<(i64, f64)> = Vec::new();
        while let Some(c) = s.chunks.next() {
            let c = c.unwrap();
            let samples = aion_chunkenc::XorChunk::from_bytes(c.data)
                .unwrap()
                .samples()
                .unwrap();
            assert_eq!(samples.first().unwrap().0, c.min_time);
            assert_eq!(samples.last().unwrap().0, c.max_time);
            if let Some(l) = v.last() {
                assert!(l.0 < c.min_time, "chunks overlap");
            }
            v.extend(samples);
        }
        out.insert(s.labels.to_string(), v);
    }
    out
}

#[test]
fn samples_inside_the_window_are_accepted_and_queried_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(30 * MIN)).unwrap();
    let l = series(1);
    let mut app = db.appender();
    app.append(&l, 60 * MIN, 60.0).unwrap();
    app.commit().unwrap();
    // Inside the window: accepted; below it: too old.
    for t in [45, 50, 31, 40] {
        app.append(&l, t * MIN, t as f64).unwrap();
    }
    assert!(matches!(
        app.append(&l, 29 * MIN, 1.0),
        Err(Error::TooOldSample)
    ));
    app.commit().unwrap();
    // The same timestamp again: the in-memory chunk keeps the first value.
    app.append(&l, 45 * MIN, 99.0).unwrap();
    app.commit().unwrap();
    let want: Vec<(i64, f64)> = [31, 40, 45, 50, 60]
        .iter()
        .map(|&t| (t * MIN, t as f64))
        .collect();
    assert_eq!(dump(&db)[&l.to_string()], want);
    assert_eq!(chunk_dump(&db)[&l.to_string()], want);
    let st = db.head_stats(0);
    assert_eq!(st.out_of_order_appended, 4);
    assert_eq!(st.too_old_refused, 1);
    db.close().unwrap();
}

#[test]
fn without_a_window_old_samples_are_refused_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(0)).unwrap();
    let l = series(1);
    let mut app = db.appender();
    app.append(&l, 60 * MIN, 1.0).unwrap();
    app.commit().unwrap();
    assert!(matches!(
        app.append(&l, 59 * MIN, 1.0),
        Err(Error::OutOfOrderSample)
    ));
    assert!(!dir.path().join("wbl").exists());
    db.close().unwrap();
}

#[test]
fn a_query_never_sees_half_an_out_of_order_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(60 * MIN)).unwrap();
    let mut app = db.appender();
    for i in 0..4 {
        app.append(&series(i), 100 * MIN, 0.0).unwrap();
    }
    app.commit().unwrap();
    let before = crate::Head::querier(db.head(), i64::MIN, i64::MAX);
    // Enough samples per series to m-map out-of-order chunks meanwhile.
    for i in 0..4 {
        for t in 50..90 {
            app.append(&series(i), t * MIN, 1.0).unwrap();
        }
    }
    app.append(&series(0), 101 * MIN, 1.0).unwrap();
    app.commit().unwrap();
    let count = |q: &crate::head::HeadQuerier<'_>| {
        use aion_storage::Querier;
        let mut set = q.select(false, None, &all());
        let mut n = 0;
        while let Some(s) = set.next() {
            let mut s = s.unwrap();
            while s.samples.next() == ValueType::Float {
                n += 1;
            }
        }
        n
    };
    assert_eq!(count(&before), 4);
    drop(before);
    let after = crate::Head::querier(db.head(), i64::MIN, i64::MAX);
    assert_eq!(count(&after), 4 + 4 * 40 + 1);
    drop(after);
    db.close().unwrap();
}

#[test]
fn the_wbl_and_out_of_order_chunks_replay_on_open_also_with_the_window_off() {
    let dir = tempfile::tempdir().unwrap();
    let want = {
        let db = Db::open(dir.path(), opts(60 * MIN)).unwrap();
        let mut app = db.appender();
        for i in 0..3 {
            app.append(&series(i), 200 * MIN, 0.0).unwrap();
        }
        app.commit().unwrap();
        // 100 out-of-order samples per series, in reverse: three chunks
        // of 32 m-mapped, four left in memory.
        for t in (150..200).rev() {
            for i in 0..3 {
                app.append(&series(i), t * MIN, t as f64).unwrap();
                app.append(&series(i), t * MIN + 1, t as f64).unwrap();
            }
            app.commit().unwrap();
        }
        let d = dump(&db);
        db.close().unwrap();
        d
    };
    assert!(dir.path().join("wbl/00000000").exists());
    for window in [60 * MIN, 0] {
        let db = Db::open(dir.path(), opts(window)).unwrap();
        let r = &db.replay_report().wbl;
        assert_eq!(r.mmapped_chunks, 9, "{r:?}");
        assert_eq!(r.samples_inserted, 3 * 4, "{r:?}");
        assert!(r.mmap_markers >= 9, "{r:?}");
        assert_eq!(dump(&db), want, "window {window}");
        db.close().unwrap();
    }
    let ro = Db::open_read_only(dir.path()).unwrap();
    assert_eq!(dump(&ro), want);
}

#[test]
fn a_torn_wbl_is_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts(60 * MIN)).unwrap();
        let mut app = db.appender();
        app.append(&series(0), 100 * MIN, 0.0).unwrap();
        app.commit().unwrap();
        for t in 50..60 {
            app.append(&series(0), t * MIN, 1.0).unwrap();
            app.commit().unwrap();
        }
        db.close().unwrap();
    }
    // Cut the last segment mid-record.
    let seg = std::fs::read_dir(dir.path().join("wbl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.metadata().unwrap().len() > 0)
        .max()
        .unwrap();
    let bytes = std::fs::read(&seg).unwrap();
    let used = bytes.iter().rposition(|&b| b != 0).unwrap() as u64 + 1;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(used - 3)
        .unwrap();
    let db = Db::open(dir.path(), opts(60 * MIN)).unwrap();
    let r = &db.replay_report().wbl;
    assert!(r.torn_tail.is_some(), "{r:?}");
    // The last commit's sample is lost from the out-of-order head; the
    // others replay.
    let d = dump(&db);
    assert_eq!(d[&series(0).to_string()].len(), 1 + 9);
    db.close().unwrap();
}

#[test]
fn damage_inside_the_wbl_is_repaired_and_the_loss_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts(60 * MIN)).unwrap();
        let mut app = db.appender();
        app.append(&series(0), 100 * MIN, 0.0).unwrap();
        app.commit().unwrap();
        for t in 0..50 {
            app.append(&series(0), 50 * MIN + t * 1000, 1.0).unwrap();
            app.commit().unwrap();
        }
        db.close().unwrap();
    }
    let seg = dir.path().join("wbl/00000000");
    let mut bytes = std::fs::read(&seg).unwrap();
    let used = bytes.iter().rposition(|&b| b != 0).unwrap();
    // A byte in the middle of the records: its record's CRC fails.
    bytes[used / 2] ^= 0xff;
    std::fs::write(&seg, &bytes).unwrap();
    let db = Db::open(dir.path(), opts(60 * MIN)).unwrap();
    let r = db.replay_report().wbl.clone();
    assert!(r.corruption.is_some(), "{r:?}");
    assert!(r.repair.is_some(), "{r:?}");
    let kept = dump(&db)[&series(0).to_string()].len() - 1;
    assert!(kept > 0 && kept < 50, "{kept}");
    db.close().unwrap();
    // Repaired: the next open is clean and keeps the same samples.
    let db = Db::open(dir.path(), opts(60 * MIN)).unwrap();
    assert_eq!(db.replay_report().wbl.corruption, None);
    assert_eq!(dump(&db)[&series(0).to_string()].len() - 1, kept);
    db.close().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random in-order and out-of-order appends within the window, in
    /// random batches: a query returns exactly the sorted set of accepted
    /// samples, one per timestamp (the first value accepted), before and
    /// after a reopen.
    #[test]
    fn queries_return_the_sorted_deduplicated_accepted_samples(
        ops in prop::collection::vec((0usize..3, 0i64..400, 0u8..4, any::<bool>()), 1..300),
        cap in 1usize..40,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let o = Options { out_of_order_cap_max: cap, ..opts(1_000_000) };
        let mut model: BTreeMap<String, BTreeMap<i64, f64>> = BTreeMap::new();
        {
            let db = Db::open(dir.path(), o.clone()).unwrap();
            let mut app = db.appender();
            for (i, t, v, commit) in ops {
                let l = series(i);
                let t = t * 1000;
                let v = f64::from(v);
                let m = model.entry(l.to_string()).or_default();
                match app.append(&l, t, v) {
                    Ok(_) => {
                        // Only a duplicate of the newest in-order sample is
                        // checked at append time; others keep the first.
                        m.entry(t).or_insert(v);
                    }
                    Err(Error::DuplicateSampleForTimestamp { .. }) => {}
                    Err(e) => panic!("unexpected {e}"),
                }
                if commit {
                    app.commit().unwrap();
                }
            }
            app.commit().unwrap();
            let want: BTreeMap<String, Vec<(i64, f64)>> = model
                .iter()
                .filter(|(_, m)| !m.is_empty())
                .map(|(k, m)| (k.clone(), m.iter().map(|(&t, &v)| (t, v)).collect()))
                .collect();
            prop_assert_eq!(&dump(&db), &want);
            prop_assert_eq!(&chunk_dump(&db), &want);
            db.close().unwrap();
            let db = Db::open(dir.path(), o).unwrap();
            prop_assert_eq!(&dump(&db), &want);
            db.close().unwrap();
        }
    }
}
