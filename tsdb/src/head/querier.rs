//! Reading the head: sample-level and chunk-level queriers.
//!
//! Selection is the index crate's (`postings_for_matchers` over
//! [`HeadIndex`]). Each selected series is *snapshotted* under its lock
//! when the set reaches it: the chunks overlapping the range, resolved to
//! byte handles that keep their files alive (so truncation cannot pull a
//! chunk away mid-query), a copy of the open chunk, the isolation bound of
//! the query and the series' deleted intervals. Samples are then decoded
//! lazily without any lock.
//!
//! Deletions are applied here, once, for both queriers: the snapshot drops
//! chunks a deletion covers; the sample iterator skips deleted samples;
//! for chunk readers, who get bytes as they are, chunks a deletion (or the
//! isolation bound) cuts into are re-encoded without those samples.

use std::error::Error as StdError;
use std::sync::Arc;

use aion_chunkenc::{Encoding, SampleIterator, ValueType};
use aion_index::postings::{BoxPostings, Postings};
use aion_index::{label_names_matching, label_values_matching, postings_for_matchers};
use aion_model::histogram::{FloatHistogram, Histogram};
use aion_model::{Labels, Matcher};
use aion_wal::record::Intervals;

use super::isolation::{visible_max_time, ReadView};
use super::merged::{merge, Merged};
use super::series::MemSeries;
use super::series_arc::SeriesArc;
use super::snap_chunk::SnapChunk;
use super::Head;
use crate::chunks::{
    reencode_without, ChunkBytes, OwnedChunkIterator, SampleValue, ValuesIterator,
};
use crate::Result;
use aion_storage::ErrorSeriesSet;
use aion_storage::{
    ChunkIterator, ChunkQuerier, ChunkQueryable, ChunkSeries, ChunkSeriesSet, ErrorChunkSeriesSet,
    Querier, Queryable, RawChunk, SelectHints, Series, SeriesSet,
};

/// What a query reads of one series.
struct Snapshot {
    chunks: Vec<SnapChunk>,
    /// For a series with out-of-order samples in the range: all its
    /// visible samples, in-order and out-of-order merged (and `chunks`
    /// empty for sample readers, re-encoded from these for chunk readers).
    merged: Option<Merged>,
    /// Newest time the query may see (its range end, or the isolation
    /// bound if earlier).
    maxt: i64,
    /// The series' deleted time ranges.
    deleted: Intervals,
}

/// Who reads a snapshot, and so how its chunks are cut.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadAs {
    /// A sample iterator: chunks are kept whole; the iterator stops at the
    /// snapshot's `maxt` and skips deleted samples.
    Samples,
    /// A raw chunk reader, who gets the bytes as they are: chunks holding
    /// samples past the isolation bound or deleted samples are re-encoded
    /// without them.
    Chunks,
    /// As `Chunks`, without out-of-order samples: head persistence, which
    /// leaves those to out-of-order compaction as Prometheus does.
    InOrderChunks,
}

impl Head {
    /// A querier over `[mint, maxt]` seeing every commit that returned
    /// before this call and none that starts after it.
    ///
    /// Hold it only while reading: while it lives, commits note on each
    /// series they touch what it may see (a few bytes per series and per
    /// query started meanwhile), as Prometheus's isolation does.
    pub fn querier(&self, mint: i64, maxt: i64) -> HeadQuerier<'_> {
        HeadQuerier {
            head: self,
            mint,
            maxt,
            view: self.iso.begin_read(),
        }
    }

    /// A chunk querier over chunks overlapping `[mint, maxt]`, with the
    /// same consistency as [`Head::querier`]. A series with out-of-order
    /// samples in the range gets its samples merged and re-encoded into
    /// non-overlapping chunks.
    pub fn chunk_querier(&self, mint: i64, maxt: i64) -> HeadChunkQuerier<'_> {
        HeadChunkQuerier {
            q: self.querier(mint, maxt),
            read: ReadAs::Chunks,
        }
    }

    /// [`Head::chunk_querier`] without out-of-order samples (head
    /// persistence).
    pub(crate) fn in_order_chunk_querier(&self, mint: i64, maxt: i64) -> HeadChunkQuerier<'_> {
        HeadChunkQuerier {
            q: self.querier(mint, maxt),
            read: ReadAs::InOrderChunks,
        }
    }

    /// Whether `[mint, maxt]` overlaps the head's samples, out-of-order
    /// ones included.
    fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        let lo = self
            .min_time()
            .min(self.ooo_min_time.load(std::sync::atomic::Ordering::Acquire));
        let hi = self
            .max_time()
            .max(self.ooo_max_time.load(std::sync::atomic::Ordering::Acquire));
        mint <= hi && maxt >= lo
    }

    fn snapshot(
        &self,
        s: &MemSeries,
        mint: i64,
        maxt: i64,
        epoch: u64,
        read: ReadAs,
    ) -> Result<Option<Snapshot>> {
        let st = s.lock();
        let bound = visible_max_time(&st, epoch);
        let query_maxt = maxt;
        let maxt = maxt.min(bound);
        let mut ooo = Vec::new();
        if read != ReadAs::InOrderChunks {
            if let Some(o) = st.ooo() {
                if o.time_range()
                    .is_some_and(|(lo, hi)| lo <= query_maxt && hi >= mint)
                {
                    super::ooo::ooo_samples(o, &self.chunks, mint, query_maxt, epoch, &mut ooo)?;
                }
            }
        }
        if maxt < mint && ooo.is_empty() {
            return Ok(None);
        }
        let mut chunks = Vec::new();
        if maxt >= mint {
            for c in &st.mmapped {
                if c.max_time < mint || c.min_time > maxt {
                    continue;
                }
                let (encoding, bytes) = self.chunks.chunk(c.chunk_ref)?;
                chunks.push(SnapChunk {
                    min_time: c.min_time,
                    max_time: c.max_time,
                    encoding: Encoding::try_from(encoding)?,
                    bytes,
                });
            }
            if let Some(c) = &st.open {
                if c.max_time() != i64::MIN && c.max_time() >= mint && c.min_time() <= maxt {
                    chunks.push(SnapChunk {
                        min_time: c.min_time(),
                        max_time: c.max_time(),
                        encoding: c.app.encoding(),
                        bytes: ChunkBytes::Heap(Arc::from(c.app.bytes())),
                    });
                }
            }
        }
        drop(st);
        let deleted = {
            let ts = self.tombstones.read();
            if ts.is_empty() {
                Intervals::default()
            } else {
                ts.get(&s.series_ref).cloned().unwrap_or_default()
            }
        };
        if !ooo.is_empty() {
            return merged_snapshot(chunks, ooo, mint, maxt, query_maxt, deleted, read);
        }
        if !deleted.is_empty() {
            chunks.retain(|c| !deleted.covers(c.min_time, c.max_time));
        }
        if read != ReadAs::Samples {
            cut_to_visible(&mut chunks, bound, &deleted)?;
        }
        if chunks.is_empty() {
            return Ok(None);
        }
        Ok(Some(Snapshot {
            chunks,
            merged: None,
            maxt,
            deleted,
        }))
    }
}

/// The snapshot of a series with out-of-order samples in the range: its
/// in-order samples in `[mint, maxt]` (`maxt` the isolation-bounded end)
/// merged with `ooo`, without deleted samples.
fn merged_snapshot(
    chunks: Vec<SnapChunk>,
    ooo: Vec<(i64, SampleValue)>,
    mint: i64,
    maxt: i64,
    query_maxt: i64,
    deleted: Intervals,
    read: ReadAs,
) -> Result<Option<Snapshot>> {
    let mut merged = merge(&chunks, mint, maxt, ooo)?;
    if !deleted.is_empty() {
        merged.retain_times(|t| !deleted.contains(t));
    }
    if merged.is_empty() {
        return Ok(None);
    }
    if read == ReadAs::Samples {
        return Ok(Some(Snapshot {
            chunks: Vec::new(),
            merged: Some(merged),
            maxt: query_maxt,
            deleted: Intervals::default(),
        }));
    }
    Ok(Some(Snapshot {
        chunks: merged.encode()?,
        merged: None,
        maxt: query_maxt,
        deleted: Intervals::default(),
    }))
}

/// Re-encodes the chunks holding samples after `bound` or in `deleted`
/// without them, dropping chunks left empty.
fn cut_to_visible(chunks: &mut Vec<SnapChunk>, bound: i64, deleted: &Intervals) -> Result<()> {
    let mut i = 0;
    while i < chunks.len() {
        let c = &chunks[i];
        if c.max_time <= bound && !deleted.overlaps(c.min_time, c.max_time) {
            i += 1;
            continue;
        }
        let kept = reencode_without(
            c.encoding,
            c.bytes.as_slice(),
            i64::MIN,
            bound,
            Some(deleted),
        )?;
        match kept {
            Some(k) => {
                chunks[i] = SnapChunk {
                    min_time: k.min_time,
                    max_time: k.max_time,
                    encoding: k.encoding,
                    bytes: ChunkBytes::Heap(Arc::from(k.data.into_owned())),
                };
                i += 1;
            }
            None => {
                chunks.remove(i);
            }
        }
    }
    Ok(())
}

impl Queryable for Head {
    fn querier(&self, mint: i64, maxt: i64) -> aion_storage::Result<Box<dyn Querier + '_>> {
        Ok(Box::new(Head::querier(self, mint, maxt)))
    }
}

impl ChunkQueryable for Head {
    fn chunk_querier(
        &self,
        mint: i64,
        maxt: i64,
    ) -> aion_storage::Result<Box<dyn ChunkQuerier + '_>> {
        Ok(Box::new(Head::chunk_querier(self, mint, maxt)))
    }
}

/// The series a select yields, in reference or label order, with their
/// labels (read from the head's symbols once: sorting needed them).
enum Selected<'a> {
    Sorted(std::vec::IntoIter<(Labels, SeriesArc)>),
    Postings(BoxPostings<'a>),
}

impl Selected<'_> {
    fn next(&mut self, head: &Head) -> Option<(Labels, SeriesArc)> {
        match self {
            Selected::Sorted(it) => it.next(),
            Selected::Postings(p) => loop {
                let r = p.next()?;
                // A series truncated away since the postings were read is
                // skipped.
                if let Some(s) = head.series.get_by_ref(r) {
                    return Some((head.labels_of(&s), s));
                }
            },
        }
    }
}

fn select<'a>(head: &'a Head, sorted: bool, matchers: &[Matcher]) -> Result<Selected<'a>> {
    let mut postings = postings_for_matchers(head, matchers)?;
    if !sorted {
        return Ok(Selected::Postings(postings));
    }
    let mut series: Vec<(Labels, SeriesArc)> = Vec::new();
    while let Some(r) = postings.next() {
        if let Some(s) = head.series.get_by_ref(r) {
            series.push((head.labels_of(&s), s));
        }
    }
    series.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(Selected::Sorted(series.into_iter()))
}

/// A sample-level querier over the head, from [`Head::querier`].
pub struct HeadQuerier<'a> {
    head: &'a Head,
    mint: i64,
    maxt: i64,
    view: ReadView,
}

impl std::fmt::Debug for HeadQuerier<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadQuerier")
            .field("mint", &self.mint)
            .field("maxt", &self.maxt)
            .finish_non_exhaustive()
    }
}

impl HeadQuerier<'_> {
    fn label_values_impl(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        if !self.head.overlaps(self.mint, self.maxt) {
            return Ok(Vec::new());
        }
        Ok(label_values_matching(self.head, name, matchers)?)
    }

    fn label_names_impl(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        if !self.head.overlaps(self.mint, self.maxt) {
            return Ok(Vec::new());
        }
        Ok(label_names_matching(self.head, matchers)?)
    }
}

impl Querier for HeadQuerier<'_> {
    fn select<'b>(
        &'b self,
        sorted: bool,
        _hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet<'b> + 'b> {
        if !self.head.overlaps(self.mint, self.maxt) {
            return Box::new(aion_storage::EmptySeriesSet);
        }
        match select(self.head, sorted, matchers) {
            Ok(selected) => Box::new(HeadSeriesSet { q: self, selected }),
            Err(e) => Box::new(ErrorSeriesSet::new(e.into())),
        }
    }
}

impl aion_storage::LabelQuerier for HeadQuerier<'_> {
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        Ok(self.label_values_impl(name, matchers)?)
    }

    fn label_names(&self, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        Ok(self.label_names_impl(matchers)?)
    }
}

struct HeadSeriesSet<'b> {
    q: &'b HeadQuerier<'b>,
    selected: Selected<'b>,
}

impl<'b> HeadSeriesSet<'b> {
    /// The next series, with the TSDB's own error.
    fn pull(&mut self) -> Option<Result<Series<'b>>> {
        let q = self.q;
        loop {
            let (labels, s) = self.selected.next(q.head)?;
            match q
                .head
                .snapshot(&s, q.mint, q.maxt, q.view.epoch, ReadAs::Samples)
            {
                Ok(None) => continue,
                Ok(Some(mut snap)) => {
                    let samples: Box<dyn SampleIterator + 'b> = match snap.merged.take() {
                        Some(Merged::Floats(m)) => Box::new(aion_storage::SliceIterator::new(m)),
                        Some(Merged::Mixed(m)) => Box::new(ValuesIterator::new(m)),
                        None => Box::new(HeadSeriesIterator::new(snap, q.mint)),
                    };
                    return Some(Ok(Series { labels, samples }));
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl<'b> SeriesSet<'b> for HeadSeriesSet<'b> {
    fn next(&mut self) -> Option<aion_storage::Result<Series<'b>>> {
        self.pull().map(|r| r.map_err(Into::into))
    }
}

/// The samples of one head series within a query's bounds.
pub(crate) struct HeadSeriesIterator {
    chunks: std::vec::IntoIter<SnapChunk>,
    cur: Option<(OwnedChunkIterator, i64)>,
    mint: i64,
    maxt: i64,
    deleted: Intervals,
    at: (i64, f64),
    /// The type of the current sample (histograms are read from `cur`).
    vt: ValueType,
    positioned: bool,
    done: bool,
    err: Option<crate::Error>,
}

impl HeadSeriesIterator {
    fn new(snap: Snapshot, mint: i64) -> Self {
        HeadSeriesIterator {
            chunks: snap.chunks.into_iter(),
            cur: None,
            mint,
            maxt: snap.maxt,
            deleted: snap.deleted,
            at: (i64::MIN, f64::NAN),
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
        ValueType::None
    }

    /// Moves to the first sample at or after `target` that lies within the
    /// bounds and is not deleted. `step` first advances the current
    /// chunk iterator by one (a `next`), otherwise it seeks.
    fn advance(&mut self, target: i64, mut step: bool) -> ValueType {
        loop {
            if self.cur.is_none() {
                let Some(c) = self.chunks.next() else {
                    return self.finish();
                };
                if c.min_time > self.maxt {
                    return self.finish();
                }
                if c.max_time < target {
                    continue;
                }
                match OwnedChunkIterator::new(c.encoding, c.bytes) {
                    Ok(it) => self.cur = Some((it, c.max_time)),
                    Err(e) => {
                        self.err = Some(crate::Error::Chunk(e));
                        return self.finish();
                    }
                }
                step = false;
            }
            let (it, _) = self.cur.as_mut().expect("set above");
            let vt = if step { it.next() } else { it.seek(target) };
            step = true;
            if vt == ValueType::None {
                if let Some(e) = it.error() {
                    self.err = Some(crate::Error::Chunk(e.clone()));
                    return self.finish();
                }
                self.cur = None;
                continue;
            }
            let (t, v) = if vt == ValueType::Float {
                it.at()
            } else {
                (it.at_t(), f64::NAN)
            };
            if t > self.maxt {
                return self.finish();
            }
            if t < target || self.deleted.contains(t) {
                continue;
            }
            self.at = (t, v);
            self.vt = vt;
            self.positioned = true;
            return vt;
        }
    }
}

impl SampleIterator for HeadSeriesIterator {
    fn next(&mut self) -> ValueType {
        if self.done {
            return ValueType::None;
        }
        if !self.positioned && self.cur.is_none() {
            return self.advance(self.mint, false);
        }
        self.advance(self.mint, true)
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.done {
            return ValueType::None;
        }
        if self.positioned && self.at.0 >= t {
            return self.vt;
        }
        let target = t.max(self.mint);
        if let Some((_, max)) = &self.cur {
            if *max < target {
                self.cur = None;
            }
        }
        self.advance(target, false)
    }

    fn at(&self) -> (i64, f64) {
        self.at
    }

    fn at_histogram(&self, h: &mut Histogram) -> i64 {
        match &self.cur {
            Some((it, _)) if self.positioned => it.at_histogram(h),
            _ => self.at.0,
        }
    }

    fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
        match &self.cur {
            Some((it, _)) if self.positioned => it.at_float_histogram(fh),
            _ => self.at.0,
        }
    }

    fn at_t(&self) -> i64 {
        self.at.0
    }

    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.err
            .as_ref()
            .map(|e| e as &(dyn StdError + Send + Sync + 'static))
    }
}

/// A chunk-level querier over the head, from [`Head::chunk_querier`].
pub struct HeadChunkQuerier<'a> {
    q: HeadQuerier<'a>,
    read: ReadAs,
}

impl std::fmt::Debug for HeadChunkQuerier<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.q.fmt(f)
    }
}

impl ChunkQuerier for HeadChunkQuerier<'_> {
    fn select<'b>(
        &'b self,
        sorted: bool,
        _hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn ChunkSeriesSet<'b> + 'b> {
        let q = &self.q;
        if !q.head.overlaps(q.mint, q.maxt) {
            return Box::new(aion_storage::EmptyChunkSeriesSet);
        }
        match select(q.head, sorted, matchers) {
            Ok(selected) => Box::new(HeadChunkSeriesSet {
                q,
                selected,
                read: self.read,
            }),
            Err(e) => Box::new(ErrorChunkSeriesSet::new(e.into())),
        }
    }
}

impl aion_storage::LabelQuerier for HeadChunkQuerier<'_> {
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        Ok(self.q.label_values_impl(name, matchers)?)
    }

    fn label_names(&self, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        Ok(self.q.label_names_impl(matchers)?)
    }
}

struct HeadChunkSeriesSet<'b> {
    q: &'b HeadQuerier<'b>,
    selected: Selected<'b>,
    read: ReadAs,
}

impl<'b> HeadChunkSeriesSet<'b> {
    /// The next series, with the TSDB's own error.
    fn pull(&mut self) -> Option<Result<ChunkSeries<'b>>> {
        let q = self.q;
        loop {
            let (labels, s) = self.selected.next(q.head)?;
            match q.head.snapshot(&s, q.mint, q.maxt, q.view.epoch, self.read) {
                Ok(None) => continue,
                Ok(Some(snap)) => {
                    return Some(Ok(ChunkSeries {
                        labels,
                        chunks: Box::new(SnapChunkIterator {
                            chunks: snap.chunks.into_iter(),
                            cur: None,
                        }),
                    }))
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl<'b> ChunkSeriesSet<'b> for HeadChunkSeriesSet<'b> {
    fn next(&mut self) -> Option<aion_storage::Result<ChunkSeries<'b>>> {
        self.pull().map(|r| r.map_err(Into::into))
    }
}

struct SnapChunkIterator {
    chunks: std::vec::IntoIter<SnapChunk>,
    cur: Option<SnapChunk>,
}

impl ChunkIterator for SnapChunkIterator {
    fn next(&mut self) -> Option<aion_storage::Result<RawChunk<'_>>> {
        self.cur = Some(self.chunks.next()?);
        let c = self.cur.as_ref().expect("just set");
        Some(Ok(RawChunk {
            min_time: c.min_time,
            max_time: c.max_time,
            encoding: c.encoding,
            data: c.bytes.as_slice(),
        }))
    }
}
