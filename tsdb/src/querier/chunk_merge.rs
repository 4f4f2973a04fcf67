//! Chunk-level querying of blocks, and the chunk-level merge of several
//! chunk queriers (blocks and head) into one sorted view.

use std::borrow::Cow;
use std::ops::Deref;

use aion_index::{label_names_matching, label_values_matching, Matcher};

use super::chunk::{ChunkIterator, ChunkQuerier, ChunkSeries, ChunkSeriesSet, RawChunk};
use super::label_merge::{sorted_union, LabelMerge};
use super::SelectHints;
use crate::block::{Block, BlockChunkSeriesSet, BlockSeriesSource};
use crate::chunks::SeriesChunk;
use crate::compact::merge_chunks;
use crate::{Error, Result};

/// A chunk querier over one block: chunks overlapping `[mint, maxt]`,
/// whole, with deleted samples removed (chunks a deletion cuts into are
/// re-encoded).
pub struct BlockChunkQuerier<B: Deref<Target = Block>> {
    block: B,
    mint: i64,
    maxt: i64,
}

impl<B: Deref<Target = Block>> BlockChunkQuerier<B> {
    /// A chunk querier over `[mint, maxt]` of `block`.
    pub fn new(block: B, mint: i64, maxt: i64) -> Self {
        BlockChunkQuerier { block, mint, maxt }
    }
}

impl<B: Deref<Target = Block> + Send + Sync> ChunkQuerier for BlockChunkQuerier<B> {
    fn select<'a>(
        &'a self,
        _sorted: bool,
        _hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn ChunkSeriesSet<'a> + 'a> {
        Box::new(BlockChunkSet(
            self.block
                .chunk_series_untrimmed(matchers, self.mint, self.maxt),
        ))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        label_values_matching(self.block.index(), name, matchers)
            .map_err(|e| Error::from(e).in_block(self.block.dir()))
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        label_names_matching(self.block.index(), matchers)
            .map_err(|e| Error::from(e).in_block(self.block.dir()))
    }
}

struct BlockChunkSet<'a>(BlockChunkSeriesSet<'a>);

impl<'a> ChunkSeriesSet<'a> for BlockChunkSet<'a> {
    fn next(&mut self) -> Option<Result<ChunkSeries<'a>>> {
        let s = match self.0.next_series()? {
            Ok(s) => s,
            Err(e) => return Some(Err(e)),
        };
        Some(Ok(ChunkSeries {
            labels: s.labels,
            chunks: Box::new(VecChunks {
                chunks: s.chunks,
                next: 0,
            }),
        }))
    }
}

/// A [`ChunkIterator`] over chunks in hand.
pub(crate) struct VecChunks<'a> {
    chunks: Vec<SeriesChunk<Cow<'a, [u8]>>>,
    next: usize,
}

impl<'a> VecChunks<'a> {
    pub(crate) fn new(chunks: Vec<SeriesChunk<Cow<'a, [u8]>>>) -> Self {
        VecChunks { chunks, next: 0 }
    }
}

impl ChunkIterator for VecChunks<'_> {
    fn next(&mut self) -> Option<Result<RawChunk<'_>>> {
        let c = self.chunks.get(self.next)?;
        self.next += 1;
        Some(Ok(RawChunk {
            min_time: c.min_time,
            max_time: c.max_time,
            encoding: c.encoding,
            data: &c.data,
        }))
    }
}

/// The union of several chunk queriers, sorted by labels. A series in
/// several gets all their chunks in time order; overlapping chunks are
/// merged into new ones (the first querier wins a shared timestamp),
/// identical ones kept once.
pub struct MergeChunkQuerier<'a> {
    queriers: Vec<Box<dyn ChunkQuerier + 'a>>,
}

impl<'a> MergeChunkQuerier<'a> {
    /// Merges `queriers`, in order of preference.
    pub fn new(queriers: Vec<Box<dyn ChunkQuerier + 'a>>) -> Self {
        MergeChunkQuerier { queriers }
    }
}

impl ChunkQuerier for MergeChunkQuerier<'_> {
    fn select<'b>(
        &'b self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn ChunkSeriesSet<'b> + 'b> {
        if self.queriers.len() == 1 {
            return self.queriers[0].select(sorted, hints, matchers);
        }
        let sets: Vec<Box<dyn ChunkSeriesSet<'b> + 'b>> = self
            .queriers
            .iter()
            .map(|q| q.select(true, hints, matchers))
            .collect();
        Box::new(MergeChunkSet {
            merge: LabelMerge::new(sets, |s| s.next()),
            group: Vec::new(),
        })
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        sorted_union(self.queriers.iter().map(|q| q.label_values(name, matchers)))
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        sorted_union(self.queriers.iter().map(|q| q.label_names(matchers)))
    }
}

struct MergeChunkSet<'a> {
    merge: LabelMerge<Box<dyn ChunkSeriesSet<'a> + 'a>, ChunkSeries<'a>>,
    group: Vec<(usize, ChunkSeries<'a>)>,
}

impl<'a> MergeChunkSet<'a> {
    fn advance(&mut self) -> Result<Option<ChunkSeries<'a>>> {
        if !self.merge.next_group(&mut self.group)? {
            return Ok(None);
        }
        if self.group.len() == 1 {
            return Ok(self.group.pop().map(|(_, s)| s));
        }
        let labels = self.group[0].1.labels.clone();
        let mut ranked: Vec<(usize, SeriesChunk<Cow<'static, [u8]>>)> = Vec::new();
        for (rank, mut s) in self.group.drain(..) {
            while let Some(c) = s.chunks.next() {
                let c = c?;
                ranked.push((
                    rank,
                    SeriesChunk {
                        min_time: c.min_time,
                        max_time: c.max_time,
                        encoding: c.encoding,
                        data: Cow::Owned(c.data.to_vec()),
                    },
                ));
            }
        }
        Ok(Some(ChunkSeries {
            labels,
            chunks: Box::new(VecChunks {
                chunks: merge_chunks(ranked)?,
                next: 0,
            }),
        }))
    }
}

impl<'a> ChunkSeriesSet<'a> for MergeChunkSet<'a> {
    fn next(&mut self) -> Option<Result<ChunkSeries<'a>>> {
        let r = self.advance().transpose();
        if matches!(r, Some(Err(_))) {
            // A chunk of the group failed: end here, as on a read error.
            self.merge.stop();
        }
        r
    }

    fn warnings(&self) -> Vec<String> {
        self.merge
            .sources()
            .iter()
            .flat_map(|s| s.warnings())
            .collect()
    }
}
