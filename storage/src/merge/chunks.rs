//! Merging at the chunk level: series of several chunk queriers with the
//! same labels become one series whose chunks are time-ordered, identical
//! chunks kept once, overlapping chunks decoded, merged and re-encoded.
//! Compaction of overlapping blocks uses the same [`merge_chunks`].

use std::borrow::Cow;

use aion_chunkenc::{ChunkIter, Encoding, SampleIterator};
use aion_model::Matcher;

use super::encode::encode_series;
use super::{ChainIterator, MergeChunkSeriesSet, MergeQuerier, MergeSet, Mergeable};
use crate::{
    ChunkIterator, ChunkQuerier, ChunkSeries, ChunkSeriesSet, EmptyChunkSeriesSet, Error,
    ErrorKind, RawChunk, Result, SelectHints, SeriesChunk,
};

/// Orders the chunks of one series by time and resolves overlaps. Each
/// chunk comes with the rank of its source: on a timestamp present in
/// several chunks, the lowest rank's sample is kept; chunks identical in
/// range, encoding and bytes are kept once. Overlapping chunks of any
/// encoding (floats, native histograms, both) are merged and encoded
/// again as [`encode_series`] does with XOR floats, Prometheus's
/// compacting chunk merger.
pub fn merge_chunks<'a>(
    chunks: Vec<(usize, SeriesChunk<Cow<'a, [u8]>>)>,
) -> Result<Vec<SeriesChunk<Cow<'a, [u8]>>>> {
    merge_chunks_encoding(chunks, Encoding::Xor)
}

/// [`merge_chunks`] with merged floats encoded in `float_encoding` (XOR or
/// XOR2), Prometheus's `NewCompactingChunkSeriesMergerWithFloatEncoding`.
pub fn merge_chunks_encoding<'a>(
    mut chunks: Vec<(usize, SeriesChunk<Cow<'a, [u8]>>)>,
    float_encoding: Encoding,
) -> Result<Vec<SeriesChunk<Cow<'a, [u8]>>>> {
    chunks.sort_by_key(|(rank, c)| (c.min_time, c.max_time, *rank));
    let mut out = Vec::with_capacity(chunks.len());
    let mut it = chunks.into_iter().peekable();
    while let Some(cur) = it.next() {
        let mut group: Vec<(usize, SeriesChunk<Cow<'a, [u8]>>)> = Vec::new();
        let mut group_max = cur.1.max_time;
        while let Some((_, next)) = it.peek() {
            if next.min_time > group_max {
                break;
            }
            let next = it.next().expect("peeked");
            let prev = group.last().unwrap_or(&cur);
            let identical = next.1.min_time == prev.1.min_time
                && next.1.max_time == prev.1.max_time
                && next.1.encoding == prev.1.encoding
                && next.1.data == prev.1.data;
            if !identical {
                group_max = group_max.max(next.1.max_time);
                group.push(next);
            }
        }
        if group.is_empty() {
            out.push(cur.1);
            continue;
        }
        group.insert(0, cur);
        out.extend(merge_overlapping(&mut group, float_encoding)?);
    }
    Ok(out)
}

/// Merges overlapping chunks sample by sample (the lowest-ranked chunk
/// wins a timestamp several have) and encodes the result again.
fn merge_overlapping(
    group: &mut [(usize, SeriesChunk<Cow<'_, [u8]>>)],
    float_encoding: Encoding,
) -> Result<Vec<SeriesChunk<Cow<'static, [u8]>>>> {
    // The chain prefers its first iterator on a tie: order by rank (the
    // sort is stable, so each rank's chunks stay in time order).
    group.sort_by_key(|(rank, _)| *rank);
    let mut its: Vec<Box<dyn SampleIterator + '_>> = Vec::with_capacity(group.len());
    for (_, c) in group.iter() {
        let it = ChunkIter::new(c.encoding, &c.data)
            .map_err(|e| Error::new(ErrorKind::Unsupported, e))?;
        its.push(Box::new(it));
    }
    let chunks = encode_series(&mut ChainIterator::new(its), float_encoding)?;
    Ok(chunks
        .into_iter()
        .map(|c| SeriesChunk {
            min_time: c.min_time,
            max_time: c.max_time,
            encoding: c.encoding,
            data: Cow::Owned(c.data),
        })
        .collect())
}

/// A [`ChunkIterator`] over chunks in hand (borrowed or owned).
pub struct VecChunks<'a> {
    chunks: Vec<SeriesChunk<Cow<'a, [u8]>>>,
    next: usize,
}

impl<'a> VecChunks<'a> {
    /// Iterates `chunks` in order.
    pub fn new(chunks: Vec<SeriesChunk<Cow<'a, [u8]>>>) -> Self {
        VecChunks { chunks, next: 0 }
    }
}

impl ChunkIterator for VecChunks<'_> {
    fn next(&mut self) -> Option<Result<RawChunk<'_>>> {
        let c = self.chunks.get(self.next)?;
        self.next += 1;
        Some(Ok(c.as_borrowed()))
    }
}

impl<'a> Mergeable<'a> for ChunkSeries<'a> {
    type Set = dyn ChunkSeriesSet<'a> + 'a;

    fn pull(set: &mut Box<Self::Set>) -> Option<Result<Self>> {
        set.next()
    }

    fn warnings(set: &Self::Set) -> Vec<String> {
        set.warnings()
    }

    /// One series with the group's chunks, overlaps merged.
    fn merge(group: &mut Vec<(usize, Self)>) -> Result<Self> {
        let labels = group[0].1.labels.clone();
        let mut ranked: Vec<(usize, SeriesChunk<Cow<'static, [u8]>>)> = Vec::new();
        for (rank, mut s) in group.drain(..) {
            while let Some(c) = s.chunks.next() {
                let c = c?;
                ranked.push((
                    rank,
                    SeriesChunk {
                        min_time: c.min_time,
                        max_time: c.max_time,
                        encoding: c.encoding,
                        data: Cow::Owned(c.data.to_vec()),
                    },
                ));
            }
        }
        Ok(ChunkSeries {
            labels,
            chunks: Box::new(VecChunks::new(merge_chunks(ranked)?)),
        })
    }
}

impl<'a> ChunkSeriesSet<'a> for MergeSet<'a, ChunkSeries<'a>> {
    fn next(&mut self) -> Option<Result<ChunkSeries<'a>>> {
        self.next_merged()
    }

    fn warnings(&self) -> Vec<String> {
        self.source_warnings()
    }
}

impl<'q> ChunkQuerier for MergeQuerier<'q, dyn ChunkQuerier + 'q> {
    fn select<'b>(
        &'b self,
        sorted: bool,
        hints: Option<&SelectHints<'_>>,
        matchers: &[Matcher],
    ) -> Box<dyn ChunkSeriesSet<'b> + 'b> {
        match self.queriers.len() {
            0 => Box::new(EmptyChunkSeriesSet),
            1 => self.queriers[0].select(sorted, hints, matchers),
            _ => Box::new(MergeChunkSeriesSet::new(
                self.queriers
                    .iter()
                    .map(|q| q.select(true, hints, matchers))
                    .collect(),
            )),
        }
    }
}
