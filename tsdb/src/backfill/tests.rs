//! Backfills checked against the samples that went in.

use std::collections::BTreeMap;

use aion_model::histogram::Histogram;
use aion_model::Labels;

use super::*;
use crate::block::{Block, BlockSeriesSource};
use aion_storage::{Queryable, SampleValue};

type Data = BTreeMap<Labels, Vec<(i64, f64)>>;

fn read_dir_blocks(dir: &Path) -> (Vec<BlockMeta>, Data) {
    let mut metas = Vec::new();
    let mut data = Data::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let b = Block::open(&p).unwrap();
        b.verify().unwrap();
        metas.push(b.meta());
        let q = b.querier(i64::MIN, i64::MAX).unwrap();
        let mut set = q.select(true, None, &[]);
        while let Some(s) = set.next() {
            let mut s = s.unwrap();
            let v = data.entry(s.labels.clone()).or_default();
            v.extend(crate::block::tests_support::drain(&mut s.samples));
        }
    }
    for v in data.values_mut() {
        v.sort_by_key(|s| s.0);
    }
    (metas, data)
}

fn gen(series: usize, hours: i64) -> Data {
    (0..series)
        .map(|i| {
            let l = Labels::from_pairs(&[("__name__", "m"), ("s", &i.to_string())]).unwrap();
            let step = 15_000 + (i as i64 % 3) * 5_000;
            let s = (0..hours * 3_600_000 / step)
                .map(|k| (k * step + 1_700_000_000_000, (k % 17) as f64 + i as f64))
                .collect();
            (l, s)
        })
        .collect()
}

fn run(data: &Data, opts: BackfillOptions, shuffle: bool) -> (tempfile::TempDir, BackfillReport) {
    let dir = tempfile::tempdir().unwrap();
    let mut all: Vec<(&Labels, i64, f64)> = data
        .iter()
        .flat_map(|(l, s)| s.iter().map(move |&(t, v)| (l, t, v)))
        .collect();
    if shuffle {
        let mut x = 0x1234_5678u64;
        for i in (1..all.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            all.swap(i, (x % (i as u64 + 1)) as usize);
        }
    }
    let mut b = Backfiller::new(dir.path(), opts).unwrap();
    for (l, t, v) in all {
        b.add(l, t, v).unwrap();
    }
    let report = b.finish().unwrap();
    (dir, report)
}

#[test]
fn blocks_per_window_hold_every_sample() {
    let data = gen(7, 5);
    let (dir, report) = run(&data, BackfillOptions::default(), false);
    let (metas, got) = read_dir_blocks(dir.path());
    assert_eq!(got, data);
    assert_eq!(report.blocks.len(), metas.len());
    // 5 h starting mid-window: 3 or 4 two-hour windows.
    assert!((3..=4).contains(&metas.len()), "{}", metas.len());
    for m in &metas {
        assert_eq!(m.compaction.level, 1);
        assert_eq!(m.compaction.sources, [m.ulid]);
        let w = m.min_time.div_euclid(DEFAULT_BLOCK_RANGE_MS);
        assert_eq!((m.max_time - 1).div_euclid(DEFAULT_BLOCK_RANGE_MS), w);
    }
    assert_eq!(
        report.samples,
        data.values().map(|v| v.len() as u64).sum::<u64>()
    );
}

#[test]
fn spilled_unsorted_input_gives_the_same_blocks() {
    let data = gen(9, 3);
    let (a, _) = run(&data, BackfillOptions::default(), false);
    let opts = BackfillOptions {
        max_buffered_samples: 500,
        ..BackfillOptions::default()
    };
    let (b, report) = run(&data, opts, true);
    let (ma, da) = read_dir_blocks(a.path());
    let (mb, db) = read_dir_blocks(b.path());
    assert_eq!(da, db);
    assert_eq!(db, data);
    assert_eq!(report.duplicates_dropped, 0);
    // Same windows, same chunks: the index and chunk files are identical.
    assert_eq!(ma.len(), mb.len());
    for (x, y) in ma.iter().zip(&mb) {
        let fa = a.path().join(x.ulid.to_string());
        let fb = b.path().join(y.ulid.to_string());
        assert_eq!(
            std::fs::read(fa.join("index")).unwrap(),
            std::fs::read(fb.join("index")).unwrap()
        );
        assert_eq!(
            std::fs::read(fa.join("chunks/000001")).unwrap(),
            std::fs::read(fb.join("chunks/000001")).unwrap()
        );
    }
    // Only blocks are left: the spill directory is gone.
    assert!(std::fs::read_dir(b.path())
        .unwrap()
        .all(|e| Block::open(e.unwrap().path()).is_ok()));
}

#[test]
fn duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let l = Labels::from_pairs(&[("a", "b")]).unwrap();
    let mut b = Backfiller::new(dir.path(), BackfillOptions::default()).unwrap();
    b.add(&l, 10, 1.0).unwrap();
    b.add(&l, 10, 1.0).unwrap();
    b.add(&l, 20, 2.0).unwrap();
    let r = b.finish().unwrap();
    assert_eq!(r.duplicates_dropped, 1);
    assert_eq!(r.samples, 2);

    let dir = tempfile::tempdir().unwrap();
    let mut b = Backfiller::new(dir.path(), BackfillOptions::default()).unwrap();
    b.add(&l, 10, 1.0).unwrap();
    b.add(&l, 10, 2.0).unwrap();
    let err = b.finish().unwrap_err().to_string();
    assert!(
        err.contains("duplicate sample for timestamp 10") && err.contains("a=\"b\""),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn compatible_block_durations() {
    let h = 3_600_000;
    assert_eq!(BackfillOptions::block_duration_for(0), 2 * h);
    assert_eq!(BackfillOptions::block_duration_for(5 * h), 2 * h);
    assert_eq!(BackfillOptions::block_duration_for(6 * h), 6 * h);
    assert_eq!(BackfillOptions::block_duration_for(24 * h), 18 * h);
}

#[test]
fn import_errors_leave_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.om");
    std::fs::write(&input, "a 1 1\na 2 2\nb{x=\"y\" 3 3\n# EOF\n").unwrap();
    let out = tmp.path().join("out");
    let err = import_openmetrics(&input, &out, BackfillOptions::default(), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert_eq!(err, "line 3:8: expected comma or right brace, found ' '");
    assert!(!out.exists());

    std::fs::write(&input, "a 1\n# EOF\n").unwrap();
    let err = import_openmetrics(&input, &out, BackfillOptions::default(), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("line 1:1: expected timestamp for series"),
        "{err}"
    );

    std::fs::write(&input, "# TYPE a gauge\na 1 1\na 2 2.5\n# EOF\n").unwrap();
    let r = import_openmetrics(&input, &out, BackfillOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(r.samples, 2);
    assert_eq!(r.blocks[0].min_time, 1000);
    assert_eq!(r.blocks[0].max_time, 2501);
}

#[test]
fn import_reads_in_pieces_with_exact_line_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.om");
    // More than one read piece, with the error far into the file.
    let mut text = String::from("# TYPE a gauge\n");
    let n = 300_000;
    for i in 0..n {
        text.push_str(&format!("a{{x=\"{}\"}} {i} {}\n", i % 100, i));
    }
    let ok = text.clone() + "# EOF\n";
    std::fs::write(&input, &ok).unwrap();
    let r = import_openmetrics(
        &input,
        &tmp.path().join("ok"),
        BackfillOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(r.samples, n);
    // Data after # EOF in a later piece.
    std::fs::write(&input, ok.clone() + &"a 1 1\n".repeat(1_000_000)).unwrap();
    let err = import_openmetrics(
        &input,
        &tmp.path().join("x"),
        BackfillOptions::default(),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        format!("line {}:1: unexpected data after # EOF", n + 3)
    );
    // A bad line deep inside.
    let mut bad = text.clone();
    bad.push_str("a{x=} 1 1\n# EOF\n");
    std::fs::write(&input, bad).unwrap();
    let err = import_openmetrics(
        &input,
        &tmp.path().join("y"),
        BackfillOptions::default(),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        format!("line {}:5: expected label value, found '}}'", n + 2)
    );
    // No # EOF at all.
    std::fs::write(&input, text).unwrap();
    let err = import_openmetrics(
        &input,
        &tmp.path().join("z"),
        BackfillOptions::default(),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        format!("line {}:1: data does not end with # EOF", n + 2)
    );
}

/// Floats, then integer histograms (growing, a new bucket, a reset),
/// then float histograms, 15 s apart over 5 h, per series.
fn histogram_input(series: usize) -> Vec<(Labels, Vec<(i64, SampleValue)>)> {
    use aion_model::histogram::Span;
    (0..series)
        .map(|i| {
            let l = Labels::from_pairs(&[("__name__", "h"), ("s", &i.to_string())]).unwrap();
            let samples = (0..1200i64)
                .map(|k| {
                    let t = 1_700_000_000_000 + k * 15_000;
                    let level = if k < 700 { k + 1 } else { k - 699 } as u64 + i as u64;
                    let buckets = if k < 300 { 8 } else { 12 };
                    let h = Histogram {
                        schema: 2,
                        zero_threshold: 2f64.powi(-128),
                        count: level * buckets,
                        sum: level as f64 * 0.75,
                        positive_spans: vec![Span {
                            offset: -3,
                            length: buckets as u32,
                        }],
                        positive_buckets: std::iter::once(level as i64)
                            .chain((1..buckets).map(|_| 0))
                            .collect(),
                        ..Histogram::default()
                    };
                    let v = match k {
                        0..100 => SampleValue::Float(k as f64),
                        100..1000 => SampleValue::Histogram(h.into()),
                        _ => SampleValue::FloatHistogram(h.to_float().into()),
                    };
                    (t, v)
                })
                .collect();
            (l, samples)
        })
        .collect()
}

fn add_value(b: &mut Backfiller, l: &Labels, t: i64, v: &SampleValue) {
    match v {
        SampleValue::Float(f) => b.add(l, t, *f).unwrap(),
        SampleValue::Histogram(h) => b.add_histogram(l, t, h).unwrap(),
        SampleValue::FloatHistogram(h) => b.add_float_histogram(l, t, h).unwrap(),
    }
}

#[test]
fn histograms_are_backfilled_spilled_or_not() {
    use crate::block::tests_support::{drain_values, Seen};

    let input = histogram_input(3);
    let blocks_of = |opts: BackfillOptions, reversed: bool| {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Backfiller::new(dir.path(), opts).unwrap();
        let mut all: Vec<(&Labels, i64, &SampleValue)> = input
            .iter()
            .flat_map(|(l, s)| s.iter().map(move |(t, v)| (l, *t, v)))
            .collect();
        if reversed {
            all.reverse();
        }
        for (l, t, v) in all {
            add_value(&mut b, l, t, v);
        }
        let report = b.finish().unwrap();
        assert_eq!(report.samples, 3 * 1200);
        let mut got: BTreeMap<Labels, Vec<(i64, Seen)>> = BTreeMap::new();
        let mut files = Vec::new();
        for meta in &report.blocks {
            let p = dir.path().join(meta.ulid.to_string());
            let block = Block::open(&p).unwrap();
            block.verify().unwrap();
            let q = block.querier(i64::MIN, i64::MAX).unwrap();
            let mut set = q.select(true, None, &[]);
            while let Some(s) = set.next() {
                let mut s = s.unwrap();
                got.entry(s.labels.clone())
                    .or_default()
                    .extend(drain_values(&mut s.samples));
            }
            files.push(std::fs::read(p.join("chunks/000001")).unwrap());
            // Histogram chunks are cut by size: at least 10 samples, not
            // far above 1 KiB (a histogram sample here is ~10 bytes).
            let mut set = block.chunk_series(&[], i64::MIN, i64::MAX);
            while let Some(s) = set.next_series() {
                let s = s.unwrap();
                let n = s.chunks.len();
                for (i, c) in s.chunks.iter().enumerate() {
                    if !c.encoding.is_float() && i + 1 < n && s.chunks[i + 1].encoding == c.encoding
                    {
                        assert!(c.num_samples() >= 10, "{c:?}");
                        assert!(c.data.len() < 2200, "{}", c.data.len());
                    }
                }
            }
        }
        (dir, report, got, files)
    };
    let (_a, ra, got, files_a) = blocks_of(BackfillOptions::default(), false);
    let spilling = BackfillOptions {
        max_buffered_samples: 300,
        ..BackfillOptions::default()
    };
    let (_b, rb, got_spilled, files_b) = blocks_of(spilling, true);
    let want: BTreeMap<Labels, Vec<(i64, Seen)>> = input
        .iter()
        .map(|(l, s)| {
            (
                l.clone(),
                s.iter().map(|(t, v)| (*t, Seen::of(v))).collect(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(got_spilled, want);
    assert_eq!(files_a, files_b, "spilling changes no chunk byte");
    let stats = |r: &BackfillReport| {
        r.blocks.iter().fold((0, 0), |(f, h), m| {
            (
                f + m.stats.num_float_samples,
                h + m.stats.num_histogram_samples,
            )
        })
    };
    assert_eq!(stats(&ra), (300, 3300));
    assert_eq!(stats(&rb), stats(&ra));
}

#[test]
fn histogram_duplicates() {
    use aion_model::histogram::FloatHistogram;
    let dir = tempfile::tempdir().unwrap();
    let l = Labels::from_pairs(&[("a", "b")]).unwrap();
    let h = FloatHistogram {
        count: 2.0,
        zero_count: 2.0,
        ..FloatHistogram::default()
    };
    let mut b = Backfiller::new(dir.path(), BackfillOptions::default()).unwrap();
    b.add_float_histogram(&l, 10, &h).unwrap();
    b.add_float_histogram(&l, 10, &h).unwrap();
    b.add_float_histogram(&l, 20, &h).unwrap();
    let r = b.finish().unwrap();
    assert_eq!((r.duplicates_dropped, r.samples), (1, 2));

    // Another histogram, or a float, at the same time is an error.
    for other in [1.5, f64::NAN] {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Backfiller::new(dir.path(), BackfillOptions::default()).unwrap();
        b.add_float_histogram(&l, 10, &h).unwrap();
        if other.is_nan() {
            b.add(&l, 10, 1.0).unwrap();
        } else {
            let mut h2 = h.clone();
            h2.sum = other;
            b.add_float_histogram(&l, 10, &h2).unwrap();
        }
        let err = b.finish().unwrap_err().to_string();
        assert!(err.contains("duplicate sample for timestamp 10"), "{err}");
    }
}
