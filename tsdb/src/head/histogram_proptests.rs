//! Native histograms out of order, and a property test of reopened
//! heads over any mix of floats, histograms and stale markers.

use aion_chunkenc::{Encoding, STALE_NAN};
use aion_model::histogram::{FloatHistogram, Histogram, Span};
use proptest::prelude::*;

use super::histogram_test_support::*;
use crate::{Db, Error, Options};

fn ooo_opts() -> Options {
    Options {
        out_of_order_time_window_ms: 30 * 60_000,
        out_of_order_cap_max: 4,
        ..opts()
    }
}

#[test]
fn out_of_order_histograms_inside_the_window_are_kept_logged_and_replayed() {
    const MIN: i64 = 60_000;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), ooo_opts()).unwrap();
    let (a, b) = (lbl("a"), lbl("b"));
    let mut expect = Dump::new();
    let mut app = db.appender();
    for m in 60..70 {
        let h = simple(m as u64);
        app.append_histogram(&a, m * MIN, &h).unwrap();
        expect
            .entry(a.to_string())
            .or_default()
            .push((m * MIN, vh(&h)));
        app.append(&b, m * MIN, m as f64).unwrap();
        expect
            .entry(b.to_string())
            .or_default()
            .push((m * MIN, V::F((m as f64).to_bits())));
    }
    app.commit().unwrap();
    // Out of order, inside the 30 m window: histograms, floats between
    // them, float histograms on a float series; one batch per minute.
    for m in (40..55).rev() {
        let t = m * MIN + 30_000;
        if m % 3 == 0 {
            app.append(&a, t, m as f64).unwrap();
            expect
                .entry(a.to_string())
                .or_default()
                .push((t, V::F((m as f64).to_bits())));
        } else {
            let h = simple(m as u64 * 10);
            app.append_histogram(&a, t, &h).unwrap();
            expect.entry(a.to_string()).or_default().push((t, vh(&h)));
        }
        let g = gauge(m as f64);
        app.append_float_histogram(&b, t, &g).unwrap();
        expect.entry(b.to_string()).or_default().push((t, vfh(&g)));
        app.commit().unwrap();
    }
    // Too old, and an out-of-order duplicate (dropped at commit).
    assert!(matches!(
        app.append_histogram(&a, 20 * MIN, &simple(1)),
        Err(Error::TooOldSample)
    ));
    app.append_histogram(&a, 54 * MIN + 30_000, &simple(7))
        .unwrap();
    app.commit().unwrap();
    drop(app);
    for v in expect.values_mut() {
        v.sort_by_key(|s| s.0);
    }
    let check = |db: &Db, what: &str| {
        assert_eq!(dump(db, i64::MIN, i64::MAX), expect, "{what}");
        let chunks = chunk_dump(db, i64::MIN, i64::MAX);
        assert_eq!(flatten(&chunks), expect, "{what}");
    };
    check(&db, "live");
    let head = db.head_stats(0);
    assert!(head.out_of_order_appended >= 30, "{head:?}");
    db.close().unwrap();
    // The full out-of-order chunks were m-mapped with their encodings.
    let db = Db::open(dir.path(), ooo_opts()).unwrap();
    let w = db.replay_report().wbl.clone();
    assert!(
        w.histograms_read >= 20 && w.mmap_markers > 0 && w.mmapped_chunks > 0,
        "{w:?}"
    );
    assert_eq!(w.records_skipped, 0);
    check(&db, "reopened");
    db.close().unwrap();
    // Without chunks_head/, the WBL alone (its markers name chunks no
    // longer there) rebuilds the out-of-order samples.
    std::fs::remove_dir_all(dir.path().join("chunks_head")).unwrap();
    let db = Db::open(dir.path(), ooo_opts()).unwrap();
    check(&db, "from the WBL alone");
    // Out-of-order compaction writes them into a block, in histogram
    // chunks where they are histograms.
    let blocks = db.compact_out_of_order().unwrap();
    assert_eq!(blocks.len(), 1);
    let block = db
        .blocks()
        .into_iter()
        .find(|b| b.meta().ulid == blocks[0])
        .unwrap();
    let stats = block.meta().stats;
    assert_eq!(stats.num_samples, 30);
    assert_eq!(stats.num_float_samples, 5);
    let q = crate::block::BlockChunkQuerier::new(block.clone(), i64::MIN, i64::MAX);
    let mut got = chunk_dump_querier(&q);
    let ooo_part = |d: &Dump| -> Dump {
        d.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.iter().filter(|s| s.0 < 60 * MIN).cloned().collect(),
                )
            })
            .collect()
    };
    let flat = flatten(&got);
    assert_eq!(flat, ooo_part(&expect));
    let b_chunks = got.remove(&b.to_string()).unwrap();
    assert!(b_chunks.iter().all(|c| c.0 == Encoding::FloatHistogram));
    db.close().unwrap();
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Op {
    Float(usize, f64),
    Hist(usize, u8),
    FloatHist(usize, u8),
    Stale(usize),
    Commit,
    Rollback,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, -1e3..1e3f64).prop_map(|(s, v)| Op::Float(s, v)),
        4 => (0..3usize, any::<u8>()).prop_map(|(s, v)| Op::Hist(s, v)),
        3 => (0..3usize, any::<u8>()).prop_map(|(s, v)| Op::FloatHist(s, v)),
        1 => (0..3usize).prop_map(Op::Stale),
        2 => Just(Op::Commit),
        1 => Just(Op::Rollback),
    ]
}

/// A histogram from a seed: sometimes more buckets, sometimes a reset.
fn seeded(v: u8) -> Histogram {
    let n = 1 + usize::from(v % 4);
    let buckets: Vec<i64> = (0..n).map(|i| i64::from(v / 4) + i as i64).collect();
    Histogram {
        count: buckets.iter().sum::<i64>() as u64,
        sum: f64::from(v),
        schema: i32::from(v % 3),
        zero_threshold: 1e-128,
        positive_spans: vec![Span {
            offset: i32::from(v % 2),
            length: n as u32,
        }],
        positive_buckets: deltas(&buckets),
        ..Histogram::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any mix of floats, histograms and stale markers, committed or
    /// rolled back in any batches: queries, a reopened head and a head
    /// rebuilt from the WAL alone yield exactly what was committed.
    #[test]
    fn reopened_heads_yield_exactly_what_was_committed(ops in prop::collection::vec(op(), 1..120)) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options { samples_per_chunk: 8, ..opts() }).unwrap();
        let names = [lbl("s0"), lbl("s1"), lbl("s2")];
        let mut expect = Dump::new();
        let mut pending: Vec<(usize, i64, V)> = Vec::new();
        // The kind of each series' newest committed-or-pending sample.
        let mut kind: [Option<bool>; 3] = [None; 3]; // Some(true): int histogram
        let mut committed_kind = kind;
        let mut app = db.appender();
        let mut t = 0i64;
        for op in ops {
            t += 1000;
            match op {
                Op::Float(s, v) => {
                    app.append(&names[s], t, v).unwrap();
                    pending.push((s, t, V::F(v.to_bits())));
                    kind[s] = None;
                }
                Op::Hist(s, v) => {
                    let h = seeded(v);
                    app.append_histogram(&names[s], t, &h).unwrap();
                    pending.push((s, t, vh(&h)));
                    kind[s] = Some(true);
                }
                Op::FloatHist(s, v) => {
                    let h = seeded(v).to_float();
                    app.append_float_histogram(&names[s], t, &h).unwrap();
                    pending.push((s, t, vfh(&h)));
                    kind[s] = Some(false);
                }
                Op::Stale(s) => {
                    app.append(&names[s], t, STALE_NAN).unwrap();
                    let v = match kind[s] {
                        Some(int) => {
                            let stale = FloatHistogram { sum: STALE_NAN, ..FloatHistogram::default() };
                            canon(stale, int)
                        }
                        None => V::F(STALE_NAN.to_bits()),
                    };
                    pending.push((s, t, v));
                }
                Op::Commit => {
                    app.commit().unwrap();
                    for (s, t, v) in pending.drain(..) {
                        expect.entry(names[s].to_string()).or_default().push((t, v));
                    }
                    committed_kind = kind;
                }
                Op::Rollback => {
                    app.rollback().unwrap();
                    pending.clear();
                    kind = committed_kind;
                }
            }
        }
        app.commit().unwrap();
        for (s, t, v) in pending.drain(..) {
            expect.entry(names[s].to_string()).or_default().push((t, v));
        }
        drop(app);
        let nonempty = |d: Dump| -> Dump { d.into_iter().filter(|(_, v)| !v.is_empty()).collect() };
        prop_assert_eq!(nonempty(dump(&db, i64::MIN, i64::MAX)), expect.clone());
        prop_assert_eq!(nonempty(flatten(&chunk_dump(&db, i64::MIN, i64::MAX))), expect.clone());
        db.close().unwrap();
        let db = Db::open(dir.path(), opts()).unwrap();
        prop_assert_eq!(nonempty(dump(&db, i64::MIN, i64::MAX)), expect.clone());
        db.close().unwrap();
        std::fs::remove_dir_all(dir.path().join("chunks_head")).unwrap();
        let db = Db::open(dir.path(), opts()).unwrap();
        prop_assert_eq!(nonempty(dump(&db, i64::MIN, i64::MAX)), expect);
        db.close().unwrap();
    }
}
