//! The samples of a series with out-of-order data in a query's range:
//! its in-order chunks decoded and merged with the out-of-order samples,
//! read as one sorted list or re-encoded into non-overlapping chunks.
//!
//! Float-only series (the common case) stay `(t, v)` pairs; a series
//! whose in-order chunks hold histograms is merged as [`MergedValue`]s.

use std::error::Error as StdError;
use std::sync::Arc;

use aion_chunkenc::{
    AppendOutcome, Chunk, Encoding, FloatHistogramAppender, HistogramAppender, SampleIterator,
    ValueType, XorAppender,
};
use aion_model::histogram::{FloatHistogram, Histogram};

use super::querier::SnapChunk;
use crate::chunks::ChunkBytes;
use crate::{Error, Result};

/// Most samples per chunk when merged samples are re-encoded for chunk
/// readers (Prometheus's target for head chunks).
pub(super) const MERGED_CHUNK_SAMPLES: usize = 120;

/// A sample value of a merged series.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MergedValue {
    Float(f64),
    Histogram(Box<Histogram>),
    FloatHistogram(Box<FloatHistogram>),
}

/// The in-order samples of `chunks` in `[mint, maxt]`: `Ok(Err(all))` as
/// merged values if any is a histogram, else `Ok(Ok(floats))`.
pub(super) type InOrder = std::result::Result<Vec<(i64, f64)>, Vec<(i64, MergedValue)>>;

/// Decodes the in-order chunks of a snapshot within `[mint, maxt]`.
pub(super) fn decode_in_order(chunks: &[SnapChunk], mint: i64, maxt: i64) -> Result<InOrder> {
    let mut floats = Vec::new();
    let mut mixed: Option<Vec<(i64, MergedValue)>> = None;
    for c in chunks {
        let chunk = Chunk::from_bytes(c.encoding, c.bytes.as_slice())?;
        let mut it = chunk.iter();
        loop {
            let vt = it.next();
            if vt == ValueType::None {
                break;
            }
            let t = it.at_t();
            if t < mint || t > maxt {
                continue;
            }
            let v = match vt {
                ValueType::Float => {
                    if mixed.is_none() {
                        floats.push(it.at());
                        continue;
                    }
                    MergedValue::Float(it.at().1)
                }
                ValueType::Histogram => {
                    let mut h = Histogram::default();
                    it.at_histogram(&mut h);
                    MergedValue::Histogram(Box::new(h))
                }
                _ => {
                    let mut h = FloatHistogram::default();
                    it.at_float_histogram(&mut h);
                    MergedValue::FloatHistogram(Box::new(h))
                }
            };
            let m = mixed.get_or_insert_with(|| {
                floats
                    .drain(..)
                    .map(|(t, v)| (t, MergedValue::Float(v)))
                    .collect()
            });
            m.push((t, v));
        }
        if let Some(e) = it.error() {
            return Err(e.clone().into());
        }
    }
    Ok(match mixed {
        Some(m) => Err(m),
        None => Ok(floats),
    })
}

/// Merges two time-sorted lists, keeping `a`'s sample where both have a
/// timestamp.
pub(super) fn merge_values(
    a: Vec<(i64, MergedValue)>,
    b: &[(i64, f64)],
) -> Vec<(i64, MergedValue)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut b = b.iter().peekable();
    for (t, v) in a {
        while let Some(&&(bt, bv)) = b.peek() {
            if bt > t {
                break;
            }
            if bt < t {
                out.push((bt, MergedValue::Float(bv)));
            }
            b.next();
        }
        out.push((t, v));
    }
    out.extend(b.map(|&(t, v)| (t, MergedValue::Float(v))));
    out
}

/// Re-encodes merged samples into chunks: runs of one kind, floats as XOR
/// chunks of at most [`MERGED_CHUNK_SAMPLES`], histograms cut where their
/// chunk appender starts a new chunk (a reset, a layout it cannot hold) or
/// at the same count.
pub(super) fn encode_values(samples: &[(i64, MergedValue)]) -> Result<Vec<SnapChunk>> {
    enum Open {
        Xor(XorAppender),
        Int(HistogramAppender),
        Float(FloatHistogramAppender),
    }
    impl Open {
        fn finish(self, min: i64, max: i64, out: &mut Vec<SnapChunk>) {
            let (encoding, bytes) = match self {
                Open::Xor(a) => (Encoding::Xor, a.into_chunk().into_inner()),
                Open::Int(a) => (Encoding::Histogram, a.into_chunk().into_inner()),
                Open::Float(a) => (Encoding::FloatHistogram, a.into_chunk().into_inner()),
            };
            out.push(SnapChunk {
                min_time: min,
                max_time: max,
                encoding,
                bytes: ChunkBytes::Heap(Arc::from(bytes)),
            });
        }
        fn samples(&self) -> usize {
            match self {
                Open::Xor(a) => a.num_samples(),
                Open::Int(a) => a.num_samples(),
                Open::Float(a) => a.num_samples(),
            }
        }
    }
    let refused = |e: aion_chunkenc::HistogramAppendError| {
        Error::Writer(format!("re-encoding merged histograms: {e}"))
    };
    let full = |_| Error::Writer("merged chunk exceeds 65535 samples".into());
    let mut out = Vec::new();
    let mut open: Option<(Open, i64, i64)> = None;
    for (t, v) in samples {
        let t = *t;
        let fits = matches!(
            (&open, v),
            (Some((Open::Xor(_), ..)), MergedValue::Float(_))
                | (Some((Open::Int(_), ..)), MergedValue::Histogram(_))
                | (Some((Open::Float(_), ..)), MergedValue::FloatHistogram(_))
        ) && open
            .as_ref()
            .is_some_and(|(o, ..)| o.samples() < MERGED_CHUNK_SAMPLES);
        if !fits {
            if let Some((o, min, max)) = open.take() {
                o.finish(min, max, &mut out);
            }
            open = Some((
                match v {
                    MergedValue::Float(_) => Open::Xor(XorAppender::new()),
                    MergedValue::Histogram(_) => Open::Int(HistogramAppender::new()),
                    MergedValue::FloatHistogram(_) => Open::Float(FloatHistogramAppender::new()),
                },
                t,
                t,
            ));
        }
        let (o, _, max) = open.as_mut().expect("opened above");
        let next = match (o, v) {
            (Open::Xor(a), MergedValue::Float(x)) => {
                a.append(t, *x).map_err(full)?;
                None
            }
            (Open::Int(a), MergedValue::Histogram(h)) => match a.append(t, h).map_err(refused)? {
                AppendOutcome::NewChunk(n) => Some(Open::Int(n)),
                _ => None,
            },
            (Open::Float(a), MergedValue::FloatHistogram(h)) => {
                match a.append(t, h).map_err(refused)? {
                    AppendOutcome::NewChunk(n) => Some(Open::Float(n)),
                    _ => None,
                }
            }
            _ => unreachable!("a chunk of the sample's kind was opened above"),
        };
        match next {
            Some(n) => {
                let (o, min, max) = open.take().expect("open");
                o.finish(min, max, &mut out);
                open = Some((n, t, t));
            }
            None => *max = t,
        }
    }
    if let Some((o, min, max)) = open {
        o.finish(min, max, &mut out);
    }
    Ok(out)
}

/// A sample iterator over merged values.
pub(super) struct MergedIterator {
    samples: Vec<(i64, MergedValue)>,
    /// Index of the current sample; `samples.len()` when done.
    pos: usize,
    started: bool,
}

impl MergedIterator {
    pub fn new(samples: Vec<(i64, MergedValue)>) -> Self {
        MergedIterator {
            samples,
            pos: 0,
            started: false,
        }
    }

    fn kind(&self) -> ValueType {
        match self.samples.get(self.pos) {
            None => ValueType::None,
            Some((_, MergedValue::Float(_))) => ValueType::Float,
            Some((_, MergedValue::Histogram(_))) => ValueType::Histogram,
            Some((_, MergedValue::FloatHistogram(_))) => ValueType::FloatHistogram,
        }
    }
}

impl SampleIterator for MergedIterator {
    fn next(&mut self) -> ValueType {
        if self.started {
            self.pos = (self.pos + 1).min(self.samples.len());
        }
        self.started = true;
        self.kind()
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.started && self.samples.get(self.pos).is_some_and(|s| s.0 >= t) {
            return self.kind();
        }
        self.started = true;
        self.pos += self.samples[self.pos..].partition_point(|s| s.0 < t);
        self.kind()
    }

    fn at(&self) -> (i64, f64) {
        match self.samples.get(self.pos) {
            Some((t, MergedValue::Float(v))) => (*t, *v),
            Some((t, _)) => (*t, f64::NAN),
            None => (i64::MIN, f64::NAN),
        }
    }

    fn at_histogram(&self, h: &mut Histogram) -> i64 {
        if let Some((_, MergedValue::Histogram(src))) = self.samples.get(self.pos) {
            h.clone_from(src);
        }
        self.at_t()
    }

    fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
        match self.samples.get(self.pos) {
            Some((_, MergedValue::FloatHistogram(src))) => fh.clone_from(src),
            Some((_, MergedValue::Histogram(src))) => *fh = src.to_float(),
            _ => {}
        }
        self.at_t()
    }

    fn at_t(&self) -> i64 {
        self.samples.get(self.pos).map_or(i64::MIN, |s| s.0)
    }

    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aion_model::histogram::Span;

    fn h(i: u64) -> MergedValue {
        MergedValue::Histogram(Box::new(Histogram {
            count: i,
            sum: i as f64,
            positive_spans: vec![Span {
                offset: 0,
                length: 1,
            }],
            positive_buckets: vec![i as i64],
            ..Histogram::default()
        }))
    }

    #[test]
    fn merges_and_reencodes_by_kind() {
        let in_order = vec![(1, h(1)), (3, h(2)), (5, h(1))];
        let ooo = [(2, 20.0), (3, 30.0), (6, 60.0)];
        let merged = merge_values(in_order, &ooo);
        let ts: Vec<i64> = merged.iter().map(|s| s.0).collect();
        assert_eq!(ts, [1, 2, 3, 5, 6]);
        assert_eq!(merged[2].1, h(2));
        let chunks = encode_values(&merged).unwrap();
        let shape: Vec<(Encoding, i64, i64)> = chunks
            .iter()
            .map(|c| (c.encoding, c.min_time, c.max_time))
            .collect();
        assert_eq!(
            shape,
            [
                (Encoding::Histogram, 1, 1),
                (Encoding::Xor, 2, 2),
                (Encoding::Histogram, 3, 3),
                // The count fell: the chunk appender starts a new chunk.
                (Encoding::Histogram, 5, 5),
                (Encoding::Xor, 6, 6),
            ]
        );
        let back = decode_in_order(&chunks, 0, 10).unwrap().unwrap_err();
        assert_eq!(back.len(), 5);
        for (a, b) in back.iter().zip(&merged) {
            assert_eq!(a.0, b.0);
            match (&a.1, &b.1) {
                (MergedValue::Histogram(x), MergedValue::Histogram(y)) => assert!(x.equals(y)),
                (x, y) => assert_eq!(x, y),
            }
        }
        let mut it = MergedIterator::new(merged);
        assert_eq!(it.seek(3), ValueType::Histogram);
        let mut got = Histogram::default();
        assert_eq!(it.at_histogram(&mut got), 3);
        assert_eq!(got.count, 2);
        assert_eq!(it.next(), ValueType::Histogram);
        assert_eq!(it.next(), ValueType::Float);
        assert_eq!(it.at(), (6, 60.0));
        assert_eq!(it.next(), ValueType::None);
        assert_eq!(it.seek(100), ValueType::None);
    }
}
