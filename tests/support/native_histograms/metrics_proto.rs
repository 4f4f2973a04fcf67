//! The protobuf exposition format's messages (package
//! `io.prometheus.client`, client_model's `metrics.proto`), derived by
//! hand with prost, and the conversions from Aion's histograms.
//!
//! The fields are proto2 as client_golang writes them: scalars have
//! presence (`Option`), repeated scalars are unpacked. Prometheus 2.42
//! reads them with its proto3 copy of the file, which accepts both wire
//! forms. Not modelled: exemplars, `created_timestamp` and `unit` (newer
//! than 2.42).
//!
//! The delimited encoding a scrape answer uses is one uvarint length
//! before each `MetricFamily` ([`encode_delimited`]).

use aion::model::histogram::{bucket_bound, FloatHistogram, Histogram, Span};

/// A label of a metric.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelPair {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
}

/// The type of every metric in a family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    Counter = 0,
    Gauge = 1,
    Summary = 2,
    Untyped = 3,
    Histogram = 4,
    GaugeHistogram = 5,
}

/// A gauge value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Gauge {
    #[prost(double, optional, tag = "1")]
    pub value: Option<f64>,
}

/// A counter value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Counter {
    #[prost(double, optional, tag = "1")]
    pub value: Option<f64>,
}

/// One quantile of a summary.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Quantile {
    #[prost(double, optional, tag = "1")]
    pub quantile: Option<f64>,
    #[prost(double, optional, tag = "2")]
    pub value: Option<f64>,
}

/// A summary.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    #[prost(uint64, optional, tag = "1")]
    pub sample_count: Option<u64>,
    #[prost(double, optional, tag = "2")]
    pub sample_sum: Option<f64>,
    #[prost(message, repeated, tag = "3")]
    pub quantile: Vec<Quantile>,
}

/// An untyped value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Untyped {
    #[prost(double, optional, tag = "1")]
    pub value: Option<f64>,
}

/// A histogram: classic buckets (`bucket`), native buckets (the schema,
/// zero bucket, spans and deltas/counts fields), or both.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HistogramProto {
    #[prost(uint64, optional, tag = "1")]
    pub sample_count: Option<u64>,
    /// Overrides `sample_count` if > 0 (float histograms).
    #[prost(double, optional, tag = "4")]
    pub sample_count_float: Option<f64>,
    #[prost(double, optional, tag = "2")]
    pub sample_sum: Option<f64>,
    /// Classic buckets, increasing upper bounds, cumulative counts.
    #[prost(message, repeated, tag = "3")]
    pub bucket: Vec<Bucket>,
    #[prost(sint32, optional, tag = "5")]
    pub schema: Option<i32>,
    #[prost(double, optional, tag = "6")]
    pub zero_threshold: Option<f64>,
    #[prost(uint64, optional, tag = "7")]
    pub zero_count: Option<u64>,
    /// Overrides `zero_count` if > 0 (float histograms).
    #[prost(double, optional, tag = "8")]
    pub zero_count_float: Option<f64>,
    #[prost(message, repeated, tag = "9")]
    pub negative_span: Vec<BucketSpan>,
    #[prost(sint64, repeated, packed = "false", tag = "10")]
    pub negative_delta: Vec<i64>,
    #[prost(double, repeated, packed = "false", tag = "11")]
    pub negative_count: Vec<f64>,
    #[prost(message, repeated, tag = "12")]
    pub positive_span: Vec<BucketSpan>,
    #[prost(sint64, repeated, packed = "false", tag = "13")]
    pub positive_delta: Vec<i64>,
    #[prost(double, repeated, packed = "false", tag = "14")]
    pub positive_count: Vec<f64>,
}

/// A classic bucket.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Bucket {
    #[prost(uint64, optional, tag = "1")]
    pub cumulative_count: Option<u64>,
    #[prost(double, optional, tag = "4")]
    pub cumulative_count_float: Option<f64>,
    /// Inclusive.
    #[prost(double, optional, tag = "2")]
    pub upper_bound: Option<f64>,
}

/// A run of consecutive native buckets.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BucketSpan {
    #[prost(sint32, optional, tag = "1")]
    pub offset: Option<i32>,
    #[prost(uint32, optional, tag = "2")]
    pub length: Option<u32>,
}

/// One metric (series) of a family: labels and the value of the family's
/// type.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Metric {
    #[prost(message, repeated, tag = "1")]
    pub label: Vec<LabelPair>,
    #[prost(message, optional, tag = "2")]
    pub gauge: Option<Gauge>,
    #[prost(message, optional, tag = "3")]
    pub counter: Option<Counter>,
    #[prost(message, optional, tag = "4")]
    pub summary: Option<Summary>,
    #[prost(message, optional, tag = "5")]
    pub untyped: Option<Untyped>,
    #[prost(message, optional, tag = "7")]
    pub histogram: Option<HistogramProto>,
    #[prost(int64, optional, tag = "6")]
    pub timestamp_ms: Option<i64>,
}

/// A metric family: name, help, type and its metrics.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricFamily {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub help: Option<String>,
    #[prost(enumeration = "MetricType", optional, tag = "3")]
    pub r#type: Option<i32>,
    #[prost(message, repeated, tag = "4")]
    pub metric: Vec<Metric>,
}

impl MetricFamily {
    /// A family of `ty` with no metrics yet.
    pub fn new(name: &str, help: &str, ty: MetricType) -> Self {
        MetricFamily {
            name: Some(name.to_string()),
            help: Some(help.to_string()),
            r#type: Some(ty as i32),
            metric: Vec::new(),
        }
    }

    /// The family's type (`Untyped` if unset or unknown).
    pub fn metric_type(&self) -> MetricType {
        self.r#type
            .and_then(|t| MetricType::try_from(t).ok())
            .unwrap_or(MetricType::Untyped)
    }

    /// Adds a metric.
    pub fn with(mut self, metric: Metric) -> Self {
        self.metric.push(metric);
        self
    }
}

fn label_pairs(labels: &[(&str, &str)]) -> Vec<LabelPair> {
    labels
        .iter()
        .map(|(n, v)| LabelPair {
            name: Some(n.to_string()),
            value: Some(v.to_string()),
        })
        .collect()
}

fn spans(spans: &[Span]) -> Vec<BucketSpan> {
    spans
        .iter()
        .map(|s| BucketSpan {
            offset: Some(s.offset),
            length: Some(s.length),
        })
        .collect()
}

impl Metric {
    /// A metric with these labels and no value yet.
    pub fn labelled(labels: &[(&str, &str)]) -> Self {
        Metric {
            label: label_pairs(labels),
            ..Metric::default()
        }
    }

    /// A counter metric.
    pub fn counter(labels: &[(&str, &str)], value: f64) -> Self {
        Metric {
            counter: Some(Counter { value: Some(value) }),
            ..Metric::labelled(labels)
        }
    }

    /// A gauge metric.
    pub fn gauge(labels: &[(&str, &str)], value: f64) -> Self {
        Metric {
            gauge: Some(Gauge { value: Some(value) }),
            ..Metric::labelled(labels)
        }
    }

    /// A native integer histogram, fields as client_golang fills them.
    pub fn native_histogram(labels: &[(&str, &str)], h: &Histogram) -> Self {
        Metric {
            histogram: Some(HistogramProto {
                sample_count: Some(h.count),
                sample_sum: Some(h.sum),
                schema: Some(h.schema),
                zero_threshold: Some(h.zero_threshold),
                zero_count: Some(h.zero_count),
                negative_span: spans(&h.negative_spans),
                negative_delta: h.negative_buckets.clone(),
                positive_span: spans(&h.positive_spans),
                positive_delta: h.positive_buckets.clone(),
                ..HistogramProto::default()
            }),
            ..Metric::labelled(labels)
        }
    }

    /// A native float histogram (absolute counts; the float count fields
    /// tell a reader it is one).
    pub fn native_float_histogram(labels: &[(&str, &str)], h: &FloatHistogram) -> Self {
        Metric {
            histogram: Some(HistogramProto {
                sample_count_float: Some(h.count),
                sample_sum: Some(h.sum),
                schema: Some(h.schema),
                zero_threshold: Some(h.zero_threshold),
                zero_count_float: Some(h.zero_count),
                negative_span: spans(&h.negative_spans),
                negative_count: h.negative_buckets.clone(),
                positive_span: spans(&h.positive_spans),
                positive_count: h.positive_buckets.clone(),
                ..HistogramProto::default()
            }),
            ..Metric::labelled(labels)
        }
    }

    /// Adds classic buckets to a native integer histogram metric, as a
    /// client exposing both does: one bucket per upper bound
    /// `2^(index/2^schema)` for each of `indices` (increasing), so each
    /// cumulative count is exactly the native buckets' up to that bound,
    /// plus the zero bucket and all negative buckets. `h` must be the
    /// histogram the metric was made from.
    pub fn with_classic_buckets(mut self, h: &Histogram, indices: &[i32]) -> Self {
        let negative: u64 = absolute(&h.negative_spans, &h.negative_buckets)
            .iter()
            .map(|(_, c)| c)
            .sum();
        let below_zero = h.zero_count + negative;
        let positive = absolute(&h.positive_spans, &h.positive_buckets);
        let hp = self.histogram.as_mut().expect("a histogram metric");
        hp.bucket = indices
            .iter()
            .map(|&i| Bucket {
                cumulative_count: Some(
                    below_zero
                        + positive
                            .iter()
                            .filter(|(idx, _)| *idx <= i)
                            .map(|(_, c)| *c)
                            .sum::<u64>(),
                ),
                upper_bound: Some(bucket_bound(i, h.schema, &[])),
                ..Bucket::default()
            })
            .collect();
        self
    }
}

impl Metric {
    /// A classic-only histogram metric (count, sum and the classic buckets
    /// of [`Metric::with_classic_buckets`], no native fields), as a client
    /// without native histograms exposes `h`.
    pub fn classic_histogram(labels: &[(&str, &str)], h: &Histogram, indices: &[i32]) -> Self {
        let mut m = Metric::native_histogram(labels, h).with_classic_buckets(h, indices);
        let hp = m.histogram.as_mut().expect("a histogram metric");
        *hp = HistogramProto {
            sample_count: hp.sample_count,
            sample_sum: hp.sample_sum,
            bucket: std::mem::take(&mut hp.bucket),
            ..HistogramProto::default()
        };
        m
    }
}

/// `(index, absolute count)` of every bucket the spans address.
fn absolute(spans: &[Span], deltas: &[i64]) -> Vec<(i32, u64)> {
    let (mut idx, mut acc, mut d) = (0i32, 0i64, deltas.iter());
    let mut out = Vec::new();
    for s in spans {
        idx += s.offset;
        for _ in 0..s.length {
            acc += d.next().copied().unwrap_or(0);
            out.push((idx, acc as u64));
            idx += 1;
        }
    }
    out
}

/// The families as a delimited protobuf scrape body.
pub fn encode_delimited(families: &[MetricFamily]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in families {
        prost::Message::encode_length_delimited(f, &mut out).expect("a Vec grows");
    }
    out
}
