//! Encodes query results exactly as Prometheus's HTTP API encodes the
//! `data` field of `/api/v1/query` and `/api/v1/query_range` answers:
//! `{"resultType":"vector","result":[…]}`, byte for byte (number
//! formatting, escaping and field order included), so a host can serve
//! Aion's results to Grafana or compare them with a Prometheus server;
//! [`encode_response`] gives the whole answer, with its `warnings` and
//! `infos`.
//!
//! ```
//! use aion_model::Labels;
//! use aion_promql::{json, Sample, Value};
//!
//! let v = Value::Vector(vec![Sample {
//!     metric: Labels::from_pairs(&[("job", "api")]).unwrap(),
//!     t: 1_435_781_451_781,
//!     f: 1.0,
//!     h: None,
//! }]);
//! assert_eq!(
//!     json::encode_data(&v),
//!     r#"{"resultType":"vector","result":[{"metric":{"job":"api"},"value":[1435781451.781,"1"]}]}"#
//! );
//! ```

use std::fmt::Write;

use aion_model::histogram::FloatHistogram;
use aion_model::Labels;

use crate::engine::{AnnotationKind, QueryResult};
use crate::value::{FPoint, HPoint, Value};
use aion_model::gotext::{format_float, format_float_exp, write_json_string};

/// The `data` object for `value`.
pub fn encode_data(value: &Value) -> String {
    let mut out = String::new();
    write_data(value, &mut out);
    out
}

/// The whole success answer of `/api/v1/query(_range)` for `result` of
/// `query`: `{"status":"success","data":{…},"warnings":[…],"infos":[…]}`,
/// with `warnings` and `infos` left out when empty, as Prometheus 3's API
/// does (`omitempty`). Each is the annotation's text with its query
/// position ([`Annotation::render`](crate::Annotation::render)); storage
/// warnings (a block skipped, a WAL cut on open) are among the warnings,
/// so a client sees an answer may be missing data.
///
/// ```
/// use aion_promql::{json, Engine, EngineOptions};
/// use aion_storage::MemStorage;
///
/// let r = Engine::new(EngineOptions::default()).instant_query(&MemStorage::new(), "1", 0).unwrap();
/// assert_eq!(
///     json::encode_response(&r, "1"),
///     r#"{"status":"success","data":{"resultType":"scalar","result":[0,"1"]}}"#
/// );
/// ```
pub fn encode_response(result: &QueryResult, query: &str) -> String {
    let mut out = String::from("{\"status\":\"success\",\"data\":");
    write_data(&result.value, &mut out);
    for (field, kind) in [
        ("warnings", AnnotationKind::Warning),
        ("infos", AnnotationKind::Info),
    ] {
        let mut first = true;
        for a in result.annotations.iter().filter(|a| a.kind() == kind) {
            out.push_str(if first { ",\"" } else { "," });
            if first {
                out.push_str(field);
                out.push_str("\":[");
                first = false;
            }
            write_json_string(&mut out, &a.render(query));
        }
        if !first {
            out.push(']');
        }
    }
    out.push('}');
    out
}

/// Appends the `data` object for `value` to `out`.
pub fn write_data(value: &Value, out: &mut String) {
    out.push_str("{\"resultType\":\"");
    out.push_str(value.type_name());
    out.push_str("\",\"result\":");
    match value {
        Value::Scalar { t, v } => {
            out.push('[');
            write_std_float(out, *t as f64 / 1000.0);
            out.push_str(",\"");
            out.push_str(&format_float(*v));
            out.push_str("\"]");
        }
        Value::String { t, v } => {
            out.push('[');
            write_std_float(out, *t as f64 / 1000.0);
            out.push(',');
            write_json_string(out, v);
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(out, &s.metric);
                match &s.h {
                    Some(h) => {
                        out.push_str(",\"histogram\":");
                        write_hpoint(out, s.t, h);
                    }
                    None => {
                        out.push_str(",\"value\":");
                        write_point(out, FPoint { t: s.t, f: s.f });
                    }
                }
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push('[');
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(out, &s.metric);
                if !s.floats.is_empty() {
                    out.push_str(",\"values\":[");
                    for (j, p) in s.floats.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        write_point(out, *p);
                    }
                    out.push(']');
                }
                if !s.histograms.is_empty() {
                    out.push_str(",\"histograms\":[");
                    for (j, HPoint { t, h }) in s.histograms.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        write_hpoint(out, *t, h);
                    }
                    out.push(']');
                }
                out.push('}');
            }
            out.push(']');
        }
    }
    out.push('}');
}

/// `[<seconds>,"<value>"]` as Prometheus's `jsonutil` writes points.
fn write_point(out: &mut String, p: FPoint) {
    out.push('[');
    write_timestamp(out, p.t);
    out.push_str(",\"");
    out.push_str(&format_sample_value(p.f));
    out.push_str("\"]");
}

/// `[<seconds>,{"count":…,"sum":…,"buckets":[…]}]`.
fn write_hpoint(out: &mut String, t: i64, h: &FloatHistogram) {
    out.push('[');
    write_timestamp(out, t);
    out.push(',');
    write_histogram(out, h);
    out.push(']');
}

/// A histogram as Prometheus's `jsonutil.MarshalHistogram`: count and
/// sum, then the populated buckets from the lowest value up, each as
/// `[boundary rule, "lower", "upper", "count"]` where the rule is 0 for
/// `(a,b]`, 1 for `[a,b)`, 2 for `(a,b)` and 3 for `[a,b]`.
pub fn write_histogram(out: &mut String, h: &FloatHistogram) {
    out.push_str("{\"count\":\"");
    out.push_str(&format_sample_value(h.count));
    out.push_str("\",\"sum\":\"");
    out.push_str(&format_sample_value(h.sum));
    out.push('"');
    let mut found = false;
    for b in h.all_buckets().filter(|b| b.count != 0.0) {
        out.push_str(if found { "," } else { ",\"buckets\":[" });
        found = true;
        let rule = match (b.lower_inclusive, b.upper_inclusive) {
            (false, true) => 0,
            (true, false) => 1,
            (false, false) => 2,
            (true, true) => 3,
        };
        let _ = write!(
            out,
            "[{rule},\"{}\",\"{}\",\"{}\"]",
            format_sample_value(b.lower),
            format_sample_value(b.upper),
            format_sample_value(b.count)
        );
    }
    if found {
        out.push(']');
    }
    out.push('}');
}

/// Milliseconds as seconds with up to three decimals (`jsonutil.MarshalTimestamp`).
fn write_timestamp(out: &mut String, t: i64) {
    let mut t = t as i128;
    if t < 0 {
        out.push('-');
        t = -t;
    }
    let _ = write!(out, "{}", t / 1000);
    let frac = t % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

/// A sample value as `jsonutil.MarshalFloat` formats it: plain decimal,
/// exponent form below 1e-6 or from 1e21 on, `NaN`, `+Inf`, `-Inf`.
pub fn format_sample_value(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && abs.is_finite() && !(1e-6..1e21).contains(&abs) {
        format_float_exp(f)
    } else {
        format_float(f)
    }
}

/// A float as Go's `encoding/json` writes one (scalar and string
/// timestamps): shortest decimal, exponent form with a one-digit minimum
/// exponent outside [1e-6, 1e21).
fn write_std_float(out: &mut String, f: f64) {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format_float_exp(f);
        // Go cleans `e-07` up to `e-7`.
        let s = match s.find("e-0") {
            Some(i) if s.len() == i + 4 => format!("{}e-{}", &s[..i], &s[i + 3..]),
            _ => s,
        };
        out.push_str(&s);
    } else {
        // Go's digits, not Rust's: the two differ on exact 17-digit ties.
        out.push_str(&format_float(f));
    }
}

fn write_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, l.name);
        out.push(':');
        write_json_string(out, l.value);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Sample, Series};

    fn ls(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p).unwrap()
    }

    #[test]
    fn matrix() {
        let v = Value::Matrix(vec![Series {
            metric: ls(&[("__name__", "up"), ("a", "<&>\"\n")]),
            floats: vec![
                FPoint { t: 0, f: 1.5 },
                FPoint {
                    t: 1_500,
                    f: f64::NAN,
                },
                FPoint {
                    t: -2_050,
                    f: f64::INFINITY,
                },
                FPoint { t: 3_001, f: 1e-7 },
                FPoint { t: 4_000, f: 1e21 },
                FPoint {
                    t: 5_000,
                    f: 123456789.0,
                },
            ],
            histograms: vec![],
        }]);
        assert_eq!(
            encode_data(&v),
            r#"{"resultType":"matrix","result":[{"metric":{"__name__":"up","a":"\u003c\u0026\u003e\"\n"},"values":[[0,"1.5"],[1.500,"NaN"],[-2.050,"+Inf"],[3.001,"1e-07"],[4,"1e+21"],[5,"123456789"]]}]}"#
        );
        assert_eq!(
            encode_data(&Value::Matrix(vec![])),
            r#"{"resultType":"matrix","result":[]}"#
        );
    }

    #[test]
    fn vector_scalar_string() {
        let v = Value::Vector(vec![Sample {
            metric: Labels::new(),
            t: 10_000,
            f: -0.25,
            h: None,
        }]);
        assert_eq!(
            encode_data(&v),
            r#"{"resultType":"vector","result":[{"metric":{},"value":[10,"-0.25"]}]}"#
        );
        assert_eq!(
            encode_data(&Value::Scalar { t: 1_500, v: 1e300 }),
            format!(
                r#"{{"resultType":"scalar","result":[1.5,"1{}"]}}"#,
                "0".repeat(300)
            )
        );
        assert_eq!(
            encode_data(&Value::String {
                t: 0,
                v: "a\"b".into()
            }),
            r#"{"resultType":"string","result":[0,"a\"b"]}"#
        );
    }

    #[test]
    fn histograms() {
        use aion_model::histogram::Span;
        let h = FloatHistogram {
            count: 10.0,
            sum: 20.5,
            zero_threshold: 0.001,
            zero_count: 2.0,
            positive_spans: vec![Span {
                offset: 0,
                length: 3,
            }],
            positive_buckets: vec![1.0, 0.0, 3.0],
            negative_spans: vec![Span {
                offset: 0,
                length: 1,
            }],
            negative_buckets: vec![4.0],
            ..FloatHistogram::default()
        };
        let v = Value::Vector(vec![Sample {
            metric: Labels::new(),
            t: 1_500,
            f: 0.0,
            h: Some(Box::new(h.clone())),
        }]);
        assert_eq!(
            encode_data(&v),
            r#"{"resultType":"vector","result":[{"metric":{},"histogram":[1.500,{"count":"10","sum":"20.5","buckets":[[1,"-1","-0.5","4"],[3,"-0.001","0.001","2"],[0,"0.5","1","1"],[0,"2","4","3"]]}]}]}"#
        );
        let m = Value::Matrix(vec![Series {
            metric: ls(&[("a", "b")]),
            floats: vec![FPoint { t: 0, f: 1.0 }],
            histograms: vec![HPoint {
                t: 1_000,
                h: Box::new(FloatHistogram::default()),
            }],
        }]);
        assert_eq!(
            encode_data(&m),
            r#"{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[0,"1"]],"histograms":[[1,{"count":"0","sum":"0"}]]}]}"#
        );
    }

    #[test]
    // The tie below is written with every digit of its exact binary value.
    #[allow(clippy::excessive_precision)]
    fn std_floats() {
        let mut s = String::new();
        write_std_float(&mut s, 1e-7);
        assert_eq!(s, "1e-7");
        let mut s = String::new();
        write_std_float(&mut s, 1_435_781_451.781);
        assert_eq!(s, "1435781451.781");
        // An exact 17-digit tie: Go rounds the shortest digits to even
        // (...062), Rust's `{}` up (...063).
        let mut s = String::new();
        write_std_float(&mut s, 2679575.54150390625);
        assert_eq!(s, "2679575.5415039062");
    }
}
