//! Merging the series of several blocks into one sorted stream, with
//! overlapping chunks (vertical compaction) merged and deduplicated.

use std::borrow::Cow;

use crate::block::{BlockSeries, BlockSeriesSource};
use crate::chunks::SeriesChunk;
use crate::{Error, Result};
use aion_storage::merge::{merge_chunks, LabelMerge};

/// The union of several label-sorted series streams, itself sorted. A
/// series in several streams gets all their chunks, time-ordered; chunks
/// that overlap in time are decoded, merged (a timestamp present in
/// several keeps the first stream's sample) and re-encoded; identical
/// chunks are kept once. Holds one series per stream at a time.
pub struct MergedSeries<'a> {
    merge: LabelMerge<Box<dyn BlockSeriesSource<'a> + 'a>, BlockSeries<'a>, Error>,
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
