//! Warnings and infos attached to a query result, with Prometheus's exact
//! texts (`PromQL warning: …`, `PromQL info: …`).
//!
//! As in Prometheus, annotations are deduplicated by their bare message;
//! the histogram-monotonicity info additionally merges the time range and
//! buckets of every occurrence into one detailed text.

use std::fmt;

use crate::ast::Span;
use aion_model::gotext::{format_go_g, format_go_g2, go_quote};

/// Whether an annotation is a warning or an info.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnnotationKind {
    /// Something likely wrong with the query or data (`PromQL warning: …`).
    Warning,
    /// A hint (`PromQL info: …`).
    Info,
}

/// Details merged across occurrences of the histogram-monotonicity info.
#[derive(Debug, Clone, PartialEq)]
struct Monotonicity {
    min_ts: i64,
    max_ts: i64,
    min_bucket: f64,
    max_bucket: f64,
    max_diff: f64,
    count: usize,
}

/// One warning or info.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    kind: AnnotationKind,
    message: String,
    span: Option<Span>,
    monotonicity: Option<Monotonicity>,
    /// How many times it occurred, for the texts that say so.
    occurrences: Option<usize>,
}

impl Annotation {
    fn new(kind: AnnotationKind, body: String, span: Option<Span>) -> Self {
        let prefix = match kind {
            AnnotationKind::Warning => "PromQL warning: ",
            AnnotationKind::Info => "PromQL info: ",
        };
        Annotation {
            kind,
            message: format!("{prefix}{body}"),
            span,
            monotonicity: None,
            occurrences: None,
        }
    }

    /// A warning with `body` after the `PromQL warning: ` prefix.
    pub fn warning(body: impl Into<String>, span: Option<Span>) -> Self {
        Self::new(AnnotationKind::Warning, body.into(), span)
    }

    /// An info with `body` after the `PromQL info: ` prefix.
    pub fn info(body: impl Into<String>, span: Option<Span>) -> Self {
        Self::new(AnnotationKind::Info, body.into(), span)
    }

    /// A warning passed through verbatim from a storage backend.
    pub fn storage_warning(message: String) -> Self {
        Annotation {
            kind: AnnotationKind::Warning,
            message,
            span: None,
            monotonicity: None,
            occurrences: None,
        }
    }

    /// Warning or info.
    pub fn kind(&self) -> AnnotationKind {
        self.kind
    }

    /// The message without position or details, as Prometheus's test
    /// scripts match it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where in the query the annotation points, when known.
    pub fn span(&self) -> Option<Span> {
        self.span
    }

    /// The full text Prometheus's API returns for `query`: the message,
    /// details (for the monotonicity info) and the `(line:column)` of the
    /// expression it refers to.
    pub fn render(&self, query: &str) -> String {
        let mut out = self.message.clone();
        if let Some(m) = &self.monotonicity {
            let date = |ms: i64| rfc3339_seconds(ms.div_euclid(1000));
            out.push_str(&format!(
                ", from buckets {} to {}, with a max diff of {}, over {} samples from {} to {}",
                format_go_g(m.min_bucket),
                format_go_g(m.max_bucket),
                format_go_g2(m.max_diff),
                m.count + 1,
                date(m.min_ts),
                date(m.max_ts)
            ));
        }
        if let Some(n) = self.occurrences.filter(|&n| n > 1) {
            out.push_str(&format!(" ({n} occurrences)"));
        }
        if let Some(span) = self.span {
            let (line, col) = line_col(query, span.start);
            out.push_str(&format!(" ({line}:{col})"));
        }
        out
    }

    // --- Prometheus's annotation constructors (util/annotations). ---

    pub(crate) fn invalid_quantile(q: f64, span: Span) -> Self {
        Self::warning(
            format!(
                "quantile value should be between 0 and 1, got {}",
                format_go_g(q)
            ),
            Some(span),
        )
    }

    pub(crate) fn invalid_ratio(r: f64, to: f64, span: Span) -> Self {
        Self::warning(
            format!(
                "ratio value should be between -1 and 1, got {}, capping to {}",
                format_go_g(r),
                format_go_g(to)
            ),
            Some(span),
        )
    }

    pub(crate) fn bad_bucket_label(metric_name: &str, le: &str, span: Span) -> Self {
        Self::warning(
            format!(
                "bucket label \"le\" is missing or has a malformed value of {}{}",
                go_quote(le),
                for_metric_name(metric_name)
            ),
            Some(span),
        )
    }

    pub(crate) fn possible_non_counter(metric_name: &str, span: Span) -> Self {
        Self::info(
            format!(
                "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {}",
                go_quote(metric_name)
            ),
            Some(span),
        )
    }

    pub(crate) fn forced_monotonicity(
        metric_name: &str,
        span: Span,
        ts: i64,
        min_bucket: f64,
        max_bucket: f64,
        max_diff: f64,
    ) -> Self {
        let mut a = Self::info(
            format!(
                "input to histogram_quantile needed to be fixed for monotonicity \
                 (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile){}",
                for_metric_name(metric_name)
            ),
            Some(span),
        );
        a.monotonicity = Some(Monotonicity {
            min_ts: ts,
            max_ts: ts,
            min_bucket,
            max_bucket,
            max_diff,
            count: 0,
        });
        a
    }

    pub(crate) fn start_time_overlap(metric_name: &str, span: Span) -> Self {
        let mut a = Self::warning(
            format!(
                "sample has start time that overlaps with previous sample timestamp for metric {}",
                go_quote(metric_name)
            ),
            Some(span),
        );
        a.occurrences = Some(1);
        a
    }

    pub(crate) fn sort_in_range_query(span: Span) -> Self {
        Self::warning(
            "sort is ineffective for range queries since results are always ordered by labels",
            Some(span),
        )
    }

    fn merge(&mut self, other: Annotation) {
        match (&mut self.monotonicity, other.monotonicity) {
            (Some(m), Some(o)) => {
                m.min_ts = m.min_ts.min(o.min_ts);
                m.max_ts = m.max_ts.max(o.max_ts);
                if o.min_bucket < m.min_bucket {
                    m.min_bucket = o.min_bucket;
                }
                if o.max_bucket > m.max_bucket {
                    m.max_bucket = o.max_bucket;
                }
                if o.max_diff > m.max_diff {
                    m.max_diff = o.max_diff;
                }
                m.count += o.count + 1;
            }
            // Prometheus keeps the latest occurrence of a plain annotation.
            (_, _) => {
                self.span = other.span;
                if let (Some(n), Some(o)) = (&mut self.occurrences, other.occurrences) {
                    *n += o;
                }
            }
        }
    }
}

impl fmt::Display for Annotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn for_metric_name(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!(" for metric name {}", go_quote(name))
    }
}

/// 1-based line and byte column of `pos` in `query`.
fn line_col(query: &str, pos: usize) -> (usize, usize) {
    let before = &query.as_bytes()[..pos.min(query.len())];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, pos.min(query.len()) - start + 1)
}

/// `2006-01-02T15:04:05Z` for Unix seconds (proleptic Gregorian, UTC).
pub(crate) fn rfc3339_seconds(secs: i64) -> String {
    aion_model::civil::format_rfc3339(secs * 1000, aion_model::civil::Millis::Never)
}

/// The warnings and infos of one query, deduplicated by message, in the
/// order they first occurred.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotations {
    items: Vec<Annotation>,
}

impl Annotations {
    /// No annotations.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `a`, merging it into an earlier annotation with the same
    /// message.
    pub fn add(&mut self, a: Annotation) {
        match self.items.iter_mut().find(|x| x.message == a.message) {
            Some(existing) => existing.merge(a),
            None => self.items.push(a),
        }
    }

    /// Adds every annotation of `other`.
    pub fn merge(&mut self, other: Annotations) {
        for a in other.items {
            self.add(a);
        }
    }

    /// Orders warnings before infos, each by message.
    pub(crate) fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            let rank = |k: AnnotationKind| k == AnnotationKind::Info;
            (rank(a.kind), &a.message).cmp(&(rank(b.kind), &b.message))
        });
    }

    /// Every annotation.
    pub fn iter(&self) -> impl Iterator<Item = &Annotation> {
        self.items.iter()
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Annotation> {
        self.items
            .iter()
            .filter(|a| a.kind == AnnotationKind::Warning)
    }

    /// The infos.
    pub fn infos(&self) -> impl Iterator<Item = &Annotation> {
        self.items.iter().filter(|a| a.kind == AnnotationKind::Info)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many distinct annotations there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_match_prometheus() {
        let sp = Span::new(0, 1);
        assert_eq!(
            Annotation::invalid_quantile(1.5, sp).message(),
            "PromQL warning: quantile value should be between 0 and 1, got 1.5"
        );
        assert_eq!(
            Annotation::bad_bucket_label("foo", "x", sp).message(),
            "PromQL warning: bucket label \"le\" is missing or has a malformed value of \"x\" for metric name \"foo\""
        );
        assert_eq!(
            Annotation::possible_non_counter("foo", sp).message(),
            "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"foo\""
        );
    }

    #[test]
    fn monotonicity_infos_merge() {
        let sp = Span::new(4, 7);
        let mut a = Annotations::new();
        a.add(Annotation::forced_monotonicity(
            "m", sp, 60_000, 1.0, 2.0, 0.5,
        ));
        a.add(Annotation::forced_monotonicity(
            "m", sp, 120_000, 0.5, 5.0, 0.25,
        ));
        assert_eq!(a.len(), 1);
        let text = a.iter().next().unwrap().render("foo(bar_bucket)");
        assert!(
            text.ends_with(
                ", from buckets 0.5 to 5, with a max diff of 0.5, over 2 samples \
                 from 1970-01-01T00:01:00Z to 1970-01-01T00:02:00Z (1:5)"
            ),
            "{text}"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339_seconds(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_seconds(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_seconds(-1), "1969-12-31T23:59:59Z");
    }
}
