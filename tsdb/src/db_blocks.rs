//! The database's blocks: opening them, querying them with the head,
//! persisting the head into them, compacting them, retention and
//! deletion.
//!
//! ## Crash safety
//!
//! Every change of the block set is a sequence of steps each of which
//! leaves a directory that opens correctly:
//!
//! * a new block appears by one `rename` of its `.tmp-for-creation`
//!   directory (a crash before leaves a temporary directory, removed on
//!   open);
//! * a block persisted from the head makes the head's minimum valid time
//!   its end, so replaying a WAL that still holds those samples skips them
//!   (no duplicates), and the WAL is truncated only after the block exists
//!   (no loss);
//! * parents of a compaction are deleted after the new block exists; a
//!   new block names its parents, so any left over are deleted on open;
//! * a block is deleted by renaming it to `.tmp-for-deletion` first.
//!
//! ## Readers
//!
//! A query holds `Arc`s of the blocks it reads; a block replaced or
//! dropped meanwhile is deleted from disk when the last query using it
//! ends. The head drops data it persisted only once no query that started
//! before the new block was visible reads that range (such a query may not
//! see the block, so it must still see the head's copy); until then
//! queries see both copies, which the merge deduplicates.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aion_model::Matcher;
use parking_lot::{Condvar, Mutex, RwLock};
use ulid::Ulid;

use crate::block::reader::remove_block_dir;
use crate::block::{
    parse_ulid, Block, BlockChunkQuerier, BlockMeta, BlockQuerier, BlockSeries, BlockSeriesSource,
    BlockWriterOptions, TMP_FOR_CREATION_SUFFIX, TMP_FOR_DELETION_SUFFIX,
};
use crate::compact::{compact_blocks, compaction_ranges, max_block_duration, plan, write_block};
use crate::head::Head;
use crate::{Error, Options, Result};
use aion_storage::{
    ChunkQuerier, ChunkSeriesSet, MergeChunkQuerier, MergeQuerier, Querier, SelectHints, SeriesSet,
};

/// Suffix a corrupted block's directory is renamed to when
/// [`Options::quarantine_corrupt_blocks`] is set; neither Aion nor
/// Prometheus opens such a directory.
pub const CORRUPTED_SUFFIX: &str = ".corrupted";

/// What [`Db::compact`](crate::Db::compact) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Blocks written from the head.
    pub head_blocks: Vec<Ulid>,
    /// Blocks written by merging blocks.
    pub compacted_blocks: Vec<Ulid>,
    /// Blocks deleted: parents of compactions, and blocks past retention.
    pub deleted_blocks: Vec<Ulid>,
}

/// A step [`Db::compact_with_progress`](crate::Db::compact_with_progress)
/// is about to take, for hosts and tools that show progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompactProgress {
    /// Writing `[min_time, max_time)` of the head into a block; `done` of
    /// the `total` head ranges due now are written already.
    PersistingHead {
        /// Start of the range (ms, inclusive).
        min_time: i64,
        /// End of the range (ms, exclusive).
        max_time: i64,
        /// Head ranges written so far in this compaction.
        done: usize,
        /// Head ranges this compaction writes.
        total: usize,
    },
    /// Merging `parents` blocks spanning `[min_time, max_time)` into one.
    MergingBlocks {
        /// How many blocks are merged.
        parents: usize,
        /// Start of the merged range (ms, inclusive).
        min_time: i64,
        /// End of the merged range (ms, exclusive).
        max_time: i64,
    },
    /// Deleting blocks past retention.
    ApplyingRetention,
}

/// Open queries, so head truncation can wait for the ones that may need
/// the head's copy of persisted data.
#[derive(Default)]
struct Readers {
    state: Mutex<ReadersState>,
}

#[derive(Default)]
struct ReadersState {
    next_id: u64,
    /// Open queries by id: their minimum time.
    open: BTreeMap<u64, i64>,
}

/// Keeps a query registered while alive.
pub(crate) struct ReaderGuard<'a> {
    readers: &'a Readers,
    id: u64,
}

impl Drop for ReaderGuard<'_> {
    fn drop(&mut self) {
        self.readers.state.lock().open.remove(&self.id);
    }
}

impl Readers {
    fn register(&self, mint: i64) -> ReaderGuard<'_> {
        let mut st = self.state.lock();
        let id = st.next_id;
        st.next_id += 1;
        st.open.insert(id, mint);
        ReaderGuard { readers: self, id }
    }

    /// Id the next registered query will get.
    fn generation(&self) -> u64 {
        self.state.lock().next_id
    }

    /// Whether a query registered before `generation` reads below `t`.
    fn any_older_than(&self, generation: u64, t: i64) -> bool {
        self.state
            .lock()
            .open
            .range(..generation)
            .any(|(_, &mint)| mint < t)
    }
}

/// The blocks of a database and what changes them.
pub(crate) struct DbBlocks {
    dir: PathBuf,
    read_only: bool,
    block_range: i64,
    retention_ms: i64,
    retention_bytes: Option<u64>,
    ranges: Vec<i64>,
    writer: BlockWriterOptions,
    head: Arc<Head>,
    set: RwLock<Arc<Vec<Arc<Block>>>>,
    readers: Readers,
    /// Where head persistence got to: the head below it is in blocks.
    persisted_until: Mutex<i64>,
    /// A head truncation waiting for queries that may not see the block
    /// holding the data (registered before the given generation).
    pending_truncation: Mutex<Option<(u64, i64)>>,
    /// One compaction, persistence, deletion or cleanup at a time.
    changing: Mutex<()>,
    warnings: Mutex<Vec<String>>,
}

/// Opens the blocks of `dir`: removes leftovers of interrupted writes and
/// deletions (unless read-only), opens every block directory, and deletes
/// blocks another block names as its parent (a compaction that crashed
/// before deleting them). A block that fails to open is an error naming
/// it, unless it is such a parent, or `quarantine` is set: then it is
/// renamed to `<ULID>.corrupted` and reported in the returned warnings.
pub(crate) fn open_blocks(
    dir: &Path,
    read_only: bool,
    quarantine: bool,
) -> Result<(Vec<Arc<Block>>, Vec<String>)> {
    let mut warnings = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), warnings)),
        Err(e) => return Err(Error::io(format!("list {}", dir.display()), e)),
    };
    let mut block_dirs: Vec<(Ulid, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("list {}", dir.display()), e))?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let is_tmp = [TMP_FOR_CREATION_SUFFIX, TMP_FOR_DELETION_SUFFIX, ".tmp"]
            .iter()
            .any(|s| name.ends_with(s));
        if is_tmp {
            if !read_only {
                std::fs::remove_dir_all(&path)
                    .map_err(|e| Error::io(format!("remove {}", path.display()), e))?;
            }
            continue;
        }
        if let Some(ulid) = parse_ulid(&name) {
            block_dirs.push((ulid, path));
        }
    }
    block_dirs.sort();
    let mut blocks = Vec::new();
    let mut corrupted: Vec<(Ulid, PathBuf, Error)> = Vec::new();
    for (ulid, path) in block_dirs {
        match Block::open(&path) {
            Ok(b) => blocks.push(Arc::new(b)),
            Err(e) => corrupted.push((ulid, path, e)),
        }
    }
    let parents: HashSet<Ulid> = blocks
        .iter()
        .flat_map(|b| b.meta().compaction.parents.into_iter().map(|p| p.ulid))
        .collect();
    for (ulid, path, err) in corrupted {
        if parents.contains(&ulid) {
            // A parent whose deletion a crash interrupted.
            if !read_only {
                remove_block_dir(&path)?;
            }
            continue;
        }
        if !quarantine {
            return Err(err);
        }
        if read_only {
            warnings.push(format!("skipped unreadable block: {err}"));
            continue;
        }
        let aside = dir.join(format!("{ulid}{CORRUPTED_SUFFIX}"));
        std::fs::rename(&path, &aside).map_err(|e| {
            Error::io(
                format!("rename {} to {}", path.display(), aside.display()),
                e,
            )
        })?;
        warnings.push(format!(
            "moved unreadable block aside to {}: {err}",
            aside.display()
        ));
    }
    let (keep, gone): (Vec<_>, Vec<_>) = blocks
        .into_iter()
        .partition(|b| !parents.contains(&b.ulid()) && !b.meta().compaction.deletable);
    for b in gone {
        if !read_only {
            b.delete_when_unused();
        }
    }
    let mut keep = keep;
    keep.sort_by_key(|b| (b.min_time(), b.ulid()));
    Ok((keep, warnings))
}

impl DbBlocks {
    pub(crate) fn new(
        dir: &Path,
        options: &Options,
        read_only: bool,
        head: Arc<Head>,
        blocks: Vec<Arc<Block>>,
        warnings: Vec<String>,
    ) -> DbBlocks {
        let max_duration = options
            .max_block_duration_ms
            .unwrap_or_else(|| max_block_duration(options.block_range_ms, options.retention_ms));
        DbBlocks {
            dir: dir.to_path_buf(),
            read_only,
            block_range: options.block_range_ms,
            retention_ms: options.retention_ms,
            retention_bytes: options.retention_bytes,
            ranges: compaction_ranges(options.block_range_ms, max_duration),
            writer: BlockWriterOptions::default(),
            head,
            set: RwLock::new(Arc::new(blocks)),
            readers: Readers::default(),
            persisted_until: Mutex::new(i64::MIN),
            pending_truncation: Mutex::new(None),
            changing: Mutex::new(()),
            warnings: Mutex::new(warnings),
        }
    }

    /// The blocks now, sorted by min time.
    pub(crate) fn snapshot(&self) -> Arc<Vec<Arc<Block>>> {
        self.set.read().clone()
    }

    pub(crate) fn warnings(&self) -> Vec<String> {
        self.warnings.lock().clone()
    }

    /// A querier over the blocks and the head, merged.
    pub(crate) fn querier(&self, mint: i64, maxt: i64) -> DbQuerier<'_> {
        // Registered before anything is read; head first, then the block
        // snapshot: data moving from the head to a block meanwhile is seen
        // at least once (twice is deduplicated by the merge).
        let guard = self.readers.register(mint);
        let head = self.head.querier(mint, maxt);
        let mut queriers: Vec<Box<dyn Querier + '_>> = self
            .snapshot()
            .iter()
            .filter(|b| b.meta().overlaps_closed(mint, maxt))
            .map(|b| Box::new(BlockQuerier::new(b.clone(), mint, maxt)) as Box<dyn Querier>)
            .collect();
        queriers.push(Box::new(head));
        DbQuerier {
            inner: MergeQuerier::new(queriers),
            _guard: guard,
        }
    }

    /// A chunk querier over the blocks and the head, merged.
    pub(crate) fn chunk_querier(&self, mint: i64, maxt: i64) -> DbChunkQuerier<'_> {
        let guard = self.readers.register(mint);
        let head = self.head.chunk_querier(mint, maxt);
        let mut queriers: Vec<Box<dyn ChunkQuerier + '_>> = self
            .snapshot()
            .iter()
            .filter(|b| b.meta().overlaps_closed(mint, maxt))
            .map(|b| {
                Box::new(BlockChunkQuerier::new(b.clone(), mint, maxt)) as Box<dyn ChunkQuerier>
            })
            .collect();
        queriers.push(Box::new(head));
        DbChunkQuerier {
            inner: MergeChunkQuerier::new(queriers),
            _guard: guard,
        }
    }

    /// Sets the committed list, marking removed blocks for deletion once
    /// unused.
    fn replace(&self, add: Vec<Arc<Block>>, remove: &HashSet<Ulid>) {
        let mut set = self.set.write();
        let mut next: Vec<Arc<Block>> = set
            .iter()
            .filter(|b| {
                let gone = remove.contains(&b.ulid());
                if gone {
                    b.delete_when_unused();
                }
                !gone
            })
            .cloned()
            .collect();
        next.extend(add);
        next.sort_by_key(|b| (b.min_time(), b.ulid()));
        *set = Arc::new(next);
    }

    fn check_writable(&self) -> Result<()> {
        if self.read_only {
            Err(Error::ReadOnly)
        } else {
            Ok(())
        }
    }

    /// Persists head ranges, compacts blocks, applies retention.
    pub(crate) fn compact(&self) -> Result<CompactReport> {
        self.compact_with_progress(&mut |_| {})
    }

    /// [`DbBlocks::compact`], telling `progress` each step before taking it.
    pub(crate) fn compact_with_progress(
        &self,
        progress: &mut dyn FnMut(CompactProgress),
    ) -> Result<CompactReport> {
        self.check_writable()?;
        let _one = self.changing.lock();
        let mut report = CompactReport::default();
        let mut last_persisted = None;
        self.truncate_head_if_unread()?;
        let due = self.head_ranges_due();
        // The head holds more than 1.5 block ranges: persist its oldest.
        loop {
            let persisted = *self.persisted_until.lock();
            let hmin = self.head.min_time().max(persisted);
            let hmax = self.head.max_time();
            if hmax == i64::MIN || hmax - hmin <= self.block_range / 2 * 3 {
                break;
            }
            let maxt = crate::head::range_end(hmin, self.block_range);
            progress(CompactProgress::PersistingHead {
                min_time: hmin,
                max_time: maxt,
                done: report.head_blocks.len(),
                total: due.max(report.head_blocks.len() + 1),
            });
            if let Some(meta) = self.persist_head(hmin, maxt)? {
                report.head_blocks.push(meta.ulid);
            }
            *self.persisted_until.lock() = maxt;
            last_persisted = Some(maxt);
        }
        if let Some(maxt) = last_persisted {
            crate::failpoint::hit("db.before_wal_truncation")?;
            self.head.truncate_wal(maxt)?;
        }
        // Blocks, as long as the planner finds work.
        loop {
            let metas: Vec<BlockMeta> = self.snapshot().iter().map(|b| b.meta()).collect();
            let chosen = plan(&metas, &self.ranges);
            if chosen.is_empty() {
                break;
            }
            let snapshot = self.snapshot();
            let parents: Vec<&Block> = snapshot
                .iter()
                .filter(|b| chosen.contains(&b.ulid()))
                .map(|b| &**b)
                .collect();
            progress(CompactProgress::MergingBlocks {
                parents: parents.len(),
                min_time: parents.iter().map(|b| b.min_time()).min().unwrap_or(0),
                max_time: parents.iter().map(|b| b.max_time()).max().unwrap_or(0),
            });
            let written = match compact_blocks(&self.dir, &parents, self.writer) {
                Ok(m) => m,
                Err(e) => {
                    for p in &parents {
                        // Keep the planner from retrying it forever.
                        let _ = p.set_compaction_failed();
                    }
                    return Err(e);
                }
            };
            crate::failpoint::hit("compact.before_deleting_parents")?;
            let gone: HashSet<Ulid> = chosen.iter().copied().collect();
            match written {
                Some(meta) => {
                    let block = Arc::new(Block::open(self.dir.join(meta.ulid.to_string()))?);
                    report.compacted_blocks.push(meta.ulid);
                    self.replace(vec![block], &gone);
                }
                None => {
                    // Everything was deleted: mark the parents deletable,
                    // so a crash before they are gone still drops them.
                    for p in &parents {
                        let mut m = p.meta();
                        m.compaction.deletable = true;
                        m.write(p.dir())?;
                    }
                    self.replace(Vec::new(), &gone);
                }
            }
            report.deleted_blocks.extend(chosen);
        }
        progress(CompactProgress::ApplyingRetention);
        report.deleted_blocks.extend(self.apply_retention()?);
        Ok(report)
    }

    /// How many head ranges the persistence loop of a compaction starting
    /// now writes (appends meanwhile may add more).
    fn head_ranges_due(&self) -> usize {
        let hmax = self.head.max_time();
        let mut hmin = self.head.min_time().max(*self.persisted_until.lock());
        let mut n = 0;
        while hmax != i64::MIN && hmax - hmin > self.block_range / 2 * 3 {
            hmin = crate::head::range_end(hmin, self.block_range);
            n += 1;
        }
        n
    }

    /// Writes `[mint, maxt)` of the head into a block, makes it visible,
    /// and truncates the head's memory below `maxt` — at once, or, if
    /// queries that started before the block was visible may still read
    /// that range from the head, when they have finished (at the next
    /// compaction after that). Nothing waits: a host holding a query while
    /// compacting cannot deadlock.
    fn persist_head(&self, mint: i64, maxt: i64) -> Result<Option<BlockMeta>> {
        let head = &self.head;
        // No new sample below `maxt` from now on; wait for batches that
        // started earlier.
        head.set_min_valid_time(maxt);
        head.wait_for_appenders_below(maxt);
        let meta = {
            let q = head.chunk_querier(mint, maxt - 1);
            let mut set = q.select(true, None, &[Matcher::equal("", "")]);
            let mut source = HeadSeries {
                set: &mut *set,
                mint,
                maxt: maxt - 1,
            };
            let ulid = Ulid::generate();
            write_block(
                &self.dir,
                BlockMeta::new(ulid, mint, maxt),
                head_symbols(head),
                &mut source,
                self.writer,
            )?
        };
        crate::failpoint::hit("persist.after_block_written")?;
        if let Some(meta) = &meta {
            let block = Arc::new(Block::open(self.dir.join(meta.ulid.to_string()))?);
            self.replace(vec![block], &HashSet::new());
        }
        let generation = self.readers.generation();
        {
            let mut pending = self.pending_truncation.lock();
            let t = pending.map_or(maxt, |(_, t)| t.max(maxt));
            *pending = Some((generation, t));
        }
        crate::failpoint::hit("persist.before_head_truncation")?;
        self.truncate_head_if_unread()?;
        Ok(meta)
    }

    /// Performs a pending head truncation once no query that might need
    /// the head's copy of persisted data is open.
    fn truncate_head_if_unread(&self) -> Result<()> {
        let mut pending = self.pending_truncation.lock();
        if let Some((generation, t)) = *pending {
            if !self.readers.any_older_than(generation, t) {
                self.head.truncate_memory(t)?;
                *pending = None;
            }
        }
        Ok(())
    }

    /// Deletes blocks past the time or size retention: whole blocks, the
    /// oldest first, as Prometheus does.
    fn apply_retention(&self) -> Result<Vec<Ulid>> {
        let snapshot = self.snapshot();
        let mut newest_first: Vec<&Arc<Block>> = snapshot.iter().collect();
        newest_first.sort_by_key(|b| std::cmp::Reverse(b.max_time()));
        let mut gone = HashSet::new();
        if self.retention_ms > 0 {
            if let Some(newest) = newest_first.first().map(|b| b.max_time()) {
                for (i, b) in newest_first.iter().enumerate() {
                    if i > 0 && newest - b.max_time() >= self.retention_ms {
                        gone.extend(newest_first[i..].iter().map(|b| b.ulid()));
                        break;
                    }
                }
            }
        }
        if let Some(limit) = self.retention_bytes.filter(|&l| l > 0) {
            let mut total =
                dir_size(&self.dir.join("wal"))? + dir_size(&self.dir.join("chunks_head"))?;
            for (i, b) in newest_first.iter().enumerate() {
                total += b.size();
                if total > limit {
                    gone.extend(newest_first[i..].iter().map(|b| b.ulid()));
                    break;
                }
            }
        }
        if gone.is_empty() {
            return Ok(Vec::new());
        }
        self.replace(Vec::new(), &gone);
        let mut v: Vec<Ulid> = gone.into_iter().collect();
        v.sort();
        Ok(v)
    }

    /// Deletes `[mint, maxt]` of the series matching `matchers` in every
    /// block and the head.
    pub(crate) fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<()> {
        self.check_writable()?;
        let _one = self.changing.lock();
        for b in self.snapshot().iter() {
            b.delete(mint, maxt, matchers)?;
        }
        self.head.delete(mint, maxt, matchers)?;
        Ok(())
    }

    /// Rewrites every block holding tombstones without the deleted data.
    pub(crate) fn clean_tombstones(&self) -> Result<Vec<Ulid>> {
        self.check_writable()?;
        let _one = self.changing.lock();
        let mut rewritten = Vec::new();
        for b in self.snapshot().iter() {
            if b.tombstones().is_empty() {
                continue;
            }
            let mut meta = b.meta();
            let old = meta.ulid;
            let parent = meta.desc();
            meta.ulid = Ulid::generate();
            meta.compaction.parents = vec![parent];
            meta.stats = Default::default();
            let mut source = b.chunk_series(&[], meta.min_time, meta.max_time - 1);
            let written = write_block(
                &self.dir,
                meta,
                b.index()
                    .symbols()
                    .map(|s| s.map(str::to_string))
                    .collect::<aion_index::Result<Vec<_>>>()?,
                &mut source,
                self.writer,
            )?;
            let gone: HashSet<Ulid> = [old].into();
            match written {
                Some(m) => {
                    let block = Arc::new(Block::open(self.dir.join(m.ulid.to_string()))?);
                    rewritten.push(m.ulid);
                    self.replace(vec![block], &gone);
                }
                None => self.replace(Vec::new(), &gone),
            }
        }
        Ok(rewritten)
    }
}

/// Sizes of the files under `dir` (0 if it does not exist).
fn dir_size(dir: &Path) -> Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(format!("list {}", dir.display()), e)),
    };
    let mut total = 0;
    for e in entries.flatten() {
        match e.metadata() {
            Ok(m) if m.is_dir() => total += dir_size(&e.path())?,
            Ok(m) => total += m.len(),
            Err(_) => {}
        }
    }
    Ok(total)
}

/// Every label name and value the head holds, plus the empty string:
/// the symbol table Prometheus writes into a block cut from its head.
fn head_symbols(head: &Head) -> Vec<String> {
    let mut symbols = std::collections::BTreeSet::new();
    symbols.insert(String::new());
    head.postings.for_each_list(|name, value, _| {
        if !symbols.contains(name) {
            symbols.insert(name.to_string());
        }
        if !symbols.contains(value) {
            symbols.insert(value.to_string());
        }
    });
    symbols.into_iter().collect()
}

/// The head's series as a block series source over `[mint, maxt]`:
/// chunks copied as they are, re-encoded where the range cuts into them
/// (the head's chunk querier has applied its deletions already).
struct HeadSeries<'s, 'a> {
    set: &'s mut (dyn aion_storage::ChunkSeriesSet<'a> + 'a),
    mint: i64,
    maxt: i64,
}

impl<'a> BlockSeriesSource<'static> for HeadSeries<'_, 'a> {
    fn next_series(&mut self) -> Option<Result<BlockSeries<'static>>> {
        loop {
            let mut s = match self.set.next()? {
                Ok(s) => s,
                Err(e) => return Some(Err(e.into())),
            };
            let mut chunks = Vec::new();
            while let Some(c) = s.chunks.next() {
                let c = match c {
                    Ok(c) => c,
                    Err(e) => return Some(Err(e.into())),
                };
                if c.max_time < self.mint || c.min_time > self.maxt {
                    continue;
                }
                if c.min_time >= self.mint && c.max_time <= self.maxt {
                    chunks.push(crate::chunks::SeriesChunk {
                        min_time: c.min_time,
                        max_time: c.max_time,
                        encoding: c.encoding,
                        data: std::borrow::Cow::Owned(c.data.to_vec()),
                    });
                    continue;
                }
                match crate::chunks::reencode_without(
                    c.encoding, c.data, self.mint, self.maxt, None,
                ) {
                    Ok(Some(c)) => chunks.push(c),
                    Ok(None) => {}
                    Err(e) => return Some(Err(e)),
                }
            }
            if !chunks.is_empty() {
                return Some(Ok(BlockSeries {
                    labels: s.labels,
                    chunks,
                }));
            }
        }
    }
}

/// A querier over a database: its blocks and head, merged. Keeps the
/// blocks it reads alive and its registration as a reader.
pub struct DbQuerier<'a> {
    inner: MergeQuerier<'a, dyn Querier + 'a>,
    _guard: ReaderGuard<'a>,
}

impl Querier for DbQuerier<'_> {
    fn select<'b>(
        &'b self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet<'b> + 'b> {
        self.inner.select(sorted, hints, matchers)
    }
}

impl aion_storage::LabelQuerier for DbQuerier<'_> {
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        self.inner.label_values(name, matchers)
    }

    fn label_names(&self, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        self.inner.label_names(matchers)
    }
}

/// A chunk querier over a database: its blocks and head, merged.
pub struct DbChunkQuerier<'a> {
    inner: MergeChunkQuerier<'a>,
    _guard: ReaderGuard<'a>,
}

impl ChunkQuerier for DbChunkQuerier<'_> {
    fn select<'b>(
        &'b self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn ChunkSeriesSet<'b> + 'b> {
        self.inner.select(sorted, hints, matchers)
    }
}

impl aion_storage::LabelQuerier for DbChunkQuerier<'_> {
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        self.inner.label_values(name, matchers)
    }

    fn label_names(&self, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        self.inner.label_names(matchers)
    }
}

/// Runs compaction in the background until stopped.
pub(crate) struct BackgroundCompaction {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BackgroundCompaction {
    /// Starts a thread calling `compact` every `interval`.
    pub(crate) fn start(blocks: Arc<DbBlocks>, interval: Duration) -> Result<Self> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("aion-compaction".into())
            .spawn(move || loop {
                {
                    let mut stopped = s.0.lock();
                    if !*stopped {
                        s.1.wait_for(&mut stopped, interval);
                    }
                    if *stopped {
                        return;
                    }
                }
                if let Err(e) = blocks.compact() {
                    let mut w = blocks.warnings.lock();
                    if w.len() >= 100 {
                        w.remove(0);
                    }
                    w.push(format!("background compaction failed: {e}"));
                }
            })
            .map_err(|e| Error::io("start the compaction thread", e))?;
        Ok(BackgroundCompaction {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread, waiting for a compaction in progress.
    pub(crate) fn stop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for BackgroundCompaction {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests;
