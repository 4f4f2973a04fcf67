//! Appending native histograms to a series' in-order chunks, as
//! Prometheus's `appendHistogram` / `appendFloatHistogram` and
//! `histogramsAppendPreprocessor` do it, so chunks come out as
//! Prometheus's:
//!
//! * a histogram after floats (or after histograms of the other kind)
//!   starts a chunk of its own encoding;
//! * a chunk is cut once it holds about 1 KiB: its end time is estimated
//!   when it reaches a quarter of that, and it ends at that time or at
//!   2 KiB, but not before it holds 10 histograms unless its chunk range
//!   ends first; a chunk cut this way starts with a counter-reset header
//!   derived from the chunk before;
//! * the chunk appender itself re-encodes the chunk when new buckets
//!   appear, and hands back a new chunk on a counter reset or a layout it
//!   cannot hold (schema, zero threshold, counter/gauge switch).

use aion_chunkenc::{
    AppendOutcome, Encoding, FloatHistogramAppender, HistogramAppendError, HistogramAppender,
};
use aion_index::SeriesRef;
use aion_model::histogram::{FloatHistogram, Histogram};

use super::chunk_cutting::{compute_chunk_end_time, range_end, CutPolicy};
use super::open_chunk::{ChunkAppender, LastHistogram};
use super::series::SeriesState;
use crate::chunks::HeadChunkStore;
use crate::{Error, Result};

/// Prometheus's `TargetBytesPerHistogramChunk`.
pub(crate) const TARGET_BYTES_PER_HISTOGRAM_CHUNK: usize = 1024;
/// Prometheus's `MinSamplesPerHistogramChunk`.
pub(crate) const MIN_SAMPLES_PER_HISTOGRAM_CHUNK: usize = 10;

/// The two histogram chunk appenders, for the shared append logic.
pub(crate) trait HistogramChunk: Sized {
    /// The histogram type appended.
    type Value;
    const ENCODING: Encoding;
    fn empty() -> Self;
    fn append(
        &mut self,
        t: i64,
        h: &Self::Value,
    ) -> std::result::Result<AppendOutcome<Self>, HistogramAppendError>;
    fn start_after(
        &self,
        t: i64,
        h: &Self::Value,
    ) -> std::result::Result<Self, HistogramAppendError>;
    fn samples(&self) -> usize;
    fn wrap(self) -> ChunkAppender;
    fn unwrap_mut(app: &mut ChunkAppender) -> Option<&mut Self>;
    fn remember(slot: &mut Option<LastHistogram>, h: &Self::Value);
}

impl HistogramChunk for HistogramAppender {
    type Value = Histogram;
    const ENCODING: Encoding = Encoding::Histogram;
    fn empty() -> Self {
        HistogramAppender::new()
    }
    fn append(
        &mut self,
        t: i64,
        h: &Histogram,
    ) -> std::result::Result<AppendOutcome<Self>, HistogramAppendError> {
        HistogramAppender::append(self, t, h)
    }
    fn start_after(
        &self,
        t: i64,
        h: &Histogram,
    ) -> std::result::Result<Self, HistogramAppendError> {
        HistogramAppender::start_after(self, t, h)
    }
    fn samples(&self) -> usize {
        self.num_samples()
    }
    fn wrap(self) -> ChunkAppender {
        ChunkAppender::Histogram(Box::new(self))
    }
    fn unwrap_mut(app: &mut ChunkAppender) -> Option<&mut Self> {
        match app {
            ChunkAppender::Histogram(a) => Some(a),
            _ => None,
        }
    }
    fn remember(slot: &mut Option<LastHistogram>, h: &Histogram) {
        LastHistogram::store_int(slot, h);
    }
}

impl HistogramChunk for FloatHistogramAppender {
    type Value = FloatHistogram;
    const ENCODING: Encoding = Encoding::FloatHistogram;
    fn empty() -> Self {
        FloatHistogramAppender::new()
    }
    fn append(
        &mut self,
        t: i64,
        h: &FloatHistogram,
    ) -> std::result::Result<AppendOutcome<Self>, HistogramAppendError> {
        FloatHistogramAppender::append(self, t, h)
    }
    fn start_after(
        &self,
        t: i64,
        h: &FloatHistogram,
    ) -> std::result::Result<Self, HistogramAppendError> {
        FloatHistogramAppender::start_after(self, t, h)
    }
    fn samples(&self) -> usize {
        self.num_samples()
    }
    fn wrap(self) -> ChunkAppender {
        ChunkAppender::FloatHistogram(Box::new(self))
    }
    fn unwrap_mut(app: &mut ChunkAppender) -> Option<&mut Self> {
        match app {
            ChunkAppender::FloatHistogram(a) => Some(a),
            _ => None,
        }
    }
    fn remember(slot: &mut Option<LastHistogram>, h: &FloatHistogram) {
        LastHistogram::store_float(slot, h);
    }
}

/// How the chunk for the next histogram is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Append to the open chunk.
    No,
    /// A new chunk with no predecessor to derive its header from (none
    /// open, or one of another encoding).
    Fresh,
    /// A new chunk continuing the open one (cut for size or time).
    After,
}

/// A chunk appender's refusal of a histogram that passed validation: a
/// malformed histogram from the WAL, or a bug. Never a panic.
fn refused(e: HistogramAppendError) -> Error {
    Error::InvalidSample(format!("histogram not appendable to its chunk: {e}"))
}

impl SeriesState {
    /// Appends the integer histogram `h` at `t` if it is newer than every
    /// sample of the series; `Ok(false)` (nothing changed) otherwise.
    pub fn append_histogram(
        &mut self,
        series_ref: SeriesRef,
        t: i64,
        h: &Histogram,
        policy: &CutPolicy,
        store: &HeadChunkStore,
    ) -> Result<bool> {
        self.append_histogram_of::<HistogramAppender>(series_ref, t, h, policy, store)
    }

    /// As [`SeriesState::append_histogram`], for a float histogram.
    pub fn append_float_histogram(
        &mut self,
        series_ref: SeriesRef,
        t: i64,
        h: &FloatHistogram,
        policy: &CutPolicy,
        store: &HeadChunkStore,
    ) -> Result<bool> {
        self.append_histogram_of::<FloatHistogramAppender>(series_ref, t, h, policy, store)
    }

    fn append_histogram_of<A: HistogramChunk>(
        &mut self,
        series_ref: SeriesRef,
        t: i64,
        h: &A::Value,
        policy: &CutPolicy,
        store: &HeadChunkStore,
    ) -> Result<bool> {
        let Some(cut) = self.histogram_cut(t, A::ENCODING, policy) else {
            return Ok(false);
        };
        match cut {
            Cut::No => {
                let open = self.open.as_mut().expect("an open chunk exists");
                let app = A::unwrap_mut(&mut open.app).expect("the open chunk has the encoding");
                let first = app.samples() == 0;
                match app.append(t, h) {
                    Ok(AppendOutcome::Appended | AppendOutcome::Recoded) => {
                        if first {
                            self.histograms().open_min_time = t;
                        }
                    }
                    Ok(AppendOutcome::NewChunk(next)) => {
                        self.replace_open(series_ref, next, t, policy, store)?
                    }
                    Err(HistogramAppendError::Full) => {
                        let next = app.start_after(t, h).map_err(refused)?;
                        self.replace_open(series_ref, next, t, policy, store)?;
                    }
                    Err(e) => return Err(refused(e)),
                }
            }
            Cut::Fresh => {
                let mut next = A::empty();
                match next.append(t, h).map_err(refused)? {
                    AppendOutcome::Appended | AppendOutcome::Recoded => {}
                    AppendOutcome::NewChunk(_) => {
                        unreachable!("an empty chunk takes any histogram")
                    }
                }
                self.replace_open(series_ref, next, t, policy, store)?;
            }
            Cut::After => {
                let open = self.open.as_mut().expect("an open chunk exists");
                let app = A::unwrap_mut(&mut open.app).expect("the open chunk has the encoding");
                let next = app.start_after(t, h).map_err(refused)?;
                self.replace_open(series_ref, next, t, policy, store)?;
            }
        }
        A::remember(&mut self.histograms().last, h);
        Ok(true)
    }

    /// Ends the open chunk and makes `next` (holding just the histogram at
    /// `t`) the open one.
    fn replace_open<A: HistogramChunk>(
        &mut self,
        series_ref: SeriesRef,
        next: A,
        t: i64,
        policy: &CutPolicy,
        store: &HeadChunkStore,
    ) -> Result<()> {
        self.finish_open(series_ref, store)?;
        self.start_chunk(next.wrap(), t, policy);
        Ok(())
    }

    /// Prometheus's `histogramsAppendPreprocessor`: `None` if `t` is not
    /// newer than the series' samples, else how to find the chunk.
    fn histogram_cut(&mut self, t: i64, encoding: Encoding, policy: &CutPolicy) -> Option<Cut> {
        let Some(c) = &self.open else {
            if self.mmapped.last().is_some_and(|c| c.max_time >= t) {
                return None;
            }
            self.histograms().end_computed = false;
            return Some(Cut::Fresh);
        };
        if c.max_time() >= t {
            return None;
        }
        if c.app.encoding() != encoding {
            self.histograms().end_computed = false;
            return Some(Cut::Fresh);
        }
        let (num, bytes, min_time, max_time) = (
            c.app.num_samples(),
            c.app.bytes().len(),
            self.hist().map_or(i64::MAX, |h| h.open_min_time),
            c.max_time(),
        );
        if num == 0 {
            // An empty chunk: its samples start now.
            self.next_at = range_end(t, policy.chunk_range);
            return Some(Cut::No);
        }
        // Below, the minimum sample count is enforced unless the chunk
        // range ends first (or the end was set to cut right away).
        let end_computed = self.histograms().end_computed;
        let next_range_start = if end_computed {
            range_end(min_time, policy.chunk_range)
        } else {
            self.next_at
        };
        if !end_computed && bytes >= TARGET_BYTES_PER_HISTOGRAM_CHUNK / 4 {
            let ratio_to_full = TARGET_BYTES_PER_HISTOGRAM_CHUNK as f64 / bytes as f64;
            self.next_at = compute_chunk_end_time(min_time, max_time, self.next_at, ratio_to_full);
            self.histograms().end_computed = true;
        }
        if (t >= self.next_at || bytes >= TARGET_BYTES_PER_HISTOGRAM_CHUNK * 2)
            && (num >= MIN_SAMPLES_PER_HISTOGRAM_CHUNK || t >= next_range_start)
        {
            self.histograms().end_computed = false;
            return Some(Cut::After);
        }
        Some(Cut::No)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::histogram_test_support::counter_series;
    use aion_chunkenc::{Chunk, SampleIterator, ValueType};
    use aion_model::histogram::{CounterResetHint, Span};

    const HOUR: i64 = 3_600_000;

    fn policy() -> CutPolicy {
        CutPolicy {
            chunk_range: 2 * HOUR,
            samples_per_chunk: 120,
            float_encoding: crate::FloatChunkEncoding::Xor,
        }
    }

    /// A counter histogram with `buckets` buckets after `i` scrapes.
    fn counter(i: u64, buckets: u32) -> Histogram {
        let deltas: Vec<i64> = (0..buckets)
            .map(|b| if b == 0 { i as i64 } else { 0 })
            .collect();
        Histogram {
            count: i * u64::from(buckets),
            sum: i as f64 * 1.5,
            schema: 3,
            zero_threshold: 1e-128,
            positive_spans: vec![Span {
                offset: 0,
                length: buckets,
            }],
            positive_buckets: deltas,
            ..Histogram::default()
        }
    }

    /// Every chunk as (encoding, min, max, samples, header).
    fn chunks(
        st: &SeriesState,
        store: &HeadChunkStore,
    ) -> Vec<(Encoding, i64, i64, usize, CounterResetHint)> {
        let mut out = Vec::new();
        let mut describe = |enc: u8, bytes: &[u8], min, max| {
            let c = Chunk::from_raw(enc, bytes).unwrap();
            let header = match &c {
                Chunk::Histogram(h) => h.counter_reset_header(),
                Chunk::FloatHistogram(h) => h.counter_reset_header(),
                _ => CounterResetHint::Unknown,
            };
            out.push((c.encoding(), min, max, c.num_samples(), header));
        };
        for m in &st.mmapped {
            let (enc, b) = store.chunk(m.chunk_ref).unwrap();
            describe(enc, b.as_slice(), m.min_time, m.max_time);
        }
        if let Some(o) = &st.open {
            describe(
                o.app.encoding() as u8,
                o.app.bytes(),
                o.min_time(),
                o.max_time(),
            );
        }
        out
    }

    #[test]
    fn histogram_chunks_hold_about_a_kib_and_at_least_ten_samples() {
        let dir = tempfile::tempdir().unwrap();
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        let mut st = SeriesState::default();
        // Buckets grow by pseudo-random amounts: chunks fill by bytes.
        let series = counter_series(400, 20, 0x9E37_79B9_7F4A_7C15, 0);
        for (i, h) in series.iter().enumerate() {
            assert!(st
                .append_histogram(1, i as i64 * 15_000, h, &policy(), &store)
                .unwrap());
        }
        let cs = chunks(&st, &store);
        // Cut by size well before the chunk range (2 h = 480 samples) ends.
        assert!(cs.len() > 4, "{cs:?}");
        for (n, c) in cs.iter().enumerate() {
            assert_eq!(c.0, Encoding::Histogram);
            // Full chunks hold at least 10, unless the range ended.
            let range_ended = cs.get(n + 1).is_none_or(|next| next.1 % (2 * HOUR) == 0);
            assert!(
                range_ended || c.3 >= MIN_SAMPLES_PER_HISTOGRAM_CHUNK,
                "{c:?}"
            );
            if n > 0 {
                // A chunk cut for size continues its predecessor.
                assert_eq!(c.4, CounterResetHint::NotCounterReset, "{c:?}");
            }
        }
        for m in &st.mmapped {
            let (_, b) = store.chunk(m.chunk_ref).unwrap();
            assert!(
                b.as_slice().len() < 2 * TARGET_BYTES_PER_HISTOGRAM_CHUNK,
                "{}",
                b.as_slice().len()
            );
        }
        // Every histogram reads back, in order.
        let mut seen = 0;
        for m in &st.mmapped {
            let (enc, b) = store.chunk(m.chunk_ref).unwrap();
            let c = Chunk::from_raw(enc, b.as_slice()).unwrap();
            let mut it = c.iter();
            let mut got = Histogram::default();
            while it.next() == ValueType::Histogram {
                let t = it.at_histogram(&mut got);
                assert_eq!(t, seen as i64 * 15_000);
                assert!(got.equals(&series[seen as usize]), "{seen}");
                seen += 1;
            }
        }
        assert_eq!(
            seen as usize + st.open.as_ref().unwrap().app.num_samples(),
            400
        );
    }

    #[test]
    fn floats_and_histograms_switch_chunks_and_resets_set_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        let mut st = SeriesState::default();
        let p = policy();
        assert!(st.append(1, 0, 1.0, &p, &store).unwrap());
        assert!(st
            .append_histogram(1, 1_000, &counter(5, 4), &p, &store)
            .unwrap());
        assert!(st
            .append_histogram(1, 2_000, &counter(6, 4), &p, &store)
            .unwrap());
        // A counter reset: a new chunk with the reset header.
        assert!(st
            .append_histogram(1, 3_000, &counter(1, 4), &p, &store)
            .unwrap());
        assert!(st
            .append_float_histogram(1, 4_000, &counter(2, 4).to_float(), &p, &store)
            .unwrap());
        assert!(st.append(1, 5_000, 2.0, &p, &store).unwrap());
        // Not newer: refused without change.
        assert!(!st
            .append_histogram(1, 5_000, &counter(9, 4), &p, &store)
            .unwrap());
        let got: Vec<_> = chunks(&st, &store)
            .into_iter()
            .map(|c| (c.0, c.1, c.3, c.4))
            .collect();
        use CounterResetHint::*;
        assert_eq!(
            got,
            [
                (Encoding::Xor, 0, 1, Unknown),
                (Encoding::Histogram, 1_000, 2, Unknown),
                (Encoding::Histogram, 3_000, 1, CounterReset),
                (Encoding::FloatHistogram, 4_000, 1, Unknown),
                (Encoding::Xor, 5_000, 1, Unknown),
            ]
        );
        assert!(st.hist().is_none_or(|h| h.last.is_none()));
    }

    #[test]
    fn new_buckets_recode_the_open_chunk_and_gauges_get_their_header() {
        let dir = tempfile::tempdir().unwrap();
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        let mut st = SeriesState::default();
        let p = policy();
        assert!(st
            .append_histogram(1, 0, &counter(1, 2), &p, &store)
            .unwrap());
        assert!(st
            .append_histogram(1, 1, &counter(2, 5), &p, &store)
            .unwrap());
        assert_eq!(chunks(&st, &store).len(), 1);
        let mut g = counter(3, 5).to_float();
        g.counter_reset_hint = CounterResetHint::Gauge;
        assert!(st.append_float_histogram(1, 2, &g, &p, &store).unwrap());
        g.count = 1.0;
        assert!(st.append_float_histogram(1, 3, &g, &p, &store).unwrap());
        let cs = chunks(&st, &store);
        assert_eq!(cs.len(), 2);
        assert_eq!((cs[1].3, cs[1].4), (2, CounterResetHint::Gauge));
        assert!(matches!(
            st.hist().and_then(|h| h.last.as_ref()),
            Some(LastHistogram::Float(h)) if h.count == 1.0
        ));
    }
}
