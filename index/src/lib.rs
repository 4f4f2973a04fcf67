//! Labels, matchers, postings and Prometheus's index v2 format.
//!
//! Labels and matchers themselves live in `aion-model`; this crate indexes
//! series by them.
//!
//! | module/item | concept |
//! |---|---|
//! | [`postings`] | sorted series-reference cursors, their set algebra, the head's concurrent [`MemPostings`](postings::MemPostings) |
//! | [`IndexReader`] (`index_reader.rs`) | the read interface every index offers, head and block alike |
//! | [`postings_for_matchers`], [`label_names_matching`], [`label_values_matching`] (`select.rs`) | Prometheus's selection semantics, written once over [`IndexReader`] |
//! | [`MemIndex`] (`mem_index.rs`) | a complete in-memory index |
//! | [`ChunkMeta`] (`chunk_meta.rs`) | where a series' chunk lives and which time range it covers |
//! | [`disk`] | index files: written byte for byte as Prometheus 2.42 does (or without label indices, as 3.7+ does), read in versions 1 to 3 (`docs/formats.md#index`) |
//! | `encoding.rs` | the shared byte primitives of `aion_model::encoding` and a decoder whose errors name section and offset |
//! | [`Error`] (`error.rs`) | what reading or writing an index can fail with, naming file, section and offset |
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
