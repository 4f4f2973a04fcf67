//! The first step of a replay: the chunks of `chunks_head/`, grouped by
//! series reference for the series records of the log to claim.
//!
//! The chunks are collected in file order into one flat list and then
//! grouped by reference (a series keeps its chunks' order), rather than
//! pushed into one growing list per series: the file
//! interleaves series (a chunk is written when it is cut), so a list per
//! series meant a hash lookup, a cache miss on the list's end and a
//! regrowth every few chunks, for every chunk; that was half of this
//! step's time, on the thread the rest of the replay waits for. A series'
//! chunks must not overlap in time; that is checked on the grouped list,
//! where they are neighbours.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

use super::ooo::OooMmapped;
use super::open_chunk::SampleKind;
use super::replay_report::ReplayReport;
use super::series::{MixHasher, MmappedChunk, MmappedChunks};
use super::Head;
use crate::chunks::HeadChunkRef;
use crate::{Error, Result};

/// Up to this series reference, per-series tables of the load are
/// direct-indexed (8 bytes each at most); a head hands references out
/// densely from 1, so only a log that lived through many series churns
/// goes past it.
const DENSE_REFS: u64 = 1 << 22;

/// The in-order m-mapped chunks of `chunks_head/` by series reference, each
/// series' chunks oldest first.
#[derive(Default)]
pub(super) struct ChunksBySeries {
    /// Every chunk, a series' chunks together and in file order.
    chunks: Vec<MmappedChunk>,
    /// Where each series' chunks are in `chunks` (start, count); a series
    /// that took its chunks is removed.
    spans: HashMap<u64, (usize, usize), BuildHasherDefault<MixHasher>>,
}

impl ChunksBySeries {
    /// Groups `flat` (reference and chunk, in file order) by reference,
    /// keeping each series' chunks in file order.
    fn group(flat: Vec<(u64, MmappedChunk)>) -> ChunksBySeries {
        let max = flat.iter().map(|&(r, _)| r).max().unwrap_or(0);
        if max >= DENSE_REFS {
            return Self::group_by_sorting(flat);
        }
        // A counting sort: references are dense (a head hands them out
        // from 1), so the counts fit a table, and one pass places each
        // chunk (a stable sort was a tenth of this step).
        let mut starts = vec![0usize; max as usize + 2];
        for &(r, _) in &flat {
            starts[r as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut spans = HashMap::with_capacity_and_hasher(0, BuildHasherDefault::default());
        for (r, w) in starts.windows(2).enumerate() {
            if w[1] > w[0] {
                spans.insert(r as u64, (w[0], w[1] - w[0]));
            }
        }
        let placeholder = MmappedChunk {
            min_time: 0,
            max_time: 0,
            chunk_ref: HeadChunkRef(0),
        };
        let mut chunks = vec![placeholder; flat.len()];
        let mut next = starts;
        for (r, c) in flat {
            let at = &mut next[r as usize];
            chunks[*at] = c;
            *at += 1;
        }
        ChunksBySeries { chunks, spans }
    }

    /// [`ChunksBySeries::group`] for references too large for a table.
    fn group_by_sorting(mut flat: Vec<(u64, MmappedChunk)>) -> ChunksBySeries {
        flat.sort_by_key(|&(r, _)| r);
        let mut spans = HashMap::with_capacity_and_hasher(0, BuildHasherDefault::default());
        let mut start = 0;
        while start < flat.len() {
            let r = flat[start].0;
            let len = flat[start..].iter().take_while(|(x, _)| *x == r).count();
            spans.insert(r, (start, len));
            start += len;
        }
        let chunks = flat.into_iter().map(|(_, c)| c).collect();
        ChunksBySeries { chunks, spans }
    }

    /// Takes the chunks of series `r`, packed for its state.
    pub fn take(&mut self, r: u64) -> Option<MmappedChunks> {
        let (start, len) = self.spans.remove(&r)?;
        Some(MmappedChunks::pack(&self.chunks[start..start + len]))
    }

    /// The end of each reference's chunks (`i64::MIN` for none), in a table
    /// direct-indexed by reference below `limit` (larger ones are left
    /// out).
    pub fn ends_below(&self, limit: u64) -> Vec<i64> {
        let mut until = Vec::new();
        for (&r, &(start, len)) in &self.spans {
            if r >= limit || len == 0 {
                continue;
            }
            let i = r as usize;
            if i >= until.len() {
                until.resize(i + 1, i64::MIN);
            }
            until[i] = self.chunks[start + len - 1].max_time;
        }
        until
    }

    /// Number of chunks no series took.
    pub fn left(&self) -> usize {
        self.spans.values().map(|&(_, len)| len).sum()
    }

    /// The first chunk in file order that starts before the chunk of its
    /// series ahead of it ends, and why: damage (a series' chunks are
    /// written in time order).
    fn first_out_of_sequence(&self) -> Option<(HeadChunkRef, String)> {
        self.spans
            .iter()
            .flat_map(|(&r, &(start, len))| {
                self.chunks[start..start + len]
                    .windows(2)
                    .filter(|w| w[0].max_time >= w[1].min_time)
                    .map(move |w| (r, w[0].max_time, w[1]))
            })
            .min_by_key(|(_, _, c)| c.chunk_ref)
            .map(|(r, end, c)| {
                (
                    c.chunk_ref,
                    format!(
                        "out of sequence chunk for series {r}: [{}, {}] after one ending at {end}",
                        c.min_time, c.max_time
                    ),
                )
            })
    }
}

/// What the chunk load found: in-order chunks by series, out-of-order ones
/// by series, and the newest chunk reference.
pub(super) type LoadedChunks = (ChunksBySeries, HashMap<u64, Vec<OooMmapped>>, HeadChunkRef);

/// Loads every chunk of `chunks_head/` not older than the head's minimum
/// valid time (out-of-order chunks whatever their time, as Prometheus), by
/// series reference. Damage drops the files from the damaged one on.
pub(super) fn load_mmapped_chunks(
    head: &Head,
    strict: bool,
    report: &mut ReplayReport,
) -> Result<LoadedChunks> {
    let min_valid = head.min_valid_time();
    loop {
        let mut flat: Vec<(u64, MmappedChunk)> = Vec::new();
        let mut ooo: HashMap<u64, Vec<OooMmapped>> = HashMap::new();
        let mut last_ref = HeadChunkRef(0);
        let mut ignored = 0;
        let mut unreadable: BTreeMap<u8, usize> = BTreeMap::new();
        let res = head.chunks.iterate(|c| {
            last_ref = last_ref.max(c.chunk_ref);
            let readable = SampleKind::of_encoding(c.encoding).is_some();
            if c.out_of_order && readable {
                ooo.entry(c.series_ref).or_default().push(OooMmapped {
                    min_time: c.min_time,
                    max_time: c.max_time,
                    chunk_ref: c.chunk_ref,
                    max_epoch: 0,
                    recent: None,
                });
                return;
            }
            if !readable {
                *unreadable.entry(c.encoding).or_default() += 1;
                return;
            }
            if c.max_time < min_valid {
                ignored += 1;
                return;
            }
            flat.push((
                c.series_ref,
                MmappedChunk {
                    min_time: c.min_time,
                    max_time: c.max_time,
                    chunk_ref: c.chunk_ref,
                },
            ));
        });
        let (file, why) = match res {
            Err(c) => (
                c.file,
                format!("file {:06} offset {}: {}", c.file, c.offset, c.reason),
            ),
            Ok(()) => {
                let grouped = ChunksBySeries::group(flat);
                let Some((r, why)) = grouped.first_out_of_sequence() else {
                    report.mmapped_chunks_ignored += ignored;
                    report.mmapped_chunks_unreadable = unreadable;
                    return Ok((grouped, ooo, last_ref));
                };
                (
                    r.file(),
                    format!("file {:06} offset {}: {why}", r.file(), r.offset()),
                )
            }
        };
        if strict {
            return Err(Error::Damaged(format!(
                "chunks_head: {}: {why}",
                head.chunks.dir().display()
            )));
        }
        report.chunk_file_bytes_dropped += head.chunks.drop_files_from(file)?;
        report.chunk_file_corruption = Some(format!("{}: {why}", head.chunks.dir().display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(min_time: i64, max_time: i64, at: u32) -> MmappedChunk {
        MmappedChunk {
            min_time,
            max_time,
            chunk_ref: HeadChunkRef::new(1, at),
        }
    }

    #[test]
    fn grouping_keeps_each_series_chunks_in_file_order() {
        let flat = vec![
            (7, chunk(0, 9, 8)),
            (2, chunk(0, 5, 40)),
            (7, chunk(10, 19, 80)),
            (1 << 40, chunk(3, 4, 120)),
            (2, chunk(6, 8, 160)),
            (7, chunk(20, 29, 200)),
        ];
        let mut g = ChunksBySeries::group(flat);
        assert_eq!(g.left(), 6);
        let until = g.ends_below(1 << 22);
        assert_eq!(
            (until.len(), until[2], until[7], until[3]),
            (8, 8, 29, i64::MIN)
        );
        let seven: Vec<MmappedChunk> = g.take(7).unwrap().iter().collect();
        assert_eq!(
            seven,
            vec![chunk(0, 9, 8), chunk(10, 19, 80), chunk(20, 29, 200)]
        );
        assert!(g.take(7).is_none(), "taken once");
        let two: Vec<MmappedChunk> = g.take(2).unwrap().iter().collect();
        assert_eq!(two, vec![chunk(0, 5, 40), chunk(6, 8, 160)]);
        assert_eq!(g.left(), 1);
        assert!(g.take(5).is_none());
        let wide: Vec<MmappedChunk> = g.take(1 << 40).unwrap().iter().collect();
        assert_eq!(wide, vec![chunk(3, 4, 120)]);
        assert_eq!(g.left(), 0);
    }
}
