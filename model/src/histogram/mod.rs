//! Native histogram samples, in Prometheus's representation
//! (`model/histogram`): exponential buckets addressed by spans, or custom
//! bucket bounds (schema −53).
//!
//! These are the values the storage traits carry for histogram samples
//! (`SampleIterator::at_histogram`, `Appender::append_histogram`) and
//! PromQL computes with, with Prometheus's semantics:
//!
//! | file | concept |
//! |---|---|
//! | `buckets.rs` | bucket bounds (exponential and custom), bucket iterators |
//! | `compact.rs` | dropping empty buckets, merging spans |
//! | `arith.rs` | `+`/`-` between histograms, `*`/`/` by scalars |
//! | `reset.rs` | counter-reset detection |
//! | `trim.rs` | trimming at a value (`</`, `>/`) |
//! | `reduce.rs` | lowering the resolution (schema) |
//! | `display.rs` | Prometheus's text forms |
//! | `validate.rs` | whether a histogram may be stored (Prometheus's `Validate`) |

mod arith;
mod buckets;
mod compact;
mod display;
mod reduce;
mod reset;
mod trim;
mod validate;

#[cfg(test)]
mod proptests;

pub use arith::{HistogramOpError, OpOutcome};
pub use buckets::{bucket_bound, exponential_bound, Bucket, BucketIter, IndexedCounts};
pub use reduce::target_index;
pub use validate::{
    is_exponential_schema, HistogramError, Side, EXPONENTIAL_SCHEMA_MAX, EXPONENTIAL_SCHEMA_MIN,
};

/// A run of consecutive buckets: `offset` buckets after the end of the
/// previous span (or from index 0 for the first), `length` buckets long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Gap to the previous span's end (or the start index of the first).
    pub offset: i32,
    /// Number of buckets in the span.
    pub length: u32,
}

/// What a histogram says about a counter reset before it, as stored in a
/// chunk header (Prometheus's `CounterResetHint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CounterResetHint {
    /// Not known; decide by comparing with the previous histogram.
    #[default]
    Unknown,
    /// A counter reset happened before this histogram.
    CounterReset,
    /// No counter reset happened before this histogram.
    NotCounterReset,
    /// A gauge histogram: counter resets do not apply.
    Gauge,
}

/// The schema of histograms with custom bucket bounds (NHCB).
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// An integer native histogram: bucket counts stored as deltas between
/// consecutive buckets, as Prometheus's `histogram.Histogram`.
///
/// `clone_from` reuses the target's vectors, so copying histograms into
/// buffers kept across samples allocates nothing in steady state.
#[derive(Debug, PartialEq, Default)]
pub struct Histogram {
    /// Counter-reset information.
    pub counter_reset_hint: CounterResetHint,
    /// Resolution: bucket bounds grow by `2^(2^-schema)`; −4…8, or
    /// [`CUSTOM_BUCKETS_SCHEMA`].
    pub schema: i32,
    /// Width of the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// Total observations.
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
    /// Spans of positive buckets.
    pub positive_spans: Vec<Span>,
    /// Spans of negative buckets.
    pub negative_spans: Vec<Span>,
    /// Positive bucket counts, each as the delta to the previous bucket.
    pub positive_buckets: Vec<i64>,
    /// Negative bucket counts, each as the delta to the previous bucket.
    pub negative_buckets: Vec<i64>,
    /// Upper bounds of custom buckets (schema −53 only).
    pub custom_values: Vec<f64>,
}

/// A float native histogram: absolute bucket counts, as Prometheus's
/// `histogram.FloatHistogram` (what PromQL computes with).
///
/// `clone_from` reuses the target's vectors, as [`Histogram`]'s does.
#[derive(Debug, PartialEq, Default)]
pub struct FloatHistogram {
    /// Counter-reset information.
    pub counter_reset_hint: CounterResetHint,
    /// Resolution, as for [`Histogram::schema`].
    pub schema: i32,
    /// Width of the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: f64,
    /// Total observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// Spans of positive buckets.
    pub positive_spans: Vec<Span>,
    /// Spans of negative buckets.
    pub negative_spans: Vec<Span>,
    /// Positive bucket counts.
    pub positive_buckets: Vec<f64>,
    /// Negative bucket counts.
    pub negative_buckets: Vec<f64>,
    /// Upper bounds of custom buckets (schema −53 only).
    pub custom_values: Vec<f64>,
}

/// Field-wise clones; `clone_from` keeps the target's allocations (the
/// derived one would allocate new vectors).
macro_rules! clone_reusing_vectors {
    ($t:ty) => {
        impl Clone for $t {
            fn clone(&self) -> Self {
                Self {
                    counter_reset_hint: self.counter_reset_hint,
                    schema: self.schema,
                    zero_threshold: self.zero_threshold,
                    zero_count: self.zero_count,
                    count: self.count,
                    sum: self.sum,
                    positive_spans: self.positive_spans.clone(),
                    negative_spans: self.negative_spans.clone(),
                    positive_buckets: self.positive_buckets.clone(),
                    negative_buckets: self.negative_buckets.clone(),
                    custom_values: self.custom_values.clone(),
                }
            }

            fn clone_from(&mut self, source: &Self) {
                self.counter_reset_hint = source.counter_reset_hint;
                self.schema = source.schema;
                self.zero_threshold = source.zero_threshold;
                self.zero_count = source.zero_count;
                self.count = source.count;
                self.sum = source.sum;
                self.positive_spans.clone_from(&source.positive_spans);
                self.negative_spans.clone_from(&source.negative_spans);
                self.positive_buckets.clone_from(&source.positive_buckets);
                self.negative_buckets.clone_from(&source.negative_buckets);
                self.custom_values.clone_from(&source.custom_values);
            }
        }
    };
}

clone_reusing_vectors!(Histogram);
clone_reusing_vectors!(FloatHistogram);

impl Histogram {
    /// Whether this histogram has custom bucket bounds (NHCB).
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// Exact equality of the data, as Prometheus's `Histogram.Equals`:
    /// schema, counts and zero bucket equal, sum with equal bits, custom
    /// bounds equal (custom schema), the same buckets (empty ones included)
    /// with equal values; how the spans cut the buckets and the
    /// counter-reset hint do not matter.
    ///
    /// ```
    /// use aion_model::histogram::{Histogram, Span};
    /// let a = Histogram {
    ///     count: 2,
    ///     positive_spans: vec![Span { offset: 0, length: 2 }],
    ///     positive_buckets: vec![1, 0],
    ///     ..Histogram::default()
    /// };
    /// let mut b = a.clone();
    /// b.positive_spans = vec![Span { offset: 0, length: 1 }, Span { offset: 0, length: 1 }];
    /// assert!(a.equals(&b));
    /// b.sum = -0.0;
    /// assert!(!a.equals(&b));
    /// ```
    pub fn equals(&self, other: &Histogram) -> bool {
        let buckets_eq = |sa: &[Span], a: &[i64], sb: &[Span], b: &[i64]| {
            IndexedCounts::new(sa, a).eq(IndexedCounts::new(sb, b))
        };
        self.schema == other.schema
            && self.count == other.count
            && self.sum.to_bits() == other.sum.to_bits()
            && (!self.uses_custom_buckets() || self.custom_values == other.custom_values)
            && self.zero_threshold == other.zero_threshold
            && self.zero_count == other.zero_count
            && buckets_eq(
                &self.negative_spans,
                &self.negative_buckets,
                &other.negative_spans,
                &other.negative_buckets,
            )
            && buckets_eq(
                &self.positive_spans,
                &self.positive_buckets,
                &other.positive_spans,
                &other.positive_buckets,
            )
    }

    /// The same histogram with float counts (deltas resolved).
    pub fn to_float(&self) -> FloatHistogram {
        fn absolute(deltas: &[i64]) -> Vec<f64> {
            let mut acc = 0i64;
            deltas
                .iter()
                .map(|d| {
                    acc = acc.wrapping_add(*d);
                    acc as f64
                })
                .collect()
        }
        FloatHistogram {
            counter_reset_hint: self.counter_reset_hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count as f64,
            count: self.count as f64,
            sum: self.sum,
            positive_spans: self.positive_spans.clone(),
            negative_spans: self.negative_spans.clone(),
            positive_buckets: absolute(&self.positive_buckets),
            negative_buckets: absolute(&self.negative_buckets),
            custom_values: self.custom_values.clone(),
        }
    }
}

impl FloatHistogram {
    /// Whether this histogram has custom bucket bounds (NHCB).
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// Exact equality of the data, as Prometheus's `Equals`: schema,
    /// threshold and custom bounds equal, counts and sum with equal bits,
    /// the same buckets (empty ones included) with equal bits; how the
    /// spans cut the buckets does not matter.
    pub fn equals(&self, other: &FloatHistogram) -> bool {
        let bits_eq = |a: f64, b: f64| a.to_bits() == b.to_bits();
        let buckets_eq = |sa: &[Span], a: &[f64], sb: &[Span], b: &[f64]| {
            IndexedCounts::new(sa, a)
                .map(|(i, c)| (i, c.to_bits()))
                .eq(IndexedCounts::new(sb, b).map(|(i, c)| (i, c.to_bits())))
        };
        self.schema == other.schema
            && bits_eq(self.count, other.count)
            && bits_eq(self.sum, other.sum)
            && (!self.uses_custom_buckets() || self.custom_values == other.custom_values)
            && self.zero_threshold == other.zero_threshold
            && bits_eq(self.zero_count, other.zero_count)
            && buckets_eq(
                &self.positive_spans,
                &self.positive_buckets,
                &other.positive_spans,
                &other.positive_buckets,
            )
            && buckets_eq(
                &self.negative_spans,
                &self.negative_buckets,
                &other.negative_spans,
                &other.negative_buckets,
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_from_reuses_the_vectors() {
        let a = Histogram {
            count: 3,
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            positive_buckets: vec![1, 1],
            ..Histogram::default()
        };
        let mut b = a.clone();
        assert_eq!(b, a);
        let before = b.positive_buckets.as_ptr();
        let c = Histogram {
            positive_buckets: vec![2, -1],
            ..a.clone()
        };
        b.clone_from(&c);
        assert_eq!(b, c);
        assert_eq!(b.positive_buckets.as_ptr(), before);
        let mut f = a.to_float();
        let before = f.positive_buckets.as_ptr();
        f.clone_from(&c.to_float());
        assert_eq!(f, c.to_float());
        assert_eq!(f.positive_buckets.as_ptr(), before);
    }

    #[test]
    fn to_float_resolves_deltas() {
        let h = Histogram {
            schema: 0,
            count: 6,
            sum: 10.0,
            positive_spans: vec![Span {
                offset: 0,
                length: 3,
            }],
            positive_buckets: vec![1, 1, -1],
            ..Histogram::default()
        };
        let f = h.to_float();
        assert_eq!(f.positive_buckets, vec![1.0, 2.0, 1.0]);
        assert_eq!(f.count, 6.0);
    }
}
