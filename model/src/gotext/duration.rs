//! Go's `time.Duration.String`, which promtool's messages print
//! durations with.

/// A duration of `ms` milliseconds as Go's `time.Duration.String`
/// writes it: `1h46m30.001s`, `2h0m0s`, `1.5s`, `250ms`, `0s`.
///
/// ```
/// use aion_model::gotext::format_go_duration;
/// assert_eq!(format_go_duration(7_200_000), "2h0m0s");
/// assert_eq!(format_go_duration(90_500), "1m30.5s");
/// assert_eq!(format_go_duration(0), "0s");
/// ```
pub fn format_go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    let (h, m) = (ms / 3_600_000, ms / 60_000 % 60);
    let (s, frac) = (ms / 1000 % 60, ms % 1000);
    let secs = if frac == 0 {
        format!("{s}")
    } else {
        let f = format!("{frac:03}");
        format!("{s}.{}", f.trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => format!("{sign}{secs}s"),
        (0, m) => format!("{sign}{m}m{secs}s"),
        (h, m) => format!("{sign}{h}h{m}m{secs}s"),
    }
}
