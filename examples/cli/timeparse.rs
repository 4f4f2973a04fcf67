//! Times and durations as Prometheus's command line and HTTP API take
//! them: unix seconds or RFC 3339 times, `1h30m` durations, steps as a
//! duration or seconds. Shared by the `aion` CLI and the `remote_server`
//! example (included with `#[path]`), so both read `time=`/`--time` alike.

/// A duration as Prometheus writes them (`90s`, `2h`, `1d`, `1h30m`), in
/// milliseconds.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let mut total: i64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("invalid duration {s:?}"));
        }
        let n: i64 = rest[..digits]
            .parse()
            .map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return Err(format!("invalid duration {s:?}: unknown unit")),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration {s:?} is too long"))?;
    }
    Ok(total)
}

/// A time as Prometheus's API takes one: unix seconds (fractions rounded
/// to the millisecond) or RFC 3339; in milliseconds.
pub fn parse_time_ms(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>() {
        if !secs.is_finite() {
            return Err(format!("invalid time {s:?}"));
        }
        // Prometheus splits whole seconds from the fraction and rounds the
        // fraction to milliseconds.
        let whole = secs.trunc();
        let frac_ms = ((secs - whole) * 1000.0).round();
        let ms = whole * 1000.0 + frac_ms;
        if ms.abs() > 9.2e18 {
            return Err(format!("time {s:?} is out of range"));
        }
        return Ok(ms as i64);
    }
    aion::model::civil::parse_rfc3339_ms(s).ok_or_else(|| {
        format!("invalid time {s:?}: want unix seconds or RFC 3339 (2006-01-02T15:04:05Z)")
    })
}

/// A step: a duration (`30s`, `1m30s`) or a number of seconds; positive.
pub fn parse_step_ms(s: &str) -> Result<i64, String> {
    let ms = if let Ok(secs) = s.parse::<f64>() {
        if !secs.is_finite() || secs * 1000.0 > i64::MAX as f64 {
            return Err(format!("invalid step {s:?}"));
        }
        (secs * 1000.0).round() as i64
    } else {
        parse_duration_ms(s)?
    };
    if ms <= 0 {
        return Err(format!(
            "invalid step {s:?}: zero or negative query resolution step widths are not accepted"
        ));
    }
    Ok(ms)
}
