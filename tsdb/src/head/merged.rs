//! The samples of a series with out-of-order data in a query's range:
//! its in-order chunks decoded and merged with the out-of-order samples,
//! read as one sorted list or re-encoded into non-overlapping chunks.
//!
//! Float-only series (the common case) stay `(t, v)` pairs; a series with
//! a histogram on either side is merged as [`SampleValue`]s.

use aion_chunkenc::{Chunk, SampleIterator, ValueType};

use super::snap_chunk::SnapChunk;
use crate::chunks::{decode_values, encode_values, SampleValue};
use crate::{FloatChunkEncoding, Result};

/// Most samples per chunk when merged samples are re-encoded for chunk
/// readers (Prometheus's target for head chunks).
const MERGED_CHUNK_SAMPLES: usize = 120;

/// The merged samples of a series.
pub(super) enum Merged {
    Floats(Vec<(i64, f64)>),
    Mixed(Vec<(i64, SampleValue)>),
}

impl Merged {
    pub fn is_empty(&self) -> bool {
        match self {
            Merged::Floats(m) => m.is_empty(),
            Merged::Mixed(m) => m.is_empty(),
        }
    }

    /// Drops the samples `drop` says.
    pub fn retain_times(&mut self, keep: impl Fn(i64) -> bool) {
        match self {
            Merged::Floats(m) => m.retain(|s| keep(s.0)),
            Merged::Mixed(m) => m.retain(|s| keep(s.0)),
        }
    }

    /// The samples as chunks, for chunk readers.
    pub fn encode(&self) -> Result<Vec<SnapChunk>> {
        let chunks = match self {
            Merged::Mixed(m) => encode_values(m, MERGED_CHUNK_SAMPLES, FloatChunkEncoding::Xor)?,
            Merged::Floats(m) => {
                let values: Vec<(i64, SampleValue)> =
                    m.iter().map(|&(t, v)| (t, SampleValue::Float(v))).collect();
                encode_values(&values, MERGED_CHUNK_SAMPLES, FloatChunkEncoding::Xor)?
            }
        };
        Ok(chunks.into_iter().map(SnapChunk::from).collect())
    }
}

/// Merges the in-order samples of `chunks` in `[mint, maxt]` with the
/// out-of-order `ooo` (sorted, one per timestamp), keeping the in-order
/// sample where both have a timestamp.
pub(super) fn merge(
    chunks: &[SnapChunk],
    mint: i64,
    maxt: i64,
    ooo: Vec<(i64, SampleValue)>,
) -> Result<Merged> {
    let ooo_floats = ooo.iter().all(|s| matches!(s.1, SampleValue::Float(_)));
    let in_order_floats = chunks.iter().all(|c| c.encoding.is_float());
    if ooo_floats && in_order_floats {
        let mut in_order = Vec::new();
        for c in chunks {
            let chunk = Chunk::from_bytes(c.encoding, c.bytes.as_slice())?;
            let mut it = chunk.iter();
            while it.next() == ValueType::Float {
                let (t, v) = it.at();
                if t >= mint && t <= maxt {
                    in_order.push((t, v));
                }
            }
            if let Some(e) = it.error() {
                return Err(e.clone().into());
            }
        }
        let ooo: Vec<(i64, f64)> = ooo
            .into_iter()
            .map(|(t, v)| match v {
                SampleValue::Float(x) => (t, x),
                _ => unreachable!("checked above"),
            })
            .collect();
        return Ok(Merged::Floats(super::ooo::merge_sorted(&in_order, &ooo)));
    }
    let mut in_order = Vec::new();
    for c in chunks {
        decode_values(c.encoding, c.bytes.as_slice(), mint, maxt, &mut in_order)?;
    }
    Ok(Merged::Mixed(merge_values(in_order, ooo)))
}

/// Merges two time-sorted lists, keeping `a`'s sample where both have a
/// timestamp.
fn merge_values(a: Vec<(i64, SampleValue)>, b: Vec<(i64, SampleValue)>) -> Vec<(i64, SampleValue)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut b = b.into_iter().peekable();
    for (t, v) in a {
        while let Some((bt, _)) = b.peek() {
            if *bt > t {
                break;
            }
            let (bt, bv) = b.next().expect("peeked");
            if bt < t {
                out.push((bt, bv));
            }
        }
        out.push((t, v));
    }
    out.extend(b);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::histogram_test_support::simple;
    use aion_chunkenc::Encoding;

    fn h(i: u64) -> SampleValue {
        SampleValue::Histogram(Box::new(simple(i)))
    }

    #[test]
    fn histograms_and_floats_merge_with_the_in_order_side_winning() {
        let in_order = encode_values(
            &[(1, h(1)), (3, h(2)), (5, h(3))],
            120,
            FloatChunkEncoding::Xor,
        )
        .unwrap();
        let snap: Vec<SnapChunk> = in_order.into_iter().map(SnapChunk::from).collect();
        let ooo = vec![
            (2, SampleValue::Float(20.0)),
            (3, SampleValue::Float(30.0)),
            (6, h(9)),
        ];
        let merged = merge(&snap, 0, 10, ooo).unwrap();
        let Merged::Mixed(m) = &merged else {
            panic!("histograms merge as values")
        };
        let ts: Vec<(i64, ValueType)> = m.iter().map(|s| (s.0, s.1.value_type())).collect();
        assert_eq!(
            ts,
            [
                (1, ValueType::Histogram),
                (2, ValueType::Float),
                (3, ValueType::Histogram),
                (5, ValueType::Histogram),
                (6, ValueType::Histogram),
            ]
        );
        let chunks = merged.encode().unwrap();
        let encodings: Vec<Encoding> = chunks.iter().map(|c| c.encoding).collect();
        assert_eq!(
            encodings,
            [Encoding::Histogram, Encoding::Xor, Encoding::Histogram]
        );
    }
}
