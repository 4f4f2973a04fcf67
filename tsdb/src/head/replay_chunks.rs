//! The first step of a replay: the chunks of `chunks_head/`, grouped by
//! series reference for the series records of the log to claim.
//!
//! The chunks are collected in file order into one flat list and then
//! sorted by reference (stable, so a series keeps its chunks' order),
//! rather than pushed into one growing list per series: the file
//! interleaves series (a chunk is written when it is cut), so a list per
//! series meant a hash lookup, a cache miss on the list's end and a
//! regrowth every few chunks, for every chunk; that was half of this
//! step's time, on the thread the rest of the replay waits for.

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
    /// keeping each series' chunks in file order (which the loader checked
    /// is time order).
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
}

/// What the chunk load found: in-order chunks by series, out-of-order ones
/// by series, and the newest chunk reference.
pub(super) type LoadedChunks = (ChunksBySeries, HashMap<u64, Vec<OooMmapped>>, HeadChunkRef);

/// The newest chunk end seen per reference while loading, for the
/// out-of-sequence check: direct-indexed for the references a head hands
/// out (dense from 1), a map beyond.
#[derive(Default)]
struct LastEnds {
    direct: Vec<i64>,
    other: HashMap<u64, i64, BuildHasherDefault<MixHasher>>,
}

impl LastEnds {
    /// The end recorded for `r` (`None` if no chunk yet), then records
    /// `end` as its new one.
    #[inline]
    fn replace(&mut self, r: u64, end: i64) -> Option<i64> {
        // `i64::MIN` marks "none" in the table, so an end there (a chunk
        // of one sample at the smallest time) is kept in the map.
        if r < DENSE_REFS && end != i64::MIN {
            let i = r as usize;
            if i >= self.direct.len() {
                self.direct.resize((i + 1).next_power_of_two(), i64::MIN);
            }
            let old = std::mem::replace(&mut self.direct[i], end);
            if old != i64::MIN {
                return Some(old);
            }
            if self.other.is_empty() {
                return None;
            }
            return self.other.remove(&r);
        }
        let in_table = usize::try_from(r)
            .ok()
            .and_then(|i| self.direct.get_mut(i))
            .map(|e| std::mem::replace(e, i64::MIN))
            .filter(|&old| old != i64::MIN);
        self.other.insert(r, end).or(in_table)
    }
}

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
        let mut ends = LastEnds::default();
        let mut ooo: HashMap<u64, Vec<OooMmapped>> = HashMap::new();
        let mut last_ref = HeadChunkRef(0);
        let mut ignored = 0;
        let mut unreadable: BTreeMap<u8, usize> = BTreeMap::new();
        let mut out_of_sequence = None;
        let res = head.chunks.iterate(|c| {
            if out_of_sequence.is_some() {
                return;
            }
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
            if let Some(end) = ends.replace(c.series_ref, c.max_time) {
                if end >= c.min_time {
                    out_of_sequence = Some((
                        c.chunk_ref,
                        format!(
                            "out of sequence chunk for series {}: [{}, {}] after one ending at {end}",
                            c.series_ref, c.min_time, c.max_time,
                        ),
                    ));
                    return;
                }
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
        let damage = match (res, out_of_sequence) {
            (Err(c), _) => Some((
                c.file,
                format!("file {:06} offset {}: {}", c.file, c.offset, c.reason),
            )),
            (Ok(()), Some((r, why))) => Some((
                r.file(),
                format!("file {:06} offset {}: {why}", r.file(), r.offset()),
            )),
            (Ok(()), None) => None,
        };
        match damage {
            None => {
                report.mmapped_chunks_ignored += ignored;
                report.mmapped_chunks_unreadable = unreadable;
                return Ok((ChunksBySeries::group(flat), ooo, last_ref));
            }
            Some((file, why)) => {
                if strict {
                    return Err(Error::Damaged(format!(
                        "chunks_head: {}: {why}",
                        head.chunks.dir().display()
                    )));
                }
                report.chunk_file_bytes_dropped += head.chunks.drop_files_from(file)?;
                report.chunk_file_corruption =
                    Some(format!("{}: {why}", head.chunks.dir().display()));
            }
        }
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

    #[test]
    fn last_ends_remember_per_reference() {
        let mut e = LastEnds::default();
        assert_eq!(e.replace(3, 10), None);
        assert_eq!(e.replace(3, 20), Some(10));
        assert_eq!(e.replace(4, 5), None);
        assert_eq!(e.replace(1 << 40, 7), None);
        assert_eq!(e.replace(1 << 40, 8), Some(7));
        assert_eq!(e.replace(3, 30), Some(20));
        // An end at the smallest time is remembered too, whichever way.
        assert_eq!(e.replace(9, i64::MIN), None);
        assert_eq!(e.replace(9, 1), Some(i64::MIN));
        assert_eq!(e.replace(9, i64::MIN), Some(1));
        assert_eq!(e.replace(9, i64::MIN), Some(i64::MIN));
        assert_eq!(e.replace(9, 2), Some(i64::MIN));
        assert_eq!(e.replace(9, 3), Some(2));
    }
}
