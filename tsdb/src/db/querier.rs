//! Queries of the database: the blocks overlapping the range and the head,
//! merged into one sorted view, registered as readers while they live
//! (see `readers.rs`). Each source applies its own deletions.

use aion_model::Matcher;

use super::blocks::DbBlocks;
use super::readers::ReaderGuard;
use crate::block::{BlockChunkQuerier, BlockQuerier};
use aion_storage::{
    ChunkQuerier, ChunkSeriesSet, MergeChunkQuerier, MergeQuerier, Querier, SelectHints, SeriesSet,
};

impl DbBlocks {
    /// A querier over the blocks and the head, merged.
    pub(crate) fn querier(&self, mint: i64, maxt: i64) -> DbQuerier<'_> {
        // Registered before anything is read; head first, then the block
        // snapshot: data moving from the head to a block meanwhile is seen
        // at least once (twice is deduplicated by the merge).
        let guard = self.readers.register(mint);
        let head = self.head.querier(mint, maxt);
        let mut queriers: Vec<Box<dyn Querier + '_>> = self
            .snapshot()
            .iter()
            .filter(|b| b.meta().overlaps_closed(mint, maxt))
            .map(|b| Box::new(BlockQuerier::new(b.clone(), mint, maxt)) as Box<dyn Querier>)
            .collect();
        queriers.push(Box::new(head));
        DbQuerier {
            inner: MergeQuerier::new(queriers),
            source: self,
            _guard: guard,
        }
    }

    /// A chunk querier over the blocks and the head, merged.
    pub(crate) fn chunk_querier(&self, mint: i64, maxt: i64) -> DbChunkQuerier<'_> {
        let guard = self.readers.register(mint);
        let head = self.head.chunk_querier(mint, maxt);
        let mut queriers: Vec<Box<dyn ChunkQuerier + '_>> = self
            .snapshot()
            .iter()
            .filter(|b| b.meta().overlaps_closed(mint, maxt))
            .map(|b| {
                Box::new(BlockChunkQuerier::new(b.clone(), mint, maxt)) as Box<dyn ChunkQuerier>
            })
            .collect();
        queriers.push(Box::new(head));
        DbChunkQuerier {
            inner: MergeChunkQuerier::new(queriers),
            source: self,
            _guard: guard,
        }
    }
}

/// A querier over a database: its blocks and head, merged. Keeps the
/// blocks it reads alive and its registration as a reader.
pub struct DbQuerier<'a> {
    inner: MergeQuerier<'a, dyn Querier + 'a>,
    source: &'a DbBlocks,
    _guard: ReaderGuard<'a>,
}

impl Querier for DbQuerier<'_> {
    fn select<'b>(
        &'b self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet<'b> + 'b> {
        self.inner.select(sorted, hints, matchers)
    }
}

impl aion_storage::LabelQuerier for DbQuerier<'_> {
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        self.inner.label_values(name, matchers)
    }

    fn label_names(&self, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        self.inner.label_names(matchers)
    }

    /// The database's warnings ([`Db::warnings`](crate::Db::warnings)):
    /// what opening skipped or repaired may be missing from any answer.
    fn warnings(&self) -> Vec<String> {
        with_open_warnings(self.source, self.inner.warnings())
    }
}

/// A chunk querier over a database: its blocks and head, merged.
pub struct DbChunkQuerier<'a> {
    inner: MergeChunkQuerier<'a>,
    source: &'a DbBlocks,
    _guard: ReaderGuard<'a>,
}

impl ChunkQuerier for DbChunkQuerier<'_> {
    fn select<'b>(
        &'b self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn ChunkSeriesSet<'b> + 'b> {
        self.inner.select(sorted, hints, matchers)
    }
}

impl aion_storage::LabelQuerier for DbChunkQuerier<'_> {
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        self.inner.label_values(name, matchers)
    }

    fn label_names(&self, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        self.inner.label_names(matchers)
    }

    /// The database's warnings ([`Db::warnings`](crate::Db::warnings)):
    /// what opening skipped or repaired may be missing from any answer.
    fn warnings(&self) -> Vec<String> {
        with_open_warnings(self.source, self.inner.warnings())
    }
}

/// The database's own warnings, then the parts' that are not among them
/// (a block's warning is both the database's and its querier's).
fn with_open_warnings(source: &DbBlocks, parts: Vec<String>) -> Vec<String> {
    let mut out = source.warnings();
    for w in parts {
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}
