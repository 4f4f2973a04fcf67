//! Go's `strconv.Quote`, as Prometheus and promtool print label values,
//! strings in PromQL and names in error messages.

use std::fmt::{self, Write};

/// Writes `s` as Go's `strconv.Quote` does (double quotes, escapes for
/// control characters, `"` and `\`), which is how Prometheus and promtool
/// print label values.
pub fn write_go_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\x07' => f.write_str("\\a")?,
            '\x08' => f.write_str("\\b")?,
            '\x0c' => f.write_str("\\f")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\x0b' => f.write_str("\\v")?,
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
            c if (0x80..0xa0).contains(&(c as u32)) || c == '\u{feff}' => {
                write!(f, "\\u{:04x}", c as u32)?
            }
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// [`write_go_quoted`] into a new string.
///
/// ```
/// assert_eq!(aion_model::gotext::go_quote("a\"b\n"), r#""a\"b\n""#);
/// ```
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    let _ = write_go_quoted(&mut out, s);
    out
}

/// Go's `strconv.Quote` of a byte string: UTF-8 runs as
/// [`write_go_quoted`] renders them, other bytes as `\xNN`.
pub fn write_go_quoted_bytes(f: &mut impl Write, mut bytes: &[u8]) -> fmt::Result {
    f.write_char('"')?;
    let mut q = String::new();
    while !bytes.is_empty() {
        let (valid, rest) = match std::str::from_utf8(bytes) {
            Ok(s) => (s, &bytes[bytes.len()..]),
            Err(e) => {
                let (v, r) = bytes.split_at(e.valid_up_to());
                (std::str::from_utf8(v).unwrap_or_default(), r)
            }
        };
        q.clear();
        write_go_quoted(&mut q, valid)?;
        f.write_str(&q[1..q.len() - 1])?;
        if let Some((b, r)) = rest.split_first() {
            write!(f, "\\x{b:02x}")?;
            bytes = r;
        } else {
            bytes = rest;
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_go() {
        assert_eq!(go_quote("plain"), "\"plain\"");
        assert_eq!(go_quote("\u{7f}\t\u{85}"), "\"\\x7f\\t\\u0085\"");
        let mut s = String::new();
        write_go_quoted_bytes(&mut s, b"a\xffb").unwrap();
        assert_eq!(s, "\"a\\xffb\"");
    }
}
