//! Evaluation slots: Prometheus spreads groups over their interval by a
//! hash of the group's name and file, so groups with the same interval do
//! not all run at once, and every run of a group lands on the same phase.
//!
//! ```
//! use aion_rules::slot::{eval_offset_ns, eval_timestamp_ns};
//! let interval = 60_000; // ms
//! let off = eval_offset_ns("node", "rules.yml", interval);
//! assert!((0..60_000_000_000).contains(&off));
//! let t = eval_timestamp_ns("node", "rules.yml", interval, 1_700_000_000_000_000_000);
//! assert!(t <= 1_700_000_000_000_000_000);
//! assert_eq!((t - off).rem_euclid(60_000_000_000), 0);
//! ```

use aion_model::xxh64;

/// Prometheus's `Group.hash()`: the label hash of
/// `{file="<file>", name="<name>"}`.
pub fn group_hash(name: &str, file: &str) -> u64 {
    let mut buf = Vec::with_capacity(name.len() + file.len() + 12);
    for (k, v) in [("file", file), ("name", name)] {
        buf.extend_from_slice(k.as_bytes());
        buf.push(0xff);
        buf.extend_from_slice(v.as_bytes());
        buf.push(0xff);
    }
    xxh64(&buf, 0)
}

/// The group's phase within its interval, in nanoseconds (Prometheus
/// works in nanoseconds here): `hash % interval`.
pub fn eval_offset_ns(name: &str, file: &str, interval_ms: i64) -> i64 {
    let interval_ns = interval_ms.max(1) as u64 * 1_000_000;
    (group_hash(name, file) % interval_ns) as i64
}

/// Prometheus's `Group.EvalTimestamp`: the latest slot of the group at or
/// before `start_ns` (ns since the epoch).
pub fn eval_timestamp_ns(name: &str, file: &str, interval_ms: i64, start_ns: i64) -> i64 {
    let interval_ns = interval_ms.max(1) * 1_000_000;
    let offset = eval_offset_ns(name, file, interval_ms);
    let adj = start_ns - offset;
    // Go's `%` truncates toward zero; so does Rust's.
    let base = adj - adj % interval_ns;
    base + offset
}

/// A slot time in nanoseconds as the millisecond timestamp Prometheus
/// stores (`timestamp.FromTime`).
pub fn ns_to_ms(ns: i64) -> i64 {
    ns.div_euclid(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_the_label_hash_of_file_and_name() {
        let l = aion_model::Labels::from_pairs(&[("name", "g"), ("file", "f.yml")]).unwrap();
        assert_eq!(group_hash("g", "f.yml"), l.stable_hash());
    }

    #[test]
    fn slots_repeat_every_interval() {
        let i = 15_000;
        let a = eval_timestamp_ns("g", "f", i, 1_000_000_000_000_000);
        let b = eval_timestamp_ns("g", "f", i, 1_000_000_000_000_000 + 15_000_000_000);
        assert_eq!(b - a, 15_000_000_000);
        let c = eval_timestamp_ns("g", "f", i, a);
        assert_eq!(c, a);
        let d = eval_timestamp_ns("g", "f", i, a - 1);
        assert_eq!(d, a - 15_000_000_000);
    }
}
