//! Parsers for text exposition formats that feed the backfill.

mod openmetrics;

pub use openmetrics::{parse_go_float, Entry, MetricType, OpenMetricsParser, ParseError, Sample};
