//! One chunk of a series as a query snapshot holds it: what the head
//! querier reads and the out-of-order merge (`merged.rs`) produces, so
//! neither of the two imports the other for it.

use std::sync::Arc;

use aion_chunkenc::Encoding;

use crate::chunks::{ChunkBytes, SeriesChunk};

/// A chunk of a series snapshot.
pub(super) struct SnapChunk {
    pub min_time: i64,
    pub max_time: i64,
    pub encoding: Encoding,
    pub bytes: ChunkBytes,
}

impl From<SeriesChunk<Vec<u8>>> for SnapChunk {
    fn from(c: SeriesChunk<Vec<u8>>) -> Self {
        SnapChunk {
            min_time: c.min_time,
            max_time: c.max_time,
            encoding: c.encoding,
            bytes: ChunkBytes::Heap(Arc::from(c.data)),
        }
    }
}
