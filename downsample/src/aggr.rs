//! Thanos's aggregate chunk (encoding byte 0xFF): five XOR sub-chunks in the
//! order count, sum, min, max, counter, each `uvarint(len) u8 encoding
//! data[len]`, or `uvarint(0)` when absent (formats NOTES §4.7).

use aion_chunkenc::{Encoding, XorChunk};
use aion_model::encoding::{put_uvarint, uvarint};

use crate::{Error, Result};

/// Which aggregate of a window a sub-chunk holds, in on-disk order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum AggrType {
    /// Number of raw samples in the window.
    Count = 0,
    /// Sum of the raw values.
    Sum = 1,
    /// Smallest raw value.
    Min = 2,
    /// Largest raw value.
    Max = 3,
    /// Counter state with resets applied, plus the batch's first raw
    /// sample and last raw value so resets stay visible across chunks.
    Counter = 4,
}

impl AggrType {
    /// All five, in on-disk order.
    pub const ALL: [AggrType; 5] = [
        AggrType::Count,
        AggrType::Sum,
        AggrType::Min,
        AggrType::Max,
        AggrType::Counter,
    ];

    /// Thanos's name (`AggrType.String()`).
    pub fn name(self) -> &'static str {
        match self {
            AggrType::Count => "count",
            AggrType::Sum => "sum",
            AggrType::Min => "min",
            AggrType::Max => "max",
            AggrType::Counter => "counter",
        }
    }
}

impl std::fmt::Display for AggrType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Encodes an aggregate chunk from the data of its XOR sub-chunks (`None`
/// for an absent aggregate), appending to `out`.
pub fn encode_aggr_chunk(subchunks: [Option<&[u8]>; 5], out: &mut Vec<u8>) {
    for sub in subchunks {
        match sub {
            None => put_uvarint(out, 0),
            Some(data) => {
                put_uvarint(out, data.len() as u64);
                out.push(Encoding::Xor as u8);
                out.extend_from_slice(data);
            }
        }
    }
}

/// A borrowed aggregate chunk's sub-chunks, validated once.
#[derive(Debug, Clone, Copy)]
pub struct AggrChunk<'a> {
    parts: [Option<&'a [u8]>; 5],
}

impl<'a> AggrChunk<'a> {
    /// Splits `data` (the bytes after the 0xFF encoding byte) into its five
    /// sub-chunks. Every present sub-chunk must be XOR.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let mut parts = [None; 5];
        let mut rest = data;
        for (i, t) in AggrType::ALL.into_iter().enumerate() {
            let offset = data.len() - rest.len();
            let (len, n) = uvarint(rest).ok_or(Error::AggrChunk {
                aggr: t,
                offset,
                what: "truncated sub-chunk length",
            })?;
            rest = &rest[n..];
            if len == 0 {
                continue;
            }
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if rest.len() <= len {
                return Err(Error::AggrChunk {
                    aggr: t,
                    offset,
                    what: "sub-chunk longer than the chunk",
                });
            }
            if rest[0] != Encoding::Xor as u8 {
                return Err(Error::AggrChunk {
                    aggr: t,
                    offset,
                    what: "sub-chunk is not XOR-encoded",
                });
            }
            parts[i] = Some(&rest[1..=len]);
            rest = &rest[len + 1..];
        }
        Ok(AggrChunk { parts })
    }

    /// The XOR chunk of aggregate `t`, `None` when the chunk lacks it.
    pub fn get(&self, t: AggrType) -> Result<Option<XorChunk<&'a [u8]>>> {
        match self.parts[t as usize] {
            None => Ok(None),
            Some(data) => Ok(Some(XorChunk::from_bytes(data)?)),
        }
    }

    /// Samples (windows) in the chunk: those of its count sub-chunk.
    pub fn num_samples(&self) -> usize {
        self.get(AggrType::Count)
            .ok()
            .flatten()
            .map_or(0, |c| c.num_samples())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aion_chunkenc::XorAppender;

    fn xor(samples: &[(i64, f64)]) -> Vec<u8> {
        let mut app = XorAppender::new();
        for &(t, v) in samples {
            app.append(t, v).unwrap();
        }
        app.bytes().to_vec()
    }

    #[test]
    fn round_trips_with_absent_aggregates() {
        let count = xor(&[(299_999, 20.0)]);
        let counter = xor(&[(1, 1.0), (299_999, 5.0), (299_999, 5.0)]);
        let mut out = Vec::new();
        encode_aggr_chunk([Some(&count), None, None, None, Some(&counter)], &mut out);
        // Layout: len, 0x01, data; three absent markers; len, 0x01, data.
        assert_eq!(out[0] as usize, count.len());
        assert_eq!(out[1], 1);
        assert_eq!(&out[2 + count.len()..5 + count.len()], &[0, 0, 0]);
        let c = AggrChunk::parse(&out).unwrap();
        assert_eq!(c.num_samples(), 1);
        assert!(c.get(AggrType::Sum).unwrap().is_none());
        let got = c
            .get(AggrType::Counter)
            .unwrap()
            .unwrap()
            .samples()
            .unwrap();
        assert_eq!(got, [(1, 1.0), (299_999, 5.0), (299_999, 5.0)]);
    }

    #[test]
    fn damage_is_an_error_naming_the_aggregate() {
        let count = xor(&[(1, 2.0)]);
        let mut out = Vec::new();
        encode_aggr_chunk([Some(&count), Some(&count), None, None, None], &mut out);
        let cut = &out[..out.len() - 5];
        let err = AggrChunk::parse(cut).unwrap_err();
        assert!(err.to_string().contains("sum"), "{err}");
        let mut bad = out.clone();
        bad[1] = 2;
        let err = AggrChunk::parse(&bad).unwrap_err();
        assert!(err.to_string().contains("count"), "{err}");
    }
}
