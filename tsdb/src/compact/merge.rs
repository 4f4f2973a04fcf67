//! Merging the series of several blocks into one sorted stream, with
//! overlapping chunks (vertical compaction) merged and deduplicated.

use std::borrow::Cow;

use aion_chunkenc::SampleIterator;
use aion_chunkenc::{Encoding, ValueType, XorAppender, XorIterator};

use crate::block::{BlockSeries, BlockSeriesSource};
use crate::chunks::SeriesChunk;
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
    sources: Vec<Box<dyn BlockSeriesSource<'a> + 'a>>,
    heads: Vec<Option<BlockSeries<'a>>>,
    started: bool,
    failed: bool,
}

impl<'a> MergedSeries<'a> {
    /// Merges `sources`, given in order of preference for duplicate
    /// timestamps (oldest block first).
    pub fn new(sources: Vec<Box<dyn BlockSeriesSource<'a> + 'a>>) -> Self {
        let n = sources.len();
        MergedSeries {
            sources,
            heads: (0..n).map(|_| None).collect(),
            started: false,
            failed: false,
        }
    }

    fn fill(&mut self, i: usize) -> Result<()> {
        self.heads[i] = self.sources[i].next_series().transpose()?;
        Ok(())
    }

    fn advance(&mut self) -> Result<Option<BlockSeries<'a>>> {
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                self.fill(i)?;
            }
        }
        let mut min: Option<usize> = None;
        for (i, h) in self.heads.iter().enumerate() {
            if let Some(h) = h {
                if min.is_none_or(|m| h.labels < self.heads[m].as_ref().expect("set").labels) {
                    min = Some(i);
                }
            }
        }
        let Some(first) = min else { return Ok(None) };
        let mut out = self.heads[first].take().expect("set");
        self.fill(first)?;
        let mut ranked: Vec<(usize, SeriesChunk<Cow<'a, [u8]>>)> = Vec::new();
        for i in first + 1..self.heads.len() {
            if self.heads[i]
                .as_ref()
                .is_some_and(|h| h.labels == out.labels)
            {
                if ranked.is_empty() {
                    ranked.extend(out.chunks.drain(..).map(|c| (first, c)));
                }
                let other = self.heads[i].take().expect("set");
                ranked.extend(other.chunks.into_iter().map(|c| (i, c)));
                self.fill(i)?;
            }
        }
        if !ranked.is_empty() {
            out.chunks = merge_chunks(ranked)?;
        }
        Ok(Some(out))
    }
}

impl<'a> BlockSeriesSource<'a> for MergedSeries<'a> {
    fn next_series(&mut self) -> Option<Result<BlockSeries<'a>>> {
        if self.failed {
            return None;
        }
        let r = self.advance().transpose();
        if matches!(r, Some(Err(_))) {
            self.failed = true;
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
