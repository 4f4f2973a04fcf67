//! Chunk-level querying of blocks, and the chunk-level merge of several
//! chunk queriers (blocks and head) into one sorted view.

use std::borrow::Cow;
use std::ops::Deref;

use aion_index::{label_names_matching, label_values_matching, Matcher};

use super::chunk::{ChunkIterator, ChunkQuerier, ChunkSeries, ChunkSeriesSet, RawChunk};
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
        let n = sets.len();
        Box::new(MergeChunkSet {
            sets,
            heads: (0..n).map(|_| None).collect(),
            started: false,
            failed: false,
        })
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        let mut all = Vec::new();
        for q in &self.queriers {
            all.extend(q.label_values(name, matchers)?);
        }
        all.sort_unstable();
        all.dedup();
        Ok(all)
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        let mut all = Vec::new();
        for q in &self.queriers {
            all.extend(q.label_names(matchers)?);
        }
        all.sort_unstable();
        all.dedup();
        Ok(all)
    }
}

struct MergeChunkSet<'a> {
    sets: Vec<Box<dyn ChunkSeriesSet<'a> + 'a>>,
    heads: Vec<Option<ChunkSeries<'a>>>,
    started: bool,
    failed: bool,
}

impl<'a> MergeChunkSet<'a> {
    fn fill(&mut self, i: usize) -> Result<()> {
        self.heads[i] = self.sets[i].next().transpose()?;
        Ok(())
    }

    fn advance(&mut self) -> Result<Option<ChunkSeries<'a>>> {
        if !self.started {
            self.started = true;
            for i in 0..self.sets.len() {
                self.fill(i)?;
            }
        }
        let mut min: Option<usize> = None;
        for (i, h) in self.heads.iter().enumerate() {
            if let Some(h) = h {
                if min.is_none_or(|m| h.labels < self.heads[m].as_ref().expect("set").labels) {
                    min = Some(i);
                }
            }
        }
        let Some(first) = min else { return Ok(None) };
        let series = self.heads[first].take().expect("set");
        self.fill(first)?;
        let mut others = Vec::new();
        for i in first + 1..self.heads.len() {
            if self.heads[i]
                .as_ref()
                .is_some_and(|h| h.labels == series.labels)
            {
                others.push((i, self.heads[i].take().expect("set")));
                self.fill(i)?;
            }
        }
        if others.is_empty() {
            return Ok(Some(series));
        }
        let labels = series.labels.clone();
        let mut ranked: Vec<(usize, SeriesChunk<Cow<'static, [u8]>>)> = Vec::new();
        for (rank, mut s) in std::iter::once((first, series)).chain(others) {
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
        if self.failed {
            return None;
        }
        let r = self.advance().transpose();
        if matches!(r, Some(Err(_))) {
            self.failed = true;
        }
        r
    }

    fn warnings(&self) -> Vec<String> {
        self.sets.iter().flat_map(|s| s.warnings()).collect()
    }
}
