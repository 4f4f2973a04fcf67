//! How promtool prints a failed check: alert lists, sample lists and
//! their indentation, byte for byte, so tooling that reads promtool's
//! output reads Aion's.

use std::fmt::Write as _;

use aion_model::gotext::{format_float_exp, write_go_quoted};
use aion_model::{is_legacy_label_name, Labels};

/// An alert as the comparison sees it: labels and annotations, each
/// sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LabelsAndAnnotations {
    /// The alert's labels (with `alertname`).
    pub labels: Vec<(String, String)>,
    /// The alert's annotations.
    pub annotations: Vec<(String, String)>,
}

/// A label set as Go's `labels.Labels.String()` prints it.
pub fn pairs_string(pairs: &[(String, String)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        if is_legacy_label_name(k) {
            s.push_str(k);
        } else {
            let _ = write_go_quoted(&mut s, k);
        }
        s.push('=');
        let _ = write_go_quoted(&mut s, v);
    }
    s.push('}');
    s
}

/// promtool's `indentLines`: every line but the first gets `indent`.
pub fn indent_lines(lines: &str, indent: &str) -> String {
    let mut out = String::new();
    let parts: Vec<&str> = lines.split('\n').collect();
    for (i, l) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(indent);
        }
        out.push_str(l);
        if i != parts.len() - 1 {
            out.push('\n');
        }
    }
    out
}

fn alert_string(a: &LabelsAndAnnotations) -> String {
    format!(
        "Labels:{}\nAnnotations:{}",
        pairs_string(&a.labels),
        pairs_string(&a.annotations)
    )
}

/// promtool's `labelsAndAnnotations.String()`: `[]`, or a numbered list.
pub fn alerts_string(list: &[LabelsAndAnnotations]) -> String {
    if list.is_empty() {
        return "[]".to_string();
    }
    let mut s = String::from("[\n0:");
    s.push_str(&indent_lines(
        &format!("\n{}", alert_string(&list[0])),
        "  ",
    ));
    for (i, a) in list.iter().enumerate().skip(1) {
        let _ = write!(
            s,
            ",\n{i}:{}",
            indent_lines(&format!("\n{}", alert_string(a)), "  ")
        );
    }
    s.push_str("\n]");
    s
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`: `1E+00`, `NaN`, `+Inf`.
pub fn format_float_upper_exp(v: f64) -> String {
    format_float_exp(v).replace('e', "E")
}

/// A sample as promtool compares it (its `parsedSample`): labels, the
/// float value, and a native histogram as its test-script literal
/// (empty for a float), so histograms compare by their compacted text.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSample {
    /// The series' labels.
    pub labels: Labels,
    /// The float value (0 for a histogram result).
    pub value: f64,
    /// `FloatHistogram::test_expression` of a histogram, else empty.
    pub histogram: String,
}

impl ParsedSample {
    /// A float sample.
    pub fn float(labels: Labels, value: f64) -> Self {
        Self {
            labels,
            value,
            histogram: String::new(),
        }
    }
}

impl std::fmt::Display for ParsedSample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.histogram.is_empty() {
            write!(f, "{} {}", self.labels, format_float_upper_exp(self.value))
        } else {
            write!(f, "{} {}", self.labels, self.histogram)
        }
    }
}

/// promtool's `parsedSamplesString`: `nil`, or `labels value` (or
/// `labels {{histogram}}`) items joined with `, `.
pub fn samples_string(samples: &[ParsedSample]) -> String {
    if samples.is_empty() {
        return "nil".to_string();
    }
    samples
        .iter()
        .map(ParsedSample::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn alert_lists_print_as_promtool() {
        let a = LabelsAndAnnotations {
            labels: p(&[("alertname", "Test"), ("job", "x")]),
            annotations: p(&[("summary", "down")]),
        };
        let b = LabelsAndAnnotations {
            labels: p(&[("alertname", "Test")]),
            annotations: vec![],
        };
        assert_eq!(alerts_string(&[]), "[]");
        assert_eq!(
            indent_lines(&alerts_string(&[a, b]), "            "),
            "[\n            0:\n              Labels:{alertname=\"Test\", job=\"x\"}\n              \
             Annotations:{summary=\"down\"},\n            1:\n              Labels:{alertname=\"Test\"}\n              \
             Annotations:{}\n            ]"
        );
    }

    #[test]
    fn samples_print_with_go_exponent() {
        let l = Labels::from_pairs(&[("__name__", "test")]).unwrap();
        assert_eq!(samples_string(&[]), "nil");
        assert_eq!(
            samples_string(&[ParsedSample::float(l.clone(), 1.0)]),
            "{__name__=\"test\"} 1E+00"
        );
        assert_eq!(
            samples_string(&[
                ParsedSample::float(l.clone(), 0.25),
                ParsedSample::float(Labels::new(), f64::INFINITY)
            ]),
            "{__name__=\"test\"} 2.5E-01, {} +Inf"
        );
        let h = ParsedSample {
            histogram: "{{count:2 sum:3 buckets:[2]}}".into(),
            ..ParsedSample::float(l.clone(), 0.0)
        };
        assert_eq!(
            samples_string(&[h]),
            "{__name__=\"test\"} {{count:2 sum:3 buckets:[2]}}"
        );
        assert_eq!(format_float_upper_exp(f64::NAN), "NaN");
    }
}
