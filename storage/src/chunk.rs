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
use aion_model::{Labels, Matcher};

use crate::{Error, LabelQuerier, Result, SelectHints};

/// Something that can be queried for raw chunks over a time range.
pub trait ChunkQueryable: Send + Sync {
    /// Opens a chunk querier over chunks overlapping `[mint, maxt]`, with
    /// the same consistency as [`Queryable::querier`](crate::Queryable::querier).
    fn chunk_querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn ChunkQuerier + '_>>;
}

/// A read view over the chunks of a time range.
pub trait ChunkQuerier: LabelQuerier {
    /// The series matching all `matchers`, with their chunks overlapping the
    /// querier's range; sorted by labels when `sorted`.
    fn select<'a>(
        &'a self,
        sorted: bool,
        hints: Option<&SelectHints<'_>>,
        matchers: &[Matcher],
    ) -> Box<dyn ChunkSeriesSet<'a> + 'a>;
}

/// One chunk of a series: its time range (both ends inclusive), its
/// encoding and its data (the bytes after the encoding byte, sample-count
/// header first, exactly as in a block's chunk segment file). Block writers
/// take these owned; readers lend them over mmapped bytes as [`RawChunk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesChunk<B = Vec<u8>> {
    /// Timestamp of the first sample (ms).
    pub min_time: i64,
    /// Timestamp of the last sample (ms), inclusive.
    pub max_time: i64,
    /// How `data` is encoded.
    pub encoding: Encoding,
    /// The chunk data.
    pub data: B,
}

/// A chunk borrowed from its store.
pub type RawChunk<'b> = SeriesChunk<&'b [u8]>;

impl<B: AsRef<[u8]>> SeriesChunk<B> {
    /// Samples in the chunk, from the 2-byte count every encoding starts
    /// with (0 if the data is too short to hold it). A Thanos aggregate
    /// chunk counts the samples of its first (count) sub-chunk, as Thanos's
    /// `AggrChunk.NumSamples` does.
    pub fn num_samples(&self) -> u64 {
        if self.encoding == Encoding::ThanosAggr {
            return aggr_count_samples(self.data.as_ref());
        }
        match self.data.as_ref() {
            [a, b, ..] => u64::from(u16::from_be_bytes([*a, *b])),
            _ => 0,
        }
    }

    /// The same chunk over borrowed data.
    pub fn as_borrowed(&self) -> RawChunk<'_> {
        SeriesChunk {
            min_time: self.min_time,
            max_time: self.max_time,
            encoding: self.encoding,
            data: self.data.as_ref(),
        }
    }

    /// Decodes the chunk (only encodings Aion reads; see
    /// [`aion_chunkenc::Chunk`]).
    pub fn decode(&self) -> Result<aion_chunkenc::Chunk<&[u8]>> {
        Ok(aion_chunkenc::Chunk::from_bytes(
            self.encoding,
            self.data.as_ref(),
        )?)
    }
}

/// Samples of the count sub-chunk at the head of a Thanos aggregate chunk:
/// `uvarint(len) u8 encoding data…`, the data starting with its 2-byte
/// count; 0 when absent or truncated.
fn aggr_count_samples(data: &[u8]) -> u64 {
    match aion_model::encoding::uvarint(data) {
        Some((len, n)) if len >= 3 && data.len() >= n + 3 => {
            u64::from(u16::from_be_bytes([data[n + 1], data[n + 2]]))
        }
        _ => 0,
    }
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
pub struct ErrorChunkSeriesSet(Option<Error>);

impl ErrorChunkSeriesSet {
    /// A set whose first and only item is `err`.
    pub fn new(err: Error) -> Self {
        ErrorChunkSeriesSet(Some(err))
    }
}

impl<'a> ChunkSeriesSet<'a> for ErrorChunkSeriesSet {
    fn next(&mut self) -> Option<Result<ChunkSeries<'a>>> {
        self.0.take().map(Err)
    }
}
