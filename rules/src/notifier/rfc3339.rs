//! Times as Alertmanager's API client writes them: go-openapi's
//! `strfmt.DateTime`, RFC 3339 with milliseconds
//! (`2006-01-02T15:04:05.000Z07:00`), in UTC.

use std::fmt::Write;

use crate::template::funcs::civil_from_days;

/// Writes `ms` (since the epoch) as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn write_millis(ms: i64, out: &mut String) {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
}

/// [`write_millis`] into a new string.
pub fn format_millis(ms: i64) -> String {
    let mut s = String::with_capacity(24);
    write_millis(ms, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_go() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_millis(951_782_400_005), "2000-02-29T00:00:00.005Z");
        assert_eq!(format_millis(-1), "1969-12-31T23:59:59.999Z");
    }
}
