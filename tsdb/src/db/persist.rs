//! Persisting the head: its oldest block range written to a block, made
//! visible, and dropped from the head's memory once no query may still
//! need the head's copy.

use std::collections::HashSet;
use std::sync::Arc;

use aion_model::Matcher;
use ulid::Ulid;

use super::blocks::DbBlocks;
use crate::block::{Block, BlockMeta, BlockSeries, BlockSeriesSource};
use crate::compact::write_block;
use crate::head::Head;
use crate::Result;
use aion_storage::ChunkQuerier;

impl DbBlocks {
    /// How many head ranges the persistence loop of a compaction starting
    /// now writes (appends meanwhile may add more).
    pub(super) fn head_ranges_due(&self) -> usize {
        let hmax = self.head.max_time();
        let mut hmin = self.head.min_time().max(*self.persisted_until.lock());
        let mut n = 0;
        while hmax != i64::MIN && hmax - hmin > self.block_range / 2 * 3 {
            hmin = crate::head::range_end(hmin, self.block_range);
            n += 1;
        }
        n
    }

    /// Writes `[mint, maxt)` of the head into a block, makes it visible,
    /// and truncates the head's memory below `maxt` — at once, or, if
    /// queries that started before the block was visible may still read
    /// that range from the head, when they have finished (at the next
    /// compaction after that). Nothing waits: a host holding a query while
    /// compacting cannot deadlock.
    pub(super) fn persist_head(&self, mint: i64, maxt: i64) -> Result<Option<BlockMeta>> {
        let head = &self.head;
        // No new sample below `maxt` from now on; wait for batches that
        // started earlier.
        head.set_min_valid_time(maxt);
        head.wait_for_appenders_below(maxt);
        let meta = {
            let q = head.in_order_chunk_querier(mint, maxt - 1);
            let mut set = q.select(true, None, &[Matcher::equal("", "")]);
            let mut source = HeadSeries {
                set: &mut *set,
                mint,
                maxt: maxt - 1,
            };
            let ulid = Ulid::generate();
            write_block(
                &self.dir,
                BlockMeta::new(ulid, mint, maxt),
                head_symbols(head),
                &mut source,
                self.writer,
            )?
        };
        crate::failpoint::hit("persist.after_block_written")?;
        if let Some(meta) = &meta {
            let block = Arc::new(Block::open(self.dir.join(meta.ulid.to_string()))?);
            self.replace(vec![block], &HashSet::new());
        }
        let generation = self.readers.generation();
        {
            let mut pending = self.pending_truncation.lock();
            let t = pending.map_or(maxt, |(_, t)| t.max(maxt));
            *pending = Some((generation, t));
        }
        crate::failpoint::hit("persist.before_head_truncation")?;
        self.truncate_head_if_unread()?;
        Ok(meta)
    }

    /// Performs a pending head truncation once no query that might need
    /// the head's copy of persisted data is open.
    pub(super) fn truncate_head_if_unread(&self) -> Result<()> {
        let mut pending = self.pending_truncation.lock();
        if let Some((generation, t)) = *pending {
            if !self.readers.any_older_than(generation, t) {
                self.head.truncate_memory(t)?;
                *pending = None;
            }
        }
        Ok(())
    }
}

/// Every label name and value the head holds, plus the empty string:
/// the symbol table Prometheus writes into a block cut from its head.
pub(super) fn head_symbols(head: &Head) -> Vec<String> {
    let mut symbols = std::collections::BTreeSet::new();
    symbols.insert(String::new());
    head.postings.for_each_list(|name, value, _| {
        if !symbols.contains(name) {
            symbols.insert(name.to_string());
        }
        if !symbols.contains(value) {
            symbols.insert(value.to_string());
        }
    });
    symbols.into_iter().collect()
}

/// The head's series as a block series source over `[mint, maxt]`:
/// chunks copied as they are, re-encoded where the range cuts into them
/// (the head's chunk querier has applied its deletions already).
struct HeadSeries<'s, 'a> {
    set: &'s mut (dyn aion_storage::ChunkSeriesSet<'a> + 'a),
    mint: i64,
    maxt: i64,
}

impl<'a> BlockSeriesSource<'static> for HeadSeries<'_, 'a> {
    fn next_series(&mut self) -> Option<Result<BlockSeries<'static>>> {
        loop {
            let mut s = match self.set.next()? {
                Ok(s) => s,
                Err(e) => return Some(Err(e.into())),
            };
            let mut chunks = Vec::new();
            while let Some(c) = s.chunks.next() {
                let c = match c {
                    Ok(c) => c,
                    Err(e) => return Some(Err(e.into())),
                };
                if c.max_time < self.mint || c.min_time > self.maxt {
                    continue;
                }
                if c.min_time >= self.mint && c.max_time <= self.maxt {
                    chunks.push(crate::chunks::SeriesChunk {
                        min_time: c.min_time,
                        max_time: c.max_time,
                        encoding: c.encoding,
                        data: std::borrow::Cow::Owned(c.data.to_vec()),
                    });
                    continue;
                }
                match crate::chunks::reencode_without(
                    c.encoding, c.data, self.mint, self.maxt, None,
                ) {
                    Ok(Some(c)) => chunks.push(c),
                    Ok(None) => {}
                    Err(e) => return Some(Err(e)),
                }
            }
            if !chunks.is_empty() {
                return Some(Ok(BlockSeries {
                    labels: s.labels,
                    chunks,
                }));
            }
        }
    }
}
