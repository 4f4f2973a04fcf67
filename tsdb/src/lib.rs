//! The time-series database: head, blocks, compaction, retention, and the
//! streaming querier traits.
//!
//! | module | concept |
//! |---|---|
//! | [`Db`] (`db.rs`) | a data directory: lock, open/close, head (and later blocks) |
//! | [`Options`] | Prometheus's defaults |
//! | [`head`] | in-memory series, appending, isolation, WAL replay, truncation |
//! | [`chunks`] | `chunks_head/` files and chunk byte handles |
//! | [`querier`] | the streaming querier traits, sample- and chunk-level |
#![deny(unsafe_op_in_unsafe_fn)]

pub mod chunks;
mod db;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod gofmt;
pub mod head;
mod lockfile;
mod mem_storage;
mod options;
pub mod querier;

pub use aion_chunkenc::{SampleIterator, ValueType};
pub use db::Db;
pub use error::{Error, Result};
pub use gofmt::GoFloat;
pub use head::{Appender, Head, HeadStats, LabelCount, ReplayReport, TruncateReport};
pub use mem_storage::{AppendError, MemStorage};
pub use options::{
    Options, DEFAULT_BLOCK_RANGE_MS, DEFAULT_RETENTION_MS, DEFAULT_SAMPLES_PER_CHUNK,
};
pub use querier::{
    ChunkIterator, ChunkQuerier, ChunkQueryable, ChunkSeries, ChunkSeriesSet, EmptySeriesSet,
    ErrorSeriesSet, Querier, Queryable, RawChunk, SelectHints, Series, SeriesSet,
};
