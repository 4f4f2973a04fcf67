//! The time-series database: head, blocks, compaction, retention, and the
//! streaming querier traits.
#![deny(unsafe_op_in_unsafe_fn)]

mod error;
mod mem_storage;
pub mod querier;

pub use error::{Error, Result};
pub use mem_storage::{AppendError, MemStorage};
pub use querier::{
    EmptySeriesSet, ErrorSeriesSet, Querier, Queryable, SelectHints, Series, SeriesSet,
};
