//! The sample iterator every layer of Aion speaks.
//!
//! Chunks, head series, block series, merged series and PromQL inputs are all
//! read through [`SampleIterator`]. It is a cursor, not a `std::iter::Iterator`,
//! for the same reason Prometheus's `chunkenc.Iterator` is one: `seek` must be
//! able to skip forward without yielding, `at` must be callable repeatedly
//! without copying, and errors must not cost a `Result` per sample on the hot
//! path. A caller loops on `next()` until it returns [`ValueType::None`], then
//! checks [`SampleIterator::err`] once to tell "exhausted" from "failed".

use std::error::Error as StdError;

use aion_model::histogram::{FloatHistogram, Histogram};

/// What kind of sample an iterator is positioned on.
///
/// `None` means the iterator is exhausted (or failed: see
/// [`SampleIterator::err`]). The histogram kinds exist so that callers are
/// written for them from the start; they are produced once native
/// histograms are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// No sample: the iterator is exhausted or has failed.
    None,
    /// A float sample; read it with [`SampleIterator::at`].
    Float,
    /// An integer native histogram sample.
    Histogram,
    /// A float native histogram sample.
    FloatHistogram,
}

/// A forward-only cursor over the samples of one series, in increasing
/// timestamp order.
///
/// Contract (the same as Prometheus's):
/// * Before the first `next`/`seek` the iterator is not positioned and `at`
///   is unspecified (but must not panic).
/// * `next` advances by one sample.
/// * `seek(t)` advances to the first sample with timestamp `>= t`. If the
///   current sample already satisfies that, it does not move. It never moves
///   backwards.
/// * Once `None` has been returned, every later call returns `None`.
/// * `err` is checked after `None`; `Some` means the data could not be read
///   (corrupt chunk, I/O error) and the samples seen so far are incomplete.
pub trait SampleIterator: Send {
    /// Advances to the next sample.
    fn next(&mut self) -> ValueType;

    /// Advances to the first sample at or after `t` (milliseconds).
    fn seek(&mut self, t: i64) -> ValueType;

    /// The current float sample as `(timestamp_ms, value)`.
    fn at(&self) -> (i64, f64);

    /// The current integer histogram sample, written into `h` (whose
    /// vectors are reused, so a loop allocates nothing in steady state);
    /// returns its timestamp. Only meaningful after a move returned
    /// [`ValueType::Histogram`]; iterators of float-only data keep the
    /// default, which leaves `h` unchanged.
    fn at_histogram(&self, h: &mut Histogram) -> i64 {
        let _ = h;
        self.at_t()
    }

    /// The current sample as a float histogram, written into `fh`; valid
    /// after [`ValueType::FloatHistogram`] and (converted) after
    /// [`ValueType::Histogram`]. Returns its timestamp.
    fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
        let _ = fh;
        self.at_t()
    }

    /// The timestamp of the current sample, for any value type.
    fn at_t(&self) -> i64;

    /// Copies consecutive float samples, starting with the current one,
    /// into `ts`/`vs` while their timestamps are `<= maxt` and both
    /// buffers have room; returns how many were copied and where the
    /// iterator now stands: on the first sample not copied (its value
    /// type), or [`ValueType::None`].
    ///
    /// Call it when positioned on a float sample (after `next`/`seek`
    /// returned [`ValueType::Float`]). It is the batched form of the
    /// `at`/`next` loop, and what decoders and merges override to hand out
    /// samples without a call per sample; the default is that loop.
    ///
    /// ```
    /// use aion_chunkenc::{SampleIterator, ValueType, XorAppender, XorIterator};
    /// let mut app = XorAppender::new();
    /// for i in 0..10 {
    ///     app.append(i * 1000, i as f64).unwrap();
    /// }
    /// let mut it = XorIterator::new(app.bytes());
    /// let (mut ts, mut vs) = ([0i64; 4], [0f64; 4]);
    /// assert_eq!(it.seek(2000), ValueType::Float);
    /// assert_eq!(it.read_floats(&mut ts, &mut vs, 4000), (3, ValueType::Float));
    /// assert_eq!((&ts[..3], it.at_t()), (&[2000, 3000, 4000][..], 5000));
    /// ```
    fn read_floats(&mut self, ts: &mut [i64], vs: &mut [f64], maxt: i64) -> (usize, ValueType) {
        read_floats_stepwise(self, ts, vs, maxt)
    }

    /// A time at or before `maxt` at which this iterator will yield a
    /// sample (after its current position), as late as it can tell
    /// cheaply, or `i64::MIN` when it cannot say. Storage knows this from
    /// chunk metadata: the start of the newest chunk holding data at or
    /// before `maxt`.
    ///
    /// A caller that needs only the newest samples at or before `maxt`
    /// (`last_over_time`) may seek there and decode only the tail; if
    /// everything it finds there is unusable (stale markers), it must read
    /// the series again from the start: what the seek skipped is gone.
    /// The default (and any iterator over data with deletions to filter)
    /// says nothing.
    fn tail_start(&self, maxt: i64) -> i64 {
        let _ = maxt;
        i64::MIN
    }

    /// The start timestamp (ms) of the current sample: when the counter it
    /// belongs to started counting (OpenTelemetry's start time), 0 when
    /// unknown. Storages without start timestamps keep this default.
    fn at_st(&self) -> i64 {
        0
    }

    /// Why iteration stopped early, if it did.
    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)>;
}

/// [`SampleIterator::read_floats`] as the `at`/`next` loop: the default,
/// and the fallback of overrides for the cases they do not batch (a
/// deleted interval to filter, say).
pub fn read_floats_stepwise<I: SampleIterator + ?Sized>(
    it: &mut I,
    ts: &mut [i64],
    vs: &mut [f64],
    maxt: i64,
) -> (usize, ValueType) {
    let room = ts.len().min(vs.len());
    let mut n = 0;
    let mut vt = ValueType::Float;
    while n < room {
        let (t, v) = it.at();
        if t > maxt {
            break;
        }
        ts[n] = t;
        vs[n] = v;
        n += 1;
        vt = it.next();
        if vt != ValueType::Float {
            break;
        }
    }
    (n, vt)
}

impl<I: SampleIterator + ?Sized> SampleIterator for Box<I> {
    #[inline]
    fn next(&mut self) -> ValueType {
        (**self).next()
    }
    #[inline]
    fn seek(&mut self, t: i64) -> ValueType {
        (**self).seek(t)
    }
    #[inline]
    fn at(&self) -> (i64, f64) {
        (**self).at()
    }
    #[inline]
    fn at_histogram(&self, h: &mut Histogram) -> i64 {
        (**self).at_histogram(h)
    }
    #[inline]
    fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
        (**self).at_float_histogram(fh)
    }
    #[inline]
    fn at_t(&self) -> i64 {
        (**self).at_t()
    }
    #[inline]
    fn read_floats(&mut self, ts: &mut [i64], vs: &mut [f64], maxt: i64) -> (usize, ValueType) {
        (**self).read_floats(ts, vs, maxt)
    }
    #[inline]
    fn tail_start(&self, maxt: i64) -> i64 {
        (**self).tail_start(maxt)
    }
    #[inline]
    fn at_st(&self) -> i64 {
        (**self).at_st()
    }
    #[inline]
    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        (**self).err()
    }
}

/// An iterator over no samples; useful as a placeholder for series whose
/// data lies entirely outside a query's range.
#[derive(Debug, Default, Clone, Copy)]
pub struct EmptyIterator;

impl SampleIterator for EmptyIterator {
    fn next(&mut self) -> ValueType {
        ValueType::None
    }
    fn seek(&mut self, _t: i64) -> ValueType {
        ValueType::None
    }
    fn at(&self) -> (i64, f64) {
        (i64::MIN, f64::NAN)
    }
    fn at_t(&self) -> i64 {
        i64::MIN
    }
    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        None
    }
}

/// The Prometheus stale marker: a NaN with this exact bit pattern marks the
/// end of a series (a target disappeared or a rule stopped producing it).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The stale marker as an `f64`. Compare with [`is_stale_nan`], never with
/// `==` (NaN never equals anything).
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);

/// Whether `v` is the Prometheus stale marker (bit-exact; other NaNs are not).
///
/// ```
/// use aion_chunkenc::{is_stale_nan, STALE_NAN};
/// assert!(is_stale_nan(STALE_NAN));
/// assert!(!is_stale_nan(f64::NAN));
/// ```
#[inline]
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}
