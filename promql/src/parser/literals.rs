//! Values of literal tokens: Go-style strings, numbers and Prometheus
//! durations, with Prometheus's error messages.

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

fn go_quote(s: &str) -> String {
    let mut out = String::new();
    let _ = aion_model::gotext::write_go_quoted(&mut out, s);
    out
}

/// Parses a Prometheus duration (`1h30m`, `5m`, `0`) into milliseconds,
/// with the messages of Prometheus's `model.ParseDuration`.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    match s {
        "0" => return Ok(0),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    const UNITS: [(&str, u128); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let invalid = || format!("not a valid duration string: {}", go_quote(s));
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut last_unit = 0;
    let mut total_ms: u128 = 0;
    while i < bytes.len() {
        let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return Err(invalid());
        }
        let v: u128 = s[i..i + digits].parse::<u64>().map_err(|_| invalid())? as u128;
        i += digits;
        let unit_len = bytes[i..]
            .iter()
            .take_while(|b| !b.is_ascii_digit())
            .count();
        if unit_len == 0 {
            return Err(invalid());
        }
        let unit = &s[i..i + unit_len];
        i += unit_len;
        let Some(pos) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!(
                "unknown unit {} in duration {}",
                go_quote(unit),
                go_quote(s)
            ));
        };
        if pos < last_unit {
            return Err(invalid());
        }
        last_unit = pos + 1;
        // Prometheus's bound: the total must fit in int64 nanoseconds.
        const MAX_NS: u128 = i64::MAX as u128;
        let ns = v * UNITS[pos].1 * 1_000_000;
        if ns > MAX_NS {
            return Err("duration out of range".into());
        }
        total_ms += v * UNITS[pos].1;
        if total_ms * 1_000_000 > MAX_NS {
            return Err("duration out of range".into());
        }
    }
    Ok(total_ms as i64)
}

/// Renders milliseconds as Prometheus's `model.Duration.String()` does:
/// `1h30m`, `90d`, `1y`, `0s`; years and weeks only when exact.
pub fn format_duration(ms: i64, out: &mut String) {
    use std::fmt::Write;
    let mut ms = ms.unsigned_abs();
    if ms == 0 {
        out.push_str("0s");
        return;
    }
    let units: [(&str, u64, bool); 7] = [
        ("y", 365 * 24 * 3_600_000, true),
        ("w", 7 * 24 * 3_600_000, true),
        ("d", 24 * 3_600_000, false),
        ("h", 3_600_000, false),
        ("m", 60_000, false),
        ("s", 1_000, false),
        ("ms", 1, false),
    ];
    for (unit, mult, exact) in units {
        if exact && ms % mult != 0 {
            continue;
        }
        let v = ms / mult;
        if v > 0 {
            let _ = write!(out, "{v}{unit}");
            ms -= v * mult;
        }
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

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration("1ms").unwrap(), 1);
        assert_eq!(
            parse_duration("5m1h").unwrap_err(),
            r#"not a valid duration string: "5m1h""#
        );
        assert_eq!(
            parse_duration("5y1hs").unwrap_err(),
            r#"unknown unit "hs" in duration "5y1hs""#
        );
        assert_eq!(parse_duration("300y").unwrap_err(), "duration out of range");
        for (ms, s) in [
            (0, "0s"),
            (90_061_001, "1d1h1m1s1ms"),
            (1_209_600_000, "2w"),
            (31_536_000_000, "1y"),
            (8 * 86_400_000, "8d"),
        ] {
            let mut out = String::new();
            format_duration(ms, &mut out);
            assert_eq!(out, s);
        }
    }
}
