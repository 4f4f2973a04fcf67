//! Labels, matchers, postings and Prometheus's index v2 format.
//!
//! * [`Labels`] identify series; [`Matcher`]s select them.
//! * [`postings`] holds sorted series-reference cursors, their set algebra
//!   and the head's concurrent [`MemPostings`](postings::MemPostings).
//! * [`IndexReader`] is what every index offers; [`postings_for_matchers`],
//!   [`label_names_matching`] and [`label_values_matching`] implement
//!   Prometheus's selection semantics once over it. [`MemIndex`] is an
//!   in-memory implementation.
//! * [`disk`] writes index files (format v2, byte for byte as Prometheus
//!   2.42 does, or without label indices as 3.7+ does) and reads versions
//!   1 to 3.
#![deny(unsafe_op_in_unsafe_fn)]

mod chunk_meta;
pub mod disk;
mod encoding;
mod error;
mod hash;
mod index_reader;
mod labels;
mod matcher;
mod mem_index;
pub mod postings;
mod select;
#[cfg(test)]
mod testutil;

pub use chunk_meta::ChunkMeta;
pub use error::{Error, Result};
pub use hash::xxh64;
pub use index_reader::IndexReader;
pub use labels::{
    is_legacy_label_name, write_go_quoted, Label, Labels, LabelsBuilder, LabelsIter, METRIC_NAME,
};
pub use matcher::{MatchType, Matcher};
pub use mem_index::MemIndex;
pub use postings::SeriesRef;
pub use select::{label_names_matching, label_values_matching, postings_for_matchers};
