//! An open block: its meta, index, chunks and tombstones.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aion_index::disk::{IndexFileReader, INDEX_FILENAME};
use aion_index::postings_for_matchers;
use aion_model::Matcher;
use parking_lot::{Mutex, RwLock};
use ulid::Ulid;

use super::meta::BlockMeta;
use super::tombstones::{Interval, Tombstones, TOMBSTONES_FILENAME};
use super::writer::{CHUNKS_DIRNAME, TMP_FOR_DELETION_SUFFIX};
use crate::chunks::ChunkSegmentReader;
use crate::{fsutil, Error, Result};

/// A block opened for reading: index and chunk files memory-mapped,
/// tombstones in memory.
///
/// Blocks are shared as `Arc<Block>`: a database hands every querier its
/// own reference, so a block replaced by compaction or dropped by
/// retention stays readable until the last query using it finishes. A
/// block [marked for deletion](Self::delete_when_unused) removes its
/// directory when that last reference goes.
pub struct Block {
    dir: PathBuf,
    meta: RwLock<BlockMeta>,
    index: IndexFileReader,
    chunks: ChunkSegmentReader,
    tombstones: RwLock<Arc<Tombstones>>,
    /// Serialises writers of `tombstones` and `meta.json`.
    write_lock: Mutex<()>,
    delete_on_drop: AtomicBool,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("dir", &self.dir)
            .field("meta", &*self.meta.read())
            .finish_non_exhaustive()
    }
}

impl Block {
    /// Opens the block in `dir`. Errors name the block directory and what
    /// is wrong (unreadable or invalid meta, index, chunk files or
    /// tombstones).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        Self::open_inner(&dir).map_err(|e| e.in_block(&dir))
    }

    fn open_inner(dir: &Path) -> Result<Self> {
        let meta = BlockMeta::read(dir)?;
        let index = IndexFileReader::open(dir.join(INDEX_FILENAME))?;
        let chunks = ChunkSegmentReader::open(dir.join(CHUNKS_DIRNAME))?;
        let tombstones = Tombstones::read(dir)?;
        Ok(Block {
            dir: dir.to_path_buf(),
            meta: RwLock::new(meta),
            index,
            chunks,
            tombstones: RwLock::new(Arc::new(tombstones)),
            write_lock: Mutex::new(()),
            delete_on_drop: AtomicBool::new(false),
        })
    }

    /// Checks every series entry, postings list and chunk of the block
    /// (opening checks only headers and tables).
    pub fn verify(&self) -> Result<()> {
        let res = (|| {
            self.index.verify()?;
            self.chunks.for_each_chunk(|_, _, _| {})?;
            for s in self.index.series_iter() {
                for c in s?.chunks {
                    self.chunks.chunk(c.chunk_ref)?;
                }
            }
            Ok(())
        })();
        res.map_err(|e: Error| e.in_block(&self.dir))
    }

    /// The block directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A copy of the block's meta.
    pub fn meta(&self) -> BlockMeta {
        self.meta.read().clone()
    }

    /// The block's ULID.
    pub fn ulid(&self) -> Ulid {
        self.meta.read().ulid
    }

    /// Smallest timestamp the block may hold (inclusive).
    pub fn min_time(&self) -> i64 {
        self.meta.read().min_time
    }

    /// Bound above every timestamp of the block (exclusive).
    pub fn max_time(&self) -> i64 {
        self.meta.read().max_time
    }

    /// The index.
    pub fn index(&self) -> &IndexFileReader {
        &self.index
    }

    /// The chunk files.
    pub fn chunks(&self) -> &ChunkSegmentReader {
        &self.chunks
    }

    /// The current tombstones (a snapshot: later deletions do not change
    /// it).
    pub fn tombstones(&self) -> Arc<Tombstones> {
        self.tombstones.read().clone()
    }

    /// Bytes on disk: index, chunks, tombstones and meta.
    pub fn size(&self) -> u64 {
        let file_len = |name: &str| {
            std::fs::metadata(self.dir.join(name))
                .map(|m| m.len())
                .unwrap_or(0)
        };
        self.index.size()
            + self.chunks.size()
            + file_len(TOMBSTONES_FILENAME)
            + file_len(super::META_FILENAME)
    }

    /// Marks `[mint, maxt]` of every series matching `matchers` deleted:
    /// the tombstones file and the meta's tombstone count are rewritten
    /// (atomically), and queries opened from now on no longer see those
    /// samples. Returns the number of series affected.
    pub fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<u64> {
        let res = (|| {
            let _w = self.write_lock.lock();
            let meta = self.meta();
            if mint > maxt || !meta.overlaps_closed(mint, maxt) {
                return Ok(0);
            }
            let mut stones = (*self.tombstones()).clone();
            let mut postings = postings_for_matchers(&self.index, matchers)?;
            let mut chunks = Vec::new();
            let mut affected = 0;
            while let Some(r) = postings.next() {
                self.index.series(r, &mut chunks)?;
                // Like Prometheus: only series with data in the range get a
                // tombstone.
                if chunks.iter().any(|c| c.overlaps(mint, maxt)) {
                    stones.add(r, Interval::new(mint, maxt));
                    affected += 1;
                }
            }
            if affected == 0 {
                return Ok(0);
            }
            stones.write(&self.dir)?;
            let mut meta = meta;
            meta.stats.num_tombstones = stones.total();
            meta.write(&self.dir)?;
            *self.tombstones.write() = Arc::new(stones);
            *self.meta.write() = meta;
            Ok(affected)
        })();
        res.map_err(|e: Error| e.in_block(&self.dir))
    }

    /// Sets `compaction.failed` in the meta (so the planner skips the
    /// block), as Prometheus does after a compaction of it failed.
    pub fn set_compaction_failed(&self) -> Result<()> {
        let _w = self.write_lock.lock();
        let mut meta = self.meta();
        meta.compaction.failed = true;
        meta.write(&self.dir).map_err(|e| e.in_block(&self.dir))?;
        *self.meta.write() = meta;
        Ok(())
    }

    /// Removes the block's directory once the last reference to this
    /// `Block` is dropped (immediately, if this is the last one).
    pub fn delete_when_unused(&self) {
        self.delete_on_drop.store(true, Ordering::SeqCst);
    }
}

/// Removes a block directory the crash-safe way: rename to
/// `<ULID>.tmp-for-deletion` (one atomic step: the block is gone), then
/// delete the files. A crash in between leaves a `.tmp-for-deletion`
/// directory, which opening a database removes.
pub(crate) fn remove_block_dir(dir: &Path) -> Result<()> {
    let Some(name) = dir.file_name() else {
        return Ok(());
    };
    let mut tmp_name = name.to_owned();
    tmp_name.push(TMP_FOR_DELETION_SUFFIX);
    let tmp = dir.with_file_name(tmp_name);
    crate::failpoint::hit("remove_block.before_rename")?;
    std::fs::rename(dir, &tmp)
        .map_err(|e| Error::io(format!("rename {} to {}", dir.display(), tmp.display()), e))?;
    if let Some(parent) = dir.parent() {
        fsutil::sync_dir(parent)?;
    }
    crate::failpoint::hit("remove_block.before_remove")?;
    std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(format!("remove {}", tmp.display()), e))
}

impl Drop for Block {
    fn drop(&mut self) {
        if self.delete_on_drop.load(Ordering::SeqCst) {
            // Nothing to report to: the database that marked the block has
            // moved on. A failure leaves a directory the next open removes
            // (it is a parent of a newer block or past retention).
            let _ = remove_block_dir(&self.dir);
        }
    }
}
