//! `io/prometheus/write/v2/types.proto`: the remote write 2.0 request.
//!
//! Strings are interned: every label name and value, help and unit text
//! is an index into [`Request::symbols`], whose first entry is always `""`.

pub use super::histogram as histogram_types;
pub use super::{BucketSpan, Histogram};

/// A remote write 2.0 request. Fields 1 to 3 are reserved so a 1.0 body
/// decoded as 2.0 is empty rather than garbage.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Request {
    /// The symbol table; `symbols[0]` must be `""`.
    #[prost(string, repeated, tag = "4")]
    pub symbols: Vec<String>,
    /// The series.
    #[prost(message, repeated, tag = "5")]
    pub timeseries: Vec<TimeSeries>,
}

/// One series: label references and its samples or histograms.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Pairs of symbol indices (name, value), sorted by name.
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    /// Float samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Native histogram samples, oldest first.
    #[prost(message, repeated, tag = "3")]
    pub histograms: Vec<Histogram>,
    /// Exemplars.
    #[prost(message, repeated, tag = "4")]
    pub exemplars: Vec<Exemplar>,
    /// The metric's metadata.
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<Metadata>,
    /// The series-level created timestamp of spec drafts before start
    /// timestamps moved into [`Sample`] (now reserved upstream); read as
    /// the start timestamp of samples that carry none.
    #[prost(int64, tag = "6")]
    pub created_timestamp: i64,
}

/// An exemplar with interned labels.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    /// Pairs of symbol indices.
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    /// The observed value.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// A float sample with an optional start timestamp.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
    /// When the counter started (ms), 0 for unknown.
    #[prost(int64, tag = "3")]
    pub start_timestamp: i64,
}

/// A series' metadata with interned help and unit.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Metadata {
    /// The metric type ([`metadata::MetricType`]).
    #[prost(enumeration = "metadata::MetricType", tag = "1")]
    pub r#type: i32,
    /// Symbol index of the HELP text (0 for none).
    #[prost(uint32, tag = "3")]
    pub help_ref: u32,
    /// Symbol index of the unit (0 for none).
    #[prost(uint32, tag = "4")]
    pub unit_ref: u32,
}

/// Nested types of [`Metadata`].
pub mod metadata {
    /// Metric types, numbered as remote write 1.0's.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum MetricType {
        /// Not given.
        Unspecified = 0,
        /// Counter.
        Counter = 1,
        /// Gauge.
        Gauge = 2,
        /// Histogram.
        Histogram = 3,
        /// Gauge histogram.
        Gaugehistogram = 4,
        /// Summary.
        Summary = 5,
        /// Info.
        Info = 6,
        /// State set.
        Stateset = 7,
    }
}
