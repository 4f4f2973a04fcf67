//! Cutting one series' sorted samples into chunks exactly as Prometheus's
//! head would, so backfilled blocks match `promtool`'s byte for byte.
//!
//! Floats follow the head's float policy (chunk range, 120-sample target,
//! 1005 bytes); native histograms Prometheus 3's histogram policy
//! (`histogramsAppendPreprocessor`: about 1 KiB and at least 10 samples,
//! end time estimated once a quarter full), with the cuts the histogram
//! appenders ask for themselves (counter reset, incompatible layout). A
//! change of sample kind always starts a chunk.

use std::borrow::Cow;

use aion_chunkenc::{AppendOutcome, ChunkAppender, Encoding, SampleAppendError, XorAppender};
use aion_model::histogram::{FloatHistogram, Histogram};

use crate::chunks::SeriesChunk;
use crate::head::{compute_chunk_end_time, range_end, MAX_XOR_CHUNK_BYTES_BEFORE_APPEND};

/// Prometheus's `TargetBytesPerHistogramChunk`.
const TARGET_HISTOGRAM_CHUNK_BYTES: usize = 1024;
/// Prometheus's `MinSamplesPerHistogramChunk`.
const MIN_HISTOGRAM_CHUNK_SAMPLES: usize = 10;

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

/// A histogram sample of either kind.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HistogramSample<'a> {
    Int(&'a Histogram),
    Float(&'a FloatHistogram),
}

impl HistogramSample<'_> {
    fn encoding(self) -> Encoding {
        match self {
            HistogramSample::Int(_) => Encoding::Histogram,
            HistogramSample::Float(_) => Encoding::FloatHistogram,
        }
    }
}

/// Turns in-order samples of one series into chunks.
pub(crate) struct SeriesChunker {
    policy: ChunkPolicy,
    app: Option<ChunkAppender>,
    min_time: i64,
    max_time: i64,
    next_at: i64,
    /// Whether the open histogram chunk's end was estimated (Prometheus's
    /// `histogramChunkHasComputedEndTime`).
    histogram_end_estimated: bool,
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
            histogram_end_estimated: false,
            chunks: Vec::new(),
        }
    }

    /// Starts a new series, dropping the chunks of the previous one.
    pub fn reset(&mut self) {
        self.app = None;
        self.chunks.clear();
    }

    /// Opens `app` as the chunk whose first sample is at `t`.
    fn open(&mut self, app: ChunkAppender, t: i64) {
        self.flush();
        self.app = Some(app);
        self.min_time = t;
        self.next_at = range_end(t, self.policy.chunk_range);
    }

    /// Appends a float sample newer than every sample appended since the
    /// reset.
    pub fn append(&mut self, t: i64, v: f64) {
        let cut = match &self.app {
            Some(ChunkAppender::Xor(app)) => {
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
            // No chunk, or one of histograms.
            _ => true,
        };
        if cut {
            self.open(ChunkAppender::Xor(XorAppender::new()), t);
        }
        let app = self.app.as_mut().expect("a chunk is open");
        // Cut at twice the target, far below the 65535-sample limit.
        app.append_float(0, t, v)
            .expect("an XOR chunk below its sample limit");
        self.max_time = t;
    }

    /// Appends a native histogram newer than every sample appended since
    /// the reset. Fails only for a histogram the appenders refuse (bucket
    /// counts not matching its spans).
    pub fn append_histogram(
        &mut self,
        t: i64,
        h: HistogramSample<'_>,
    ) -> Result<(), SampleAppendError> {
        let encoding = h.encoding();
        let fresh = match &self.app {
            Some(app) if app.encoding() == encoding => {
                let n = app.num_samples();
                let bytes = app.bytes().len();
                let range = self.policy.chunk_range;
                let next_range_start = if self.histogram_end_estimated {
                    range_end(self.min_time, range)
                } else {
                    self.next_at
                };
                if !self.histogram_end_estimated && bytes >= TARGET_HISTOGRAM_CHUNK_BYTES / 4 {
                    let ratio = TARGET_HISTOGRAM_CHUNK_BYTES as f64 / bytes as f64;
                    self.next_at =
                        compute_chunk_end_time(self.min_time, self.max_time, self.next_at, ratio);
                    self.histogram_end_estimated = true;
                }
                let due = t >= self.next_at || bytes >= 2 * TARGET_HISTOGRAM_CHUNK_BYTES;
                if due && (n >= MIN_HISTOGRAM_CHUNK_SAMPLES || t >= next_range_start) {
                    // A cut for size or time: the new chunk's header says
                    // how `h` follows this chunk's last sample.
                    Some(start_after(app, t, h)?)
                } else {
                    None
                }
            }
            // No chunk, or one of another kind: nothing to compare with.
            _ => {
                let mut app = ChunkAppender::new(encoding).expect("histograms are written");
                append_to(&mut app, t, h)?;
                Some(app)
            }
        };
        if let Some(app) = fresh {
            self.open(app, t);
            self.histogram_end_estimated = false;
            self.max_time = t;
            return Ok(());
        }
        let app = self.app.as_mut().expect("a chunk is open");
        if let AppendOutcome::NewChunk(next) = append_to(app, t, h)? {
            // A reset or an incompatible layout. As in Prometheus, the
            // end-time estimate is not redone for this chunk.
            self.open(next, t);
        }
        self.max_time = t;
        Ok(())
    }

    /// Ends the open chunk; call after the last sample of a series.
    pub fn flush(&mut self) {
        if let Some(app) = self.app.take() {
            self.chunks.push(SeriesChunk {
                min_time: self.min_time,
                max_time: self.max_time,
                encoding: app.encoding(),
                data: Cow::Owned(app.into_bytes()),
            });
        }
    }
}

fn append_to(
    app: &mut ChunkAppender,
    t: i64,
    h: HistogramSample<'_>,
) -> Result<AppendOutcome<ChunkAppender>, SampleAppendError> {
    match h {
        HistogramSample::Int(h) => app.append_histogram(t, h),
        HistogramSample::Float(h) => app.append_float_histogram(t, h),
    }
}

/// A chunk following `app` with `h` at `t` as its first sample.
fn start_after(
    app: &ChunkAppender,
    t: i64,
    h: HistogramSample<'_>,
) -> Result<ChunkAppender, SampleAppendError> {
    Ok(match (app, h) {
        (ChunkAppender::Histogram(a), HistogramSample::Int(h)) => {
            ChunkAppender::Histogram(a.start_after(t, h)?)
        }
        (ChunkAppender::FloatHistogram(a), HistogramSample::Float(h)) => {
            ChunkAppender::FloatHistogram(a.start_after(t, h)?)
        }
        (app, _) => {
            return Err(SampleAppendError::WrongKind {
                encoding: app.encoding(),
                kind: "histogram",
            })
        }
    })
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

    /// A counter histogram with `n` buckets of noisy counts (so samples
    /// take many bits).
    fn noisy(k: u64, n: u32) -> Histogram {
        use aion_model::histogram::Span;
        let mut x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut counts = Vec::new();
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            counts.push(k as i64 * 100 + i64::from(i) + (x % 97) as i64);
        }
        let mut prev = 0;
        let buckets = counts
            .iter()
            .map(|&c| {
                let d = c - prev;
                prev = c;
                d
            })
            .collect();
        Histogram {
            schema: 1,
            count: counts.iter().sum::<i64>() as u64,
            sum: k as f64,
            positive_spans: vec![Span {
                offset: 0,
                length: n,
            }],
            positive_buckets: buckets,
            ..Histogram::default()
        }
    }

    #[test]
    fn histograms_are_cut_by_size_reset_and_kind() {
        use aion_model::histogram::CounterResetHint;
        let p = ChunkPolicy {
            chunk_range: 4 * HOUR,
            samples_per_chunk: 120,
            cut_large_chunks: true,
        };
        let mut c = SeriesChunker::new(p);
        c.append(0, 1.0);
        let mut k = 1;
        // Four hours of 15 s samples, a reset half-way.
        while k < 960 {
            let level = if k < 480 { k } else { k - 470 };
            let h = noisy(level, 8);
            c.append_histogram(k as i64 * 15_000, HistogramSample::Int(&h))
                .unwrap();
            k += 1;
        }
        let fh = noisy(1, 8).to_float();
        c.append_histogram(960 * 15_000, HistogramSample::Float(&fh))
            .unwrap();
        c.flush();
        let kinds: Vec<Encoding> = c.chunks.iter().map(|c| c.encoding).collect();
        assert_eq!(kinds[0], Encoding::Xor);
        assert_eq!(*kinds.last().unwrap(), Encoding::FloatHistogram);
        let hist = &c.chunks[1..c.chunks.len() - 1];
        assert!(hist.iter().all(|c| c.encoding == Encoding::Histogram));
        let header = |c: &SeriesChunk<Cow<'static, [u8]>>| {
            aion_chunkenc::HistogramChunk::from_bytes(&c.data[..])
                .unwrap()
                .counter_reset_header()
        };
        // The first after floats knows nothing, the one the reset starts
        // says so, size cuts follow without a reset.
        assert_eq!(header(&hist[0]), CounterResetHint::Unknown);
        let reset = hist
            .iter()
            .position(|c| c.min_time == 480 * 15_000)
            .unwrap();
        assert_eq!(header(&hist[reset]), CounterResetHint::CounterReset);
        for (i, c) in hist.iter().enumerate() {
            if i != 0 && i != reset {
                assert_eq!(header(c), CounterResetHint::NotCounterReset, "chunk {i}");
            }
            let last = i + 1 == hist.len() || i + 1 == reset;
            if !last {
                // Cut at about 1 KiB (the estimate aims at it; past
                // 2 KiB before an append at the latest), never below 10
                // samples.
                assert!(c.num_samples() >= 10);
                assert!((600..2048 + 64).contains(&c.data.len()), "{}", c.data.len());
            }
        }
        let total: u64 = c.chunks.iter().map(|c| c.num_samples()).sum();
        assert_eq!(total, 961);
        // A chunk range boundary is never crossed.
        assert!(c
            .chunks
            .iter()
            .all(|c| c.min_time / (4 * HOUR) == c.max_time / (4 * HOUR)));
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
