//! The database's block set: opening the block directories (cleanup of
//! interrupted writes, quarantine of unreadable blocks) and the shared
//! state that persistence, maintenance and queries work on.
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

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use ulid::Ulid;

use super::readers::Readers;
use crate::block::reader::remove_block_dir;
use crate::block::{
    parse_ulid, Block, BlockWriterOptions, TMP_FOR_CREATION_SUFFIX, TMP_FOR_DELETION_SUFFIX,
};
use crate::chunks::HeadChunkRef;
use crate::compact::{compaction_ranges, max_block_duration};
use crate::head::Head;
use crate::{Error, Options, Result};

/// Suffix a corrupted block's directory is renamed to when
/// [`Options::quarantine_corrupt_blocks`] is set; neither Aion nor
/// Prometheus opens such a directory.
pub const CORRUPTED_SUFFIX: &str = ".corrupted";

/// The block set of a database, with what persistence (`persist.rs`),
/// maintenance (`maintenance.rs`) and queries (`querier.rs`) share: the
/// head, the reader registry, how far persistence got, and the lock that
/// keeps to one change at a time.
pub(crate) struct DbBlocks {
    pub(super) dir: PathBuf,
    read_only: bool,
    pub(super) block_range: i64,
    pub(super) retention_ms: i64,
    pub(super) retention_bytes: Option<u64>,
    pub(super) ranges: Vec<i64>,
    pub(super) writer: BlockWriterOptions,
    pub(super) head: Arc<Head>,
    set: RwLock<Arc<Vec<Arc<Block>>>>,
    pub(super) readers: Readers,
    /// Where head persistence got to: the head below it is in blocks.
    pub(super) persisted_until: Mutex<i64>,
    /// A head truncation waiting for queries that may not see the block
    /// holding the data (registered before the given generation).
    pub(super) pending_truncation: Mutex<Option<(u64, i64)>>,
    /// An out-of-order head compaction waiting for old queries before
    /// dropping what it wrote (see `ooo_compact.rs`).
    pub(super) pending_ooo_truncation: Mutex<Option<PendingOooTruncation>>,
    /// One compaction, persistence, deletion or cleanup at a time.
    pub(super) changing: Mutex<()>,
    pub(super) warnings: Mutex<Vec<String>>,
}

/// Opens the blocks of `dir`: removes leftovers of interrupted writes and
/// deletions (unless read-only), opens every block directory, and deletes
/// blocks another block names as its parent (a compaction that crashed
/// before deleting them). A block that fails to open is an error naming
/// it, unless it is such a parent, or `quarantine` is set: then it is
/// renamed to `<ULID>.corrupted` and reported in the returned warnings.
/// `strict` makes any unreadable block (but such a parent) an
/// [`Error::Damaged`] before anything is renamed.
pub(crate) fn open_blocks(
    dir: &Path,
    read_only: bool,
    quarantine: bool,
    strict: bool,
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
        if strict {
            return Err(Error::Damaged(format!(
                "unreadable block {}: {err}",
                path.display()
            )));
        }
        if !quarantine {
            return Err(err);
        }
        if read_only {
            warnings.push(format!("skipped unreadable block: {err}{}", lost(&path)));
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
            "moved unreadable block aside to {}: {err}{}",
            aside.display(),
            lost(&aside)
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

/// What an unreadable block held, from its `meta.json` when that is
/// still readable: the data missing from every answer.
fn lost(dir: &Path) -> String {
    match crate::block::BlockMeta::read(dir) {
        Ok(m) => format!(
            " ({} samples of {} series in [{}, {}) not read)",
            m.stats.num_samples, m.stats.num_series, m.min_time, m.max_time
        ),
        Err(_) => String::new(),
    }
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
            pending_ooo_truncation: Mutex::new(None),
            changing: Mutex::new(()),
            warnings: Mutex::new(warnings),
        }
    }

    /// The blocks now, sorted by min time.
    pub(crate) fn snapshot(&self) -> Arc<Vec<Arc<Block>>> {
        self.set.read().clone()
    }

    /// Problems met without failing (see [`Db::warnings`](crate::Db::warnings)).
    pub(crate) fn warnings(&self) -> Vec<String> {
        self.warnings.lock().clone()
    }

    /// Sets the committed list, marking removed blocks for deletion once
    /// unused.
    pub(super) fn replace(&self, add: Vec<Arc<Block>>, remove: &HashSet<Ulid>) {
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

    pub(super) fn check_writable(&self) -> Result<()> {
        if self.read_only {
            Err(Error::ReadOnly)
        } else {
            Ok(())
        }
    }
}

/// A compaction of the out-of-order head waiting for old queries before
/// dropping what it wrote from the head (written and acted on by
/// `ooo_compact`; kept here, beside the field that holds it, so the
/// blocks do not import the compaction that extends them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingOooTruncation {
    /// Reader generation when the blocks became visible.
    pub(super) generation: u64,
    /// WBL segments before this one are in blocks.
    pub(super) wbl_segment: u32,
    /// Out-of-order chunks up to this reference are in blocks.
    pub(super) last_ref: HeadChunkRef,
}
