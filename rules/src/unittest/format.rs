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

/// promtool's `parsedSamplesString`: `nil`, or `labels value` items
/// joined with `, `.
pub fn samples_string(samples: &[(Labels, f64)]) -> String {
    if samples.is_empty() {
        return "nil".to_string();
    }
    samples
        .iter()
        .map(|(l, v)| format!("{l} {}", format_float_upper_exp(*v)))
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
            samples_string(&[(l.clone(), 1.0)]),
            "{__name__=\"test\"} 1E+00"
        );
        assert_eq!(
            samples_string(&[(l.clone(), 0.25), (Labels::new(), f64::INFINITY)]),
            "{__name__=\"test\"} 2.5E-01, {} +Inf"
        );
        assert_eq!(format_float_upper_exp(f64::NAN), "NaN");
    }
}
