//! The head: the in-memory part of the database that takes appends.
//!
//! | file | concept |
//! |---|---|
//! | `series.rs` | a series (`MemSeries`): its state, chunks and labels |
//! | `series_map.rs` | the striped maps finding a series by label hash and by reference |
//! | `symbols.rs` | the label strings of all series, stored once and reference counted |
//! | `open_chunk.rs` | the open chunk's appender (XOR, XOR2, histogram, float histogram) and sample kinds |
//! | `chunk_cutting.rs` | when a float chunk ends, as Prometheus 3 decides it |
//! | `histogram_append.rs` | appending histograms: their chunks' size rules, re-encoding, resets |
//! | `appender.rs` | batches of appends and their commit |
//! | `appender/commit_log.rs` | what a commit writes first: its new series' postings, its WAL records |
//! | `known_series.rs` | the series an appender resolved, and the pool that hands them to the next appender of the stream |
//! | `batch.rs` | a batch's histograms, in type-clean segments, and their WAL records |
//! | `commit.rs` | applying a logged batch to its series |
//! | `isolation.rs` | what a query sees of commits running beside it |
//! | `index.rs` | the head as an [`IndexReader`](aion_index::IndexReader), so label selection is the index crate's |
//! | `querier.rs` | sample- and chunk-level queriers over the head |
//! | `snap_chunk.rs` | a chunk as a query's snapshot of a series holds it |
//! | `merged.rs` | a series' in-order and out-of-order samples merged, for queries |
//! | `replay.rs` | rebuilding the head from `chunks_head/`, the checkpoint and the WAL |
//! | `replay_chunks.rs` | replay's first step: `chunks_head/` loaded and grouped by series, its time order checked |
//! | `replay_reader.rs` | replay's reading thread: the log read, checked and its samples in `chunks_head/` dropped early |
//! | `delete.rs` | deleting samples: tombstones in the WAL and in memory |
//! | `gc.rs` | truncation: dropping old chunks, empty series and old WAL |
//! | `stats.rs` | counts and cardinality statistics |
//! | `ooo/` | out-of-order samples: the decision, their chunks, the WBL, their reads |

mod appender;
mod batch;
mod chunk_cutting;
mod commit;
mod delete;
mod gc;
mod histogram_append;
mod index;
mod isolation;
mod known_series;
mod merged;
mod mmapped;
pub(crate) mod ooo;
mod open_chunk;
mod querier;
pub(crate) mod replay;
mod replay_chunks;
mod replay_reader;
mod replay_report;
mod series;
mod series_arc;
mod series_map;
mod small_bytes;
mod snap_chunk;
mod stats;
mod symbols;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use aion_index::postings::MemPostings;
use aion_index::SeriesRef;
use aion_model::Labels;
use aion_wal::record::Intervals;
use aion_wal::Wal;
use parking_lot::{Mutex, RwLock};

pub use appender::Appender;
/// Prometheus's chunk-cutting arithmetic, shared with the backfill (which
/// cuts chunks the way Prometheus's head does for `promtool`).
pub(crate) use chunk_cutting::{
    compute_chunk_end_time, range_end, MAX_XOR_CHUNK_BYTES_BEFORE_APPEND,
};
pub use gc::TruncateReport;
pub use ooo::replay::WblReplayReport;
pub use querier::{HeadChunkQuerier, HeadQuerier};
pub use replay::ReplayReport;
pub use stats::{HeadStats, LabelCount};

use crate::chunks::HeadChunkStore;
use crate::{Error, Options, Result};
use chunk_cutting::CutPolicy;
use isolation::Isolation;
pub(crate) use series::MemSeries;
pub(crate) use series_arc::SeriesArc;
use series_map::StripeSeries;
use symbols::SymbolTable;

/// Number of stripes of the series maps.
const SERIES_STRIPES: usize = 1024;

/// Counters of what the head did since it was opened.
#[derive(Debug, Default)]
pub(crate) struct HeadCounters {
    pub samples_appended: AtomicU64,
    pub samples_dropped_at_commit: AtomicU64,
    pub out_of_order_refused: AtomicU64,
    pub out_of_bounds_refused: AtomicU64,
    pub duplicates_refused: AtomicU64,
    pub too_old_refused: AtomicU64,
    pub out_of_order_appended: AtomicU64,
    pub series_created: AtomicU64,
    pub series_removed: AtomicU64,
    pub series_limit_refused: AtomicU64,
    pub commits: AtomicU64,
}

/// The in-memory head of a [`Db`](crate::Db): every series with recent
/// samples, their open chunks, and the mmapped `chunks_head/` files.
///
/// Obtained from [`Db::head`](crate::Db::head); appended to through an
/// [`Appender`]; read through [`Queryable`](crate::Queryable) (a
/// [`HeadQuerier`]) or [`ChunkQueryable`](crate::ChunkQueryable).
pub struct Head {
    policy: CutPolicy,
    max_series: Option<usize>,
    pub(crate) series: StripeSeries,
    /// The label strings of the series.
    pub(crate) symbols: SymbolTable,
    pub(crate) postings: MemPostings,
    pub(crate) chunks: HeadChunkStore,
    /// The log; `None` when read-only or closed.
    pub(crate) wal: Mutex<Option<Wal>>,
    /// The write-behind log of out-of-order samples (`wbl/`); `None` when
    /// out-of-order ingestion was never on, read-only or closed.
    pub(crate) wbl: Mutex<Option<Wal>>,
    /// The out-of-order window (ms), 0 when off.
    pub(crate) ooo_window: i64,
    /// Samples per in-memory out-of-order chunk.
    pub(crate) ooo_cap: usize,
    /// Oldest and newest out-of-order sample time (`i64::MAX`/`MIN` if none).
    pub(crate) ooo_min_time: AtomicI64,
    pub(crate) ooo_max_time: AtomicI64,
    read_only: bool,
    pub(crate) iso: Arc<Isolation>,
    min_time: AtomicI64,
    max_time: AtomicI64,
    min_valid_time: AtomicI64,
    last_series_ref: AtomicU64,
    num_series: AtomicUsize,
    /// Number of truncations so far; appenders drop the series they hold
    /// when it changes.
    pub(crate) truncations: AtomicU64,
    pub(crate) counters: HeadCounters,
    /// Deleted time ranges by series (from WAL tombstone records).
    pub(crate) tombstones: RwLock<HashMap<SeriesRef, Intervals>>,
    buffers: Mutex<Vec<appender::Buffers>>,
    /// Series of dropped appenders, for the next appender of the same
    /// stream; emptied by [`Head::begin_truncation`].
    pub(crate) known_pool: Mutex<known_series::KnownPool>,
    /// Minimum valid times of append batches in progress (with counts), so
    /// block persistence can wait for batches that may still append into
    /// the range it persists.
    pub(crate) open_batches: Mutex<std::collections::BTreeMap<i64, usize>>,
}

impl std::fmt::Debug for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Head")
            .field("series", &self.num_series())
            .field("min_time", &self.min_time())
            .field("max_time", &self.max_time())
            .finish_non_exhaustive()
    }
}

impl Head {
    /// A new empty head over the chunk files in `chunks_dir` (read-only: no
    /// files written, new chunks kept in memory) logging to `wal`.
    pub(crate) fn new(
        opts: &Options,
        chunks_dir: &Path,
        wal: Option<Wal>,
        read_only: bool,
        min_valid_time: i64,
    ) -> Result<Head> {
        Ok(Head {
            policy: CutPolicy {
                chunk_range: opts.block_range_ms,
                samples_per_chunk: opts.samples_per_chunk,
                float_encoding: opts.float_chunk_encoding,
            },
            max_series: opts.max_head_series,
            series: StripeSeries::new(SERIES_STRIPES),
            symbols: SymbolTable::new(),
            postings: MemPostings::new(),
            chunks: HeadChunkStore::open(chunks_dir, read_only)?,
            wal: Mutex::new(wal),
            wbl: Mutex::new(None),
            ooo_window: opts.out_of_order_time_window_ms,
            ooo_cap: opts.out_of_order_cap_max,
            ooo_min_time: AtomicI64::new(i64::MAX),
            ooo_max_time: AtomicI64::new(i64::MIN),
            read_only,
            iso: Isolation::new(),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            min_valid_time: AtomicI64::new(min_valid_time),
            last_series_ref: AtomicU64::new(0),
            num_series: AtomicUsize::new(0),
            truncations: AtomicU64::new(0),
            counters: HeadCounters::default(),
            tombstones: RwLock::new(HashMap::new()),
            buffers: Mutex::new(Vec::new()),
            known_pool: Mutex::new(known_series::KnownPool::default()),
            open_batches: Mutex::new(std::collections::BTreeMap::new()),
        })
    }

    /// A new appender. Many may be used at once, from any threads.
    pub fn appender(self: &Arc<Self>) -> Appender {
        Appender::new(self.clone())
    }

    /// Time of the oldest sample (ms); `i64::MAX` while the head is empty.
    pub fn min_time(&self) -> i64 {
        self.min_time.load(Ordering::Acquire)
    }

    /// Time of the newest sample (ms); `i64::MIN` while the head is empty.
    pub fn max_time(&self) -> i64 {
        self.max_time.load(Ordering::Acquire)
    }

    /// The oldest time the head accepts samples for, ignoring its own
    /// samples (set by block persistence: nothing may go below the newest
    /// block).
    pub fn min_valid_time(&self) -> i64 {
        self.min_valid_time.load(Ordering::Acquire)
    }

    /// Raises the oldest time appends may have (after a block up to `t`
    /// was written). Never lowers it.
    pub fn set_min_valid_time(&self, t: i64) {
        self.min_valid_time.fetch_max(t, Ordering::AcqRel);
    }

    /// The oldest timestamp an appender created now accepts: half a chunk
    /// range behind the newest sample, and never below
    /// [`Head::min_valid_time`] (Prometheus's `appendableMinValidTime`).
    /// `None` while the head has no sample.
    pub fn appendable_min_valid_time(&self) -> Option<i64> {
        let max = self.max_time();
        if max == i64::MIN {
            return None;
        }
        Some(
            max.saturating_sub(self.policy.chunk_range / 2)
                .max(self.min_valid_time()),
        )
    }

    /// Waits until no append batch in progress may still add samples
    /// older than `t` (Prometheus's `WaitForAppendersOverlapping`): after
    /// [`Head::set_min_valid_time`]`(t)`, new batches cannot, so this waits
    /// for the ones that started before to commit or roll back. Block
    /// persistence calls it before reading the range below `t`.
    pub fn wait_for_appenders_below(&self, t: i64) {
        loop {
            let oldest = self.open_batches.lock().keys().next().copied();
            match oldest {
                Some(m) if m < t => std::thread::sleep(std::time::Duration::from_millis(2)),
                _ => return,
            }
        }
    }

    /// Number of series.
    pub fn num_series(&self) -> usize {
        self.num_series.load(Ordering::Acquire)
    }

    /// The head's chunk range (the block range), ms.
    pub fn chunk_range(&self) -> i64 {
        self.policy.chunk_range
    }

    /// Whether appends are refused (the DB is open read-only).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The labels of series `r`, if the head holds it.
    pub fn series_labels(&self, r: SeriesRef) -> Option<Labels> {
        self.series.get_by_ref(r).map(|s| self.labels_of(&s))
    }

    /// The labels of a series of this head.
    pub(crate) fn labels_of(&self, s: &MemSeries) -> Labels {
        self.symbols.labels(&s.labels)
    }

    /// Sets the head's time range from a first sample (Prometheus's
    /// `initTime`): both bounds become `t` if still unset.
    fn init_time(&self, t: i64) {
        let _ = self
            .max_time
            .compare_exchange(i64::MIN, t, Ordering::AcqRel, Ordering::Acquire);
        let _ = self
            .min_time
            .compare_exchange(i64::MAX, t, Ordering::AcqRel, Ordering::Acquire);
    }

    fn update_min_max(&self, mint: i64, maxt: i64) {
        if mint <= maxt {
            self.min_time.fetch_min(mint, Ordering::AcqRel);
            self.max_time.fetch_max(maxt, Ordering::AcqRel);
        }
    }

    /// Widens the out-of-order time range.
    pub(crate) fn update_ooo_min_max(&self, mint: i64, maxt: i64) {
        if mint <= maxt {
            self.ooo_min_time.fetch_min(mint, Ordering::AcqRel);
            self.ooo_max_time.fetch_max(maxt, Ordering::AcqRel);
        }
    }

    /// The out-of-order window (ms) the head accepts samples in; 0: off.
    pub fn out_of_order_time_window(&self) -> i64 {
        self.ooo_window
    }

    /// How the head builds out-of-order chunks.
    pub(crate) fn ooo_opts(&self) -> ooo::OooChunkOpts {
        ooo::OooChunkOpts {
            cap: self.ooo_cap,
            floats: self.policy.float_encoding,
        }
    }

    /// Gives the head its write-behind log (on open, before replay).
    pub(crate) fn attach_wbl(&self, wbl: Wal) {
        *self.wbl.lock() = Some(wbl);
    }

    /// Takes the WBL out of the head to close it.
    pub(crate) fn take_wbl(&self) -> Option<Wal> {
        self.wbl.lock().take()
    }

    /// The series with `labels`, created if missing: then neither logged
    /// nor in the postings (the creating appender adds it to both at its
    /// commit, see `Appender::index_new_series`), and `true` beside it.
    pub(crate) fn get_or_create(&self, labels: &Labels) -> Result<(SeriesArc, bool)> {
        if labels.is_empty() {
            return Err(Error::InvalidSample("empty labelset".into()));
        }
        symbols::with_encoding(labels, |encoding| {
            self.get_or_create_encoded(labels, encoding)
        })
    }

    /// [`Head::get_or_create`] given the labels' canonical encoding too.
    fn get_or_create_encoded(&self, labels: &Labels, encoding: &[u8]) -> Result<(SeriesArc, bool)> {
        let hash = symbols::encoding_hash(encoding);
        let is_it = |s: &MemSeries| self.symbols.matches(&s.labels, encoding);
        if let Some(s) = self.series.get_by_hash(hash, is_it) {
            return Ok((s, false));
        }
        if let Some(limit) = self.max_series {
            if self.num_series() >= limit {
                self.counters
                    .series_limit_refused
                    .fetch_add(1, Ordering::Relaxed);
                return Err(Error::SeriesLimit { limit });
            }
        }
        let created = self.series.get_or_insert(hash, is_it, || {
            let r = self.last_series_ref.fetch_add(1, Ordering::AcqRel) + 1;
            let labels = self.symbols.intern(labels);
            Ok::<_, Error>(MemSeries::new(r, labels, hash, false))
        })?;
        if created.1 {
            self.count_created();
        }
        Ok(created)
    }

    /// The series with `labels` under reference `r` (replay: the WAL's
    /// reference), or the existing series with those labels.
    pub(crate) fn get_or_create_with_ref(
        &self,
        r: SeriesRef,
        labels: &Labels,
    ) -> (SeriesArc, bool) {
        let created = symbols::with_encoding(labels, |encoding| {
            let hash = symbols::encoding_hash(encoding);
            self.series.get_or_insert(
                hash,
                |s| self.symbols.matches(&s.labels, encoding),
                || {
                    let interned = self.symbols.intern(labels);
                    Ok::<_, std::convert::Infallible>(MemSeries::new(r, interned, hash, true))
                },
            )
        })
        .unwrap_or_else(|e| match e {});
        if created.1 {
            self.last_series_ref.fetch_max(r, Ordering::AcqRel);
            self.on_series_created(&created.0, labels);
        }
        created
    }

    /// A replayed series: indexed at once (replay is the only writer).
    fn on_series_created(&self, s: &MemSeries, labels: &Labels) {
        self.postings.add(s.series_ref, labels);
        self.count_created();
    }

    fn count_created(&self) {
        self.num_series.fetch_add(1, Ordering::AcqRel);
        self.counters.series_created.fetch_add(1, Ordering::Relaxed);
    }

    /// Flushes buffered chunk-file writes and syncs the chunk and WAL files.
    pub(crate) fn sync(&self) -> Result<()> {
        self.chunks.sync()?;
        if let Some(wal) = self.wal.lock().as_mut() {
            wal.sync()?;
        }
        if let Some(wbl) = self.wbl.lock().as_mut() {
            wbl.sync()?;
        }
        Ok(())
    }

    /// Takes the WAL out of the head to close it; appends fail from then on.
    pub(crate) fn take_wal(&self) -> Option<Wal> {
        self.wal.lock().take()
    }
}

#[cfg(test)]
mod histogram_proptests;
#[cfg(test)]
mod histogram_test_support;
#[cfg(test)]
mod histogram_tests;
#[cfg(test)]
mod tests;
