//! Cutting one series' sorted samples into chunks exactly as Prometheus's
//! head would, so backfilled blocks match `promtool`'s byte for byte.

use std::borrow::Cow;

use aion_chunkenc::{Encoding, XorAppender};

use crate::chunks::SeriesChunk;
use crate::head::{compute_chunk_end_time, range_end, MAX_XOR_CHUNK_BYTES_BEFORE_APPEND};

/// How a [`SeriesChunker`] cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkPolicy {
    /// The head chunk range (ms) chunks never cross.
    pub chunk_range: i64,
    /// Target samples per chunk.
    pub samples_per_chunk: usize,
    /// Cut XOR chunks grown past 1005 bytes, as Prometheus ≥ 2.47 does.
    pub cut_large_chunks: bool,
}

/// Turns in-order samples of one series into chunks.
pub(crate) struct SeriesChunker {
    policy: ChunkPolicy,
    app: Option<XorAppender>,
    min_time: i64,
    max_time: i64,
    next_at: i64,
    pub chunks: Vec<SeriesChunk<Cow<'static, [u8]>>>,
}

impl SeriesChunker {
    pub fn new(policy: ChunkPolicy) -> Self {
        SeriesChunker {
            policy,
            app: None,
            min_time: 0,
            max_time: 0,
            next_at: 0,
            chunks: Vec::new(),
        }
    }

    /// Starts a new series, dropping the chunks of the previous one.
    pub fn reset(&mut self) {
        self.app = None;
        self.chunks.clear();
    }

    /// Appends a sample newer than every sample appended since the reset.
    pub fn append(&mut self, t: i64, v: f64) {
        let cut = match &self.app {
            None => true,
            Some(app) => {
                let n = app.num_samples();
                if self.policy.cut_large_chunks
                    && app.bytes().len() > MAX_XOR_CHUNK_BYTES_BEFORE_APPEND
                {
                    true
                } else {
                    if n == self.policy.samples_per_chunk / 4 {
                        self.next_at =
                            compute_chunk_end_time(self.min_time, self.max_time, self.next_at, 4.0);
                    }
                    t >= self.next_at || n >= self.policy.samples_per_chunk * 2
                }
            }
        };
        if cut {
            self.flush();
            self.app = Some(XorAppender::new());
            self.min_time = t;
            self.next_at = range_end(t, self.policy.chunk_range);
        }
        let app = self.app.as_mut().expect("a chunk is open");
        // Cut at twice the target, far below the 65535-sample limit.
        app.append(t, v).expect("chunk below its sample limit");
        self.max_time = t;
    }

    /// Ends the open chunk; call after the last sample of a series.
    pub fn flush(&mut self) {
        if let Some(app) = self.app.take() {
            self.chunks.push(SeriesChunk {
                min_time: self.min_time,
                max_time: self.max_time,
                encoding: Encoding::Xor,
                data: Cow::Owned(app.into_chunk().into_inner()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn cuts(policy: ChunkPolicy, ts: impl IntoIterator<Item = i64>) -> Vec<(i64, i64, u64)> {
        let mut c = SeriesChunker::new(policy);
        for t in ts {
            c.append(t, 1.0);
        }
        c.flush();
        c.chunks
            .iter()
            .map(|c| (c.min_time, c.max_time, c.num_samples()))
            .collect()
    }

    #[test]
    fn cuts_like_the_head() {
        let p = ChunkPolicy {
            chunk_range: 4 * HOUR,
            samples_per_chunk: 120,
            cut_large_chunks: true,
        };
        // 15 s samples over 5 h starting on a range boundary: the
        // estimate after 30 samples splits each 4 h range into 120-sample
        // chunks.
        let got = cuts(p, (0..1200).map(|i| i * 15_000));
        assert_eq!(got[0], (0, 119 * 15_000, 120));
        assert!(got.iter().all(|c| c.2 <= 120), "{got:?}");
        // No chunk crosses the 4 h boundary.
        assert!(got.iter().all(|c| c.0 / (4 * HOUR) == c.1 / (4 * HOUR)));
        assert_eq!(got.iter().map(|c| c.2).sum::<u64>(), 1200);
    }

    #[test]
    fn large_chunks_are_cut_by_size() {
        let p = ChunkPolicy {
            chunk_range: 4 * HOUR,
            samples_per_chunk: 120,
            cut_large_chunks: true,
        };
        let mut c = SeriesChunker::new(p);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for i in 0..240 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.append(i * 1000, f64::from_bits(x >> 2));
        }
        c.flush();
        assert!(c.chunks.len() > 2);
        assert!(c.chunks.iter().all(|c| c.data.len() <= 1024));
    }
}
