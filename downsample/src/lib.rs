//! Thanos-compatible downsampling for Aion.
//!
//! Raw blocks become 5 m blocks and 5 m blocks become 1 h blocks, with
//! Thanos's aggregate chunks (encoding 0xFF: count, sum, min, max and
//! counter per window) and a `thanos` section in `meta.json` whose
//! `downsample.resolution` says which. The rules are those of Thanos's
//! `pkg/compact/downsample`, so Thanos's store gateway and compactor read
//! what this crate writes, and this crate reads what Thanos wrote.
//!
//! The crate sits above `aion-tsdb` (it reads and writes blocks with the
//! tsdb block reader and writer, no internals) and below `aion-promql`.

mod aggr;
mod block;
mod float;
mod hist;
// The fuzz target's property checks: a harness, not product API, so only
// with the `fuzzing` feature (which `fuzz/Cargo.toml` turns on) and in
// this crate's own tests (its proptest runs the same checks on stable).
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;
mod plan;
mod query;
#[cfg(test)]
mod thanos_fixtures;

pub use aggr::{encode_aggr_chunk, encode_aggr_chunk_parts, AggrChunk, AggrType};
pub use block::{downsample_block, DownsampleReport};
pub use float::{apply_counter_resets, downsample_aggr, downsample_raw, window_end, Scratch};
pub use hist::{downsample_hist_aggr, downsample_raw_histograms, HistSample};
pub use plan::plan_downsampling;
pub use query::{
    aggregate_for, auto_max_source_resolution, block_resolution, series_samples, series_values,
    Aggregate, DownsampledQueryable,
};

/// Raw data: resolution 0.
pub const RES_RAW: i64 = 0;
/// The 5 m resolution (ms).
pub const RES_5M: i64 = 5 * 60 * 1000;
/// The 1 h resolution (ms).
pub const RES_1H: i64 = 60 * 60 * 1000;
/// A raw block spanning at least this (40 h) is downsampled to 5 m by
/// Thanos's compactor.
pub const RES_5M_MIN_BLOCK_RANGE: i64 = 40 * 60 * 60 * 1000;
/// A 5 m block spanning at least this (10 d) is downsampled to 1 h.
pub const RES_1H_MIN_BLOCK_RANGE: i64 = 10 * 24 * 60 * 60 * 1000;

/// What can go wrong while downsampling.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An aggregate chunk's layout is damaged.
    #[error("aggregate chunk: {aggr} sub-chunk at byte {offset}: {what}")]
    AggrChunk {
        /// The sub-chunk being read.
        aggr: AggrType,
        /// Byte offset of its length in the chunk data.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// A sub-chunk would hold more windows than a chunk can.
    #[error("aggregate sub-chunk full (more than 65535 windows)")]
    TooManyWindows,
    /// Aggregate chunks held no sample to downsample.
    #[error("invalid range for downsampled aggregate chunk: no samples")]
    EmptyAggregate,
    /// A chunk could not be decoded.
    #[error(transparent)]
    Chunk(#[from] aion_chunkenc::Error),
    /// Reading or writing a block failed.
    #[error(transparent)]
    Tsdb(#[from] aion_tsdb::Error),
    /// The requested resolution does not follow the block's.
    #[error("block {block}: target resolution {target} ms not coarser than its {current} ms")]
    Resolution {
        /// The block's ULID.
        block: String,
        /// Its resolution.
        current: i64,
        /// The requested one.
        target: i64,
    },
    /// A series could not be downsampled.
    #[error("block {block}: series {series}: {source}")]
    Series {
        /// The block's ULID.
        block: String,
        /// The series' labels.
        series: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
    /// A raw chunk's samples could not be decoded.
    #[error("{0}")]
    Decode(String),
    /// A series holds data this version cannot downsample.
    #[error("{0}")]
    Unsupported(String),
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
