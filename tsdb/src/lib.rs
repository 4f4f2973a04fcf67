//! The time-series database: head, blocks, compaction, retention. It
//! implements `aion-storage`'s traits (the Db, its head and blocks are
//! `Queryable`, `ChunkQueryable` and `Appendable`).
//!
//! | module | concept |
//! |---|---|
//! | [`Db`] (`db/`) | a data directory: lock, open/close, the block set, merged queries, head persistence, compaction, retention, deletion |
//! | [`Options`] | Prometheus's defaults |
//! | [`head`] | in-memory series, appending, isolation, WAL replay, truncation |
//! | [`backfill`] | blocks straight from samples (`promtool tsdb create-blocks-from`) |
//! | [`block`] | persistent blocks: writer, mmap reader, meta, tombstones |
//! | [`compact`] | leveled compaction: planning, streaming merge |
//! | [`chunks`] | block chunk segments, `chunks_head/` files, chunk byte handles |
//! | [`textparse`] | OpenMetrics and Prometheus text parsers (backfill input, scrapes) |
#![deny(unsafe_op_in_unsafe_fn)]

pub mod backfill;
pub mod block;
pub mod chunks;
pub mod compact;
mod db;
mod error;
mod failpoint;
mod fsutil;
// The fuzz targets' property checks: a harness, not product API, so only
// with the `fuzzing` feature (which `fuzz/Cargo.toml` turns on) and in
// this crate's own tests (its proptests run the same checks on stable).
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;
pub mod head;
mod lockfile;
mod options;
pub mod textparse;

pub use aion_chunkenc::{SampleIterator, ValueType};
pub use db::{CompactProgress, CompactReport, Db, DbChunkQuerier, DbQuerier, CORRUPTED_SUFFIX};
pub use error::{Error, Result};
pub use head::{
    Appender, Head, HeadStats, LabelCount, ReplayReport, TruncateReport, WblReplayReport,
};
pub use options::{
    FloatChunkEncoding, Options, DEFAULT_BLOCK_RANGE_MS, DEFAULT_OUT_OF_ORDER_CAP_MAX,
    DEFAULT_RETENTION_MS, DEFAULT_SAMPLES_PER_CHUNK, MAX_OUT_OF_ORDER_CAP_MAX,
};
