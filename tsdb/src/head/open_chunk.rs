//! The appender of a series' open chunk: one of the four encodings the
//! head writes, as an enum (not a trait object) so the float append stays
//! a direct call; and what kind of sample a series holds last.

use aion_chunkenc::{
    Encoding, FloatHistogramAppender, HistogramAppender, SampleIterator, ValueType, Xor2Appender,
    XorAppender,
};
use aion_model::histogram::{FloatHistogram, Histogram};

use crate::FloatChunkEncoding;

/// The kind of a sample: what its chunk encoding holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum SampleKind {
    Float = 0,
    Histogram = 1,
    FloatHistogram = 2,
}

impl SampleKind {
    /// The kind a chunk of `encoding` holds (`None` for encodings the head
    /// does not read).
    pub fn of_encoding(encoding: u8) -> Option<SampleKind> {
        match Encoding::try_from(encoding).ok()? {
            Encoding::Xor | Encoding::Xor2 => Some(SampleKind::Float),
            Encoding::Histogram => Some(SampleKind::Histogram),
            Encoding::FloatHistogram => Some(SampleKind::FloatHistogram),
            _ => None,
        }
    }

    pub fn from_u8(b: u8) -> SampleKind {
        match b {
            1 => SampleKind::Histogram,
            2 => SampleKind::FloatHistogram,
            _ => SampleKind::Float,
        }
    }
}

/// The appender of an open chunk.
///
/// All but the XOR appender are boxed, so the enum is no larger than it
/// and float series, the common case, keep the layout (and speed) they
/// had: histogram appenders carry bucket state of a few hundred bytes,
/// and XOR2 (opt-in) is 16 bytes larger than XOR.
#[derive(Debug)]
pub(crate) enum ChunkAppender {
    Xor(XorAppender),
    Xor2(Box<Xor2Appender>),
    Histogram(Box<HistogramAppender>),
    FloatHistogram(Box<FloatHistogramAppender>),
}

impl ChunkAppender {
    /// An empty float chunk of the configured encoding.
    pub fn new_float(encoding: FloatChunkEncoding) -> ChunkAppender {
        match encoding {
            FloatChunkEncoding::Xor => ChunkAppender::Xor(XorAppender::new()),
            FloatChunkEncoding::Xor2 => ChunkAppender::Xor2(Box::new(Xor2Appender::new())),
        }
    }

    /// The chunk's encoding.
    pub fn encoding(&self) -> Encoding {
        match self {
            ChunkAppender::Xor(_) => Encoding::Xor,
            ChunkAppender::Xor2(_) => Encoding::Xor2,
            ChunkAppender::Histogram(_) => Encoding::Histogram,
            ChunkAppender::FloatHistogram(_) => Encoding::FloatHistogram,
        }
    }

    /// The kind of samples the chunk holds.
    pub fn kind(&self) -> SampleKind {
        match self {
            ChunkAppender::Xor(_) | ChunkAppender::Xor2(_) => SampleKind::Float,
            ChunkAppender::Histogram(_) => SampleKind::Histogram,
            ChunkAppender::FloatHistogram(_) => SampleKind::FloatHistogram,
        }
    }

    /// The chunk as encoded so far.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        match self {
            ChunkAppender::Xor(a) => a.bytes(),
            ChunkAppender::Xor2(a) => a.bytes(),
            ChunkAppender::Histogram(a) => a.bytes(),
            ChunkAppender::FloatHistogram(a) => a.bytes(),
        }
    }

    /// Time of the last sample, `None` while the chunk is empty.
    #[inline]
    pub fn last_time(&self) -> Option<i64> {
        match self {
            ChunkAppender::Xor(a) => a.last().map(|(t, _)| t),
            ChunkAppender::Xor2(a) => a.last_time(),
            ChunkAppender::Histogram(a) => a.last_time(),
            ChunkAppender::FloatHistogram(a) => a.last_time(),
        }
    }

    /// Time of the first sample, `None` while the chunk is empty, decoded
    /// from the chunk's start: a header and a varint for float chunks; a
    /// histogram chunk decodes its first histogram.
    pub fn first_time(&self) -> Option<i64> {
        fn first(it: &mut dyn SampleIterator) -> Option<i64> {
            (it.next() != ValueType::None).then(|| it.at_t())
        }
        match self {
            ChunkAppender::Xor(a) => a.first_time(),
            ChunkAppender::Xor2(a) => first(&mut a.iter()),
            ChunkAppender::Histogram(a) => first(&mut a.iter()),
            ChunkAppender::FloatHistogram(a) => first(&mut a.iter()),
        }
    }

    /// Number of samples in the chunk.
    #[inline]
    pub fn num_samples(&self) -> usize {
        match self {
            ChunkAppender::Xor(a) => a.num_samples(),
            ChunkAppender::Xor2(a) => a.num_samples(),
            ChunkAppender::Histogram(a) => a.num_samples(),
            ChunkAppender::FloatHistogram(a) => a.num_samples(),
        }
    }

    /// Estimated heap bytes: the chunk, and a boxed appender's state.
    pub fn heap_bytes(&self) -> usize {
        match self {
            ChunkAppender::Xor(a) => a.bytes().len(),
            ChunkAppender::Xor2(a) => std::mem::size_of::<Xor2Appender>() + a.bytes().len(),
            ChunkAppender::Histogram(a) => {
                std::mem::size_of::<HistogramAppender>() + a.bytes().len()
            }
            ChunkAppender::FloatHistogram(a) => {
                std::mem::size_of::<FloatHistogramAppender>() + a.bytes().len()
            }
        }
    }

    /// The value of the last float sample (0 if the chunk holds no float).
    pub fn last_float(&self) -> f64 {
        match self {
            ChunkAppender::Xor(a) => a.last().map_or(0.0, |(_, v)| v),
            ChunkAppender::Xor2(a) => {
                // Not kept by the XOR2 appender (its baseline skips stale
                // markers); read once, after replay or truncation.
                let mut it = a.iter();
                let mut v = 0.0;
                while it.next() == ValueType::Float {
                    v = it.at().1;
                }
                v
            }
            _ => 0.0,
        }
    }

    /// The last histogram of a histogram chunk.
    pub fn last_histogram(&self) -> Option<LastHistogram> {
        match self {
            ChunkAppender::Histogram(a) => last_of(&mut a.iter()),
            ChunkAppender::FloatHistogram(a) => last_of(&mut a.iter()),
            _ => None,
        }
    }
}

/// The last sample of a chunk, if it is a histogram (decoded into
/// reused buffers on the way).
pub(crate) fn last_of(it: &mut dyn SampleIterator) -> Option<LastHistogram> {
    let (mut ih, mut fh) = (Histogram::default(), FloatHistogram::default());
    let mut last = None;
    loop {
        match it.next() {
            ValueType::None => break,
            ValueType::Histogram => {
                it.at_histogram(&mut ih);
                last = Some(SampleKind::Histogram);
            }
            ValueType::FloatHistogram => {
                it.at_float_histogram(&mut fh);
                last = Some(SampleKind::FloatHistogram);
            }
            ValueType::Float => last = None,
        }
    }
    match last? {
        SampleKind::Histogram => Some(LastHistogram::Int(ih)),
        SampleKind::FloatHistogram => Some(LastHistogram::Float(fh)),
        SampleKind::Float => None,
    }
}

/// What a series that has had histograms keeps about them, boxed in its
/// state so float series pay a pointer for it.
#[derive(Debug, Default)]
pub(crate) struct HistogramState {
    /// The newest in-order sample if it is a histogram and is known (set
    /// by histogram appends, read back from the chunks when needed).
    pub last: Option<LastHistogram>,
    /// Whether the open histogram chunk's end time was estimated already
    /// (Prometheus's `histogramChunkHasComputedEndTime`).
    pub end_computed: bool,
    /// Time of the first sample of the open histogram chunk, which the
    /// cut decision reads at every histogram append: kept here, where
    /// only histogram series pay for it, rather than decoded each time
    /// (the open chunk itself no longer stores it).
    pub open_min_time: i64,
}

/// The newest histogram of a series, kept to decide whether a histogram
/// appended at its timestamp is an identical duplicate (Prometheus's
/// `lastHistogramValue` / `lastFloatHistogramValue`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LastHistogram {
    Int(Histogram),
    Float(FloatHistogram),
}

impl LastHistogram {
    /// Estimated heap bytes.
    pub fn heap_bytes(&self) -> usize {
        let spans =
            |p: usize, n: usize| (p + n) * std::mem::size_of::<aion_model::histogram::Span>();
        std::mem::size_of::<LastHistogram>()
            + match self {
                LastHistogram::Int(h) => {
                    spans(h.positive_spans.len(), h.negative_spans.len())
                        + (h.positive_buckets.len() + h.negative_buckets.len()) * 8
                        + h.custom_values.len() * 8
                }
                LastHistogram::Float(h) => {
                    spans(h.positive_spans.len(), h.negative_spans.len())
                        + (h.positive_buckets.len() + h.negative_buckets.len()) * 8
                        + h.custom_values.len() * 8
                }
            }
    }

    /// Overwrites `slot` with `h`, reusing the vectors of a histogram of
    /// the same kind already there (no allocation in steady state).
    pub fn store_int(slot: &mut Option<LastHistogram>, h: &Histogram) {
        match slot {
            Some(LastHistogram::Int(old)) => old.clone_from(h),
            _ => *slot = Some(LastHistogram::Int(h.clone())),
        }
    }

    /// As [`LastHistogram::store_int`], for a float histogram.
    pub fn store_float(slot: &mut Option<LastHistogram>, h: &FloatHistogram) {
        match slot {
            Some(LastHistogram::Float(old)) => old.clone_from(h),
            _ => *slot = Some(LastHistogram::Float(h.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::histogram_test_support::simple as h;

    #[test]
    fn kinds_follow_encodings() {
        assert_eq!(SampleKind::of_encoding(1), Some(SampleKind::Float));
        assert_eq!(SampleKind::of_encoding(4), Some(SampleKind::Float));
        assert_eq!(SampleKind::of_encoding(2), Some(SampleKind::Histogram));
        assert_eq!(SampleKind::of_encoding(3), Some(SampleKind::FloatHistogram));
        assert_eq!(SampleKind::of_encoding(5), None);
        assert_eq!(SampleKind::of_encoding(99), None);
        for k in [
            SampleKind::Float,
            SampleKind::Histogram,
            SampleKind::FloatHistogram,
        ] {
            assert_eq!(SampleKind::from_u8(k as u8), k);
        }
    }

    #[test]
    fn last_values_are_read_back_from_each_encoding() {
        let mut x2 = Xor2Appender::new();
        x2.append(0, 1, 3.5).unwrap();
        x2.append(0, 2, aion_chunkenc::STALE_NAN).unwrap();
        let x2 = ChunkAppender::Xor2(Box::new(x2));
        assert!(aion_chunkenc::is_stale_nan(x2.last_float()));
        assert_eq!(x2.encoding(), Encoding::Xor2);
        let mut ha = HistogramAppender::new();
        ha.append(1, &h(1)).unwrap();
        ha.append(2, &h(4)).unwrap();
        let ha = ChunkAppender::Histogram(Box::new(ha));
        match ha.last_histogram() {
            Some(LastHistogram::Int(got)) => assert!(got.equals(&h(4))),
            other => panic!("{other:?}"),
        }
        let mut fa = FloatHistogramAppender::new();
        fa.append(1, &h(2).to_float()).unwrap();
        let fa = ChunkAppender::FloatHistogram(Box::new(fa));
        match fa.last_histogram() {
            Some(LastHistogram::Float(got)) => assert!(got.equals(&h(2).to_float())),
            other => panic!("{other:?}"),
        }
        assert_eq!(fa.kind(), SampleKind::FloatHistogram);
        assert_eq!(
            ChunkAppender::new_float(FloatChunkEncoding::Xor).last_histogram(),
            None
        );
    }

    #[test]
    fn storing_reuses_the_vectors_of_the_same_kind() {
        let mut slot = None;
        LastHistogram::store_int(&mut slot, &h(1));
        let buckets = |s: &Option<LastHistogram>| match s {
            Some(LastHistogram::Int(h)) => h.positive_buckets.as_ptr(),
            _ => std::ptr::null(),
        };
        let before = buckets(&slot);
        LastHistogram::store_int(&mut slot, &h(2));
        assert_eq!(buckets(&slot), before);
        LastHistogram::store_float(&mut slot, &h(3).to_float());
        assert!(matches!(slot, Some(LastHistogram::Float(_))));
    }

    #[test]
    fn the_appender_enum_is_no_larger_than_the_xor_appender_and_a_tag() {
        // The XOR appender's buffer is a boxed slice, whose pointer has one
        // niche only, so the enum's tag takes a word of its own.
        assert!(
            std::mem::size_of::<ChunkAppender>() <= std::mem::size_of::<XorAppender>() + 8,
            "{} > {} + 8",
            std::mem::size_of::<ChunkAppender>(),
            std::mem::size_of::<XorAppender>()
        );
    }
}
