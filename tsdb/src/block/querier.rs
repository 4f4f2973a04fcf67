//! Sample-level queries over a block.

use std::error::Error as StdError;
use std::ops::Deref;
use std::sync::Arc;

use aion_chunkenc::{ChunkIter, Encoding, SampleIterator, ValueType, XorIterator};
use aion_index::postings::BoxPostings;
use aion_index::ChunkMeta;
use aion_index::{label_names_matching, label_values_matching, postings_for_matchers};
use aion_model::histogram::{FloatHistogram, Histogram};
use aion_model::Matcher;

use super::reader::Block;
use super::tombstones::{Intervals, Tombstones};
use crate::chunks::ChunkSegmentReader;
use crate::{Error, Result};
use aion_storage::{Querier, Queryable, SelectHints, Series, SeriesSet};

/// A querier over one block and the closed time range `[mint, maxt]`,
/// seeing the tombstones present when it was opened.
///
/// `B` is how the block is held: `&Block` for a querier borrowing it, or
/// `Arc<Block>` for one that keeps the block alive (what a database hands
/// out, so compaction and retention can replace blocks under running
/// queries).
pub struct BlockQuerier<B: Deref<Target = Block> = Arc<Block>> {
    block: B,
    tombstones: Arc<Tombstones>,
    mint: i64,
    maxt: i64,
}

impl<B: Deref<Target = Block>> BlockQuerier<B> {
    /// A querier over `[mint, maxt]` of `block`.
    pub fn new(block: B, mint: i64, maxt: i64) -> Self {
        let tombstones = block.tombstones();
        BlockQuerier {
            block,
            tombstones,
            mint,
            maxt,
        }
    }

    /// The block.
    pub fn block(&self) -> &Block {
        &self.block
    }
}

impl Queryable for Block {
    fn querier(&self, mint: i64, maxt: i64) -> aion_storage::Result<Box<dyn Querier + '_>> {
        Ok(Box::new(BlockQuerier::new(self, mint, maxt)))
    }
}

impl<B: Deref<Target = Block> + Send + Sync> Querier for BlockQuerier<B> {
    fn select<'a>(
        &'a self,
        _sorted: bool,
        _hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet<'a> + 'a> {
        // Series come out of a block index in label order: sorting is free.
        let postings = if matchers.is_empty() {
            aion_index::IndexReader::all_postings(self.block.index())
        } else {
            postings_for_matchers(self.block.index(), matchers)
        };
        match postings {
            Ok(postings) => Box::new(BlockSeriesSet {
                block: &self.block,
                tombstones: &self.tombstones,
                postings,
                mint: self.mint,
                maxt: self.maxt,
                chunks: Vec::new(),
                failed: false,
            }),
            Err(e) => Box::new(aion_storage::ErrorSeriesSet::new(
                Error::from(e).in_block(self.block.dir()).into(),
            )),
        }
    }
}

impl<B: Deref<Target = Block> + Send + Sync> aion_storage::LabelQuerier for BlockQuerier<B> {
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        Ok(label_values_matching(self.block.index(), name, matchers)
            .map_err(|e| Error::from(e).in_block(self.block.dir()))?)
    }

    fn label_names(&self, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        Ok(label_names_matching(self.block.index(), matchers)
            .map_err(|e| Error::from(e).in_block(self.block.dir()))?)
    }
}

struct BlockSeriesSet<'a> {
    block: &'a Block,
    tombstones: &'a Tombstones,
    postings: BoxPostings<'a>,
    mint: i64,
    maxt: i64,
    chunks: Vec<ChunkMeta>,
    failed: bool,
}

impl<'a> BlockSeriesSet<'a> {
    /// The next series, with the TSDB's own error.
    fn pull(&mut self) -> Option<Result<Series<'a>>> {
        if self.failed {
            return None;
        }
        while let Some(r) = self.postings.next() {
            let labels = match self.block.index().series(r, &mut self.chunks) {
                Ok(l) => l,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(Error::from(e).in_block(self.block.dir())));
                }
            };
            let deleted = self.tombstones.get(r);
            let (mint, maxt) = (self.mint, self.maxt);
            let metas: Vec<ChunkMeta> = self
                .chunks
                .iter()
                .filter(|c| c.overlaps(mint, maxt))
                .filter(|c| !deleted.is_some_and(|d| d.covers(c.min_time, c.max_time)))
                .copied()
                .collect();
            if metas.is_empty() {
                continue;
            }
            return Some(Ok(Series {
                labels,
                samples: Box::new(BlockSeriesIterator::new(
                    self.block.chunks(),
                    metas,
                    mint,
                    maxt,
                    deleted.filter(|d| !d.is_empty()).cloned(),
                )),
            }));
        }
        None
    }
}

impl<'a> SeriesSet<'a> for BlockSeriesSet<'a> {
    fn next(&mut self) -> Option<aion_storage::Result<Series<'a>>> {
        self.pull().map(|r| r.map_err(Into::into))
    }
}

/// The samples of one block series: its chunks read lazily from the
/// segment files, restricted to `[mint, maxt]`, minus deleted intervals.
///
/// Chunks of every encoding Aion reads are walked: floats (XOR, XOR2)
/// come as [`ValueType::Float`], native histograms as
/// [`ValueType::Histogram`] / [`ValueType::FloatHistogram`] (read with
/// `at_histogram` / `at_float_histogram`, into the caller's vectors); a
/// series may change kind from one chunk to the next.
pub struct BlockSeriesIterator<'a> {
    chunks: &'a ChunkSegmentReader,
    metas: Vec<ChunkMeta>,
    /// Index of the next chunk to load.
    next_chunk: usize,
    cur: Option<ChunkIter<'a>>,
    /// The iterator of the last finished chunk: the next chunk of its
    /// encoding reuses its bucket vectors.
    spare: Option<ChunkIter<'a>>,
    mint: i64,
    maxt: i64,
    deleted: Option<Intervals>,
    t: i64,
    v: f64,
    /// The kind of the current sample (valid while `positioned`).
    vt: ValueType,
    positioned: bool,
    done: bool,
    err: Option<Error>,
}

impl<'a> BlockSeriesIterator<'a> {
    /// Iterates the chunks `metas` (sorted, non-overlapping) of `chunks`,
    /// yielding samples in `[mint, maxt]` not in `deleted`.
    pub fn new(
        chunks: &'a ChunkSegmentReader,
        metas: Vec<ChunkMeta>,
        mint: i64,
        maxt: i64,
        deleted: Option<Intervals>,
    ) -> Self {
        BlockSeriesIterator {
            chunks,
            metas,
            next_chunk: 0,
            cur: None,
            spare: None,
            mint,
            maxt,
            deleted,
            t: i64::MIN,
            v: f64::NAN,
            vt: ValueType::None,
            positioned: false,
            done: false,
            err: None,
        }
    }

    fn finish(&mut self) -> ValueType {
        self.done = true;
        self.positioned = false;
        self.cur = None;
        self.spare = None;
        ValueType::None
    }

    /// Loads the next chunk; false when there is none (or it failed).
    fn load_next(&mut self) -> bool {
        let Some(meta) = self.metas.get(self.next_chunk) else {
            return false;
        };
        self.next_chunk += 1;
        match self.chunks.chunk(meta.chunk_ref) {
            // Floats, built in place.
            Ok((Encoding::Xor, data)) => {
                self.cur = Some(ChunkIter::Xor(XorIterator::new(data)));
                true
            }
            Ok((encoding, data)) => match ChunkIter::reuse(self.spare.take(), encoding, data) {
                Ok(it) => {
                    self.cur = Some(it);
                    true
                }
                Err(e) => {
                    self.err = Some(e.into());
                    false
                }
            },
            Err(e) => {
                self.err = Some(e);
                false
            }
        }
    }

    /// Accepts the sample `(t, v)` of kind `vt` the current chunk
    /// iterator is on, if it passes the range and deletion filters.
    /// `None`: keep looking; `Some(x)`: return `x`.
    #[inline]
    fn settle(&mut self, (vt, t, v): (ValueType, i64, f64)) -> Option<ValueType> {
        if t > self.maxt {
            return Some(self.finish());
        }
        if t < self.mint || self.deleted.as_ref().is_some_and(|d| d.contains(t)) {
            return None;
        }
        self.t = t;
        self.v = v;
        self.vt = vt;
        self.positioned = true;
        Some(vt)
    }

    /// Handles the current chunk iterator having run out: records its
    /// error, if any. Returns false if iteration must stop.
    fn chunk_exhausted(&mut self) -> bool {
        let it = self.cur.take().expect("chunk loaded");
        if let Some(e) = it.error() {
            self.err = Some(e.clone().into());
            self.finish();
            return false;
        }
        self.keep_spare(it);
        true
    }

    /// Keeps a finished histogram iterator for its vectors (a float
    /// iterator has nothing worth the move).
    #[inline]
    fn keep_spare(&mut self, it: ChunkIter<'a>) {
        if !matches!(it, ChunkIter::Xor(_)) {
            self.spare = Some(it);
        }
    }

    /// The chunk iterator positioned on the current histogram sample.
    fn on_histogram(&self) -> Option<&ChunkIter<'a>> {
        let histogram = matches!(self.vt, ValueType::Histogram | ValueType::FloatHistogram);
        self.cur.as_ref().filter(|_| self.positioned && histogram)
    }
}

/// Moves `it` (`next`, or `seek` to `to`) and reads where it stands:
/// `(kind, t, value)` (histogram iterators report their timestamp and
/// NaN). XOR chunks, the float path of nearly every query, are moved
/// without the enum's dispatch.
#[inline(always)]
fn moved(it: &mut ChunkIter<'_>, to: Option<i64>) -> (ValueType, i64, f64) {
    #[inline(always)]
    fn step<I: SampleIterator>(it: &mut I, to: Option<i64>) -> (ValueType, i64, f64) {
        let vt = match to {
            None => it.next(),
            Some(t) => it.seek(t),
        };
        let (t, v) = it.at();
        (vt, t, v)
    }
    match it {
        ChunkIter::Xor(x) => step(x, to),
        other => step(other, to),
    }
}

impl SampleIterator for BlockSeriesIterator<'_> {
    fn next(&mut self) -> ValueType {
        if self.done {
            return ValueType::None;
        }
        loop {
            if let Some(it) = self.cur.as_mut() {
                match moved(it, None) {
                    (ValueType::None, ..) => {
                        if !self.chunk_exhausted() {
                            return ValueType::None;
                        }
                    }
                    sample => {
                        if let Some(r) = self.settle(sample) {
                            return r;
                        }
                        continue;
                    }
                }
            }
            if !self.load_next() {
                return self.finish();
            }
        }
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.done {
            return ValueType::None;
        }
        if self.positioned && self.t >= t {
            return self.vt;
        }
        let t = t.max(self.mint);
        if self.cur.is_some() && self.metas[self.next_chunk - 1].max_time < t {
            let it = self.cur.take().expect("checked");
            self.keep_spare(it);
        }
        if self.cur.is_none() {
            while self
                .metas
                .get(self.next_chunk)
                .is_some_and(|m| m.max_time < t)
            {
                self.next_chunk += 1;
            }
            if !self.load_next() {
                return self.finish();
            }
        }
        let it = self.cur.as_mut().expect("chunk loaded");
        match moved(it, Some(t)) {
            (ValueType::None, ..) => {
                if !self.chunk_exhausted() {
                    return ValueType::None;
                }
                self.next()
            }
            sample => match self.settle(sample) {
                Some(r) => r,
                None => self.next(),
            },
        }
    }

    fn at(&self) -> (i64, f64) {
        (self.t, self.v)
    }

    fn at_histogram(&self, h: &mut Histogram) -> i64 {
        match self.on_histogram() {
            Some(it) => it.at_histogram(h),
            None => self.t,
        }
    }

    fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
        match self.on_histogram() {
            Some(it) => it.at_float_histogram(fh),
            None => self.t,
        }
    }

    /// Hands each chunk's samples out in runs from its decoder (which
    /// stands on the current sample), bounded by the querier's `maxt`;
    /// a series with deleted intervals takes the per-sample path, which
    /// filters them.
    fn read_floats(&mut self, ts: &mut [i64], vs: &mut [f64], maxt: i64) -> (usize, ValueType) {
        if self.deleted.is_some() || !self.positioned {
            return aion_chunkenc::read_floats_stepwise(self, ts, vs, maxt);
        }
        let room = ts.len().min(vs.len());
        let bound = maxt.min(self.maxt);
        let mut n = 0;
        while n < room {
            if self.t > maxt {
                return (n, ValueType::Float);
            }
            let it = self.cur.as_mut().expect("positioned on a loaded chunk");
            let (k, vt) = it.read_floats(&mut ts[n..room], &mut vs[n..room], bound);
            n += k;
            match vt {
                ValueType::Float => {
                    (self.t, self.v) = it.at();
                    if self.t > self.maxt {
                        return (n, self.finish());
                    }
                }
                ValueType::None => {
                    if !self.chunk_exhausted() {
                        return (n, ValueType::None);
                    }
                    // The next chunk's first sample in range, if any.
                    self.positioned = false;
                    let vt = self.next();
                    if vt != ValueType::Float {
                        return (n, vt);
                    }
                }
                other => {
                    // The chunk changed value type mid-run (a float chunk
                    // holds only floats, so this is a histogram chunk's
                    // first sample): the caller takes it from here.
                    (self.t, self.v, self.vt) = (it.at_t(), f64::NAN, other);
                    return (n, other);
                }
            }
        }
        (n, ValueType::Float)
    }

    fn at_t(&self) -> i64 {
        self.t
    }

    /// The start of the newest chunk ahead that begins inside the
    /// querier's range at or before `maxt` (its first sample is
    /// yielded); nothing when deletions may hide that sample.
    fn tail_start(&self, maxt: i64) -> i64 {
        if self.deleted.is_some() || self.done {
            return i64::MIN;
        }
        let ahead = &self.metas[self.next_chunk.saturating_sub(1)..];
        let maxt = maxt.min(self.maxt);
        match ahead.iter().rev().find(|m| m.min_time <= maxt) {
            Some(m) if m.min_time >= self.mint => m.min_time,
            _ => i64::MIN,
        }
    }

    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.err
            .as_ref()
            .map(|e| e as &(dyn StdError + Send + Sync + 'static))
    }
}
