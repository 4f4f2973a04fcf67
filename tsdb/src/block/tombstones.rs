//! Deletion marks: a block's `tombstones` file
//! (`docs/formats.md#tombstones`). The intervals are the WAL's
//! ([`Interval`], [`Intervals`]): one deletion type for head and blocks.
//!
//! ```text
//! be32 magic 0x0130BA30 | u8 version 1
//! (uvarint series_ref, varint mint, varint maxt) …
//! be32 crc32c over the entries (not the version byte)
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use aion_index::SeriesRef;
pub use aion_wal::record::{Interval, Intervals};

use crate::{Error, Result};
use aion_model::encoding::{put_uvarint, put_varint, uvarint, varint};

/// The name of the tombstones file in a block directory.
pub const TOMBSTONES_FILENAME: &str = "tombstones";
const MAGIC: u32 = 0x0130_BA30;
const FORMAT_V1: u8 = 1;
/// Magic, version byte and CRC: an empty file's 9 bytes.
const MIN_LEN: usize = 4 + 1 + 4;

/// The deleted intervals of a block's series, by series reference.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tombstones {
    by_series: BTreeMap<SeriesRef, Intervals>,
}

impl Tombstones {
    /// Marks `iv` of series `r` deleted (an empty interval, `mint >
    /// maxt`, deletes nothing and is not recorded).
    pub fn add(&mut self, r: SeriesRef, iv: Interval) {
        if iv.mint <= iv.maxt {
            self.by_series.entry(r).or_default().add(iv);
        }
    }

    /// The deleted intervals of series `r` (`None` if nothing is deleted).
    pub fn get(&self, r: SeriesRef) -> Option<&Intervals> {
        self.by_series.get(&r)
    }

    /// Number of intervals over all series (`stats.numTombstones`).
    pub fn total(&self) -> u64 {
        self.by_series.values().map(|i| i.len() as u64).sum()
    }

    /// Whether nothing is deleted.
    pub fn is_empty(&self) -> bool {
        self.by_series.is_empty()
    }

    /// Every series with its intervals, by increasing reference.
    pub fn iter(&self) -> impl Iterator<Item = (SeriesRef, &Intervals)> {
        self.by_series.iter().map(|(r, i)| (*r, i))
    }

    /// The file contents. Series come in increasing reference order (where
    /// Prometheus uses its map's random order), so equal tombstones always
    /// give equal files.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(MIN_LEN + 8 * self.by_series.len());
        b.extend_from_slice(&MAGIC.to_be_bytes());
        b.push(FORMAT_V1);
        for (r, ivs) in &self.by_series {
            for iv in ivs.as_slice() {
                put_uvarint(&mut b, *r);
                put_varint(&mut b, iv.mint);
                put_varint(&mut b, iv.maxt);
            }
        }
        let crc = crc32c::crc32c(&b[5..]);
        b.extend_from_slice(&crc.to_be_bytes());
        b
    }

    /// Decodes file contents; `path` is named in errors.
    pub fn decode(b: &[u8], path: &Path) -> Result<Self> {
        if b.len() < MIN_LEN {
            return Err(Error::corrupt(
                path,
                0,
                format!(
                    "file of {} bytes is shorter than the 9-byte minimum",
                    b.len()
                ),
            ));
        }
        let magic = u32::from_be_bytes(b[..4].try_into().expect("4 bytes"));
        if magic != MAGIC {
            return Err(Error::corrupt(
                path,
                0,
                format!("bad magic {magic:#010x}, want {MAGIC:#010x}"),
            ));
        }
        let end = b.len() - 4;
        let stored = u32::from_be_bytes(b[end..].try_into().expect("4 bytes"));
        let actual = crc32c::crc32c(&b[5..end]);
        if stored != actual {
            return Err(Error::corrupt(
                path,
                end as u64,
                format!("checksum mismatch: stored {stored:#010x}, computed {actual:#010x}"),
            ));
        }
        if b[4] != FORMAT_V1 {
            return Err(Error::corrupt(
                path,
                4,
                format!("unknown tombstones format version {}", b[4]),
            ));
        }
        let mut t = Tombstones::default();
        let mut at = 5;
        while at < end {
            let entry = at;
            let field = |at: &mut usize, what: &str, signed: bool| -> Result<i64> {
                let parsed = if signed {
                    varint(&b[*at..end])
                } else {
                    uvarint(&b[*at..end]).map(|(v, n)| (v as i64, n))
                };
                let (v, n) = parsed.ok_or_else(|| {
                    Error::corrupt(
                        path,
                        *at as u64,
                        format!("truncated {what} in the entry at offset {entry}"),
                    )
                })?;
                *at += n;
                Ok(v)
            };
            let r = field(&mut at, "series reference", false)? as u64;
            let mint = field(&mut at, "min time", true)?;
            let maxt = field(&mut at, "max time", true)?;
            t.add(r, Interval::new(mint, maxt));
        }
        Ok(t)
    }

    /// Reads `<dir>/tombstones`; a missing file means nothing is deleted
    /// (as in Prometheus).
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(TOMBSTONES_FILENAME);
        match std::fs::read(&path) {
            Ok(b) => Self::decode(&b, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Tombstones::default()),
            Err(e) => Err(Error::io(format!("read {}", path.display()), e)),
        }
    }

    /// Writes `<dir>/tombstones` atomically (via `tombstones.tmp`).
    pub fn write(&self, dir: &Path) -> Result<u64> {
        let b = self.encode();
        crate::fsutil::write_atomic(&dir.join(TOMBSTONES_FILENAME), &b)?;
        Ok(b.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_file_is_prometheus_s_nine_bytes() {
        assert_eq!(
            Tombstones::default().encode(),
            [0x01, 0x30, 0xBA, 0x30, 0x01, 0, 0, 0, 0]
        );
    }

    #[test]
    fn round_trip_and_errors() {
        let mut t = Tombstones::default();
        t.add(5, Interval::new(-10, 20));
        t.add(1, Interval::new(i64::MIN, i64::MAX));
        t.add(5, Interval::new(100, 200));
        let b = t.encode();
        let p = Path::new("blk/tombstones");
        assert_eq!(Tombstones::decode(&b, p).unwrap(), t);
        assert_eq!(t.total(), 3);

        let mut bad = b.clone();
        bad[6] ^= 1;
        let err = Tombstones::decode(&bad, p).unwrap_err().to_string();
        assert!(
            err.contains("checksum") && err.contains("blk/tombstones"),
            "{err}"
        );
        let mut bad = b.clone();
        bad[0] = 0;
        assert!(Tombstones::decode(&bad, p)
            .unwrap_err()
            .to_string()
            .contains("magic"));
        // A truncated entry with a valid checksum.
        let mut cut = b[..b.len() - 5].to_vec();
        let crc = crc32c::crc32c(&cut[5..]);
        cut.extend_from_slice(&crc.to_be_bytes());
        let err = Tombstones::decode(&cut, p).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn empty_intervals_are_not_recorded() {
        // Found by fuzzing: series 10 with [5, -21].
        let mut framed = vec![0x01, 0x30, 0xBA, 0x30, 0x01, 0x0a, 0x0a, 0x29];
        let crc = crc32c::crc32c(&framed[5..]);
        framed.extend_from_slice(&crc.to_be_bytes());
        let t = Tombstones::decode(&framed, Path::new("t")).unwrap();
        assert!(t.is_empty());
        assert_eq!(Tombstones::decode(&t.encode(), Path::new("t")).unwrap(), t);
    }

    proptest! {
        #[test]
        fn decode_never_panics(b: Vec<u8>) {
            let _ = Tombstones::decode(&b, Path::new("t"));
            let mut framed = vec![0x01, 0x30, 0xBA, 0x30, 0x01];
            framed.extend_from_slice(&b);
            let crc = crc32c::crc32c(&framed[5..]);
            framed.extend_from_slice(&crc.to_be_bytes());
            let _ = Tombstones::decode(&framed, Path::new("t"));
        }
    }
}
