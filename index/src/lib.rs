//! Labels, matchers, postings and Prometheus's index v2 format.
//!
//! Labels and matchers themselves live in `aion-model`; this crate indexes
//! series by them.
//!
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
mod index_reader;
mod mem_index;
pub mod postings;
mod select;
#[cfg(test)]
mod testutil;

pub use chunk_meta::ChunkMeta;
pub use error::{Error, Result};
pub use index_reader::IndexReader;
pub use mem_index::MemIndex;
pub use postings::SeriesRef;
pub use select::{label_names_matching, label_values_matching, postings_for_matchers};
