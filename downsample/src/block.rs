//! Downsampling a whole block into a new block beside it.

use std::borrow::Cow;
use std::path::Path;

use aion_chunkenc::{Chunk, Encoding, SampleIterator, ValueType};
use aion_storage::SeriesChunk;
use aion_tsdb::block::{Block, BlockMeta, BlockWriter, BlockWriterOptions, ThanosMeta, Ulid};

use crate::aggr::AggrChunk;
use crate::float::{downsample_aggr, downsample_raw, Scratch};
use crate::{Error, Result, RES_5M};

/// What downsampling a block read, wrote and skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DownsampleReport {
    /// Series read.
    pub series: u64,
    /// Chunks read.
    pub chunks_read: u64,
    /// Bytes of chunk data read (encoding byte included).
    pub chunk_bytes_read: u64,
    /// Samples read (raw samples, or windows of aggregate chunks).
    pub samples_read: u64,
    /// Aggregate chunks written.
    pub chunks_written: u64,
    /// Skipped or repaired data, one line each.
    pub warnings: Vec<String>,
}

/// Downsamples `block` to `resolution` (ms; [`RES_5M`] from raw,
/// [`RES_1H`](crate::RES_1H) from 5 m) into a new block under `dest`.
/// The new block keeps the source's time range, compaction history and
/// Thanos labels, with `thanos.downsample.resolution` set (and source
/// `compactor` when the source had no Thanos section). Returns the new
/// block's meta (`None` if the block held no sample) and a report.
pub fn downsample_block(
    block: &Block,
    dest: &Path,
    resolution: i64,
) -> Result<(Option<BlockMeta>, DownsampleReport)> {
    let orig = block.meta();
    let current = orig.thanos.as_ref().map_or(0, |t| t.downsample_resolution);
    if current >= resolution {
        return Err(Error::Resolution {
            block: orig.ulid.to_string(),
            current,
            target: resolution,
        });
    }
    let ulid = Ulid::generate();
    let mut w = BlockWriter::create(dest, ulid, BlockWriterOptions::default())?;
    for s in block.index().symbols() {
        w.add_symbol(s.map_err(aion_tsdb::Error::from)?)?;
    }
    let mut report = DownsampleReport::default();
    let mut samples = Vec::new();
    let mut batch = Vec::new();
    let mut out = Vec::new();
    let mut scratch = Scratch::default();
    let mut series = block.chunk_series_untrimmed(&[], i64::MIN, i64::MAX);
    while let Some(s) = aion_tsdb::block::BlockSeriesSource::next_series(&mut series) {
        let s = s?;
        report.series += 1;
        out.clear();
        let in_series = |e: Error| Error::Series {
            block: orig.ulid.to_string(),
            series: s.labels.to_string(),
            source: Box::new(e),
        };
        for pair in s.chunks.windows(2) {
            if pair[0].max_time >= pair[1].min_time {
                return Err(in_series(Error::Unsupported(format!(
                    "overlapping chunks [{}, {}] and [{}, {}]",
                    pair[0].min_time, pair[0].max_time, pair[1].min_time, pair[1].max_time
                ))));
            }
        }
        for c in &s.chunks {
            report.chunks_read += 1;
            report.chunk_bytes_read += c.data.len() as u64 + 1;
        }
        if current == 0 {
            samples.clear();
            for c in &s.chunks {
                expand_raw(c, &mut samples).map_err(in_series)?;
            }
            report.samples_read += samples.len() as u64;
            downsample_raw(&samples, resolution, &mut batch, &mut out).map_err(in_series)?;
        } else {
            let mut fixed: Vec<SeriesChunk<Cow<'_, [u8]>>> = Vec::with_capacity(s.chunks.len());
            for c in &s.chunks {
                match c.encoding {
                    Encoding::ThanosAggr => fixed.push(with_data(c.as_borrowed(), Cow::Borrowed)),
                    _ if c.num_samples() == 0 => report.warnings.push(format!(
                        "block {}: series {}: skipped an empty {} chunk in a downsampled block",
                        orig.ulid, s.labels, c.encoding
                    )),
                    _ => {
                        // Thanos repairs raw chunks found in downsampled
                        // blocks by aggregating them to 5 m first.
                        samples.clear();
                        expand_raw(c, &mut samples).map_err(in_series)?;
                        let mut repaired = Vec::new();
                        downsample_raw(&samples, RES_5M, &mut batch, &mut repaired)
                            .map_err(in_series)?;
                        fixed.extend(repaired.into_iter().map(|r| with_data(r, Cow::Owned)));
                        report.warnings.push(format!(
                            "block {}: series {}: aggregated a raw {} chunk found in a downsampled block",
                            orig.ulid, s.labels, c.encoding
                        ));
                    }
                }
            }
            let aggrs = fixed
                .iter()
                .map(|c| AggrChunk::parse(&c.data))
                .collect::<Result<Vec<_>>>()
                .map_err(in_series)?;
            report.samples_read += aggrs.iter().map(|a| a.num_samples() as u64).sum::<u64>();
            if let (Some(first), Some(last)) = (fixed.first(), fixed.last()) {
                downsample_aggr(
                    &aggrs,
                    first.min_time,
                    last.max_time,
                    current,
                    resolution,
                    &mut scratch,
                    &mut out,
                )
                .map_err(in_series)?;
            }
        }
        report.chunks_written += out.len() as u64;
        w.add_series(&s.labels, &out)?;
    }
    let mut meta = orig.clone();
    meta.ulid = ulid;
    let thanos = meta.thanos.get_or_insert_with(|| ThanosMeta {
        source: "compactor".to_string(),
        ..ThanosMeta::default()
    });
    thanos.downsample_resolution = resolution;
    // The file list describes the source block's files, not these.
    thanos.files.clear();
    thanos.segment_files.clear();
    Ok((w.finish(meta)?, report))
}

/// Appends the float samples of raw chunk `c` to `out`, without stale
/// markers and samples older than the previous one (Thanos's reader).
pub(crate) fn expand_raw<B: AsRef<[u8]>>(
    c: &SeriesChunk<B>,
    out: &mut Vec<(i64, f64)>,
) -> Result<()> {
    if !c.encoding.is_float() {
        return Err(Error::Unsupported(format!(
            "downsampling {} chunks (native histograms) is not implemented",
            c.encoding
        )));
    }
    let chunk = Chunk::from_bytes(c.encoding, c.data.as_ref())?;
    let mut it = chunk.iter();
    let mut last_t = out.last().map_or(i64::MIN, |s| s.0);
    loop {
        match it.next() {
            ValueType::None => break,
            ValueType::Float => {
                let (t, v) = it.at();
                if aion_chunkenc::is_stale_nan(v) || t < last_t {
                    continue;
                }
                out.push((t, v));
                last_t = t;
            }
            other => {
                return Err(Error::Unsupported(format!(
                    "unexpected {other:?} sample in a {} chunk",
                    c.encoding
                )))
            }
        }
    }
    if let Some(e) = it.err() {
        return Err(Error::Decode(format!(
            "{} chunk [{}, {}]: {e}",
            c.encoding, c.min_time, c.max_time
        )));
    }
    Ok(())
}

/// The same chunk with its data converted.
fn with_data<A, B>(c: SeriesChunk<A>, f: impl FnOnce(A) -> B) -> SeriesChunk<B> {
    SeriesChunk {
        min_time: c.min_time,
        max_time: c.max_time,
        encoding: c.encoding,
        data: f(c.data),
    }
}
