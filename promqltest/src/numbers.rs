//! Numbers as the scripts write them: inside series values (no hex, so the
//! `x` of `1x3` is unambiguous) and as a bare expected scalar (read as Go's
//! `strconv` does). Pure functions of text, shared by the parts of the
//! script parser that read values.

/// A number at the start of `s` as series values write it (sign, digits
/// with `_` separators, fraction, exponent, `Inf`, `NaN`), and the rest.
pub(crate) fn number_prefix(s: &str) -> Option<(f64, &str)> {
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
