//! Native histogram chunks: Aion writes the bytes Prometheus 2.42 writes.
//!
//! The 20- and 160-bucket series of `aion_chunkenc::synthetic` (integer
//! and float, 15 s apart, 4 h 10 min: new buckets appearing, one counter
//! reset) are remote-written (RW 1.0, Aion's encoder) to a Prometheus 2.42
//! with `--enable-feature=native-histograms`. Its head then spans more than
//! 1.5 × the 2 h block range, so it compacts the first 2 h into a block.
//! The test reads that block's index and chunk files with Aion's readers
//! and encodes the same histograms with Aion's appenders, cutting chunks
//! where Prometheus cut them (for time; Aion's appender decides re-encoding
//! and counter-reset cuts itself): every chunk must be byte-for-byte
//! Prometheus's, counter-reset header included. It prints bytes per
//! histogram of both for BENCHMARKS.md.
//!
//! Without Prometheus the test prints a note and passes, unless
//! `AION_REQUIRE_PROMTOOL=1` (set by `scripts/test`).

#[path = "support/native_histograms/mod.rs"]
mod native_histograms;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aion::chunkenc::synthetic::{
    float_histogram_series, histogram_series, HistogramShape, REFERENCE_SEED, REFERENCE_START_MS,
    RESTART_AT,
};
use aion::chunkenc::{
    AppendOutcome, Encoding, FloatHistogramAppender, FloatHistogramIterator, HistogramAppendError,
    HistogramAppender, HistogramIterator, SampleIterator, ValueType,
};
use aion::index::disk::IndexFileReader;
use aion::model::histogram::{FloatHistogram, Histogram};
use aion::model::Labels;
use aion::remote::send::WriteRequestBuilder;
use aion::tsdb::chunks::ChunkSegmentReader;
use native_histograms::prometheus::{prometheus_binary, Options, Prometheus};

/// 4 h 10 min of 15 s scrapes: the head spans more than 3 h, so the
/// first 2 h (minus the minute before the first sample) become a block.
const SAMPLES: usize = 1000;
/// Histograms per remote-write request.
const BATCH: usize = 100;

/// A series sent: integer or float histograms.
enum Samples {
    Int(Vec<(i64, Histogram)>),
    Float(Vec<(i64, FloatHistogram)>),
}

impl Samples {
    fn times(&self) -> Vec<i64> {
        match self {
            Samples::Int(s) => s.iter().map(|(t, _)| *t).collect(),
            Samples::Float(s) => s.iter().map(|(t, _)| *t).collect(),
        }
    }

    fn encoding(&self) -> Encoding {
        match self {
            Samples::Int(_) => Encoding::Histogram,
            Samples::Float(_) => Encoding::FloatHistogram,
        }
    }
}

fn dataset() -> Vec<(Labels, Samples)> {
    let mut out = Vec::new();
    for shape in HistogramShape::ALL {
        let labels = |kind: &str| {
            Labels::from_pairs(&[
                ("__name__", "aion_histogram_bytes"),
                ("kind", kind),
                ("shape", shape.name()),
            ])
            .unwrap()
        };
        let (start, seed) = (REFERENCE_START_MS, REFERENCE_SEED);
        out.push((
            labels("int"),
            Samples::Int(histogram_series(shape, start, SAMPLES, seed)),
        ));
        out.push((
            labels("float"),
            Samples::Float(float_histogram_series(shape, start, SAMPLES, seed)),
        ));
    }
    out
}

/// Sends every series in time order, `BATCH` histograms of each per
/// request (each request's appender accepts samples up to an hour older
/// than the head's newest, so batches must not run ahead of each other).
fn send(prom: &Prometheus, data: &[(Labels, Samples)]) {
    for from in (0..SAMPLES).step_by(BATCH) {
        let to = (from + BATCH).min(SAMPLES);
        let mut b = WriteRequestBuilder::new();
        for (labels, samples) in data {
            match samples {
                Samples::Int(s) => b.add_histograms(labels, &s[from..to]),
                Samples::Float(s) => b.add_float_histograms(labels, &s[from..to]),
            };
        }
        let (status, answer) = prom.remote_write(&b.encode()).unwrap();
        assert_eq!(
            status,
            204,
            "batch at {from}: {answer}\n{}",
            prom.log_text()
        );
    }
}

/// The one block directory in `data`, waiting for the compaction the
/// last commit triggered (Prometheus also compacts once a minute).
fn wait_for_block(prom: &Prometheus) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let blocks: Vec<PathBuf> = std::fs::read_dir(prom.data_dir())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            // Prometheus writes a block as `<ULID>.tmp-for-creation` (with
            // its meta.json) and renames it when done: only a bare ULID is
            // a finished block.
            .filter(|p| p.extension().is_none() && p.join("meta.json").exists())
            .collect();
        if let [one] = &blocks[..] {
            return one.clone();
        }
        assert!(blocks.len() <= 1, "{blocks:?}");
        assert!(
            Instant::now() < deadline,
            "no block after 180 s:\n{}",
            prom.log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Prometheus's chunks of one series: (encoding, bytes, sample times).
type TheirChunks = Vec<(Encoding, Vec<u8>, Vec<i64>)>;

fn read_block(dir: &Path) -> Vec<(Labels, TheirChunks)> {
    let index = IndexFileReader::open(dir.join("index")).unwrap();
    let chunks = ChunkSegmentReader::open(dir.join("chunks")).unwrap();
    index
        .series_iter()
        .map(|entry| {
            let entry = entry.unwrap();
            let theirs = entry
                .chunks
                .iter()
                .map(|meta| {
                    let (encoding, bytes) = chunks.chunk(meta.chunk_ref).unwrap();
                    let times = sample_times(encoding, bytes);
                    assert_eq!(
                        (times[0], *times.last().unwrap()),
                        (meta.min_time, meta.max_time)
                    );
                    (encoding, bytes.to_vec(), times)
                })
                .collect();
            (entry.labels, theirs)
        })
        .collect()
}

fn sample_times(encoding: Encoding, bytes: &[u8]) -> Vec<i64> {
    let mut it: Box<dyn SampleIterator + '_> = match encoding {
        Encoding::Histogram => Box::new(HistogramIterator::new(bytes)),
        Encoding::FloatHistogram => Box::new(FloatHistogramIterator::new(bytes)),
        other => panic!("a histogram series in a {other:?} chunk"),
    };
    let mut times = Vec::new();
    while it.next() != ValueType::None {
        times.push(it.at_t());
    }
    assert!(it.err().is_none(), "{:?}", it.err());
    times
}

/// What the test needs of both appenders.
trait Appender: Sized {
    type H;
    fn new() -> Self;
    fn append(&mut self, t: i64, h: &Self::H) -> Result<AppendOutcome<Self>, HistogramAppendError>;
    fn start_after(&self, t: i64, h: &Self::H) -> Result<Self, HistogramAppendError>;
    fn bytes(&self) -> &[u8];
}

macro_rules! appender {
    ($ty:ty, $h:ty) => {
        impl Appender for $ty {
            type H = $h;
            fn new() -> Self {
                <$ty>::new()
            }
            fn append(
                &mut self,
                t: i64,
                h: &$h,
            ) -> Result<AppendOutcome<Self>, HistogramAppendError> {
                <$ty>::append(self, t, h)
            }
            fn start_after(&self, t: i64, h: &$h) -> Result<Self, HistogramAppendError> {
                <$ty>::start_after(self, t, h)
            }
            fn bytes(&self) -> &[u8] {
                <$ty>::bytes(self)
            }
        }
    };
}
appender!(HistogramAppender, Histogram);
appender!(FloatHistogramAppender, FloatHistogram);

/// Aion's chunks of `samples` up to the last time of Prometheus's chunks,
/// starting a new chunk (as a head cutting for time does) at the first
/// time of each of Prometheus's chunks. Also counts re-encodings.
fn ours<A: Appender>(samples: &[(i64, A::H)], theirs: &TheirChunks) -> (Vec<Vec<u8>>, usize) {
    let starts: Vec<i64> = theirs.iter().map(|(_, _, times)| times[0]).collect();
    let end = *theirs.last().unwrap().2.last().unwrap();
    let mut done: Vec<A> = Vec::new();
    let mut open: Option<A> = None;
    let mut recoded = 0;
    for (t, h) in samples.iter().take_while(|(t, _)| *t <= end) {
        open = Some(match open.take() {
            None => {
                let mut app = A::new();
                let outcome = app.append(*t, h).unwrap();
                assert!(matches!(outcome, AppendOutcome::Appended));
                app
            }
            Some(app) if starts.contains(t) => {
                let next = app.start_after(*t, h).unwrap();
                done.push(app);
                next
            }
            Some(mut app) => match app.append(*t, h).unwrap() {
                AppendOutcome::Appended => app,
                AppendOutcome::Recoded => {
                    recoded += 1;
                    app
                }
                AppendOutcome::NewChunk(next) => {
                    done.push(app);
                    next
                }
            },
        });
    }
    done.extend(open);
    (done.iter().map(|a| a.bytes().to_vec()).collect(), recoded)
}

/// Whether Prometheus's bytes are ours, allowing the one difference of
/// 2.x's bit writer: an empty byte after a chunk whose last write ended
/// on a byte boundary (fixed in 3.0, which writes what Aion writes).
fn same_bytes(ours: &[u8], theirs: &[u8]) -> bool {
    ours == theirs
        || (theirs.len() == ours.len() + 1 && theirs.starts_with(ours) && theirs.ends_with(&[0]))
}

#[test]
fn prometheus_2_42_histogram_chunks_are_aions_bytes() {
    let Some(bin) = prometheus_binary() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let options = Options {
        remote_write_receiver: true,
        ..Options::default()
    };
    let prom = Prometheus::start(&bin, &tmp.path().join("data"), &options).unwrap();
    let data = dataset();
    send(&prom, &data);
    let block = wait_for_block(&prom);
    prom.stop();

    let stored = read_block(&block);
    assert_eq!(stored.len(), data.len(), "one block series per series sent");
    println!("series | histograms per chunk | histograms | Prometheus bytes | Aion bytes | bytes/histogram (Prometheus, Aion)");
    for (labels, theirs) in &stored {
        let (_, samples) = data
            .iter()
            .find(|(l, _)| l == labels)
            .unwrap_or_else(|| panic!("unexpected series {labels}"));
        // Prometheus stored every histogram sent up to the block's end.
        let their_times: Vec<i64> = theirs.iter().flat_map(|(_, _, t)| t.clone()).collect();
        let sent = samples.times();
        assert_eq!(their_times[..], sent[..their_times.len()], "{labels}");
        assert!(their_times.len() > 400, "{labels}: {}", their_times.len());
        assert!(theirs.len() >= 4, "{labels}: {} chunks", theirs.len());
        for (encoding, _, _) in theirs {
            assert_eq!(*encoding, samples.encoding(), "{labels}");
        }

        // The restart is a chunk of its own, marked as a counter reset.
        let reset_at = sent[RESTART_AT];
        let reset_chunk = theirs.iter().find(|(_, _, t)| t[0] == reset_at);
        let header = reset_chunk.map(|(_, b, _)| b[2] & 0b1100_0000);
        assert_eq!(header, Some(0b1000_0000), "{labels}: counter-reset header");

        let (mine, recoded) = match samples {
            Samples::Int(s) => ours::<HistogramAppender>(s, theirs),
            Samples::Float(s) => ours::<FloatHistogramAppender>(s, theirs),
        };
        assert!(recoded >= 1, "{labels}: the data re-encodes chunks");
        assert_eq!(mine.len(), theirs.len(), "{labels}: chunk count");
        let mut padded = 0;
        for (i, (m, (_, t, _))) in mine.iter().zip(theirs).enumerate() {
            assert!(
                same_bytes(m, t),
                "{labels} chunk {i} ({} vs {} bytes):\n ours   {:02x?}\n theirs {:02x?}",
                m.len(),
                t.len(),
                &m[..m.len().min(64)],
                &t[..t.len().min(64)]
            );
            padded += usize::from(m.len() != t.len());
        }
        let their_bytes: usize = theirs.iter().map(|(_, b, _)| b.len()).sum();
        let my_bytes: usize = mine.iter().map(Vec::len).sum();
        let n = their_times.len() as f64;
        let per_chunk: Vec<usize> = theirs.iter().map(|(_, _, t)| t.len()).collect();
        println!(
            "{labels} | {per_chunk:?} | {} | {their_bytes} | {my_bytes} | {:.2}, {:.2} | {recoded} re-encodings, {padded} chunk(s) with 2.x's trailing empty byte",
            their_times.len(),
            their_bytes as f64 / n,
            my_bytes as f64 / n
        );
    }
}
