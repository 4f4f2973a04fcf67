//! Native histogram downsampling with Thanos's rules (`pkg/compact/downsample`,
//! Thanos ≥ 0.32): per window a count (XOR floats), a sum and a counter
//! (float histogram chunks); no min or max. The counter is the running
//! total with resets folded in, so it never goes down and `rate` over it
//! needs no reset handling across chunks. Windows, batches and chunk counts
//! are those of the float path.

use aion_chunkenc::{AppendOutcome, Encoding, FloatHistogramAppender, XorAppender};
use aion_model::histogram::{CounterResetHint, FloatHistogram};
use aion_storage::SeriesChunk;

use crate::aggr::{encode_aggr_chunk_parts, AggrChunk, AggrType};
use crate::float::{target_chunk_count, window_end, RAW_INTERVAL};
use crate::{Error, Result};

/// A histogram sample as the downsampler holds it.
pub type HistSample = (i64, FloatHistogram);

/// The running aggregates of one window plus the batch's counter state
/// (Thanos's `histogramAggregator`).
struct HistAggregator {
    /// The smallest schema of the batch: every sample is reduced to it, so
    /// all of a chunk's histograms share one.
    schema: i32,
    total: usize,
    count: usize,
    sum: Option<FloatHistogram>,
    counter: Option<FloatHistogram>,
    previous: Option<FloatHistogram>,
}

impl HistAggregator {
    fn new(schema: i32) -> Self {
        HistAggregator {
            schema,
            total: 0,
            count: 0,
            sum: None,
            counter: None,
            previous: None,
        }
    }

    fn reset_window(&mut self) {
        self.count = 0;
        self.sum = None;
    }

    fn add(&mut self, h: &FloatHistogram) -> Result<()> {
        let mut fh = h.clone();
        if fh.schema > self.schema {
            fh.reduce_resolution(self.schema);
        }
        match (&mut self.counter, &self.previous) {
            (Some(counter), Some(previous)) => {
                // A reset is judged on the sample as stored (a schema
                // increase is one), the arithmetic on the reduced copy.
                if h.counter_reset_hint != CounterResetHint::Gauge && h.detect_reset(previous) {
                    counter.add(&fh).map_err(op_error)?;
                } else {
                    let mut delta = fh.clone();
                    delta.sub(previous).map_err(op_error)?;
                    counter.add(&delta).map_err(op_error)?;
                }
            }
            _ => self.counter = Some(fh.clone()),
        }
        match &mut self.sum {
            Some(sum) => {
                sum.add(&fh).map_err(op_error)?;
            }
            None => self.sum = Some(fh.clone()),
        }
        if let Some(sum) = &mut self.sum {
            // A window's sum is not a counter: as a gauge, a smaller sum in
            // the next window is not read as a reset.
            sum.counter_reset_hint = CounterResetHint::Gauge;
        }
        self.previous = Some(fh);
        self.count += 1;
        self.total += 1;
        Ok(())
    }
}

fn op_error(e: aion_model::histogram::HistogramOpError) -> Error {
    Error::Unsupported(format!("downsampling native histograms: {e}"))
}

/// The smallest schema among `batch`'s samples that are not stale markers.
fn min_schema(batch: &[HistSample]) -> i32 {
    batch
        .iter()
        .filter(|(_, h)| !aion_chunkenc::is_stale_nan(h.sum))
        .map(|(_, h)| h.schema)
        .min()
        .unwrap_or(i32::MAX)
}

/// Whether the batch holds gauge histograms (by its first sample, as Thanos).
fn is_gauge(batch: &[HistSample]) -> bool {
    batch
        .first()
        .is_some_and(|(_, h)| h.counter_reset_hint == CounterResetHint::Gauge)
}

/// Calls `emit` for each window of `data` (time-ordered) with its
/// timestamp (the window's end, or the batch's last sample time for the
/// final window) and aggregates, as the float path's windows.
fn fold_windows(
    data: &[HistSample],
    resolution: i64,
    schema: i32,
    mut emit: impl FnMut(i64, &HistAggregator) -> Result<()>,
) -> Result<()> {
    let Some(last_t) = data.last().map(|s| s.0) else {
        return Ok(());
    };
    let mut aggr = HistAggregator::new(schema);
    let mut window: Option<i64> = None;
    for (t, h) in data {
        if window.is_none_or(|w| *t > w) {
            if let Some(w) = window {
                emit(w, &aggr)?;
            }
            aggr.reset_window();
            window = Some(window_end(*t, resolution).min(last_t));
        }
        aggr.add(h)?;
    }
    match window {
        Some(w) => emit(w, &aggr),
        None => Ok(()),
    }
}

/// One histogram aggregate chunk under construction.
struct HistChunkBuilder {
    gauge: bool,
    count: Option<XorAppender>,
    sum: Option<FloatHistogramAppender>,
    counter: Option<FloatHistogramAppender>,
    min_time: i64,
    max_time: i64,
}

impl HistChunkBuilder {
    fn new(gauge: bool) -> Self {
        HistChunkBuilder {
            gauge,
            count: None,
            sum: None,
            counter: None,
            min_time: i64::MAX,
            max_time: i64::MIN,
        }
    }

    fn widen(&mut self, t: i64) {
        self.min_time = self.min_time.min(t);
        self.max_time = self.max_time.max(t);
    }

    fn count(&mut self, t: i64, n: f64) -> Result<()> {
        self.count
            .get_or_insert_with(XorAppender::new)
            .append(t, n)
            .map_err(|_| Error::TooManyWindows)
    }

    /// Appends `h` to the sum (`is_sum`) or counter sub-chunk. A histogram
    /// that cannot share the sub-chunk (a zero-threshold change, say) is an
    /// error: Thanos would silently start the sub-chunk over and lose the
    /// windows before it.
    fn histogram(&mut self, is_sum: bool, t: i64, h: &FloatHistogram) -> Result<()> {
        let mut h = h.clone();
        h.counter_reset_hint = if self.gauge || is_sum {
            CounterResetHint::Gauge
        } else {
            // The counter never goes down; let the appender see that.
            CounterResetHint::Unknown
        };
        let slot = if is_sum {
            &mut self.sum
        } else {
            &mut self.counter
        };
        let app = slot.get_or_insert_with(FloatHistogramAppender::new);
        match app.append(t, &h) {
            Ok(AppendOutcome::Appended | AppendOutcome::Recoded) => Ok(()),
            Ok(AppendOutcome::NewChunk(_)) => Err(Error::Unsupported(format!(
                "downsampling native histograms: the {} of the window at {t} cannot share its chunk with the windows before (schema or zero threshold changed)",
                if is_sum { "sum" } else { "counter" }
            ))),
            Err(aion_chunkenc::HistogramAppendError::Full) => Err(Error::TooManyWindows),
            Err(e) => Err(Error::Unsupported(format!(
                "downsampling native histograms: window at {t}: {e}"
            ))),
        }
    }

    fn finish(self) -> SeriesChunk<Vec<u8>> {
        let count = self.count.as_ref().map(|a| (Encoding::Xor, a.bytes()));
        let sum = self
            .sum
            .as_ref()
            .map(|a| (Encoding::FloatHistogram, a.bytes()));
        let counter = self
            .counter
            .as_ref()
            .map(|a| (Encoding::FloatHistogram, a.bytes()));
        let mut data = Vec::new();
        encode_aggr_chunk_parts([count, sum, None, None, counter], &mut data);
        SeriesChunk {
            min_time: self.min_time,
            max_time: self.max_time,
            encoding: Encoding::ThanosAggr,
            data,
        }
    }
}

/// One aggregate chunk from a batch of raw histograms (no NaN sums).
fn raw_batch(batch: &[HistSample], resolution: i64) -> Result<SeriesChunk<Vec<u8>>> {
    let mut b = HistChunkBuilder::new(is_gauge(batch));
    fold_windows(batch, resolution, min_schema(batch), |t, a| {
        b.widen(t);
        if let Some(counter) = &a.counter {
            b.histogram(false, t, counter)?;
        }
        if let Some(sum) = &a.sum {
            b.histogram(true, t, sum)?;
        }
        b.count(t, a.count as f64)
    })?;
    Ok(b.finish())
}

/// Downsamples one series' raw histograms (time-ordered, stale markers
/// dropped) to `resolution`, appending aggregate chunks to `out`: the
/// float path's batches, with histograms whose sum is NaN left out.
pub fn downsample_raw_histograms(
    mut data: &[HistSample],
    resolution: i64,
    out: &mut Vec<SeriesChunk<Vec<u8>>>,
) -> Result<()> {
    let (Some(first), Some(last)) = (data.first(), data.last()) else {
        return Ok(());
    };
    let n = target_chunk_count(first.0, last.0, RAW_INTERVAL, resolution, data.len());
    let batch_size = data.len() / n + 1;
    let mut batch = Vec::new();
    while !data.is_empty() {
        let mut j = batch_size.min(data.len());
        let end = window_end(data[j - 1].0, resolution);
        while j < data.len() && data[j].0 <= end {
            j += 1;
        }
        batch.clear();
        batch.extend(data[..j].iter().filter(|s| !s.1.sum.is_nan()).cloned());
        data = &data[j..];
        if !batch.is_empty() {
            out.push(raw_batch(&batch, resolution)?);
        }
    }
    Ok(())
}

/// The samples of histogram aggregate `t` over `chunks`, concatenated, with
/// Thanos's reader filter (stale markers and samples before the previous
/// one dropped).
fn expand(chunks: &[AggrChunk<'_>], t: AggrType, out: &mut Vec<HistSample>) -> Result<()> {
    out.clear();
    let mut all = Vec::new();
    for c in chunks {
        c.histograms(t, &mut all)?;
    }
    let mut last_t = i64::MIN;
    for (ts, h) in all {
        if aion_chunkenc::is_stale_nan(h.sum) || ts < last_t {
            continue;
        }
        last_t = ts;
        out.push((ts, h));
    }
    Ok(())
}

/// One coarser aggregate chunk from a run of histogram aggregate chunks:
/// the counter re-aggregated over the counter samples, the sum over the
/// window sums, the count summed.
fn aggr_batch(chunks: &[AggrChunk<'_>], resolution: i64) -> Result<SeriesChunk<Vec<u8>>> {
    let mut samples = Vec::new();
    expand(chunks, AggrType::Counter, &mut samples)?;
    let mut b = HistChunkBuilder::new(is_gauge(&samples));
    fold_windows(&samples, resolution, min_schema(&samples), |t, a| {
        b.widen(t);
        match &a.counter {
            Some(c) => b.histogram(false, t, c),
            None => Ok(()),
        }
    })?;
    expand(chunks, AggrType::Sum, &mut samples)?;
    fold_windows(&samples, resolution, min_schema(&samples), |t, a| {
        b.widen(t);
        match &a.sum {
            Some(s) => b.histogram(true, t, s),
            None => Ok(()),
        }
    })?;
    let mut counts: Vec<(i64, f64)> = Vec::new();
    let mut last_t = i64::MIN;
    for c in chunks {
        if let Some(x) = c.get(AggrType::Count)? {
            for (t, v) in x.samples()? {
                if aion_chunkenc::is_stale_nan(v) || t < last_t {
                    continue;
                }
                last_t = t;
                counts.push((t, v));
            }
        }
    }
    if let Some(&(last, _)) = counts.last() {
        let mut window: Option<(i64, f64)> = None;
        for &(t, v) in &counts {
            match window {
                Some((w, n)) if t <= w => window = Some((w, n + v)),
                _ => {
                    if let Some((w, n)) = window {
                        b.widen(w);
                        b.count(w, n)?;
                    }
                    window = Some((window_end(t, resolution).min(last), v));
                }
            }
        }
        if let Some((w, n)) = window {
            b.widen(w);
            b.count(w, n)?;
        }
    }
    Ok(b.finish())
}

/// Downsamples one histogram series' aggregate chunks (of resolution
/// `in_res`, spanning `[mint, maxt]`) to `out_res`, appending to `out`.
pub fn downsample_hist_aggr(
    chunks: &[AggrChunk<'_>],
    mint: i64,
    maxt: i64,
    in_res: i64,
    out_res: i64,
    out: &mut Vec<SeriesChunk<Vec<u8>>>,
) -> Result<()> {
    let samples = chunks.iter().map(|c| c.num_samples()).sum();
    let n = target_chunk_count(mint, maxt, in_res, out_res, samples);
    let batch = (chunks.len() / n.max(1)).max(1);
    let mut rest = chunks;
    while !rest.is_empty() {
        let j = batch.min(rest.len());
        let c = aggr_batch(&rest[..j], out_res)?;
        if c.min_time == i64::MAX {
            return Err(Error::EmptyAggregate);
        }
        out.push(c);
        rest = &rest[j..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use aion_model::histogram::Span;

    use super::*;
    use crate::{RES_1H, RES_5M};

    const STEP: i64 = 15_000;

    /// A counter histogram of schema 0 with integer counts in buckets
    /// 0..4: bucket `b` gains `b + 1 + k % 3` per scrape, so the four
    /// always grow; `reset_at` starts it over from one scrape's growth.
    fn counter_series(n: i64, reset_at: Option<i64>) -> Vec<HistSample> {
        let mut counts = [0.0f64; 4];
        let mut sum = 0.0;
        (0..n)
            .map(|k| {
                if Some(k) == reset_at {
                    counts = [0.0; 4];
                    sum = 0.0;
                }
                for (b, c) in counts.iter_mut().enumerate() {
                    *c += (b as i64 + 1 + k % 3) as f64;
                }
                sum += 10.0 + k as f64;
                let h = FloatHistogram {
                    schema: 0,
                    count: counts.iter().sum(),
                    sum,
                    positive_spans: vec![Span {
                        offset: 0,
                        length: 4,
                    }],
                    positive_buckets: counts.to_vec(),
                    ..FloatHistogram::default()
                };
                (k * STEP + 7, h)
            })
            .collect()
    }

    /// A histogram's observable content: count, sum and the non-empty
    /// buckets by index (layouts may differ in empty buckets).
    fn content(h: &FloatHistogram) -> (f64, f64, BTreeMap<i32, f64>) {
        let buckets = h
            .positive_bucket_iter()
            .filter(|b| b.count != 0.0)
            .map(|b| (b.index, b.count))
            .collect();
        (h.count, h.sum, buckets)
    }

    fn plus(
        a: &(f64, f64, BTreeMap<i32, f64>),
        b: &FloatHistogram,
    ) -> (f64, f64, BTreeMap<i32, f64>) {
        let (bc, bs, bb) = content(b);
        let mut buckets = a.2.clone();
        for (i, c) in bb {
            *buckets.entry(i).or_default() += c;
        }
        (a.0 + bc, a.1 + bs, buckets)
    }

    fn empty() -> (f64, f64, BTreeMap<i32, f64>) {
        (0.0, 0.0, BTreeMap::new())
    }

    /// Thanos's rule written out plainly: per window, the counter is the
    /// running total (a reset adds the new value, otherwise the growth),
    /// the sum adds the window's histograms, the count counts them.
    type Expected = BTreeMap<
        i64,
        (
            (f64, f64, BTreeMap<i32, f64>),
            (f64, f64, BTreeMap<i32, f64>),
            f64,
        ),
    >;
    fn expected(raw: &[HistSample], res: i64) -> Expected {
        let mut out = Expected::new();
        let mut total = empty();
        let mut prev: Option<&FloatHistogram> = None;
        let last = raw.last().unwrap().0;
        for (t, h) in raw {
            total = match prev {
                Some(p) if h.count >= p.count => {
                    // Growth: add the difference bucket by bucket.
                    let (c, s, b) = content(h);
                    let (pc, ps, pb) = content(p);
                    let mut buckets = total.2.clone();
                    for (i, v) in b {
                        *buckets.entry(i).or_default() += v - pb.get(&i).copied().unwrap_or(0.0);
                    }
                    (total.0 + c - pc, total.1 + s - ps, buckets)
                }
                Some(_) => plus(&total, h),
                None => content(h),
            };
            prev = Some(h);
            let w = window_end(*t, res).min(last);
            let e = out.entry(w).or_insert_with(|| (empty(), empty(), 0.0));
            e.0 = total.clone();
            e.1 = plus(&e.1, h);
            e.2 += 1.0;
        }
        out
    }

    fn read(chunks: &[SeriesChunk<Vec<u8>>]) -> Expected {
        let mut out = Expected::new();
        for c in chunks {
            let a = AggrChunk::parse(&c.data).unwrap();
            assert!(a.is_histogram());
            assert!(a.raw(AggrType::Min).is_none() && a.raw(AggrType::Max).is_none());
            let (mut counter, mut sum) = (Vec::new(), Vec::new());
            a.histograms(AggrType::Counter, &mut counter).unwrap();
            a.histograms(AggrType::Sum, &mut sum).unwrap();
            let count = a.get(AggrType::Count).unwrap().unwrap().samples().unwrap();
            assert_eq!(counter.len(), count.len());
            assert_eq!(sum.len(), count.len());
            for ((c, s), n) in counter.iter().zip(&sum).zip(&count) {
                assert_eq!((c.0, s.0), (n.0, n.0), "one timestamp per window");
                assert_eq!(s.1.counter_reset_hint, CounterResetHint::Gauge);
                out.insert(n.0, (content(&c.1), content(&s.1), n.1));
            }
        }
        out
    }

    #[test]
    fn raw_histograms_become_counter_sum_and_count_windows() {
        // 10 h of 15 s scrapes with a reset after 4 h 10 m.
        let raw = counter_series(2400, Some(1000));
        let mut out = Vec::new();
        downsample_raw_histograms(&raw, RES_5M, &mut out).unwrap();
        assert!(!out.is_empty());
        let got = read(&out);
        assert_eq!(got.len(), 120, "ten hours of 5 m windows");
        assert_eq!(got, expected(&raw, RES_5M));
        // The counter never goes down, the reset included.
        let counts: Vec<f64> = got.values().map(|w| w.0 .0).collect();
        assert!(counts.windows(2).all(|p| p[1] >= p[0]));
    }

    #[test]
    fn five_minute_histograms_become_hours() {
        let raw = counter_series(2400, Some(1000));
        let mut five = Vec::new();
        downsample_raw_histograms(&raw, RES_5M, &mut five).unwrap();
        let parsed: Vec<AggrChunk<'_>> = five
            .iter()
            .map(|c| AggrChunk::parse(&c.data).unwrap())
            .collect();
        let mut hour = Vec::new();
        downsample_hist_aggr(
            &parsed,
            five[0].min_time,
            five[five.len() - 1].max_time,
            RES_5M,
            RES_1H,
            &mut hour,
        )
        .unwrap();
        let got = read(&hour);
        // What the raw data gives directly at 1 h: the counter at each
        // hour's last sample, the hour's sum and count.
        let want = expected(&raw, RES_1H);
        assert_eq!(got.len(), want.len());
        for ((gt, g), (wt, w)) in got.iter().zip(&want) {
            assert_eq!(gt, wt);
            assert_eq!(g.0, w.0, "counter at {gt}");
            assert_eq!(g.2, w.2, "count at {gt}");
            // The 1 h sum adds 5 m sums, in another order than the raw sum.
            assert!(
                (g.1 .1 - w.1 .1).abs() <= 1e-9 * w.1 .1.abs(),
                "sum at {gt}"
            );
            assert_eq!(g.1 .2, w.1 .2, "sum buckets at {gt}");
        }
    }

    #[test]
    fn mixed_schemas_are_reduced_to_the_smallest() {
        let mut raw = counter_series(100, None);
        // Later samples at schema 1: each bucket split in two halves.
        for (_, h) in raw.iter_mut().skip(50) {
            let split: Vec<f64> = h
                .positive_buckets
                .iter()
                .flat_map(|&c| [c / 2.0, c / 2.0])
                .collect();
            h.schema = 1;
            h.positive_spans = vec![Span {
                offset: 0,
                length: split.len() as u32,
            }];
            h.positive_buckets = split;
        }
        let mut out = Vec::new();
        downsample_raw_histograms(&raw, RES_5M, &mut out).unwrap();
        for c in &out {
            let a = AggrChunk::parse(&c.data).unwrap();
            let mut hs = Vec::new();
            a.histograms(AggrType::Counter, &mut hs).unwrap();
            a.histograms(AggrType::Sum, &mut hs).unwrap();
            assert!(hs.iter().all(|(_, h)| h.schema == 0));
        }
    }

    #[test]
    fn stale_markers_are_left_out() {
        let mut raw = counter_series(40, None);
        raw[20].1.sum = f64::from_bits(aion_chunkenc::STALE_NAN_BITS);
        let kept: Vec<HistSample> = raw.iter().filter(|s| !s.1.sum.is_nan()).cloned().collect();
        let mut out = Vec::new();
        downsample_raw_histograms(&raw, RES_5M, &mut out).unwrap();
        assert_eq!(read(&out), expected(&kept, RES_5M));
    }
}
