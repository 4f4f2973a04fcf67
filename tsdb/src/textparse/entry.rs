//! What both text parsers yield: entries, samples, metric types, errors,
//! and the value rules they share (Go's float syntax, Prometheus's
//! unescaping, how a sample's label pairs become [`Labels`]).

use std::fmt;

use aion_model::Labels;

/// Go's `math.NaN()`: the NaN Prometheus stores for a parsed `NaN`.
pub(crate) const GO_NAN_BITS: u64 = 0x7FF8_0000_0000_0001;

/// Why exposition text could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}:{column}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based byte column within the line.
    pub column: usize,
    /// What was wrong.
    pub message: String,
}

/// The kind of a metric family (`# TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `histogram`
    Histogram,
    /// `gaugehistogram`
    GaugeHistogram,
    /// `summary`
    Summary,
    /// `info`
    Info,
    /// `stateset`
    Stateset,
    /// `unknown`
    Unknown,
}

/// A sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series (metric name as `__name__`, labels sorted).
    pub labels: Labels,
    /// The value.
    pub value: f64,
    /// The timestamp in milliseconds, if the line had one.
    pub timestamp_ms: Option<i64>,
    /// The 1-based line number.
    pub line: usize,
}

/// One entry of the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP name text` (text unescaped).
    Help {
        /// The metric family.
        name: &'a str,
        /// The help text.
        text: String,
    },
    /// `# TYPE name type`.
    Type {
        /// The metric family.
        name: &'a str,
        /// Its type.
        kind: MetricType,
    },
    /// `# UNIT name unit`.
    Unit {
        /// The metric family.
        name: &'a str,
        /// The unit (a suffix of the name).
        unit: &'a str,
    },
    /// A sample.
    Sample(Sample),
}

/// Which escapes [`unescape`] undoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escapes {
    /// `\"`, `\\` and `\n`: label values, and OpenMetrics help text.
    WithQuote,
    /// `\\` and `\n` only: help text of the Prometheus text format.
    WithoutQuote,
}

/// Undoes the escapes Prometheus undoes; any other backslash stays as
/// written.
pub(crate) fn unescape(s: &str, escapes: Escapes) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') if escapes == Escapes::WithQuote => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// A sample's label pairs (the metric name first) as [`Labels`]:
/// empty values dropped (Prometheus reads them as "no such label"),
/// sorted, and a repeated name refused with the error placed at
/// `(line, column)`, where the labels began.
pub(crate) fn sample_labels(
    pairs: &mut Vec<(&str, String)>,
    line: usize,
    column: usize,
) -> Result<Labels, ParseError> {
    pairs.retain(|(_, v)| !v.is_empty());
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(ParseError {
            line,
            column,
            message: format!("duplicate label name {:?}", w[0].0),
        });
    }
    Ok(Labels::from_sorted_unchecked(
        pairs.iter().map(|(n, v)| (*n, v.as_str())),
    ))
}

/// Parses a float as Go's `strconv.ParseFloat` does for the formats
/// Prometheus's text parsers allow (no hex floats, no underscores): decimal
/// with optional exponent, `Inf`/`Infinity`/`NaN` in any case with an
/// optional sign. Values beyond the float range are errors, as in Go.
pub fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.contains(['p', 'P', '_', 'x', 'X']) {
        return None;
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = unsigned.to_ascii_lowercase();
    match lower.as_str() {
        "nan" => return Some(f64::from_bits(GO_NAN_BITS)),
        "inf" | "infinity" => {
            return Some(if s.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        _ => {}
    }
    // Only digits, one dot, and an exponent: Rust's parser accepts the
    // same decimal grammar as Go's (and rounds the same way).
    if !unsigned
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    if v.is_infinite() {
        return None;
    }
    Some(v)
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::Stateset => "stateset",
            MetricType::Unknown => "unknown",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_floats() {
        for (s, v) in [
            ("1", 1.0),
            ("-1.5", -1.5),
            (".5", 0.5),
            ("5.", 5.0),
            ("1E3", 1000.0),
            ("+Inf", f64::INFINITY),
            ("-infinity", f64::NEG_INFINITY),
            ("1e-400", 0.0),
        ] {
            assert_eq!(parse_go_float(s), Some(v), "{s}");
        }
        for s in ["", "1_0", "0x1p3", "abc", "1e400", "--1", "1..2"] {
            assert_eq!(parse_go_float(s), None, "{s}");
        }
    }

    #[test]
    fn help_text_keeps_quote_escapes_in_the_text_format() {
        assert_eq!(
            unescape(r#"a\"b\\c\nd\x"#, Escapes::WithQuote),
            "a\"b\\c\nd\\x"
        );
        assert_eq!(unescape(r#"a\"b"#, Escapes::WithoutQuote), r#"a\"b"#);
    }
}
