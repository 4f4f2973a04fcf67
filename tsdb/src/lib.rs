//! The time-series database: head, blocks, compaction, retention, and the
//! streaming querier traits.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod block;
pub mod chunks;
mod error;
mod failpoint;
mod fsutil;
pub mod querier;
pub mod textparse;
mod varint;

pub use error::{Error, Result};
pub use querier::{
    EmptySeriesSet, ErrorSeriesSet, Querier, Queryable, SelectHints, Series, SeriesSet,
};
