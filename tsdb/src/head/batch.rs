//! The histogram samples of an append batch, kept in type-clean segments
//! beside the batch's floats, and the WAL records they make.
//!
//! Samples are logged by type (a float record, then histograms, custom-
//! bucket histograms, float histograms, custom-bucket float histograms),
//! so a series that changes type within a batch would have its samples
//! replayed out of order. As Prometheus's `appendBatch` does, the batch is
//! cut into **segments** in which every series has samples of one type: a
//! new segment starts when a series that had one type in the current
//! segment gets a sample of another. Each segment is logged and applied
//! in that type order; segments in order. A batch without histograms is
//! one segment of floats and costs the float path nothing but a length
//! check.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use aion_model::histogram::{FloatHistogram, Histogram};
use aion_wal::record::{self, RefFloatHistogramSample, RefHistogramSample, RefSample};

use aion_chunkenc::STALE_NAN;
use aion_model::histogram::{CounterResetHint, HistogramError};

use super::open_chunk::{LastHistogram, SampleKind};
use super::series::{MixHasher, SeriesState};
use crate::chunks::{HeadChunkStore, SampleValue};

/// The stale marker of an integer histogram series: a histogram whose sum
/// is the stale NaN (Prometheus's `&histogram.Histogram{Sum: StaleNaN}`).
static STALE_HISTOGRAM: Histogram = Histogram {
    counter_reset_hint: CounterResetHint::Unknown,
    schema: 0,
    zero_threshold: 0.0,
    zero_count: 0,
    count: 0,
    sum: STALE_NAN,
    positive_spans: Vec::new(),
    negative_spans: Vec::new(),
    positive_buckets: Vec::new(),
    negative_buckets: Vec::new(),
    custom_values: Vec::new(),
};

/// The stale marker of a float histogram series.
static STALE_FLOAT_HISTOGRAM: FloatHistogram = FloatHistogram {
    counter_reset_hint: CounterResetHint::Unknown,
    schema: 0,
    zero_threshold: 0.0,
    zero_count: 0.0,
    count: 0.0,
    sum: STALE_NAN,
    positive_spans: Vec::new(),
    negative_spans: Vec::new(),
    positive_buckets: Vec::new(),
    negative_buckets: Vec::new(),
    custom_values: Vec::new(),
};

/// A histogram being appended, either flavour.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HistogramValue<'a> {
    Int(&'a Histogram),
    Float(&'a FloatHistogram),
}

impl HistogramValue<'static> {
    /// The stale marker of a series of `kind` (a float kind gets the
    /// integer one; callers pass histogram kinds).
    pub fn stale(kind: SampleKind) -> HistogramValue<'static> {
        match kind {
            SampleKind::FloatHistogram => HistogramValue::Float(&STALE_FLOAT_HISTOGRAM),
            _ => HistogramValue::Int(&STALE_HISTOGRAM),
        }
    }
}

impl HistogramValue<'_> {
    /// Prometheus's `Validate` for either flavour.
    pub fn validate(&self) -> Result<(), HistogramError> {
        match self {
            HistogramValue::Int(h) => h.validate(),
            HistogramValue::Float(h) => h.validate(),
        }
    }

    /// The kind of sample it is.
    pub fn kind(&self) -> SampleKind {
        match self {
            HistogramValue::Int(_) => SampleKind::Histogram,
            HistogramValue::Float(_) => SampleKind::FloatHistogram,
        }
    }

    /// An owned copy, for the out-of-order chunk.
    pub fn to_value(self) -> SampleValue {
        match self {
            HistogramValue::Int(h) => SampleValue::Histogram(Box::new((*h).clone())),
            HistogramValue::Float(h) => SampleValue::FloatHistogram(Box::new((*h).clone())),
        }
    }

    /// Whether it equals the series' newest sample (Prometheus's
    /// `Equals` against `lastHistogramValue` / `lastFloatHistogramValue`:
    /// false if that is not a histogram of the same flavour).
    pub fn same_as(&self, st: &mut SeriesState, store: &HeadChunkStore) -> bool {
        match (self, st.last_histogram(store)) {
            (HistogramValue::Int(h), Some(LastHistogram::Int(last))) => h.equals(last),
            (HistogramValue::Float(h), Some(LastHistogram::Float(last))) => h.equals(last),
            _ => false,
        }
    }
}

/// The histogram record types a batch keeps apart (Prometheus's sample
/// types after `stFloat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HistogramType {
    /// Integer, exponential buckets: record type 7.
    Int,
    /// Integer, custom buckets: record type 9.
    CustomInt,
    /// Float, exponential buckets: record type 8.
    Float,
    /// Float, custom buckets: record type 10.
    CustomFloat,
}

impl HistogramType {
    /// The type of an integer histogram.
    pub fn of_int(h: &Histogram) -> HistogramType {
        if h.uses_custom_buckets() {
            HistogramType::CustomInt
        } else {
            HistogramType::Int
        }
    }

    /// The type of a float histogram.
    pub fn of_float(h: &FloatHistogram) -> HistogramType {
        if h.uses_custom_buckets() {
            HistogramType::CustomFloat
        } else {
            HistogramType::Float
        }
    }

    /// The kind of sample it is.
    pub fn kind(self) -> SampleKind {
        match self {
            HistogramType::Int | HistogramType::CustomInt => SampleKind::Histogram,
            HistogramType::Float | HistogramType::CustomFloat => SampleKind::FloatHistogram,
        }
    }
}

/// Histogram samples whose elements outlive `clear`: past `len` they keep
/// their vectors, so a batch of histograms like the last allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct Reused<S> {
    items: Vec<S>,
    len: usize,
    /// For each sample, its series' slot in the appender.
    pub slots: Vec<u32>,
}

impl<S: Default> Reused<S> {
    /// The samples of `range`.
    pub fn get(&self, range: std::ops::Range<usize>) -> &[S] {
        &self.items[range]
    }

    /// A slot for one more sample, reusing an old element's allocations.
    fn next_slot(&mut self, slot: u32) -> &mut S {
        if self.len == self.items.len() {
            self.items.push(S::default());
        }
        self.slots.push(slot);
        self.len += 1;
        &mut self.items[self.len - 1]
    }

    fn clear(&mut self) {
        self.len = 0;
        self.slots.clear();
    }
}

impl Reused<RefHistogramSample> {
    fn push(&mut self, r: u64, t: i64, h: &Histogram, slot: u32) {
        let s = self.next_slot(slot);
        s.r#ref = r;
        s.t = t;
        s.h.clone_from(h);
    }
}

impl Reused<RefFloatHistogramSample> {
    fn push(&mut self, r: u64, t: i64, h: &FloatHistogram, slot: u32) {
        let s = self.next_slot(slot);
        s.r#ref = r;
        s.t = t;
        s.fh.clone_from(h);
    }
}

/// What a series has in the current segment, as far as the batch tracks
/// it: histograms of one type, or floats after a committed histogram (so
/// a stale marker that follows them is a float one). Other float series
/// are not noted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchType {
    Float,
    Histogram(HistogramType),
    /// Histograms of this kind, in an earlier segment.
    Earlier(SampleKind),
}

/// Where a segment ends in each list: floats, then the histogram types in
/// [`HistogramType`] order.
pub(crate) type SegmentEnds = [usize; 5];

/// The histograms of a batch and its segment boundaries.
#[derive(Debug, Default)]
pub(crate) struct HistogramBatch {
    pub int: Reused<RefHistogramSample>,
    pub custom_int: Reused<RefHistogramSample>,
    pub float: Reused<RefFloatHistogramSample>,
    pub custom_float: Reused<RefFloatHistogramSample>,
    /// Ends of the segments before the current one.
    segments: Vec<SegmentEnds>,
    /// The type of each series (by slot) that has histograms in the
    /// current segment, histograms earlier in the batch, or floats after
    /// a histogram. A series absent here has only floats (after floats)
    /// or nothing in the batch.
    types: HashMap<u32, BatchType, BuildHasherDefault<MixHasher>>,
    /// Encoded records of the batch, reused.
    records: Vec<Vec<u8>>,
    num_records: usize,
}

impl HistogramBatch {
    /// Whether the batch has no histograms (and so is one float segment).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.int.len + self.custom_int.len + self.float.len + self.custom_float.len == 0
    }

    /// Number of histogram samples.
    pub fn len(&self) -> usize {
        self.int.len + self.custom_int.len + self.float.len + self.custom_float.len
    }

    fn ends(&self, floats: usize) -> SegmentEnds {
        [
            floats,
            self.int.len,
            self.custom_int.len,
            self.float.len,
            self.custom_float.len,
        ]
    }

    fn cut_segment(&mut self, floats: usize) {
        let ends = self.ends(floats);
        self.segments.push(ends);
        for t in self.types.values_mut() {
            if let BatchType::Histogram(h) = *t {
                *t = BatchType::Earlier(h.kind());
            }
        }
    }

    /// Called before a float of `slot` joins the batch (as the
    /// `floats`-th float): a series with histograms in this segment
    /// starts a new one. `after_histogram`: the series' newest committed
    /// sample is a histogram.
    #[inline]
    pub fn before_float(&mut self, slot: u32, floats: usize, after_histogram: bool) {
        if self.types.is_empty() && !after_histogram {
            return;
        }
        let noted = match self.types.get(&slot) {
            Some(BatchType::Histogram(_)) => {
                self.cut_segment(floats);
                true
            }
            other => other.is_some(),
        };
        if noted || after_histogram {
            self.types.insert(slot, BatchType::Float);
        }
    }

    /// What the newest sample of `slot` in the batch is, if the batch
    /// knows: `Some(None)` floats, `Some(Some(kind))` histograms.
    pub fn kind_of(&self, slot: u32) -> Option<Option<SampleKind>> {
        match self.types.get(&slot)? {
            BatchType::Float => Some(None),
            BatchType::Histogram(t) => Some(Some(t.kind())),
            BatchType::Earlier(k) => Some(Some(*k)),
        }
    }

    fn before_histogram(&mut self, slot: u32, typ: HistogramType, floats: usize) {
        let typ = BatchType::Histogram(typ);
        match self.types.get(&slot) {
            Some(&t) if t == typ => {}
            // Histograms after floats of the series are fine in one
            // segment: a segment's floats are applied first.
            None | Some(BatchType::Float | BatchType::Earlier(_)) => {
                self.types.insert(slot, typ);
            }
            Some(_) => {
                self.cut_segment(floats);
                self.types.insert(slot, typ);
            }
        }
    }

    /// Adds an integer histogram of series `r` (in `slot`); `floats` is
    /// the batch's float count so far.
    pub fn push_int(&mut self, r: u64, t: i64, h: &Histogram, slot: u32, floats: usize) {
        let typ = HistogramType::of_int(h);
        self.before_histogram(slot, typ, floats);
        match typ {
            HistogramType::CustomInt => self.custom_int.push(r, t, h, slot),
            _ => self.int.push(r, t, h, slot),
        }
    }

    /// Adds a float histogram, as [`HistogramBatch::push_int`].
    pub fn push_float(&mut self, r: u64, t: i64, h: &FloatHistogram, slot: u32, floats: usize) {
        let typ = HistogramType::of_float(h);
        self.before_histogram(slot, typ, floats);
        match typ {
            HistogramType::CustomFloat => self.custom_float.push(r, t, h, slot),
            _ => self.float.push(r, t, h, slot),
        }
    }

    /// The segments in order, as the ranges of each list they cover.
    pub fn segments(
        &self,
        floats: usize,
    ) -> impl Iterator<Item = [std::ops::Range<usize>; 5]> + '_ {
        let last = self.ends(floats);
        let mut start = [0usize; 5];
        self.segments
            .iter()
            .copied()
            .chain(std::iter::once(last))
            .map(move |end| {
                let r = std::array::from_fn(|i| start[i]..end[i]);
                start = end;
                r
            })
    }

    /// Encodes the batch's records in log order: per segment, the floats
    /// of `floats` in its range, then each histogram type's record.
    /// Returns them (valid until the next call).
    pub fn encode(&mut self, floats: &[RefSample]) -> &[Vec<u8>] {
        let mut out = std::mem::take(&mut self.records);
        let mut n = 0;
        let mut next = |out: &mut Vec<Vec<u8>>| -> usize {
            if n == out.len() {
                out.push(Vec::new());
            }
            out[n].clear();
            n += 1;
            n - 1
        };
        for [f, hi, hc, fi, fc] in self.segments(floats.len()) {
            if !f.is_empty() {
                let i = next(&mut out);
                record::encode_samples(&floats[f], &mut out[i]);
            }
            if !hi.is_empty() {
                let i = next(&mut out);
                record::encode_histogram_samples(self.int.get(hi), &mut out[i]);
            }
            if !hc.is_empty() {
                let i = next(&mut out);
                record::encode_custom_buckets_histogram_samples(
                    self.custom_int.get(hc),
                    &mut out[i],
                );
            }
            if !fi.is_empty() {
                let i = next(&mut out);
                record::encode_float_histogram_samples(self.float.get(fi), &mut out[i]);
            }
            if !fc.is_empty() {
                let i = next(&mut out);
                record::encode_custom_buckets_float_histogram_samples(
                    self.custom_float.get(fc),
                    &mut out[i],
                );
            }
        }
        self.records = out;
        self.num_records = n;
        &self.records[..n]
    }

    /// Empties the batch, keeping allocations.
    pub fn clear(&mut self) {
        self.int.clear();
        self.custom_int.clear();
        self.float.clear();
        self.custom_float.clear();
        self.segments.clear();
        self.types.clear();
        self.num_records = 0;
    }
}
