//! Encoding integer histogram chunks (encoding 2).

use aion_model::histogram::{CounterResetHint, Histogram, Span, CUSTOM_BUCKETS_SCHEMA};

use super::layout::{bucket_count, Layout};
use super::spans::{
    compare_counter, compare_gauge, cumulative, expand_into, to_deltas, union_spans, SideChange,
};
use super::varbit::{put_varbit_int, put_varbit_uint};
use super::xor_value::XorField;
use super::{
    check_sides, header_bits, header_from_bits, AppendError, AppendOutcome, HistogramChunk,
    HistogramIterator, HEADER_LEN,
};
use crate::bstream::BitWriter;
use crate::{is_stale_nan, SampleIterator, ValueType, MAX_SAMPLES};

/// Bytes reserved for a new chunk: Prometheus cuts histogram chunks at
/// about 1 KiB.
const DEFAULT_CAPACITY: usize = 256;

/// Writes integer histograms into a chunk it owns, producing the bytes
/// Prometheus produces for the same histograms in the same order.
///
/// [`HistogramAppender::append`] decides, as Prometheus's appender does,
/// whether the histogram fits the chunk, needs it re-encoded to a wider
/// bucket layout, or belongs in a new chunk (see [`AppendOutcome`]);
/// [`HistogramAppender::start_after`] starts the next chunk when the
/// caller cuts by size, with the counter-reset header derived from this
/// one. [`HistogramAppender::bytes`] is a readable chunk at every moment.
///
/// ```
/// use aion_chunkenc::{AppendOutcome, HistogramAppender};
/// use aion_model::histogram::{CounterResetHint, Histogram, Span};
///
/// let h = |count: u64, buckets: Vec<i64>| Histogram {
///     count,
///     positive_spans: vec![Span { offset: 0, length: buckets.len() as u32 }],
///     positive_buckets: buckets,
///     ..Histogram::default()
/// };
/// let mut app = HistogramAppender::new();
/// assert!(matches!(app.append(0, &h(2, vec![2])).unwrap(), AppendOutcome::Appended));
/// // A new bucket: the chunk is re-encoded with two buckets.
/// assert!(matches!(app.append(15_000, &h(4, vec![2, 0])).unwrap(), AppendOutcome::Recoded));
/// // The count fell: a counter reset, so a new chunk.
/// match app.append(30_000, &h(1, vec![1, -1])).unwrap() {
///     AppendOutcome::NewChunk(next) => {
///         assert_eq!(next.counter_reset_header(), CounterResetHint::CounterReset);
///         assert_eq!(next.num_samples(), 1);
///     }
///     other => panic!("{other:?}"),
/// }
/// assert_eq!(app.num_samples(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct HistogramAppender {
    w: BitWriter,
    num: u16,
    layout: Layout,
    t: i64,
    cnt: u64,
    z_cnt: u64,
    t_delta: i64,
    cnt_delta: i64,
    z_cnt_delta: i64,
    /// Bucket values of the last sample, delta-encoded as in `Histogram`.
    p_buckets: Vec<i64>,
    n_buckets: Vec<i64>,
    /// Their change since the sample before.
    p_deltas: Vec<i64>,
    n_deltas: Vec<i64>,
    sum: XorField,
    /// A histogram padded to the chunk's layout, reused across appends.
    scratch: Histogram,
}

/// Whether a histogram fits the chunk, as Prometheus's `appendable` /
/// `appendableGauge` decide it.
enum Verdict {
    /// It fits; these sides need expanding.
    Fits(SideChange, SideChange),
    /// It needs a new chunk with this counter-reset header.
    Cut(CounterResetHint),
}

impl HistogramAppender {
    /// An appender for a new, empty chunk.
    pub fn new() -> Self {
        let mut w = BitWriter::with_capacity(DEFAULT_CAPACITY);
        w.write_bits(0, 8 * HEADER_LEN as u32);
        HistogramAppender {
            w,
            num: 0,
            layout: Layout::default(),
            t: i64::MIN,
            cnt: 0,
            z_cnt: 0,
            t_delta: 0,
            cnt_delta: 0,
            z_cnt_delta: 0,
            p_buckets: Vec::new(),
            n_buckets: Vec::new(),
            p_deltas: Vec::new(),
            n_deltas: Vec::new(),
            sum: XorField::for_writer(0),
            scratch: Histogram::default(),
        }
    }

    /// Continues appending to an existing chunk's bytes.
    ///
    /// The encoder state is rebuilt by decoding the chunk, as Prometheus's
    /// `HistogramChunk.Appender()` does (so the sum's XOR window starts
    /// from the reader's 0/0 state, as in Prometheus), and appending
    /// resumes at the bit where the last sample ends. Fails with the
    /// decoding error if `bytes` is not a readable chunk.
    ///
    /// ```
    /// use aion_chunkenc::HistogramAppender;
    /// use aion_model::histogram::{Histogram, Span};
    ///
    /// let h = |count: u64| Histogram {
    ///     count,
    ///     sum: count as f64,
    ///     positive_spans: vec![Span { offset: 0, length: 1 }],
    ///     positive_buckets: vec![count as i64],
    ///     ..Histogram::default()
    /// };
    /// let mut app = HistogramAppender::new();
    /// app.append(0, &h(1)).unwrap();
    /// let mut resumed = HistogramAppender::resume(app.bytes().to_vec()).unwrap();
    /// resumed.append(15_000, &h(3)).unwrap();
    /// assert_eq!(resumed.num_samples(), 2);
    /// ```
    pub fn resume(bytes: Vec<u8>) -> crate::Result<Self> {
        let mut it = HistogramIterator::new(&bytes);
        while it.next() == ValueType::Histogram {}
        if let Some(err) = it.error() {
            return Err(err.clone());
        }
        let mut app = HistogramAppender::new();
        if it.num_read == 0 {
            let flags = bytes[2];
            app.w.patch_byte(2, flags);
            return Ok(app);
        }
        let bit_len = it.r.position();
        let HistogramIterator {
            num_read,
            layout,
            t,
            cnt,
            z_cnt,
            t_delta,
            cnt_delta,
            z_cnt_delta,
            p_buckets,
            n_buckets,
            p_deltas,
            n_deltas,
            sum,
            ..
        } = it;
        app.num = num_read;
        app.layout = layout;
        app.t = t;
        app.cnt = cnt;
        app.z_cnt = z_cnt;
        app.t_delta = t_delta;
        app.cnt_delta = cnt_delta;
        app.z_cnt_delta = z_cnt_delta;
        app.p_buckets = p_buckets;
        app.n_buckets = n_buckets;
        app.p_deltas = p_deltas;
        app.n_deltas = n_deltas;
        app.sum = sum;
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
    pub fn chunk(&self) -> HistogramChunk<&[u8]> {
        HistogramChunk {
            bytes: self.bytes(),
        }
    }

    /// A cursor over the samples appended so far.
    pub fn iter(&self) -> HistogramIterator<'_> {
        HistogramIterator::new(self.bytes())
    }

    /// Ends appending and hands over the chunk.
    pub fn into_chunk(self) -> HistogramChunk {
        HistogramChunk {
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
    /// needed (see [`AppendOutcome`]). The first histogram of a chunk is
    /// always appended; its hint sets the header (gauge, counter reset).
    ///
    /// Fails if the chunk is full or `h` is malformed (bucket values not
    /// matching the spans, negative offsets after the first span).
    pub fn append(
        &mut self,
        t: i64,
        h: &Histogram,
    ) -> Result<AppendOutcome<HistogramAppender>, AppendError> {
        self.append_inner(t, h, false)
    }

    /// Like [`HistogramAppender::append`], but refuses (with
    /// [`AppendError::NotAppendable`]) anything other than a plain append:
    /// Prometheus's `appendOnly` mode, for chunks that must not be
    /// re-encoded or cut.
    pub fn append_in_place(&mut self, t: i64, h: &Histogram) -> Result<(), AppendError> {
        match self.append_inner(t, h, true)? {
            AppendOutcome::Appended => Ok(()),
            _ => Err(AppendError::NotAppendable("layout change")),
        }
    }

    /// A new chunk continuing this one, with `h` at `t` as its first
    /// sample: what a caller does when it cuts the chunk for size. The
    /// counter-reset header is derived from comparing `h` with this
    /// chunk's last sample, as Prometheus does for a chunk that follows
    /// another.
    pub fn start_after(&self, t: i64, h: &Histogram) -> Result<HistogramAppender, AppendError> {
        check(h)?;
        let mut next = HistogramAppender::new();
        next.write_sample(t, h);
        let header = match h.counter_reset_hint {
            CounterResetHint::Gauge => CounterResetHint::Gauge,
            CounterResetHint::CounterReset => CounterResetHint::CounterReset,
            _ => match self.verdict_counter(h) {
                Verdict::Fits(..) => CounterResetHint::NotCounterReset,
                Verdict::Cut(hint) => hint,
            },
        };
        next.set_header(header);
        Ok(next)
    }

    fn append_inner(
        &mut self,
        t: i64,
        h: &Histogram,
        in_place: bool,
    ) -> Result<AppendOutcome<HistogramAppender>, AppendError> {
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
                let mut next = HistogramAppender::new();
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
        let target: &Histogram = if backward {
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

    /// Prometheus's `appendable`: may the counter histogram `h` follow the
    /// chunk's last sample, and with which header would a new chunk start?
    fn verdict_counter(&self, h: &Histogram) -> Verdict {
        use CounterResetHint::*;
        if self.num > 0 && self.counter_reset_header() == Gauge {
            return Verdict::Cut(NotCounterReset);
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
        if h.count < self.cnt {
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
        if h.zero_count < self.z_cnt {
            return Verdict::Cut(CounterReset);
        }
        let sides = compare_counter(
            &self.layout.positive,
            cumulative(&self.p_buckets),
            &h.positive_spans,
            cumulative(&h.positive_buckets),
        )
        .zip(compare_counter(
            &self.layout.negative,
            cumulative(&self.n_buckets),
            &h.negative_spans,
            cumulative(&h.negative_buckets),
        ));
        match sides {
            Some((pos, neg)) => Verdict::Fits(pos, neg),
            None => Verdict::Cut(CounterReset),
        }
    }

    /// Prometheus's `appendableGauge`.
    fn verdict_gauge(&self, h: &Histogram) -> Verdict {
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

    /// Writes into `out` the histogram `h` with the chunk's buckets it lacks
    /// added as zeros. The spans it gets are Prometheus's choice: for
    /// counters, the chunk's own spans if nothing is new, else per side the
    /// canonical union where that side lacks buckets and `h`'s own spans
    /// elsewhere; for gauges, the canonical union on both sides.
    fn pad(
        &self,
        h: &Histogram,
        pos: SideChange,
        neg: SideChange,
        gauge: bool,
        forward: bool,
        out: &mut Histogram,
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
                expand_into(h_spans, cumulative(h_buckets), out_spans, out_buckets);
                to_deltas(out_buckets);
            }
        }
    }

    /// Re-encodes the chunk with the wider layout `positive`/`negative`
    /// (which address every bucket the chunk has), keeping its header.
    fn recode(&mut self, positive: &[Span], negative: &[Span]) {
        let mut fresh = HistogramAppender::new();
        let mut it = HistogramIterator::new(self.w.bytes());
        it.reduce = false; // re-encode what the chunk holds
        let mut old = Histogram::default();
        let mut wide = Histogram::default();
        while it.next() == ValueType::Histogram {
            let t = it.at_histogram(&mut old);
            wide.clone_from(&old);
            wide.positive_spans.clear();
            wide.positive_spans.extend_from_slice(positive);
            wide.negative_spans.clear();
            wide.negative_spans.extend_from_slice(negative);
            expand_into(
                &old.positive_spans,
                cumulative(&old.positive_buckets),
                positive,
                &mut wide.positive_buckets,
            );
            to_deltas(&mut wide.positive_buckets);
            expand_into(
                &old.negative_spans,
                cumulative(&old.negative_buckets),
                negative,
                &mut wide.negative_buckets,
            );
            to_deltas(&mut wide.negative_buckets);
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

    /// Encodes one sample (Prometheus's `appendHistogram`) and counts it. A stale marker is written without buckets (and
    /// with an empty layout if it is the first sample).
    fn write_sample(&mut self, t: i64, h: &Histogram) {
        let stale = is_stale_nan(h.sum);
        let (count, zero_count) = if stale {
            (0, 0)
        } else {
            (h.count, h.zero_count)
        };
        let (pos, neg): (&[i64], &[i64]) = if stale {
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
            let (np, nn) = (bucket_count(&l.positive), bucket_count(&l.negative));
            reset(&mut self.p_buckets, np);
            reset(&mut self.p_deltas, np);
            reset(&mut self.n_buckets, nn);
            reset(&mut self.n_deltas, nn);
            put_varbit_int(&mut self.w, t);
            put_varbit_uint(&mut self.w, count);
            put_varbit_uint(&mut self.w, zero_count);
            self.w.write_bits(h.sum.to_bits(), 64);
            self.sum.bits = h.sum.to_bits();
            for &b in pos.iter().chain(neg) {
                put_varbit_int(&mut self.w, b);
            }
            self.t_delta = 0;
            self.cnt_delta = 0;
            self.z_cnt_delta = 0;
        } else {
            let t_delta = t.wrapping_sub(self.t);
            let cnt_delta = (count as i64).wrapping_sub(self.cnt as i64);
            let z_cnt_delta = (zero_count as i64).wrapping_sub(self.z_cnt as i64);
            put_varbit_int(&mut self.w, t_delta.wrapping_sub(self.t_delta));
            if stale {
                put_varbit_int(&mut self.w, 0);
                put_varbit_int(&mut self.w, 0);
            } else {
                put_varbit_int(&mut self.w, cnt_delta.wrapping_sub(self.cnt_delta));
                put_varbit_int(&mut self.w, z_cnt_delta.wrapping_sub(self.z_cnt_delta));
            }
            self.sum.write(&mut self.w, h.sum.to_bits());
            for (values, last, deltas) in [
                (pos, &self.p_buckets, &mut self.p_deltas),
                (neg, &self.n_buckets, &mut self.n_deltas),
            ] {
                for ((&b, &prev), d) in values.iter().zip(last).zip(deltas.iter_mut()) {
                    let delta = b.wrapping_sub(prev);
                    put_varbit_int(&mut self.w, delta.wrapping_sub(*d));
                    *d = delta;
                }
            }
            self.t_delta = t_delta;
            self.cnt_delta = cnt_delta;
            self.z_cnt_delta = z_cnt_delta;
        }
        self.t = t;
        self.cnt = count;
        self.z_cnt = zero_count;
        copy_prefix(&mut self.p_buckets, pos);
        copy_prefix(&mut self.n_buckets, neg);
        self.num += 1;
        self.w.patch_u16_at_start(self.num);
    }
}

/// Validates `h` for encoding.
fn check(h: &Histogram) -> Result<(), AppendError> {
    if is_stale_nan(h.sum) {
        return Ok(()); // its buckets are not written
    }
    check_sides(
        &h.positive_spans,
        h.positive_buckets.len(),
        &h.negative_spans,
        h.negative_buckets.len(),
    )
}

/// Prometheus's `CustomBucketBoundsMatch`: equal lengths and `==` values.
pub(crate) fn bounds_match(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

fn reset<T: Default + Clone>(v: &mut Vec<T>, len: usize) {
    v.clear();
    v.resize(len, T::default());
}

/// Go's `copy(dst, src)`: as many as both hold.
fn copy_prefix<T: Copy>(dst: &mut [T], src: &[T]) {
    let n = dst.len().min(src.len());
    dst[..n].copy_from_slice(&src[..n]);
}

impl Default for HistogramAppender {
    fn default() -> Self {
        HistogramAppender::new()
    }
}
