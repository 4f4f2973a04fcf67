//! The chunk-level variant of the querier traits, for hosts that ship raw
//! chunks instead of samples (remote read with chunked responses,
//! Thanos-like stores, block writers).
//!
//! Same shape as the sample-level traits: a [`ChunkQueryable`] opens a
//! [`ChunkQuerier`], whose `select` streams [`ChunkSeries`], each with a
//! [`ChunkIterator`] that lends one [`RawChunk`] at a time. Chunks are
//! whole chunks as stored (they may hold samples outside the querier's
//! range); a backend never decodes them to produce this.

use aion_chunkenc::Encoding;
use aion_index::{Labels, Matcher};

use super::SelectHints;
use crate::Result;

/// Something that can be queried for raw chunks over a time range.
pub trait ChunkQueryable: Send + Sync {
    /// Opens a chunk querier over chunks overlapping `[mint, maxt]`, with
    /// the same consistency as [`Queryable::querier`](super::Queryable::querier).
    fn chunk_querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn ChunkQuerier + '_>>;
}

/// A read view over the chunks of a time range.
pub trait ChunkQuerier: Send + Sync {
    /// The series matching all `matchers`, with their chunks overlapping the
    /// querier's range; sorted by labels when `sorted`.
    fn select<'a>(
        &'a self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn ChunkSeriesSet<'a> + 'a>;

    /// Sorted, unique values of label `name` among series matching
    /// `matchers` (all series when empty).
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>>;

    /// Sorted, unique label names among series matching `matchers`.
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>>;
}

/// One chunk as stored: its time range, encoding and bytes (the data after
/// the encoding byte, sample-count header first, exactly as in a block's
/// chunk segment file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawChunk<'b> {
    /// Timestamp of its first sample (ms).
    pub min_time: i64,
    /// Timestamp of its last sample (ms), inclusive.
    pub max_time: i64,
    /// How `data` is encoded.
    pub encoding: Encoding,
    /// The chunk data.
    pub data: &'b [u8],
}

/// A cursor over the chunks of one series, oldest first. Each chunk
/// borrows the iterator until the next call.
pub trait ChunkIterator: Send {
    /// The next chunk, `None` when done. An `Err` ends the iteration.
    fn next(&mut self) -> Option<Result<RawChunk<'_>>>;
}

/// One series and its chunks.
pub struct ChunkSeries<'a> {
    /// The series' identity.
    pub labels: Labels,
    /// Its chunks.
    pub chunks: Box<dyn ChunkIterator + 'a>,
}

impl std::fmt::Debug for ChunkSeries<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSeries")
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

/// A stream of chunk series. An `Err` item ends the stream.
pub trait ChunkSeriesSet<'a>: Send {
    /// The next series, `None` when done.
    fn next(&mut self) -> Option<Result<ChunkSeries<'a>>>;

    /// Non-fatal problems met so far.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A chunk series set with nothing in it.
#[derive(Debug, Default)]
pub struct EmptyChunkSeriesSet;

impl<'a> ChunkSeriesSet<'a> for EmptyChunkSeriesSet {
    fn next(&mut self) -> Option<Result<ChunkSeries<'a>>> {
        None
    }
}

/// A chunk series set that yields a single error.
#[derive(Debug)]
pub struct ErrorChunkSeriesSet(Option<crate::Error>);

impl ErrorChunkSeriesSet {
    /// A set whose first and only item is `err`.
    pub fn new(err: crate::Error) -> Self {
        ErrorChunkSeriesSet(Some(err))
    }
}

impl<'a> ChunkSeriesSet<'a> for ErrorChunkSeriesSet {
    fn next(&mut self) -> Option<Result<ChunkSeries<'a>>> {
        self.0.take().map(Err)
    }
}
