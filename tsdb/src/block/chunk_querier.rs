//! Chunk-level querying of one block.

use std::ops::Deref;

use aion_index::{label_names_matching, label_values_matching};
use aion_model::Matcher;
use aion_storage::{
    ChunkQuerier, ChunkSeries, ChunkSeriesSet, LabelQuerier, SelectHints, VecChunks,
};

use crate::block::{Block, BlockChunkSeriesSet, BlockSeriesSource};
use crate::Error;

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
        _hints: Option<&SelectHints<'_>>,
        matchers: &[Matcher],
    ) -> Box<dyn ChunkSeriesSet<'a> + 'a> {
        Box::new(BlockChunkSet(
            self.block
                .chunk_series_untrimmed(matchers, self.mint, self.maxt),
        ))
    }
}

impl<B: Deref<Target = Block> + Send + Sync> LabelQuerier for BlockChunkQuerier<B> {
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        label_values_matching(self.block.index(), name, matchers)
            .map_err(|e| Error::from(e).in_block(self.block.dir()).into())
    }

    fn label_names(&self, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        label_names_matching(self.block.index(), matchers)
            .map_err(|e| Error::from(e).in_block(self.block.dir()).into())
    }
}

struct BlockChunkSet<'a>(BlockChunkSeriesSet<'a>);

impl<'a> ChunkSeriesSet<'a> for BlockChunkSet<'a> {
    fn next(&mut self) -> Option<aion_storage::Result<ChunkSeries<'a>>> {
        let s = match self.0.next_series()? {
            Ok(s) => s,
            Err(e) => return Some(Err(e.into())),
        };
        Some(Ok(ChunkSeries {
            labels: s.labels,
            chunks: Box::new(VecChunks::new(s.chunks)),
        }))
    }
}
