//! Thanos's aggregate chunk (encoding byte 0xFF): five sub-chunks in the
//! order count, sum, min, max, counter, each `uvarint(len) u8 encoding
//! data[len]`, or `uvarint(0)` when absent (formats NOTES §4.7). Float
//! series have five XOR sub-chunks; native histogram series (Thanos ≥ 0.32)
//! an XOR count and float histogram sum and counter, no min or max.

use aion_chunkenc::{Chunk, Encoding, SampleIterator, ValueType, XorChunk};
use aion_model::encoding::{put_uvarint, uvarint};
use aion_model::histogram::FloatHistogram;

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
    encode_aggr_chunk_parts(subchunks.map(|s| s.map(|d| (Encoding::Xor, d))), out);
}

/// Encodes an aggregate chunk from its sub-chunks with their encodings
/// (histogram series: float histogram sum and counter), appending to `out`.
pub fn encode_aggr_chunk_parts(subchunks: [Option<(Encoding, &[u8])>; 5], out: &mut Vec<u8>) {
    for sub in subchunks {
        match sub {
            None => put_uvarint(out, 0),
            Some((encoding, data)) => {
                put_uvarint(out, data.len() as u64);
                out.push(encoding as u8);
                out.extend_from_slice(data);
            }
        }
    }
}

/// A borrowed aggregate chunk's sub-chunks, validated once.
#[derive(Debug, Clone, Copy)]
pub struct AggrChunk<'a> {
    parts: [Option<(Encoding, &'a [u8])>; 5],
}

impl<'a> AggrChunk<'a> {
    /// Splits `data` (the bytes after the 0xFF encoding byte) into its five
    /// sub-chunks. Count, min and max must be XOR; sum and counter XOR or
    /// (for histogram series) histogram chunks.
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
            let encoding = match Encoding::try_from(rest[0]).ok() {
                Some(e @ Encoding::Xor) => e,
                Some(e @ (Encoding::Histogram | Encoding::FloatHistogram))
                    if matches!(t, AggrType::Sum | AggrType::Counter) =>
                {
                    e
                }
                _ => {
                    return Err(Error::AggrChunk {
                        aggr: t,
                        offset,
                        what: "sub-chunk is neither XOR nor (sum, counter) a histogram chunk",
                    })
                }
            };
            parts[i] = Some((encoding, &rest[1..=len]));
            rest = &rest[len + 1..];
        }
        Ok(AggrChunk { parts })
    }

    /// The XOR chunk of aggregate `t`, `None` when the chunk lacks it; an
    /// error for a histogram sub-chunk (see [`AggrChunk::is_histogram`]).
    pub fn get(&self, t: AggrType) -> Result<Option<XorChunk<&'a [u8]>>> {
        match self.parts[t as usize] {
            None => Ok(None),
            Some((Encoding::Xor, data)) => Ok(Some(XorChunk::from_bytes(data)?)),
            Some(_) => Err(Error::AggrChunk {
                aggr: t,
                offset: 0,
                what: "a histogram sub-chunk read as floats",
            }),
        }
    }

    /// Whether this is a native histogram series' chunk: its counter is a
    /// histogram chunk (Thanos's `isHistogramAggrChunk`).
    pub fn is_histogram(&self) -> bool {
        matches!(
            self.parts[AggrType::Counter as usize],
            Some((Encoding::Histogram | Encoding::FloatHistogram, _))
        )
    }

    /// The samples of histogram aggregate `t` (sum or counter) as float
    /// histograms, appended to `out`; nothing when the chunk lacks it.
    pub fn histograms(&self, t: AggrType, out: &mut Vec<(i64, FloatHistogram)>) -> Result<()> {
        let Some((encoding, data)) = self.parts[t as usize] else {
            return Ok(());
        };
        if encoding == Encoding::Xor {
            return Err(Error::AggrChunk {
                aggr: t,
                offset: 0,
                what: "an XOR sub-chunk read as histograms",
            });
        }
        let chunk = Chunk::from_bytes(encoding, data)?;
        let mut it = chunk.iter();
        loop {
            match it.next() {
                ValueType::None => break,
                ValueType::Histogram | ValueType::FloatHistogram => {
                    let mut h = FloatHistogram::default();
                    let ts = it.at_float_histogram(&mut h);
                    out.push((ts, h));
                }
                ValueType::Float => {
                    return Err(Error::AggrChunk {
                        aggr: t,
                        offset: 0,
                        what: "a float sample in a histogram sub-chunk",
                    })
                }
            }
        }
        match it.error() {
            Some(e) => Err(Error::Chunk(e.clone())),
            None => Ok(()),
        }
    }

    /// The encoding and bytes of aggregate `t`'s sub-chunk.
    pub fn raw(&self, t: AggrType) -> Option<(Encoding, &'a [u8])> {
        self.parts[t as usize]
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
