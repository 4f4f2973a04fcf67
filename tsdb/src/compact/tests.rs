//! Compactions checked sample by sample.

use std::collections::BTreeMap;

use aion_model::{Labels, Matcher};

use super::*;
use crate::block::tests_support::{dataset, drain, write_block as write_test_block};
use crate::block::{Block, BlockWriterOptions};
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
