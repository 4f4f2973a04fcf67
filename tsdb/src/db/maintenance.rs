//! Changing the block set on purpose: compaction (head ranges persisted,
//! then blocks merged as the leveled planner says), retention, deletion
//! and tombstone cleanup. One change at a time (`DbBlocks::changing`).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use aion_model::Matcher;
use ulid::Ulid;

use super::blocks::DbBlocks;
use crate::block::{Block, BlockMeta};
use crate::compact::{compact_blocks, plan, write_block};
use crate::{Error, Result};

/// What [`Db::compact`](crate::Db::compact) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Blocks written from the head.
    pub head_blocks: Vec<Ulid>,
    /// Blocks written from the out-of-order head.
    pub out_of_order_blocks: Vec<Ulid>,
    /// Blocks written by merging blocks.
    pub compacted_blocks: Vec<Ulid>,
    /// Blocks deleted: parents of compactions, and blocks past retention.
    pub deleted_blocks: Vec<Ulid>,
}

/// A step [`Db::compact_with_progress`](crate::Db::compact_with_progress)
/// is about to take, for hosts and tools that show progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompactProgress {
    /// Writing `[min_time, max_time)` of the head into a block; `done` of
    /// the `total` head ranges due now are written already.
    PersistingHead {
        /// Start of the range (ms, inclusive).
        min_time: i64,
        /// End of the range (ms, exclusive).
        max_time: i64,
        /// Head ranges written so far in this compaction.
        done: usize,
        /// Head ranges this compaction writes.
        total: usize,
    },
    /// Merging `parents` blocks spanning `[min_time, max_time)` into one.
    MergingBlocks {
        /// How many blocks are merged.
        parents: usize,
        /// Start of the merged range (ms, inclusive).
        min_time: i64,
        /// End of the merged range (ms, exclusive).
        max_time: i64,
    },
    /// Deleting blocks past retention.
    ApplyingRetention,
}

impl DbBlocks {
    /// Persists head ranges, compacts blocks, applies retention.
    pub(crate) fn compact(&self) -> Result<CompactReport> {
        self.compact_with_progress(&mut |_| {})
    }

    /// [`DbBlocks::compact`], telling `progress` each step before taking it.
    pub(crate) fn compact_with_progress(
        &self,
        progress: &mut dyn FnMut(CompactProgress),
    ) -> Result<CompactReport> {
        self.check_writable()?;
        let _one = self.changing.lock();
        let mut report = CompactReport::default();
        let mut last_persisted = None;
        self.truncate_head_if_unread()?;
        let due = self.head_ranges_due();
        // The head holds more than 1.5 block ranges: persist its oldest.
        loop {
            let persisted = *self.persisted_until.lock();
            let hmin = self.head.min_time().max(persisted);
            let hmax = self.head.max_time();
            if hmax == i64::MIN || hmax - hmin <= self.block_range / 2 * 3 {
                break;
            }
            let maxt = crate::head::range_end(hmin, self.block_range);
            progress(CompactProgress::PersistingHead {
                min_time: hmin,
                max_time: maxt,
                done: report.head_blocks.len(),
                total: due.max(report.head_blocks.len() + 1),
            });
            if let Some(meta) = self.persist_head(hmin, maxt)? {
                report.head_blocks.push(meta.ulid);
            }
            *self.persisted_until.lock() = maxt;
            last_persisted = Some(maxt);
        }
        if let Some(maxt) = last_persisted {
            crate::failpoint::hit("db.before_wal_truncation")?;
            self.head.truncate_wal(maxt)?;
            // As Prometheus: the head was persisted, so the out-of-order
            // head is compacted too.
            report.out_of_order_blocks = self.compact_ooo_head()?;
        } else {
            self.truncate_ooo_if_unread()?;
        }
        // Blocks, as long as the planner finds work.
        loop {
            let metas: Vec<BlockMeta> = self.snapshot().iter().map(|b| b.meta()).collect();
            let chosen = plan(&metas, &self.ranges);
            if chosen.is_empty() {
                break;
            }
            let snapshot = self.snapshot();
            let parents: Vec<&Block> = snapshot
                .iter()
                .filter(|b| chosen.contains(&b.ulid()))
                .map(|b| &**b)
                .collect();
            progress(CompactProgress::MergingBlocks {
                parents: parents.len(),
                min_time: parents.iter().map(|b| b.min_time()).min().unwrap_or(0),
                max_time: parents.iter().map(|b| b.max_time()).max().unwrap_or(0),
            });
            let written = match compact_blocks(&self.dir, &parents, self.writer) {
                Ok(m) => m,
                Err(e) => {
                    for p in &parents {
                        // Keep the planner from retrying it forever.
                        let _ = p.set_compaction_failed();
                    }
                    return Err(e);
                }
            };
            crate::failpoint::hit("compact.before_deleting_parents")?;
            let gone: HashSet<Ulid> = chosen.iter().copied().collect();
            match written {
                Some(meta) => {
                    let block = Arc::new(Block::open(self.dir.join(meta.ulid.to_string()))?);
                    report.compacted_blocks.push(meta.ulid);
                    self.replace(vec![block], &gone);
                }
                None => {
                    // Everything was deleted: mark the parents deletable,
                    // so a crash before they are gone still drops them.
                    for p in &parents {
                        let mut m = p.meta();
                        m.compaction.deletable = true;
                        m.write(p.dir())?;
                    }
                    self.replace(Vec::new(), &gone);
                }
            }
            report.deleted_blocks.extend(chosen);
        }
        progress(CompactProgress::ApplyingRetention);
        report.deleted_blocks.extend(self.apply_retention()?);
        Ok(report)
    }

    /// [`Db::compact_out_of_order`](crate::Db::compact_out_of_order).
    pub(crate) fn compact_out_of_order(&self) -> Result<Vec<Ulid>> {
        self.check_writable()?;
        let _one = self.changing.lock();
        self.compact_ooo_head()
    }

    /// Deletes blocks past the time or size retention: whole blocks, the
    /// oldest first, as Prometheus does.
    fn apply_retention(&self) -> Result<Vec<Ulid>> {
        let snapshot = self.snapshot();
        let mut newest_first: Vec<&Arc<Block>> = snapshot.iter().collect();
        newest_first.sort_by_key(|b| std::cmp::Reverse(b.max_time()));
        let mut gone = HashSet::new();
        if self.retention_ms > 0 {
            if let Some(newest) = newest_first.first().map(|b| b.max_time()) {
                for (i, b) in newest_first.iter().enumerate() {
                    if i > 0 && newest - b.max_time() >= self.retention_ms {
                        gone.extend(newest_first[i..].iter().map(|b| b.ulid()));
                        break;
                    }
                }
            }
        }
        if let Some(limit) = self.retention_bytes.filter(|&l| l > 0) {
            let mut total = dir_size(&self.dir.join("wal"))?
                + dir_size(&self.dir.join(super::WBL_DIR))?
                + dir_size(&self.dir.join("chunks_head"))?;
            for (i, b) in newest_first.iter().enumerate() {
                total += b.size();
                if total > limit {
                    gone.extend(newest_first[i..].iter().map(|b| b.ulid()));
                    break;
                }
            }
        }
        if gone.is_empty() {
            return Ok(Vec::new());
        }
        self.replace(Vec::new(), &gone);
        let mut v: Vec<Ulid> = gone.into_iter().collect();
        v.sort();
        Ok(v)
    }

    /// Deletes `[mint, maxt]` of the series matching `matchers` in every
    /// block and the head.
    pub(crate) fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<()> {
        self.check_writable()?;
        let _one = self.changing.lock();
        for b in self.snapshot().iter() {
            b.delete(mint, maxt, matchers)?;
        }
        self.head.delete(mint, maxt, matchers)?;
        Ok(())
    }

    /// Rewrites every block holding tombstones without the deleted data.
    pub(crate) fn clean_tombstones(&self) -> Result<Vec<Ulid>> {
        self.check_writable()?;
        let _one = self.changing.lock();
        let mut rewritten = Vec::new();
        for b in self.snapshot().iter() {
            if b.tombstones().is_empty() {
                continue;
            }
            let mut meta = b.meta();
            let old = meta.ulid;
            let parent = meta.desc();
            meta.ulid = Ulid::generate();
            meta.compaction.parents = vec![parent];
            meta.stats = Default::default();
            let mut source = b.chunk_series(&[], meta.min_time, meta.max_time - 1);
            let written = write_block(
                &self.dir,
                meta,
                b.index()
                    .symbols()
                    .map(|s| s.map(str::to_string))
                    .collect::<aion_index::Result<Vec<_>>>()?,
                &mut source,
                self.writer,
            )?;
            let gone: HashSet<Ulid> = [old].into();
            match written {
                Some(m) => {
                    let block = Arc::new(Block::open(self.dir.join(m.ulid.to_string()))?);
                    rewritten.push(m.ulid);
                    self.replace(vec![block], &gone);
                }
                None => self.replace(Vec::new(), &gone),
            }
        }
        Ok(rewritten)
    }
}

/// Sizes of the files under `dir` (0 if it does not exist).
pub(super) fn dir_size(dir: &Path) -> Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(format!("list {}", dir.display()), e)),
    };
    let mut total = 0;
    for e in entries.flatten() {
        match e.metadata() {
            Ok(m) if m.is_dir() => total += dir_size(&e.path())?,
            Ok(m) => total += m.len(),
            Err(_) => {}
        }
    }
    Ok(total)
}
