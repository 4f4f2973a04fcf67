//! Where the head ends one chunk and starts the next: Prometheus 3's
//! policy for float chunks (`docs/formats.md#chunk-cutting`), reproduced
//! exactly so that chunks (and later blocks) come out byte-identical.
//!
//! A chunk ends when the next sample is at or past `next_at` (the end of
//! the chunk range the chunk started in, re-estimated once the chunk holds
//! a quarter of its target so that the range splits into chunks of about
//! `samples_per_chunk` samples), when it already holds twice the target,
//! or when its bytes exceed 1005 (so it stays under 1 KiB). A float after
//! a histogram (or the reverse) starts a chunk of its own encoding.
//! Histogram chunks follow their own size-based rules
//! (`histogram_append.rs`).

use aion_chunkenc::XorAppender;
use aion_index::SeriesRef;

use super::open_chunk::{ChunkAppender, SampleKind};
use super::series::{MmappedChunk, OpenChunk, SeriesState};
use crate::chunks::HeadChunkStore;
use crate::{FloatChunkEncoding, Result};

/// Prometheus's `MaxBytesPerXORChunk - 19`: an XOR chunk with more bytes
/// than this is cut before the next append.
pub(crate) const MAX_XOR_CHUNK_BYTES_BEFORE_APPEND: usize = 1024 - 19;

/// The parameters of the policy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CutPolicy {
    /// The head's chunk range (ms): the block range.
    pub chunk_range: i64,
    /// Target number of samples per chunk.
    pub samples_per_chunk: usize,
    /// Encoding of new float chunks.
    pub float_encoding: FloatChunkEncoding,
}

/// The end of the chunk range `t` falls in (Go's truncating division, as
/// Prometheus's `rangeForTimestamp`).
#[inline]
pub(crate) fn range_end(t: i64, width: i64) -> i64 {
    (t / width) * width + width
}

/// Prometheus 3's `computeChunkEndTime`: the end time that splits
/// `[start, max_t)` into chunks of equal sample counts, given that
/// `[start, cur]` holds `1/ratio_to_full` of a chunk.
pub(crate) fn compute_chunk_end_time(start: i64, cur: i64, max_t: i64, ratio_to_full: f64) -> i64 {
    let n = (max_t - start) as f64 / ((cur - start + 1) as f64 * ratio_to_full);
    if n <= 1.0 {
        return max_t;
    }
    (start as f64 + (max_t - start) as f64 / n.floor()) as i64
}

/// The bytes of a chunk being finished, given back to make the next chunk
/// reuse its allocation (cut back to a new chunk's size, so a series' open
/// chunk holds what its own samples need, not what an earlier one did).
fn recycle(buf: Vec<u8>) -> ChunkAppender {
    ChunkAppender::Xor(XorAppender::reuse(buf))
}

impl SeriesState {
    /// Appends `(t, v)` if it is newer than every sample of the series,
    /// cutting chunks as Prometheus does; full chunks go to `store`.
    /// Returns `Ok(false)` (and changes nothing) for a sample not newer
    /// than the last one: an exact duplicate or a sample that a concurrent
    /// commit made out of order.
    pub fn append(
        &mut self,
        series_ref: SeriesRef,
        t: i64,
        v: f64,
        policy: &CutPolicy,
        store: &HeadChunkStore,
    ) -> Result<bool> {
        let mut created = false;
        if self.open.is_none() {
            if self.mmapped.last().is_some_and(|c| c.max_time >= t) {
                return Ok(false);
            }
            self.cut_float(series_ref, t, policy, store)?;
            created = true;
        }
        let (num, bytes, max_time, is_float) = {
            let c = self.open.as_ref().expect("an open chunk exists");
            // One match: the XOR arm is the hot path.
            let (num, bytes, is_float) = match &c.app {
                ChunkAppender::Xor(a) => (a.num_samples(), a.bytes().len(), true),
                ChunkAppender::Xor2(a) => (a.num_samples(), a.bytes().len(), true),
                other => (other.num_samples(), other.bytes().len(), false),
            };
            (num, bytes, c.max_time(), is_float)
        };
        if max_time >= t {
            return Ok(false);
        }
        if !created && bytes > MAX_XOR_CHUNK_BYTES_BEFORE_APPEND {
            self.cut_float(series_ref, t, policy, store)?;
        } else if !is_float {
            // A float after histograms: a chunk of its own encoding.
            self.cut_float(series_ref, t, policy, store)?;
        } else {
            if num == 0 {
                self.next_at = range_end(t, policy.chunk_range);
            }
            if num == policy.samples_per_chunk / 4 {
                let min_time = self.open.as_ref().map_or(i64::MAX, OpenChunk::min_time);
                self.next_at = compute_chunk_end_time(min_time, max_time, self.next_at, 4.0);
            }
            if t >= self.next_at || num >= policy.samples_per_chunk * 2 {
                self.cut_float(series_ref, t, policy, store)?;
            }
        }
        let c = self.open.as_mut().expect("an open chunk exists");
        // The open chunk never reaches the 65535-sample limit: it is cut
        // at twice the target, and the target is validated far below it.
        match &mut c.app {
            ChunkAppender::Xor(a) => a.append(t, v),
            ChunkAppender::Xor2(a) => a.append(0, t, v),
            _ => unreachable!("a float chunk was opened above"),
        }
        .expect("chunk below its sample limit accepts samples");
        // Only a float after a histogram (no open float chunk before)
        // can leave a histogram noted as the newest sample.
        if created || !is_float {
            if let Some(h) = self.hist_mut() {
                h.last = None;
            }
        }
        Ok(true)
    }

    /// Ends the open chunk and opens a float chunk starting at `t`, reusing
    /// the old chunk's allocation where it can.
    fn cut_float(
        &mut self,
        series_ref: SeriesRef,
        t: i64,
        policy: &CutPolicy,
        store: &HeadChunkStore,
    ) -> Result<()> {
        let app = match (self.finish_open(series_ref, store)?, policy.float_encoding) {
            (Some(ChunkAppender::Xor(old)), FloatChunkEncoding::Xor) if old.num_samples() == 0 => {
                ChunkAppender::Xor(old)
            }
            (Some(ChunkAppender::Xor(old)), FloatChunkEncoding::Xor) => {
                recycle(old.into_chunk().into_inner())
            }
            (Some(ChunkAppender::Xor2(old)), FloatChunkEncoding::Xor2)
                if old.num_samples() == 0 =>
            {
                ChunkAppender::Xor2(old)
            }
            (_, encoding) => ChunkAppender::new_float(encoding),
        };
        self.start_chunk(app, t, policy);
        Ok(())
    }

    /// Ends the open chunk: one with samples is written to `store` and
    /// recorded as m-mapped. Returns its appender (its bytes unchanged),
    /// `None` if there was no open chunk. On a write error nothing changes.
    pub(super) fn finish_open(
        &mut self,
        series_ref: SeriesRef,
        store: &HeadChunkStore,
    ) -> Result<Option<ChunkAppender>> {
        let Some(old) = self.open.take() else {
            return Ok(None);
        };
        let max_time = old.max_time();
        if max_time == i64::MIN {
            return Ok(Some(old.app));
        }
        // Decoded from the chunk's first sample: once per cut.
        let min_time = old.min_time();
        let chunk_ref = match store.write_chunk(
            series_ref,
            min_time,
            max_time,
            old.app.encoding() as u8,
            old.app.bytes(),
        ) {
            Ok(r) => r,
            Err(e) => {
                self.open = Some(old);
                return Err(e);
            }
        };
        self.mmapped.push(MmappedChunk {
            min_time,
            max_time,
            chunk_ref,
        });
        Ok(Some(old.app))
    }

    /// Opens `app` (an empty chunk, or one holding just the sample at `t`)
    /// as the chunk starting at `t`.
    pub(super) fn start_chunk(&mut self, app: ChunkAppender, t: i64, policy: &CutPolicy) {
        if app.kind() != SampleKind::Float {
            self.histograms().open_min_time = t;
        }
        self.open = Some(OpenChunk { app });
        self.next_at = range_end(t, policy.chunk_range);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn policy() -> CutPolicy {
        CutPolicy {
            chunk_range: 2 * HOUR,
            samples_per_chunk: 120,
            float_encoding: FloatChunkEncoding::Xor,
        }
    }

    /// Appends `ts` with value 1.0 and returns the (min, max, samples) of
    /// every chunk, on disk and open.
    fn cut_points(ts: impl IntoIterator<Item = i64>) -> Vec<(i64, i64, usize)> {
        let dir = tempfile::tempdir().unwrap();
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        let mut st = SeriesState::default();
        for t in ts {
            assert!(st.append(1, t, 1.0, &policy(), &store).unwrap());
        }
        let mut out: Vec<(i64, i64, usize)> = st
            .mmapped
            .iter()
            .map(|c| {
                let (_, b) = store.chunk(c.chunk_ref).unwrap();
                let n = u16::from_be_bytes([b.as_slice()[0], b.as_slice()[1]]) as usize;
                (c.min_time, c.max_time, n)
            })
            .collect();
        if let Some(c) = &st.open {
            out.push((c.min_time(), c.max_time(), c.app.num_samples()));
        }
        out
    }

    #[test]
    fn regular_scrapes_make_120_sample_chunks_aligned_to_the_range() {
        // 15 s scrapes over 4 h starting at 0: 480 samples per 2 h range.
        let chunks = cut_points((0..960).map(|i| i * 15_000));
        assert_eq!(chunks.len(), 8);
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.2, 120, "{c:?}");
            assert_eq!(c.0, i as i64 * 30 * 60_000);
        }
    }

    #[test]
    fn chunks_never_cross_a_range_boundary() {
        // Start 10 minutes before a boundary at 60 s intervals.
        let start = 2 * HOUR - 10 * 60_000;
        let chunks = cut_points((0..200).map(|i| start + i * 60_000));
        assert_eq!(chunks[0], (start, 2 * HOUR - 60_000, 10));
        assert_eq!(chunks[1].0, 2 * HOUR);
    }

    #[test]
    fn a_rate_increase_caps_chunks_at_twice_the_target() {
        // The estimate is made after 30 samples at 60 s; then samples come
        // every second, so the chunk would otherwise grow to thousands.
        let mut ts: Vec<i64> = (0..31).map(|i| i * 60_000).collect();
        let base = ts[30];
        ts.extend((1..1000).map(|i| base + i * 1000));
        let chunks = cut_points(ts);
        assert_eq!(chunks[0].2, 240);
        assert!(chunks.iter().all(|c| c.2 <= 240));
    }

    #[test]
    fn estimate_matches_prometheus_arithmetic() {
        // n = 7200000 / (435001 * 4) = 4.13...; floor 4 → start + 1800000.
        assert_eq!(compute_chunk_end_time(0, 435_000, 2 * HOUR, 4.0), 1_800_000);
        assert_eq!(compute_chunk_end_time(0, 3 * HOUR, 2 * HOUR, 4.0), 2 * HOUR);
        assert_eq!(range_end(-1, 10), 10); // Go truncates toward zero
        assert_eq!(range_end(-11, 10), 0);
    }

    #[test]
    fn big_values_cut_at_1005_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        let mut st = SeriesState::default();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..200 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x >> 2);
            assert!(st.append(1, i * 1000, v, &policy(), &store).unwrap());
        }
        assert!(!st.mmapped.is_empty());
        for c in &st.mmapped {
            let (_, b) = store.chunk(c.chunk_ref).unwrap();
            assert!(b.as_slice().len() <= MAX_XOR_CHUNK_BYTES_BEFORE_APPEND + 20);
        }
    }

    #[test]
    fn refuses_samples_not_newer_than_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        let mut st = SeriesState::default();
        assert!(st.append(1, 10, 1.0, &policy(), &store).unwrap());
        assert!(!st.append(1, 10, 1.0, &policy(), &store).unwrap());
        assert!(!st.append(1, 5, 1.0, &policy(), &store).unwrap());
        assert!(st.append(1, 11, 1.0, &policy(), &store).unwrap());
        assert_eq!(st.max_time(), 11);
    }
}
