//! The native histogram message: one wire layout in both
//! `prompb/types.proto` and `io/prometheus/write/v2/types.proto`.

/// A native histogram sample, integer or float (the `count` oneof says
/// which).
///
/// `start_timestamp` (tag 17) exists only in remote write 2.0; in 1.0
/// messages it is 0 and therefore not on the wire.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    /// Observation count: integer for integer histograms, float for float
    /// histograms.
    #[prost(oneof = "histogram::Count", tags = "1, 2")]
    pub count: Option<histogram::Count>,
    /// Sum of observations.
    #[prost(double, tag = "3")]
    pub sum: f64,
    /// Bucket schema: −4..=8 exponential, −53 custom bounds.
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    /// Width of the zero bucket.
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    /// Zero-bucket count, integer or float as `count`.
    #[prost(oneof = "histogram::ZeroCount", tags = "6, 7")]
    pub zero_count: Option<histogram::ZeroCount>,
    /// Negative bucket spans.
    #[prost(message, repeated, tag = "8")]
    pub negative_spans: Vec<BucketSpan>,
    /// Negative bucket counts as deltas (integer histograms).
    #[prost(sint64, repeated, tag = "9")]
    pub negative_deltas: Vec<i64>,
    /// Negative bucket counts (float histograms).
    #[prost(double, repeated, tag = "10")]
    pub negative_counts: Vec<f64>,
    /// Positive bucket spans.
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    /// Positive bucket counts as deltas (integer histograms).
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    /// Positive bucket counts (float histograms).
    #[prost(double, repeated, tag = "13")]
    pub positive_counts: Vec<f64>,
    /// Counter-reset hint ([`histogram::ResetHint`]).
    #[prost(enumeration = "histogram::ResetHint", tag = "14")]
    pub reset_hint: i32,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
    /// Upper bounds of custom buckets (schema −53).
    #[prost(double, repeated, tag = "16")]
    pub custom_values: Vec<f64>,
    /// When the histogram started counting (ms), 0 for unknown; remote
    /// write 2.0 only.
    #[prost(int64, tag = "17")]
    pub start_timestamp: i64,
}

/// Nested types of [`Histogram`].
pub mod histogram {
    /// The total count.
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum Count {
        /// Integer histogram count.
        #[prost(uint64, tag = "1")]
        CountInt(u64),
        /// Float histogram count.
        #[prost(double, tag = "2")]
        CountFloat(f64),
    }

    /// The zero-bucket count.
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum ZeroCount {
        /// Integer histogram zero count.
        #[prost(uint64, tag = "6")]
        ZeroCountInt(u64),
        /// Float histogram zero count.
        #[prost(double, tag = "7")]
        ZeroCountFloat(f64),
    }

    /// What the sender knows about a counter reset before this sample.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum ResetHint {
        /// Test for a reset explicitly.
        Unknown = 0,
        /// First histogram after a counter reset.
        Yes = 1,
        /// No counter reset since the previous histogram.
        No = 2,
        /// A gauge histogram: resets do not apply.
        Gauge = 3,
    }
}

/// A run of consecutive buckets: `offset` after the previous span's end
/// (or the first bucket's index), `length` long.
#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct BucketSpan {
    /// Gap to the previous span (may be negative for the first).
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    /// Number of buckets.
    #[prost(uint32, tag = "2")]
    pub length: u32,
}
