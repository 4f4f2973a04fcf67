//! Samples of any kind decoded from chunks, and encoded back into chunks:
//! what the head needs where it holds samples outside chunks (its
//! out-of-order chunks, series merged with their out-of-order data) and
//! turns them into chunks (m-mapping, chunk queries, out-of-order
//! compaction).

use std::error::Error as StdError;

use aion_chunkenc::{
    AppendOutcome, Chunk, Encoding, FloatHistogramAppender, HistogramAppender, SampleIterator,
    ValueType, Xor2Appender, XorAppender,
};
use aion_model::histogram::{FloatHistogram, Histogram};

use super::SeriesChunk;
use crate::{Error, FloatChunkEncoding, Result};

/// The value of a sample held in memory.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SampleValue {
    Float(f64),
    Histogram(Box<Histogram>),
    FloatHistogram(Box<FloatHistogram>),
}

impl SampleValue {
    /// The value type a sample iterator reports for it.
    pub fn value_type(&self) -> ValueType {
        match self {
            SampleValue::Float(_) => ValueType::Float,
            SampleValue::Histogram(_) => ValueType::Histogram,
            SampleValue::FloatHistogram(_) => ValueType::FloatHistogram,
        }
    }

    /// Estimated heap bytes beyond the value itself.
    pub fn heap_bytes(&self) -> usize {
        match self {
            SampleValue::Float(_) => 0,
            SampleValue::Histogram(h) => {
                std::mem::size_of::<Histogram>()
                    + (h.positive_spans.len() + h.negative_spans.len()) * 8
                    + (h.positive_buckets.len() + h.negative_buckets.len()) * 8
                    + h.custom_values.len() * 8
            }
            SampleValue::FloatHistogram(h) => {
                std::mem::size_of::<FloatHistogram>()
                    + (h.positive_spans.len() + h.negative_spans.len()) * 8
                    + (h.positive_buckets.len() + h.negative_buckets.len()) * 8
                    + h.custom_values.len() * 8
            }
        }
    }
}

/// Appends the samples of a chunk within `[mint, maxt]` to `out`.
pub(crate) fn decode_into(
    encoding: Encoding,
    data: &[u8],
    mint: i64,
    maxt: i64,
    out: &mut Vec<(i64, SampleValue)>,
) -> Result<()> {
    let chunk = Chunk::from_bytes(encoding, data)?;
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
            ValueType::Float => SampleValue::Float(it.at().1),
            ValueType::Histogram => {
                let mut h = Histogram::default();
                it.at_histogram(&mut h);
                SampleValue::Histogram(Box::new(h))
            }
            _ => {
                let mut h = FloatHistogram::default();
                it.at_float_histogram(&mut h);
                SampleValue::FloatHistogram(Box::new(h))
            }
        };
        out.push((t, v));
    }
    match it.error() {
        Some(e) => Err(e.clone().into()),
        None => Ok(()),
    }
}

/// The appender of a chunk being built by [`encode`].
enum Building {
    Xor(XorAppender),
    Xor2(Xor2Appender),
    Int(HistogramAppender),
    Float(FloatHistogramAppender),
}

impl Building {
    fn new(v: &SampleValue, floats: FloatChunkEncoding) -> Building {
        match (v, floats) {
            (SampleValue::Float(_), FloatChunkEncoding::Xor) => Building::Xor(XorAppender::new()),
            (SampleValue::Float(_), FloatChunkEncoding::Xor2) => {
                Building::Xor2(Xor2Appender::new())
            }
            (SampleValue::Histogram(_), _) => Building::Int(HistogramAppender::new()),
            (SampleValue::FloatHistogram(_), _) => Building::Float(FloatHistogramAppender::new()),
        }
    }

    fn takes(&self, v: &SampleValue) -> bool {
        matches!(
            (self, v),
            (Building::Xor(_) | Building::Xor2(_), SampleValue::Float(_))
                | (Building::Int(_), SampleValue::Histogram(_))
                | (Building::Float(_), SampleValue::FloatHistogram(_))
        )
    }

    fn samples(&self) -> usize {
        match self {
            Building::Xor(a) => a.num_samples(),
            Building::Xor2(a) => a.num_samples(),
            Building::Int(a) => a.num_samples(),
            Building::Float(a) => a.num_samples(),
        }
    }

    /// Appends; returns the appender of a new chunk if the chunk appender
    /// started one (a reset, a layout it cannot hold).
    fn append(&mut self, t: i64, v: &SampleValue) -> Result<Option<Building>> {
        let full = |_| Error::Writer("chunk exceeds 65535 samples".into());
        let refused = |e: aion_chunkenc::HistogramAppendError| {
            Error::Writer(format!("encoding histograms into a chunk: {e}"))
        };
        Ok(match (self, v) {
            (Building::Xor(a), SampleValue::Float(x)) => {
                a.append(t, *x).map_err(full)?;
                None
            }
            (Building::Xor2(a), SampleValue::Float(x)) => {
                a.append(0, t, *x).map_err(full)?;
                None
            }
            (Building::Int(a), SampleValue::Histogram(h)) => {
                match a.append(t, h).map_err(refused)? {
                    AppendOutcome::NewChunk(n) => Some(Building::Int(n)),
                    _ => None,
                }
            }
            (Building::Float(a), SampleValue::FloatHistogram(h)) => {
                match a.append(t, h).map_err(refused)? {
                    AppendOutcome::NewChunk(n) => Some(Building::Float(n)),
                    _ => None,
                }
            }
            _ => unreachable!("a chunk takes only samples of its kind"),
        })
    }

    fn finish(self, min_time: i64, max_time: i64) -> SeriesChunk<Vec<u8>> {
        let (encoding, data) = match self {
            Building::Xor(a) => (Encoding::Xor, a.into_chunk().into_inner()),
            Building::Xor2(a) => (Encoding::Xor2, a.into_chunk().into_inner()),
            Building::Int(a) => (Encoding::Histogram, a.into_chunk().into_inner()),
            Building::Float(a) => (Encoding::FloatHistogram, a.into_chunk().into_inner()),
        };
        SeriesChunk {
            min_time,
            max_time,
            encoding,
            data,
        }
    }
}

/// Encodes time-ordered samples into chunks, as Prometheus's
/// `OOOChunk.ToEncodedChunks`: a chunk per run of one kind (floats in
/// `floats`' encoding), histograms cut where their chunk appender starts a
/// new chunk, and every chunk at most `max_samples` long.
pub(crate) fn encode(
    samples: &[(i64, SampleValue)],
    max_samples: usize,
    floats: FloatChunkEncoding,
) -> Result<Vec<SeriesChunk<Vec<u8>>>> {
    let mut out = Vec::new();
    let mut open: Option<(Building, i64, i64)> = None;
    for (t, v) in samples {
        let t = *t;
        let fits = open
            .as_ref()
            .is_some_and(|(b, ..)| b.takes(v) && b.samples() < max_samples);
        if !fits {
            if let Some((b, min, max)) = open.take() {
                out.push(b.finish(min, max));
            }
            open = Some((Building::new(v, floats), t, t));
        }
        let (b, _, max) = open.as_mut().expect("opened above");
        match b.append(t, v)? {
            Some(next) => {
                let (b, min, max) = open.take().expect("open");
                out.push(b.finish(min, max));
                open = Some((next, t, t));
            }
            None => *max = t,
        }
    }
    if let Some((b, min, max)) = open {
        out.push(b.finish(min, max));
    }
    Ok(out)
}

/// A sample iterator over samples in memory.
pub(crate) struct ValuesIterator {
    samples: Vec<(i64, SampleValue)>,
    /// Index of the current sample; `samples.len()` when done.
    pos: usize,
    started: bool,
}

impl ValuesIterator {
    pub fn new(samples: Vec<(i64, SampleValue)>) -> Self {
        ValuesIterator {
            samples,
            pos: 0,
            started: false,
        }
    }

    fn kind(&self) -> ValueType {
        self.samples
            .get(self.pos)
            .map_or(ValueType::None, |s| s.1.value_type())
    }
}

impl SampleIterator for ValuesIterator {
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
            Some((t, SampleValue::Float(v))) => (*t, *v),
            Some((t, _)) => (*t, f64::NAN),
            None => (i64::MIN, f64::NAN),
        }
    }

    fn at_histogram(&self, h: &mut Histogram) -> i64 {
        if let Some((_, SampleValue::Histogram(src))) = self.samples.get(self.pos) {
            h.clone_from(src);
        }
        self.at_t()
    }

    fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
        match self.samples.get(self.pos) {
            Some((_, SampleValue::FloatHistogram(src))) => fh.clone_from(src),
            Some((_, SampleValue::Histogram(src))) => *fh = src.to_float(),
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

    fn h(i: u64) -> SampleValue {
        SampleValue::Histogram(Box::new(Histogram {
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
    fn encodes_by_kind_and_decodes_back() {
        let samples = vec![
            (1, h(1)),
            (2, SampleValue::Float(20.0)),
            (3, h(2)),
            (5, h(1)),
            (6, SampleValue::Float(60.0)),
            (7, SampleValue::Float(70.0)),
        ];
        let chunks = encode(&samples, 120, FloatChunkEncoding::Xor2).unwrap();
        let shape: Vec<(Encoding, i64, i64)> = chunks
            .iter()
            .map(|c| (c.encoding, c.min_time, c.max_time))
            .collect();
        assert_eq!(
            shape,
            [
                (Encoding::Histogram, 1, 1),
                (Encoding::Xor2, 2, 2),
                (Encoding::Histogram, 3, 3),
                // The count fell: the chunk appender starts a new chunk.
                (Encoding::Histogram, 5, 5),
                (Encoding::Xor2, 6, 7),
            ]
        );
        let mut back = Vec::new();
        for c in &chunks {
            decode_into(c.encoding, &c.data, 0, 6, &mut back).unwrap();
        }
        assert_eq!(back.len(), 5);
        for (a, b) in back.iter().zip(&samples) {
            assert_eq!(a.0, b.0);
            match (&a.1, &b.1) {
                (SampleValue::Histogram(x), SampleValue::Histogram(y)) => assert!(x.equals(y)),
                (x, y) => assert_eq!(x, y),
            }
        }
        // At most `max_samples` per chunk.
        let floats: Vec<_> = (0..10).map(|t| (t, SampleValue::Float(1.0))).collect();
        let chunks = encode(&floats, 4, FloatChunkEncoding::Xor).unwrap();
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| c.encoding == Encoding::Xor));
    }

    #[test]
    fn iterates_and_seeks_over_every_kind() {
        let mut it = ValuesIterator::new(vec![
            (1, SampleValue::Float(1.0)),
            (3, h(2)),
            (5, h(3)),
            (6, SampleValue::Float(60.0)),
        ]);
        assert_eq!(it.seek(3), ValueType::Histogram);
        let mut got = Histogram::default();
        assert_eq!(it.at_histogram(&mut got), 3);
        assert_eq!(got.count, 2);
        let mut f = FloatHistogram::default();
        assert_eq!(it.at_float_histogram(&mut f), 3);
        assert_eq!(f.count, 2.0);
        assert_eq!(it.next(), ValueType::Histogram);
        assert_eq!(it.next(), ValueType::Float);
        assert_eq!(it.at(), (6, 60.0));
        assert_eq!(it.next(), ValueType::None);
        assert_eq!(it.seek(100), ValueType::None);
    }
}
