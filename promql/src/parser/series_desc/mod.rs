//! Series descriptions in the expanding value notation of Prometheus's
//! test scripts and promtool's unit tests (`name{a="b"} 1+2x3 _ stale`),
//! as Prometheus's `parser.ParseSeriesDesc` reads them. Shared by the
//! PromQL test-script harness and `aion-rules`' unit-test runner.
//!
//! Native histogram literals (`{{schema:0 sum:5 count:4 buckets:[1 2]}}`)
//! are read in full ([`histlit`]), with their `x`/`+`/`-` expansions
//! ([`values`]).
//!
//! | file | concept |
//! |---|---|
//! | `mod.rs` | label sets and whole series lines |
//! | [`values`] | expanding one value item (`1+2x3`, `_x2`, `{{H}}+{{D}}x4`) |
//! | [`histlit`] | the fields of a histogram literal |
//! | `number.rs` | numbers inside values |

use std::sync::Arc;

use aion_model::Labels;

use crate::{parse, Expr};

pub mod histlit;
mod number;
pub mod values;

pub use histlit::{parse_histogram, HistLiteral};
pub use values::{expand_item, repeat_count, value_items, MAX_POSITIONS};

/// One position of an expanded value sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum SeqValue {
    /// `_`: no sample (no expected point).
    Omitted,
    /// A float (or the stale marker).
    Float(f64),
    /// A native histogram literal (`{{...}}`), shared between the
    /// positions an `x` expansion repeats it to.
    Histogram(Arc<HistLiteral>),
}

fn err<T>(message: impl Into<String>) -> Result<T, String> {
    Err(message.into())
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// A quoted string at the start of `s` (`"…"`, `'…'` or `` `…` ``), and
/// the rest.
pub fn parse_quoted(s: &str) -> Result<(String, &str), String> {
    let bytes = s.as_bytes();
    let q = bytes[0];
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if q != b'`' => i += 2,
            c if c == q => return Ok((unquote(&s[..=i])?, &s[i + 1..])),
            _ => i += 1,
        }
    }
    err(format!("unterminated string in {s:?}"))
}

/// The value of one quoted string token, its escapes resolved exactly as
/// the PromQL parser resolves them (the scripts quote label values as
/// PromQL does), bytes that are not UTF-8 replaced by U+FFFD as in any
/// label value.
fn unquote(token: &str) -> Result<String, String> {
    match parse(token) {
        Ok(Expr::String(lit)) => Ok(lit.value),
        Ok(_) => err(format!("not a string: {token}")),
        Err(e) => err(e.message),
    }
}

/// A label set in selector syntax with equality matchers only
/// (`name{a="b"}`, `{"name", a="b"}`, `{}`), and the rest of the line.
pub fn parse_series_labels(s: &str) -> Result<(Labels, &str), String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut rest = s.trim_start();
    let bytes = rest.as_bytes();
    if !bytes.is_empty() && is_name_start(bytes[0]) {
        let n = bytes.iter().take_while(|&&c| is_name_char(c)).count();
        pairs.push(("__name__".into(), rest[..n].to_string()));
        rest = &rest[n..];
    }
    if rest.starts_with('{') {
        rest = rest[1..].trim_start();
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let name;
            if rest.starts_with(['"', '\'', '`']) {
                let (v, r) = parse_quoted(rest)?;
                rest = r.trim_start();
                if !rest.starts_with('=') {
                    // A bare quoted string is the metric name.
                    pairs.push(("__name__".into(), v));
                    rest = rest.trim_start_matches(',').trim_start();
                    continue;
                }
                name = v;
            } else {
                let n = rest
                    .as_bytes()
                    .iter()
                    .take_while(|&&c| is_name_char(c))
                    .count();
                if n == 0 {
                    return err(format!("invalid label set in {s:?}"));
                }
                name = rest[..n].to_string();
                rest = rest[n..].trim_start();
            }
            let Some(r) = rest.strip_prefix('=') else {
                return err(format!("expected '=' in label set {s:?}"));
            };
            rest = r.trim_start();
            if !rest.starts_with(['"', '\'', '`']) {
                return err(format!("expected a quoted label value in {s:?}"));
            }
            let (value, r) = parse_quoted(rest)?;
            pairs.push((name, value));
            rest = r.trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r.trim_start();
            } else if !rest.starts_with('}') {
                return err(format!("expected ',' or '}}' in label set {s:?}"));
            }
        }
    }
    if pairs.is_empty() && !s.trim_start().starts_with('{') {
        return err(format!("expected a label set in {s:?}"));
    }
    let labels = Labels::from_pairs(&pairs).map_err(|e| e.to_string())?;
    Ok((labels, rest))
}

/// A series description as the test notations write it
/// (`name{a="b"} 1+2x3 _ stale`): the labels and the expanded values
/// (Prometheus's `parser.ParseSeriesDesc`).
///
/// ```
/// use aion_promql::parser::series_desc::{parse_series_desc, SeqValue};
/// let (labels, values) = parse_series_desc(r#"up{job="a"} 1+2x2 _ 7"#).unwrap();
/// assert_eq!(labels.get("job"), Some("a"));
/// assert_eq!(values, vec![
///     SeqValue::Float(1.0), SeqValue::Float(3.0), SeqValue::Float(5.0),
///     SeqValue::Omitted, SeqValue::Float(7.0),
/// ]);
/// assert!(parse_series_desc("up 1+x").is_err());
/// ```
pub fn parse_series_desc(s: &str) -> Result<(Labels, Vec<SeqValue>), String> {
    let (labels, rest) = parse_series_labels(s)?;
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return err(format!("unexpected {rest:?} after the label set"));
    }
    let mut values = Vec::new();
    for item in value_items(rest)? {
        expand_item(item, &mut values)?;
    }
    Ok((labels, values))
}

#[cfg(test)]
mod tests;
