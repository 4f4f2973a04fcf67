//! The expanding value notation of series lines: `1+2x3`, `_x2`,
//! `stale`, histogram literals and their `x`/`+`/`-` forms.

use std::sync::Arc;

use super::number::number_prefix;
use super::{err, parse_histogram, HistLiteral, SeqValue};

/// Splits a value sequence on whitespace, keeping `{{ … }}` histogram
/// literals (which contain spaces) in one item.
pub fn value_items(s: &str) -> Result<Vec<&str>, String> {
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

/// Most positions one line may expand to: far more than any test needs,
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

/// Expands one whitespace-free value item (`1+2x3`, `_x2`, `stale`,
/// `{{H}}`, `{{H}}xN`, `{{H}}+{{D}}xN`) onto `out`, bounded by
/// [`MAX_POSITIONS`] positions and `4 * MAX_POSITIONS` histogram buckets.
pub fn expand_item(item: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
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
        let base = parse_histogram(&item[2..end - 2])?;
        let rest = &item[end..];
        // Bounds the buckets one line may expand to, as MAX_POSITIONS
        // bounds its positions (sums only union the two layouts).
        let buckets = |l: &HistLiteral| l.h.positive_buckets.len() + l.h.negative_buckets.len();
        let within = |n: usize, per: usize| {
            if (n + 1).saturating_mul(per + 1) > 4 * MAX_POSITIONS {
                return err(format!(
                    "{item:?} expands to more than {} histogram buckets",
                    4 * MAX_POSITIONS
                ));
            }
            Ok(())
        };
        if rest.is_empty() {
            out.push(SeqValue::Histogram(Arc::new(base)));
        } else if let Some(n) = rest.strip_prefix('x') {
            let n = count(n)?;
            within(n, 0)?;
            let v = SeqValue::Histogram(Arc::new(base));
            out.extend(std::iter::repeat_n(v, n + 1));
        } else if rest.starts_with("+{{") || rest.starts_with("-{{") {
            let close = rest.rfind("}}").ok_or_else(bad)?;
            let n = count(rest[close + 2..].strip_prefix('x').ok_or_else(bad)?)?;
            let inc = parse_histogram(&rest[3..close])?;
            within(n, buckets(&base) + buckets(&inc))?;
            let mut cur = base;
            out.push(SeqValue::Histogram(Arc::new(cur.clone())));
            for _ in 0..n {
                if cur.h.schema > inc.h.schema && !cur.h.uses_custom_buckets() {
                    return err(format!(
                        "error combining histograms: cannot merge from schema {} to {}",
                        inc.h.schema, cur.h.schema
                    ));
                }
                let r = if rest.starts_with('+') {
                    cur.h.add(&inc.h)
                } else {
                    cur.h.sub(&inc.h)
                };
                r.map_err(|e| format!("error combining histograms: {e}"))?;
                out.push(SeqValue::Histogram(Arc::new(cur.clone())));
            }
        } else {
            return Err(bad());
        }
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
