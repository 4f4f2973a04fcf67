//! Chunk storage of the TSDB: the head's `chunks_head/` files, and the
//! byte handles and iterators that read chunks in place.
//!
//! Block chunk segments (`<block>/chunks/NNNNNN`) will live next to these.

mod bytes;
pub mod head_file;

pub use bytes::{ChunkBytes, OwnedChunkIterator};
pub(crate) use head_file::HeadChunkStore;
pub use head_file::{HeadChunkRef, HEAD_CHUNK_FILE_MAGIC, MAX_HEAD_CHUNK_FILE_SIZE};
