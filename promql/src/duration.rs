//! Prometheus durations as text: `1h30m`, `5m`, `90d`. Parsing is
//! `model.ParseDuration` (messages included), printing is
//! `model.Duration.String()`. Kept below both the parser (duration
//! tokens) and the AST printer (`[5m]`, `offset 1h`), so neither imports
//! the other.

use aion_model::gotext::go_quote;

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
