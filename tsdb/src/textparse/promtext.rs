//! A parser for the Prometheus text exposition format 0.0.4
//! (`text/plain; version=0.0.4`), accepting what Prometheus 2.x's
//! `model/textparse` Prometheus parser accepts: what scrape targets that
//! do not offer OpenMetrics answer.
//!
//! * Lines end with `\n`; blank lines and runs of spaces and tabs between
//!   tokens (also at the start of a line and inside braces) are allowed.
//! * `# HELP name text` (text with `\\` and `\n` unescaped) and
//!   `# TYPE name type` (`counter`, `gauge`, `histogram`, `summary`,
//!   `untyped`); every other `#` line is a comment and skipped.
//! * Samples: `name{label="value",…} value [timestamp]`, a trailing comma
//!   in the braces allowed, label values with `\"`, `\\` and `\n` escapes
//!   (others kept as written), values in Go's float syntax (`+Inf`,
//!   `NaN`, …), timestamps as integer milliseconds.
//! * No `# EOF` and no exemplars (those are OpenMetrics).
//!
//! Errors name the line and column (both 1-based; the column counts
//! bytes).

use aion_model::METRIC_NAME;

use super::cursor::Cursor;
use super::entry::{
    parse_go_float, sample_labels, unescape, Entry, Escapes, MetricType, ParseError, Sample,
    GO_NAN_BITS,
};

/// Pulls [`Entry`]s (the same shape the OpenMetrics parser yields; never
/// [`Entry::Unit`]) out of Prometheus text, one line at a time; an
/// iterator that ends at the end of the input or at the first error.
///
/// ```
/// use aion_tsdb::textparse::{Entry, PromTextParser};
/// let text = b"# TYPE up gauge\nup{job=\"api\",} 1 1700000000500\n";
/// let mut p = PromTextParser::new(text);
/// assert!(matches!(p.next(), Some(Ok(Entry::Type { name: "up", .. }))));
/// let Some(Ok(Entry::Sample(s))) = p.next() else { panic!() };
/// assert_eq!(s.labels.to_string(), r#"{__name__="up", job="api"}"#);
/// assert_eq!(s.timestamp_ms, Some(1_700_000_000_500));
/// assert!(p.next().is_none());
///
/// let err = PromTextParser::new(b"up 1\nup x\n").find_map(Result::err).unwrap();
/// assert_eq!(err.to_string(), "line 2:4: invalid value \"x\"");
/// ```
pub struct PromTextParser<'a> {
    c: Cursor<'a>,
    done: bool,
    pairs: Vec<(&'a str, String)>,
}

impl<'a> PromTextParser<'a> {
    /// A parser over `text`.
    pub fn new(text: &'a [u8]) -> Self {
        PromTextParser {
            c: Cursor::new(text, 1, None),
            done: false,
            pairs: Vec::new(),
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> usize {
        self.c.pos
    }

    /// Skips spaces and tabs.
    fn blanks(&mut self) {
        while matches!(self.c.peek(), Some(b' ' | b'\t')) {
            self.c.pos += 1;
        }
    }

    /// The rest of the line (not its newline).
    fn rest_of_line(&mut self) -> &'a [u8] {
        let start = self.c.pos;
        while !matches!(self.c.peek(), None | Some(b'\n')) {
            self.c.pos += 1;
        }
        &self.c.b[start..self.c.pos]
    }

    /// After `#`: HELP and TYPE become entries, anything else is skipped.
    fn comment(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        self.c.pos += 1;
        let after_hash = self.c.pos;
        self.blanks();
        let rest = &self.c.b[self.c.pos..];
        let kind = if self.c.pos > after_hash && rest.starts_with(b"HELP") {
            "HELP"
        } else if self.c.pos > after_hash && rest.starts_with(b"TYPE") {
            "TYPE"
        } else {
            ""
        };
        let keyword_end = self.c.pos + 4;
        if kind.is_empty() || !matches!(self.c.b.get(keyword_end), Some(b' ' | b'\t')) {
            self.rest_of_line();
            if self.c.peek() == Some(b'\n') {
                self.c.newline();
            }
            return Ok(None);
        }
        self.c.pos = keyword_end;
        self.blanks();
        let name = self.c.name(true, "metric name")?;
        // Prometheus's text is the rest of the line minus its first byte
        // (the separator).
        let text_start = self.c.pos;
        let rest = self.rest_of_line();
        let text = rest.get(1..).unwrap_or_default();
        if !rest.is_empty() && !matches!(rest[0], b' ' | b'\t') {
            return Err(self
                .c
                .err_at(text_start, "expected a space after the metric name"));
        }
        let text = std::str::from_utf8(text).map_err(|_| {
            self.c
                .err_at(text_start, format!("{kind} text is not valid UTF-8"))
        })?;
        let entry = if kind == "HELP" {
            Entry::Help {
                name,
                text: unescape(text, Escapes::WithoutQuote),
            }
        } else {
            let kind = match text {
                "counter" => MetricType::Counter,
                "gauge" => MetricType::Gauge,
                "histogram" => MetricType::Histogram,
                "summary" => MetricType::Summary,
                "untyped" => MetricType::Unknown,
                other => {
                    return Err(self
                        .c
                        .err_at(text_start + 1, format!("invalid metric type {other:?}")))
                }
            };
            Entry::Type { name, kind }
        };
        if self.c.peek() == Some(b'\n') {
            self.c.newline();
        } else {
            return Err(self.c.unexpected("expected a line break after metadata"));
        }
        Ok(Some(entry))
    }

    /// A double-quoted label value (which may span lines, as Prometheus's
    /// lexer allows), unescaped.
    fn label_value(&mut self) -> Result<String, ParseError> {
        if self.c.peek() != Some(b'"') {
            return Err(self.c.unexpected("expected label value"));
        }
        self.c.pos += 1;
        let start = self.c.pos;
        loop {
            match self.c.peek() {
                None => return Err(self.c.unexpected("unterminated label value")),
                Some(b'"') => break,
                Some(b'\\') => {
                    if self.c.b.get(self.c.pos + 1).is_none() {
                        self.c.pos += 1;
                        return Err(self.c.unexpected("unterminated label value"));
                    }
                    self.c.pos += 2;
                }
                Some(b'\n') => {
                    self.c.newline();
                }
                Some(_) => self.c.pos += 1,
            }
        }
        let raw = std::str::from_utf8(&self.c.b[start..self.c.pos])
            .map_err(|_| self.c.err_at(start, "label value is not valid UTF-8"))?;
        self.c.pos += 1;
        Ok(unescape(raw, Escapes::WithQuote))
    }

    fn label_pairs(&mut self, out: &mut Vec<(&'a str, String)>) -> Result<(), ParseError> {
        loop {
            self.blanks();
            if self.c.peek() == Some(b'}') {
                self.c.pos += 1;
                return Ok(());
            }
            let name = self.c.name(false, "label name")?;
            self.blanks();
            if self.c.peek() != Some(b'=') {
                return Err(self.c.unexpected("expected equal sign"));
            }
            self.c.pos += 1;
            self.blanks();
            let value = self.label_value()?;
            out.push((name, value));
            self.blanks();
            match self.c.peek() {
                Some(b',') => self.c.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.c.unexpected("expected comma or right brace")),
            }
        }
    }

    fn sample(&mut self) -> Result<Sample, ParseError> {
        let line = self.c.line;
        let name = self.c.name(true, "metric name")?;
        let mut pairs = std::mem::take(&mut self.pairs);
        pairs.clear();
        pairs.push((METRIC_NAME, name.to_string()));
        let (labels_line, labels_col) = (self.c.line, self.c.pos - self.c.line_start + 1);
        self.blanks();
        if self.c.peek() == Some(b'{') {
            self.c.pos += 1;
            self.label_pairs(&mut pairs)?;
        }
        self.blanks();
        let at = self.c.pos;
        while !matches!(self.c.peek(), None | Some(b' ' | b'\t' | b'\n' | b'{')) {
            self.c.pos += 1;
        }
        if at == self.c.pos {
            return Err(self.c.unexpected("expected value"));
        }
        let v = std::str::from_utf8(&self.c.b[at..self.c.pos])
            .map_err(|_| self.c.err_at(at, "value is not valid UTF-8"))?;
        let mut value =
            parse_go_float(v).ok_or_else(|| self.c.err_at(at, format!("invalid value {v:?}")))?;
        if value.is_nan() {
            value = f64::from_bits(GO_NAN_BITS);
        }
        self.blanks();
        let mut timestamp_ms = None;
        if matches!(self.c.peek(), Some(c) if c.is_ascii_digit()) {
            let at = self.c.pos;
            while matches!(self.c.peek(), Some(c) if c.is_ascii_digit()) {
                self.c.pos += 1;
            }
            let ts = std::str::from_utf8(&self.c.b[at..self.c.pos]).expect("ASCII");
            timestamp_ms = Some(
                ts.parse::<i64>()
                    .map_err(|_| self.c.err_at(at, format!("invalid timestamp {ts:?}")))?,
            );
            self.blanks();
        }
        match self.c.peek() {
            Some(b'\n') => self.c.newline(),
            _ if timestamp_ms.is_some() => {
                return Err(self
                    .c
                    .unexpected("expected a line break after the timestamp"))
            }
            _ => return Err(self.c.unexpected("expected timestamp or line break")),
        }
        let labels = sample_labels(&mut pairs, labels_line, labels_col)?;
        self.pairs = pairs;
        Ok(Sample {
            labels,
            value,
            timestamp_ms,
            line,
        })
    }
}

impl<'a> Iterator for PromTextParser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.blanks();
            let res = match self.c.peek() {
                None => {
                    self.done = true;
                    return None;
                }
                Some(b'\n') => {
                    self.c.newline();
                    continue;
                }
                Some(b'#') => match self.comment() {
                    Ok(None) => continue,
                    Ok(Some(e)) => Ok(e),
                    Err(e) => Err(e),
                },
                Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':' => {
                    self.sample().map(Entry::Sample)
                }
                Some(_) => Err(self.c.unexpected("expected a metric name or a comment")),
            };
            if res.is_err() {
                self.done = true;
            }
            return Some(res);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(s: &str) -> Result<Vec<Entry<'_>>, ParseError> {
        PromTextParser::new(s.as_bytes()).collect()
    }

    fn sample(e: &Entry<'_>) -> Sample {
        match e {
            Entry::Sample(s) => s.clone(),
            other => panic!("not a sample: {other:?}"),
        }
    }

    #[test]
    fn exposition_as_client_libraries_write_it() {
        let text = "# HELP go_gc_duration_seconds A summary of \\\"GC\\\" pauses.\\nSecond line \\\\.\n\
# TYPE go_gc_duration_seconds summary\n\
go_gc_duration_seconds{quantile=\"0\"} 4.9351e-05\n\
go_gc_duration_seconds_sum 0.00143\n\
\n\
# a comment\n\
#no space is a comment too\n\
# HELP\n\
\t  http_requests_total { method = \"post\" , code=\"200\", } 1027 1395066363000\n\
msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
metric_without_timestamp_and_labels 12.47\n\
a_nan NaN\n\
# TYPE untyped_metric untyped\n\
untyped_metric{x=\"\\q\"}\t-Inf\t\t5 \n";
        let e = parse_all(text).unwrap();
        assert_eq!(e.len(), 10, "{e:#?}");
        assert_eq!(
            e[0],
            Entry::Help {
                name: "go_gc_duration_seconds",
                text: "A summary of \\\"GC\\\" pauses.\nSecond line \\.".into()
            }
        );
        assert_eq!(
            e[1],
            Entry::Type {
                name: "go_gc_duration_seconds",
                kind: MetricType::Summary
            }
        );
        let s = sample(&e[2]);
        assert_eq!(s.value, 4.9351e-05);
        assert_eq!((s.timestamp_ms, s.line), (None, 3));
        let s = sample(&e[4]);
        assert_eq!(
            s.labels.to_string(),
            r#"{__name__="http_requests_total", code="200", method="post"}"#
        );
        assert_eq!(
            (s.value, s.timestamp_ms, s.line),
            (1027.0, Some(1395066363000), 9)
        );
        let s = sample(&e[5]);
        assert_eq!(s.labels.get("path"), Some("C:\\DIR\\FILE.TXT"));
        assert_eq!(
            s.labels.get("error"),
            Some("Cannot find file:\n\"FILE.TXT\"")
        );
        let s = sample(&e[6]);
        assert_eq!((s.value, s.timestamp_ms), (12.47, None));
        assert_eq!(sample(&e[7]).value.to_bits(), GO_NAN_BITS);
        let s = sample(&e[9]);
        assert_eq!((s.value, s.timestamp_ms), (f64::NEG_INFINITY, Some(5)));
        // `-3982045` is no timestamp: Prometheus's lexer takes digits only.
        assert!(parse_all("a +Inf -3982045\n").is_err());
    }

    #[test]
    fn nan_gets_gos_bit_pattern_and_untyped_is_unknown() {
        let e = parse_all("a -nan\n# TYPE b untyped\nb{x=\"\\q\"}\t-Inf\t\t5 \n").unwrap();
        assert_eq!(sample(&e[0]).value.to_bits(), GO_NAN_BITS);
        assert_eq!(
            e[1],
            Entry::Type {
                name: "b",
                kind: MetricType::Unknown
            }
        );
        let s = sample(&e[2]);
        assert_eq!(s.labels.get("x"), Some("\\q"));
        assert_eq!((s.value, s.timestamp_ms), (f64::NEG_INFINITY, Some(5)));
    }

    #[test]
    fn empty_label_values_are_dropped_and_values_may_follow_braces() {
        let s = sample(&parse_all("a{b=\"\",c=\"d\"}1\n").unwrap()[0]);
        assert_eq!(s.labels.to_string(), r#"{__name__="a", c="d"}"#);
        assert_eq!(s.value, 1.0);
    }

    #[test]
    fn errors_name_line_and_column() {
        for (input, want) in [
            (
                "a 1",
                "line 1:4: expected timestamp or line break, found end of input",
            ),
            (
                "a 1 2",
                "line 1:6: expected a line break after the timestamp, found end of input",
            ),
            ("a\n", "line 1:2: expected value, found end of line"),
            (
                "a 1 x\n",
                "line 1:5: expected timestamp or line break, found 'x'",
            ),
            (
                "a 1 2 3\n",
                "line 1:7: expected a line break after the timestamp, found '3'",
            ),
            (
                "a 1\nb{c=d} 1\n",
                "line 2:5: expected label value, found 'd'",
            ),
            ("a{1=\"c\"} 1\n", "line 1:3: expected label name, found '1'"),
            (
                "a{b=\"c\" d=\"e\"} 1\n",
                "line 1:9: expected comma or right brace, found 'd'",
            ),
            (
                "a{b \"c\"} 1\n",
                "line 1:5: expected equal sign, found '\"'",
            ),
            ("# TYPE a foo\n", "line 1:10: invalid metric type \"foo\""),
            (
                "# TYPE a counter",
                "line 1:17: expected a line break after metadata, found end of input",
            ),
            ("# HELP 1a x\n", "line 1:8: expected metric name, found '1'"),
            ("a 1e999\n", "line 1:3: invalid value \"1e999\""),
            ("a 0x1p3\n", "line 1:3: invalid value \"0x1p3\""),
            (
                "a 1 99999999999999999999\n",
                "line 1:5: invalid timestamp \"99999999999999999999\"",
            ),
            (
                "a{b=\"1\",b=\"2\"} 1\n",
                "line 1:2: duplicate label name \"b\"",
            ),
            (
                "a{b=\"x\n",
                "line 2:1: unterminated label value, found end of input",
            ),
            (
                "{a=\"b\"} 1\n",
                "line 1:1: expected a metric name or a comment, found '{'",
            ),
            (
                "a 1 # {x=\"y\"} 1\n",
                "line 1:5: expected timestamp or line break, found '#'",
            ),
        ] {
            let err = parse_all(input).unwrap_err();
            assert_eq!(err.to_string(), want, "input {input:?}");
        }
    }

    #[test]
    fn label_values_may_span_lines_as_prometheus_lexes_them() {
        let e = parse_all("a{b=\"x\ny\"} 1\nc 2\n").unwrap();
        assert_eq!(sample(&e[0]).labels.get("b"), Some("x\ny"));
        let c = sample(&e[1]);
        assert_eq!(c.line, 3);
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(b: Vec<u8>) {
            for e in PromTextParser::new(&b) {
                if let Err(e) = e {
                    prop_assert!(e.line >= 1 && e.column >= 1);
                    break;
                }
            }
        }

        #[test]
        fn never_panics_on_near_valid_text(
            lines in prop::collection::vec(
                prop::sample::select(vec![
                    "# TYPE a_total counter", "a_total{x=\"1\"} 1 2", "a 1", "b{} 2 35",
                    "# HELP a x\\n", "c{y=\"\\\"\",} NaN", "", "a{", "a 1 2 3", "#", "\t a  1",
                    "# TYPE", "d{e=\"", "\"}", "f{g=\"h\"  ,  } -Inf",
                ]),
                0..8,
            ),
        ) {
            let text = lines.join("\n");
            for e in PromTextParser::new(text.as_bytes()) {
                if let Err(e) = e {
                    prop_assert!(e.line >= 1 && e.column >= 1);
                    break;
                }
            }
        }

        #[test]
        fn generated_samples_round_trip(
            samples in prop::collection::vec(
                ("[a-z_:][a-z0-9_:]{0,5}", "[ -~]{1,6}", -1e9f64..1e9, prop::option::of(0i64..i64::MAX)),
                1..10,
            )
        ) {
            let mut text = String::new();
            for (name, value, v, ts) in &samples {
                let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
                text.push_str(&format!("m{name}{{l=\"{escaped}\"}} {v:?}"));
                if let Some(ts) = ts {
                    text.push_str(&format!(" {ts}"));
                }
                text.push('\n');
            }
            let parsed: Vec<Entry> = PromTextParser::new(text.as_bytes()).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(parsed.len(), samples.len());
            for (e, (name, value, v, ts)) in parsed.iter().zip(&samples) {
                let s = sample(e);
                prop_assert_eq!(s.labels.get("__name__").unwrap(), format!("m{name}"));
                prop_assert_eq!(s.labels.get("l").unwrap(), value.as_str());
                prop_assert_eq!(s.value, *v);
                prop_assert_eq!(s.timestamp_ms, *ts);
            }
        }
    }
}
