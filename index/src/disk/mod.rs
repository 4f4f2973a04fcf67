//! Prometheus's index file (`<block>/index`), format version 2.
//!
//! Layout (`docs/formats.md#index`):
//!
//! ```text
//! be32 magic 0xBAAAD700 | u8 version
//! symbol table                     sorted strings, referenced by position
//! series …                         16-byte aligned; series ref = offset / 16
//! [label indices …]                per label name, its values (Prometheus < 3.7)
//! postings lists …                 4-byte aligned; ("","") = all series first
//! [label offset table]             (Prometheus < 3.7)
//! postings offset table            (name, value) → postings list offset
//! TOC                              six be64 section offsets + CRC32C
//! ```
//!
//! Every section carries a CRC32C. [`IndexFileWriter`] streams an index to
//! disk (version 2, byte-identical to Prometheus 2.42's output, or without
//! the legacy label indices like Prometheus ≥ 3.7); [`IndexFileReader`]
//! reads versions 1, 2 and 3 from any byte buffer (usually a memory map),
//! checking every bound.

mod reader;
mod symbols;
mod toc;
mod walk;
mod writer;

#[cfg(test)]
mod tests;

pub use reader::{IndexFileReader, SeriesEntry, SeriesIter};
pub use toc::Toc;
#[doc(hidden)]
pub use walk::walk_index_bytes;
pub use writer::{IndexFileWriter, WriteStats, WriterOptions};

/// First four bytes of every index file.
pub const MAGIC: u32 = 0xBAAA_D700;
/// Version 1: symbol and series references are byte offsets.
pub const FORMAT_V1: u8 = 1;
/// Version 2: what Prometheus 2.x and 3.x write, and what Aion writes.
pub const FORMAT_V2: u8 = 2;
/// Version 3: accepted by Prometheus ≥ 2.55 for forward compatibility and
/// read exactly like version 2.
pub const FORMAT_V3: u8 = 3;
/// Bytes of magic plus version.
pub const HEADER_LEN: usize = 5;
/// Series entries start at multiples of this; a v2 series reference is the
/// entry's offset divided by it.
pub const SERIES_ALIGNMENT: u64 = 16;
/// Postings lists and label indices start at multiples of this.
pub const POSTINGS_ALIGNMENT: u64 = 4;
/// The name of the index file inside a block directory.
pub const INDEX_FILENAME: &str = "index";
