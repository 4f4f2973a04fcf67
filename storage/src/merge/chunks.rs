//! Merging at the chunk level: series of several chunk queriers with the
//! same labels become one series whose chunks are time-ordered, identical
//! chunks kept once, overlapping chunks decoded, merged and re-encoded.
//! Compaction of overlapping blocks uses the same [`merge_chunks`].

use std::borrow::Cow;

use aion_chunkenc::{Encoding, SampleIterator, ValueType, XorAppender, XorIterator};
use aion_model::Matcher;

use super::{MergeChunkSeriesSet, MergeQuerier, MergeSet, Mergeable};
use crate::{
    ChunkIterator, ChunkQuerier, ChunkSeries, ChunkSeriesSet, EmptyChunkSeriesSet, Error,
    ErrorKind, RawChunk, Result, SelectHints, SeriesChunk,
};

/// Samples per chunk when overlapping chunks are re-encoded (Prometheus's
/// `seriesToChunkEncoderSplit`).
pub const MERGED_CHUNK_SAMPLES: usize = 120;

/// Orders the chunks of one series by time and resolves overlaps. Each
/// chunk comes with the rank of its source: on a timestamp present in
/// several chunks, the lowest rank's sample is kept; chunks identical in
/// range, encoding and bytes are kept once.
pub fn merge_chunks<'a>(
    mut chunks: Vec<(usize, SeriesChunk<Cow<'a, [u8]>>)>,
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
        out.extend(merge_overlapping(&group)?);
    }
    Ok(out)
}

/// Decodes overlapping chunks, merges their samples by timestamp (the
/// lowest-ranked chunk wins a tie) and re-encodes them in chunks of 120.
fn merge_overlapping(
    group: &[(usize, SeriesChunk<Cow<'_, [u8]>>)],
) -> Result<Vec<SeriesChunk<Cow<'static, [u8]>>>> {
    let mut samples: Vec<(i64, usize, f64)> = Vec::new();
    for (rank, c) in group {
        if c.encoding != Encoding::Xor {
            return Err(Error::new(
                ErrorKind::Unsupported,
                aion_chunkenc::Error::UnsupportedEncoding {
                    encoding: c.encoding,
                },
            ));
        }
        let mut it = XorIterator::new(&c.data);
        while it.next() == ValueType::Float {
            let (t, v) = it.at();
            samples.push((t, *rank, v));
        }
        if let Some(e) = it.error() {
            return Err(e.clone().into());
        }
    }
    samples.sort_by_key(|s| (s.0, s.1));
    samples.dedup_by_key(|s| s.0);
    let mut out = Vec::new();
    for part in samples.chunks(MERGED_CHUNK_SAMPLES) {
        let mut app = XorAppender::new();
        for &(t, _, v) in part {
            app.append(t, v)
                .map_err(|_| Error::msg(ErrorKind::Other, "merged chunk exceeds 65535 samples"))?;
        }
        out.push(SeriesChunk {
            min_time: part[0].0,
            max_time: part[part.len() - 1].0,
            encoding: Encoding::Xor,
            data: Cow::Owned(app.bytes().to_vec()),
        });
    }
    Ok(out)
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
