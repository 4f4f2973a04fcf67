//! Float downsampling with Thanos's rules (`pkg/compact/downsample`):
//! windows aligned to the resolution, ~140 windows per chunk, and a counter
//! aggregate that keeps resets stitchable across chunks.

use aion_chunkenc::{Encoding, SampleIterator, ValueType, XorAppender};
use aion_storage::SeriesChunk;

use crate::aggr::{encode_aggr_chunk, AggrChunk, AggrType};
use crate::Result;

/// Windows per output chunk Thanos aims below on average.
const WINDOWS_PER_CHUNK: usize = 140;

/// The assumed raw scrape interval when sizing chunks from raw data (ms):
/// Thanos's 1 m.
pub(crate) const RAW_INTERVAL: i64 = 60_000;

/// The last timestamp of the resolution window `t` falls into: windows are
/// `[k·r, (k+1)·r)` and carry the timestamp `(k+1)·r − 1`.
///
/// Near the ends of the `i64` range (only a damaged chunk has such
/// timestamps) the end is clamped instead of overflowing, which keeps
/// window ends non-decreasing in `t`.
pub fn window_end(t: i64, resolution: i64) -> i64 {
    let (t, r) = (i128::from(t), i128::from(resolution));
    let end = t - t.rem_euclid(r) + r - 1;
    end.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// How many chunks a series over `[mint, maxt]` with `count` input samples
/// at `in_res` becomes at `out_res`: enough for under 140 windows each.
pub(crate) fn target_chunk_count(
    mint: i64,
    maxt: i64,
    in_res: i64,
    out_res: i64,
    count: usize,
) -> usize {
    // In f64: a damaged chunk's times may span more than `i64` holds.
    let span = maxt as f64 - mint as f64;
    let fullness = (count as f64 / (span / in_res as f64)).min(1.0);
    let max_windows = (span / out_res as f64).trunc();
    // `as` saturates (and maps NaN to 0), so damaged times cannot wrap.
    let expected = ((max_windows * fullness) as usize).saturating_add(1);
    // Thanos: the smallest x with expected/x ≤ 140 in integer division,
    // which Thanos finds by counting up and is expected/141 + 1.
    expected / (WINDOWS_PER_CHUNK + 1) + 1
}

/// The running aggregates of one window plus the counter state of the
/// whole batch.
#[derive(Debug, Clone, Copy)]
struct Aggregator {
    total: usize,
    count: usize,
    sum: f64,
    min: f64,
    max: f64,
    counter: f64,
    last: f64,
}

impl Aggregator {
    fn new() -> Self {
        Aggregator {
            total: 0,
            count: 0,
            sum: 0.0,
            min: f64::MAX,
            max: -f64::MAX,
            counter: 0.0,
            last: 0.0,
        }
    }

    fn reset_window(&mut self) {
        self.count = 0;
        self.sum = 0.0;
        self.min = f64::MAX;
        self.max = -f64::MAX;
    }

    fn add(&mut self, v: f64) {
        if self.total == 0 {
            self.counter = v;
        } else if v < self.last {
            self.counter += v;
        } else {
            self.counter += v - self.last;
        }
        self.last = v;
        self.sum += v;
        self.count += 1;
        self.total += 1;
        if v < self.min {
            self.min = v;
        }
        if v > self.max {
            self.max = v;
        }
    }
}

/// Folds `data` (time-ordered) into windows of `resolution`, calling `emit`
/// with each window's timestamp (its end, or the last sample's time for
/// the final, partial window) and aggregates. Returns the last window's
/// timestamp.
fn fold_windows(
    data: &[(i64, f64)],
    resolution: i64,
    mut emit: impl FnMut(i64, &Aggregator),
) -> Option<i64> {
    let last_t = data.last()?.0;
    let mut aggr = Aggregator::new();
    let mut window: Option<i64> = None;
    for &(t, v) in data {
        if window.is_none_or(|w| t > w) {
            if let Some(w) = window {
                emit(w, &aggr);
            }
            aggr.reset_window();
            window = Some(window_end(t, resolution).min(last_t));
        }
        aggr.add(v);
    }
    let w = window?;
    emit(w, &aggr);
    Some(w)
}

/// Builds one aggregate chunk from up to five XOR appenders.
struct ChunkBuilder {
    apps: [Option<XorAppender>; 5],
    min_time: i64,
    max_time: i64,
}

impl ChunkBuilder {
    fn new() -> Self {
        ChunkBuilder {
            apps: Default::default(),
            min_time: i64::MAX,
            max_time: i64::MIN,
        }
    }

    fn append(&mut self, t: AggrType, ts: i64, v: f64) -> Result<()> {
        self.apps[t as usize]
            .get_or_insert_with(XorAppender::new)
            .append(ts, v)
            .map_err(|_| crate::Error::TooManyWindows)
    }

    fn widen(&mut self, t: i64) {
        self.min_time = self.min_time.min(t);
        self.max_time = self.max_time.max(t);
    }

    fn finish(self) -> SeriesChunk<Vec<u8>> {
        let parts = self.apps.each_ref().map(|a| a.as_ref().map(|a| a.bytes()));
        let mut data = Vec::new();
        encode_aggr_chunk(parts, &mut data);
        SeriesChunk {
            min_time: self.min_time,
            max_time: self.max_time,
            encoding: Encoding::ThanosAggr,
            data,
        }
    }
}

/// One aggregate chunk from a batch of raw samples (no NaN).
fn raw_batch(batch: &[(i64, f64)], resolution: i64) -> Result<SeriesChunk<Vec<u8>>> {
    let mut b = ChunkBuilder::new();
    let (t0, v0) = batch[0];
    b.append(AggrType::Counter, t0, v0)?;
    let mut failed = Ok(());
    let last = fold_windows(batch, resolution, |t, a| {
        b.widen(t);
        let r = (|| {
            b.append(AggrType::Count, t, a.count as f64)?;
            b.append(AggrType::Sum, t, a.sum)?;
            b.append(AggrType::Min, t, a.min)?;
            b.append(AggrType::Max, t, a.max)?;
            b.append(AggrType::Counter, t, a.counter)
        })();
        if failed.is_ok() {
            failed = r;
        }
    });
    failed?;
    if let Some(last) = last {
        // The last raw value at the last window's time: the next chunk's
        // reader compares its first sample against it to see a reset.
        b.append(AggrType::Counter, last, batch[batch.len() - 1].1)?;
    }
    Ok(b.finish())
}

/// Downsamples one series' raw float samples (time-ordered, stale markers
/// already dropped) to `resolution`, appending aggregate chunks to `out`.
/// Samples are cut into batches of about equal size ending on a window
/// boundary; NaN samples are left out, as Thanos does.
pub fn downsample_raw(
    data: &[(i64, f64)],
    resolution: i64,
    batch: &mut Vec<(i64, f64)>,
    out: &mut Vec<SeriesChunk<Vec<u8>>>,
) -> Result<()> {
    downsample_raw_into(data, resolution, None, batch, out)
}

/// [`downsample_raw`] with a forced number of chunks (Thanos's tests ask
/// for more chunks than samples to get one window per chunk).
pub(crate) fn downsample_raw_into(
    mut data: &[(i64, f64)],
    resolution: i64,
    chunks: Option<usize>,
    batch: &mut Vec<(i64, f64)>,
    out: &mut Vec<SeriesChunk<Vec<u8>>>,
) -> Result<()> {
    let (Some(first), Some(last)) = (data.first(), data.last()) else {
        return Ok(());
    };
    let n = chunks.unwrap_or_else(|| {
        target_chunk_count(first.0, last.0, RAW_INTERVAL, resolution, data.len())
    });
    let batch_size = data.len() / n + 1;
    while !data.is_empty() {
        let mut j = batch_size.min(data.len());
        let end = window_end(data[j - 1].0, resolution);
        while j < data.len() && data[j].0 <= end {
            j += 1;
        }
        batch.clear();
        batch.extend(data[..j].iter().filter(|s| !s.1.is_nan()));
        data = &data[j..];
        if !batch.is_empty() {
            out.push(raw_batch(batch, resolution)?);
        }
    }
    Ok(())
}

/// Applies counter resets across a sequence of counter sub-chunks, as
/// Thanos's `ApplyCounterResetsSeriesIterator`: each sample's value becomes
/// the running total; a sample at the time of the previous one replaces
/// the remembered raw value without being emitted (the "last raw value"
/// marker a chunk ends with); earlier samples are dropped. Returns the last
/// raw value.
pub fn apply_counter_resets<'s>(
    counters: impl IntoIterator<Item = &'s [(i64, f64)]>,
    out: &mut Vec<(i64, f64)>,
) -> Option<f64> {
    let mut last: Option<(i64, f64)> = None;
    let mut total = 0.0;
    for &(t, v) in counters.into_iter().flatten() {
        if v.is_nan() {
            continue;
        }
        match last {
            None => {
                total = v;
                last = Some((t, v));
                out.push((t, total));
            }
            Some((lt, lv)) if t > lt => {
                total += if v >= lv { v - lv } else { v };
                last = Some((t, v));
                out.push((t, total));
            }
            Some((lt, _)) if t == lt => last = Some((t, v)),
            Some(_) => {}
        }
    }
    last.map(|(_, v)| v)
}

/// Decoded sub-chunks of a run of aggregate chunks, reused across series.
#[derive(Debug, Default)]
pub struct Scratch {
    parts: Vec<Vec<(i64, f64)>>,
    merged: Vec<(i64, f64)>,
}

/// Samples of aggregate `t` over `chunks`, concatenated, with Thanos's
/// reader filter (stale markers and samples before the previous one
/// dropped). Thanos's filter starts from time 0 and so also drops samples
/// at negative times; this one keeps them rather than lose data.
fn expand(chunks: &[AggrChunk<'_>], t: AggrType, out: &mut Vec<(i64, f64)>) -> Result<()> {
    out.clear();
    let mut last_t = i64::MIN;
    for c in chunks {
        if let Some(x) = c.get(t)? {
            let mut it = x.iter();
            while it.next() == ValueType::Float {
                let s = it.at();
                if aion_chunkenc::is_stale_nan(s.1) {
                    continue;
                }
                if s.0 >= last_t {
                    out.push(s);
                    last_t = s.0;
                }
            }
            if let Some(e) = it.error() {
                return Err(e.clone().into());
            }
        }
    }
    Ok(())
}

/// Which value of a window's aggregation an aggregate keeps.
type Pick = fn(&Aggregator) -> f64;

/// One coarser aggregate chunk from a run of aggregate chunks.
fn aggr_batch(
    chunks: &[AggrChunk<'_>],
    resolution: i64,
    scratch: &mut Scratch,
) -> Result<SeriesChunk<Vec<u8>>> {
    let mut b = ChunkBuilder::new();
    let mut failed = Ok(());
    let pick: [(AggrType, Pick); 4] = [
        (AggrType::Count, |a| a.sum),
        (AggrType::Sum, |a| a.sum),
        (AggrType::Min, |a| a.min),
        (AggrType::Max, |a| a.max),
    ];
    for (t, f) in pick {
        expand(chunks, t, &mut scratch.merged)?;
        fold_windows(&scratch.merged, resolution, |ts, a| {
            b.widen(ts);
            let r = b.append(t, ts, f(a));
            if failed.is_ok() {
                failed = r;
            }
        });
    }
    failed?;
    scratch.parts.resize_with(chunks.len(), Vec::new);
    for (c, part) in chunks.iter().zip(&mut scratch.parts) {
        part.clear();
        if let Some(x) = c.get(AggrType::Counter)? {
            let mut it = x.iter();
            while it.next() == ValueType::Float {
                part.push(it.at());
            }
            if let Some(e) = it.error() {
                return Err(e.clone().into());
            }
        }
    }
    let mut totals = std::mem::take(&mut scratch.merged);
    totals.clear();
    let last_raw = apply_counter_resets(scratch.parts.iter().map(|p| p.as_slice()), &mut totals);
    if let (Some(&(t0, v0)), Some(last_raw)) = (totals.first(), last_raw) {
        b.append(AggrType::Counter, t0, v0)?;
        let mut failed = Ok(());
        let last = fold_windows(&totals, resolution, |ts, a| {
            b.widen(ts);
            let r = b.append(AggrType::Counter, ts, a.counter);
            if failed.is_ok() {
                failed = r;
            }
        });
        failed?;
        if let Some(last) = last {
            b.append(AggrType::Counter, last, last_raw)?;
        }
    }
    scratch.merged = totals;
    Ok(b.finish())
}

/// Downsamples one series' aggregate chunks (of resolution `in_res`,
/// spanning `[mint, maxt]`) to `out_res`, appending to `out`.
pub fn downsample_aggr(
    chunks: &[AggrChunk<'_>],
    mint: i64,
    maxt: i64,
    in_res: i64,
    out_res: i64,
    scratch: &mut Scratch,
    out: &mut Vec<SeriesChunk<Vec<u8>>>,
) -> Result<()> {
    let samples = chunks.iter().map(|c| c.num_samples()).sum();
    let n = target_chunk_count(mint, maxt, in_res, out_res, samples);
    downsample_aggr_into(chunks, out_res, n, scratch, out)
}

/// [`downsample_aggr`] with a given number of chunks.
pub(crate) fn downsample_aggr_into(
    mut chunks: &[AggrChunk<'_>],
    out_res: i64,
    n: usize,
    scratch: &mut Scratch,
    out: &mut Vec<SeriesChunk<Vec<u8>>>,
) -> Result<()> {
    // Thanos divides without rounding up (and would loop forever on 0).
    let batch = (chunks.len() / n.max(1)).max(1);
    while !chunks.is_empty() {
        let j = batch.min(chunks.len());
        let c = aggr_batch(&chunks[..j], out_res, scratch)?;
        if c.min_time == i64::MAX {
            return Err(crate::Error::EmptyAggregate);
        }
        out.push(c);
        chunks = &chunks[j..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_ends_clamp_at_the_ends_of_time() {
        assert_eq!(window_end(0, 300_000), 299_999);
        assert_eq!(window_end(-1, 300_000), -1);
        assert_eq!(window_end(300_000, 300_000), 599_999);
        assert_eq!(window_end(i64::MAX, 300_000), i64::MAX);
        assert!(window_end(i64::MIN, 300_000) <= window_end(i64::MIN + 300_000, 300_000));
    }

    #[test]
    fn chunk_count_is_the_smallest_that_keeps_windows_under_140() {
        for expected in [1usize, 139, 140, 141, 281, 282, 10_000, 123_457] {
            let x = expected / (WINDOWS_PER_CHUNK + 1) + 1;
            assert!(expected / x <= WINDOWS_PER_CHUNK, "{expected}");
            assert!(
                x == 1 || expected / (x - 1) > WINDOWS_PER_CHUNK,
                "{expected}"
            );
        }
        // 10 h of 15 s samples into 5 m windows: 120 windows, one chunk;
        // 40 h: 480 windows, four chunks (Thanos's numbers).
        assert_eq!(target_chunk_count(0, 36_000_000, 60_000, 300_000, 2400), 1);
        assert_eq!(target_chunk_count(0, 144_000_000, 60_000, 300_000, 9600), 4);
        // Damaged times: no overflow, no endless loop.
        assert!(target_chunk_count(i64::MIN, i64::MAX, 60_000, 300_000, 10) >= 1);
        assert!(target_chunk_count(i64::MAX, i64::MIN, 60_000, 300_000, 10) >= 1);
    }

    /// Found by the `chunk_thanos_aggr` fuzz target: a sub-chunk whose
    /// timestamps sit near `i64::MIN` overflowed the window arithmetic.
    #[test]
    fn aggregating_a_chunk_with_extreme_times_returns() {
        crate::fuzz::aggr_chunk(&[
            0x0, 0x0, 0x21, 0x1, 0x0, 0x4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x1, 0xff, 0xff, 0x1a, 0x0, 0x0, 0x21, 0x1, 0x4, 0xfd, 0x4, 0x4, 0x4, 0x4, 0x4, 0x4,
            0x73, 0x73, 0x73, 0x73, 0x73, 0x4, 0x0, 0x0, 0x4, 0x25, 0x73, 0x73, 0x73, 0x73, 0x4,
            0x0, 0x0, 0x4, 0x25, 0x4, 0x4, 0x84, 0x4, 0x4, 0x0, 0x0, 0x2, 0x1, 0x0, 0x0, 0x0, 0x0,
        ]);
    }
}
