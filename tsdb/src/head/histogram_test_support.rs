//! What the head's histogram tests share: reading a head back (samples
//! and raw chunks) in a form that compares histograms by their data, and
//! histogram series to write.

use std::collections::BTreeMap;

use aion_chunkenc::{is_stale_nan, Chunk, Encoding, STALE_NAN};
use aion_model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};
use aion_model::{Labels, MatchType, Matcher};

use crate::{Db, Options, SampleIterator, ValueType};
use aion_storage::{ChunkQuerier, ChunkQueryable, Querier, Queryable};

pub(super) const H: i64 = 3_600_000;

/// A sample as read back: float bits, or a histogram in a canonical form
/// (as a float histogram without empty buckets, the hint kept only for
/// gauges) and whether it was an integer one.
#[derive(Debug, Clone)]
pub(super) enum V {
    F(u64),
    H(FloatHistogram, bool),
}

impl PartialEq for V {
    fn eq(&self, other: &V) -> bool {
        match (self, other) {
            (V::F(a), V::F(b)) => a == b,
            (V::H(a, ai), V::H(b, bi)) => {
                ai == bi && a.equals(b) && a.counter_reset_hint == b.counter_reset_hint
            }
            _ => false,
        }
    }
}

pub(super) fn canon(mut h: FloatHistogram, int: bool) -> V {
    if is_stale_nan(h.sum) {
        // A stale marker read back has its chunk's layout: only the sum
        // says what it is.
        let stale = FloatHistogram {
            sum: STALE_NAN,
            ..FloatHistogram::default()
        };
        return V::H(stale, int);
    }
    h.compact(0);
    if h.counter_reset_hint != CounterResetHint::Gauge {
        h.counter_reset_hint = CounterResetHint::Unknown;
    }
    V::H(h, int)
}

pub(super) fn vh(h: &Histogram) -> V {
    canon(h.to_float(), true)
}

pub(super) fn vfh(h: &FloatHistogram) -> V {
    canon(h.clone(), false)
}

pub(super) type Dump = BTreeMap<String, Vec<(i64, V)>>;

pub(super) fn lbl(name: &str) -> Labels {
    Labels::from_pairs(&[("__name__", name), ("job", "test")]).unwrap()
}

pub(super) fn all() -> Vec<Matcher> {
    vec![Matcher::new(MatchType::Regex, "__name__", ".+").unwrap()]
}

/// Reads every sample of `it`.
pub(super) fn read(it: &mut dyn SampleIterator) -> Vec<(i64, V)> {
    let mut out = Vec::new();
    let (mut h, mut fh) = (Histogram::default(), FloatHistogram::default());
    loop {
        match it.next() {
            ValueType::None => break,
            ValueType::Float => {
                let (t, v) = it.at();
                out.push((t, V::F(v.to_bits())));
            }
            ValueType::Histogram => {
                let t = it.at_histogram(&mut h);
                out.push((t, vh(&h)));
            }
            ValueType::FloatHistogram => {
                let t = it.at_float_histogram(&mut fh);
                out.push((t, vfh(&fh)));
            }
        }
    }
    assert!(it.err().is_none(), "{:?}", it.err());
    out
}

pub(super) fn dump(q: &dyn Queryable, mint: i64, maxt: i64) -> Dump {
    dump_querier(&*q.querier(mint, maxt).unwrap())
}

pub(super) fn dump_querier(q: &dyn Querier) -> Dump {
    let mut set = q.select(true, None, &all());
    let mut out = Dump::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        out.insert(s.labels.to_string(), read(&mut *s.samples));
    }
    out
}

/// The chunks the chunk querier hands out, decoded, with their encoding
/// and counter-reset header.
pub(super) type ChunkDump = BTreeMap<String, Vec<(Encoding, CounterResetHint, Vec<(i64, V)>)>>;

pub(super) fn chunk_dump(q: &dyn ChunkQueryable, mint: i64, maxt: i64) -> ChunkDump {
    chunk_dump_querier(&*q.chunk_querier(mint, maxt).unwrap())
}

pub(super) fn chunk_dump_querier(q: &dyn ChunkQuerier) -> ChunkDump {
    let mut set = q.select(true, None, &all());
    let mut out = ChunkDump::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        let mut chunks = Vec::new();
        let mut prev_max = i64::MIN;
        while let Some(c) = s.chunks.next() {
            let c = c.unwrap();
            assert!(c.min_time > prev_max && c.min_time <= c.max_time);
            prev_max = c.max_time;
            let chunk = Chunk::from_bytes(c.encoding, c.data).unwrap();
            let header = match &chunk {
                Chunk::Histogram(h) => h.counter_reset_header(),
                Chunk::FloatHistogram(h) => h.counter_reset_header(),
                _ => CounterResetHint::Unknown,
            };
            let samples = read(&mut chunk.iter());
            assert!(samples
                .iter()
                .all(|(t, _)| *t >= c.min_time && *t <= c.max_time));
            chunks.push((c.encoding, header, samples));
        }
        out.insert(s.labels.to_string(), chunks);
    }
    out
}

/// Samples of a chunk dump, flattened (to compare with a sample dump).
pub(super) fn flatten(c: &ChunkDump) -> Dump {
    c.iter()
        .map(|(k, chunks)| {
            (
                k.clone(),
                chunks.iter().flat_map(|c| c.2.iter().cloned()).collect(),
            )
        })
        .collect()
}

/// A counter histogram series whose buckets grow by pseudo-random
/// amounts; every `reset_every`-th histogram starts the counts over.
pub(super) fn counter_series(
    n: usize,
    buckets: usize,
    seed: u64,
    reset_every: usize,
) -> Vec<Histogram> {
    let mut counts = vec![0i64; buckets];
    let mut x = seed | 1;
    (0..n)
        .map(|i| {
            if reset_every > 0 && i > 0 && i % reset_every == 0 {
                counts.iter_mut().for_each(|c| *c = 0);
            }
            for c in counts.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *c += (x % 20) as i64;
            }
            let total: i64 = counts.iter().sum();
            Histogram {
                count: total as u64,
                sum: total as f64 * 0.125,
                schema: 2,
                zero_threshold: 1e-128,
                positive_spans: vec![Span {
                    offset: -3,
                    length: buckets as u32,
                }],
                positive_buckets: deltas(&counts),
                ..Histogram::default()
            }
        })
        .collect()
}

/// Absolute bucket counts as a histogram's deltas.
pub(super) fn deltas(counts: &[i64]) -> Vec<i64> {
    let mut prev = 0;
    counts
        .iter()
        .map(|&c| {
            let d = c - prev;
            prev = c;
            d
        })
        .collect()
}

/// A one-bucket histogram of `count` observations.
pub(super) fn simple(count: u64) -> Histogram {
    Histogram {
        count,
        sum: count as f64,
        positive_spans: vec![Span {
            offset: 0,
            length: 1,
        }],
        positive_buckets: vec![count as i64],
        ..Histogram::default()
    }
}

pub(super) fn gauge(v: f64) -> FloatHistogram {
    FloatHistogram {
        counter_reset_hint: CounterResetHint::Gauge,
        count: v + 1.0,
        sum: v,
        zero_count: 1.0,
        zero_threshold: 0.001,
        positive_spans: vec![Span {
            offset: 1,
            length: 2,
        }],
        positive_buckets: vec![v * 0.5, v * 0.5],
        ..FloatHistogram::default()
    }
}

/// Writes a mixed workload: an integer counter histogram series with
/// resets, a float gauge histogram series, a series switching between
/// floats and histograms (also within one batch), a custom-bucket series
/// and a float series. Returns what was committed.
pub(super) fn fill_mixed(db: &Db, scrapes: usize) -> Dump {
    let mut expect = Dump::new();
    let counters = counter_series(scrapes, 12, 7, 150);
    let mut app = db.appender();
    let (a, b, c, d, e) = (lbl("a"), lbl("b"), lbl("c"), lbl("d"), lbl("e"));
    for (i, counter) in counters.iter().enumerate().take(scrapes) {
        let t = i as i64 * 15_000;
        app.append_histogram(&a, t, counter).unwrap();
        expect
            .entry(a.to_string())
            .or_default()
            .push((t, vh(counter)));
        let g = gauge((i % 17) as f64);
        app.append_float_histogram(&b, t, &g).unwrap();
        expect.entry(b.to_string()).or_default().push((t, vfh(&g)));
        // Series c: floats for a while, then a histogram, then floats
        // again; at i = 10 both kinds in the same batch.
        if (i / 40) % 2 == 0 && i != 10 {
            app.append(&c, t, i as f64).unwrap();
            expect
                .entry(c.to_string())
                .or_default()
                .push((t, V::F((i as f64).to_bits())));
        } else {
            let h = simple(i as u64);
            app.append_histogram(&c, t, &h).unwrap();
            expect.entry(c.to_string()).or_default().push((t, vh(&h)));
            if i == 10 {
                app.append(&c, t + 1, 0.5).unwrap();
                expect
                    .entry(c.to_string())
                    .or_default()
                    .push((t + 1, V::F(0.5f64.to_bits())));
            }
        }
        let nhcb = Histogram {
            schema: -53,
            count: i as u64 * 3,
            sum: i as f64,
            positive_spans: vec![Span {
                offset: 0,
                length: 3,
            }],
            positive_buckets: vec![i as i64, 0, 0],
            custom_values: vec![0.1, 1.0],
            ..Histogram::default()
        };
        app.append_histogram(&d, t, &nhcb).unwrap();
        expect
            .entry(d.to_string())
            .or_default()
            .push((t, vh(&nhcb)));
        app.append(&e, t, i as f64 * 2.0).unwrap();
        expect
            .entry(e.to_string())
            .or_default()
            .push((t, V::F((i as f64 * 2.0).to_bits())));
        if i % 3 == 2 {
            app.commit().unwrap();
        }
    }
    app.commit().unwrap();
    expect
}

pub(super) fn opts() -> Options {
    Options {
        background_compaction: false,
        // A killed Db (forgotten) keeps its lock in this process.
        no_lockfile: true,
        wal_segment_size: 64 * 1024,
        ..Options::default()
    }
}
