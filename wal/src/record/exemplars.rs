//! Exemplar records (type 4).
//!
//! ```text
//! u8 type = 4
//! if non-empty: be64 first.ref, be64 first.t,
//! then for every exemplar, the first included:
//!     varint(ref − first.ref), varint(t − first.t), be64 value bits, labels
//! ```

use aion_model::Labels;

use super::buf::{put_labels, Buf, DeltaBase};
use super::error::DecodeError;
use super::RecordType;
use aion_model::encoding::put_be64;

/// An exemplar attached to a head series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RefExemplar {
    /// Head series reference.
    pub r#ref: u64,
    /// Timestamp in milliseconds.
    pub t: i64,
    /// Observed value.
    pub v: f64,
    /// The exemplar's own labels (e.g. a trace ID).
    pub labels: Labels,
}

/// Appends an exemplars record to `buf`.
pub fn encode_exemplars(exemplars: &[RefExemplar], buf: &mut Vec<u8>) {
    buf.push(RecordType::Exemplars as u8);
    let Some(first) = exemplars.first() else {
        return;
    };
    let base = DeltaBase::put(buf, first.r#ref, first.t);
    for e in exemplars {
        base.put_element(buf, e.r#ref, e.t);
        put_be64(buf, e.v.to_bits());
        put_labels(buf, &e.labels);
    }
}

/// Decodes an exemplars record into `out`, replacing its contents.
pub fn decode_exemplars(rec: &[u8], out: &mut Vec<RefExemplar>) -> Result<(), DecodeError> {
    out.clear();
    let (mut b, _) = Buf::new_typed(
        rec,
        "exemplars",
        &[RecordType::Exemplars as u8],
        "4 (exemplars)",
    )?;
    if b.is_empty() {
        return Ok(());
    }
    let base = DeltaBase::read(&mut b)?;
    while !b.is_empty() {
        let (r#ref, t) = base.read_element(&mut b)?;
        let v = b.be64_f64("value")?;
        let labels = b.labels()?;
        out.push(RefExemplar {
            r#ref,
            t,
            v,
            labels,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let ex = [
            RefExemplar {
                r#ref: 10,
                t: 5000,
                v: 0.25,
                labels: Labels::from_pairs(&[("trace_id", "abc")]).unwrap(),
            },
            RefExemplar {
                r#ref: 4,
                t: 4000,
                v: 1.5,
                labels: Labels::new(),
            },
        ];
        let mut buf = Vec::new();
        encode_exemplars(&ex, &mut buf);
        let mut out = Vec::new();
        decode_exemplars(&buf, &mut out).unwrap();
        assert_eq!(out, ex);
        let mut empty = Vec::new();
        encode_exemplars(&[], &mut empty);
        assert_eq!(empty, [4]);
    }
}
