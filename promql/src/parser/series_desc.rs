//! Series descriptions in the expanding value notation of Prometheus's
//! test scripts and promtool's unit tests (`name{a="b"} 1+2x3 _ stale`),
//! as Prometheus's `parser.ParseSeriesDesc` reads them. Shared by the
//! PromQL test-script harness and `aion-rules`' unit-test runner.
//!
//! Native histogram literals (`{{...}}`) are recognised (so their
//! positions are counted) but their contents are not kept:
//! [`SeqValue::Histogram`].

use aion_model::Labels;

use crate::{parse, Expr};

/// One position of an expanded value sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeqValue {
    /// `_`: no sample (no expected point).
    Omitted,
    /// A float (or the stale marker).
    Float(f64),
    /// A native histogram literal (`{{...}}`); its contents are not kept.
    Histogram,
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

/// Splits a value sequence on whitespace, keeping `{{ … }}` histogram
/// literals (which contain spaces) in one item.
fn value_items(s: &str) -> Result<Vec<&str>, String> {
    let mut items = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let mut depth = 0;
        while i < b.len() {
            if b[i..].starts_with(b"{{") {
                depth += 1;
                i += 2;
            } else if b[i..].starts_with(b"}}") {
                if depth == 0 {
                    return err(format!("unbalanced histogram braces in {s:?}"));
                }
                depth -= 1;
                i += 2;
            } else if depth == 0 && b[i].is_ascii_whitespace() {
                break;
            } else {
                i += 1;
            }
        }
        if depth != 0 {
            return err(format!("unterminated histogram in {s:?}"));
        }
        items.push(&s[start..i]);
    }
    Ok(items)
}

/// Most positions one series line may expand to: far more than any test needs,
/// few enough that a typo (`1x100000000000`) cannot exhaust memory.
pub const MAX_POSITIONS: usize = 1 << 20;

/// A repeat count `N` of `xN`, bounded by [`MAX_POSITIONS`].
pub fn repeat_count(item: &str, s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|_| format!("invalid value {item:?}"))?;
    if n >= MAX_POSITIONS {
        return err(format!(
            "{item:?} expands to more than {MAX_POSITIONS} values"
        ));
    }
    Ok(n)
}

fn expand_item(item: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    let bad = || format!("invalid value {item:?}");
    if out.len() >= MAX_POSITIONS {
        return err(format!("more than {MAX_POSITIONS} values on one line"));
    }
    let count = |s: &str| repeat_count(item, s);
    if item == "_" {
        out.push(SeqValue::Omitted);
        return Ok(());
    }
    if let Some(n) = item.strip_prefix("_x") {
        out.extend(std::iter::repeat_n(SeqValue::Omitted, count(n)?));
        return Ok(());
    }
    if item == "stale" {
        out.push(SeqValue::Float(aion_chunkenc::STALE_NAN));
        return Ok(());
    }
    if item.starts_with("{{") {
        // `{{H}}`, `{{H}}xN`, `{{H}}+{{D}}xN`, `{{H}}-{{D}}xN`.
        let end = item.find("}}").ok_or_else(bad)? + 2;
        let rest = &item[end..];
        let n = if rest.is_empty() {
            0
        } else if let Some(n) = rest.strip_prefix('x') {
            count(n)?
        } else if rest.starts_with("+{{") || rest.starts_with("-{{") {
            let close = rest.rfind("}}").ok_or_else(bad)?;
            let n = rest[close + 2..].strip_prefix('x').ok_or_else(bad)?;
            count(n)?
        } else {
            return Err(bad());
        };
        out.extend(std::iter::repeat_n(SeqValue::Histogram, n + 1));
        return Ok(());
    }
    let (base, rest) = number_prefix(item).ok_or_else(bad)?;
    if rest.is_empty() {
        out.push(SeqValue::Float(base));
        return Ok(());
    }
    if let Some(n) = rest.strip_prefix('x') {
        out.extend(std::iter::repeat_n(SeqValue::Float(base), count(n)? + 1));
        return Ok(());
    }
    let neg = rest.starts_with('-');
    if !neg && !rest.starts_with('+') {
        return Err(bad());
    }
    let (delta, rest) = number_prefix(&rest[1..]).ok_or_else(bad)?;
    let n = count(rest.strip_prefix('x').ok_or_else(bad)?)?;
    let mut v = base;
    for _ in 0..=n {
        out.push(SeqValue::Float(v));
        if neg {
            v -= delta;
        } else {
            v += delta;
        }
    }
    Ok(())
}

/// A number at the start of `s` as series values write it (sign, digits
/// with `_` separators, fraction, exponent, `Inf`, `NaN`), and the rest.
fn number_prefix(s: &str) -> Option<(f64, &str)> {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let lower = s[i..].to_ascii_lowercase();
    for word in ["infinity", "inf", "nan"] {
        if lower.starts_with(word) {
            let end = i + word.len();
            let text = &s[..end];
            let v = text.to_ascii_lowercase().parse::<f64>().ok()?;
            return Some((v, &s[end..]));
        }
    }
    let digits_start = i;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    if i == digits_start || (i == digits_start + 1 && b[digits_start] == b'.') {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let exp_digits = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp_digits > 0 {
            i = j + exp_digits;
        }
    }
    let text: String = s[..i].chars().filter(|&c| c != '_').collect();
    let v = text.parse::<f64>().ok()?;
    Some((v, &s[i..]))
}
