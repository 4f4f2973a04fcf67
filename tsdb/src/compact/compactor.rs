//! Writing a block out of other blocks (or any sorted series source).

use std::collections::BTreeSet;
use std::path::Path;

use ulid::Ulid;

use crate::block::{Block, BlockMeta, BlockSeriesSource, BlockWriter, BlockWriterOptions};
use crate::{Error, Result};

use super::merge::MergedSeries;

/// The meta of a block compacted from `parents`, as Prometheus's
/// `CompactBlockMetas` computes it: the union of their ranges and
/// sources, one level above the highest parent, the parents listed, the
/// out-of-order hint kept only if every parent has it.
pub fn compact_metas(ulid: Ulid, parents: &[BlockMeta]) -> BlockMeta {
    let mut m = BlockMeta::new(ulid, i64::MAX, i64::MIN);
    m.compaction.sources.clear();
    let mut all_ooo = !parents.is_empty();
    for p in parents {
        m.min_time = m.min_time.min(p.min_time);
        m.max_time = m.max_time.max(p.max_time);
        m.compaction.level = m.compaction.level.max(p.compaction.level);
        m.compaction
            .sources
            .extend(p.compaction.sources.iter().copied());
        m.compaction.parents.push(p.desc());
        all_ooo &= p
            .compaction
            .hints
            .iter()
            .any(|h| h == crate::block::HINT_FROM_OUT_OF_ORDER);
    }
    m.compaction.level += 1;
    m.compaction.sources.sort();
    m.compaction.sources.dedup();
    if all_ooo {
        m.compaction.hints = vec![crate::block::HINT_FROM_OUT_OF_ORDER.to_string()];
    }
    m
}

/// Writes the block `meta` into `dest`: `symbols` (sorted, unique, a
/// superset of the series' label strings) then every series of `source`,
/// restricted to `[meta.min_time, meta.max_time)` by the source. Returns
/// the written meta, or `None` if nothing was left to write (no block is
/// created then).
pub fn write_block<'a>(
    dest: &Path,
    meta: BlockMeta,
    symbols: impl IntoIterator<Item = String>,
    source: &mut dyn BlockSeriesSource<'a>,
    options: BlockWriterOptions,
) -> Result<Option<BlockMeta>> {
    let mut w = BlockWriter::create(dest, meta.ulid, options)?;
    for s in symbols {
        w.add_symbol(&s)?;
    }
    while let Some(s) = source.next_series() {
        let s = s?;
        w.add_series(&s.labels, &s.chunks)?;
    }
    w.finish(meta)
}

/// Compacts `blocks` into one new block in `dest`, streaming: one series
/// of each block in memory at a time. Overlapping blocks are merged
/// (vertical compaction), deleted samples are left out. Returns the new
/// block's meta, or `None` if the blocks held no sample any more.
///
/// The parents are not touched: deleting them once the new block is in
/// place is the caller's step (a crash in between leaves both, and the
/// new block's `parents` says which to delete on the next open).
pub fn compact_blocks(
    dest: &Path,
    blocks: &[&Block],
    options: BlockWriterOptions,
) -> Result<Option<BlockMeta>> {
    if blocks.is_empty() {
        return Err(Error::Writer("nothing to compact".into()));
    }
    let mut blocks = blocks.to_vec();
    blocks.sort_by_key(|b| b.min_time());
    let metas: Vec<BlockMeta> = blocks.iter().map(|b| b.meta()).collect();
    let meta = compact_metas(Ulid::generate(), &metas);
    let mut symbols = BTreeSet::new();
    for b in &blocks {
        for s in b.index().symbols() {
            let s = s.map_err(|e| Error::from(e).in_block(b.dir()))?;
            if !symbols.contains(s) {
                symbols.insert(s.to_string());
            }
        }
    }
    let (mint, maxt) = (meta.min_time, meta.max_time - 1);
    let sources: Vec<Box<dyn BlockSeriesSource<'_> + '_>> = blocks
        .iter()
        .map(|b| Box::new(b.chunk_series(&[], mint, maxt)) as Box<dyn BlockSeriesSource<'_> + '_>)
        .collect();
    let mut merged = MergedSeries::new(sources);
    write_block(dest, meta, symbols, &mut merged, options)
}
