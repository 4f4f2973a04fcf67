//! Re-encoding a chunk without some of its samples: what both the head and
//! blocks do where a deletion, a query's isolation bound or a block's
//! range cuts into a chunk that is otherwise handed out (or written) as
//! its bytes.

use std::borrow::Cow;

use aion_chunkenc::{Encoding, SampleIterator, ValueType, XorAppender, XorIterator};
use aion_wal::record::Intervals;

use super::SeriesChunk;
use crate::{Error, Result};

/// Re-encodes a chunk keeping only samples in `[mint, maxt]` not in
/// `deleted`; `None` if nothing is left.
///
/// Only XOR chunks are re-encoded (the head and this crate's blocks hold
/// no others); any other encoding is an error naming it, never a panic.
pub(crate) fn reencode_without(
    encoding: Encoding,
    data: &[u8],
    mint: i64,
    maxt: i64,
    deleted: Option<&Intervals>,
) -> Result<Option<SeriesChunk<Cow<'static, [u8]>>>> {
    if encoding != Encoding::Xor {
        return Err(aion_chunkenc::Error::UnsupportedEncoding { encoding }.into());
    }
    let mut it = XorIterator::new(data);
    let mut app = XorAppender::new();
    let (mut first, mut last) = (None, 0);
    while it.next() == ValueType::Float {
        let (t, v) = it.at();
        if t < mint || t > maxt || deleted.is_some_and(|d| d.contains(t)) {
            continue;
        }
        app.append(t, v)
            .map_err(|_| Error::Writer("re-encoded chunk exceeds 65535 samples".into()))?;
        first.get_or_insert(t);
        last = t;
    }
    if let Some(e) = it.error() {
        return Err(e.clone().into());
    }
    Ok(first.map(|first| SeriesChunk {
        min_time: first,
        max_time: last,
        encoding: Encoding::Xor,
        data: Cow::Owned(app.bytes().to_vec()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aion_wal::record::Interval;

    fn chunk(ts: &[i64]) -> Vec<u8> {
        let mut app = XorAppender::new();
        for &t in ts {
            app.append(t, t as f64).unwrap();
        }
        app.bytes().to_vec()
    }

    fn times(data: &[u8]) -> Vec<i64> {
        let mut it = XorIterator::new(data);
        let mut out = Vec::new();
        while it.next() == ValueType::Float {
            out.push(it.at_t());
        }
        out
    }

    #[test]
    fn keeps_the_range_minus_deletions() {
        let data = chunk(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let mut d = Intervals::default();
        d.add(Interval::new(4, 5));
        let c = reencode_without(Encoding::Xor, &data, 2, 7, Some(&d))
            .unwrap()
            .unwrap();
        assert_eq!((c.min_time, c.max_time), (2, 7));
        assert_eq!(times(&c.data), [2, 3, 6, 7]);
        d.add(Interval::new(0, 10));
        assert!(reencode_without(Encoding::Xor, &data, 2, 7, Some(&d))
            .unwrap()
            .is_none());
    }

    #[test]
    fn other_encodings_and_damage_are_errors() {
        let data = chunk(&[1, 2, 3]);
        assert!(reencode_without(Encoding::Histogram, &data, 0, 9, None).is_err());
        assert!(reencode_without(Encoding::Xor, &data[..data.len() - 2], 0, 9, None).is_err());
    }
}
