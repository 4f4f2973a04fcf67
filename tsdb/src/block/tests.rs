//! Blocks written, reopened and queried.

use std::collections::BTreeMap;

use aion_chunkenc::{Encoding, SampleIterator, ValueType, XorAppender};
use aion_model::{Labels, Matcher};
use ulid::Ulid;

use super::*;
use crate::chunks::SeriesChunk;
use aion_storage::{Querier, Queryable};

type Data = BTreeMap<Labels, Vec<(i64, f64)>>;

/// A block of `series` series with samples every 15 s over `[0, 3600s)`,
/// chunks of 120 samples.
pub(crate) fn write_block(dir: &std::path::Path, data: &Data, mint: i64, maxt: i64) -> Block {
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
        let chunks: Vec<SeriesChunk> = samples
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
            .collect();
        w.add_series(l, &chunks).unwrap();
    }
    w.finish(BlockMeta::new(ulid, mint, maxt)).unwrap().unwrap();
    Block::open(dir.join(ulid.to_string())).unwrap()
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

fn select(q: &dyn Querier, ms: &[Matcher]) -> Data {
    let mut set = q.select(true, None, ms);
    let mut out = Data::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        out.insert(s.labels.clone(), drain(&mut s.samples));
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
    let mut set = reopened.chunk_series(&[], i64::MIN, i64::MAX);
    let mut via_chunks = Data::new();
    while let Some(s) = set.next_series() {
        let s = s.unwrap();
        let mut samples = Vec::new();
        for c in &s.chunks {
            let chunk = c.decode().unwrap();
            let mut it = chunk.iter();
            let got = drain(&mut it);
            assert_eq!((got[0].0, got[got.len() - 1].0), (c.min_time, c.max_time));
            samples.extend(got);
        }
        via_chunks.insert(s.labels, samples);
    }
    assert_eq!(via_chunks, want);
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
