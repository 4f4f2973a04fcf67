//! Calendar arithmetic (proleptic Gregorian, UTC) and RFC 3339 times as
//! Go's `time` package reads and writes them.
//!
//! Several places print or parse dates the way Prometheus's Go code does:
//! PromQL's `year()`/`month()`/…, annotation texts, template functions,
//! Alertmanager payloads, promtool's time flags. They all meet here so the
//! day arithmetic (Howard Hinnant's `days_from_civil`/`civil_from_days`)
//! exists once.

use std::fmt::Write;

/// Year, month (1–12) and day (1–31) of the `days`-th day after
/// 1970-01-01 (negative before it).
///
/// ```
/// assert_eq!(aion_model::civil::civil_from_days(11_016), (2000, 2, 29));
/// assert_eq!(aion_model::civil::civil_from_days(-1), (1969, 12, 31));
/// ```
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a date; the inverse of [`civil_from_days`].
/// Out-of-range months and days are not checked (see [`days_in_month`]).
///
/// ```
/// assert_eq!(aion_model::civil::days_from_civil(1970, 1, 1), 0);
/// assert_eq!(aion_model::civil::days_from_civil(2000, 2, 29), 11_016);
/// ```
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Whether `y` is a leap year.
pub fn is_leap_year(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Days in month `m` (1–12) of year `y`.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap_year(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// How [`write_rfc3339`] writes the milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Millis {
    /// Whole seconds only (`2006-01-02T15:04:05Z`).
    Never,
    /// Always three digits (`…05.000Z`, go-openapi's `strfmt.DateTime`).
    Always,
    /// Three digits when not zero.
    NonZero,
}

/// Writes `ms` (milliseconds since the epoch) as RFC 3339 in UTC.
///
/// ```
/// use aion_model::civil::{write_rfc3339, Millis};
/// let mut s = String::new();
/// write_rfc3339(&mut s, 951_782_400_005, Millis::Always);
/// assert_eq!(s, "2000-02-29T00:00:00.005Z");
/// ```
pub fn write_rfc3339(out: &mut String, ms: i64, millis: Millis) {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if millis == Millis::Always || (millis == Millis::NonZero && frac != 0) {
        let _ = write!(out, ".{frac:03}");
    }
    out.push('Z');
}

/// [`write_rfc3339`] into a new string.
pub fn format_rfc3339(ms: i64, millis: Millis) -> String {
    let mut s = String::with_capacity(24);
    write_rfc3339(&mut s, ms, millis);
    s
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` as Go's
/// `time.Parse(time.RFC3339, …)` accepts it (dates and times range
/// checked, `t`/`z` in either case) into milliseconds since the epoch,
/// the fraction truncated to milliseconds as Prometheus's
/// `timestamp.FromTime` does. `None` if it is not such a time.
///
/// ```
/// use aion_model::civil::parse_rfc3339_ms;
/// assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:01.5Z"), Some(1500));
/// assert_eq!(parse_rfc3339_ms("2001-02-29T00:00:00Z"), None);
/// ```
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
        || day > i64::from(days_in_month(year, month as u32))
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
    let days = days_from_civil(year, month as u32, day as u32);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_min * 60;
    Some(secs * 1000 + ms)
}

/// The number in the first `n` bytes of `s`, if they are all digits.
fn digits(s: &[u8], n: usize) -> Option<i64> {
    if s.len() < n || !s[..n].iter().all(u8::is_ascii_digit) {
        return None;
    }
    s[..n]
        .iter()
        .try_fold(0i64, |acc, d| Some(acc * 10 + i64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn days_round_trip(days in -1_000_000i64..1_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn rfc3339_round_trips(ms in -62_135_596_800_000i64..253_402_300_799_999) {
            for millis in [Millis::Always, Millis::NonZero] {
                prop_assert_eq!(parse_rfc3339_ms(&format_rfc3339(ms, millis)), Some(ms));
            }
        }

        #[test]
        fn parsing_never_panics(s in "[0-9Tt:Zz.+-]{0,30}") {
            let _ = parse_rfc3339_ms(&s);
        }
    }

    #[test]
    fn offsets_and_fractions() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("1970-01-01T00:00:00.123456789z"),
            Some(123)
        );
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:60Z"), None);
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00."), None);
        assert_eq!(parse_rfc3339_ms("1970-01-01 00:00:00Z"), None);
        assert_eq!(format_rfc3339(-1, Millis::Never), "1969-12-31T23:59:59Z");
        assert_eq!(
            format_rfc3339(-1, Millis::Always),
            "1969-12-31T23:59:59.999Z"
        );
    }
}
