//! The database: a data directory, its lock, its head and its blocks.
//!
//! | file | concept |
//! |---|---|
//! | `mod.rs` | [`Db`]: open (read-write or read-only), lock, close, the storage traits |
//! | `blocks.rs` | the block set: opening block directories, quarantine, crash-safe changes |
//! | `readers.rs` | the registry of open queries head truncation waits for |
//! | `querier.rs` | [`DbQuerier`], [`DbChunkQuerier`]: blocks and head merged |
//! | `persist.rs` | head ranges written to blocks, then dropped from the head |
//! | `maintenance.rs` | compaction, retention, deletion, tombstone cleanup |
//! | `ooo_compact.rs` | the out-of-order head written to blocks, then dropped with its WBL |
//! | `background.rs` | the background compaction thread |
//! | `report.rs` | what opening found, as warnings |
//!
//! Deletions are applied by each source itself (the head's queriers, a
//! block's queriers), so nothing here filters them again.

mod background;
mod blocks;
mod maintenance;
mod ooo_compact;
mod persist;
mod querier;
mod readers;
mod report;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aion_wal::Wal;

pub use blocks::CORRUPTED_SUFFIX;
pub use maintenance::{CompactProgress, CompactReport};
pub use querier::{DbChunkQuerier, DbQuerier};

use crate::block::Block;
use crate::head::{Appender, Head, HeadStats, ReplayReport};
use crate::lockfile::LockFile;
use crate::{Error, Options, Result};
use aion_storage::{ChunkQuerier, ChunkQueryable, Querier, Queryable};
use background::BackgroundCompaction;
use blocks::{open_blocks, DbBlocks};

/// An open data directory: the layout is Prometheus's (`wal/`,
/// `chunks_head/`, `lock`), so a directory written by Prometheus opens
/// here and one written here opens in Prometheus.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// use aion_tsdb::{Db, Options, SampleIterator, ValueType};
/// use aion_storage::Queryable;
/// use aion_model::{Labels, Matcher};
///
/// let db = Db::open(dir.path(), Options::default()).unwrap();
/// let mut app = db.appender();
/// let up = Labels::from_pairs(&[("__name__", "up"), ("job", "api")]).unwrap();
/// app.append(&up, 1_000, 1.0).unwrap();
/// app.commit().unwrap();
///
/// {
///     let q = db.querier(0, 10_000).unwrap();
///     let mut set = q.select(false, None, &[Matcher::equal("job", "api")]);
///     let mut series = set.next().unwrap().unwrap();
///     assert_eq!(series.samples.next(), ValueType::Float);
///     assert_eq!(series.samples.at(), (1_000, 1.0));
/// }
/// db.close().unwrap();
/// ```
pub struct Db {
    dir: PathBuf,
    options: Options,
    head: Arc<Head>,
    lock: Option<LockFile>,
    read_only: bool,
    replay: ReplayReport,
    blocks: Arc<DbBlocks>,
    background: Option<BackgroundCompaction>,
    closed: bool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.dir)
            .field("read_only", &self.read_only)
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

/// The newest end of a block not made only of out-of-order data
/// (Prometheus's `inOrderBlocksMaxTime`): the head's minimum valid time on
/// open. Out-of-order blocks may reach into the head's range.
fn in_order_blocks_max_time(blocks: &[Arc<Block>]) -> i64 {
    blocks
        .iter()
        .filter(|b| {
            !b.meta()
                .compaction
                .hints
                .iter()
                .any(|h| h == crate::block::HINT_FROM_OUT_OF_ORDER)
        })
        .map(|b| b.max_time())
        .max()
        .unwrap_or(i64::MIN)
}

/// The write-behind log's directory in a data directory.
pub(crate) const WBL_DIR: &str = "wbl";

/// Opens `wbl/` for the head when out-of-order ingestion is on or the
/// directory holds segments from when it was (Prometheus does the same, so
/// acknowledged out-of-order samples replay and get compacted even with
/// the window now 0).
fn open_wbl(dir: &Path, options: &Options, head: &Head) -> Result<WblOpen> {
    let wbl_dir = dir.join(WBL_DIR);
    let has_segments = wbl_dir.is_dir() && aion_wal::segment_range(&wbl_dir)?.is_some();
    if options.out_of_order_time_window_ms == 0 && !has_segments {
        return Ok(WblOpen::default());
    }
    let mut repaired = None;
    let (wbl, report) = match Wal::open(&wbl_dir, options.wal_options()) {
        Ok(x) => x,
        // Damage in the newest segment: cut the log there, as replay does
        // for damage elsewhere, and report the loss.
        Err(e @ aion_wal::Error::Corrupt { .. }) => {
            let why = e.to_string();
            let at = e.position().cloned().ok_or(e)?;
            repaired = Some((why, aion_wal::repair(&at)?));
            Wal::open(&wbl_dir, options.wal_options())?
        }
        Err(e) => return Err(e.into()),
    };
    head.attach_wbl(wbl);
    Ok(WblOpen {
        torn: report.torn_tail,
        repaired,
    })
}

/// What opening the WBL cut or repaired.
#[derive(Default)]
struct WblOpen {
    torn: Option<aion_wal::TornTail>,
    repaired: Option<(String, aion_wal::RepairReport)>,
}

fn replay_threads(options: &Options) -> usize {
    if options.replay_concurrency > 0 {
        return options.replay_concurrency;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Db {
    /// Opens (creating if needed) the data directory `dir` for reading and
    /// writing.
    ///
    /// Takes the directory's lock (a second open fails with
    /// [`Error::Locked`]), then rebuilds the head from `chunks_head/` and
    /// the WAL: a torn write at the end of the WAL (a crash) is cut, and
    /// damage inside it is repaired by cutting the log there; both are
    /// reported in [`Db::replay_report`] and, as sentences, in
    /// [`Db::warnings`] (a host should log them). A damaged checkpoint is
    /// an error. With [`Options::refuse_damaged_data`] any damage is an
    /// [`Error::Damaged`] instead, before anything is cut.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Db> {
        options.validate()?;
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating data directory {}", dir.display()), e))?;
        let lock = if options.no_lockfile {
            None
        } else {
            Some(LockFile::acquire(&dir)?)
        };
        let strict = options.refuse_damaged_data;
        let (blocks, mut warnings) =
            open_blocks(&dir, false, options.quarantine_corrupt_blocks, strict)?;
        // Samples below the newest block's end are in blocks already: the
        // head refuses them, and replay skips them.
        let min_valid = in_order_blocks_max_time(&blocks);
        if strict {
            // The WBL has the WAL's segment and record format.
            refuse_wal_damage(&dir.join("wal"), "WAL")?;
            refuse_wal_damage(&dir.join(WBL_DIR), "WBL")?;
        }
        // The WAL is opened (its torn tail cut) by the replay once it has
        // read the log, and installed in the head (see `replay`).
        let head = Head::new(&options, &dir.join("chunks_head"), None, false, min_valid)?;
        let wbl_open = open_wbl(&dir, &options, &head)?;
        let mut open_report = None;
        let open_wal = |verified: Option<u32>| -> Result<()> {
            let (wal, report) =
                Wal::open_after_replay(dir.join("wal"), options.wal_options(), verified)?;
            *head.wal.lock() = Some(wal);
            open_report = Some(report);
            Ok(())
        };
        let mut replay = crate::head::replay::replay(
            &head,
            &dir.join("wal"),
            &dir.join(WBL_DIR),
            false,
            strict,
            replay_threads(&options),
            Some(open_wal),
        )?;
        let open_report = open_report.expect("replay opened the WAL");
        if let Some(t) = wbl_open.torn {
            replay.wbl.torn_bytes = t.dropped_bytes;
            replay.wbl.torn_tail = Some(format!(
                "cut {} bytes of an incomplete write at {}",
                t.dropped_bytes, t.at
            ));
        }
        if let Some((why, repair)) = wbl_open.repaired {
            replay.wbl.corruption.get_or_insert(why);
            replay.wbl.repair.get_or_insert(repair);
        }
        if let Some(t) = open_report.torn_tail {
            replay.wal_torn_bytes = t.dropped_bytes;
            replay.wal_torn_tail = Some(format!(
                "cut {} bytes of an incomplete write at {}",
                t.dropped_bytes, t.at
            ));
        }
        warnings.extend(report::replay_warnings(&replay));
        let head = Arc::new(head);
        let blocks = Arc::new(DbBlocks::new(
            &dir,
            &options,
            false,
            head.clone(),
            blocks,
            warnings,
        ));
        let background = if options.background_compaction {
            Some(BackgroundCompaction::start(
                blocks.clone(),
                options.compaction_interval,
            )?)
        } else {
            None
        };
        Ok(Db {
            dir,
            options,
            head,
            lock,
            read_only: false,
            replay,
            blocks,
            background,
            closed: false,
        })
    }

    /// Opens `dir` read-only with default options: no lock is taken and
    /// nothing is written, so it works while another process has the
    /// directory open. The head is rebuilt in memory from what is on disk
    /// now (a write in progress at the end of the WAL is skipped).
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Db> {
        Self::open_read_only_with(dir, Options::default())
    }

    /// [`Db::open_read_only`] with options (chunk range and samples per
    /// chunk decide how replayed samples are cut into chunks).
    pub fn open_read_only_with(dir: impl AsRef<Path>, options: Options) -> Result<Db> {
        options.validate()?;
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(Error::io(
                format!("opening data directory {}", dir.display()),
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
            ));
        }
        let strict = options.refuse_damaged_data;
        let (blocks, mut warnings) = open_blocks(&dir, true, true, strict)?;
        let min_valid = in_order_blocks_max_time(&blocks);
        let head = Head::new(&options, &dir.join("chunks_head"), None, true, min_valid)?;
        let replay = crate::head::replay::replay(
            &head,
            &dir.join("wal"),
            &dir.join(WBL_DIR),
            true,
            strict,
            replay_threads(&options),
            None::<fn(Option<u32>) -> Result<()>>,
        )?;
        warnings.extend(report::replay_warnings(&replay));
        let head = Arc::new(head);
        let blocks = Arc::new(DbBlocks::new(
            &dir,
            &options,
            true,
            head.clone(),
            blocks,
            warnings,
        ));
        Ok(Db {
            dir,
            options,
            head,
            lock: None,
            read_only: true,
            replay,
            blocks,
            background: None,
            closed: false,
        })
    }

    /// A new appender; see [`Appender`]. On a read-only DB its appends
    /// fail with [`Error::ReadOnly`].
    pub fn appender(&self) -> Appender {
        self.head.appender()
    }

    /// The head.
    pub fn head(&self) -> &Arc<Head> {
        &self.head
    }

    /// The head's size and cardinality, with the `top_n` largest entries
    /// of each cardinality list.
    pub fn head_stats(&self, top_n: usize) -> HeadStats {
        self.head.stats(top_n)
    }

    /// What opening found and rebuilt.
    pub fn replay_report(&self) -> &ReplayReport {
        &self.replay
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options in effect.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Whether the DB was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Writes out buffered head chunks and flushes chunk files and WAL to
    /// disk (`fdatasync`): everything committed so far survives power
    /// loss.
    pub fn sync(&self) -> Result<()> {
        self.head.sync()
    }

    /// Writes out buffered chunks, syncs chunk files and WAL, closes the
    /// WAL and releases the lock. Appenders still alive fail with
    /// [`Error::Closed`] from then on.
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        if let Some(mut bg) = self.background.take() {
            bg.stop();
        }
        let mut result = Ok(());
        if !self.read_only {
            result = self.head.chunks.sync();
            if let Some(wal) = self.head.take_wal() {
                let closed = wal.close().map_err(Error::from);
                result = result.and(closed);
            }
            if let Some(wbl) = self.head.take_wbl() {
                let closed = wbl.close().map_err(Error::from);
                result = result.and(closed);
            }
        }
        if let Some(lock) = self.lock.take() {
            result = result.and(lock.release());
        }
        result
    }
}

/// Strict writable opening reads the whole WAL (checkpoint and segments)
/// first, so damage refuses the open before [`Wal::open`] cuts a torn tail
/// or starts a segment, and before replay would repair: nothing on disk
/// changes. (Read-only opens find it during replay.) Costs a second read
/// of the log, which strict users trade for the guarantee.
fn refuse_wal_damage(wal_dir: &Path, what: &str) -> Result<()> {
    if !wal_dir.is_dir() {
        return Ok(());
    }
    let damaged = |e: &dyn std::fmt::Display| Error::Damaged(format!("{what}: {e}"));
    let mut reader = aion_wal::WalReader::replay(wal_dir)?;
    let mut dec = aion_wal::record::RecordDecoder::default();
    loop {
        match reader.next_record() {
            Ok(Some(rec)) => {
                if let Err(e) = dec.decode(rec) {
                    let at = reader.position().expect("a record was just read");
                    return Err(damaged(&format!("bad record in {at}: {e}")));
                }
            }
            Ok(None) => return Ok(()),
            Err(e @ (aion_wal::Error::Corrupt { .. } | aion_wal::Error::Record { .. })) => {
                return Err(damaged(&e))
            }
            Err(e) => return Err(e.into()),
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

impl Queryable for Db {
    /// A querier over the blocks overlapping `[mint, maxt]` and the head,
    /// merged into one sorted view (a series in several appears once, its
    /// samples merged and deduplicated).
    fn querier(&self, mint: i64, maxt: i64) -> aion_storage::Result<Box<dyn Querier + '_>> {
        Ok(Box::new(self.blocks.querier(mint, maxt)))
    }
}

/// Blocks: persistence, compaction, retention and deletion.
impl Db {
    /// The blocks, sorted by minimum time.
    pub fn blocks(&self) -> Vec<Arc<Block>> {
        self.blocks.snapshot().to_vec()
    }

    /// Problems met without failing, one sentence each naming the file:
    /// blocks skipped or moved aside on open
    /// ([`Options::quarantine_corrupt_blocks`]), the WAL cut or repaired,
    /// `chunks_head/` files dropped, records skipped (the lines of
    /// [`Db::replay_report`]), background compactions that failed. A host
    /// logs them after [`Db::open`]; every query's querier reports them
    /// too ([`aion_storage::LabelQuerier::warnings`]), so PromQL results
    /// carry them as warnings. Empty for a healthy directory.
    pub fn warnings(&self) -> Vec<String> {
        self.blocks.warnings()
    }

    /// Runs compaction now, as the background thread does
    /// ([`Options::background_compaction`]): while the head spans more
    /// than 1.5 block ranges, its oldest range is written to a block and
    /// dropped from the head (then the WAL is checkpointed and truncated);
    /// then blocks are compacted as the leveled planner says; then blocks
    /// past retention are deleted. Appends go on meanwhile; queries keep
    /// the blocks they read until they finish.
    pub fn compact(&self) -> Result<CompactReport> {
        self.blocks.compact()
    }

    /// [`Db::compact`], calling `progress` before each step (a head range
    /// written to a block, blocks merged, retention), so a tool can show
    /// what a long compaction is doing.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use aion_tsdb::{CompactProgress, Db, Options};
    ///
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let mut steps = Vec::new();
    /// db.compact_with_progress(&mut |p| steps.push(p)).unwrap();
    /// assert_eq!(steps, [CompactProgress::ApplyingRetention]);
    /// ```
    pub fn compact_with_progress(
        &self,
        progress: &mut dyn FnMut(CompactProgress),
    ) -> Result<CompactReport> {
        self.blocks.compact_with_progress(progress)
    }

    /// Writes the out-of-order head into blocks now (Prometheus's
    /// `CompactOOOHead`), one per block range it touches, marked
    /// `from-out-of-order`, then drops it and its WBL segments (once no
    /// query that started before is open). [`Db::compact`] does this after
    /// it persisted a head range. Returns the new blocks.
    pub fn compact_out_of_order(&self) -> Result<Vec<ulid::Ulid>> {
        self.blocks.compact_out_of_order()
    }

    /// Deletes the samples in `[mint, maxt]` of the series matching
    /// `matchers`, in blocks (tombstones, Prometheus's format) and head
    /// (tombstones logged to the WAL). Queries opened from now on do not
    /// see them; compaction later rewrites blocks without them.
    pub fn delete(&self, matchers: &[aion_model::Matcher], mint: i64, maxt: i64) -> Result<()> {
        self.blocks.delete(mint, maxt, matchers)
    }

    /// Rewrites every block that has tombstones without the deleted
    /// samples. Returns the new blocks' ULIDs.
    pub fn clean_tombstones(&self) -> Result<Vec<ulid::Ulid>> {
        self.blocks.clean_tombstones()
    }
}

impl aion_storage::Appendable for Db {
    /// A head appender (see [`Db::appender`]).
    fn appender(&self) -> Box<dyn aion_storage::Appender + '_> {
        Box::new(self.head.appender())
    }
}

impl ChunkQueryable for Db {
    /// A chunk querier over the blocks overlapping `[mint, maxt]` and the
    /// head, merged by series (overlapping chunks of a series merged).
    fn chunk_querier(
        &self,
        mint: i64,
        maxt: i64,
    ) -> aion_storage::Result<Box<dyn ChunkQuerier + '_>> {
        Ok(Box::new(self.blocks.chunk_querier(mint, maxt)))
    }
}
