//! `prompb/remote.proto` (package `prometheus`): the remote write 1.0
//! request and the remote read request and answers.

use super::{ChunkedSeries, LabelMatcher, MetricMetadata, ReadHints, TimeSeries};

/// A remote write 1.0 request (`prometheus.WriteRequest`). Field 2 is
/// reserved upstream.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Metric family metadata.
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// A remote read request: queries answered in order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadRequest {
    /// The queries.
    #[prost(message, repeated, tag = "1")]
    pub queries: Vec<Query>,
    /// Answer formats the client accepts, in its order of preference; empty
    /// means SAMPLES.
    #[prost(enumeration = "read_request::ResponseType", repeated, tag = "2")]
    pub accepted_response_types: Vec<i32>,
}

/// Nested types of [`ReadRequest`].
pub mod read_request {
    /// Remote-read answer formats.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum ResponseType {
        /// One snappy-compressed [`ReadResponse`](super::ReadResponse) of
        /// raw samples.
        Samples = 0,
        /// A stream of framed [`ChunkedReadResponse`](super::ChunkedReadResponse)s.
        StreamedXorChunks = 1,
    }
}

/// A remote-read answer in SAMPLES form.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadResponse {
    /// One result per query, in the request's order.
    #[prost(message, repeated, tag = "1")]
    pub results: Vec<QueryResult>,
}

/// One query: a time range and matchers.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Query {
    /// Start (ms, inclusive).
    #[prost(int64, tag = "1")]
    pub start_timestamp_ms: i64,
    /// End (ms, inclusive).
    #[prost(int64, tag = "2")]
    pub end_timestamp_ms: i64,
    /// Matchers, ANDed.
    #[prost(message, repeated, tag = "3")]
    pub matchers: Vec<LabelMatcher>,
    /// Pruning hints.
    #[prost(message, optional, tag = "4")]
    pub hints: Option<ReadHints>,
}

/// The series of one query in SAMPLES form.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryResult {
    /// Series with samples ordered by time.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// One frame of a STREAMED_XOR_CHUNKS answer: (part of) one series.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChunkedReadResponse {
    /// The series (Aion, as Prometheus, sends exactly one per frame).
    #[prost(message, repeated, tag = "1")]
    pub chunked_series: Vec<ChunkedSeries>,
    /// Index of the query in the request these chunks answer.
    #[prost(int64, tag = "2")]
    pub query_index: i64,
}
