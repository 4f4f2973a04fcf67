//! Parsers for text exposition formats: the backfill's input and what
//! scrape targets answer.
//!
//! | file | holds |
//! |---|---|
//! | [`Entry`], [`Sample`], [`ParseError`] (`entry.rs`) | what both parsers yield; Go's float syntax, unescaping |
//! | `cursor.rs` | the byte cursor both parsers read with |
//! | [`OpenMetricsParser`] (`openmetrics.rs`) | OpenMetrics 1.0 text |
//! | [`PromTextParser`] (`promtext.rs`) | Prometheus text 0.0.4 |
//! | [`TextFormat`] (`format.rs`) | the scrape `Accept` header, the parser by `Content-Type` |

mod cursor;
mod entry;
mod format;
mod openmetrics;
mod promtext;

pub use entry::{parse_go_float, Entry, MetricType, ParseError, Sample};
pub use format::{TextFormat, TextParser, SCRAPE_ACCEPT_HEADER};
pub use openmetrics::OpenMetricsParser;
pub use promtext::PromTextParser;
