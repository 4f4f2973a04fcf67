//! Merging the series of several blocks into one sorted stream, with
//! overlapping chunks (vertical compaction) merged and deduplicated.

use std::borrow::Cow;

use aion_chunkenc::SampleIterator;
use aion_chunkenc::{Encoding, ValueType, XorAppender, XorIterator};

use crate::block::{BlockSeries, BlockSeriesSource};
use crate::chunks::SeriesChunk;
use crate::querier::LabelMerge;
use crate::{Error, Result};

/// Samples per chunk when overlapping chunks are re-encoded (Prometheus's
/// `seriesToChunkEncoderSplit`).
const MERGED_CHUNK_SAMPLES: usize = 120;

/// The union of several label-sorted series streams, itself sorted. A
/// series in several streams gets all their chunks, time-ordered; chunks
/// that overlap in time are decoded, merged (a timestamp present in
/// several keeps the first stream's sample) and re-encoded; identical
/// chunks are kept once. Holds one series per stream at a time.
pub struct MergedSeries<'a> {
    merge: LabelMerge<Box<dyn BlockSeriesSource<'a> + 'a>, BlockSeries<'a>>,
    group: Vec<(usize, BlockSeries<'a>)>,
}

impl<'a> MergedSeries<'a> {
    /// Merges `sources`, given in order of preference for duplicate
    /// timestamps (oldest block first).
    pub fn new(sources: Vec<Box<dyn BlockSeriesSource<'a> + 'a>>) -> Self {
        MergedSeries {
            merge: LabelMerge::new(sources, |s| s.next_series()),
            group: Vec::new(),
        }
    }

    fn advance(&mut self) -> Result<Option<BlockSeries<'a>>> {
        if !self.merge.next_group(&mut self.group)? {
            return Ok(None);
        }
        if self.group.len() == 1 {
            return Ok(self.group.pop().map(|(_, s)| s));
        }
        let mut group = self.group.drain(..);
        let (first, mut out) = group.next().expect("a group is never empty");
        let mut ranked: Vec<(usize, SeriesChunk<Cow<'a, [u8]>>)> =
            out.chunks.drain(..).map(|c| (first, c)).collect();
        for (rank, other) in group {
            ranked.extend(other.chunks.into_iter().map(|c| (rank, c)));
        }
        out.chunks = merge_chunks(ranked)?;
        Ok(Some(out))
    }
}

impl<'a> BlockSeriesSource<'a> for MergedSeries<'a> {
    fn next_series(&mut self) -> Option<Result<BlockSeries<'a>>> {
        let r = self.advance().transpose();
        if matches!(r, Some(Err(_))) {
            // Merging a group's chunks failed: end here, as on a read
            // error.
            self.merge.stop();
        }
        r
    }
}

/// Orders the chunks of one series by time and resolves overlaps. Each
/// chunk comes with the rank of its source: on a timestamp present in
/// several chunks, the lowest rank's sample is kept.
pub(crate) fn merge_chunks<'a>(
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
            return Err(aion_chunkenc::Error::UnsupportedEncoding {
                encoding: c.encoding,
            }
            .into());
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
                .map_err(|_| Error::Writer("merged chunk exceeds 65535 samples".into()))?;
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
