//! Series records (type 1): a head series reference and its labels.
//!
//! ```text
//! u8 type = 1
//! repeated: be64 ref, uvarint label_count, label_count × (string name, string value)
//! ```

use aion_model::Labels;

use super::buf::{put_labels, Buf};
use super::error::DecodeError;
use super::RecordType;
use aion_model::encoding::put_be64;

/// A series as logged when it is created in the head.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RefSeries {
    /// The head series reference other records use.
    pub r#ref: u64,
    /// The series' labels.
    pub labels: Labels,
}

/// Appends a series record to `buf`.
pub fn encode_series(series: &[RefSeries], buf: &mut Vec<u8>) {
    buf.push(RecordType::Series as u8);
    for s in series {
        put_be64(buf, s.r#ref);
        put_labels(buf, &s.labels);
    }
}

/// Decodes a series record into `out`, replacing its contents.
pub fn decode_series(rec: &[u8], out: &mut Vec<RefSeries>) -> Result<(), DecodeError> {
    out.clear();
    let (mut b, _) = Buf::new_typed(rec, "series", &[RecordType::Series as u8], "1 (series)")?;
    while !b.is_empty() {
        let r#ref = b.be64("series ref")?;
        let labels = b.labels()?;
        out.push(RefSeries { r#ref, labels });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::error::Problem;

    #[test]
    fn known_bytes() {
        let s = RefSeries {
            r#ref: 1,
            labels: Labels::from_pairs(&[("__name__", "up")]).unwrap(),
        };
        let mut buf = Vec::new();
        encode_series(std::slice::from_ref(&s), &mut buf);
        let mut want = vec![1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 8];
        want.extend_from_slice(b"__name__");
        want.extend_from_slice(&[2]);
        want.extend_from_slice(b"up");
        assert_eq!(buf, want);
        let mut out = vec![RefSeries::default(); 3];
        decode_series(&buf, &mut out).unwrap();
        assert_eq!(out, [s]);
    }

    #[test]
    fn empty_and_truncated() {
        let mut out = Vec::new();
        decode_series(&[1], &mut out).unwrap();
        assert!(out.is_empty());
        let e = decode_series(&[1, 0, 0], &mut out).unwrap_err();
        assert_eq!(e.problem, Problem::Truncated("series ref"));
        assert_eq!(e.offset, 1);
        let e = decode_series(&[2], &mut out).unwrap_err();
        assert!(matches!(e.problem, Problem::WrongType { found: 2, .. }));
    }
}
