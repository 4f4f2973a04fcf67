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

/// A closed time range `[mint, maxt]` in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interval {
    /// First deleted timestamp.
    pub mint: i64,
    /// Last deleted timestamp (inclusive).
    pub maxt: i64,
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
