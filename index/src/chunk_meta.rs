//! Where a series' chunk lives and which time range it covers.

/// The index's record of one chunk of a series: its time range and where
/// its bytes are.
///
/// For blocks, `chunk_ref` is `(segment_index << 32) | byte_offset` into the
/// block's `chunks/` files (segment index = 0-based position of the file in
/// the sorted listing). The index only stores and returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChunkMeta {
    /// Timestamp of the first sample (ms).
    pub min_time: i64,
    /// Timestamp of the last sample (ms), inclusive.
    pub max_time: i64,
    /// Reference of the chunk in the chunk files.
    pub chunk_ref: u64,
}

impl ChunkMeta {
    /// A chunk meta.
    pub fn new(min_time: i64, max_time: i64, chunk_ref: u64) -> Self {
        ChunkMeta {
            min_time,
            max_time,
            chunk_ref,
        }
    }

    /// Whether the chunk has samples in `[mint, maxt]` (both inclusive).
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.min_time <= maxt && mint <= self.max_time
    }
}
