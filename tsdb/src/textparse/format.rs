//! Which text parser a scrape uses: the `Accept` header a scraper sends
//! and the choice by the answer's `Content-Type`, as Prometheus 2.x makes
//! them.

use super::{Entry, OpenMetricsParser, ParseError, PromTextParser};

/// The `Accept` header Prometheus 2.42 sends when scraping (native
/// histograms off): OpenMetrics preferred, Prometheus text accepted, and
/// anything else parsed as Prometheus text.
pub const SCRAPE_ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0,\
application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// A text exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// OpenMetrics 1.0 (`application/openmetrics-text`).
    OpenMetrics,
    /// Prometheus text 0.0.4 (`text/plain`, and whatever else a target
    /// answers).
    PromText,
}

impl TextFormat {
    /// The format of a response with this `Content-Type` (or none):
    /// OpenMetrics for `application/openmetrics-text`, Prometheus text for
    /// everything else, as Prometheus's `textparse.New` decides.
    ///
    /// ```
    /// use aion_tsdb::textparse::TextFormat;
    /// let om = Some("application/openmetrics-text; version=1.0.0; charset=utf-8");
    /// assert_eq!(TextFormat::from_content_type(om), TextFormat::OpenMetrics);
    /// assert_eq!(TextFormat::from_content_type(Some("text/plain; version=0.0.4")), TextFormat::PromText);
    /// assert_eq!(TextFormat::from_content_type(None), TextFormat::PromText);
    /// ```
    pub fn from_content_type(content_type: Option<&str>) -> TextFormat {
        let media = content_type
            .and_then(|c| c.split(';').next())
            .map(str::trim)
            .unwrap_or_default();
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            TextFormat::OpenMetrics
        } else {
            TextFormat::PromText
        }
    }

    /// A parser for `text` in this format.
    pub fn parser(self, text: &[u8]) -> TextParser<'_> {
        match self {
            TextFormat::OpenMetrics => TextParser::OpenMetrics(OpenMetricsParser::new(text)),
            TextFormat::PromText => TextParser::PromText(PromTextParser::new(text)),
        }
    }
}

/// Either parser, as one iterator of [`Entry`]s.
pub enum TextParser<'a> {
    /// OpenMetrics.
    OpenMetrics(OpenMetricsParser<'a>),
    /// Prometheus text.
    PromText(PromTextParser<'a>),
}

impl<'a> Iterator for TextParser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            TextParser::OpenMetrics(p) => p.next(),
            TextParser::PromText(p) => p.next(),
        }
    }
}
