//! Parsers for text exposition formats: the backfill's input and what
//! scrape targets answer.
//!
//! | file | holds |
//! |---|---|
//! | [`OpenMetricsParser`] (`openmetrics.rs`) | OpenMetrics 1.0 text |
//! | [`PromTextParser`] (`promtext.rs`) | Prometheus text 0.0.4 |
//! | [`TextFormat`] (`format.rs`) | the scrape `Accept` header, the parser by `Content-Type` |

mod format;
mod openmetrics;
mod promtext;

pub use format::{TextFormat, TextParser, SCRAPE_ACCEPT_HEADER};
pub use openmetrics::{parse_go_float, Entry, MetricType, OpenMetricsParser, ParseError, Sample};
pub use promtext::PromTextParser;
