//! Persistent blocks: immutable directories holding the samples of a time
//! range in Prometheus's formats.
//!
//! ```text
//! <ULID>/
//!   meta.json        BlockMeta: range, stats, compaction lineage (+ Thanos section)
//!   index            index v2 (aion-index)
//!   chunks/000001 …  chunk segment files (crate::chunks::segments)
//!   tombstones       deletion marks
//! ```
//!
//! [`BlockWriter`] writes one; [`Block`] opens one over memory maps and
//! queries it through the [`Querier`](crate::Querier) traits
//! ([`BlockQuerier`]) or chunk by chunk ([`Block::chunk_series`]) for
//! compaction and hosts that ship raw chunks.

mod chunk_querier;
mod chunk_series;
mod meta;
mod querier;
pub(crate) mod reader;
mod tombstones;
mod writer;

pub use chunk_querier::BlockChunkQuerier;
pub use chunk_series::{BlockChunkSeriesSet, BlockSeries, BlockSeriesSource};
pub use meta::{
    parse_ulid, BlockDesc, BlockMeta, BlockStats, CompactionMeta, ThanosFile, ThanosMeta,
    HINT_FROM_OUT_OF_ORDER, META_FILENAME, META_VERSION_1,
};
pub use querier::{BlockQuerier, BlockSeriesIterator};
pub use reader::Block;
pub use tombstones::{Interval, Intervals, Tombstones, TOMBSTONES_FILENAME};
/// Block identifiers (re-exported: they appear in this module's API).
pub use ulid::Ulid;
pub use writer::{
    BlockWriter, BlockWriterOptions, CHUNKS_DIRNAME, TMP_FOR_CREATION_SUFFIX,
    TMP_FOR_DELETION_SUFFIX,
};

#[cfg(test)]
mod prometheus_fixture_tests;
#[cfg(test)]
mod read_floats_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod tests_support {
    pub(crate) use super::tests::{
        dataset, drain, drain_values, seen, write_block, write_value_block, Seen, Values,
    };
}
