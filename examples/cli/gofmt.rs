//! Go's text formats that promtool's output is made of: `text/tabwriter`
//! tables, `time.Duration` (from `aion_model::gotext`) and `time.Time` strings, and
//! `units.Base2Bytes` sizes. The CLI prints what promtool prints, byte
//! for byte, so scripts written for one work on the other.

// Each binary that includes this file uses a different part of it.
#![allow(dead_code)]

/// Lays `rows` out as Go's `tabwriter.NewWriter(w, minwidth, 0, padding,
/// ' ', 0)` does: every cell but a row's last is padded to its column's
/// widest cell plus `padding`, and to at least `minwidth`. The last cell
/// of a row is not part of a column and is written as is.
pub fn tabwrite(rows: &[Vec<String>], minwidth: usize, padding: usize) -> String {
    let columns = rows.iter().map(|r| r.len().saturating_sub(1)).max();
    let mut widths = vec![0; columns.unwrap_or(0)];
    for row in rows {
        for (i, cell) in row.iter().take(row.len().saturating_sub(1)).enumerate() {
            widths[i] = widths[i].max((cell.chars().count() + padding).max(minwidth));
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

pub use aion::model::gotext::format_go_duration as go_duration;

/// `time.Unix(ms/1000, 0).UTC().String()`: `2023-11-14 22:13:20 +0000 UTC`
/// (whole seconds, as promtool's `list -r` prints block bounds).
pub fn go_time_utc(ms: i64) -> String {
    let secs = ms / 1000; // Go's integer division truncates toward zero too.
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, mo, d) = aion::model::civil::civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A size as `units.Base2Bytes(n).String()` writes it: each non-zero
/// power of 1024 from the largest down, `5KiB902B`, `1MiB`, `0B`.
pub fn base2_bytes(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n == 0 {
        return "0B".to_string();
    }
    let mut parts = Vec::new();
    let mut rest = n;
    for unit in UNITS {
        if rest % 1024 != 0 {
            parts.push(format!("{}{unit}", rest % 1024));
        }
        rest /= 1024;
        if rest == 0 {
            break;
        }
    }
    parts.reverse();
    parts.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_go_does() {
        assert_eq!(go_duration(6_390_001), "1h46m30.001s");
        assert_eq!(go_duration(7_200_000), "2h0m0s");
        assert_eq!(go_duration(90_500), "1m30.5s");
        assert_eq!(go_duration(1_000), "1s");
        assert_eq!(go_duration(5), "5ms");
        assert_eq!(go_duration(-1_500), "-1.5s");
        assert_eq!(
            go_time_utc(1_700_000_000_000),
            "2023-11-14 22:13:20 +0000 UTC"
        );
        assert_eq!(go_time_utc(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(
            go_time_utc(951_782_400_000),
            "2000-02-29 00:00:00 +0000 UTC"
        );
        assert_eq!(base2_bytes(6022), "5KiB902B");
        assert_eq!(base2_bytes(1 << 20), "1MiB");
        assert_eq!(base2_bytes((1 << 20) + 1), "1MiB1B");
        assert_eq!(base2_bytes(0), "0B");
        let rows = vec![
            vec!["BLOCK ULID".into(), "SIZE".into()],
            vec!["01M812AQCZYXS8H4VFQMM9JM27".into(), "6022".into()],
        ];
        assert_eq!(
            tabwrite(&rows, 13, 2),
            "BLOCK ULID                  SIZE\n01M812AQCZYXS8H4VFQMM9JM27  6022\n"
        );
    }
}
