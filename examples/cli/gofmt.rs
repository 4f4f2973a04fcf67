//! Go's text formats that promtool's output is made of: `text/tabwriter`
//! tables, `time.Duration` (from `aion_model::gotext`) and `time.Time` strings, and
//! `units.Base2Bytes` sizes (printed and parsed). The CLI prints what promtool prints, byte
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

/// Parses a size as Prometheus's `units.Base2Bytes` flags take it: one or
/// more `<integer><unit>` parts (`64MiB`, `1GiB512MiB`), every unit a
/// power of 1024 (`KB` and `KiB` alike, as in Go), or a bare number of
/// bytes (`1048576`).
pub fn parse_base2_bytes(s: &str) -> Result<u64, String> {
    const UNITS: [(&str, u32); 14] = [
        ("KiB", 1),
        ("MiB", 2),
        ("GiB", 3),
        ("TiB", 4),
        ("PiB", 5),
        ("EiB", 6),
        ("KB", 1),
        ("MB", 2),
        ("GB", 3),
        ("TB", 4),
        ("PB", 5),
        ("EB", 6),
        ("B", 0),
        ("", 0),
    ];
    let bad = || format!("invalid size {s:?}: want e.g. 64MiB, 1GiB or a number of bytes");
    if s.is_empty() {
        return Err(bad());
    }
    let mut rest = s;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = rest.split_at(unit_len);
        let &(_, power) = UNITS.iter().find(|(u, _)| *u == unit).ok_or_else(bad)?;
        if unit.is_empty() && (!tail.is_empty() || total != 0) {
            // A bare number is the whole size, never a part.
            return Err(bad());
        }
        let part = 1024u64
            .checked_pow(power)
            .and_then(|m| n.checked_mul(m))
            .ok_or_else(bad)?;
        total = total.checked_add(part).ok_or_else(bad)?;
        rest = tail;
    }
    Ok(total)
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
        for n in [0, 1, 6022, 1 << 20, (1 << 20) + 1, 5 << 30] {
            assert_eq!(parse_base2_bytes(&base2_bytes(n)), Ok(n), "{n}");
        }
        assert_eq!(parse_base2_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_base2_bytes("64MB"), Ok(64 << 20));
        assert_eq!(parse_base2_bytes("1048576"), Ok(1 << 20));
        for bad in ["", "MiB", "64XB", "1.5GiB", "-1KiB", "1KiB2", "99999999EiB"] {
            assert!(parse_base2_bytes(bad).is_err(), "{bad:?}");
        }
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
