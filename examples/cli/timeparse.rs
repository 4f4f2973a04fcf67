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
    parse_rfc3339_ms(s).ok_or_else(|| {
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

fn digits(s: &[u8], n: usize) -> Option<i64> {
    if s.len() < n || !s[..n].iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(&s[..n]).ok()?.parse().ok()
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` in milliseconds (the
/// fraction truncated to milliseconds, as Go's `timestamp.FromTime`).
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(b, 4)?, digits(&b[5..], 2)?, digits(&b[8..], 2)?);
    let (hour, min, sec) = (
        digits(&b[11..], 2)?,
        digits(&b[14..], 2)?,
        digits(&b[17..], 2)?,
    );
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 59
    {
        return None;
    }
    let mut rest = &b[19..];
    let mut ms = 0;
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let frac = &rest[1..1 + n];
        for i in 0..3 {
            ms = ms * 10 + frac.get(i).map_or(0, |d| i64::from(d - b'0'));
        }
        rest = &rest[1 + n..];
    }
    let offset_min = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (digits(&rest[1..], 2)?, digits(&rest[4..], 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 60 + m;
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset_min * 60;
    Some(secs * 1000 + ms)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
