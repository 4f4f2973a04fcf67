//! Backfill: building blocks directly from samples, what
//! `promtool tsdb create-blocks-from` does.
//!
//! [`Backfiller`] takes samples in any order, for any number of series,
//! with bounded memory: samples are buffered up to a limit, then sorted
//! and spilled to run files that are merged at the end. Blocks come out
//! as Prometheus's `promtool` makes them:
//!
//! * one block per aligned window of the block duration (2 h by default)
//!   that has samples, spanning its first sample to its last sample + 1 ms;
//! * chunks cut as Prometheus's head cuts them with a chunk range of twice
//!   the block duration (promtool's block writer doubles it);
//! * the symbol table holds the block's label names and values plus the
//!   empty string, like every block Prometheus cuts from a head.
//!
//! Where `promtool` is stricter or lossier, Aion is more useful and says
//! so: out-of-order samples are sorted (promtool drops or refuses them),
//! identical duplicates are dropped, and a duplicate timestamp with a
//! different value is an error naming the series.
//!
//! Native histograms ([`Backfiller::add_histogram`],
//! [`Backfiller::add_float_histogram`]; OpenMetrics text has none, but
//! recording rules over histograms produce them) are spilled with their
//! encoding and cut into chunks as Prometheus 3's head cuts them (about
//! 1 KiB, at least 10 samples, a new chunk on a counter reset or an
//! incompatible layout); a series may change between floats and
//! histograms.
//!
//! [`import_openmetrics`] drives it from OpenMetrics text, for
//! `aion import openmetrics`.

mod chunker;
mod openmetrics;
mod spill;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use aion_model::Labels;
use ulid::Ulid;

pub use openmetrics::{import_openmetrics, ImportProgress};

use crate::block::{BlockMeta, BlockWriter, BlockWriterOptions};
use crate::{Error, Result, DEFAULT_BLOCK_RANGE_MS};
use aion_model::histogram::{FloatHistogram, Histogram};
use aion_wal::record::{
    decode_float_histogram_samples, decode_histogram_samples, encode_float_histogram_samples,
    encode_histogram_samples, RefFloatHistogramSample, RefHistogramSample,
};
use chunker::{ChunkPolicy, HistogramSample, SeriesChunker};
use spill::{Item, Kind, Record, RunMerger, RunWriter};

/// How a [`Backfiller`] builds blocks.
#[derive(Debug, Clone)]
pub struct BackfillOptions {
    /// Length of the aligned windows blocks are cut at (ms). Like
    /// `promtool --max-block-duration`, rounded down to one of
    /// Prometheus's block ranges (2 h · 3ⁿ) by [`BackfillOptions::block_duration_for`].
    pub block_duration_ms: i64,
    /// Target samples per chunk (Prometheus: 120).
    pub samples_per_chunk: usize,
    /// Cut XOR chunks above 1005 bytes, as Prometheus ≥ 2.47 does. Off
    /// reproduces Prometheus 2.42's `promtool` exactly.
    pub cut_large_chunks: bool,
    /// Samples kept in memory before a sorted run is spilled to disk
    /// (about 20 bytes each, plus the sort's scratch space).
    pub max_buffered_samples: usize,
    /// Where spilled runs go; by default a `<ULID>.tmp` directory inside
    /// the output directory, removed when done.
    pub spill_dir: Option<PathBuf>,
    /// Files of the blocks.
    pub writer: BlockWriterOptions,
}

impl Default for BackfillOptions {
    fn default() -> Self {
        BackfillOptions {
            block_duration_ms: DEFAULT_BLOCK_RANGE_MS,
            samples_per_chunk: crate::DEFAULT_SAMPLES_PER_CHUNK,
            cut_large_chunks: true,
            max_buffered_samples: 4 << 20,
            spill_dir: None,
            writer: BlockWriterOptions::default(),
        }
    }
}

impl BackfillOptions {
    /// The block duration `promtool` uses for `--max-block-duration=max`:
    /// 2 h, or the largest of Prometheus's ranges 2 h · 3ⁿ (n < 10) not
    /// above `max` (Prometheus's `getCompatibleBlockDuration`).
    pub fn block_duration_for(max_ms: i64) -> i64 {
        let mut duration = DEFAULT_BLOCK_RANGE_MS;
        if max_ms > DEFAULT_BLOCK_RANGE_MS {
            let ranges: Vec<i64> = (0..10)
                .map(|i| DEFAULT_BLOCK_RANGE_MS * 3i64.pow(i))
                .collect();
            duration = *ranges
                .iter()
                .rev()
                .find(|&&r| r <= max_ms)
                .unwrap_or(&ranges[0]);
        }
        duration
    }
}

/// What a backfill wrote.
#[derive(Debug, Clone, Default)]
pub struct BackfillReport {
    /// The blocks, oldest first.
    pub blocks: Vec<BlockMeta>,
    /// Distinct series.
    pub series: u64,
    /// Samples written.
    pub samples: u64,
    /// Identical duplicate samples dropped.
    pub duplicates_dropped: u64,
}

/// Builds blocks in a directory from samples in any order; see the
/// [module documentation](self).
///
/// ```
/// # fn main() -> aion_tsdb::Result<()> {
/// use aion_model::Labels;
/// use aion_tsdb::backfill::{BackfillOptions, Backfiller};
///
/// let dir = tempfile::tempdir().unwrap();
/// let mut b = Backfiller::new(dir.path(), BackfillOptions::default())?;
/// let up = Labels::from_pairs(&[("__name__", "up")])?;
/// for t in (0..10).rev() {
///     b.add(&up, t * 15_000, 1.0)?; // any order
/// }
/// let report = b.finish()?;
/// assert_eq!(report.blocks.len(), 1);
/// assert_eq!(report.blocks[0].min_time, 0);
/// assert_eq!(report.blocks[0].max_time, 9 * 15_000 + 1);
/// # Ok(()) }
/// ```
pub struct Backfiller {
    dir: PathBuf,
    options: BackfillOptions,
    ids: HashMap<Labels, u32>,
    labels: Vec<Labels>,
    /// Per series, the sorted windows it has samples in.
    windows: Vec<Vec<i64>>,
    buffer: Vec<Record>,
    /// The encoded histograms of the buffered histogram records (their
    /// `v` indexes this), and their bytes.
    payloads: Vec<Vec<u8>>,
    payload_bytes: usize,
    spill_dir: Option<PathBuf>,
    owns_spill_dir: bool,
    runs: Vec<PathBuf>,
    samples_in: u64,
    /// The series of the previous sample: input usually repeats one
    /// series over consecutive samples.
    last: Option<(Labels, u32)>,
}

impl Backfiller {
    /// A backfill writing blocks into `dir` (created if missing).
    pub fn new(dir: impl AsRef<Path>, options: BackfillOptions) -> Result<Self> {
        if options.block_duration_ms <= 0 {
            return Err(Error::InvalidOptions(format!(
                "block duration must be positive, got {} ms",
                options.block_duration_ms
            )));
        }
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        Ok(Backfiller {
            dir,
            options,
            ids: HashMap::new(),
            labels: Vec::new(),
            windows: Vec::new(),
            buffer: Vec::new(),
            payloads: Vec::new(),
            payload_bytes: 0,
            spill_dir: None,
            owns_spill_dir: false,
            runs: Vec::new(),
            samples_in: 0,
            last: None,
        })
    }

    /// Adds a float sample.
    pub fn add(&mut self, labels: &Labels, t: i64, v: f64) -> Result<()> {
        self.push(labels, t, Kind::Float, v.to_bits(), None)
    }

    /// Adds an integer native histogram sample (chunks of histograms are
    /// cut as Prometheus 3's head cuts them).
    pub fn add_histogram(&mut self, labels: &Labels, t: i64, h: &Histogram) -> Result<()> {
        let sample = RefHistogramSample {
            r#ref: 0,
            t: 0,
            h: h.clone(),
        };
        let mut payload = Vec::new();
        encode_histogram_samples(std::slice::from_ref(&sample), &mut payload);
        self.push(labels, t, Kind::Histogram, 0, Some(payload))
    }

    /// Adds a float native histogram sample (what recording rules over
    /// histograms produce).
    pub fn add_float_histogram(
        &mut self,
        labels: &Labels,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<()> {
        let sample = RefFloatHistogramSample {
            r#ref: 0,
            t: 0,
            fh: h.clone(),
        };
        let mut payload = Vec::new();
        encode_float_histogram_samples(std::slice::from_ref(&sample), &mut payload);
        self.push(labels, t, Kind::FloatHistogram, 0, Some(payload))
    }

    fn push(
        &mut self,
        labels: &Labels,
        t: i64,
        kind: Kind,
        v: u64,
        payload: Option<Vec<u8>>,
    ) -> Result<()> {
        if labels.is_empty() {
            return Err(Error::InvalidSample("empty label set".into()));
        }
        let cached = self
            .last
            .as_ref()
            .filter(|(l, _)| l == labels)
            .map(|(_, id)| *id);
        let id = match cached.or_else(|| self.ids.get(labels).copied()) {
            Some(id) => id,
            None => {
                let id = u32::try_from(self.labels.len())
                    .map_err(|_| Error::InvalidSample("more than 2³² series".into()))?;
                self.ids.insert(labels.clone(), id);
                self.labels.push(labels.clone());
                self.windows.push(Vec::new());
                id
            }
        };
        let w = t.div_euclid(self.options.block_duration_ms);
        let ws = &mut self.windows[id as usize];
        if ws.last() != Some(&w) {
            if let Err(at) = ws.binary_search(&w) {
                ws.insert(at, w);
            }
        }
        if cached.is_none() {
            self.last = Some((labels.clone(), id));
        }
        let v = match payload {
            Some(p) => {
                self.payload_bytes += p.len();
                self.payloads.push(p);
                self.payloads.len() as u64 - 1
            }
            None => v,
        };
        self.buffer.push(Record {
            series: id,
            kind,
            t,
            v,
        });
        self.samples_in += 1;
        // A histogram counts as the records its bytes would fill.
        let held = self.buffer.len() + self.payload_bytes / std::mem::size_of::<Record>();
        if held >= self.options.max_buffered_samples.max(1) {
            self.spill()?;
        }
        Ok(())
    }

    /// The buffered records in order, with their payloads.
    fn take_buffer(&mut self) -> Vec<Item> {
        let mut payloads = std::mem::take(&mut self.payloads);
        self.payload_bytes = 0;
        self.buffer
            .drain(..)
            .map(|rec| Item {
                rec,
                payload: (rec.kind != Kind::Float)
                    .then(|| std::mem::take(&mut payloads[rec.v as usize])),
            })
            .collect()
    }

    /// Samples added so far.
    pub fn samples_added(&self) -> u64 {
        self.samples_in
    }

    /// Each known series' position in label order. New series never
    /// change the relative order of known ones, so runs sorted by these
    /// ranks at different times merge consistently.
    fn ranks(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = (0..self.labels.len() as u32).collect();
        ids.sort_unstable_by(|&a, &b| self.labels[a as usize].cmp(&self.labels[b as usize]));
        let mut ranks = vec![0u32; ids.len()];
        for (rank, id) in ids.into_iter().enumerate() {
            ranks[id as usize] = rank as u32;
        }
        ranks
    }

    fn sort_buffer(&mut self) {
        let d = self.options.block_duration_ms;
        let ranks = self.ranks();
        self.buffer
            .sort_unstable_by_key(|r| (r.t.div_euclid(d), ranks[r.series as usize], r.t));
    }

    fn spill(&mut self) -> Result<()> {
        self.sort_buffer();
        let dir = match &self.spill_dir {
            Some(d) => d.clone(),
            None => {
                let (d, owned) = match &self.options.spill_dir {
                    Some(d) => (d.join(format!("{}.tmp", Ulid::generate())), true),
                    None => (self.dir.join(format!("{}.tmp", Ulid::generate())), true),
                };
                std::fs::create_dir_all(&d)
                    .map_err(|e| Error::io(format!("create {}", d.display()), e))?;
                self.spill_dir = Some(d.clone());
                self.owns_spill_dir = owned;
                d
            }
        };
        let path = dir.join(format!("run-{:06}", self.runs.len()));
        let mut w = RunWriter::create(&path)?;
        for r in &self.buffer {
            let payload = (r.kind != Kind::Float).then(|| &self.payloads[r.v as usize][..]);
            w.push(r, payload)?;
        }
        w.finish()?;
        self.runs.push(path);
        self.buffer.clear();
        self.payloads.clear();
        self.payload_bytes = 0;
        self.buffer
            .shrink_to(self.options.max_buffered_samples.min(1 << 20));
        Ok(())
    }

    /// Writes the blocks. On error, blocks this backfill already wrote are
    /// removed again, so the directory is left as it was.
    pub fn finish(self) -> Result<BackfillReport> {
        self.finish_with_progress(&mut |_, _| {})
    }

    /// [`finish`](Self::finish), calling `progress(done, total)` after each
    /// window of the block duration.
    pub fn finish_with_progress(
        mut self,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<BackfillReport> {
        let mut written: Vec<PathBuf> = Vec::new();
        let res = self.write_blocks(&mut written, progress);
        if res.is_err() {
            for dir in &written {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        res
    }

    fn write_blocks(
        &mut self,
        written: &mut Vec<PathBuf>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<BackfillReport> {
        let mut report = BackfillReport {
            series: self.labels.len() as u64,
            ..BackfillReport::default()
        };
        let mut stream: Box<dyn Iterator<Item = Result<Item>>> = if self.runs.is_empty() {
            self.sort_buffer();
            Box::new(self.take_buffer().into_iter().map(Ok))
        } else {
            if !self.buffer.is_empty() {
                self.spill()?;
            }
            let ranks = self.ranks();
            let d = self.options.block_duration_ms;
            Box::new(RunMerger::open(
                &self.runs,
                move |a: &Record, b: &Record| {
                    let key = |r: &Record| (r.t.div_euclid(d), ranks[r.series as usize], r.t);
                    key(a).cmp(&key(b))
                },
            )?)
        };
        let mut all_windows: Vec<i64> = self.windows.iter().flatten().copied().collect();
        all_windows.sort_unstable();
        all_windows.dedup();
        let policy = ChunkPolicy {
            // promtool's block writer makes its head's chunk range twice
            // the block duration.
            chunk_range: 2 * self.options.block_duration_ms,
            samples_per_chunk: self.options.samples_per_chunk,
            cut_large_chunks: self.options.cut_large_chunks,
        };
        let mut chunker = SeriesChunker::new(policy);
        let mut decoded = Decoded::default();
        let mut pending = stream.next().transpose()?;
        let total = all_windows.len();
        for (done, &window) in all_windows.iter().enumerate() {
            let ulid = Ulid::generate();
            let mut w = BlockWriter::create(&self.dir, ulid, self.options.writer)?;
            for s in self.window_symbols(window) {
                w.add_symbol(&s)?;
            }
            let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
            while let Some(first) = pending.take() {
                if first.rec.t.div_euclid(self.options.block_duration_ms) != window {
                    pending = Some(first);
                    break;
                }
                // One series: all its records of this window.
                let series = first.rec.series;
                let labels = &self.labels[series as usize];
                chunker.reset();
                feed(&mut chunker, &first, &mut decoded, labels)?;
                let first_t = first.rec.t;
                let mut last = first;
                let mut n = 1u64;
                loop {
                    pending = stream.next().transpose()?;
                    match pending.take() {
                        Some(r)
                            if r.rec.series == series
                                && r.rec.t.div_euclid(self.options.block_duration_ms) == window =>
                        {
                            if r.rec.t == last.rec.t {
                                let same = r.rec.kind == last.rec.kind
                                    && match r.rec.kind {
                                        Kind::Float => r.rec.v == last.rec.v,
                                        _ => r.payload == last.payload,
                                    };
                                if !same {
                                    return Err(Error::DuplicateSample {
                                        labels: labels.clone(),
                                        timestamp: r.rec.t,
                                    });
                                }
                                report.duplicates_dropped += 1;
                                continue;
                            }
                            feed(&mut chunker, &r, &mut decoded, labels)?;
                            last = r;
                            n += 1;
                        }
                        other => {
                            pending = other;
                            break;
                        }
                    }
                }
                chunker.flush();
                mint = mint.min(first_t);
                maxt = maxt.max(last.rec.t);
                report.samples += n;
                w.add_series(&self.labels[series as usize], &chunker.chunks)?;
            }
            if let Some(meta) = w.finish(BlockMeta::new(ulid, mint, maxt.saturating_add(1)))? {
                written.push(self.dir.join(ulid.to_string()));
                report.blocks.push(meta);
            }
            progress(done + 1, total);
        }
        Ok(report)
    }

    /// The sorted symbols of the series with samples in `window`, plus the
    /// empty string.
    fn window_symbols(&self, window: i64) -> Vec<String> {
        let mut symbols: Vec<&str> = vec![""];
        for (id, ws) in self.windows.iter().enumerate() {
            if ws.binary_search(&window).is_ok() {
                for l in &self.labels[id] {
                    symbols.push(l.name);
                    symbols.push(l.value);
                }
            }
        }
        symbols.sort_unstable();
        symbols.dedup();
        symbols.into_iter().map(str::to_string).collect()
    }
}

/// Decoding space for histogram payloads, reused across samples.
#[derive(Default)]
struct Decoded {
    int: Vec<RefHistogramSample>,
    float: Vec<RefFloatHistogramSample>,
}

/// Appends the sample `item` of the series `labels` to `chunker`.
fn feed(
    chunker: &mut SeriesChunker,
    item: &Item,
    decoded: &mut Decoded,
    labels: &Labels,
) -> Result<()> {
    let t = item.rec.t;
    let payload = || item.payload.as_deref().unwrap_or_default();
    // The payloads are this process's own encoding: a failure to decode
    // one, or a histogram the appender refuses, is reported with the
    // series, never a panic.
    let bad = |what: String| Error::InvalidSample(format!("{labels} at {t}: {what}"));
    match item.rec.kind {
        Kind::Float => chunker.append(t, f64::from_bits(item.rec.v)),
        Kind::Histogram => {
            decode_histogram_samples(payload(), &mut decoded.int)
                .map_err(|e| bad(e.to_string()))?;
            let h = &decoded.int.first().ok_or_else(|| bad("empty".into()))?.h;
            chunker
                .append_histogram(t, HistogramSample::Int(h))
                .map_err(|e| bad(e.to_string()))?;
        }
        Kind::FloatHistogram => {
            decode_float_histogram_samples(payload(), &mut decoded.float)
                .map_err(|e| bad(e.to_string()))?;
            let h = &decoded.float.first().ok_or_else(|| bad("empty".into()))?.fh;
            chunker
                .append_histogram(t, HistogramSample::Float(h))
                .map_err(|e| bad(e.to_string()))?;
        }
    }
    Ok(())
}

impl Drop for Backfiller {
    fn drop(&mut self) {
        for r in &self.runs {
            let _ = std::fs::remove_file(r);
        }
        if let (Some(d), true) = (&self.spill_dir, self.owns_spill_dir) {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

#[cfg(test)]
mod tests;
