//! Writing a block directory the way Prometheus's compactor does.

use std::path::{Path, PathBuf};

use aion_chunkenc::Encoding;
use aion_index::disk::{IndexFileWriter, WriterOptions, INDEX_FILENAME};
use aion_index::ChunkMeta;
use aion_model::Labels;
use ulid::Ulid;

use super::meta::{BlockMeta, BlockStats};
use super::tombstones::Tombstones;
use crate::chunks::{ChunkSegmentWriter, SeriesChunk, DEFAULT_SEGMENT_SIZE};
use crate::{fsutil, Error, Result};

/// Suffix of a block directory while it is written.
pub const TMP_FOR_CREATION_SUFFIX: &str = ".tmp-for-creation";
/// Suffix a block directory is renamed to before it is removed.
pub const TMP_FOR_DELETION_SUFFIX: &str = ".tmp-for-deletion";
/// The name of the chunks directory in a block.
pub const CHUNKS_DIRNAME: &str = "chunks";

/// Choices about the files a [`BlockWriter`] produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockWriterOptions {
    /// Maximum size of a chunk segment file (Prometheus: 512 MiB).
    pub segment_size: u64,
    /// Index options; the default writes the legacy label indices, as
    /// Prometheus before 3.7 (and so 2.42) does.
    pub index: WriterOptions,
}

impl Default for BlockWriterOptions {
    fn default() -> Self {
        BlockWriterOptions {
            segment_size: DEFAULT_SEGMENT_SIZE,
            index: WriterOptions::default(),
        }
    }
}

/// Writes one block: symbols, then series with their chunks in label
/// order, then [`finish`](Self::finish) with the meta.
///
/// Everything goes into `<parent>/<ULID>.tmp-for-creation`; `finish` writes
/// `meta.json` and an empty `tombstones`, fsyncs, and renames the directory
/// to `<parent>/<ULID>` (then fsyncs `parent`), so a block either exists
/// whole or not at all. Dropping an unfinished writer removes the temporary
/// directory. As in Prometheus, a block that would hold no samples is not
/// written.
///
/// The caller supplies the symbols: every label name and value of the
/// series to come, sorted, possibly more (Prometheus's head adds the empty
/// string, and blocks cut from the head carry every symbol the head held).
///
/// ```
/// # fn main() -> aion_tsdb::Result<()> {
/// use aion_chunkenc::{Encoding, XorAppender};
/// use aion_model::Labels;
/// use aion_tsdb::block::{Block, BlockMeta, BlockWriter, BlockWriterOptions};
/// use aion_tsdb::chunks::SeriesChunk;
///
/// let dir = tempfile::tempdir().unwrap();
/// let mut app = XorAppender::new();
/// app.append(1000, 1.0).unwrap();
/// app.append(2000, 2.0).unwrap();
/// let chunk = SeriesChunk { min_time: 1000, max_time: 2000, encoding: Encoding::Xor, data: app.bytes() };
///
/// let ulid = ulid::Ulid::generate();
/// let mut w = BlockWriter::create(dir.path(), ulid, BlockWriterOptions::default())?;
/// for s in ["", "__name__", "up"] {
///     w.add_symbol(s)?;
/// }
/// w.add_series(&Labels::from_pairs(&[("__name__", "up")])?, &[chunk])?;
/// let meta = w.finish(BlockMeta::new(ulid, 1000, 2001))?.expect("block has samples");
/// assert_eq!(meta.stats.num_samples, 2);
/// let block = Block::open(dir.path().join(ulid.to_string()))?;
/// assert_eq!(block.meta().stats.num_series, 1);
/// # Ok(()) }
/// ```
pub struct BlockWriter {
    parent: PathBuf,
    tmp: PathBuf,
    ulid: Ulid,
    index: Option<IndexFileWriter>,
    chunks: Option<ChunkSegmentWriter>,
    stats: BlockStats,
    metas: Vec<ChunkMeta>,
    done: bool,
}

impl BlockWriter {
    /// Starts block `ulid` under `parent`.
    pub fn create(
        parent: impl AsRef<Path>,
        ulid: Ulid,
        options: BlockWriterOptions,
    ) -> Result<Self> {
        let parent = parent.as_ref().to_path_buf();
        let tmp = parent.join(format!("{ulid}{TMP_FOR_CREATION_SUFFIX}"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)
                .map_err(|e| Error::io(format!("remove {}", tmp.display()), e))?;
        }
        std::fs::create_dir_all(&tmp)
            .map_err(|e| Error::io(format!("create {}", tmp.display()), e))?;
        let mut w = BlockWriter {
            parent,
            tmp,
            ulid,
            index: None,
            chunks: None,
            stats: BlockStats::default(),
            metas: Vec::new(),
            done: false,
        };
        w.chunks = Some(ChunkSegmentWriter::create(
            w.tmp.join(CHUNKS_DIRNAME),
            options.segment_size,
        )?);
        w.index = Some(IndexFileWriter::create(
            w.tmp.join(INDEX_FILENAME),
            options.index,
        )?);
        Ok(w)
    }

    /// The block's ULID.
    pub fn ulid(&self) -> Ulid {
        self.ulid
    }

    /// Adds the next symbol (strictly increasing byte order).
    pub fn add_symbol(&mut self, s: &str) -> Result<()> {
        Ok(self.index.as_mut().expect("open").add_symbol(s)?)
    }

    /// Adds the next series (strictly increasing label order) with its
    /// chunks (in time order, non-overlapping). A series without chunks is
    /// skipped, as Prometheus skips series whose samples were all deleted.
    pub fn add_series<B: AsRef<[u8]>>(
        &mut self,
        labels: &Labels,
        chunks: &[SeriesChunk<B>],
    ) -> Result<()> {
        if chunks.is_empty() {
            return Ok(());
        }
        self.metas.clear();
        self.chunks
            .as_mut()
            .expect("open")
            .write_chunks(chunks, &mut self.metas)?;
        self.index
            .as_mut()
            .expect("open")
            .add_series(labels, &self.metas)?;
        self.stats.num_series += 1;
        self.stats.num_chunks += chunks.len() as u64;
        for c in chunks {
            let n = c.num_samples();
            self.stats.num_samples += n;
            match c.encoding {
                Encoding::Xor | Encoding::Xor2 | Encoding::ThanosAggr => {
                    self.stats.num_float_samples += n
                }
                _ => self.stats.num_histogram_samples += n,
            }
        }
        Ok(())
    }

    /// What has been added so far.
    pub fn stats(&self) -> BlockStats {
        self.stats
    }

    /// Completes the block with `meta` (its ULID must be this writer's; its
    /// stats are filled in) and moves it into place. Returns the final meta,
    /// or `None` when the block held no samples and so was not kept.
    pub fn finish(mut self, mut meta: BlockMeta) -> Result<Option<BlockMeta>> {
        if meta.ulid != self.ulid {
            return Err(Error::Writer(format!(
                "meta names block {} but the writer writes {}",
                meta.ulid, self.ulid
            )));
        }
        self.chunks.take().expect("open").finish()?;
        self.index.take().expect("open").finish()?;
        if self.stats.num_samples == 0 {
            return Ok(None);
        }
        meta.stats = BlockStats {
            num_tombstones: 0,
            ..self.stats
        };
        meta.write(&self.tmp)?;
        Tombstones::default().write(&self.tmp)?;
        fsutil::sync_dir(&self.tmp)?;
        let dest = self.parent.join(self.ulid.to_string());
        crate::failpoint::hit("block_writer.before_rename")?;
        std::fs::rename(&self.tmp, &dest).map_err(|e| {
            Error::io(
                format!("rename {} to {}", self.tmp.display(), dest.display()),
                e,
            )
        })?;
        self.done = true;
        fsutil::sync_dir(&self.parent)?;
        Ok(Some(meta))
    }
}

impl Drop for BlockWriter {
    fn drop(&mut self) {
        if !self.done {
            // Close the files first, then remove what was written: a
            // half-written block is garbage (and would be removed on the
            // next open anyway).
            self.index.take();
            self.chunks.take();
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}
