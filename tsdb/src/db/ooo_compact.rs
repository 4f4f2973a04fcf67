//! Compacting the out-of-order head into blocks, as Prometheus's
//! `compactOOOHead` does after head persistence:
//!
//! 1. a new WBL segment is started (everything before it is what this
//!    compaction covers);
//! 2. every series' in-memory out-of-order chunk is m-mapped, and the
//!    newest m-mapped reference is noted;
//! 3. the m-mapped out-of-order chunks up to that reference are written
//!    into one block per block range they touch, `[k·range, (k+1)·range)`,
//!    marked `compaction.hints: ["from-out-of-order"]`, and made visible;
//! 4. once no query that started before the blocks were visible is left,
//!    those chunks are dropped from the head and the WBL segments before
//!    the new one are deleted.
//!
//! A crash before step 4 leaves the data in the head (the WBL and the
//! chunk files are untouched) and in the blocks; queries and the vertical
//! compaction of the overlapping blocks deduplicate it.

use std::collections::HashSet;
use std::sync::Arc;

use aion_chunkenc::Encoding;
use ulid::Ulid;

use super::blocks::{DbBlocks, PendingOooTruncation};
use super::persist::head_symbols;
use crate::block::{Block, BlockMeta, BlockSeries, BlockSeriesSource, HINT_FROM_OUT_OF_ORDER};
use crate::chunks::{decode_values, encode_values, HeadChunkRef, SeriesChunk};
use crate::compact::write_block;
use crate::head::Head;
use crate::Result;

/// Samples per chunk of an out-of-order block (Prometheus's head target).
const CHUNK_SAMPLES: usize = 120;

impl DbBlocks {
    /// Writes the out-of-order head into blocks (see the module docs).
    /// Returns the new blocks.
    pub(super) fn compact_ooo_head(&self) -> Result<Vec<Ulid>> {
        let head = &self.head;
        let wbl_segment = match head.wbl.lock().as_mut() {
            Some(w) => w.next_segment()?,
            None => return Ok(Vec::new()),
        };
        let (series, last_ref, range) = mmap_all(head)?;
        let mut written = Vec::new();
        if let Some((mint, maxt)) = range {
            let symbols = head_symbols(head);
            let mut t = (mint / self.block_range) * self.block_range;
            if mint < 0 && mint % self.block_range != 0 {
                t -= self.block_range;
            }
            while t <= maxt {
                let (lo, hi) = (t, t + self.block_range);
                let mut source = OooSeries {
                    head,
                    series: &series,
                    next: 0,
                    last_ref,
                    mint: lo,
                    maxt: hi - 1,
                };
                let mut meta = BlockMeta::new(Ulid::generate(), lo, hi);
                meta.compaction.hints = vec![HINT_FROM_OUT_OF_ORDER.to_string()];
                if let Some(m) =
                    write_block(&self.dir, meta, symbols.clone(), &mut source, self.writer)?
                {
                    written.push(m.ulid);
                }
                t = hi;
            }
        }
        crate::failpoint::hit("ooo.after_blocks_written")?;
        let blocks = written
            .iter()
            .map(|u| Block::open(self.dir.join(u.to_string())).map(Arc::new))
            .collect::<Result<Vec<_>>>()?;
        if !blocks.is_empty() {
            self.replace(blocks, &HashSet::new());
        }
        *self.pending_ooo_truncation.lock() = Some(PendingOooTruncation {
            generation: self.readers.generation(),
            wbl_segment,
            last_ref,
        });
        crate::failpoint::hit("ooo.before_truncation")?;
        self.truncate_ooo_if_unread()?;
        Ok(written)
    }

    /// Drops what an out-of-order compaction wrote from the head and the
    /// WBL, once no query that may not see its blocks is open.
    pub(super) fn truncate_ooo_if_unread(&self) -> Result<()> {
        let mut pending = self.pending_ooo_truncation.lock();
        let Some(p) = *pending else {
            return Ok(());
        };
        if self.readers.any_older_than(p.generation, i64::MAX) {
            return Ok(());
        }
        self.head.truncate_ooo(p.last_ref)?;
        if let Some(w) = self.head.wbl.lock().as_mut() {
            w.truncate(p.wbl_segment)?;
        }
        *pending = None;
        Ok(())
    }
}

/// Series with out-of-order chunks to compact, in label order; the newest
/// chunk reference; their time range.
type Mmapped = (
    Vec<crate::head::SeriesArc>,
    HeadChunkRef,
    Option<(i64, i64)>,
);

/// M-maps every series' in-memory out-of-order chunk.
fn mmap_all(head: &Head) -> Result<Mmapped> {
    let mut series = Vec::new();
    let mut last_ref = HeadChunkRef(0);
    let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
    let low_watermark = head.iso.low_watermark();
    let mut err = None;
    head.series.for_each(|s| {
        if err.is_some() {
            return;
        }
        let mut st = s.lock();
        let Some(o) = st.ooo_mut() else {
            return;
        };
        if let Err(e) = o.mmap_head(
            s.series_ref,
            low_watermark,
            head.ooo_opts().floats,
            &head.chunks,
        ) {
            err = Some(e);
            return;
        }
        if o.mmapped.is_empty() {
            return;
        }
        for c in &o.mmapped {
            last_ref = last_ref.max(c.chunk_ref);
            mint = mint.min(c.min_time);
            maxt = maxt.max(c.max_time);
        }
        drop(st);
        series.push(s.clone());
    });
    if let Some(e) = err {
        return Err(e);
    }
    series.sort_by_cached_key(|s| head.labels_of(s));
    Ok((series, last_ref, (mint <= maxt).then_some((mint, maxt))))
}

/// The out-of-order samples of `series` in `[mint, maxt]` from chunks up
/// to `last_ref`, as block series.
struct OooSeries<'a> {
    head: &'a Head,
    series: &'a [crate::head::SeriesArc],
    next: usize,
    last_ref: HeadChunkRef,
    mint: i64,
    maxt: i64,
}

impl OooSeries<'_> {
    fn series_at(&self, i: usize) -> Result<Option<BlockSeries<'static>>> {
        let s = &self.series[i];
        let refs: Vec<HeadChunkRef> = {
            let st = s.lock();
            let Some(o) = st.ooo() else {
                return Ok(None);
            };
            o.mmapped
                .iter()
                .filter(|c| c.chunk_ref <= self.last_ref)
                .filter(|c| c.max_time >= self.mint && c.min_time <= self.maxt)
                .map(|c| c.chunk_ref)
                .collect()
        };
        if refs.is_empty() {
            return Ok(None);
        }
        let deleted = self.head.tombstones.read().get(&s.series_ref).cloned();
        let mut samples = Vec::new();
        for r in refs {
            let (encoding, bytes) = self.head.chunks.chunk(r)?;
            let encoding = Encoding::try_from(encoding)?;
            decode_values(
                encoding,
                bytes.as_slice(),
                self.mint,
                self.maxt,
                &mut samples,
            )?;
        }
        if let Some(d) = &deleted {
            samples.retain(|x| !d.contains(x.0));
        }
        // Stable: of two samples at one time the older chunk's stays.
        samples.sort_by_key(|x| x.0);
        samples.dedup_by_key(|x| x.0);
        if samples.is_empty() {
            return Ok(None);
        }
        // Floats in the configured encoding, as the head's own chunks,
        // histograms in chunks of their own.
        let chunks = encode_values(&samples, CHUNK_SAMPLES, self.head.ooo_opts().floats)?
            .into_iter()
            .map(|c| SeriesChunk {
                min_time: c.min_time,
                max_time: c.max_time,
                encoding: c.encoding,
                data: std::borrow::Cow::Owned(c.data),
            })
            .collect();
        Ok(Some(BlockSeries {
            labels: self.head.labels_of(s),
            chunks,
        }))
    }
}

impl BlockSeriesSource<'static> for OooSeries<'_> {
    fn next_series(&mut self) -> Option<Result<BlockSeries<'static>>> {
        while self.next < self.series.len() {
            let i = self.next;
            self.next += 1;
            match self.series_at(i) {
                Ok(Some(s)) => return Some(Ok(s)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
        None
    }
}
