//! Native histograms in the head through the public API: appends and
//! their refusals, mixed float/histogram series, stale markers, chunk
//! headers, isolation, WAL and `chunks_head/` replay, checkpoints.

use std::collections::BTreeMap;

use aion_chunkenc::{is_stale_nan, Encoding, STALE_NAN};
use aion_model::histogram::{CounterResetHint, Histogram, Span};
use aion_model::Matcher;

use super::histogram_test_support::*;
use crate::{Db, Error, FloatChunkEncoding, Options};

#[test]
fn histograms_round_trip_through_queries_reopen_and_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    // 1.5 h at 15 s: several histogram chunks per series, some on disk.
    let expect = fill_mixed(&db, 360);
    assert_eq!(dump(&db, i64::MIN, i64::MAX), expect);
    let chunks = chunk_dump(&db, i64::MIN, i64::MAX);
    assert_eq!(flatten(&chunks), expect);
    let encodings = |k: &str| -> Vec<Encoding> {
        let mut e: Vec<Encoding> = chunks[&lbl(k).to_string()].iter().map(|c| c.0).collect();
        e.dedup();
        e
    };
    assert_eq!(encodings("a"), [Encoding::Histogram]);
    assert_eq!(encodings("b"), [Encoding::FloatHistogram]);
    assert_eq!(encodings("d"), [Encoding::Histogram]);
    assert_eq!(encodings("e"), [Encoding::Xor]);
    assert_eq!(
        encodings("c")[..5],
        [
            Encoding::Xor,
            Encoding::Histogram,
            Encoding::Xor,
            Encoding::Histogram,
            Encoding::Xor
        ]
    );
    // Gauge histogram chunks say so.
    assert!(chunks[&lbl("b").to_string()]
        .iter()
        .all(|c| c.1 == CounterResetHint::Gauge));
    // The counter's resets start chunks with the reset header.
    assert!(chunks[&lbl("a").to_string()]
        .iter()
        .any(|c| c.1 == CounterResetHint::CounterReset));
    db.close().unwrap();

    let db = Db::open(dir.path(), opts()).unwrap();
    let r = db.replay_report().clone();
    assert!(r.histograms_read > 0, "{r:?}");
    assert!(r.mmapped_chunks > 0, "{r:?}");
    assert_eq!(r.mmapped_chunks_ignored, 0, "{r:?}");
    assert!(
        r.unknown_records.is_empty() && r.histograms_invalid == 0,
        "{r:?}"
    );
    assert!(db.warnings().is_empty(), "{:?}", db.warnings());
    assert_eq!(dump(&db, i64::MIN, i64::MAX), expect);
    // The same chunks. Only the open chunk, rebuilt from the WAL, may
    // have lost its header: as in Prometheus, a chunk started on replay
    // has no predecessor to derive it from (queries compare histograms
    // then, with the same result).
    let replayed = chunk_dump(&db, i64::MIN, i64::MAX);
    assert_eq!(flatten(&replayed), flatten(&chunks));
    for (k, want) in &chunks {
        let got = &replayed[k];
        assert_eq!(got.len(), want.len(), "{k}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let rebuilt = i + 1 == got.len() && g.1 == CounterResetHint::Unknown;
            assert!(
                g.0 == w.0 && g.2 == w.2 && (g.1 == w.1 || rebuilt),
                "{k} chunk {i}"
            );
        }
    }
    // Appends continue the replayed chunks.
    let mut more = expect.clone();
    let mut app = db.appender();
    let t = 360 * 15_000;
    let h = simple(9_999);
    app.append_histogram(&lbl("c"), t, &h).unwrap();
    more.get_mut(&lbl("c").to_string())
        .unwrap()
        .push((t, vh(&h)));
    app.commit().unwrap();
    std::mem::forget(db); // a kill: nothing flushed or closed
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(dump(&db, i64::MIN, i64::MAX), more);
    // Without `chunks_head/`, the WAL alone rebuilds everything.
    db.close().unwrap();
    std::fs::remove_dir_all(dir.path().join("chunks_head")).unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.replay_report().mmapped_chunks, 0);
    assert_eq!(dump(&db, i64::MIN, i64::MAX), more);
    db.close().unwrap();
}

#[test]
fn histogram_append_rules_match_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let l = lbl("h");
    let mut app = db.appender();
    let r = app.append_histogram(&l, 10_000, &simple(5)).unwrap();
    app.commit().unwrap();

    // Malformed histograms are bad input naming the problem.
    let mut bad = simple(6);
    bad.count = 7;
    let e = app.append_histogram_ref(r, 20_000, &bad).unwrap_err();
    assert!(matches!(e, Error::InvalidHistogram(_)), "{e}");
    assert!(
        e.to_string()
            .contains("6 observations found in buckets, but the Count field is 7"),
        "{e}"
    );
    assert_eq!(e.kind(), aion_storage::ErrorKind::InvalidSample);
    assert!(e.kind().is_bad_input() && e.is_sample_error());
    let mut bad = simple(6);
    bad.positive_buckets = vec![6, -7];
    let e = app.append_histogram_ref(r, 20_000, &bad).unwrap_err();
    assert!(
        e.to_string()
            .contains("spans need 1 buckets, have 2 buckets"),
        "{e}"
    );
    let mut neg = simple(1).to_float();
    neg.positive_buckets = vec![-1.0];
    let e = app.append_float_histogram(&l, 20_000, &neg).unwrap_err();
    assert!(
        e.to_string()
            .contains("bucket number 1 has observation count of -1"),
        "{e}"
    );

    // Identical duplicate: accepted, ignored. Different: refused.
    app.append_histogram_ref(r, 10_000, &simple(5)).unwrap();
    let e = app.append_histogram_ref(r, 10_000, &simple(6)).unwrap_err();
    assert!(
        matches!(e, Error::DuplicateHistogramSample { timestamp: 10_000 }),
        "{e}"
    );
    assert_eq!(e.to_string(), "duplicate sample for timestamp");
    // A float histogram equal in value is another kind: a duplicate.
    let e = app
        .append_float_histogram_ref(r, 10_000, &simple(5).to_float())
        .unwrap_err();
    assert!(matches!(e, Error::DuplicateHistogramSample { .. }), "{e}");
    // A float at a histogram's timestamp.
    let e = app.append_ref(r, 10_000, 1.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "duplicate sample for timestamp 10000; overrides not allowed: existing is a histogram, new value 1"
    );
    assert!(e.kind().is_bad_input());
    // Older than the newest sample.
    assert!(matches!(
        app.append_histogram_ref(r, 5_000, &simple(5)),
        Err(Error::OutOfOrderSample)
    ));
    app.commit().unwrap();
    // A histogram at a float's timestamp.
    let f = lbl("f");
    app.append(&f, 1_000, 1.0).unwrap();
    app.commit().unwrap();
    assert!(matches!(
        app.append_histogram(&f, 1_000, &simple(1)),
        Err(Error::DuplicateHistogramSample { .. })
    ));
    // Out of bounds once the head has moved on.
    app.append_histogram_ref(r, 5 * H, &simple(9)).unwrap();
    app.commit().unwrap();
    drop(app);
    let mut app = db.appender();
    assert!(matches!(
        app.append_histogram(&l, 0, &simple(1)),
        Err(Error::OutOfBounds)
    ));
    drop(app);
    let got = dump(&db, i64::MIN, i64::MAX);
    assert_eq!(
        got[&l.to_string()],
        [(10_000, vh(&simple(5))), (5 * H, vh(&simple(9)))]
    );
    let stats = db.head_stats(1);
    assert!(stats.duplicates_refused >= 3, "{stats:?}");
    db.close().unwrap();
}

#[test]
fn rollback_and_drop_discard_histograms() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let mut app = db.appender();
    app.append_histogram(&lbl("a"), 1, &simple(1)).unwrap();
    app.append(&lbl("a"), 2, 1.0).unwrap();
    app.append_float_histogram(&lbl("b"), 1, &gauge(1.0))
        .unwrap();
    assert_eq!(app.len(), 3);
    app.rollback().unwrap();
    assert!(app.is_empty());
    app.append_histogram(&lbl("a"), 3, &simple(1)).unwrap();
    drop(app);
    assert!(dump(&db, i64::MIN, i64::MAX).values().all(|v| v.is_empty()));
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(dump(&db, i64::MIN, i64::MAX).values().all(|v| v.is_empty()));
    assert_eq!(db.replay_report().histograms_read, 0);
    db.close().unwrap();
}

fn stale_sum(v: &V) -> bool {
    matches!(v, V::H(h, _) if is_stale_nan(h.sum))
}

#[test]
fn a_float_stale_marker_ends_a_histogram_series_as_a_histogram() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let (a, b, c) = (lbl("a"), lbl("b"), lbl("c"));
    let mut app = db.appender();
    app.append_histogram(&a, 1_000, &simple(1)).unwrap();
    app.append_float_histogram(&b, 1_000, &gauge(2.0)).unwrap();
    app.append(&c, 1_000, 1.0).unwrap();
    app.commit().unwrap();
    // Committed histograms: the series' newest sample decides.
    app.append(&a, 2_000, STALE_NAN).unwrap();
    app.append(&b, 2_000, STALE_NAN).unwrap();
    app.append(&c, 2_000, STALE_NAN).unwrap();
    // In one batch: the batch's histogram decides.
    app.append_histogram(&a, 3_000, &simple(2)).unwrap();
    app.append(&a, 4_000, STALE_NAN).unwrap();
    app.commit().unwrap();
    let check = |db: &Db| {
        let got = dump(db, i64::MIN, i64::MAX);
        let a = &got[&lbl("a").to_string()];
        assert!(
            matches!(a[1].1, V::H(_, true)) && stale_sum(&a[1].1),
            "{a:?}"
        );
        assert!(
            matches!(a[3].1, V::H(_, true)) && stale_sum(&a[3].1),
            "{a:?}"
        );
        let b = &got[&lbl("b").to_string()];
        assert!(
            matches!(b[1].1, V::H(_, false)) && stale_sum(&b[1].1),
            "{b:?}"
        );
        let c = &got[&lbl("c").to_string()];
        assert!(matches!(c[1].1, V::F(bits) if is_stale_nan(f64::from_bits(bits))));
        // The stale markers share the histograms' chunks; a histogram
        // after a stale marker starts a new one, as in Prometheus.
        let chunks = chunk_dump(db, i64::MIN, i64::MAX);
        let shape = |k: &str| -> Vec<(Encoding, usize)> {
            chunks[&lbl(k).to_string()]
                .iter()
                .map(|c| (c.0, c.2.len()))
                .collect()
        };
        assert_eq!(
            shape("a"),
            [(Encoding::Histogram, 2), (Encoding::Histogram, 2)]
        );
        // A stale marker (not a gauge) after a gauge: a chunk of its own.
        assert_eq!(
            shape("b"),
            [(Encoding::FloatHistogram, 1), (Encoding::FloatHistogram, 1)]
        );
    };
    check(&db);
    db.close().unwrap();
    // The WAL holds histogram records for them (what Prometheus 2.x
    // replays as histogram stale markers too).
    let mut reader = aion_wal::WalReader::replay(dir.path().join("wal")).unwrap();
    let mut dec = aion_wal::record::RecordDecoder::default();
    let mut stale_histograms = 0;
    while let Some(rec) = reader.next_record().unwrap() {
        match dec.decode(rec).unwrap() {
            aion_wal::record::Record::HistogramSamples(hs) => {
                stale_histograms += hs.iter().filter(|h| is_stale_nan(h.h.sum)).count()
            }
            aion_wal::record::Record::FloatHistogramSamples(hs) => {
                stale_histograms += hs.iter().filter(|h| is_stale_nan(h.fh.sum)).count()
            }
            _ => {}
        }
    }
    assert_eq!(stale_histograms, 3);
    let db = Db::open(dir.path(), opts()).unwrap();
    check(&db);
    db.close().unwrap();
}

#[test]
fn replay_turns_a_logged_float_stale_marker_of_a_histogram_series_into_one() {
    // Prometheus 3.x logs a float stale marker and converts it when
    // applying (and replaying): write such a WAL by hand.
    use aion_wal::record::{self, RefHistogramSample, RefSample, RefSeries};
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join("wal");
    let (mut wal, _) = aion_wal::Wal::open(&wal_dir, aion_wal::WalOptions::default()).unwrap();
    let mut series = Vec::new();
    record::encode_series(
        &[RefSeries {
            r#ref: 1,
            labels: lbl("a"),
        }],
        &mut series,
    );
    let mut hists = Vec::new();
    record::encode_histogram_samples(
        &[RefHistogramSample {
            r#ref: 1,
            t: 1_000,
            h: simple(3),
        }],
        &mut hists,
    );
    let mut stale = Vec::new();
    record::encode_samples(
        &[RefSample {
            r#ref: 1,
            t: 2_000,
            v: STALE_NAN,
        }],
        &mut stale,
    );
    // An unknown record type: skipped, and said.
    let unknown = vec![200u8, 1, 2, 3];
    wal.log(&[&series, &hists, &stale, &unknown]).unwrap();
    wal.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let got = dump(&db, i64::MIN, i64::MAX);
    let a = &got[&lbl("a").to_string()];
    assert_eq!(a.len(), 2);
    assert!(
        matches!(a[1].1, V::H(_, true)) && stale_sum(&a[1].1),
        "{a:?}"
    );
    let r = db.replay_report();
    assert_eq!(r.unknown_records, BTreeMap::from([(Some(200), 1)]));
    let w = db.warnings();
    assert!(
        w.iter().any(
            |w| w.contains("1 records of a type this build cannot apply skipped (type 200: 1)")
        ),
        "{w:?}"
    );
    db.close().unwrap();
}

#[test]
fn layout_changes_and_resets_cut_chunks_with_prometheus_headers() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let l = lbl("a");
    let mut app = db.appender();
    let mut t = 0;
    let mut push = |app: &mut crate::Appender, h: Histogram| {
        t += 15_000;
        app.append_histogram(&l, t, &h).unwrap();
        app.commit().unwrap();
    };
    push(&mut app, simple(1));
    push(&mut app, simple(2));
    // A new bucket: the chunk is re-encoded, not cut.
    let mut wider = simple(3);
    wider.positive_spans = vec![Span {
        offset: 0,
        length: 2,
    }];
    wider.positive_buckets = vec![3, -3];
    push(&mut app, wider);
    // A schema change: a new chunk of unknown relation.
    let mut coarser = simple(4);
    coarser.schema = -1;
    push(&mut app, coarser.clone());
    // A reset.
    coarser.count = 1;
    coarser.sum = 1.0;
    coarser.positive_buckets = vec![1];
    push(&mut app, coarser);
    let chunks = chunk_dump(&db, i64::MIN, i64::MAX);
    let shape: Vec<(Encoding, CounterResetHint, usize)> = chunks[&l.to_string()]
        .iter()
        .map(|c| (c.0, c.1, c.2.len()))
        .collect();
    use CounterResetHint::*;
    assert_eq!(
        shape,
        [
            (Encoding::Histogram, Unknown, 3),
            (Encoding::Histogram, Unknown, 1),
            (Encoding::Histogram, CounterReset, 1),
        ]
    );
    db.close().unwrap();
}

#[test]
fn queries_see_exactly_the_histograms_committed_before_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let l = lbl("a");
    let mut app = db.appender();
    for i in 1..=3 {
        app.append_histogram(&l, i * 1000, &simple(i as u64))
            .unwrap();
    }
    app.commit().unwrap();
    let head = db.head().clone();
    let q = crate::Head::querier(&head, i64::MIN, i64::MAX);
    let cq = crate::Head::chunk_querier(&head, i64::MIN, i64::MAX);
    for i in 4..=6 {
        app.append_histogram(&l, i * 1000, &simple(i as u64))
            .unwrap();
    }
    app.commit().unwrap();
    let old = dump_querier(&q);
    assert_eq!(old[&l.to_string()].len(), 3);
    // The open chunk holds six; the chunk reader gets it cut to three.
    let old_chunks = chunk_dump_querier(&cq);
    assert_eq!(flatten(&old_chunks), old);
    drop((q, cq));
    assert_eq!(dump(&db, i64::MIN, i64::MAX)[&l.to_string()].len(), 6);
    // Deletions cut histogram chunks too.
    db.delete(&[Matcher::equal("__name__", "a")], 2000, 4000)
        .unwrap();
    let got = dump(&db, i64::MIN, i64::MAX);
    let ts: Vec<i64> = got[&l.to_string()].iter().map(|s| s.0).collect();
    assert_eq!(ts, [1000, 5000, 6000]);
    assert_eq!(flatten(&chunk_dump(&db, i64::MIN, i64::MAX)), got);
    db.close().unwrap();
}

#[test]
fn checkpoints_keep_the_histograms_of_live_series() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        wal_segment_size: 32 * 1024,
        ..opts()
    };
    let db = Db::open(dir.path(), options.clone()).unwrap();
    let expect = fill_mixed(&db, 1440);
    let (first, last) = aion_wal::segment_range(&dir.path().join("wal"))
        .unwrap()
        .unwrap();
    assert!(
        last - first >= 3,
        "want several segments, got {first}..{last}"
    );
    // Keep everything: a checkpoint of the older segments with all of it.
    let (cp, removed) = db.head().truncate_wal(i64::MIN).unwrap();
    assert!(cp.is_some() && removed > 0);
    db.close().unwrap();
    // Drop the chunks too so the checkpoint must deliver the samples.
    std::fs::remove_dir_all(dir.path().join("chunks_head")).unwrap();
    let db = Db::open(dir.path(), options).unwrap();
    assert!(db.replay_report().checkpoint.is_some());
    assert_eq!(dump(&db, i64::MIN, i64::MAX), expect);
    db.close().unwrap();
}

#[test]
fn the_float_encoding_option_writes_xor2_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let xor2 = Options {
        float_chunk_encoding: FloatChunkEncoding::Xor2,
        ..opts()
    };
    let db = Db::open(dir.path(), xor2).unwrap();
    let mut app = db.appender();
    for i in 0..300 {
        app.append(&lbl("x"), i * 15_000, i as f64).unwrap();
        app.commit().unwrap();
    }
    let expect = dump(&db, i64::MIN, i64::MAX);
    let chunks = chunk_dump(&db, i64::MIN, i64::MAX);
    assert!(chunks[&lbl("x").to_string()].len() > 1);
    assert!(chunks[&lbl("x").to_string()]
        .iter()
        .all(|c| c.0 == Encoding::Xor2));
    db.close().unwrap();
    // Read back whatever the option is now; new chunks are XOR.
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(dump(&db, i64::MIN, i64::MAX), expect);
    let mut app = db.appender();
    app.append(&lbl("x"), 3 * H, 1.0).unwrap();
    app.commit().unwrap();
    let chunks = chunk_dump(&db, i64::MIN, i64::MAX);
    assert_eq!(
        chunks[&lbl("x").to_string()].last().unwrap().0,
        Encoding::Xor
    );
    db.close().unwrap();
}

#[test]
fn the_series_limit_applies_to_histogram_series() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            max_head_series: Some(1),
            ..opts()
        },
    )
    .unwrap();
    let mut app = db.appender();
    app.append_histogram(&lbl("a"), 1, &simple(1)).unwrap();
    assert!(matches!(
        app.append_float_histogram(&lbl("b"), 1, &gauge(1.0)),
        Err(Error::SeriesLimit { limit: 1 })
    ));
    app.append_histogram(&lbl("a"), 2, &simple(2)).unwrap();
    app.commit().unwrap();
    db.close().unwrap();
}
