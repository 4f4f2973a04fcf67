//! Re-encoding a chunk without some of its samples: what both the head and
//! blocks do where a deletion, a query's isolation bound or a block's
//! range cuts into a chunk that is otherwise handed out (or written) as
//! its bytes.

use std::borrow::Cow;

use aion_chunkenc::{ChunkAppender, ChunkIter, Encoding, SampleIterator, ValueType};
use aion_model::histogram::{FloatHistogram, Histogram};
use aion_wal::record::Intervals;

use super::SeriesChunk;
use crate::{Error, Result};

/// Re-encodes a chunk keeping only samples in `[mint, maxt]` not in
/// `deleted`; `None` if nothing is left.
///
/// The chunk keeps its encoding (XOR, XOR2 with its start timestamps,
/// integer or float histogram), and the kept samples are appended as
/// Prometheus's `populateCurrForSingleChunk` appends them: histograms in
/// place, in the chunk's own bucket layout, so the result is one chunk;
/// its counter-reset header is what the first kept sample says (unknown
/// for a counter, as a reader cannot vouch for the chunk before; gauge for
/// gauges). Encodings Aion cannot read, damaged data and a histogram that
/// does not fit its own chunk's layout are errors, never a panic.
pub(crate) fn reencode_without(
    encoding: Encoding,
    data: &[u8],
    mint: i64,
    maxt: i64,
    deleted: Option<&Intervals>,
) -> Result<Option<SeriesChunk<Cow<'static, [u8]>>>> {
    let mut it = ChunkIter::new(encoding, data)?;
    let mut app = ChunkAppender::new(encoding)?;
    let mut h = Histogram::default();
    let mut fh = FloatHistogram::default();
    let (mut first, mut last) = (None, 0);
    loop {
        let vt = it.next();
        if vt == ValueType::None {
            break;
        }
        let t = it.at_t();
        if t < mint || t > maxt || deleted.is_some_and(|d| d.contains(t)) {
            continue;
        }
        let appended = match vt {
            ValueType::Float => app.append_float(it.at_st(), t, it.at().1),
            ValueType::Histogram => {
                it.at_histogram(&mut h);
                app.append_histogram_in_place(t, &h)
            }
            _ => {
                it.at_float_histogram(&mut fh);
                app.append_float_histogram_in_place(t, &fh)
            }
        };
        appended.map_err(|e| Error::Writer(format!("re-encoding a {encoding} chunk: {e}")))?;
        first.get_or_insert(t);
        last = t;
    }
    if let Some(e) = it.error() {
        return Err(e.clone().into());
    }
    Ok(first.map(|first| SeriesChunk {
        min_time: first,
        max_time: last,
        encoding,
        data: Cow::Owned(app.into_bytes()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aion_chunkenc::{
        AppendOutcome, Chunk, FloatHistogramAppender, HistogramAppender, Xor2Appender, XorAppender,
    };
    use aion_model::histogram::{CounterResetHint, Span};
    use aion_wal::record::Interval;

    fn chunk(ts: &[i64]) -> Vec<u8> {
        let mut app = XorAppender::new();
        for &t in ts {
            app.append(t, t as f64).unwrap();
        }
        app.bytes().to_vec()
    }

    fn times(encoding: Encoding, data: &[u8]) -> Vec<i64> {
        let chunk = Chunk::from_bytes(encoding, data).unwrap();
        let mut it = chunk.iter();
        let mut out = Vec::new();
        while it.next() != ValueType::None {
            out.push(it.at_t());
        }
        assert!(it.err().is_none());
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
        assert_eq!(times(Encoding::Xor, &c.data), [2, 3, 6, 7]);
        d.add(Interval::new(0, 10));
        assert!(reencode_without(Encoding::Xor, &data, 2, 7, Some(&d))
            .unwrap()
            .is_none());
    }

    #[test]
    fn unreadable_encodings_and_damage_are_errors() {
        let data = chunk(&[1, 2, 3]);
        for encoding in [Encoding::HistogramSt, Encoding::None] {
            assert!(reencode_without(encoding, &data, 0, 9, None).is_err());
        }
        assert!(reencode_without(Encoding::Xor, &data[..data.len() - 2], 0, 9, None).is_err());
        let h = histograms(CounterResetHint::Unknown);
        assert!(reencode_without(Encoding::Histogram, &h[..h.len() - 3], 0, 99, None).is_err());
    }

    fn hist(count: u64, hint: CounterResetHint) -> Histogram {
        Histogram {
            count,
            sum: count as f64 * 1.5,
            schema: 1,
            counter_reset_hint: hint,
            positive_spans: vec![Span {
                offset: -1,
                length: 2,
            }],
            positive_buckets: vec![count as i64 / 2, (count % 2) as i64],
            ..Histogram::default()
        }
    }

    /// Histograms at 10, 20, … 50, the first with `hint`.
    fn histograms(hint: CounterResetHint) -> Vec<u8> {
        let mut app = HistogramAppender::new();
        for (i, t) in (10..=50).step_by(10).enumerate() {
            let hint = if i == 0 || hint == CounterResetHint::Gauge {
                hint
            } else {
                CounterResetHint::Unknown
            };
            assert!(matches!(
                app.append(t, &hist(10 + 4 * i as u64, hint)).unwrap(),
                AppendOutcome::Appended
            ));
        }
        app.bytes().to_vec()
    }

    #[test]
    fn histogram_chunks_stay_histogram_chunks() {
        let data = histograms(CounterResetHint::CounterReset);
        assert_eq!(data[2] & 0xc0, 0x80, "written with a counter-reset header");
        let mut d = Intervals::default();
        d.add(Interval::new(30, 30));
        let c = reencode_without(Encoding::Histogram, &data, 15, 99, Some(&d))
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.encoding, c.min_time, c.max_time),
            (Encoding::Histogram, 20, 50)
        );
        assert_eq!(times(Encoding::Histogram, &c.data), [20, 40, 50]);
        // The header of a chunk re-encoded without its first sample is
        // what a reader says of that sample: unknown.
        assert_eq!(c.data[2] & 0xc0, 0);
        // Identical to the kept samples appended afresh.
        let mut fresh = HistogramAppender::new();
        for (i, t) in [(1, 20), (3, 40), (4, 50)] {
            fresh
                .append_in_place(t, &hist(10 + 4 * i, CounterResetHint::Unknown))
                .unwrap();
        }
        assert_eq!(&c.data[..], fresh.bytes());
        // Nothing cut away: the same bytes but for the header.
        let whole = reencode_without(Encoding::Histogram, &data, 0, 99, None)
            .unwrap()
            .unwrap();
        assert_eq!(whole.data[3..], data[3..]);

        let gauges = histograms(CounterResetHint::Gauge);
        let c = reencode_without(Encoding::Histogram, &gauges, 25, 99, None)
            .unwrap()
            .unwrap();
        assert_eq!(c.data[2] & 0xc0, 0xc0, "gauge chunks stay gauge chunks");
    }

    #[test]
    fn float_histograms_and_xor2_keep_their_encoding() {
        let mut app = FloatHistogramAppender::new();
        for t in [1, 2, 3] {
            app.append(t, &hist(t as u64 * 2, CounterResetHint::Unknown).to_float())
                .unwrap();
        }
        let c = reencode_without(Encoding::FloatHistogram, app.bytes(), 2, 3, None)
            .unwrap()
            .unwrap();
        assert_eq!(c.encoding, Encoding::FloatHistogram);
        let chunk = Chunk::from_bytes(c.encoding, &c.data[..]).unwrap();
        let mut it = chunk.iter();
        let mut fh = FloatHistogram::default();
        assert_eq!(it.next(), ValueType::FloatHistogram);
        assert_eq!(it.at_float_histogram(&mut fh), 2);
        assert_eq!(fh.count, 4.0);

        let mut app = Xor2Appender::new();
        for t in [10, 20, 30] {
            app.append(t - 5, t, t as f64).unwrap();
        }
        let c = reencode_without(Encoding::Xor2, app.bytes(), 15, 30, None)
            .unwrap()
            .unwrap();
        let chunk = Chunk::from_bytes(Encoding::Xor2, &c.data[..]).unwrap();
        let mut it = chunk.iter();
        let mut got = Vec::new();
        while it.next() == ValueType::Float {
            got.push((it.at_st(), it.at_t(), it.at().1));
        }
        assert_eq!(got, [(15, 20, 20.0), (25, 30, 30.0)]);
    }
}
