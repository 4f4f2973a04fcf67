//! Applying a logged batch to its series, invisible to queries until done:
//! floats and histograms segment by segment, each sample decided again
//! against what earlier samples of the batch and concurrent commits did.

use aion_chunkenc::is_stale_nan;
use aion_wal::record::{RefFloatHistogramSample, RefHistogramSample, RefSample};

use super::batch::HistogramValue;
use super::isolation::record_commit;
use super::ooo::{appendable, appendable_at, Bounds, Placement, WblBatch};
use super::open_chunk::SampleKind;
use super::series::{MemSeries, SeriesState};
use super::series_arc::SeriesArc;
use super::Head;
use crate::chunks::SampleValue;
use crate::{Error, Result};

/// What applying a batch did.
#[derive(Debug)]
pub(super) struct Applied {
    pub mint: i64,
    pub maxt: i64,
    pub ooo_mint: i64,
    pub ooo_maxt: i64,
    pub appended: u64,
    pub dropped: u64,
    pub ooo: u64,
    /// The first failure (a chunk write); applying stops there.
    pub result: Result<()>,
}

impl Default for Applied {
    fn default() -> Self {
        Applied {
            mint: i64::MAX,
            maxt: i64::MIN,
            ooo_mint: i64::MAX,
            ooo_maxt: i64::MIN,
            appended: 0,
            dropped: 0,
            ooo: 0,
            result: Ok(()),
        }
    }
}

impl Applied {
    #[inline]
    fn in_order(&mut self, t: i64) {
        self.appended += 1;
        self.mint = self.mint.min(t);
        self.maxt = self.maxt.max(t);
    }
}

/// What every sample of one commit is applied with.
pub(super) struct Apply<'a> {
    pub head: &'a Head,
    pub bounds: Bounds,
    pub epoch: u64,
    pub low_watermark: u64,
    pub known: &'a [SeriesArc],
}

/// A histogram sample of a WAL record, either flavour.
pub(super) trait HistogramSample {
    fn parts(&self) -> (i64, HistogramValue<'_>);
}

impl HistogramSample for RefHistogramSample {
    fn parts(&self) -> (i64, HistogramValue<'_>) {
        (self.t, HistogramValue::Int(&self.h))
    }
}

impl HistogramSample for RefFloatHistogramSample {
    fn parts(&self) -> (i64, HistogramValue<'_>) {
        (self.t, HistogramValue::Float(&self.fh))
    }
}

/// Appends the histogram `h` at `t` to the in-order chunks of `st` and
/// publishes it: `Ok(false)` if it was not newer than the series' samples.
pub(crate) fn append_histogram_in_order(
    head: &Head,
    series: &MemSeries,
    st: &mut SeriesState,
    t: i64,
    h: HistogramValue<'_>,
) -> Result<bool> {
    let r = series.series_ref;
    let appended = match h {
        HistogramValue::Int(h) => st.append_histogram(r, t, h, &head.policy, &head.chunks)?,
        HistogramValue::Float(h) => {
            st.append_float_histogram(r, t, h, &head.policy, &head.chunks)?
        }
    };
    if appended {
        series.publish_histogram(t, h.kind());
    }
    Ok(appended)
}

impl Apply<'_> {
    /// Applies float samples (with their series' slots); out-of-order ones
    /// go to the out-of-order chunks and `wbl`.
    pub fn floats(
        &self,
        samples: &[RefSample],
        slots: &[u32],
        wbl: &mut WblBatch,
        acc: &mut Applied,
    ) {
        let head = self.head;
        // The common path's counts in locals (registers), added to `acc`
        // once: this loop runs for every float of every commit.
        let (mut appended, mut dropped) = (0u64, 0u64);
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        for (s, &slot) in samples.iter().zip(slots) {
            let series = &self.known[slot as usize];
            let mut st = series.lock();
            record_commit(&mut st, self.epoch, self.low_watermark);
            if is_stale_nan(s.v) && series.last_kind() != SampleKind::Float {
                // The series turned into a histogram since the append (a
                // concurrent commit): its stale marker is a histogram too.
                let stale = HistogramValue::stale(series.last_kind());
                self.histogram(series, &mut st, s.t, stale, wbl, acc);
                if acc.result.is_err() {
                    break;
                }
                continue;
            }
            // Decided again: earlier samples of this batch and commits
            // since the append may have moved the series on.
            let max = st.max_time();
            let last = (max != i64::MIN).then(|| (max, series.last_sample().1));
            let placement = match appendable(s.t, s.v, last, &self.bounds) {
                Ok(p) => p,
                Err(_) => {
                    dropped += 1;
                    continue;
                }
            };
            match placement {
                Placement::InOrder => {
                    match st.append(series.series_ref, s.t, s.v, &head.policy, &head.chunks) {
                        Ok(true) => {
                            series.publish(s.t, s.v);
                            appended += 1;
                            mint = mint.min(s.t);
                            maxt = maxt.max(s.t);
                        }
                        Ok(false) => dropped += 1,
                        Err(e) => {
                            acc.result = Err(e);
                            break;
                        }
                    }
                }
                Placement::IdenticalDuplicate => dropped += 1,
                Placement::OutOfOrder => {
                    if self.out_of_order(series, &mut st, s.t, SampleValue::Float(s.v), wbl, acc) {
                        wbl.on_sample(*s);
                    }
                    if acc.result.is_err() {
                        break;
                    }
                }
            }
        }
        acc.appended += appended;
        acc.dropped += dropped;
        acc.mint = acc.mint.min(mint);
        acc.maxt = acc.maxt.max(maxt);
    }

    /// Inserts a sample into the series' out-of-order chunk (lock held),
    /// noting an m-map of the chunk before in `wbl`. Returns whether it
    /// was stored (the caller logs it to the WBL).
    fn out_of_order(
        &self,
        series: &MemSeries,
        st: &mut SeriesState,
        t: i64,
        v: SampleValue,
        wbl: &mut WblBatch,
        acc: &mut Applied,
    ) -> bool {
        let head = self.head;
        let state = st.ooo_or_default();
        match state.insert(
            series.series_ref,
            t,
            v,
            self.epoch,
            self.low_watermark,
            head.ooo_opts(),
            &head.chunks,
        ) {
            Ok(ins) => {
                if let Some(n) = ins.cut {
                    let refs = state
                        .mmapped
                        .iter()
                        .skip(state.mmapped.len() - n)
                        .map(|c| c.chunk_ref);
                    wbl.on_cut(series.series_ref, refs);
                }
                if ins.stored {
                    acc.ooo += 1;
                    acc.ooo_mint = acc.ooo_mint.min(t);
                    acc.ooo_maxt = acc.ooo_maxt.max(t);
                } else {
                    acc.dropped += 1;
                }
                ins.stored
            }
            Err(e) => {
                acc.result = Err(e);
                false
            }
        }
    }

    /// Applies histogram samples (with their series' slots); out-of-order
    /// ones go to the out-of-order chunks and `wbl`.
    pub fn histograms<S: HistogramSample>(
        &self,
        samples: &[S],
        slots: &[u32],
        wbl: &mut WblBatch,
        acc: &mut Applied,
    ) {
        for (s, &slot) in samples.iter().zip(slots) {
            let series = &self.known[slot as usize];
            let mut st = series.lock();
            record_commit(&mut st, self.epoch, self.low_watermark);
            let (t, h) = s.parts();
            self.histogram(series, &mut st, t, h, wbl, acc);
            if acc.result.is_err() {
                return;
            }
        }
    }

    /// Applies one histogram to a series whose lock is held.
    fn histogram(
        &self,
        series: &MemSeries,
        st: &mut SeriesState,
        t: i64,
        h: HistogramValue<'_>,
        wbl: &mut WblBatch,
        acc: &mut Applied,
    ) {
        let max = st.max_time();
        let last = (max != i64::MIN).then_some(max);
        let store = &self.head.chunks;
        let placement = appendable_at(t, last, &self.bounds, || {
            if h.same_as(st, store) {
                Ok(())
            } else {
                Err(Error::DuplicateHistogramSample { timestamp: t })
            }
        });
        match placement {
            Ok(Placement::InOrder) => {
                match append_histogram_in_order(self.head, series, st, t, h) {
                    Ok(true) => acc.in_order(t),
                    Ok(false) => acc.dropped += 1,
                    Err(e) => acc.result = Err(e),
                }
            }
            Ok(Placement::OutOfOrder) => {
                if self.out_of_order(series, st, t, h.to_value(), wbl, acc) {
                    wbl.on_histogram(series.series_ref, t, h);
                }
            }
            Ok(Placement::IdenticalDuplicate) | Err(_) => acc.dropped += 1,
        }
    }
}
