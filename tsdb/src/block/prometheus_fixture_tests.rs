//! A block Prometheus 2.42 wrote with native histograms
//! (`tsdb/testdata/prometheus-2.42-histogram-block/`, made by
//! `tests/block_histogram_interop.rs`, see its README): Aion reads what
//! Prometheus's HTTP API answered for it, re-encodes its chunks to
//! Prometheus's bytes, and compacts it into a block with the same chunks
//! and 3.x's stats.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aion_chunkenc::{
    is_stale_nan, AppendOutcome, Chunk, ChunkIter, Encoding, FloatHistogramAppender,
    HistogramAppendError, HistogramAppender, SampleIterator, ValueType, XorAppender,
};
use aion_model::histogram::{FloatHistogram, Histogram};
use aion_model::Labels;
use aion_storage::Queryable;
use serde_json::Value as Json;

use super::*;
use crate::chunks::reencode_without;
use crate::compact::compact_blocks;

const FIXTURE: &str = "testdata/prometheus-2.42-histogram-block";
const ULID: &str = "01M8TSHVGZCM719F39MSMYNP13";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)
}

/// A copy of the block in a fresh directory (opening and compacting write
/// next to it).
fn open_copy(dir: &Path) -> Block {
    let src = fixture().join(ULID);
    let dst = dir.join(ULID);
    std::fs::create_dir_all(dst.join(CHUNKS_DIRNAME)).unwrap();
    for f in ["meta.json", "index", "tombstones", "chunks/000001"] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
    Block::open(dst).unwrap()
}

/// Prometheus's answer (an excerpt: every sample's count, some samples'
/// values) per series name.
fn answer() -> BTreeMap<String, Json> {
    let text = std::fs::read_to_string(fixture().join("answer-excerpt.json")).unwrap();
    let a: Json = serde_json::from_str(&text).unwrap();
    a["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["metric"]["__name__"].as_str().unwrap().to_string(),
                s.clone(),
            )
        })
        .collect()
}

fn num(v: &Json) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

/// Whether Aion's histogram is the API's JSON histogram: count, sum and
/// the populated buckets (boundary rule, bounds within 1e-12 — Aion's
/// exponential bounds are correctly rounded, Prometheus's table can be an
/// ulp low — and count).
fn same_as_api(h: &FloatHistogram, api: &Json) -> bool {
    let close = |a: f64, b: f64| a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
    let buckets: Vec<_> = h.all_buckets().filter(|b| b.count != 0.0).collect();
    let want = api["buckets"].as_array().cloned().unwrap_or_default();
    h.count == num(&api["count"])
        && h.sum == num(&api["sum"])
        && buckets.len() == want.len()
        && buckets.iter().zip(&want).all(|(b, w)| {
            let rule = match (b.lower_inclusive, b.upper_inclusive) {
                (false, true) => 0,
                (true, false) => 1,
                (false, false) => 2,
                (true, true) => 3,
            };
            w[0].as_i64() == Some(rule)
                && close(b.lower, num(&w[1]))
                && close(b.upper, num(&w[2]))
                && b.count == num(&w[3])
        })
}

#[test]
fn reads_what_prometheus_answered() {
    let dir = tempfile::tempdir().unwrap();
    let block = open_copy(dir.path());
    let answer = answer();
    let q = block.querier(i64::MIN, i64::MAX).unwrap();
    let mut set = q.select(true, None, &[]);
    let mut seen = 0;
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        let name = s.labels.get("__name__").unwrap().to_string();
        let want = &answer[&name];
        let floats = want["values"].as_array().cloned().unwrap_or_default();
        let hists = want["histograms"].as_array().cloned().unwrap_or_default();
        let wanted = |points: &[Json], t: i64| {
            points
                .iter()
                .find(|p| (p[0].as_f64().unwrap() * 1000.0).round() as i64 == t)
                .cloned()
        };
        let (mut n_floats, mut n_hists, mut checked, mut stale) = (0, 0, 0, 0);
        let mut fh = FloatHistogram::default();
        loop {
            match s.samples.next() {
                ValueType::None => break,
                ValueType::Float => {
                    n_floats += 1;
                    let (t, v) = s.samples.at();
                    if let Some(p) = wanted(&floats, t) {
                        assert_eq!(v, num(&p[1]), "{name} at {t}");
                        checked += 1;
                    }
                }
                vt => {
                    let t = s.samples.at_float_histogram(&mut fh);
                    if is_stale_nan(fh.sum) {
                        // Stored, but no sample to a query.
                        stale += 1;
                        continue;
                    }
                    n_hists += 1;
                    if vt == ValueType::Histogram {
                        // The integer form reads to the same values.
                        let mut h = Histogram::default();
                        s.samples.at_histogram(&mut h);
                        assert_eq!(h.to_float().count, fh.count);
                    }
                    if let Some(p) = wanted(&hists, t) {
                        assert!(same_as_api(&fh, &p[1]), "{name} at {t}: {fh} vs {}", p[1]);
                        checked += 1;
                    }
                }
            }
        }
        assert!(s.samples.err().is_none());
        assert_eq!(
            n_floats,
            want["values_total"].as_u64().unwrap_or(0),
            "{name}"
        );
        assert_eq!(
            n_hists,
            want["histograms_total"].as_u64().unwrap_or(0),
            "{name}"
        );
        assert_eq!(checked, floats.len() + hists.len(), "{name}");
        assert_eq!(stale, usize::from(name == "h_exp"), "{name}");
        seen += 1;
    }
    assert_eq!(seen, answer.len());
}

/// Appending a chunk's samples afresh, the counter-reset header taken as
/// a follower of the previous chunk would get it.
trait Reappend: Sized + Clone {
    type Sample: Default + Clone;
    fn read(it: &ChunkIter<'_>, s: &mut Self::Sample) -> i64;
    fn new() -> Self;
    fn append(
        &mut self,
        t: i64,
        s: &Self::Sample,
    ) -> Result<AppendOutcome<Self>, HistogramAppendError>;
    fn start_after(&self, t: i64, s: &Self::Sample) -> Result<Self, HistogramAppendError>;
    fn bytes(&self) -> &[u8];
}

impl Reappend for HistogramAppender {
    type Sample = Histogram;
    fn read(it: &ChunkIter<'_>, s: &mut Histogram) -> i64 {
        it.at_histogram(s)
    }
    fn new() -> Self {
        HistogramAppender::new()
    }
    fn append(
        &mut self,
        t: i64,
        s: &Histogram,
    ) -> Result<AppendOutcome<Self>, HistogramAppendError> {
        HistogramAppender::append(self, t, s)
    }
    fn start_after(&self, t: i64, s: &Histogram) -> Result<Self, HistogramAppendError> {
        HistogramAppender::start_after(self, t, s)
    }
    fn bytes(&self) -> &[u8] {
        HistogramAppender::bytes(self)
    }
}

impl Reappend for FloatHistogramAppender {
    type Sample = FloatHistogram;
    fn read(it: &ChunkIter<'_>, s: &mut FloatHistogram) -> i64 {
        it.at_float_histogram(s)
    }
    fn new() -> Self {
        FloatHistogramAppender::new()
    }
    fn append(
        &mut self,
        t: i64,
        s: &FloatHistogram,
    ) -> Result<AppendOutcome<Self>, HistogramAppendError> {
        FloatHistogramAppender::append(self, t, s)
    }
    fn start_after(&self, t: i64, s: &FloatHistogram) -> Result<Self, HistogramAppendError> {
        FloatHistogramAppender::start_after(self, t, s)
    }
    fn bytes(&self) -> &[u8] {
        FloatHistogramAppender::bytes(self)
    }
}

/// Re-appends a series' histogram chunks where Prometheus cut them: a cut
/// Aion's appender makes itself (reset, layout) or, where Prometheus cut
/// for size, `start_after`. Returns the chunks' bytes.
fn reappend<A: Reappend>(chunks: &[(Encoding, Vec<u8>)]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut app: Option<A> = None;
    let mut sample = A::Sample::default();
    for (encoding, data) in chunks {
        let mut it = ChunkIter::new(*encoding, data).unwrap();
        let mut first = true;
        while it.next() != ValueType::None {
            let t = A::read(&it, &mut sample);
            app = Some(match app.take() {
                None => {
                    let mut a = A::new();
                    a.append(t, &sample).unwrap();
                    a
                }
                Some(a) if first => {
                    out.push(a.bytes().to_vec());
                    match a.clone().append(t, &sample).unwrap() {
                        AppendOutcome::NewChunk(next) => next,
                        // Prometheus cut for size where Aion's appender
                        // would go on: start the follower.
                        _ => a.start_after(t, &sample).unwrap(),
                    }
                }
                Some(mut a) => {
                    let outcome = a.append(t, &sample).unwrap();
                    assert!(matches!(outcome, AppendOutcome::Appended));
                    a
                }
            });
            first = false;
        }
        assert!(it.error().is_none());
    }
    out.extend(app.map(|a| a.bytes().to_vec()));
    out
}

#[test]
fn chunks_re_encode_to_prometheus_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let block = open_copy(dir.path());
    let mut set = block.chunk_series(&[], i64::MIN, i64::MAX);
    let mut kinds = BTreeMap::new();
    while let Some(s) = set.next_series() {
        let s = s.unwrap();
        let name = s.labels.get("__name__").unwrap().to_string();
        let chunks: Vec<(Encoding, Vec<u8>)> = s
            .chunks
            .iter()
            .map(|c| (c.encoding, c.data.to_vec()))
            .collect();
        // Runs of chunks of one encoding (a series may change kind).
        let mut again = Vec::new();
        for run in chunks.chunk_by(|a, b| a.0 == b.0) {
            again.extend(match run[0].0 {
                Encoding::Xor => run
                    .iter()
                    .map(|(_, data)| {
                        let chunk = Chunk::from_bytes(Encoding::Xor, &data[..]).unwrap();
                        let mut it = chunk.iter();
                        let mut app = XorAppender::new();
                        while it.next() == ValueType::Float {
                            let (t, v) = it.at();
                            app.append(t, v).unwrap();
                        }
                        app.bytes().to_vec()
                    })
                    .collect(),
                Encoding::Histogram => reappend::<HistogramAppender>(run),
                Encoding::FloatHistogram => reappend::<FloatHistogramAppender>(run),
                other => panic!("{name}: unexpected {other}"),
            });
        }
        let theirs: Vec<&[u8]> = chunks.iter().map(|(_, d)| &d[..]).collect();
        let ours: Vec<&[u8]> = again.iter().map(|d| &d[..]).collect();
        assert_eq!(ours, theirs, "{name}: chunk bytes");
        // Re-encoding a whole chunk (as a deletion elsewhere in it would)
        // keeps its bytes but for the header of a counter chunk, which
        // then says "unknown"; a gauge chunk stays one.
        for (i, (encoding, data)) in chunks.iter().enumerate() {
            let encoding = *encoding;
            let c = reencode_without(encoding, data, i64::MIN, i64::MAX, None)
                .unwrap()
                .unwrap();
            if encoding == Encoding::Xor {
                assert_eq!(&c.data[..], &data[..], "{name} chunk {i}");
            } else {
                assert_eq!(c.data[..2], data[..2], "{name} chunk {i}");
                assert_eq!(c.data[3..], data[3..], "{name} chunk {i}");
                let gauge = data[2] & 0xc0 == 0xc0;
                let header = if gauge { 0xc0 } else { 0 };
                assert_eq!(c.data[2] & 0xc0, header, "{name} chunk {i}");
            }
        }
        let headers: Vec<(Encoding, u8)> = chunks
            .iter()
            .map(|(e, d)| (*e, if e.is_float() { 0 } else { d[2] >> 6 }))
            .collect();
        kinds.insert(name, headers);
    }
    // What the block holds (encoding and counter-reset header bits per
    // chunk: 0 unknown, 1 not a reset, 2 reset, 3 gauge): 2.42 cuts a
    // chunk at 120 samples, on a reset, after a stale marker and where a
    // series turns from floats into histograms.
    use Encoding::{FloatHistogram as Fh, Histogram as Hi, Xor};
    assert_eq!(kinds["f_counter"], [(Xor, 0); 4]);
    assert_eq!(kinds["fh_counter"], [(Fh, 0), (Fh, 1), (Fh, 1), (Fh, 1)]);
    assert_eq!(
        kinds["h_exp"],
        [(Hi, 0), (Hi, 1), (Hi, 1), (Hi, 1), (Hi, 2), (Hi, 0)]
    );
    assert_eq!(kinds["h_gauge"], [(Hi, 3); 4]);
    assert_eq!(
        kinds["mixed"],
        [(Xor, 0), (Xor, 0), (Xor, 0), (Xor, 0), (Hi, 0)]
    );
}

#[test]
fn compacts_to_the_same_chunks_with_3x_stats() {
    let dir = tempfile::tempdir().unwrap();
    let block = open_copy(dir.path());
    let meta = block.meta();
    // 2.42 writes only numSamples.
    assert_eq!(meta.stats.num_samples, 2880);
    assert_eq!(meta.stats.num_float_samples, 0);
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = compact_blocks(&out_dir, &[&block], BlockWriterOptions::default())
        .unwrap()
        .unwrap();
    assert_eq!(out.stats.num_samples, 2880);
    // f_counter, and `mixed` before it turns into histograms.
    assert_eq!(out.stats.num_float_samples, 480 + 420);
    assert_eq!(out.stats.num_histogram_samples, 2880 - 900);
    assert_eq!(out.stats.num_chunks, meta.stats.num_chunks);
    let compacted = Block::open(out_dir.join(out.ulid.to_string())).unwrap();
    let chunks = |b: &Block| -> Vec<(Labels, Vec<Vec<u8>>)> {
        let mut set = b.chunk_series(&[], i64::MIN, i64::MAX);
        let mut v = Vec::new();
        while let Some(s) = set.next_series() {
            let s = s.unwrap();
            v.push((s.labels, s.chunks.iter().map(|c| c.data.to_vec()).collect()));
        }
        v
    };
    assert_eq!(chunks(&compacted), chunks(&block));
}
