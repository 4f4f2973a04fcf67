//! Head ranges persisted into blocks, and the steps a compaction reports.

use super::*;

#[test]
fn head_ranges_become_blocks_and_queries_merge() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let mut expect = Dump::new();
    fill(&db, 6, 0, 7 * H, &mut expect);
    let report = db.compact().unwrap();
    // 7 h of head: [0,2h) and [2h,4h) persisted, 3 h stay.
    assert_eq!(report.head_blocks.len(), 2, "{report:?}");
    let blocks = db.blocks();
    assert_eq!(
        blocks
            .iter()
            .map(|b| (b.min_time(), b.max_time()))
            .collect::<Vec<_>>(),
        [(0, 2 * H), (2 * H, 4 * H)]
    );
    for b in &blocks {
        let m = b.meta();
        assert_eq!(m.compaction.level, 1);
        assert_eq!(m.stats.num_series, 6);
        assert_eq!(m.stats.num_samples, 6 * 120);
        // The head's symbols, the empty string included.
        assert_eq!(b.index().symbol(0).unwrap(), "");
    }
    assert!(db.head().min_time() >= 4 * H);
    assert_eq!(dump(&db, i64::MIN, i64::MAX), expect);
    // A range inside one block, and one across block and head.
    let part = dump(&db, H, 5 * H);
    assert_eq!(part.values().next().unwrap().len(), 4 * 60 + 1);
    check_no_duplicates(&db, &expect);

    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.blocks().len(), 2);
    assert_eq!(dump(&db, i64::MIN, i64::MAX), expect);
    check_no_duplicates(&db, &expect);
    // Appends below the newest block are out of bounds.
    let mut app = db.appender();
    assert!(app.append(&series(0), 4 * H - 1, 1.0).is_err());
    drop(app);
    fill(&db, 6, 7 * H, 8 * H, &mut expect);
    assert_eq!(dump(&db, i64::MIN, i64::MAX), expect);

    let ro = Db::open_read_only(dir.path()).unwrap();
    assert_eq!(dump(&ro, i64::MIN, i64::MAX), expect);
}

#[test]
fn compaction_reports_each_step_before_taking_it() {
    use crate::CompactProgress;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let mut expect = Dump::new();
    fill(&db, 3, 0, 7 * H, &mut expect);
    let mut steps = Vec::new();
    let report = db.compact_with_progress(&mut |p| steps.push(p)).unwrap();
    assert_eq!(report.head_blocks.len(), 2);
    assert_eq!(
        steps[..2],
        [
            CompactProgress::PersistingHead {
                min_time: 0,
                max_time: 2 * H,
                done: 0,
                total: 2
            },
            CompactProgress::PersistingHead {
                min_time: 2 * H,
                max_time: 4 * H,
                done: 1,
                total: 2
            },
        ]
    );
    let merges = steps
        .iter()
        .filter(|p| matches!(p, CompactProgress::MergingBlocks { .. }))
        .count();
    assert_eq!(merges, report.compacted_blocks.len());
    assert_eq!(steps.last(), Some(&CompactProgress::ApplyingRetention));
}

#[test]
fn head_histograms_are_persisted_as_histogram_chunks() {
    use aion_chunkenc::{Chunk, Encoding};
    use aion_model::histogram::{CounterResetHint, Histogram, Span};
    use aion_storage::ChunkQuerier;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let h = |i: i64| Histogram {
        count: i as u64 * 2,
        sum: i as f64,
        positive_spans: vec![Span {
            offset: 0,
            length: 2,
        }],
        positive_buckets: vec![i, 0],
        ..Histogram::default()
    };
    let mut app = db.appender();
    let mut t = 0;
    while t < 7 * H {
        app.append_histogram(&series(0), t, &h(t / STEP)).unwrap();
        let mut g = h(t / STEP % 7).to_float();
        g.counter_reset_hint = CounterResetHint::Gauge;
        app.append_float_histogram(&series(1), t, &g).unwrap();
        app.append(&series(2), t, 1.0).unwrap();
        app.commit().unwrap();
        t += STEP;
    }
    drop(app);
    let report = db.compact().unwrap();
    assert_eq!(report.head_blocks.len(), 2, "{report:?}");
    let blocks = db.blocks();
    let first = &blocks[0];
    let stats = first.meta().stats;
    assert_eq!(
        (
            stats.num_samples,
            stats.num_float_samples,
            stats.num_histogram_samples
        ),
        (3 * 120, 120, 2 * 120)
    );
    // The block's chunks are the head's histogram chunks, as they were.
    let q = crate::block::BlockChunkQuerier::new(first.clone(), 0, 2 * H - 1);
    let mut set = q.select(true, None, &all());
    let mut seen = Vec::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        let (mut n, mut encodings) = (0, Vec::new());
        while let Some(c) = s.chunks.next() {
            let c = c.unwrap();
            encodings.push(c.encoding);
            let chunk = Chunk::from_bytes(c.encoding, c.data).unwrap();
            n += chunk.num_samples();
            if c.encoding == Encoding::FloatHistogram {
                match &chunk {
                    Chunk::FloatHistogram(f) => {
                        assert_eq!(f.counter_reset_header(), CounterResetHint::Gauge)
                    }
                    _ => unreachable!(),
                }
            }
        }
        encodings.dedup();
        seen.push((s.labels.get("i").unwrap().to_string(), encodings, n));
    }
    assert_eq!(
        seen,
        [
            ("00".to_string(), vec![Encoding::Histogram], 120),
            ("01".to_string(), vec![Encoding::FloatHistogram], 120),
            ("02".to_string(), vec![Encoding::Xor], 120),
        ]
    );
    db.close().unwrap();
}
