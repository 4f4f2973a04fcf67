//! Chunk storage of the TSDB.
//!
//! * [`segments`]: a block's `chunks/000001…` segment files — the writer a
//!   block is built with and the mmap reader a block is queried through.

pub mod segments;

pub use segments::{
    block_chunk_ref, split_block_chunk_ref, ChunkSegmentReader, ChunkSegmentWriter, SeriesChunk,
    DEFAULT_SEGMENT_SIZE, SEGMENT_HEADER_LEN, SEGMENT_MAGIC,
};
