//! Numbers inside series values: no hex, so the `x` of `1x3` is
//! unambiguous; `_` digit separators, `Inf` and `NaN` as Go's parser
//! reads them.

/// A number at the start of `s` as series values write it (sign, digits
/// with `_` separators, fraction, exponent, `Inf`, `NaN`), and the rest.
pub(super) fn number_prefix(s: &str) -> Option<(f64, &str)> {
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
