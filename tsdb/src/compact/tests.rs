//! Compactions checked sample by sample.

use std::collections::BTreeMap;

use aion_chunkenc::Encoding;
use aion_model::{Labels, Matcher};

use super::*;
use crate::block::tests_support::{dataset, drain, write_block as write_test_block};
use crate::block::{Block, BlockMeta, BlockSeriesSource, BlockWriterOptions};
use aion_storage::Queryable;

type Data = BTreeMap<Labels, Vec<(i64, f64)>>;

fn read(b: &Block) -> Data {
    let q = b.querier(i64::MIN, i64::MAX).unwrap();
    let mut set = q.select(true, None, &[]);
    let mut out = Data::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        out.insert(s.labels.clone(), drain(&mut s.samples));
    }
    out
}

fn shift(d: &Data, by: i64) -> Data {
    d.iter()
        .map(|(l, s)| (l.clone(), s.iter().map(|&(t, v)| (t + by, v)).collect()))
        .collect()
}

#[test]
fn three_adjacent_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let h = 3_600_000;
    let base = dataset(10, 240);
    let mut want = Data::new();
    let mut blocks = Vec::new();
    for k in 0..3 {
        let d = shift(&base, k * 2 * h);
        for (l, s) in &d {
            want.entry(l.clone()).or_default().extend(s.iter().copied());
        }
        blocks.push(write_test_block(dir.path(), &d, k * 2 * h, (k + 1) * 2 * h));
    }
    let refs: Vec<&Block> = blocks.iter().collect();
    let meta = compact_blocks(dir.path(), &refs, BlockWriterOptions::default())
        .unwrap()
        .unwrap();
    assert_eq!((meta.min_time, meta.max_time), (0, 6 * h));
    assert_eq!(meta.compaction.level, 2);
    assert_eq!(meta.compaction.parents.len(), 3);
    let mut sources: Vec<_> = blocks.iter().map(|b| b.ulid()).collect();
    sources.sort();
    assert_eq!(meta.compaction.sources, sources);
    let out = Block::open(dir.path().join(meta.ulid.to_string())).unwrap();
    out.verify().unwrap();
    assert_eq!(read(&out), want);
    assert_eq!(
        meta.stats.num_chunks,
        3 * 10 * 2,
        "chunks are copied, not re-cut"
    );
}

#[test]
fn overlapping_blocks_merge_and_deduplicate() {
    let dir = tempfile::tempdir().unwrap();
    let base = dataset(5, 300);
    // Block b overlaps a's second half with other values (a, the older
    // block, wins shared timestamps) and has identical chunks too.
    let a = write_test_block(dir.path(), &base, 0, 300 * 15_000);
    let mut other = shift(&base, 150 * 15_000);
    for s in other.values_mut() {
        for (_, v) in s.iter_mut() {
            *v += 0.5;
        }
    }
    let b = write_test_block(dir.path(), &other, 150 * 15_000, 450 * 15_000);
    let c = write_test_block(dir.path(), &base, 0, 300 * 15_000);
    let mut want = base.clone();
    for (l, s) in &other {
        let w = want.get_mut(l).unwrap();
        w.extend(s.iter().copied().filter(|(t, _)| *t >= 300 * 15_000));
    }
    let meta = compact_blocks(dir.path(), &[&b, &a, &c], BlockWriterOptions::default())
        .unwrap()
        .unwrap();
    let out = Block::open(dir.path().join(meta.ulid.to_string())).unwrap();
    out.verify().unwrap();
    assert_eq!(read(&out), want);
}

#[test]
fn deleted_samples_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let base = dataset(4, 300);
    let a = write_test_block(dir.path(), &base, 0, 300 * 15_000);
    a.delete(0, 100 * 15_000, &[Matcher::equal("odd", "yes")])
        .unwrap();
    a.delete(i64::MIN, i64::MAX, &[Matcher::equal("i", "000")])
        .unwrap();
    let want = read(&a);
    let meta = compact_blocks(dir.path(), &[&a], BlockWriterOptions::default())
        .unwrap()
        .unwrap();
    let out = Block::open(dir.path().join(meta.ulid.to_string())).unwrap();
    assert_eq!(read(&out), want);
    assert_eq!(out.meta().stats.num_tombstones, 0);
    assert_eq!(out.meta().stats.num_series, 3);
    // All deleted: no block.
    a.delete(i64::MIN, i64::MAX, &[Matcher::equal("__name__", "m")])
        .unwrap();
    assert!(
        compact_blocks(dir.path(), &[&a], BlockWriterOptions::default())
            .unwrap()
            .is_none()
    );
}

/// A chunk's encoding, range and bytes.
type RawChunk = (Encoding, i64, i64, Vec<u8>);

/// Every chunk of `b`, series by series.
fn raw_chunks(b: &Block) -> Vec<(Labels, Vec<RawChunk>)> {
    let mut set = b.chunk_series(&[], i64::MIN, i64::MAX);
    let mut out = Vec::new();
    while let Some(s) = set.next_series() {
        let s = s.unwrap();
        let chunks = s
            .chunks
            .iter()
            .map(|c| (c.encoding, c.min_time, c.max_time, c.data.to_vec()))
            .collect();
        out.push((s.labels, chunks));
    }
    out
}

#[test]
fn untouched_histogram_and_xor2_chunks_are_copied_as_they_are() {
    use aion_chunkenc::{HistogramAppender, Xor2Appender};
    use aion_model::histogram::{Histogram, Span};

    use crate::chunks::SeriesChunk;

    let dir = tempfile::tempdir().unwrap();
    let h = 3_600_000;
    let mut blocks = Vec::new();
    for k in 0..2i64 {
        let ulid = ulid::Ulid::generate();
        let mut w =
            crate::block::BlockWriter::create(dir.path(), ulid, Default::default()).unwrap();
        for s in ["", "__name__", "f", "h"] {
            w.add_symbol(s).unwrap();
        }
        let t0 = k * 2 * h;
        let mut xor2 = Xor2Appender::new();
        let mut hist = HistogramAppender::new();
        for i in 0..100 {
            let t = t0 + i * 15_000;
            xor2.append(t0 - 1000, t, i as f64).unwrap();
            let x = Histogram {
                count: 2 * i as u64,
                sum: i as f64,
                positive_spans: vec![Span {
                    offset: 0,
                    length: 2,
                }],
                positive_buckets: vec![i, 0],
                ..Histogram::default()
            };
            hist.append(t, &x).unwrap();
        }
        let end = t0 + 99 * 15_000;
        let chunk = |encoding, data: &[u8]| SeriesChunk {
            min_time: t0,
            max_time: end,
            encoding,
            data: data.to_vec(),
        };
        w.add_series(
            &Labels::from_pairs(&[("__name__", "f")]).unwrap(),
            &[chunk(Encoding::Xor2, xor2.bytes())],
        )
        .unwrap();
        w.add_series(
            &Labels::from_pairs(&[("__name__", "h")]).unwrap(),
            &[chunk(Encoding::Histogram, hist.bytes())],
        )
        .unwrap();
        w.finish(BlockMeta::new(ulid, t0, t0 + 2 * h)).unwrap();
        blocks.push(Block::open(dir.path().join(ulid.to_string())).unwrap());
    }
    let refs: Vec<&Block> = blocks.iter().collect();
    let meta = compact_blocks(dir.path(), &refs, BlockWriterOptions::default())
        .unwrap()
        .unwrap();
    assert_eq!(meta.stats.num_samples, 400);
    assert_eq!(meta.stats.num_float_samples, 200);
    assert_eq!(meta.stats.num_histogram_samples, 200);
    let out = Block::open(dir.path().join(meta.ulid.to_string())).unwrap();
    let mut want = raw_chunks(&blocks[0]);
    for ((_, a), (_, b)) in want.iter_mut().zip(raw_chunks(&blocks[1])) {
        a.extend(b);
    }
    assert_eq!(raw_chunks(&out), want);
}
