//! Tombstone records (type 3): deleted time ranges of head series.
//!
//! ```text
//! u8 type = 3
//! repeated: be64 ref, varint mint, varint maxt
//! ```

use super::buf::Buf;
use super::error::DecodeError;
use super::RecordType;
use aion_model::encoding::{put_be64, put_varint};

/// A closed time range `[mint, maxt]` in milliseconds: what a deletion
/// removes, in the head (these records) and in blocks (their `tombstones`
/// files), so both use this one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Interval {
    /// First deleted timestamp.
    pub mint: i64,
    /// Last deleted timestamp (inclusive).
    pub maxt: i64,
}

impl Interval {
    /// `[mint, maxt]`.
    pub fn new(mint: i64, maxt: i64) -> Self {
        Interval { mint, maxt }
    }

    /// Whether `t` lies in the interval.
    pub fn contains(&self, t: i64) -> bool {
        self.mint <= t && t <= self.maxt
    }
}

/// Sorted, non-overlapping, non-adjacent intervals: a series' deleted time
/// ranges, however many deletions added them. Queries of the head and of
/// blocks test samples and chunks against it.
///
/// ```
/// use aion_wal::record::{Interval, Intervals};
/// let mut d = Intervals::default();
/// d.add(Interval::new(10, 20));
/// d.add(Interval::new(30, 40));
/// d.add(Interval::new(21, 29)); // adjacent on both sides: one interval
/// assert_eq!(d.as_slice(), [Interval::new(10, 40)]);
/// assert!(d.contains(25) && !d.contains(41));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intervals(Vec<Interval>);

impl Intervals {
    /// Adds `n`, merging it with every interval it overlaps or touches
    /// (timestamps are discrete, so `[1,2]` and `[3,4]` become `[1,4]`).
    /// An empty interval (`mint > maxt`) deletes nothing and is dropped.
    pub fn add(&mut self, n: Interval) {
        if n.mint > n.maxt {
            return;
        }
        let v = &mut self.0;
        // First interval that ends at or after n.mint - 1.
        let lo = v.partition_point(|i| i.maxt.saturating_add(1) < n.mint);
        // First interval that starts after n.maxt + 1.
        let hi = v.partition_point(|i| i.mint <= n.maxt.saturating_add(1));
        if lo >= hi {
            v.insert(lo, n);
            return;
        }
        let merged = Interval::new(n.mint.min(v[lo].mint), n.maxt.max(v[hi - 1].maxt));
        v.splice(lo..hi, std::iter::once(merged));
    }

    /// Whether `t` is deleted.
    pub fn contains(&self, t: i64) -> bool {
        let i = self.0.partition_point(|iv| iv.maxt < t);
        self.0.get(i).is_some_and(|iv| iv.contains(t))
    }

    /// Whether all of `[mint, maxt]` is deleted.
    pub fn covers(&self, mint: i64, maxt: i64) -> bool {
        let i = self.0.partition_point(|iv| iv.maxt < mint);
        self.0
            .get(i)
            .is_some_and(|iv| iv.mint <= mint && maxt <= iv.maxt)
    }

    /// Whether any of `[mint, maxt]` is deleted.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        let i = self.0.partition_point(|iv| iv.maxt < mint);
        self.0.get(i).is_some_and(|iv| iv.mint <= maxt)
    }

    /// The intervals, sorted.
    pub fn as_slice(&self) -> &[Interval] {
        &self.0
    }

    /// Whether nothing is deleted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// A deletion of one time range of one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Tombstone {
    /// Head series reference.
    pub r#ref: u64,
    /// The deleted range.
    pub interval: Interval,
}

/// Appends a tombstones record to `buf`.
pub fn encode_tombstones(tombstones: &[Tombstone], buf: &mut Vec<u8>) {
    buf.push(RecordType::Tombstones as u8);
    for t in tombstones {
        put_be64(buf, t.r#ref);
        put_varint(buf, t.interval.mint);
        put_varint(buf, t.interval.maxt);
    }
}

/// Decodes a tombstones record into `out`, replacing its contents.
pub fn decode_tombstones(rec: &[u8], out: &mut Vec<Tombstone>) -> Result<(), DecodeError> {
    out.clear();
    let (mut b, _) = Buf::new_typed(
        rec,
        "tombstones",
        &[RecordType::Tombstones as u8],
        "3 (tombstones)",
    )?;
    while !b.is_empty() {
        let r#ref = b.be64("series ref")?;
        let mint = b.varint("mint")?;
        let maxt = b.varint("maxt")?;
        out.push(Tombstone {
            r#ref,
            interval: Interval { mint, maxt },
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive_contains(ivs: &[(i64, i64)], t: i64) -> bool {
        ivs.iter().any(|&(a, b)| a <= t && t <= b)
    }

    proptest! {
        #[test]
        fn intervals_match_a_naive_set(
            ivs in prop::collection::vec((-50i64..50, 0i64..20), 0..12),
            probes in prop::collection::vec(-60i64..80, 0..40),
        ) {
            let ivs: Vec<(i64, i64)> = ivs.into_iter().map(|(a, l)| (a, a + l)).collect();
            let mut d = Intervals::default();
            for &(a, b) in &ivs {
                d.add(Interval::new(a, b));
            }
            // Sorted, disjoint, not adjacent.
            for w in d.as_slice().windows(2) {
                prop_assert!(w[0].maxt + 1 < w[1].mint);
            }
            for t in probes {
                prop_assert_eq!(d.contains(t), naive_contains(&ivs, t));
                let covered = (t..t + 3).all(|x| naive_contains(&ivs, x));
                prop_assert_eq!(d.covers(t, t + 2), covered);
                let any = (t..t + 3).any(|x| naive_contains(&ivs, x));
                prop_assert_eq!(d.overlaps(t, t + 2), any);
            }
        }
    }

    #[test]
    fn extreme_bounds_merge_without_overflow() {
        let mut d = Intervals::default();
        d.add(Interval::new(i64::MIN, 0));
        d.add(Interval::new(1, i64::MAX));
        d.add(Interval::new(5, 4));
        assert_eq!(d.as_slice(), [Interval::new(i64::MIN, i64::MAX)]);
        assert!(d.covers(i64::MIN, i64::MAX));
    }

    #[test]
    fn known_bytes() {
        let t = Tombstone {
            r#ref: 2,
            interval: Interval { mint: -1, maxt: 64 },
        };
        let mut buf = Vec::new();
        encode_tombstones(&[t], &mut buf);
        assert_eq!(buf, [3, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0x80, 1]);
        let mut out = Vec::new();
        decode_tombstones(&buf, &mut out).unwrap();
        assert_eq!(out, [t]);
        assert!(decode_tombstones(&buf[..buf.len() - 1], &mut out).is_err());
    }
}
