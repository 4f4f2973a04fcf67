//! Behaviour of the head through the public API: round trips, append
//! semantics, isolation, replay, truncation.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aion_chunkenc::{is_stale_nan, XorIterator, STALE_NAN};
use aion_model::{Labels, MatchType, Matcher};

use crate::{Db, Error, Options, SampleIterator, ValueType};
use aion_storage::{ChunkQueryable, Queryable};

type Dump = BTreeMap<String, Vec<(i64, u64)>>;

fn lbl(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs).unwrap()
}

fn series(i: usize) -> Labels {
    lbl(&[
        ("__name__", "metric"),
        ("i", &i.to_string()),
        ("job", "test"),
    ])
}

/// Every sample the queryable holds in `[mint, maxt]` for `ms`, by series.
fn dump_of(q: &dyn Queryable, mint: i64, maxt: i64, ms: &[Matcher]) -> Dump {
    let q = q.querier(mint, maxt).unwrap();
    let mut set = q.select(true, None, ms);
    let mut out = Dump::new();
    let mut last: Option<Labels> = None;
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        if let Some(l) = &last {
            assert!(*l < s.labels, "sorted select out of order");
        }
        last = Some(s.labels.clone());
        let mut v = Vec::new();
        while s.samples.next() == ValueType::Float {
            let (t, x) = s.samples.at();
            v.push((t, x.to_bits()));
        }
        assert!(s.samples.err().is_none(), "{:?}", s.samples.err());
        out.insert(s.labels.to_string(), v);
    }
    out
}

fn all() -> Vec<Matcher> {
    vec![Matcher::new(MatchType::Regex, "__name__", ".+").unwrap()]
}

fn fill(db: &Db, n_series: usize, from: i64, to: i64, step: i64) -> Dump {
    let mut expect = Dump::new();
    let mut app = db.appender();
    let mut refs = vec![0; n_series];
    let mut t = from;
    while t < to {
        for (i, r) in refs.iter_mut().enumerate() {
            let v = (t / step) as f64 * 1.5 + i as f64;
            *r = if *r == 0 {
                app.append(&series(i), t, v).unwrap()
            } else {
                app.append_ref(*r, t, v).unwrap()
            };
            expect
                .entry(series(i).to_string())
                .or_default()
                .push((t, v.to_bits()));
        }
        app.commit().unwrap();
        t += step;
    }
    expect
}

fn small_opts() -> Options {
    Options {
        wal_segment_size: 128 * 1024,
        ..Options::default()
    }
}

/// [`small_opts`] with the WAL's records left uncompressed, for tests that
/// damage its bytes at chosen places.
fn small_uncompressed_opts() -> Options {
    Options {
        wal_compression: false,
        ..small_opts()
    }
}

#[test]
fn round_trip_survives_reopen_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    // 5 hours of 15 s samples: many chunks, several on disk per series.
    let mut expect = fill(&db, 20, 0, 5 * 3_600_000, 15_000);
    assert_eq!(dump_of(&db, i64::MIN, i64::MAX, &all()), expect);
    let stats = db.head_stats(5);
    assert_eq!(stats.num_series, 20);
    assert!(stats.chunk_files >= 1 && stats.chunk_file_bytes > 0);
    db.close().unwrap();

    let db = Db::open(dir.path(), small_opts()).unwrap();
    let r = db.replay_report().clone();
    assert_eq!(r.series, 20, "{r:?}");
    assert!(r.mmapped_chunks > 0, "{r:?}");
    assert!(r.samples_skipped > 0, "{r:?}");
    assert_eq!(dump_of(&db, i64::MIN, i64::MAX, &all()), expect);
    let more = fill(&db, 20, 5 * 3_600_000, 6 * 3_600_000, 15_000);
    for (k, v) in more {
        expect.get_mut(&k).unwrap().extend(v);
    }
    assert_eq!(dump_of(&db, i64::MIN, i64::MAX, &all()), expect);
    drop(db); // without close: the WAL alone must restore everything
    let db = Db::open(dir.path(), small_opts()).unwrap();
    assert_eq!(dump_of(&db, i64::MIN, i64::MAX, &all()), expect);
    // Range and selection.
    let part = dump_of(
        &db,
        3_600_000,
        3_600_000 + 60_000,
        &[Matcher::equal("i", "3")],
    );
    assert_eq!(part.len(), 1);
    assert_eq!(part.values().next().unwrap().len(), 5);
}

#[test]
fn append_errors_match_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut app = db.appender();
    let a = series(1);
    let r = app.append(&a, 10_000_000, 1.0).unwrap();
    app.append_ref(r, 10_001_000, 2.0).unwrap();
    app.commit().unwrap();

    assert!(matches!(
        app.append_ref(r, 10_000_500, 3.0),
        Err(Error::OutOfOrderSample)
    ));
    assert_eq!(
        app.append_ref(r, 10_000_500, 3.0).unwrap_err().to_string(),
        "out of order sample"
    );
    // Older than max - 1h: out of bounds, even for a new series.
    let e = app
        .append(&series(2), 10_001_000 - 3_600_001, 1.0)
        .unwrap_err();
    assert_eq!(e.to_string(), "out of bounds");
    let e = app.append_ref(r, 10_001_000, 2.5).unwrap_err();
    assert_eq!(
        e.to_string(),
        "duplicate sample for timestamp 10001000; overrides not allowed: existing 2, new value 2.5"
    );
    // An identical duplicate is accepted and stored once.
    app.append_ref(r, 10_001_000, 2.0).unwrap();
    // A stale marker keeps its exact bits.
    app.append_ref(r, 10_002_000, STALE_NAN).unwrap();
    app.commit().unwrap();
    let d = dump_of(&db, i64::MIN, i64::MAX, &all());
    let s = &d[&a.to_string()];
    assert_eq!(s.len(), 3);
    assert!(is_stale_nan(f64::from_bits(s[2].1)));
    assert_eq!(s[2].1, STALE_NAN.to_bits());

    // Empty label set.
    assert!(matches!(
        app.append(&Labels::new(), 10_003_000, 1.0),
        Err(Error::InvalidSample(_))
    ));
}

#[test]
fn out_of_order_within_a_batch_is_dropped_at_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut app = db.appender();
    let r = app.append(&series(1), 1000, 1.0).unwrap();
    app.append_ref(r, 500, 2.0).unwrap(); // nothing committed yet to compare with
    app.commit().unwrap();
    let d = dump_of(&db, i64::MIN, i64::MAX, &all());
    assert_eq!(d[&series(1).to_string()], vec![(1000, 1f64.to_bits())]);
    assert_eq!(db.head_stats(0).samples_dropped_at_commit, 1);
}

#[test]
fn rollback_and_drop_discard_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut app = db.appender();
    app.append(&series(1), 1000, 1.0).unwrap();
    app.rollback().unwrap();
    app.append(&series(1), 2000, 1.0).unwrap();
    drop(app);
    assert!(dump_of(&db, i64::MIN, i64::MAX, &all()).is_empty());
    drop(db);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(dump_of(&db, i64::MIN, i64::MAX, &all()).is_empty());
}

#[test]
fn a_query_sees_exactly_the_commits_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut app = db.appender();
    app.append(&series(1), 1000, 1.0).unwrap();
    app.commit().unwrap();
    let before = db.querier(i64::MIN, i64::MAX).unwrap();
    app.append(&series(1), 2000, 2.0).unwrap();
    app.append(&series(2), 2000, 2.0).unwrap();
    // Not committed: invisible to a new query too.
    assert_eq!(dump_of(&db, i64::MIN, i64::MAX, &all()).len(), 1);
    app.commit().unwrap();
    let mut set = before.select(true, None, &all());
    let mut n = 0;
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        assert_eq!(s.labels, series(1));
        let mut ts = Vec::new();
        while s.samples.next() == ValueType::Float {
            ts.push(s.samples.at().0);
        }
        assert_eq!(ts, vec![1000]);
        n += 1;
    }
    assert_eq!(n, 1);
    drop(set);
    drop(before);
    let d = dump_of(&db, i64::MIN, i64::MAX, &all());
    assert_eq!(d.len(), 2);
    assert_eq!(d[&series(1).to_string()].len(), 2);
}

/// Writers commit batches that give every series of their group the same
/// timestamp (from a shared clock, so the groups stay within the head's
/// appendable window); readers check that each group's series have the
/// same samples (no half-committed batch) and that no group is behind what
/// was acknowledged before the query started.
#[test]
fn isolation_under_concurrent_appenders_and_queries() {
    const WRITERS: usize = 3;
    const SERIES_PER_GROUP: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), Options::default()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let clock = Arc::new(AtomicU64::new(1));
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..WRITERS).map(|_| AtomicU64::new(0)).collect());
    let deadline = Instant::now() + Duration::from_millis(1500);
    let group_labels = |g: usize, i: usize| {
        lbl(&[
            ("__name__", "iso"),
            ("g", &g.to_string()),
            ("i", &i.to_string()),
        ])
    };
    std::thread::scope(|s| {
        for g in 0..WRITERS {
            let (db, stop, acked, clock) = (db.clone(), stop.clone(), acked.clone(), clock.clone());
            s.spawn(move || {
                let mut app = db.appender();
                while !stop.load(Ordering::Relaxed) {
                    let batch = clock.fetch_add(1, Ordering::AcqRel);
                    for i in 0..SERIES_PER_GROUP {
                        app.append(&group_labels(g, i), batch as i64 * 1000, batch as f64)
                            .unwrap();
                    }
                    app.commit().unwrap();
                    acked[g].store(batch, Ordering::Release);
                }
            });
        }
        for _ in 0..2 {
            let (db, acked) = (db.clone(), acked.clone());
            s.spawn(move || {
                let mut queries = 0;
                while Instant::now() < deadline {
                    let floor: Vec<u64> = acked.iter().map(|a| a.load(Ordering::Acquire)).collect();
                    let q = db.querier(i64::MIN, i64::MAX).unwrap();
                    let mut last: BTreeMap<String, Vec<(i64, usize)>> = BTreeMap::new();
                    let mut set = q.select(false, None, &[Matcher::equal("__name__", "iso")]);
                    while let Some(x) = set.next() {
                        let mut x = x.unwrap();
                        let g = x.labels.get("g").unwrap().to_string();
                        let mut t = i64::MIN;
                        let mut n = 0;
                        while x.samples.next() == ValueType::Float {
                            let (ts, v) = x.samples.at();
                            assert_eq!(ts, v as i64 * 1000);
                            t = ts;
                            n += 1;
                        }
                        last.entry(g).or_default().push((t, n));
                    }
                    for (g, ts) in &last {
                        let gi: usize = g.parse().unwrap();
                        assert!(
                            ts.iter().all(|&t| t == ts[0]),
                            "half-committed batch seen: {ts:?}"
                        );
                        assert_eq!(ts.len(), SERIES_PER_GROUP, "group {g} partly visible");
                        assert!(
                            ts[0].0 as u64 / 1000 >= floor[gi],
                            "acknowledged batch missing"
                        );
                    }
                    queries += 1;
                }
                assert!(queries > 0);
            });
        }
        std::thread::sleep(Duration::from_millis(1600));
        stop.store(true, Ordering::Relaxed);
    });
}

#[test]
fn many_threads_append_distinct_series() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    std::thread::scope(|s| {
        for w in 0..4 {
            let db = &db;
            s.spawn(move || {
                let mut app = db.appender();
                for b in 0..50i64 {
                    for i in 0..25 {
                        app.append(&series(w * 1000 + i), b * 1000, b as f64)
                            .unwrap();
                    }
                    app.commit().unwrap();
                }
            });
        }
    });
    let d = dump_of(&db, i64::MIN, i64::MAX, &all());
    assert_eq!(d.len(), 100);
    assert!(d.values().all(|v| v.len() == 50));
    drop(db);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(dump_of(&db, i64::MIN, i64::MAX, &all()), d);
}

#[test]
fn series_limit_refuses_only_new_series() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        max_head_series: Some(2),
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    let mut app = db.appender();
    app.append(&series(1), 1000, 1.0).unwrap();
    app.append(&series(2), 1000, 1.0).unwrap();
    let e = app.append(&series(3), 1000, 1.0).unwrap_err();
    assert!(matches!(e, Error::SeriesLimit { limit: 2 }), "{e}");
    app.append(&series(1), 2000, 1.0).unwrap();
    app.commit().unwrap();
    let st = db.head_stats(10);
    assert_eq!(st.num_series, 2);
    assert_eq!(st.series_limit_refused, 1);
}

#[test]
fn head_stats_rank_cardinality() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut app = db.appender();
    for i in 0..10 {
        app.append(&lbl(&[("__name__", "a"), ("i", &i.to_string())]), 1000, 1.0)
            .unwrap();
    }
    for i in 0..3 {
        app.append(&lbl(&[("__name__", "b"), ("i", &i.to_string())]), 1000, 1.0)
            .unwrap();
    }
    app.commit().unwrap();
    let st = db.head_stats(2);
    assert_eq!(st.num_series, 13);
    assert_eq!(st.num_chunks, 13);
    assert_eq!(st.series_count_by_metric_name[0].name, "a");
    assert_eq!(st.series_count_by_metric_name[0].count, 10);
    assert_eq!(st.series_count_by_metric_name[1].count, 3);
    assert_eq!(st.value_count_by_label_name[0].name, "i");
    assert_eq!(st.value_count_by_label_name[0].count, 10);
    assert_eq!(st.series_count_by_label_pair[0].name, "__name__=a");
    assert_eq!(st.num_label_pairs, 12);
    assert!(st.heap_bytes > 0);
}

/// Every sample the chunk queryable holds in `[mint, maxt]`, decoded from
/// its chunks (checked to be in order, non-overlapping and within their
/// stated bounds), by series.
fn chunk_dump_of(q: &dyn ChunkQueryable, mint: i64, maxt: i64) -> Dump {
    let q = q.chunk_querier(mint, maxt).unwrap();
    let mut set = q.select(true, None, &all());
    let mut got = Dump::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        let mut v = Vec::new();
        let mut prev_max = i64::MIN;
        while let Some(c) = s.chunks.next() {
            let c = c.unwrap();
            assert!(c.min_time > prev_max && c.min_time <= c.max_time);
            prev_max = c.max_time;
            let mut it = XorIterator::new(c.data);
            while it.next() == ValueType::Float {
                let (t, x) = it.at();
                assert!(t >= c.min_time && t <= c.max_time);
                v.push((t, x.to_bits()));
            }
        }
        got.insert(s.labels.to_string(), v);
    }
    got
}

#[test]
fn chunk_querier_yields_the_same_samples() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let expect = fill(&db, 5, 0, 3 * 3_600_000, 30_000);
    assert_eq!(chunk_dump_of(&db, i64::MIN, i64::MAX), expect);
    let q = db.chunk_querier(i64::MIN, i64::MAX).unwrap();
    let names = q.label_names(&[]).unwrap();
    assert_eq!(names, vec!["__name__", "i", "job"]);
    let values = q.label_values("i", &[Matcher::equal("i", "3")]).unwrap();
    assert_eq!(values, vec!["3"]);
}

#[test]
fn both_head_queriers_apply_the_head_s_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut expect = fill(&db, 3, 0, 3 * 3_600_000, 30_000);
    let head = db.head();
    // Inside chunks (some cut, some covered), twice on one series, and a
    // whole series.
    let cut = [(1, 1_000_000, 2_000_000), (1, 5_000_000, 9_000_000)];
    for &(i, mint, maxt) in &cut {
        let one = [Matcher::equal("i", i.to_string())];
        assert_eq!(head.delete(mint, maxt, &one).unwrap(), 1);
        expect
            .get_mut(&series(i).to_string())
            .unwrap()
            .retain(|s| !(mint..=maxt).contains(&s.0));
    }
    head.delete(i64::MIN, i64::MAX, &[Matcher::equal("i", "2")])
        .unwrap();
    expect.remove(&series(2).to_string());
    // The head itself, not the Db around it: no wrapper applies them.
    let head: &crate::Head = head;
    assert_eq!(dump_of(head, i64::MIN, i64::MAX, &all()), expect);
    assert_eq!(chunk_dump_of(head, i64::MIN, i64::MAX), expect);
    assert_eq!(chunk_dump_of(&db, i64::MIN, i64::MAX), expect);
}

#[test]
fn truncation_drops_old_data_series_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        wal_segment_size: 32 * 1024,
        wal_compression: false,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    fill(&db, 10, 0, 4 * 3_600_000, 15_000);
    // A series that stops early disappears entirely.
    let mut app = db.appender();
    app.append(&lbl(&[("__name__", "old")]), 4 * 3_600_000, 1.0)
        .unwrap();
    app.commit().unwrap();
    // An appender holds the series it used (see `Appender`): let go.
    drop(app);
    let expect_after = fill(&db, 10, 4 * 3_600_000, 6 * 3_600_000, 15_000);
    let cut = 5 * 3_600_000;
    let before = db.head_stats(0);
    let rep = db.head().truncate(cut).unwrap();
    assert_eq!(rep.series_removed, 1, "{rep:?}");
    assert!(rep.chunks_removed > 0);
    assert!(rep.checkpoint.is_some(), "{rep:?}");
    let after = db.head_stats(0);
    assert!(after.num_chunks < before.num_chunks);
    assert_eq!(after.num_series, 10);
    let d = dump_of(&db, cut, i64::MAX, &all());
    let want: Dump = expect_after
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().filter(|s| s.0 >= cut).collect()))
        .collect();
    assert_eq!(d, want);
    assert!(matches!(
        db.appender().append(&series(1), cut - 1, 1.0),
        Err(Error::OutOfBounds)
    ));
    db.close().unwrap();
    // The checkpoint and remaining segments rebuild the same head.
    let db = Db::open(dir.path(), opts).unwrap();
    assert_eq!(dump_of(&db, cut, i64::MAX, &all()), want);
}

#[test]
fn damaged_chunk_files_are_dropped_and_rebuilt_from_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    let expect = fill(&db, 10, 0, 3 * 3_600_000, 15_000);
    db.close().unwrap();
    let f = dir.path().join("chunks_head").join("000001");
    let mut b = std::fs::read(&f).unwrap();
    b[100] ^= 0x55;
    std::fs::write(&f, b).unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    let r = db.replay_report();
    assert!(r.chunk_file_corruption.is_some(), "{r:?}");
    assert_eq!(dump_of(&db, i64::MIN, i64::MAX, &all()), expect);
}

/// A chunk file whose records are intact but put a series' chunks out of
/// time order (a copy of its first chunk at the end) is damage as well:
/// the file is dropped, reported, and its series rebuilt from the WAL.
#[test]
fn chunks_out_of_sequence_are_damage() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    let expect = fill(&db, 10, 0, 3 * 3_600_000, 15_000);
    db.close().unwrap();
    let chunks_dir = dir.path().join("chunks_head");
    let mut files: Vec<_> = std::fs::read_dir(&chunks_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let first = std::fs::read(&files[0]).unwrap();
    // The first record: 25 bytes of header, the data's length, the data
    // and a CRC.
    let (len, n) = aion_model::encoding::uvarint(&first[8 + 25..]).unwrap();
    let record = first[8..8 + 25 + n + len as usize + 4].to_vec();
    let last = files.last().unwrap();
    let mut b = std::fs::read(last).unwrap();
    b.extend_from_slice(&record);
    std::fs::write(last, b).unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    let r = db.replay_report();
    let why = r.chunk_file_corruption.as_deref().unwrap_or_default();
    assert!(why.contains("out of sequence chunk"), "{r:?}");
    assert_eq!(dump_of(&db, i64::MIN, i64::MAX, &all()), expect);
}

/// A writable open reads the newest segment once (the replay defers its
/// damage to the WAL's open): a torn tail there is still cut and reported,
/// the head holds what precedes it, and damage followed by intact records
/// still fails the open, before anything is cut.
#[test]
fn the_newest_segment_is_checked_by_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_uncompressed_opts();
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    fill(&db, 3, 0, 600_000, 15_000);
    // Left as a crash leaves it: no clean close.
    drop(db);
    let wal = dir.path().join("wal");
    let newest = |d: &Path| {
        let mut segs: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| std::fs::metadata(p).unwrap().len() > 0)
            .collect();
        segs.sort();
        segs.pop().unwrap()
    };
    let seg = newest(&wal);
    let bytes = std::fs::read(&seg).unwrap();
    let end = bytes.iter().rposition(|&b| b != 0).unwrap() + 1;
    // Damage inside the last page with intact records after it.
    let copy = tempfile::tempdir().unwrap();
    for e in walk(dir.path()) {
        let to = copy.path().join(e.strip_prefix(dir.path()).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&e, &to).unwrap();
    }
    let copy_seg = copy.path().join(seg.strip_prefix(dir.path()).unwrap());
    let mut damaged = bytes.clone();
    damaged[end - 300] ^= 0xff;
    std::fs::write(&copy_seg, &damaged).unwrap();
    let Err(err) = Db::open(copy.path(), opts.clone()) else {
        panic!("damage before intact records opened");
    };
    assert!(err.to_string().contains("corrupt"), "{err}");
    assert_eq!(std::fs::read(&copy_seg).unwrap(), damaged, "nothing cut");
    // A torn last record: cut, reported, the rest replayed.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(end as u64 - 10)
        .unwrap();
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let r = db.replay_report().clone();
    assert!(
        r.wal_torn_tail
            .as_deref()
            .is_some_and(|t| t.contains("cut")),
        "{r:?}"
    );
    assert!(r.wal_corruption.is_none(), "{r:?}");
    let d = dump_of(&db, i64::MIN, i64::MAX, &all());
    // The last commit (one record of the three series) is gone.
    assert!(d.values().all(|v| v.len() == 39), "{d:?}");
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    assert!(db.replay_report().wal_torn_tail.is_none());
    assert_eq!(dump_of(&db, i64::MIN, i64::MAX, &all()), d);
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn damage_inside_the_wal_is_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_uncompressed_opts();
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    fill(&db, 3, 0, 600_000, 15_000);
    db.close().unwrap();
    // A second session, so the damaged segment is not the newest (damage
    // at the very end of the log is a torn write, cut on open).
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    fill(&db, 3, 600_000, 1_200_000, 15_000);
    db.close().unwrap();
    let seg = dir.path().join("wal").join("00000000");
    let mut b = std::fs::read(&seg).unwrap();
    let at = b.len() / 2;
    b[at] ^= 0xff;
    std::fs::write(&seg, b).unwrap();
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let r = db.replay_report().clone();
    assert!(r.wal_corruption.is_some(), "{r:?}");
    assert!(r.wal_repair.is_some(), "{r:?}");
    let d = dump_of(&db, i64::MIN, i64::MAX, &all());
    assert!(!d.is_empty());
    // Appends go on, and the next open is clean.
    let last = d.values().map(|v| v.last().unwrap().0).max().unwrap();
    let mut app = db.appender();
    app.append(&series(0), last + 15_000, 1.0).unwrap();
    app.commit().unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    assert!(db.replay_report().wal_corruption.is_none());
}

/// Power loss while a completed segment's background flush was still
/// pending (the WAL flushes a finished segment off the append path, as
/// Prometheus does): the second-to-last segment ends torn. Opening cuts the
/// log there and keeps an intact prefix of every series; appends go on and
/// the next open is clean.
#[test]
fn a_torn_second_to_last_segment_is_cut_to_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_uncompressed_opts();
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let expect = fill(&db, 20, 0, 3 * 3_600_000, 15_000);
    db.close().unwrap();
    let mut segs: Vec<_> = std::fs::read_dir(dir.path().join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    segs.sort();
    assert!(segs.len() >= 2, "{segs:?}");
    // What the disk held of it: the first part, not ending at a page.
    let torn = &segs[segs.len() - 2];
    let len = std::fs::metadata(torn).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(torn)
        .unwrap()
        .set_len(len / 2 + 1234)
        .unwrap();
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let r = db.replay_report().clone();
    assert!(r.wal_corruption.is_some(), "{r:?}");
    assert!(r.wal_repair.is_some(), "{r:?}");
    let got = dump_of(&db, i64::MIN, i64::MAX, &all());
    assert_eq!(got.len(), expect.len());
    for (l, v) in &got {
        let want = &expect[l];
        assert!(v.len() < want.len(), "{l}: data after the tear survived");
        assert_eq!(v[..], want[..v.len()], "{l}: not a prefix");
    }
    let last = got.values().map(|v| v.last().unwrap().0).max().unwrap();
    let mut app = db.appender();
    app.append(&series(0), last + 15_000, 1.0).unwrap();
    app.commit().unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    assert!(db.replay_report().wal_corruption.is_none());
}

#[test]
fn second_open_fails_and_read_only_open_works_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    let expect = fill(&db, 4, 0, 3 * 3_600_000, 60_000);
    let e = Db::open(dir.path(), small_opts()).unwrap_err();
    assert!(matches!(e, Error::Locked { .. }), "{e}");
    let ro = Db::open_read_only(dir.path()).unwrap();
    assert_eq!(dump_of(&ro, i64::MIN, i64::MAX, &all()), expect);
    assert!(matches!(
        ro.appender().append(&series(1), 1, 1.0),
        Err(Error::ReadOnly)
    ));
    drop(ro);
    // The read-only open wrote nothing and took no lock.
    db.close().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    assert_eq!(dump_of(&db, i64::MIN, i64::MAX, &all()), expect);
}

#[test]
fn seek_and_range_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    fill(&db, 1, 0, 3 * 3_600_000, 10_000);
    let q = db.querier(1_000_000, 2_000_000).unwrap();
    let mut set = q.select(false, None, &all());
    let mut s = set.next().unwrap().unwrap();
    assert_eq!(s.samples.seek(0), ValueType::Float);
    assert_eq!(s.samples.at_t(), 1_000_000);
    assert_eq!(s.samples.seek(1_500_001), ValueType::Float);
    assert_eq!(s.samples.at_t(), 1_510_000);
    assert_eq!(s.samples.seek(1_000_000), ValueType::Float); // never backwards
    assert_eq!(s.samples.at_t(), 1_510_000);
    assert_eq!(s.samples.seek(2_000_000), ValueType::Float);
    assert_eq!(s.samples.next(), ValueType::None);
    assert_eq!(s.samples.next(), ValueType::None);
    assert!(set.next().is_none());
}

#[test]
fn wal_tombstones_hide_deleted_samples_after_replay() {
    use aion_wal::record::{encode_tombstones, Interval, Tombstone};
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let expect = fill(&db, 2, 0, 600_000, 10_000);
    let r = db
        .head()
        .series
        .get_by_hash(super::symbols::labels_hash(&series(1)), |s| {
            super::symbols::with_encoding(&series(1), |e| db.head().symbols.matches(&s.labels, e))
        });
    let r = r.unwrap().series_ref;
    db.close().unwrap();
    // Prometheus logs a deletion as a tombstone record.
    let (mut wal, _) = aion_wal::Wal::open(dir.path().join("wal"), Default::default()).unwrap();
    let mut rec = Vec::new();
    encode_tombstones(
        &[Tombstone {
            r#ref: r,
            interval: Interval {
                mint: 100_000,
                maxt: 199_999,
            },
        }],
        &mut rec,
    );
    wal.log(&[&rec]).unwrap();
    wal.close().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.replay_report().tombstones, 1);
    let got = dump_of(&db, i64::MIN, i64::MAX, &all());
    let want_1: Vec<_> = expect[&series(1).to_string()]
        .iter()
        .copied()
        .filter(|s| !(100_000..200_000).contains(&s.0))
        .collect();
    assert_eq!(got[&series(1).to_string()], want_1);
    assert_eq!(got[&series(0).to_string()], expect[&series(0).to_string()]);
}

#[test]
fn append_ref_to_a_truncated_series_asks_for_labels() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut app = db.appender();
    let r = app.append(&series(1), 1000, 1.0).unwrap();
    app.commit().unwrap();
    drop(app);
    db.head().truncate_memory(10 * 3_600_000).unwrap();
    let mut app = db.appender();
    assert!(matches!(
        app.append_ref(r, 10 * 3_600_000, 1.0),
        Err(Error::UnknownSeriesRef(_))
    ));
    let r2 = app.append(&series(1), 10 * 3_600_000, 1.0).unwrap();
    assert_ne!(r, r2);
    app.commit().unwrap();
}

/// The replay's reading thread drops samples inside their series' chunks
/// before the applying thread sees them (or hands records on undecoded
/// while that thread waits); on logs with the unusual cases
/// (a label set under a second reference that has chunks of its own,
/// samples before their series record, a reference reused for other
/// labels) the head and the report are the same as without that.
#[test]
fn replay_prefilter_changes_nothing() {
    use aion_wal::record::{decode_series, encode_samples, encode_series, record_type};
    use aion_wal::record::{RecordType, RefSample, RefSeries};
    let h = 3_600_000;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    fill(&db, 6, 0, 4 * h, 15_000);
    // Series 1 runs on for two more hours: its chunks end later.
    let mut app = db.appender();
    for t in (4 * h..6 * h).step_by(15_000) {
        app.append(&series(1), t, t as f64).unwrap();
    }
    app.commit().unwrap();
    db.close().unwrap();

    // The log again, with series 1's reference now naming series 0's
    // labels: its samples belong to series 0, and its chunks are not
    // attached.
    let wal_dir = dir.path().join("wal");
    let mut records = Vec::new();
    let mut refs = BTreeMap::new();
    let mut reader = aion_wal::WalReader::replay(&wal_dir).unwrap();
    let mut decoded = Vec::new();
    while let Some(rec) = reader.next_record().unwrap() {
        records.push(rec.to_vec());
        if record_type(rec) == Some(RecordType::Series) {
            decode_series(rec, &mut decoded).unwrap();
            refs.extend(decoded.iter().map(|s| (s.labels.to_string(), s.r#ref)));
        }
    }
    let r = |i: usize| refs[&series(i).to_string()];
    let (a, b, fresh) = (r(0), r(1), 10_000);
    for rec in &mut records {
        if record_type(rec) == Some(RecordType::Series) {
            decode_series(rec, &mut decoded).unwrap();
            for s in &mut decoded {
                if s.r#ref == b {
                    s.labels = series(0);
                }
            }
            rec.clear();
            encode_series(&decoded, rec);
        }
    }
    let s = |r#ref, t, v| RefSample { r#ref, t, v };
    let (mut early, mut names, mut later) = (Vec::new(), Vec::new(), Vec::new());
    encode_samples(&[s(fresh, 60_000, 1.0), s(fresh, 7 * h, 2.0)], &mut early);
    encode_series(
        &[
            RefSeries {
                r#ref: fresh,
                labels: series(2),
            },
            RefSeries {
                r#ref: r(3),
                labels: series(98),
            },
            RefSeries {
                r#ref: fresh + 1,
                labels: series(99),
            },
        ],
        &mut names,
    );
    encode_samples(
        &[
            s(fresh, 30_000, 3.0),
            s(fresh, 6 * h + 15_000, 4.0),
            s(r(3), 45_000, 5.0),
            s(r(3), 6 * h + 30_000, 6.0),
            s(a, 15_000, 7.0),
            s(fresh + 1, 1_000, 9.0),
        ],
        &mut later,
    );
    records.extend([early, names, later]);
    std::fs::remove_dir_all(&wal_dir).unwrap();
    let (mut wal, _) = aion_wal::Wal::open(&wal_dir, aion_wal::WalOptions::default()).unwrap();
    let all_records: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    wal.log(&all_records).unwrap();
    wal.close().unwrap();

    let open = |prefilter: bool, hand_off: bool| {
        super::replay_reader::PREFILTER_OFF.set(!prefilter);
        super::replay_reader::HAND_OFF_ALWAYS.set(hand_off);
        let db = Db::open_read_only_with(dir.path(), small_opts()).unwrap();
        super::replay_reader::PREFILTER_OFF.set(false);
        super::replay_reader::HAND_OFF_ALWAYS.set(false);
        let mut report = db.replay_report().clone();
        report.duration = Duration::ZERO;
        (dump_of(&db, i64::MIN, i64::MAX, &all()), report)
    };
    let (dump, report) = open(true, false);
    let (dump_without, report_without) = open(false, false);
    assert_eq!(report, report_without);
    assert_eq!(dump, dump_without);
    // Samples records handed on undecoded (what the reading thread does
    // while the applying one waits) come to the same.
    let (dump_handed, report_handed) = open(true, true);
    assert_eq!(report, report_handed);
    assert_eq!(dump, dump_handed);
    assert!(
        report.mmapped_chunks > 0 && report.samples_skipped > 0,
        "{report:?}"
    );
    assert!(report.mmapped_chunks_ignored > 0, "{report:?}");
    assert!(report.unknown_series_refs > 0, "{report:?}");
    // Series 0 took series 1's later samples.
    let zero = &dump[&series(0).to_string()];
    assert!(zero.iter().any(|&(t, _)| t > 5 * h), "{:?}", zero.last());
    assert!(dump.contains_key(&series(99).to_string()));
}

/// A dropped appender's series go to the head's pool; the next appender
/// whose first append by reference names one of them takes the set over,
/// a truncation empties the pool (so its series can go), and a set from
/// before a truncation is not pooled.
#[test]
fn a_new_appender_takes_over_its_streams_series() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let pooled = |db: &Db| db.head().known_pool.lock().series();
    let mut app = db.appender();
    let refs: Vec<_> = (0..3)
        .map(|i| app.append(&series(i), 1_000, i as f64).unwrap())
        .collect();
    app.commit().unwrap();
    drop(app);
    assert_eq!(pooled(&db), 3);
    for step in 2..5i64 {
        let mut app = db.appender();
        // The stream's second series first: any of the set's series finds it.
        app.append_ref(refs[1], step * 1_000, step as f64).unwrap();
        assert_eq!(pooled(&db), 0, "taken over");
        app.append_ref(refs[0], step * 1_000, step as f64).unwrap();
        app.append_ref(refs[2], step * 1_000, step as f64).unwrap();
        app.commit().unwrap();
        drop(app);
        assert_eq!(pooled(&db), 3);
    }
    let d = dump_of(&db, i64::MIN, i64::MAX, &all());
    for i in 0..3 {
        let want: Vec<(i64, u64)> = [(1_000, i as f64), (2_000, 2.0), (3_000, 3.0), (4_000, 4.0)]
            .iter()
            .map(|&(t, v)| (t, f64::to_bits(v)))
            .collect();
        assert_eq!(d[&series(i).to_string()], want);
    }
    // The pool keeps no series from a truncation.
    let h = 3_600_000;
    let rep = db.head().truncate_memory(10 * h).unwrap();
    assert_eq!((rep.series_removed, rep.series_kept_in_use), (3, 0));
    assert_eq!(pooled(&db), 0);
    assert!(matches!(
        db.appender().append_ref(refs[1], 10 * h, 1.0),
        Err(Error::UnknownSeriesRef(_))
    ));
    // An appender open across a truncation holds its series, and its set
    // is not pooled after it.
    let mut open = db.appender();
    open.append(&series(7), 10 * h, 1.0).unwrap();
    open.commit().unwrap();
    open.append(&series(7), 10 * h + 1_000, 1.0).unwrap();
    let rep = db.head().truncate_memory(20 * h).unwrap();
    assert_eq!((rep.series_removed, rep.series_kept_in_use), (0, 1));
    drop(open);
    assert_eq!(pooled(&db), 0, "stale set");
    let rep = db.head().truncate_memory(20 * h).unwrap();
    assert_eq!((rep.series_removed, rep.series_kept_in_use), (1, 0));
}

/// An appender adds the series it created to the postings at its commit
/// (not one by one as it creates them); a series created by an appender
/// that has not committed is indexed by whichever appender commits
/// samples to it first; rolled-back and dropped appenders' series are
/// indexed too (they stay until a truncation finds them empty, as in
/// Prometheus). Each series is in its lists once.
#[test]
fn created_series_are_indexed_once_by_the_first_commit_or_end() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let postings = |db: &Db, i: usize| {
        let p = &db.head().postings;
        (
            p.postings("i", &i.to_string()).collect_refs(),
            p.all_postings().collect_refs().len(),
        )
    };
    let mut creator = db.appender();
    let r0 = creator.append(&series(0), 1_000, 0.0).unwrap();
    let r1 = creator.append(&series(1), 1_000, 1.0).unwrap();
    assert_eq!(postings(&db, 0), (vec![], 0), "not before the commit");
    // Another appender uses series 1 and commits first: it indexes it.
    let mut other = db.appender();
    assert_eq!(other.append(&series(1), 500, 2.0).unwrap(), r1);
    other.commit().unwrap();
    assert_eq!(postings(&db, 1), (vec![r1], 1));
    assert_eq!(postings(&db, 0), (vec![], 1));
    creator.commit().unwrap();
    assert_eq!(postings(&db, 0), (vec![r0], 2));
    assert_eq!(postings(&db, 1), (vec![r1], 2), "once");
    // Rolled back, and dropped without a commit.
    let mut app = db.appender();
    let r2 = app.append(&series(2), 1_000, 0.0).unwrap();
    app.rollback().unwrap();
    assert_eq!(postings(&db, 2), (vec![r2], 3));
    let mut app = db.appender();
    let r3 = app.append(&series(3), 1_000, 0.0).unwrap();
    drop(app);
    assert_eq!(postings(&db, 3), (vec![r3], 4));
    // The committed samples are found through the postings.
    let d = dump_of(&db, i64::MIN, i64::MAX, &all());
    let want = vec![(500, 2f64.to_bits()), (1_000, 1f64.to_bits())];
    assert_eq!(d[&series(1).to_string()], want);
    assert_eq!(d.len(), 2);
    // A reopen replays both series records and samples.
    drop(db);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(dump_of(&db, i64::MIN, i64::MAX, &all()), d);
}
