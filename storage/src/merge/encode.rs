//! Samples back into chunks, cut as Prometheus's `seriesToChunkEncoder`
//! cuts them: what overlapping chunks become once their samples are
//! merged.

use aion_chunkenc::{AppendOutcome, ChunkAppender, Encoding, SampleIterator, ValueType};
use aion_model::histogram::{FloatHistogram, Histogram};

use crate::{Error, ErrorKind, Result, SeriesChunk};

/// Samples per chunk when samples are encoded into chunks again
/// (Prometheus's `seriesToChunkEncoderSplit`).
pub const MERGED_CHUNK_SAMPLES: usize = 120;

/// Encodes the samples of `samples` into chunks as Prometheus's
/// `seriesToChunkEncoder` does:
///
/// * a new chunk whenever the kind of sample changes (float, integer
///   histogram, float histogram) and every [`MERGED_CHUNK_SAMPLES`]
///   samples;
/// * floats in `float_encoding` (XOR, or XOR2 as Prometheus's
///   `chunk_encoding.floats: xor2`), and always in XOR2 from a sample
///   carrying a start timestamp on (XOR has no place for one);
/// * histograms through the histogram appenders, so a counter reset or an
///   incompatible bucket layout starts a new chunk with the counter-reset
///   header Prometheus gives it, and new buckets re-encode the chunk.
///
/// Chunks come out in time order with their first and last timestamps.
/// A read error of `samples` or a histogram the appenders refuse is an
/// error ([`ErrorKind::Corruption`]: the samples came from stored chunks).
///
/// ```
/// use aion_chunkenc::{Encoding, SampleIterator, ValueType};
/// use aion_storage::merge::encode_series;
/// use aion_storage::SliceIterator;
///
/// let samples: Vec<(i64, f64)> = (0..250).map(|i| (i * 15_000, i as f64)).collect();
/// let chunks = encode_series(&mut SliceIterator::new(&samples), Encoding::Xor).unwrap();
/// let counts: Vec<u64> = chunks.iter().map(|c| c.num_samples()).collect();
/// assert_eq!(counts, [120, 120, 10]);
/// assert_eq!((chunks[1].min_time, chunks[1].max_time), (120 * 15_000, 239 * 15_000));
/// ```
pub fn encode_series(
    samples: &mut dyn SampleIterator,
    float_encoding: Encoding,
) -> Result<Vec<SeriesChunk>> {
    let mut out = Vec::new();
    let mut open: Option<Open> = None;
    let mut last_type = ValueType::None;
    let mut h = Histogram::default();
    let mut fh = FloatHistogram::default();
    loop {
        let vt = samples.next();
        let desired = match vt {
            ValueType::None => break,
            ValueType::Float if samples.at_st() != 0 || float_encoding == Encoding::Xor2 => {
                Encoding::Xor2
            }
            ValueType::Float => Encoding::Xor,
            ValueType::Histogram => Encoding::Histogram,
            ValueType::FloatHistogram => Encoding::FloatHistogram,
        };
        let cut = match &open {
            None => true,
            Some(o) if vt != last_type || o.samples >= MERGED_CHUNK_SAMPLES => true,
            // XOR and XOR2 take each other's samples, except that a start
            // timestamp needs XOR2.
            Some(o) => {
                o.app.encoding() == Encoding::Xor
                    && desired == Encoding::Xor2
                    && samples.at_st() != 0
            }
        };
        if cut {
            out.extend(open.take().map(Open::finish));
            let app = ChunkAppender::new(desired).map_err(corrupt)?;
            open = Some(Open::new(app));
        }
        last_type = vt;
        let o = open.as_mut().expect("a chunk is open");
        let (t, outcome) = match vt {
            ValueType::Float => {
                let (t, v) = samples.at();
                o.app.append_float(samples.at_st(), t, v).map_err(corrupt)?;
                (t, AppendOutcome::Appended)
            }
            ValueType::Histogram => {
                let t = samples.at_histogram(&mut h);
                (t, o.app.append_histogram(t, &h).map_err(corrupt)?)
            }
            _ => {
                let t = samples.at_float_histogram(&mut fh);
                (t, o.app.append_float_histogram(t, &fh).map_err(corrupt)?)
            }
        };
        if let AppendOutcome::NewChunk(next) = outcome {
            let done = std::mem::replace(o, Open::new(next));
            out.push(done.finish());
        }
        o.add(t);
    }
    if let Some(e) = samples.err() {
        return Err(Error::msg(
            ErrorKind::Corruption,
            format!("reading samples to re-encode: {e}"),
        ));
    }
    out.extend(open.map(Open::finish));
    Ok(out)
}

fn corrupt(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(ErrorKind::Corruption, e)
}

/// The chunk being filled.
struct Open {
    app: ChunkAppender,
    min_time: i64,
    max_time: i64,
    samples: usize,
}

impl Open {
    fn new(app: ChunkAppender) -> Self {
        Open {
            app,
            min_time: i64::MAX,
            max_time: i64::MIN,
            samples: 0,
        }
    }

    /// Accounts for the sample at `t` just appended.
    fn add(&mut self, t: i64) {
        self.min_time = self.min_time.min(t);
        self.max_time = t;
        self.samples += 1;
    }

    fn finish(self) -> SeriesChunk {
        SeriesChunk {
            min_time: self.min_time,
            max_time: self.max_time,
            encoding: self.app.encoding(),
            data: self.app.into_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use aion_chunkenc::Chunk;
    use aion_model::histogram::{CounterResetHint, Span};
    use aion_model::Labels;

    use super::*;
    use crate::{MemStorage, Queryable, SampleValue};

    /// `(st, t, value)` samples of one series.
    type Samples = Vec<(i64, i64, SampleValue)>;

    /// The samples through a `MemStorage` iterator, encoded.
    fn encode(samples: &Samples, float_encoding: Encoding) -> Vec<SeriesChunk> {
        let store = MemStorage::new();
        let l = Labels::from_pairs(&[("a", "b")]).unwrap();
        store
            .append_values(
                samples
                    .iter()
                    .map(|(st, t, v)| (l.clone(), *st, *t, v.clone())),
            )
            .unwrap();
        let q = store.querier(i64::MIN, i64::MAX).unwrap();
        let mut set = q.select(false, None, &[]);
        let mut s = set.next().unwrap().unwrap();
        encode_series(&mut s.samples, float_encoding).unwrap()
    }

    /// What the chunks hold, hints left out (a reader derives them).
    fn decode(chunks: &[SeriesChunk]) -> Samples {
        let mut out = Samples::new();
        for c in chunks {
            let chunk = Chunk::from_bytes(c.encoding, &c.data[..]).unwrap();
            let mut it = chunk.iter();
            let mut first = None;
            loop {
                let vt = it.next();
                let v = match vt {
                    ValueType::None => break,
                    ValueType::Float => SampleValue::Float(it.at().1),
                    ValueType::Histogram => {
                        let mut h = Histogram::default();
                        it.at_histogram(&mut h);
                        h.counter_reset_hint = CounterResetHint::Unknown;
                        SampleValue::Histogram(Arc::new(h))
                    }
                    ValueType::FloatHistogram => {
                        let mut h = FloatHistogram::default();
                        it.at_float_histogram(&mut h);
                        h.counter_reset_hint = CounterResetHint::Unknown;
                        SampleValue::FloatHistogram(Arc::new(h))
                    }
                };
                first.get_or_insert(it.at_t());
                assert!(it.at_t() <= c.max_time);
                out.push((it.at_st(), it.at_t(), v));
            }
            assert!(it.err().is_none());
            assert_eq!(first, Some(c.min_time));
        }
        out
    }

    /// Equality, reporting the first difference only.
    fn assert_same(got: &Samples, want: &Samples) {
        if let Some(i) = (0..got.len().min(want.len())).find(|&i| got[i] != want[i]) {
            panic!("sample {i}: got {:?}, want {:?}", got[i], want[i]);
        }
        assert_eq!(got.len(), want.len());
    }

    fn h(count: u64, buckets: u32) -> SampleValue {
        let per = count / u64::from(buckets);
        let mut deltas = vec![per as i64];
        deltas.extend((1..buckets).map(|_| 0));
        *deltas.last_mut().unwrap() += (count - per * u64::from(buckets)) as i64;
        SampleValue::Histogram(Arc::new(Histogram {
            count,
            sum: count as f64 / 2.0,
            schema: 2,
            positive_spans: vec![Span {
                offset: 1,
                length: buckets,
            }],
            positive_buckets: deltas,
            ..Histogram::default()
        }))
    }

    fn fh(count: f64) -> SampleValue {
        SampleValue::FloatHistogram(Arc::new(FloatHistogram {
            count,
            sum: 1.0,
            zero_count: count,
            ..FloatHistogram::default()
        }))
    }

    fn f(v: f64) -> SampleValue {
        SampleValue::Float(v)
    }

    fn shape(chunks: &[SeriesChunk]) -> Vec<(Encoding, u64)> {
        chunks
            .iter()
            .map(|c| (c.encoding, c.num_samples()))
            .collect()
    }

    fn header(c: &SeriesChunk) -> u8 {
        c.data[2] & 0xc0
    }

    #[test]
    fn a_change_of_kind_cuts_the_chunk() {
        let samples: Samples = vec![
            (0, 1, f(1.0)),
            (0, 2, f(2.0)),
            (0, 3, h(4, 2)),
            (0, 4, h(6, 2)),
            (0, 5, fh(1.0)),
            (0, 6, f(3.0)),
        ];
        let chunks = encode(&samples, Encoding::Xor);
        assert_eq!(
            shape(&chunks),
            [
                (Encoding::Xor, 2),
                (Encoding::Histogram, 2),
                (Encoding::FloatHistogram, 1),
                (Encoding::Xor, 1)
            ]
        );
        assert_same(&decode(&chunks), &samples);
    }

    #[test]
    fn histograms_are_cut_by_the_appender_and_at_120() {
        // A reset at 3, new buckets at 4 (re-encoded in place), then
        // enough samples to need a split at 120.
        let mut samples: Samples = vec![(0, 1, h(10, 2)), (0, 2, h(12, 2)), (0, 3, h(3, 2))];
        samples.extend((4..130).map(|t| (0, t, h(3 * t as u64, 3))));
        let chunks = encode(&samples, Encoding::Xor);
        assert_eq!(
            shape(&chunks),
            [
                (Encoding::Histogram, 2),
                (Encoding::Histogram, 120),
                (Encoding::Histogram, 7)
            ]
        );
        assert_eq!(header(&chunks[0]), 0);
        assert_eq!(header(&chunks[1]), 0x80, "the reset's chunk says so");
        assert_eq!(header(&chunks[2]), 0, "a split is not a reset");
        let mut want = samples.clone();
        // Re-encoding to three buckets pads the first two-bucket samples
        // of that chunk (here only the reset one) with an empty bucket.
        if let SampleValue::Histogram(h) = &mut want[2].2 {
            let h = Arc::make_mut(h);
            h.positive_spans[0].length = 3;
            let last: i64 = h.positive_buckets.iter().sum();
            h.positive_buckets.push(-last);
        }
        assert_same(&decode(&chunks), &want);
    }

    #[test]
    fn gauge_histograms_keep_their_header() {
        let gauge = |count: u64| {
            let SampleValue::Histogram(x) = h(count, 1) else {
                unreachable!()
            };
            SampleValue::Histogram(Arc::new(Histogram {
                counter_reset_hint: CounterResetHint::Gauge,
                ..(*x).clone()
            }))
        };
        let samples: Samples = vec![(0, 1, gauge(5)), (0, 2, gauge(1)), (0, 3, gauge(7))];
        let chunks = encode(&samples, Encoding::Xor);
        assert_eq!(shape(&chunks), [(Encoding::Histogram, 3)]);
        assert_eq!(header(&chunks[0]), 0xc0);
    }

    #[test]
    fn start_timestamps_need_xor2() {
        let samples: Samples = vec![
            (0, 1, f(1.0)),
            (7, 2, f(2.0)),
            (0, 3, f(3.0)),
            (7, 4, f(4.0)),
        ];
        let chunks = encode(&samples, Encoding::Xor);
        assert_eq!(shape(&chunks), [(Encoding::Xor, 1), (Encoding::Xor2, 3)]);
        assert_same(&decode(&chunks), &samples);
        let chunks = encode(&samples[..1].to_vec(), Encoding::Xor2);
        assert_eq!(shape(&chunks), [(Encoding::Xor2, 1)]);
    }
}
