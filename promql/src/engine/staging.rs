//! Reading a storage series in batches: floats are pulled hundreds at a
//! time with [`SampleIterator::read_floats`] into arrays the cursors then
//! consume as slices, so the engine makes no call per float sample through
//! the iterator stack (window cursor → merge → block → chunk decoder).
//! Histogram samples, rare and big, still come one at a time.

use aion_chunkenc::{SampleIterator, ValueType};
use aion_model::histogram::FloatHistogram;

use super::error::Error;
use super::stats_decoding::StatsHints;

/// Floats read ahead per batch.
const STAGE: usize = 256;

/// The arrays of a [`Staged`] reader, kept by callers between series so a
/// query allocates them once per thread.
#[derive(Debug, Default)]
pub(crate) struct StageBuffers {
    ts: Vec<i64>,
    vs: Vec<f64>,
    sts: Vec<i64>,
}

/// What [`Staged::next_run`] hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Run {
    /// Floats `start..end` of [`Staged::ts`]/[`Staged::vs`] (and
    /// [`Staged::sts`] when start timestamps are read).
    Floats(usize, usize),
    /// A histogram sample: its timestamp and start timestamp; its value
    /// is in [`Staged::hist`].
    Histogram(i64, i64),
    /// Nothing more up to the bound asked for (or at all).
    Done,
}

/// A series' samples, read ahead in batches: the staged floats from `pos`
/// on come first, then the sample the iterator stands on (`vt`).
pub(crate) struct Staged<'a> {
    it: Box<dyn SampleIterator + 'a>,
    pub ts: Vec<i64>,
    pub vs: Vec<f64>,
    /// Start timestamps parallel to `ts` (when read; else empty).
    pub sts: Vec<i64>,
    pos: usize,
    /// Where the iterator stands (after the staged floats); `None` before
    /// the first move.
    vt: Option<ValueType>,
    /// The last histogram handed out.
    pub hist: FloatHistogram,
    stats: StatsHints,
    /// The next histogram follows the previous sample directly (no seek
    /// in between), for the statistics hints.
    contiguous: bool,
    with_st: bool,
    /// Read ahead without bound (every sample will be needed) rather than
    /// up to the bound of each call (windows far apart: seeks skip the
    /// gaps).
    dense: bool,
    /// Why the iterator stopped early, once it has: the cursors check
    /// once per step, so the hot calls return no `Result`.
    error: Option<Error>,
}

impl<'a> Staged<'a> {
    pub(crate) fn new(it: Box<dyn SampleIterator + 'a>, mut bufs: StageBuffers) -> Self {
        bufs.ts.clear();
        bufs.vs.clear();
        bufs.sts.clear();
        Staged {
            it,
            ts: bufs.ts,
            vs: bufs.vs,
            sts: bufs.sts,
            pos: 0,
            vt: None,
            hist: FloatHistogram::default(),
            stats: StatsHints::default(),
            contiguous: false,
            with_st: false,
            dense: true,
            error: None,
        }
    }

    /// Also reads start timestamps (one call per sample: rare).
    pub(crate) fn with_start_timestamps(mut self, on: bool) -> Self {
        self.with_st = on;
        self
    }

    /// Decides histogram reset hints while reading (see
    /// `stats_decoding.rs`).
    pub(crate) fn with_stats(mut self, stats: bool) -> Self {
        self.stats = StatsHints::new(stats);
        self
    }

    /// Whether to read ahead past each call's bound (see `dense`).
    pub(crate) fn dense(mut self, dense: bool) -> Self {
        self.dense = dense;
        self
    }

    /// [`SampleIterator::tail_start`] of the series, when nothing is
    /// staged (else `i64::MIN`).
    pub(crate) fn tail_start(&self, maxt: i64) -> i64 {
        if self.pos < self.ts.len() || self.vt == Some(ValueType::None) {
            return i64::MIN;
        }
        self.it.tail_start(maxt)
    }

    /// Whether it reads ahead without bound.
    pub(crate) fn is_dense(&self) -> bool {
        self.dense
    }

    /// Nothing is staged and the iterator has no sample left.
    pub(crate) fn exhausted(&self) -> bool {
        self.pos == self.ts.len() && self.vt == Some(ValueType::None)
    }

    /// Whether start timestamps are read.
    pub(crate) fn reads_start_timestamps(&self) -> bool {
        self.with_st
    }

    /// Hands the arrays back for the next series.
    /// Bytes of the read-ahead arrays (for the byte budget).
    pub(crate) fn heap_bytes(&self) -> usize {
        (self.ts.capacity() + self.sts.capacity()) * std::mem::size_of::<i64>()
            + self.vs.capacity() * std::mem::size_of::<f64>()
            + super::memory::hist_bytes(&self.hist)
    }

    pub(crate) fn into_buffers(self) -> StageBuffers {
        StageBuffers {
            ts: self.ts,
            vs: self.vs,
            sts: self.sts,
        }
    }

    /// Drops every sample before `t`; true if any was dropped (or the
    /// iterator had to seek past some).
    #[inline]
    pub(crate) fn skip_to(&mut self, t: i64) -> bool {
        match self.ts.get(self.pos) {
            Some(&first) if first >= t => false,
            _ => self.skip_slow(t),
        }
    }

    #[inline(never)]
    fn skip_slow(&mut self, t: i64) -> bool {
        let staged = &self.ts[self.pos..];
        let mut dropped = false;
        if let Some(&last) = staged.last() {
            if last >= t {
                self.pos += staged.partition_point(|&x| x < t);
                return true;
            }
            self.pos = self.ts.len();
            dropped = true;
        }
        let vt = match self.vt {
            Some(ValueType::None) => return dropped,
            Some(_) if self.it.at_t() >= t => return dropped,
            _ => self.it.seek(t),
        };
        self.vt = Some(vt);
        self.contiguous = false;
        self.check(vt);
        true
    }

    /// The next samples with timestamps `<= maxt`: a run of floats, one
    /// histogram, or [`Run::Done`] (then check [`take_error`](Self::take_error)).
    #[inline]
    pub(crate) fn next_run(&mut self, maxt: i64) -> Run {
        // The usual case: staged floats reach past `maxt`, the run is a
        // few samples found by a short scan.
        let staged = &self.ts[self.pos..];
        if let Some(&last) = staged.last() {
            if last > maxt {
                let k = count_le(staged, maxt);
                if k == 0 {
                    return Run::Done;
                }
                let start = self.pos;
                self.pos += k;
                return Run::Floats(start, start + k);
            }
        }
        self.next_run_slow(maxt)
    }

    /// Why reading stopped early, if it did (taken once).
    pub(crate) fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    #[inline(never)]
    fn next_run_slow(&mut self, maxt: i64) -> Run {
        loop {
            let staged = &self.ts[self.pos..];
            if !staged.is_empty() {
                // All of them are `<= maxt` (or `next_run` took them).
                let k = count_le(staged, maxt);
                if k == 0 {
                    return Run::Done;
                }
                let start = self.pos;
                self.pos += k;
                return Run::Floats(start, start + k);
            }
            let vt = match self.vt {
                Some(vt) => vt,
                None => {
                    let vt = self.it.next();
                    self.vt = Some(vt);
                    self.check(vt);
                    vt
                }
            };
            match vt {
                ValueType::None => return Run::Done,
                _ if self.it.at_t() > maxt => return Run::Done,
                ValueType::Float => self.refill(maxt),
                ValueType::Histogram | ValueType::FloatHistogram => {
                    let t = self.it.at_float_histogram(&mut self.hist);
                    let st = if self.with_st { self.it.at_st() } else { 0 };
                    self.stats.apply(&mut self.hist, self.contiguous);
                    let vt = self.it.next();
                    self.vt = Some(vt);
                    self.contiguous = true;
                    self.check(vt);
                    return Run::Histogram(t, st);
                }
            }
        }
    }

    /// Reads the next floats (the iterator stands on one, `<= maxt`).
    fn refill(&mut self, maxt: i64) {
        let bound = if self.dense { i64::MAX } else { maxt };
        self.ts.resize(STAGE, 0);
        self.vs.resize(STAGE, 0.0);
        self.pos = 0;
        let (n, vt) = if self.with_st {
            self.sts.resize(STAGE, 0);
            self.read_with_start_timestamps(bound)
        } else {
            self.it.read_floats(&mut self.ts, &mut self.vs, bound)
        };
        self.ts.truncate(n);
        self.vs.truncate(n);
        if self.with_st {
            self.sts.truncate(n);
        }
        self.stats.float_seen();
        self.vt = Some(vt);
        self.contiguous = true;
        self.check(vt);
    }

    /// The `at`/`next` loop, with each sample's start timestamp.
    fn read_with_start_timestamps(&mut self, maxt: i64) -> (usize, ValueType) {
        let mut n = 0;
        let mut vt = ValueType::Float;
        while n < STAGE && vt == ValueType::Float {
            let (t, v) = self.it.at();
            if t > maxt {
                break;
            }
            (self.ts[n], self.vs[n], self.sts[n]) = (t, v, self.it.at_st());
            n += 1;
            vt = self.it.next();
        }
        (n, vt)
    }

    /// Keeps an exhausted iterator's error as the query's.
    fn check(&mut self, vt: ValueType) {
        if vt == ValueType::None && self.error.is_none() {
            if let Some(e) = self.it.err() {
                self.error = Some(Error::Storage(e.to_string().into()));
            }
        }
    }
}

/// How many of `ts` (ascending) are `<= maxt`: a scan of the first few
/// (a step's run is short), a binary search beyond.
#[inline]
fn count_le(ts: &[i64], maxt: i64) -> usize {
    const SCAN: usize = 8;
    for (i, &t) in ts.iter().take(SCAN).enumerate() {
        if t > maxt {
            return i;
        }
    }
    if ts.len() <= SCAN {
        return ts.len();
    }
    SCAN + ts[SCAN..].partition_point(|&t| t <= maxt)
}
