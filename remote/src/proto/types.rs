//! `prompb/types.proto` (package `prometheus`): the pieces remote write
//! 1.0 and remote read share.

use bytes::Bytes;

use super::Histogram;

/// A float sample: `value` at `timestamp` (ms).
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// An exemplar: a sample of a traced event, with its own labels (such as
/// `trace_id`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    /// Exemplar labels; may be empty.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The observed value.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// One series and its samples, exemplars and native histograms.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// The series' labels, sorted by name (the spec requires it).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Float samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Exemplars.
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    /// Native histogram samples, oldest first.
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// A `name="value"` pair.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Label {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// A label set on its own.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Labels {
    /// The labels.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
}

/// A metric family's type, help and unit, sent beside the series in
/// remote write 1.0.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct MetricMetadata {
    /// The family's type ([`metric_metadata::MetricType`]).
    #[prost(enumeration = "metric_metadata::MetricType", tag = "1")]
    pub r#type: i32,
    /// The family name (no `_total`/`_bucket` suffix stripping is implied).
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// HELP text.
    #[prost(string, tag = "4")]
    pub help: String,
    /// UNIT.
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// Nested types of [`MetricMetadata`].
pub mod metric_metadata {
    /// The metric types of the exposition formats.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum MetricType {
        /// Untyped.
        Unknown = 0,
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

/// A label matcher of a remote-read query.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct LabelMatcher {
    /// The operator ([`label_matcher::Type`]).
    #[prost(enumeration = "label_matcher::Type", tag = "1")]
    pub r#type: i32,
    /// Label name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Value or regular expression.
    #[prost(string, tag = "3")]
    pub value: String,
}

/// Nested types of [`LabelMatcher`].
pub mod label_matcher {
    /// The four matcher operators.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Type {
        /// `=`
        Eq = 0,
        /// `!=`
        Neq = 1,
        /// `=~`
        Re = 2,
        /// `!~`
        Nre = 3,
    }
}

/// What the querying engine tells the read endpoint about the selector,
/// so it can prune (Prometheus's `SelectHints`).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ReadHints {
    /// Query step (ms).
    #[prost(int64, tag = "1")]
    pub step_ms: i64,
    /// The surrounding function or aggregation.
    #[prost(string, tag = "2")]
    pub func: String,
    /// Start of the data needed (ms).
    #[prost(int64, tag = "3")]
    pub start_ms: i64,
    /// End of the data needed (ms).
    #[prost(int64, tag = "4")]
    pub end_ms: i64,
    /// Labels of the enclosing aggregation's grouping.
    #[prost(string, repeated, tag = "5")]
    pub grouping: Vec<String>,
    /// Whether `grouping` is `by` (true) or `without`.
    #[prost(bool, tag = "6")]
    pub by: bool,
    /// Range of a range selector (ms).
    #[prost(int64, tag = "7")]
    pub range_ms: i64,
}

/// A stored TSDB chunk; `[min_time_ms, max_time_ms]` inclusive.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Chunk {
    /// Timestamp of the first sample.
    #[prost(int64, tag = "1")]
    pub min_time_ms: i64,
    /// Timestamp of the last sample.
    #[prost(int64, tag = "2")]
    pub max_time_ms: i64,
    /// The encoding ([`chunk::Encoding`], numbered as the TSDB's).
    #[prost(enumeration = "chunk::Encoding", tag = "3")]
    pub r#type: i32,
    /// The chunk bytes as stored (sample count first), shared with the
    /// request buffer when decoding.
    #[prost(bytes = "bytes", tag = "4")]
    pub data: Bytes,
}

/// Nested types of [`Chunk`].
pub mod chunk {
    /// Chunk encodings, numbered as the TSDB's chunk encoding byte.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Encoding {
        /// Not valid for data.
        Unknown = 0,
        /// Float XOR chunk.
        Xor = 1,
        /// Integer native histogram chunk.
        Histogram = 2,
        /// Float native histogram chunk.
        FloatHistogram = 3,
    }
}

/// One series' chunks in a streamed remote-read answer.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChunkedSeries {
    /// The series' labels, sorted.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Chunks in start-time order; they may overlap.
    #[prost(message, repeated, tag = "2")]
    pub chunks: Vec<Chunk>,
}
