//! Encoding float histogram chunks (encoding 3).

use aion_model::histogram::{CounterResetHint, FloatHistogram, Span, CUSTOM_BUCKETS_SCHEMA};

use super::int_appender::bounds_match;
use super::layout::Layout;
use super::spans::{compare_counter, compare_gauge, expand_into, union_spans, SideChange};
use super::varbit::put_varbit_int;
use super::xor_value::XorField;
use super::{
    check_sides, header_bits, header_from_bits, AppendError, AppendOutcome, FloatHistogramChunk,
    FloatHistogramIterator, HEADER_LEN,
};
use crate::bstream::BitWriter;
use crate::{is_stale_nan, SampleIterator, ValueType, MAX_SAMPLES};

const DEFAULT_CAPACITY: usize = 512;

/// Writes float histograms into a chunk it owns, byte-identical to
/// Prometheus's `FloatHistogramAppender`: the same structure as
/// [`HistogramAppender`](crate::HistogramAppender), with every field after
/// the first sample XOR-encoded against its previous value (each with its
/// own window).
///
/// ```
/// use aion_chunkenc::{AppendOutcome, FloatHistogramAppender, SampleIterator, ValueType};
/// use aion_model::histogram::{FloatHistogram, Span};
///
/// let mut app = FloatHistogramAppender::new();
/// let mut h = FloatHistogram {
///     count: 2.0,
///     sum: 1.5,
///     positive_spans: vec![Span { offset: 0, length: 2 }],
///     positive_buckets: vec![0.5, 1.5],
///     ..FloatHistogram::default()
/// };
/// assert!(matches!(app.append(0, &h).unwrap(), AppendOutcome::Appended));
/// h.count = 3.0;
/// h.positive_buckets[1] = 2.5;
/// assert!(matches!(app.append(15_000, &h).unwrap(), AppendOutcome::Appended));
/// let mut it = app.iter();
/// let mut got = FloatHistogram::default();
/// while it.next() == ValueType::FloatHistogram {
///     it.at_float_histogram(&mut got);
/// }
/// assert_eq!(got.positive_buckets, [0.5, 2.5]);
/// ```
#[derive(Debug, Clone)]
pub struct FloatHistogramAppender {
    w: BitWriter,
    num: u16,
    layout: Layout,
    t: i64,
    t_delta: i64,
    cnt: XorField,
    z_cnt: XorField,
    sum: XorField,
    p_buckets: Vec<XorField>,
    n_buckets: Vec<XorField>,
    scratch: FloatHistogram,
}

/// Whether a float histogram fits the chunk.
enum Verdict {
    Fits(SideChange, SideChange),
    Cut(CounterResetHint),
}

impl FloatHistogramAppender {
    /// An appender for a new, empty chunk.
    pub fn new() -> Self {
        let mut w = BitWriter::with_capacity(DEFAULT_CAPACITY);
        w.write_bits(0, 8 * HEADER_LEN as u32);
        FloatHistogramAppender {
            w,
            num: 0,
            layout: Layout::default(),
            t: i64::MIN,
            t_delta: 0,
            cnt: XorField::for_writer(0),
            z_cnt: XorField::for_writer(0),
            sum: XorField::for_writer(0),
            p_buckets: Vec::new(),
            n_buckets: Vec::new(),
            scratch: FloatHistogram::default(),
        }
    }

    /// Continues appending to an existing chunk's bytes, with the encoder
    /// state rebuilt by decoding it (every field's XOR window as the
    /// reader left it, as Prometheus's `FloatHistogramChunk.Appender()`
    /// does). Fails with the decoding error if `bytes` is not readable.
    pub fn resume(bytes: Vec<u8>) -> crate::Result<Self> {
        let mut it = FloatHistogramIterator::new(&bytes);
        while it.next() == ValueType::FloatHistogram {}
        if let Some(err) = it.error() {
            return Err(err.clone());
        }
        let mut app = FloatHistogramAppender::new();
        if it.num_read == 0 {
            let flags = bytes[2];
            app.w.patch_byte(2, flags);
            return Ok(app);
        }
        let bit_len = it.r.position();
        let FloatHistogramIterator {
            num_read,
            layout,
            t,
            t_delta,
            cnt,
            z_cnt,
            sum,
            p_buckets,
            n_buckets,
            ..
        } = it;
        app.num = num_read;
        app.layout = layout;
        app.t = t;
        app.t_delta = t_delta;
        app.cnt = cnt;
        app.z_cnt = z_cnt;
        app.sum = sum;
        app.p_buckets = p_buckets;
        app.n_buckets = n_buckets;
        app.w = BitWriter::resume(bytes, bit_len);
        Ok(app)
    }

    /// Number of samples in the chunk.
    pub fn num_samples(&self) -> usize {
        usize::from(self.num)
    }

    /// Time of the last sample, `None` while the chunk is empty: what a
    /// head reads instead of keeping a copy per open chunk.
    pub fn last_time(&self) -> Option<i64> {
        (self.num > 0).then_some(self.t)
    }

    /// The chunk as encoded so far.
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// The chunk as encoded so far, borrowed.
    pub fn chunk(&self) -> FloatHistogramChunk<&[u8]> {
        FloatHistogramChunk {
            bytes: self.bytes(),
        }
    }

    /// A cursor over the samples appended so far.
    pub fn iter(&self) -> FloatHistogramIterator<'_> {
        FloatHistogramIterator::new(self.bytes())
    }

    /// Ends appending and hands over the chunk.
    pub fn into_chunk(self) -> FloatHistogramChunk {
        FloatHistogramChunk {
            bytes: self.w.into_bytes(),
        }
    }

    /// The counter-reset header of the chunk.
    pub fn counter_reset_header(&self) -> CounterResetHint {
        header_from_bits(self.bytes()[2])
    }

    fn set_header(&mut self, hint: CounterResetHint) {
        let flags = self.bytes()[2] & !0b1100_0000 | header_bits(hint);
        self.w.patch_byte(2, flags);
    }

    /// Appends `h` at `t`, re-encoding the chunk or starting a new one as
    /// needed (see [`AppendOutcome`]).
    pub fn append(
        &mut self,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<AppendOutcome<FloatHistogramAppender>, AppendError> {
        self.append_inner(t, h, false)
    }

    /// Like [`FloatHistogramAppender::append`], refusing anything but a
    /// plain append (Prometheus's `appendOnly`).
    pub fn append_in_place(&mut self, t: i64, h: &FloatHistogram) -> Result<(), AppendError> {
        match self.append_inner(t, h, true)? {
            AppendOutcome::Appended => Ok(()),
            _ => Err(AppendError::NotAppendable("layout change")),
        }
    }

    /// A new chunk continuing this one with `h` at `t` as its first sample
    /// (a cut for size): its header says whether `h` is a counter reset
    /// relative to this chunk's last sample.
    pub fn start_after(
        &self,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<FloatHistogramAppender, AppendError> {
        check(h)?;
        let mut next = FloatHistogramAppender::new();
        next.write_sample(t, h);
        let header = match h.counter_reset_hint {
            CounterResetHint::Gauge => CounterResetHint::Gauge,
            CounterResetHint::CounterReset => CounterResetHint::CounterReset,
            _ => match self.verdict_counter(h) {
                Verdict::Cut(CounterResetHint::CounterReset) => CounterResetHint::CounterReset,
                _ => CounterResetHint::NotCounterReset,
            },
        };
        next.set_header(header);
        Ok(next)
    }

    fn append_inner(
        &mut self,
        t: i64,
        h: &FloatHistogram,
        in_place: bool,
    ) -> Result<AppendOutcome<FloatHistogramAppender>, AppendError> {
        if usize::from(self.num) >= MAX_SAMPLES {
            return Err(AppendError::Full);
        }
        check(h)?;
        if self.num == 0 {
            self.write_sample(t, h);
            match h.counter_reset_hint {
                CounterResetHint::Gauge => self.set_header(CounterResetHint::Gauge),
                CounterResetHint::CounterReset => self.set_header(CounterResetHint::CounterReset),
                _ => {}
            }
            return Ok(AppendOutcome::Appended);
        }
        let gauge = h.counter_reset_hint == CounterResetHint::Gauge;
        let verdict = if gauge {
            self.verdict_gauge(h)
        } else {
            self.verdict_counter(h)
        };
        let (pos, neg) = match verdict {
            Verdict::Cut(_) if in_place => {
                return Err(AppendError::NotAppendable(
                    "counter reset, schema change or incompatible layout",
                ))
            }
            Verdict::Cut(header) => {
                let mut next = FloatHistogramAppender::new();
                next.set_header(header);
                next.write_sample(t, h);
                return Ok(AppendOutcome::NewChunk(next));
            }
            Verdict::Fits(pos, neg) => (pos, neg),
        };
        let forward = pos.forward || neg.forward;
        let backward = pos.backward || neg.backward;
        if in_place && (forward || backward) {
            return Err(AppendError::NotAppendable("new or missing buckets"));
        }
        if !backward && !forward {
            self.write_sample(t, h);
            return Ok(AppendOutcome::Appended);
        }
        let mut padded = std::mem::take(&mut self.scratch);
        let target: &FloatHistogram = if backward {
            self.pad(h, pos, neg, gauge, forward, &mut padded);
            &padded
        } else {
            h
        };
        if forward {
            self.recode(&target.positive_spans, &target.negative_spans);
        }
        self.write_sample(t, target);
        self.scratch = padded;
        Ok(if forward {
            AppendOutcome::Recoded
        } else {
            AppendOutcome::Appended
        })
    }

    /// Prometheus's float `appendable`. Unlike the integer appender's, its
    /// cuts carry only "counter reset" or "unknown".
    fn verdict_counter(&self, h: &FloatHistogram) -> Verdict {
        use CounterResetHint::*;
        if self.num > 0 && self.counter_reset_header() == Gauge {
            return Verdict::Cut(Unknown);
        }
        if h.counter_reset_hint == CounterReset {
            return Verdict::Cut(CounterReset);
        }
        if is_stale_nan(h.sum) {
            return Verdict::Fits(SideChange::default(), SideChange::default());
        }
        if is_stale_nan(self.sum.value()) {
            return Verdict::Cut(Unknown);
        }
        if h.count < self.cnt.value() {
            return Verdict::Cut(CounterReset);
        }
        if h.schema != self.layout.schema || h.zero_threshold != self.layout.zero_threshold {
            return Verdict::Cut(Unknown);
        }
        if h.schema == CUSTOM_BUCKETS_SCHEMA
            && !bounds_match(&h.custom_values, &self.layout.custom_values)
        {
            return Verdict::Cut(CounterReset);
        }
        if h.zero_count < self.z_cnt.value() {
            return Verdict::Cut(CounterReset);
        }
        let sides = compare_counter(
            &self.layout.positive,
            self.p_buckets.iter().map(XorField::value),
            &h.positive_spans,
            h.positive_buckets.iter().copied(),
        )
        .zip(compare_counter(
            &self.layout.negative,
            self.n_buckets.iter().map(XorField::value),
            &h.negative_spans,
            h.negative_buckets.iter().copied(),
        ));
        match sides {
            Some((pos, neg)) => Verdict::Fits(pos, neg),
            None => Verdict::Cut(CounterReset),
        }
    }

    /// Prometheus's float `appendableGauge`.
    fn verdict_gauge(&self, h: &FloatHistogram) -> Verdict {
        let cut = Verdict::Cut(CounterResetHint::Gauge);
        if self.num > 0 && self.counter_reset_header() != CounterResetHint::Gauge {
            return cut;
        }
        if is_stale_nan(h.sum) {
            return Verdict::Fits(SideChange::default(), SideChange::default());
        }
        if is_stale_nan(self.sum.value())
            || h.schema != self.layout.schema
            || h.zero_threshold != self.layout.zero_threshold
            || (h.schema == CUSTOM_BUCKETS_SCHEMA
                && !bounds_match(&h.custom_values, &self.layout.custom_values))
        {
            return cut;
        }
        Verdict::Fits(
            compare_gauge(&self.layout.positive, &h.positive_spans),
            compare_gauge(&self.layout.negative, &h.negative_spans),
        )
    }

    /// `h` padded with zero buckets for the chunk's buckets it lacks (see
    /// the integer appender for which spans it gets).
    fn pad(
        &self,
        h: &FloatHistogram,
        pos: SideChange,
        neg: SideChange,
        gauge: bool,
        forward: bool,
        out: &mut FloatHistogram,
    ) {
        out.clone_from(h);
        for (side, a, h_spans, h_buckets, out_spans, out_buckets) in [
            (
                pos,
                &self.layout.positive,
                &h.positive_spans,
                &h.positive_buckets,
                &mut out.positive_spans,
                &mut out.positive_buckets,
            ),
            (
                neg,
                &self.layout.negative,
                &h.negative_spans,
                &h.negative_buckets,
                &mut out.negative_spans,
                &mut out.negative_buckets,
            ),
        ] {
            if gauge || side.backward {
                union_spans(a, h_spans, out_spans);
            } else if !forward {
                out_spans.clone_from(a);
            }
            if side.backward {
                expand_into(h_spans, h_buckets.iter().copied(), out_spans, out_buckets);
            }
        }
    }

    /// Re-encodes the chunk with a wider layout, keeping its header.
    fn recode(&mut self, positive: &[Span], negative: &[Span]) {
        let mut fresh = FloatHistogramAppender::new();
        let mut it = FloatHistogramIterator::new(self.w.bytes());
        it.reduce = false; // re-encode what the chunk holds
        let mut old = FloatHistogram::default();
        let mut wide = FloatHistogram::default();
        while it.next() == ValueType::FloatHistogram {
            let t = it.at_float_histogram(&mut old);
            wide.clone_from(&old);
            wide.positive_spans.clear();
            wide.positive_spans.extend_from_slice(positive);
            wide.negative_spans.clear();
            wide.negative_spans.extend_from_slice(negative);
            expand_into(
                &old.positive_spans,
                old.positive_buckets.iter().copied(),
                positive,
                &mut wide.positive_buckets,
            );
            expand_into(
                &old.negative_spans,
                old.negative_buckets.iter().copied(),
                negative,
                &mut wide.negative_buckets,
            );
            fresh.write_sample(t, &wide);
        }
        debug_assert!(
            it.error().is_none(),
            "own chunk unreadable: {:?}",
            it.error()
        );
        fresh.set_header(self.counter_reset_header());
        fresh.scratch = std::mem::take(&mut self.scratch);
        *self = fresh;
    }

    /// Encodes one sample (Prometheus's `appendFloatHistogram`) and counts
    /// it. A stale marker has zero counts and no buckets.
    fn write_sample(&mut self, t: i64, h: &FloatHistogram) {
        let stale = is_stale_nan(h.sum);
        let (count, zero_count) = if stale {
            (0.0, 0.0)
        } else {
            (h.count, h.zero_count)
        };
        let (pos, neg): (&[f64], &[f64]) = if stale {
            (&[], &[])
        } else {
            (&h.positive_buckets, &h.negative_buckets)
        };
        if self.num == 0 {
            if stale {
                self.layout = Layout::default();
            } else {
                self.layout.set(
                    h.schema,
                    h.zero_threshold,
                    &h.positive_spans,
                    &h.negative_spans,
                    if h.schema == CUSTOM_BUCKETS_SCHEMA {
                        &h.custom_values
                    } else {
                        &[]
                    },
                );
            }
            let l = &self.layout;
            Layout::write(
                &mut self.w,
                l.schema,
                l.zero_threshold,
                &l.positive,
                &l.negative,
                &l.custom_values,
            );
            put_varbit_int(&mut self.w, t);
            for v in [count, zero_count, h.sum] {
                self.w.write_bits(v.to_bits(), 64);
            }
            self.cnt.bits = count.to_bits();
            self.z_cnt.bits = zero_count.to_bits();
            self.sum.bits = h.sum.to_bits();
            for (fields, values) in [(&mut self.p_buckets, pos), (&mut self.n_buckets, neg)] {
                fields.clear();
                for &v in values {
                    self.w.write_bits(v.to_bits(), 64);
                    fields.push(XorField::for_writer(v.to_bits()));
                }
            }
            self.t_delta = 0;
        } else {
            let t_delta = t.wrapping_sub(self.t);
            put_varbit_int(&mut self.w, t_delta.wrapping_sub(self.t_delta));
            self.cnt.write(&mut self.w, count.to_bits());
            self.z_cnt.write(&mut self.w, zero_count.to_bits());
            self.sum.write(&mut self.w, h.sum.to_bits());
            for (fields, values) in [(&mut self.p_buckets, pos), (&mut self.n_buckets, neg)] {
                for (f, &v) in fields.iter_mut().zip(values) {
                    f.write(&mut self.w, v.to_bits());
                }
            }
            self.t_delta = t_delta;
        }
        self.t = t;
        self.num += 1;
        self.w.patch_u16_at_start(self.num);
    }
}

fn check(h: &FloatHistogram) -> Result<(), AppendError> {
    if is_stale_nan(h.sum) {
        return Ok(());
    }
    check_sides(
        &h.positive_spans,
        h.positive_buckets.len(),
        &h.negative_spans,
        h.negative_buckets.len(),
    )
}

impl Default for FloatHistogramAppender {
    fn default() -> Self {
        FloatHistogramAppender::new()
    }
}
