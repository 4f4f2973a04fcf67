//! Out-of-order ingestion (Prometheus's `out_of_order_time_window`):
//! samples older than their series' newest, but not older than the window
//! behind the head's newest sample, are kept in per-series out-of-order
//! chunks, logged to the write-behind log `wbl/`, merged into queries, and
//! compacted into blocks of their own.
//!
//! | file | concept |
//! |---|---|
//! | `decision.rs` | where a sample goes (Prometheus's `appendable`) |
//! | `chunk.rs` | a series' out-of-order chunks: in memory (sorted) and m-mapped |
//! | `wbl.rs` | a commit's WBL records: samples and mmap markers in order |
//! | `replay.rs` | rebuilding the out-of-order chunks from the WBL on open |
//! | `read.rs` | what a query sees of a series' out-of-order samples |
//! | `truncate.rs` | dropping what out-of-order compaction wrote to blocks |

mod chunk;
mod decision;
mod read;
pub(crate) mod replay;
mod truncate;
mod wbl;

pub(crate) use chunk::{OooChunkOpts, OooMmapped, OooState};
pub(crate) use decision::{appendable, appendable_at, Bounds, Placement};
pub(crate) use read::{merge_sorted, ooo_samples};
pub(crate) use wbl::WblBatch;

#[cfg(test)]
mod tests;
