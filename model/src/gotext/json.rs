//! JSON strings escaped as Prometheus's HTTP API encoder escapes them.

use std::fmt::Write;

/// Appends `s` as a JSON string with the escaping of Prometheus's encoder
/// (jsoniter in standard-library mode, like Go's `encoding/json`): `\"`,
/// `\\`, `\n`, `\r`, `\t`; other control characters and `<`, `>`, `&`,
/// U+2028, U+2029 as `\u00XX`.
///
/// ```
/// let mut out = String::new();
/// aion_model::gotext::write_json_string(&mut out, "a<b\n");
/// assert_eq!(out, r#""a\u003cb\n""#);
/// ```
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_go() {
        let mut s = String::new();
        write_json_string(&mut s, "a\"b\\c\n\u{1}<&>\u{2028}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u0001\\u003c\\u0026\\u003e\\u2028é\"");
    }
}
