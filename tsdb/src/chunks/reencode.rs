//! Re-encoding a chunk without some of its samples: what both the head and
//! blocks do where a deletion, a query's isolation bound or a block's
//! range cuts into a chunk that is otherwise handed out (or written) as
//! its bytes.

use std::borrow::Cow;

use aion_chunkenc::{
    Chunk, Encoding, FloatHistogramAppender, HistogramAppender, SampleIterator, ValueType,
    Xor2Appender, XorAppender,
};
use aion_model::histogram::{FloatHistogram, Histogram};
use aion_wal::record::Intervals;

use super::SeriesChunk;
use crate::{Error, Result};

/// Re-encodes a chunk keeping only samples in `[mint, maxt]` not in
/// `deleted`, in its own encoding; `None` if nothing is left.
///
/// As Prometheus re-encodes chunks for deletions: the samples are appended
/// in place to a new chunk of the same encoding, histograms with the hints
/// their reader gives them (so a kept first sample's chunk header is
/// unknown unless the chunk is a gauge's). A subset of a chunk's samples
/// always fits one chunk. Encodings this build cannot read are an error
/// naming them, never a panic.
pub(crate) fn reencode_without(
    encoding: Encoding,
    data: &[u8],
    mint: i64,
    maxt: i64,
    deleted: Option<&Intervals>,
) -> Result<Option<SeriesChunk<Cow<'static, [u8]>>>> {
    let keep = |t: i64| t >= mint && t <= maxt && !deleted.is_some_and(|d| d.contains(t));
    let full = |_| Error::Writer("re-encoded chunk exceeds 65535 samples".into());
    let refused = |e: aion_chunkenc::HistogramAppendError| {
        Error::Writer(format!("re-encoding a histogram chunk: {e}"))
    };
    let chunk = Chunk::from_bytes(encoding, data)?;
    let mut it = chunk.iter();
    let (mut first, mut last) = (None, 0);
    let mut note = |t: i64| {
        first.get_or_insert(t);
        last = t;
    };
    let bytes = match encoding {
        Encoding::Xor | Encoding::Xor2 => {
            let mut xor = XorAppender::new();
            let mut xor2 = Xor2Appender::new();
            while it.next() == ValueType::Float {
                let (t, v) = it.at();
                if !keep(t) {
                    continue;
                }
                if encoding == Encoding::Xor {
                    xor.append(t, v).map_err(full)?;
                } else {
                    xor2.append(it.at_st(), t, v).map_err(full)?;
                }
                note(t);
            }
            if encoding == Encoding::Xor {
                xor.bytes().to_vec()
            } else {
                xor2.bytes().to_vec()
            }
        }
        Encoding::Histogram => {
            let mut app = HistogramAppender::new();
            let mut h = Histogram::default();
            while it.next() == ValueType::Histogram {
                let t = it.at_histogram(&mut h);
                if keep(t) {
                    app.append_in_place(t, &h).map_err(refused)?;
                    note(t);
                }
            }
            app.bytes().to_vec()
        }
        Encoding::FloatHistogram => {
            let mut app = FloatHistogramAppender::new();
            let mut h = FloatHistogram::default();
            while it.next() == ValueType::FloatHistogram {
                let t = it.at_float_histogram(&mut h);
                if keep(t) {
                    app.append_in_place(t, &h).map_err(refused)?;
                    note(t);
                }
            }
            app.bytes().to_vec()
        }
        encoding => return Err(aion_chunkenc::Error::UnsupportedEncoding { encoding }.into()),
    };
    if let Some(e) = it.error() {
        return Err(e.clone().into());
    }
    Ok(first.map(|first| SeriesChunk {
        min_time: first,
        max_time: last,
        encoding,
        data: Cow::Owned(bytes),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aion_chunkenc::XorIterator;
    use aion_model::histogram::{CounterResetHint, Span};
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

    fn h(i: i64) -> Histogram {
        Histogram {
            count: i as u64,
            sum: i as f64,
            positive_spans: vec![Span {
                offset: 0,
                length: 1,
            }],
            positive_buckets: vec![i],
            ..Histogram::default()
        }
    }

    #[test]
    fn histogram_chunks_keep_their_encoding() {
        let mut app = HistogramAppender::new();
        let mut reset = h(1);
        reset.counter_reset_hint = CounterResetHint::CounterReset;
        app.append(1, &reset).unwrap();
        for t in 2..=6 {
            app.append(t, &h(t)).unwrap();
        }
        let mut d = Intervals::default();
        d.add(Interval::new(3, 4));
        let c = reencode_without(Encoding::Histogram, app.bytes(), 2, 9, Some(&d))
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.encoding, c.min_time, c.max_time),
            (Encoding::Histogram, 2, 6)
        );
        let chunk = aion_chunkenc::HistogramChunk::from_bytes(&c.data[..]).unwrap();
        // The kept first sample's relation to the chunk before is unknown.
        assert_eq!(chunk.counter_reset_header(), CounterResetHint::Unknown);
        let mut it = chunk.iter();
        let mut got = Vec::new();
        let mut x = Histogram::default();
        while it.next() == ValueType::Histogram {
            let t = it.at_histogram(&mut x);
            assert!(x.equals(&h(t)));
            got.push(t);
        }
        assert_eq!(got, [2, 5, 6]);

        let mut fapp = FloatHistogramAppender::new();
        for t in 1..=3 {
            let mut g = h(t).to_float();
            g.counter_reset_hint = CounterResetHint::Gauge;
            fapp.append(t, &g).unwrap();
        }
        let c = reencode_without(Encoding::FloatHistogram, fapp.bytes(), 3, 3, None)
            .unwrap()
            .unwrap();
        let chunk = aion_chunkenc::FloatHistogramChunk::from_bytes(&c.data[..]).unwrap();
        assert_eq!(
            (chunk.num_samples(), chunk.counter_reset_header()),
            (1, CounterResetHint::Gauge)
        );
        assert!(
            reencode_without(Encoding::FloatHistogram, fapp.bytes(), 7, 9, None)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn xor2_chunks_stay_xor2() {
        let mut app = Xor2Appender::new();
        for t in 0..5 {
            app.append(0, t, t as f64).unwrap();
        }
        let c = reencode_without(Encoding::Xor2, app.bytes(), 1, 3, None)
            .unwrap()
            .unwrap();
        assert_eq!(c.encoding, Encoding::Xor2);
        let chunk = Chunk::from_bytes(Encoding::Xor2, &c.data[..]).unwrap();
        let mut it = chunk.iter();
        let mut ts = Vec::new();
        while it.next() == ValueType::Float {
            ts.push(it.at());
        }
        assert_eq!(ts, [(1, 1.0), (2, 2.0), (3, 3.0)]);
    }
}
