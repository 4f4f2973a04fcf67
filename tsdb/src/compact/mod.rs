//! Compaction: merging blocks into bigger ones, as Prometheus's
//! `LeveledCompactor` does.
//!
//! * [`plan`] picks what to compact (overlapping blocks, then full ranges
//!   of the next level: 2 h → 6 h → 18 h → 54 h …, then blocks heavy with
//!   tombstones);
//! * [`compact_blocks`] streams the chosen blocks' series through
//!   [`MergedSeries`] into a new block (vertical merge of overlaps, deleted
//!   samples dropped) with bounded memory;
//! * [`write_block`] writes a block from any sorted series source (the
//!   head, when its oldest range is persisted).
//!
//! The database runs these (see `Db::compact`) and then deletes the
//! parents; every step is crash-safe because a block appears by an atomic
//! rename and a new block names its parents.

mod compactor;
mod merge;
mod plan;

pub use compactor::{compact_blocks, compact_metas, write_block};
pub use merge::MergedSeries;
pub use plan::{compaction_ranges, exponential_block_ranges, max_block_duration, plan};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
