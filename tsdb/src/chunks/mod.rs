//! Chunk storage of the TSDB.
//!
//! * [`segments`]: a block's `chunks/000001…` segment files — the writer a
//!   block is built with and the mmap reader a block is queried through.
//! * [`head_file`]: the head's `chunks_head/` files.
//! * `bytes.rs`: a chunk file and the byte handles and iterators that
//!   keep it alive while they read chunks in place.
//! * `reencode.rs`: a chunk re-encoded without the samples a range or a
//!   deletion cuts away (head and blocks alike).
//! * `values.rs`: samples of any kind decoded from chunks into memory, and
//!   encoded back into chunks.

mod bytes;
pub mod head_file;
mod reencode;
pub mod segments;
mod values;

pub use bytes::{ChunkBytes, OwnedChunkIterator};
pub(crate) use head_file::HeadChunkStore;
pub use head_file::{HeadChunkRef, HEAD_CHUNK_FILE_MAGIC, MAX_HEAD_CHUNK_FILE_SIZE};
pub(crate) use reencode::reencode_without;
pub use segments::{
    block_chunk_ref, split_block_chunk_ref, ChunkSegmentReader, ChunkSegmentWriter, SeriesChunk,
    DEFAULT_SEGMENT_SIZE, SEGMENT_HEADER_LEN, SEGMENT_MAGIC,
};
pub(crate) use values::{
    decode_into as decode_values, encode as encode_values, SampleValue, ValuesIterator,
};
