//! Values of literal tokens: Go-style strings and numbers, with
//! Prometheus's error messages (durations are in [`crate::duration`]).

use aion_model::gotext::go_quote;

/// Resolves the escapes of a string token (quotes included). The lexer has
/// already validated the escapes. The result may hold bytes that are not
/// UTF-8 (`"\xff"`), as Go strings may.
pub(crate) fn unquote_bytes(token: &str) -> Result<Vec<u8>, String> {
    let quote = token.chars().next().unwrap_or('"');
    let body = &token[quote.len_utf8()..token.len().saturating_sub(1).max(quote.len_utf8())];
    if quote == '`' || !body.contains('\\') {
        return Ok(body.as_bytes().to_vec());
    }
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next().ok_or("escape sequence not terminated")?;
        let simple = match e {
            'a' => Some(b'\x07'),
            'b' => Some(b'\x08'),
            'f' => Some(b'\x0c'),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(b'\x0b'),
            '\\' => Some(b'\\'),
            '\'' | '"' => Some(e as u8),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let (n, base, is_byte) = match e {
            '0'..='7' => (2, 8, true),
            'x' => (2, 16, true),
            'u' => (4, 16, false),
            'U' => (8, 16, false),
            _ => return Err(format!("invalid escape \\{e}")),
        };
        let mut v: u32 = if base == 8 {
            e.to_digit(8).unwrap_or(0)
        } else {
            0
        };
        for _ in 0..n {
            let d = chars
                .next()
                .and_then(|d| d.to_digit(base))
                .ok_or("invalid escape sequence")?;
            v = v * base + d;
        }
        if is_byte {
            out.push(u8::try_from(v).map_err(|_| "octal escape out of range")?);
        } else {
            let c = char::from_u32(v).ok_or("invalid Unicode code point")?;
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    Ok(out)
}

/// The value of a number token, as Prometheus computes it: Go's
/// `ParseInt(s, 0, 64)` first (so `010` is octal 8 and `0x1f` hex), then
/// `ParseFloat`.
pub(crate) fn number(text: &str) -> Result<f64, String> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        if let Ok(v) = i64::from_str_radix(hex, 16) {
            return Ok(v as f64);
        }
        // Go's ParseFloat wants a 'p' exponent in hex floats, which the
        // lexer never lets through.
        return Err(format!(
            "strconv.ParseFloat: parsing {}: invalid syntax",
            go_quote(text)
        ));
    }
    if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(v) = i64::from_str_radix(&lower[1..], 8) {
            return Ok(v as f64);
        }
    } else if lower.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(v) = lower.parse::<i64>() {
            return Ok(v as f64);
        }
    }
    match lower.parse::<f64>() {
        Ok(v) if v.is_infinite() && !lower.contains("inf") => Err(format!(
            "strconv.ParseFloat: parsing {}: value out of range",
            go_quote(text)
        )),
        Ok(v) => Ok(v),
        Err(_) => Err(format!(
            "strconv.ParseFloat: parsing {}: invalid syntax",
            go_quote(text)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        let s = |t: &str| String::from_utf8(unquote_bytes(t).unwrap()).unwrap();
        assert_eq!(s(r#""a\nb""#), "a\nb");
        assert_eq!(s(r#"'a\'b'"#), "a'b");
        assert_eq!(s(r#""\u00e4\x41\101""#), "äAA");
        assert_eq!(s(r"`a\nb`"), "a\\nb");
        assert_eq!(unquote_bytes(r#""a\xc5z""#).unwrap(), b"a\xc5z");
    }

    #[test]
    fn numbers() {
        assert_eq!(number("0x1f").unwrap(), 31.0);
        assert_eq!(number("010").unwrap(), 8.0);
        assert_eq!(number("09").unwrap(), 9.0);
        assert_eq!(number("1_000").unwrap(), 1000.0);
        assert_eq!(number("1e3").unwrap(), 1000.0);
        assert!(number("iNf").unwrap().is_infinite());
        assert!(number("NaN").unwrap().is_nan());
        assert!(number("1e400").unwrap_err().contains("value out of range"));
    }
}
