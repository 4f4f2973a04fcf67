//! Blocks written, reopened and queried.

use std::collections::BTreeMap;

use std::sync::Arc;

use aion_chunkenc::{is_stale_nan, Encoding, SampleIterator, ValueType, XorAppender};
use aion_model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};
use aion_model::{Labels, Matcher};
use ulid::Ulid;

use super::*;
use crate::chunks::SeriesChunk;
use aion_storage::merge::encode_series;
use aion_storage::{Querier, Queryable, SampleValue, ValueSliceIterator};

type Data = BTreeMap<Labels, Vec<(i64, f64)>>;

/// Samples of any kind per series.
pub(crate) type Values = BTreeMap<Labels, Vec<(i64, SampleValue)>>;

/// A block of the series `data` (sorted by labels) with the chunks
/// `chunks_of` cuts from each series' samples.
fn write_chunked<S>(
    dir: &std::path::Path,
    data: &BTreeMap<Labels, S>,
    mint: i64,
    maxt: i64,
    chunks_of: impl Fn(&S) -> Vec<SeriesChunk>,
) -> Block {
    let ulid = Ulid::generate();
    let mut w = BlockWriter::create(dir, ulid, BlockWriterOptions::default()).unwrap();
    let mut symbols: Vec<String> = vec![String::new()];
    for l in data.keys() {
        for p in l {
            symbols.push(p.name.to_string());
            symbols.push(p.value.to_string());
        }
    }
    symbols.sort();
    symbols.dedup();
    for s in &symbols {
        w.add_symbol(s).unwrap();
    }
    for (l, samples) in data {
        w.add_series(l, &chunks_of(samples)).unwrap();
    }
    w.finish(BlockMeta::new(ulid, mint, maxt)).unwrap().unwrap();
    Block::open(dir.join(ulid.to_string())).unwrap()
}

/// A block of `series` series with samples every 15 s over `[0, 3600s)`,
/// chunks of 120 samples.
pub(crate) fn write_block(dir: &std::path::Path, data: &Data, mint: i64, maxt: i64) -> Block {
    write_chunked(dir, data, mint, maxt, |samples| {
        samples
            .chunks(120)
            .map(|c| {
                let mut app = XorAppender::new();
                for &(t, v) in c {
                    app.append(t, v).unwrap();
                }
                SeriesChunk {
                    min_time: c[0].0,
                    max_time: c[c.len() - 1].0,
                    encoding: Encoding::Xor,
                    data: app.bytes().to_vec(),
                }
            })
            .collect()
    })
}

/// A block of floats and native histograms, chunks cut as Prometheus's
/// `seriesToChunkEncoder` cuts them.
pub(crate) fn write_value_block(
    dir: &std::path::Path,
    data: &Values,
    mint: i64,
    maxt: i64,
) -> Block {
    write_chunked(dir, data, mint, maxt, |samples| {
        encode_series(&mut ValueSliceIterator::new(samples), Encoding::Xor).unwrap()
    })
}

/// A sample as a comparison sees it: float bits, or a histogram with its
/// sum's bits apart (NaN stale markers compare), empty buckets dropped
/// (re-encoding to a wider layout pads earlier samples with them), and
/// only the gauge hint kept (readers derive the others).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seen {
    Float(u64),
    Histogram(u64, Histogram),
    FloatHistogram(u64, FloatHistogram),
}

fn plain_hint(hint: CounterResetHint) -> CounterResetHint {
    match hint {
        CounterResetHint::Gauge => CounterResetHint::Gauge,
        _ => CounterResetHint::Unknown,
    }
}

impl Seen {
    pub(crate) fn of(v: &SampleValue) -> Seen {
        match v {
            SampleValue::Float(f) => Seen::Float(f.to_bits()),
            SampleValue::Histogram(h) => {
                let bits = h.sum.to_bits();
                if is_stale_nan(h.sum) {
                    return Seen::Histogram(bits, Histogram::default());
                }
                let mut h = (**h).clone();
                h.compact(0);
                h.sum = 0.0;
                h.counter_reset_hint = plain_hint(h.counter_reset_hint);
                Seen::Histogram(bits, h)
            }
            SampleValue::FloatHistogram(h) => {
                let bits = h.sum.to_bits();
                if is_stale_nan(h.sum) {
                    return Seen::FloatHistogram(bits, FloatHistogram::default());
                }
                let mut h = (**h).clone();
                h.compact(0);
                h.sum = 0.0;
                h.counter_reset_hint = plain_hint(h.counter_reset_hint);
                Seen::FloatHistogram(bits, h)
            }
        }
    }
}

/// Every sample of `it`, of any kind, as [`Seen`].
pub(crate) fn drain_values(it: &mut dyn SampleIterator) -> Vec<(i64, Seen)> {
    let mut out = Vec::new();
    let mut h = Histogram::default();
    let mut fh = FloatHistogram::default();
    loop {
        let v = match it.next() {
            ValueType::None => break,
            ValueType::Float => SampleValue::Float(it.at().1),
            ValueType::Histogram => {
                it.at_histogram(&mut h);
                SampleValue::Histogram(Arc::new(h.clone()))
            }
            ValueType::FloatHistogram => {
                it.at_float_histogram(&mut fh);
                SampleValue::FloatHistogram(Arc::new(fh.clone()))
            }
        };
        out.push((it.at_t(), Seen::of(&v)));
    }
    assert!(it.err().is_none(), "{:?}", it.err());
    out
}

/// `data` as [`drain_values`] would read it back.
pub(crate) fn seen(data: &Values) -> BTreeMap<Labels, Vec<(i64, Seen)>> {
    data.iter()
        .map(|(l, s)| {
            (
                l.clone(),
                s.iter().map(|(t, v)| (*t, Seen::of(v))).collect(),
            )
        })
        .collect()
}

pub(crate) fn dataset(series: usize, samples: i64) -> Data {
    (0..series)
        .map(|i| {
            let l = Labels::from_pairs(&[
                ("__name__", "m"),
                ("i", &format!("{i:03}")),
                ("odd", if i % 2 == 1 { "yes" } else { "no" }),
            ])
            .unwrap();
            let s = (0..samples)
                .map(|k| (k * 15_000, (i as i64 * 1000 + k) as f64))
                .collect();
            (l, s)
        })
        .collect()
}

pub(crate) fn drain(it: &mut dyn SampleIterator) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    while it.next() == ValueType::Float {
        out.push(it.at());
    }
    assert!(it.err().is_none(), "{:?}", it.err());
    out
}

/// Every series `q` selects with `ms`, its samples read by `read`.
fn select_with<T>(
    q: &dyn Querier,
    ms: &[Matcher],
    read: fn(&mut dyn SampleIterator) -> Vec<T>,
) -> BTreeMap<Labels, Vec<T>> {
    let mut set = q.select(true, None, ms);
    let mut out = BTreeMap::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        out.insert(s.labels.clone(), read(&mut s.samples));
    }
    out
}

fn select(q: &dyn Querier, ms: &[Matcher]) -> Data {
    select_with(q, ms, drain)
}

/// Every series of `block` read chunk by chunk through the chunk-level
/// view (re-encoded where deletions cut in), each chunk's range checked.
fn read_via_chunks<T>(
    block: &Block,
    read: fn(&mut dyn SampleIterator) -> Vec<(i64, T)>,
) -> BTreeMap<Labels, Vec<(i64, T)>> {
    let mut set = block.chunk_series(&[], i64::MIN, i64::MAX);
    let mut out = BTreeMap::new();
    while let Some(s) = set.next_series() {
        let s = s.unwrap();
        let mut samples = Vec::new();
        for c in &s.chunks {
            let chunk = c.decode().unwrap();
            let mut it = chunk.iter();
            let got = read(&mut it);
            assert_eq!((got[0].0, got[got.len() - 1].0), (c.min_time, c.max_time));
            samples.extend(got);
        }
        out.insert(s.labels, samples);
    }
    out
}

#[test]
fn written_block_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(20, 300);
    let block = write_block(dir.path(), &data, 0, 300 * 15_000);
    let meta = block.meta();
    assert_eq!(meta.stats.num_series, 20);
    assert_eq!(meta.stats.num_samples, 6000);
    assert_eq!(meta.stats.num_float_samples, 6000);
    assert_eq!(meta.stats.num_chunks, 60);
    block.verify().unwrap();
    assert_eq!(
        std::fs::read(block.dir().join("tombstones")).unwrap(),
        [0x01, 0x30, 0xBA, 0x30, 0x01, 0, 0, 0, 0]
    );
    let q = block.querier(i64::MIN, i64::MAX).unwrap();
    assert_eq!(select(&*q, &[Matcher::equal("__name__", "m")]), data);
    let odd = select(&*q, &[Matcher::equal("odd", "yes")]);
    assert_eq!(odd.len(), 10);
    assert_eq!(
        q.label_values("odd", &[]).unwrap(),
        ["no".to_string(), "yes".to_string()]
    );
    assert_eq!(q.label_names(&[]).unwrap(), ["__name__", "i", "odd"]);
}

#[test]
fn range_and_seek() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(3, 300);
    let block = write_block(dir.path(), &data, 0, 300 * 15_000);
    let (mint, maxt) = (1_000_000, 2_000_000);
    let q = block.querier(mint, maxt).unwrap();
    let got = select(&*q, &[]);
    let want: Data = data
        .iter()
        .map(|(l, s)| {
            (
                l.clone(),
                s.iter()
                    .copied()
                    .filter(|(t, _)| (mint..=maxt).contains(t))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(got, want);

    let mut set = q.select(true, None, &[Matcher::equal("i", "001")]);
    let mut s = set.next().unwrap().unwrap();
    assert_eq!(s.samples.seek(0), ValueType::Float);
    assert_eq!(s.samples.at_t(), 1_005_000);
    assert_eq!(s.samples.seek(1_800_001), ValueType::Float);
    assert_eq!(s.samples.at_t(), 1_815_000);
    assert_eq!(s.samples.seek(10), ValueType::Float, "seek never goes back");
    assert_eq!(s.samples.at_t(), 1_815_000);
    assert_eq!(s.samples.seek(2_000_001), ValueType::None);
    assert_eq!(s.samples.next(), ValueType::None);
}

#[test]
fn deletions_hide_samples_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(4, 300);
    let block = write_block(dir.path(), &data, 0, 300 * 15_000);
    let n = block
        .delete(30_000, 1_799_999, &[Matcher::equal("odd", "yes")])
        .unwrap();
    assert_eq!(n, 2);
    // Whole series deleted: it disappears from selections.
    block
        .delete(i64::MIN, i64::MAX, &[Matcher::equal("i", "000")])
        .unwrap();
    let expect = |l: &Labels, t: i64| {
        l.get("i") != Some("000")
            && !(l.get("odd") == Some("yes") && (30_000..=1_799_999).contains(&t))
    };
    let want: Data = data
        .iter()
        .filter(|(l, _)| l.get("i") != Some("000"))
        .map(|(l, s)| {
            (
                l.clone(),
                s.iter().copied().filter(|(t, _)| expect(l, *t)).collect(),
            )
        })
        .collect();
    let q = block.querier(i64::MIN, i64::MAX).unwrap();
    assert_eq!(select(&*q, &[]), want);
    assert_eq!(block.meta().stats.num_tombstones, 3);
    let dir_of = block.dir().to_path_buf();
    drop(q);
    drop(block);
    let reopened = Block::open(&dir_of).unwrap();
    assert_eq!(reopened.meta().stats.num_tombstones, 3);
    let q = reopened.querier(i64::MIN, i64::MAX).unwrap();
    assert_eq!(select(&*q, &[]), want);

    // The chunk-level view re-encodes cut chunks without deleted samples.
    assert_eq!(read_via_chunks(&reopened, drain), want);
}

#[test]
fn open_errors_name_the_block() {
    let dir = tempfile::tempdir().unwrap();
    let block = write_block(dir.path(), &dataset(2, 10), 0, 150_000);
    let bdir = block.dir().to_path_buf();
    drop(block);
    std::fs::write(bdir.join("meta.json"), "{").unwrap();
    let err = Block::open(&bdir).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("block {}", bdir.display())),
        "{err}"
    );
    assert!(err.contains("meta.json"), "{err}");
}

#[test]
fn unfinished_writer_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ulid = Ulid::generate();
    let mut w = BlockWriter::create(dir.path(), ulid, BlockWriterOptions::default()).unwrap();
    w.add_symbol("a").unwrap();
    drop(w);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // An empty block is not kept either.
    let w = BlockWriter::create(dir.path(), ulid, BlockWriterOptions::default()).unwrap();
    assert!(w.finish(BlockMeta::new(ulid, 0, 1)).unwrap().is_none());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn failure_before_rename_leaves_no_block() {
    let dir = tempfile::tempdir().unwrap();
    crate::failpoint::arm("block_writer.before_rename", 0);
    let ulid = Ulid::generate();
    let mut w = BlockWriter::create(dir.path(), ulid, BlockWriterOptions::default()).unwrap();
    for s in ["", "a", "b"] {
        w.add_symbol(s).unwrap();
    }
    let mut app = XorAppender::new();
    app.append(1, 1.0).unwrap();
    let chunk = SeriesChunk {
        min_time: 1,
        max_time: 1,
        encoding: Encoding::Xor,
        data: app.bytes(),
    };
    w.add_series(&Labels::from_pairs(&[("a", "b")]).unwrap(), &[chunk])
        .unwrap();
    let err = w.finish(BlockMeta::new(ulid, 1, 2)).unwrap_err();
    assert!(matches!(err, crate::Error::Injected(_)), "{err}");
    assert!(crate::failpoint::take_log().contains(&"block_writer.before_rename"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// An integer counter histogram with `n` buckets from index `first`.
fn counter(count: u64, first: i32, n: u32) -> SampleValue {
    let mut buckets = vec![0i64; n as usize];
    buckets[0] = (count / u64::from(n)) as i64;
    buckets[n as usize - 1] += (count % u64::from(n)) as i64;
    SampleValue::Histogram(Arc::new(Histogram {
        count,
        sum: count as f64 * 0.25,
        schema: 1,
        zero_threshold: 2f64.powi(-128),
        positive_spans: vec![Span {
            offset: first,
            length: n,
        }],
        positive_buckets: buckets,
        ..Histogram::default()
    }))
}

fn mixed_series() -> Values {
    let mut v = Values::new();
    // Floats, then integer histograms (a bucket appears, a reset, a
    // stale marker), then float histograms.
    let mut a: Vec<(i64, SampleValue)> = (0..50)
        .map(|k| (k * 15_000, SampleValue::Float(k as f64)))
        .collect();
    a.extend((50..200).map(|k| {
        let n = if k < 90 { 2 } else { 3 };
        let count = if k < 150 { 10 * k as u64 } else { k as u64 };
        (k * 15_000, counter(count, -1, n))
    }));
    a.push((
        200 * 15_000,
        SampleValue::Histogram(Arc::new(Histogram {
            sum: aion_chunkenc::STALE_NAN,
            ..Histogram::default()
        })),
    ));
    a.extend((201..260).map(|k| {
        let SampleValue::Histogram(h) = counter(k as u64, 0, 4) else {
            unreachable!()
        };
        (
            k * 15_000,
            SampleValue::FloatHistogram(Arc::new(h.to_float())),
        )
    }));
    v.insert(Labels::from_pairs(&[("__name__", "mixed")]).unwrap(), a);
    // A gauge histogram series.
    let g: Vec<(i64, SampleValue)> = (0..260)
        .map(|k| {
            let SampleValue::Histogram(h) = counter((k * 7 % 13) as u64, 2, 2) else {
                unreachable!()
            };
            let h = Histogram {
                counter_reset_hint: CounterResetHint::Gauge,
                ..(*h).clone()
            };
            (k * 15_000, SampleValue::Histogram(Arc::new(h)))
        })
        .collect();
    v.insert(Labels::from_pairs(&[("__name__", "gauge")]).unwrap(), g);
    v
}

fn select_values(q: &dyn Querier, ms: &[Matcher]) -> BTreeMap<Labels, Vec<(i64, Seen)>> {
    select_with(q, ms, drain_values)
}

#[test]
fn histogram_chunks_read_back_with_ranges_seeks_and_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed_series();
    let block = write_value_block(dir.path(), &data, 0, 260 * 15_000);
    let meta = block.meta();
    assert_eq!(meta.stats.num_samples, 520);
    assert_eq!(meta.stats.num_float_samples, 50);
    assert_eq!(meta.stats.num_histogram_samples, 470);
    let q = block.querier(i64::MIN, i64::MAX).unwrap();
    let want = seen(&data);
    assert_eq!(select_values(&*q, &[]), want);

    // A range cutting into chunks of each kind.
    let (mint, maxt) = (40 * 15_000, 220 * 15_000);
    let q = block.querier(mint, maxt).unwrap();
    let ranged: BTreeMap<_, _> = want
        .iter()
        .map(|(l, s)| {
            let kept = s.iter().filter(|(t, _)| (mint..=maxt).contains(t));
            (l.clone(), kept.cloned().collect::<Vec<_>>())
        })
        .collect();
    assert_eq!(select_values(&*q, &[]), ranged);

    // Seeks land on histograms and float histograms and report the kind.
    let mut set = q.select(true, None, &[Matcher::equal("__name__", "mixed")]);
    let mut s = set.next().unwrap().unwrap();
    assert_eq!(s.samples.seek(0), ValueType::Float);
    assert_eq!(s.samples.at_t(), mint);
    assert_eq!(s.samples.seek(55 * 15_000), ValueType::Histogram);
    let mut h = Histogram::default();
    assert_eq!(s.samples.at_histogram(&mut h), 55 * 15_000);
    assert_eq!(h.count, 550);
    let mut fh = FloatHistogram::default();
    assert_eq!(s.samples.at_float_histogram(&mut fh), 55 * 15_000);
    assert_eq!(fh.count, 550.0, "integer histograms read as floats too");
    assert_eq!(s.samples.seek(0), ValueType::Histogram, "no move backwards");
    assert_eq!(s.samples.seek(210 * 15_000), ValueType::FloatHistogram);
    assert_eq!(s.samples.at_float_histogram(&mut fh), 210 * 15_000);
    assert_eq!(fh.count, 210.0);
    assert_eq!(s.samples.seek(maxt + 1), ValueType::None);

    // Deleted intervals hide histograms as they hide floats, also through
    // the re-encoded chunks of the chunk-level view.
    block
        .delete(
            100 * 15_000,
            205 * 15_000,
            &[Matcher::equal("__name__", "mixed")],
        )
        .unwrap();
    let deleted = |l: &Labels, t: i64| {
        l.get("__name__") == Some("mixed") && (100 * 15_000..=205 * 15_000).contains(&t)
    };
    let want: BTreeMap<_, _> = want
        .iter()
        .map(|(l, s)| {
            let kept = s.iter().filter(|(t, _)| !deleted(l, *t));
            (l.clone(), kept.cloned().collect::<Vec<_>>())
        })
        .collect();
    let q = block.querier(i64::MIN, i64::MAX).unwrap();
    assert_eq!(select_values(&*q, &[]), want);
    assert_eq!(read_via_chunks(&block, drain_values), want);
}

#[test]
fn unreadable_chunk_encodings_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let ulid = Ulid::generate();
    let mut w = BlockWriter::create(dir.path(), ulid, BlockWriterOptions::default()).unwrap();
    for s in ["", "a", "b"] {
        w.add_symbol(s).unwrap();
    }
    // A histogram-with-start-timestamps chunk (Prometheus 3.14's
    // experimental encoding 6): recognised, not read.
    let chunk = SeriesChunk {
        min_time: 1,
        max_time: 1,
        encoding: Encoding::FloatHistogramSt,
        data: vec![0, 1, 0, 0],
    };
    w.add_series(&Labels::from_pairs(&[("a", "b")]).unwrap(), &[chunk])
        .unwrap();
    w.finish(BlockMeta::new(ulid, 1, 2)).unwrap().unwrap();
    let block = Block::open(dir.path().join(ulid.to_string())).unwrap();
    let q = block.querier(i64::MIN, i64::MAX).unwrap();
    let mut set = q.select(true, None, &[]);
    let mut s = set.next().unwrap().unwrap();
    assert_eq!(s.samples.next(), ValueType::None);
    let err = s.samples.err().expect("an error").to_string();
    assert!(err.contains("floathistogramST"), "{err}");
}
