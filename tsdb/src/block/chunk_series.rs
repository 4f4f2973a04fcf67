//! Chunk-level reading of a block: series with their raw chunks, what
//! compaction merges and hosts that ship chunks (remote read, Thanos-like
//! stores) forward without decoding.

use std::borrow::Cow;
use std::sync::Arc;

use aion_index::postings::BoxPostings;
use aion_index::{postings_for_matchers, ChunkMeta};
use aion_model::{Labels, Matcher};

use super::reader::Block;
use super::tombstones::Tombstones;
use crate::chunks::{reencode_without, SeriesChunk};
use crate::{Error, Result};

/// A series with its chunks: in time order, non-overlapping, each either
/// borrowed from a block's mapped files or re-encoded (when deletions or
/// the range cut into it).
#[derive(Debug, Clone)]
pub struct BlockSeries<'a> {
    /// The series' labels.
    pub labels: Labels,
    /// Its chunks.
    pub chunks: Vec<SeriesChunk<Cow<'a, [u8]>>>,
}

impl aion_storage::merge::Labelled for BlockSeries<'_> {
    fn labels(&self) -> &Labels {
        &self.labels
    }
}

/// A stream of [`BlockSeries`] in label order: what the block writer
/// consumes during compaction. An `Err` ends the stream.
pub trait BlockSeriesSource<'a> {
    /// The next series, `None` when done.
    fn next_series(&mut self) -> Option<Result<BlockSeries<'a>>>;
}

/// The series of a block matching some matchers, chunk by chunk, limited to
/// a closed time range and with deleted samples removed. See
/// [`Block::chunk_series`].
pub struct BlockChunkSeriesSet<'a> {
    block: &'a Block,
    tombstones: Arc<Tombstones>,
    postings: Option<BoxPostings<'a>>,
    mint: i64,
    maxt: i64,
    /// Re-encode chunks reaching outside `[mint, maxt]` without those
    /// samples (compaction), or hand them out whole (chunk queries).
    trim: bool,
    metas: Vec<ChunkMeta>,
    failed: Option<Error>,
}

impl Block {
    /// The series matching `matchers` (all series for an empty list) with
    /// their chunks in `[mint, maxt]`. Chunks entirely inside the range and
    /// untouched by tombstones are handed out as the mapped bytes; chunks
    /// the range or a deletion cuts into are re-encoded without the
    /// samples outside or deleted, as Prometheus's compactor does.
    pub fn chunk_series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> BlockChunkSeriesSet<'_> {
        self.chunk_series_inner(matchers, mint, maxt, true)
    }

    /// Like [`chunk_series`](Self::chunk_series), but chunks overlapping
    /// `[mint, maxt]` come whole, samples outside the range included (what
    /// a chunk querier hands out); only deletions cause re-encoding.
    pub fn chunk_series_untrimmed(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> BlockChunkSeriesSet<'_> {
        self.chunk_series_inner(matchers, mint, maxt, false)
    }

    fn chunk_series_inner(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        trim: bool,
    ) -> BlockChunkSeriesSet<'_> {
        let postings = if matchers.is_empty() {
            aion_index::IndexReader::all_postings(self.index())
        } else {
            postings_for_matchers(self.index(), matchers)
        };
        let (postings, failed) = match postings {
            Ok(p) => (Some(p), None),
            Err(e) => (None, Some(Error::from(e).in_block(self.dir()))),
        };
        BlockChunkSeriesSet {
            block: self,
            tombstones: self.tombstones(),
            postings,
            mint,
            maxt,
            trim,
            metas: Vec::new(),
            failed,
        }
    }
}

impl<'a> BlockSeriesSource<'a> for BlockChunkSeriesSet<'a> {
    fn next_series(&mut self) -> Option<Result<BlockSeries<'a>>> {
        if let Some(e) = self.failed.take() {
            self.postings = None;
            return Some(Err(e));
        }
        let res = self.advance().transpose()?;
        if res.is_err() {
            self.postings = None;
        }
        Some(res.map_err(|e| e.in_block(self.block.dir())))
    }
}

impl<'a> BlockChunkSeriesSet<'a> {
    fn advance(&mut self) -> Result<Option<BlockSeries<'a>>> {
        let Some(postings) = self.postings.as_mut() else {
            return Ok(None);
        };
        while let Some(r) = postings.next() {
            let labels = self.block.index().series(r, &mut self.metas)?;
            let deleted = self.tombstones.get(r).filter(|d| !d.is_empty());
            let mut chunks = Vec::with_capacity(self.metas.len());
            for m in &self.metas {
                if !m.overlaps(self.mint, self.maxt)
                    || deleted.is_some_and(|d| d.covers(m.min_time, m.max_time))
                {
                    continue;
                }
                let (encoding, data) = self.block.chunks().chunk(m.chunk_ref)?;
                let trimmed = self.trim && (m.min_time < self.mint || m.max_time > self.maxt);
                let cut = deleted.is_some_and(|d| d.overlaps(m.min_time, m.max_time));
                if !trimmed && !cut {
                    chunks.push(SeriesChunk {
                        min_time: m.min_time,
                        max_time: m.max_time,
                        encoding,
                        data: Cow::Borrowed(data),
                    });
                    continue;
                }
                let (lo, hi) = if self.trim {
                    (self.mint, self.maxt)
                } else {
                    (i64::MIN, i64::MAX)
                };
                if let Some(c) = reencode_without(encoding, data, lo, hi, deleted)? {
                    chunks.push(c);
                }
            }
            if chunks.is_empty() {
                continue;
            }
            return Ok(Some(BlockSeries { labels, chunks }));
        }
        Ok(None)
    }
}
