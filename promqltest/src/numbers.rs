//! Numbers as the scripts write a bare expected scalar (read as Go's
//! `strconv` does); numbers inside series values are
//! `aion_promql::parser::series_desc`'s.

/// Go's `strconv.ParseInt(s, 0, 64)` then `ParseFloat(s, 64)`: how a bare
/// expected-scalar line is read.
pub(crate) fn parse_go_number(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let int = |digits: &str, radix: u32| -> Option<f64> {
        let clean: String = digits.chars().filter(|&c| c != '_').collect();
        if clean.is_empty() {
            return None;
        }
        let v = i64::from_str_radix(&clean, radix).ok()? as f64;
        Some(if neg { -v } else { v })
    };
    let lower = body.to_ascii_lowercase();
    let as_int = if let Some(h) = lower.strip_prefix("0x") {
        int(h, 16)
    } else if let Some(o) = lower.strip_prefix("0o") {
        int(o, 8)
    } else if let Some(b) = lower.strip_prefix("0b") {
        int(b, 2)
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|c| c.is_ascii_digit())
    {
        int(&lower[1..], 8)
    } else if !lower.is_empty() && lower.bytes().all(|c| c.is_ascii_digit()) {
        int(&lower, 10)
    } else {
        None
    };
    if as_int.is_some() {
        return as_int;
    }
    if s.contains('_') {
        return None;
    }
    match lower.as_str() {
        "inf" | "infinity" => {
            return Some(if neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    let v: f64 = body.parse().ok()?;
    Some(if neg { -v } else { v })
}
