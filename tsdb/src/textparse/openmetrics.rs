//! A parser for the OpenMetrics text format, accepting what Prometheus's
//! `model/textparse` OpenMetrics parser accepts (the input of
//! `promtool tsdb create-blocks-from openmetrics`).
//!
//! * `# HELP name text`, `# TYPE name type`, `# UNIT name unit` and the
//!   final `# EOF` are the only comments; anything after `# EOF` is an
//!   error, and so is input that does not end with it.
//! * Samples: `name{label="value",…} value [timestamp] [# {exemplar} value [timestamp]]`,
//!   single spaces between fields, label values with `\"`, `\\` and `\n`
//!   escapes. Timestamps are in seconds (fractions allowed) and become
//!   milliseconds as Prometheus computes them (`int64(ts * 1000)`).
//! * Exemplars are checked for syntax and otherwise ignored.
//! * Float syntax is Go's `strconv.ParseFloat` without hex floats and
//!   underscores; `NaN` gets Go's NaN bit pattern so stored chunks match.
//!
//! Errors name the line and column (both 1-based; the column counts
//! bytes).

use aion_model::METRIC_NAME;

use super::cursor::Cursor;
use super::entry::{
    parse_go_float, sample_labels, unescape, Entry, Escapes, MetricType, ParseError, Sample,
};

/// Pulls [`Entry`]s out of OpenMetrics text, one line at a time; an
/// iterator that ends after `# EOF` or at the first error.
///
/// ```
/// use aion_tsdb::textparse::{Entry, OpenMetricsParser};
/// let text = b"# TYPE up gauge\nup{job=\"api\"} 1 1700000000.5\n# EOF\n";
/// let mut p = OpenMetricsParser::new(text);
/// assert!(matches!(p.next(), Some(Ok(Entry::Type { name: "up", .. }))));
/// let Some(Ok(Entry::Sample(s))) = p.next() else { panic!() };
/// assert_eq!(s.labels.to_string(), r#"{__name__="up", job="api"}"#);
/// assert_eq!(s.timestamp_ms, Some(1_700_000_000_500));
/// assert!(p.next().is_none());
///
/// let err = OpenMetricsParser::new(b"up 1\nup x\n# EOF\n").find_map(Result::err).unwrap();
/// assert_eq!(err.to_string(), "line 2:4: invalid value \"x\"");
/// ```
pub struct OpenMetricsParser<'a> {
    c: Cursor<'a>,
    done: bool,
    /// More text follows this slice (which ends at a line boundary):
    /// running out of input is not an error.
    partial: bool,
    saw_eof: bool,
    pairs: Vec<(&'a str, String)>,
}

impl<'a> OpenMetricsParser<'a> {
    /// A parser over `text`.
    pub fn new(text: &'a [u8]) -> Self {
        Self::with_first_line(text, 1)
    }

    /// A parser over the last part of a text whose first line here is
    /// line `first_line` of the whole (for input read in pieces).
    pub fn with_first_line(text: &'a [u8], first_line: usize) -> Self {
        OpenMetricsParser {
            c: Cursor::new(text, first_line, Some("data does not end with # EOF")),
            done: false,
            partial: false,
            saw_eof: false,
            pairs: Vec::new(),
        }
    }

    /// A parser over a piece of a text that goes on after it: `text` must
    /// end at a line boundary, and its end is not the end of the input
    /// (no `# EOF` needed yet). Numbers lines from `first_line`.
    pub fn continuing(text: &'a [u8], first_line: usize) -> Self {
        OpenMetricsParser {
            partial: true,
            ..Self::with_first_line(text, first_line)
        }
    }

    /// The number of the line the parser is at (after iteration: one past
    /// the last line read).
    pub fn line(&self) -> usize {
        self.c.line
    }

    /// Whether `# EOF` was read.
    pub fn saw_eof(&self) -> bool {
        self.saw_eof
    }

    /// Bytes consumed so far (for progress reporting).
    pub fn offset(&self) -> usize {
        self.c.pos
    }

    fn expect_byte(&mut self, c: u8, what: &str) -> Result<(), ParseError> {
        match self.c.peek() {
            Some(x) if x == c => {
                self.c.pos += 1;
                Ok(())
            }
            _ => Err(self.c.unexpected(what)),
        }
    }

    /// A space followed by a run of bytes other than space and newline.
    fn field(&mut self, what: &str) -> Result<(usize, &'a str), ParseError> {
        self.expect_byte(b' ', &format!("expected {what}"))?;
        let start = self.c.pos;
        while let Some(c) = self.c.peek() {
            if c == b' ' || c == b'\n' {
                break;
            }
            self.c.pos += 1;
        }
        if start == self.c.pos {
            return Err(self.c.unexpected(&format!("expected {what}")));
        }
        let s = std::str::from_utf8(&self.c.b[start..self.c.pos])
            .map_err(|_| self.c.err_at(start, format!("{what} is not valid UTF-8")))?;
        Ok((start, s))
    }

    fn end_of_line(&mut self, what: &str) -> Result<(), ParseError> {
        match self.c.peek() {
            Some(b'\n') => {
                self.c.newline();
                Ok(())
            }
            _ => Err(self.c.unexpected(what)),
        }
    }

    /// `{name="value",…}` after the opening brace; appends the pairs.
    fn label_pairs(&mut self, out: &mut Vec<(&'a str, String)>) -> Result<(), ParseError> {
        let mut first = true;
        loop {
            match self.c.peek() {
                Some(b'}') => {
                    self.c.pos += 1;
                    return Ok(());
                }
                Some(b',') if !first => {
                    self.c.pos += 1;
                }
                _ if first => {}
                _ => return Err(self.c.unexpected("expected comma or right brace")),
            }
            let name = self.c.name(false, "label name")?;
            self.expect_byte(b'=', "expected equal sign")?;
            let value = self.label_value()?;
            out.push((name, value));
            first = false;
        }
    }

    /// A double-quoted label value, unescaped as Prometheus does (only
    /// `\"`, `\\` and `\n`; other escapes stay as written).
    fn label_value(&mut self) -> Result<String, ParseError> {
        let open = self.c.pos;
        self.expect_byte(b'"', "expected label value")?;
        let start = self.c.pos;
        loop {
            match self.c.peek() {
                Some(b'"') => break,
                Some(b'\\') => match self.c.b.get(self.c.pos + 1) {
                    Some(b'\n') | None => {
                        self.c.pos += 1;
                        return Err(self.c.unexpected("unterminated label value"));
                    }
                    Some(_) => self.c.pos += 2,
                },
                Some(b'\n') | None => return Err(self.c.unexpected("unterminated label value")),
                Some(_) => self.c.pos += 1,
            }
        }
        let raw = &self.c.b[start..self.c.pos];
        self.c.pos += 1;
        let raw = std::str::from_utf8(raw)
            .map_err(|_| self.c.err_at(open, "invalid UTF-8 label value"))?;
        Ok(unescape(raw, Escapes::WithQuote))
    }

    fn float(&self, at: usize, s: &str, what: &str) -> Result<f64, ParseError> {
        parse_go_float(s).ok_or_else(|| self.c.err_at(at, format!("invalid {what} {s:?}")))
    }

    fn comment(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        // At "# ".
        self.c.pos += 2;
        let rest = &self.c.b[self.c.pos..];
        let keyword_end = rest.iter().position(|&c| c == b' ' || c == b'\n');
        let keyword = &rest[..keyword_end.unwrap_or(rest.len())];
        if keyword == b"EOF" {
            self.c.pos += 3;
            if self.c.peek() == Some(b'\n') {
                self.c.newline();
            }
            if self.c.pos < self.c.b.len() {
                return Err(self.c.err_at(self.c.pos, "unexpected data after # EOF"));
            }
            self.done = true;
            self.saw_eof = true;
            return Ok(None);
        }
        let kind = match keyword {
            b"HELP" => "HELP",
            b"TYPE" => "TYPE",
            b"UNIT" => "UNIT",
            _ => {
                return Err(self.c.err_at(
                    self.c.pos,
                    "a comment must be # HELP, # TYPE, # UNIT or # EOF",
                ))
            }
        };
        self.c.pos += 4;
        self.expect_byte(b' ', &format!("expected metric name after {kind}"))?;
        let name = self.c.name(true, &format!("metric name after {kind}"))?;
        let text_start = self.c.pos;
        if self.c.peek() != Some(b' ') {
            return Err(self.c.unexpected(&format!("expected text in {kind}")));
        }
        let end = self.c.b[self.c.pos..]
            .iter()
            .position(|&c| c == b'\n')
            .map(|n| self.c.pos + n)
            .ok_or_else(|| {
                self.c
                    .err_at(self.c.b.len(), "data does not end with # EOF")
            })?;
        let text = &self.c.b[self.c.pos + 1..end];
        self.c.pos = end;
        let text = std::str::from_utf8(text).map_err(|_| {
            self.c
                .err_at(text_start, format!("{kind} text is not valid UTF-8"))
        })?;
        let entry = match kind {
            "HELP" => Entry::Help {
                name,
                text: unescape(text, Escapes::WithQuote),
            },
            "TYPE" => Entry::Type {
                name,
                kind: match text {
                    "counter" => MetricType::Counter,
                    "gauge" => MetricType::Gauge,
                    "histogram" => MetricType::Histogram,
                    "gaugehistogram" => MetricType::GaugeHistogram,
                    "summary" => MetricType::Summary,
                    "info" => MetricType::Info,
                    "stateset" => MetricType::Stateset,
                    "unknown" => MetricType::Unknown,
                    other => {
                        return Err(self
                            .c
                            .err_at(text_start + 1, format!("invalid metric type {other:?}")))
                    }
                },
            },
            _ => {
                let is_suffix = name.len() > text.len()
                    && name.ends_with(text)
                    && name.as_bytes()[name.len() - text.len() - 1] == b'_';
                if !text.is_empty() && !is_suffix {
                    return Err(self.c.err_at(
                        text_start + 1,
                        format!("unit {text:?} is not a suffix of metric {name:?}"),
                    ));
                }
                Entry::Unit { name, unit: text }
            }
        };
        self.end_of_line("expected end of line")?;
        Ok(Some(entry))
    }

    fn sample(&mut self) -> Result<Sample, ParseError> {
        let line = self.c.line;
        let name = self.c.name(true, "metric name")?;
        let mut pairs = std::mem::take(&mut self.pairs);
        pairs.clear();
        pairs.push((METRIC_NAME, name.to_string()));
        let labels_at = self.c.pos;
        if self.c.peek() == Some(b'{') {
            self.c.pos += 1;
            self.label_pairs(&mut pairs)?;
        }
        let (at, v) = self.field("value")?;
        let value = self.float(at, v, "value")?;
        let mut timestamp_ms = None;
        if self.c.b[self.c.pos..].starts_with(b" # {") {
            self.exemplar(name)?;
        } else if self.c.peek() == Some(b' ') {
            let (at, ts) = self.field("timestamp")?;
            let ts = self.float(at, ts, "timestamp")?;
            if !ts.is_finite() {
                return Err(self.c.err_at(at, "invalid timestamp"));
            }
            // Prometheus: int64(ts * 1000), truncating.
            timestamp_ms = Some((ts * 1000.0) as i64);
            if self.c.b[self.c.pos..].starts_with(b" # {") {
                self.exemplar(name)?;
            }
        }
        self.end_of_line("expected timestamp, exemplar or end of line")?;
        let column = labels_at - self.line_start_of(labels_at) + 1;
        let labels = sample_labels(&mut pairs, line, column)?;
        self.pairs = pairs;
        Ok(Sample {
            labels,
            value,
            timestamp_ms,
            line,
        })
    }

    /// The start of the line holding byte `at` (only for positions on the
    /// current line or the one just finished).
    fn line_start_of(&self, at: usize) -> usize {
        self.c.b[..at]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1)
    }

    /// ` # {labels} value [timestamp]`, checked and dropped.
    fn exemplar(&mut self, metric: &str) -> Result<(), ParseError> {
        let at = self.c.pos + 1;
        if !(metric.ends_with("_total") || metric.ends_with("_bucket")) {
            return Err(self.c.err_at(
                at,
                format!("metric name {metric} does not support exemplars"),
            ));
        }
        self.c.pos += 4;
        let mut pairs = Vec::new();
        self.label_pairs(&mut pairs)?;
        let (at, v) = self.field("exemplar value")?;
        self.float(at, v, "exemplar value")?;
        if self.c.peek() == Some(b' ') {
            let (at, ts) = self.field("exemplar timestamp")?;
            let ts = self.float(at, ts, "exemplar timestamp")?;
            if !ts.is_finite() {
                return Err(self.c.err_at(at, "invalid exemplar timestamp"));
            }
        }
        Ok(())
    }
}

impl<'a> Iterator for OpenMetricsParser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let res = match self.c.peek() {
            None if self.partial => {
                self.done = true;
                return None;
            }
            None => Err(self.c.err_at(self.c.pos, "data does not end with # EOF")),
            Some(b'#') if self.c.b.get(self.c.pos + 1) == Some(&b' ') => match self.comment() {
                Ok(None) => return None,
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
        Some(res)
    }
}

#[cfg(test)]
mod tests {
    use super::super::entry::GO_NAN_BITS;
    use super::*;
    use aion_model::Labels;
    use proptest::prelude::*;

    fn parse_all(s: &str) -> Result<Vec<Entry<'_>>, ParseError> {
        OpenMetricsParser::new(s.as_bytes()).collect()
    }

    #[test]
    fn full_example() {
        let text = "# HELP foo_seconds Time \\\"spent\\\".\n# TYPE foo_seconds counter\n# UNIT foo_seconds seconds\nfoo_seconds_total{a=\"x\\ny\",b=\"\\\\\"} 1.5e3 1520879607.789 # {trace_id=\"1\"} 0.5 1520879607.7\nfoo_seconds_created 1520430000.123\nbar +Inf 1\nbaz -nan 2\n# EOF";
        let e = parse_all(text).unwrap();
        assert_eq!(e.len(), 7);
        assert_eq!(
            e[0],
            Entry::Help {
                name: "foo_seconds",
                text: "Time \"spent\".".into()
            }
        );
        assert_eq!(
            e[2],
            Entry::Unit {
                name: "foo_seconds",
                unit: "seconds"
            }
        );
        let Entry::Sample(s) = &e[3] else { panic!() };
        assert_eq!(
            s.labels,
            Labels::from_pairs(&[
                ("__name__", "foo_seconds_total"),
                ("a", "x\ny"),
                ("b", "\\")
            ])
            .unwrap()
        );
        assert_eq!(s.value, 1500.0);
        assert_eq!(s.timestamp_ms, Some(1520879607789));
        assert_eq!(s.line, 4);
        let Entry::Sample(s) = &e[4] else { panic!() };
        assert_eq!(s.timestamp_ms, None);
        let Entry::Sample(s) = &e[6] else { panic!() };
        assert_eq!(s.value.to_bits(), GO_NAN_BITS);
        assert_eq!(s.timestamp_ms, Some(2000));
    }

    #[test]
    fn timestamps_truncate_like_go() {
        // 1.001 * 1000 = 1000.9999999999999 in float64: Go truncates to 1000.
        let e = parse_all("a 1 1.001\n# EOF\n").unwrap();
        let Entry::Sample(s) = &e[0] else { panic!() };
        assert_eq!(s.timestamp_ms, Some(1000));
    }

    #[test]
    fn errors_name_line_and_column() {
        for (input, want) in [
            ("a 1\n", "line 2:1: data does not end with # EOF"),
            ("a 1", "line 1:4: data does not end with # EOF"),
            ("a 1\n# EOF\nb 1\n", "line 3:1: unexpected data after # EOF"),
            ("a  1\n# EOF\n", "line 1:3: expected value, found ' '"),
            (
                "a{b=\"c\" } 1\n# EOF\n",
                "line 1:8: expected comma or right brace, found ' '",
            ),
            (
                "a{b=c} 1\n# EOF\n",
                "line 1:5: expected label value, found 'c'",
            ),
            (
                "a{1=\"c\"} 1\n# EOF\n",
                "line 1:3: expected label name, found '1'",
            ),
            ("a 1 x\n# EOF\n", "line 1:5: invalid timestamp \"x\""),
            (
                "a 1 1 2\n# EOF\n",
                "line 1:6: expected timestamp, exemplar or end of line, found ' '",
            ),
            (
                "# TYPE a foo\n# EOF\n",
                "line 1:10: invalid metric type \"foo\"",
            ),
            (
                "# UNIT a_b c\n# EOF\n",
                "line 1:12: unit \"c\" is not a suffix of metric \"a_b\"",
            ),
            (
                "# FOO a b\n# EOF\n",
                "line 1:3: a comment must be # HELP, # TYPE, # UNIT or # EOF",
            ),
            (
                "\n# EOF\n",
                "line 1:1: expected a metric name or a comment, found end of line",
            ),
            (
                "a 1 # {x=\"y\"} 1\n# EOF\n",
                "line 1:5: metric name a does not support exemplars",
            ),
            ("a 1e999\n# EOF\n", "line 1:3: invalid value \"1e999\""),
            ("a 0x10\n# EOF\n", "line 1:3: invalid value \"0x10\""),
            (
                "a{b=\"1\",b=\"2\"} 1\n# EOF\n",
                "line 1:2: duplicate label name \"b\"",
            ),
            (
                "a{b=\"x\n# EOF\n",
                "line 1:7: unterminated label value, found end of line",
            ),
        ] {
            let err = parse_all(input).unwrap_err();
            assert_eq!(err.to_string(), want, "input {input:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(b: Vec<u8>) {
            for e in OpenMetricsParser::new(&b) {
                if e.is_err() {
                    break;
                }
            }
        }

        #[test]
        fn never_panics_on_near_valid_text(
            lines in prop::collection::vec(
                prop::sample::select(vec![
                    "# TYPE a_total counter", "a_total{x=\"1\"} 1 2", "a 1", "b{} 2 3.5",
                    "# EOF", "a 1 # {t=\"1\"} 2", "c{y=\"\\\"\"} NaN", "# HELP a x", "",
                    "a{", "a 1 2 # {", "# UNIT a_s s",
                ]),
                0..8,
            ),
        ) {
            let text = lines.join("\n");
            for e in OpenMetricsParser::new(text.as_bytes()) {
                if let Err(e) = e {
                    prop_assert!(e.line >= 1 && e.column >= 1);
                    break;
                }
            }
        }

        #[test]
        fn generated_samples_round_trip(
            samples in prop::collection::vec(("[a-z_][a-z0-9_]{0,5}", "[ -~]{1,6}", -1e9f64..1e9, 0i64..2_000_000_000), 1..10)
        ) {
            let mut text = String::new();
            for (name, value, v, ts) in &samples {
                let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
                text.push_str(&format!("m_{name}{{l=\"{escaped}\"}} {v:?} {ts}\n"));
            }
            text.push_str("# EOF\n");
            let parsed: Vec<Entry> = OpenMetricsParser::new(text.as_bytes()).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(parsed.len(), samples.len());
            for (e, (name, value, v, ts)) in parsed.iter().zip(&samples) {
                let Entry::Sample(s) = e else { panic!() };
                prop_assert_eq!(s.labels.get("__name__").unwrap(), format!("m_{name}"));
                prop_assert_eq!(s.labels.get("l").unwrap(), value.as_str());
                prop_assert_eq!(s.value, *v);
                prop_assert_eq!(s.timestamp_ms, Some(ts * 1000));
            }
        }
    }
}
