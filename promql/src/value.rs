//! The values a PromQL query returns: Prometheus's scalar, string, instant
//! vector and range vector (matrix).
//!
//! Timestamps are milliseconds since the Unix epoch. A sample is a float
//! or a native histogram ([`FloatHistogram`]: PromQL computes with float
//! histograms, as Prometheus does).

use std::fmt;

use aion_model::histogram::FloatHistogram;
use aion_model::Labels;

use aion_model::gotext::format_float;

/// One float point of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FPoint {
    /// Timestamp (ms).
    pub t: i64,
    /// Value.
    pub f: f64,
}

/// One native histogram point of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct HPoint {
    /// Timestamp (ms).
    pub t: i64,
    /// Value.
    pub h: Box<FloatHistogram>,
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub metric: Labels,
    /// Evaluation timestamp (ms).
    pub t: i64,
    /// Value (unused when `h` is set).
    pub f: f64,
    /// The value when it is a native histogram.
    pub h: Option<Box<FloatHistogram>>,
}

/// A series of a range vector: labels and points in time order (float
/// and histogram points of one series are disjoint in time).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' labels.
    pub metric: Labels,
    /// Float points in increasing time order.
    pub floats: Vec<FPoint>,
    /// Histogram points in increasing time order.
    pub histograms: Vec<HPoint>,
}

/// The result of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A single number at the evaluation time.
    Scalar {
        /// Evaluation timestamp (ms).
        t: i64,
        /// The number.
        v: f64,
    },
    /// A string literal's value.
    String {
        /// Evaluation timestamp (ms).
        t: i64,
        /// The string.
        v: String,
    },
    /// An instant vector. Its order is the evaluation order Prometheus
    /// produces (e.g. `sort_desc` and `topk` order are kept).
    Vector(Vec<Sample>),
    /// A range vector, sorted by labels. Range queries always return one.
    Matrix(Vec<Series>),
}

impl Value {
    /// The API name of the type: `scalar`, `string`, `vector`, `matrix`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }

    /// The vector, if this is one.
    pub fn as_vector(&self) -> Option<&[Sample]> {
        match self {
            Value::Vector(v) => Some(v),
            _ => None,
        }
    }

    /// The matrix, if this is one.
    pub fn as_matrix(&self) -> Option<&[Series]> {
        match self {
            Value::Matrix(m) => Some(m),
            _ => None,
        }
    }

    /// The scalar's value, if this is one.
    pub fn as_scalar(&self) -> Option<f64> {
        match self {
            Value::Scalar { v, .. } => Some(*v),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    /// Prometheus's text rendering (`String()` of its value types), as
    /// `promtool` and the web console print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Scalar { t, v } => write!(f, "scalar: {} @[{t}]", format_float(*v)),
            Value::String { v, .. } => f.write_str(v),
            Value::Vector(samples) => {
                for (i, s) in samples.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    match &s.h {
                        Some(h) => write!(f, "{} => {h} @[{}]", s.metric, s.t)?,
                        None => write!(f, "{} => {} @[{}]", s.metric, format_float(s.f), s.t)?,
                    }
                }
                Ok(())
            }
            Value::Matrix(series) => {
                for (i, s) in series.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{} =>", s.metric)?;
                    for p in &s.floats {
                        write!(f, "\n{} @[{}]", format_float(p.f), p.t)?;
                    }
                    for p in &s.histograms {
                        write!(f, "\n{} @[{}]", p.h, p.t)?;
                    }
                }
                Ok(())
            }
        }
    }
}
