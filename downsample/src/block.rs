//! Downsampling a whole block into a new block beside it.

use std::borrow::Cow;
use std::path::Path;

use aion_chunkenc::{Chunk, Encoding, SampleIterator, ValueType};
use aion_storage::SeriesChunk;
use aion_tsdb::block::{Block, BlockMeta, BlockWriter, BlockWriterOptions, ThanosMeta, Ulid};

use aion_model::histogram::FloatHistogram;

use crate::aggr::AggrChunk;
use crate::float::{downsample_aggr, downsample_raw, Scratch};
use crate::hist::{downsample_hist_aggr, downsample_raw_histograms, HistSample};
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
    let mut hists: Vec<HistSample> = Vec::new();
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
            // Runs of float and of histogram chunks are downsampled apart
            // (Thanos cuts where the sample type changes).
            for run in s
                .chunks
                .chunk_by(|a, b| a.encoding.is_float() == b.encoding.is_float())
            {
                if run[0].encoding.is_float() {
                    samples.clear();
                    for c in run {
                        expand_raw(c, &mut samples).map_err(in_series)?;
                    }
                    report.samples_read += samples.len() as u64;
                    downsample_raw(&samples, resolution, &mut batch, &mut out)
                        .map_err(in_series)?;
                } else {
                    hists.clear();
                    for c in run {
                        expand_raw_histograms(c, &mut hists).map_err(in_series)?;
                    }
                    report.samples_read += hists.len() as u64;
                    downsample_raw_histograms(&hists, resolution, &mut out).map_err(in_series)?;
                }
            }
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
                        let mut repaired = Vec::new();
                        if c.encoding.is_float() {
                            samples.clear();
                            expand_raw(c, &mut samples).map_err(in_series)?;
                            downsample_raw(&samples, RES_5M, &mut batch, &mut repaired)
                                .map_err(in_series)?;
                        } else {
                            hists.clear();
                            expand_raw_histograms(c, &mut hists).map_err(in_series)?;
                            downsample_raw_histograms(&hists, RES_5M, &mut repaired)
                                .map_err(in_series)?;
                        }
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
            // Float and histogram runs apart, as Thanos does.
            let mut start = 0;
            for run in aggrs.chunk_by(|a, b| a.is_histogram() == b.is_histogram()) {
                let span = &fixed[start..start + run.len()];
                start += run.len();
                let (mint, maxt) = (span[0].min_time, span[span.len() - 1].max_time);
                if run[0].is_histogram() {
                    downsample_hist_aggr(run, mint, maxt, current, resolution, &mut out)
                        .map_err(in_series)?;
                } else {
                    downsample_aggr(run, mint, maxt, current, resolution, &mut scratch, &mut out)
                        .map_err(in_series)?;
                }
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
            "{} chunk among float samples",
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

/// Appends the histograms of raw histogram chunk `c` to `out` as float
/// histograms, without stale markers and samples older than the previous
/// one (Thanos's reader).
pub(crate) fn expand_raw_histograms<B: AsRef<[u8]>>(
    c: &SeriesChunk<B>,
    out: &mut Vec<HistSample>,
) -> Result<()> {
    let chunk = Chunk::from_bytes(c.encoding, c.data.as_ref())?;
    let mut it = chunk.iter();
    let mut last_t = out.last().map_or(i64::MIN, |s| s.0);
    loop {
        match it.next() {
            ValueType::None => break,
            ValueType::Histogram | ValueType::FloatHistogram => {
                let mut h = FloatHistogram::default();
                let t = it.at_float_histogram(&mut h);
                if aion_chunkenc::is_stale_nan(h.sum) || t < last_t {
                    continue;
                }
                out.push((t, h));
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use aion_chunkenc::XorAppender;
    use aion_model::Labels;
    use aion_tsdb::block::BlockSeriesSource;

    use super::*;
    use crate::{apply_counter_resets, window_end, AggrType, RES_1H};

    const STEP: i64 = 15_000;
    const SPAN: i64 = 6 * 3_600_000;

    /// A counter with a reset every 100 minutes and gaps, integer-valued
    /// so sums over windows are exact in any order.
    fn raw_series(seed: i64) -> Vec<(i64, f64)> {
        (0..SPAN / STEP)
            .filter(|i| (i + seed) % 37 != 0)
            .map(|i| {
                let t = i * STEP + seed;
                (t, ((t % 6_000_000) / STEP * (seed + 1)) as f64)
            })
            .collect()
    }

    fn write_raw(dir: &Path, series: &[(Labels, Vec<(i64, f64)>)]) -> Block {
        let ulid = Ulid::generate();
        let mut w = BlockWriter::create(dir, ulid, BlockWriterOptions::default()).unwrap();
        let mut symbols: Vec<&str> = series
            .iter()
            .flat_map(|(l, _)| l.iter().flat_map(|l| [l.name, l.value]))
            .collect();
        symbols.sort();
        symbols.dedup();
        for s in symbols {
            w.add_symbol(s).unwrap();
        }
        for (labels, samples) in series {
            // 120-sample chunks, as Prometheus cuts at 15 s.
            let chunks: Vec<_> = samples
                .chunks(120)
                .map(|part| {
                    let mut app = XorAppender::new();
                    for &(t, v) in part {
                        app.append(t, v).unwrap();
                    }
                    SeriesChunk {
                        min_time: part[0].0,
                        max_time: part[part.len() - 1].0,
                        encoding: Encoding::Xor,
                        data: app.bytes().to_vec(),
                    }
                })
                .collect();
            w.add_series(labels, &chunks).unwrap();
        }
        let mut meta = BlockMeta::new(ulid, 0, SPAN);
        meta.thanos = Some(ThanosMeta {
            labels: BTreeMap::from([("replica".to_string(), "a".to_string())]),
            source: "sidecar".to_string(),
            ..ThanosMeta::default()
        });
        w.finish(meta).unwrap().unwrap();
        Block::open(dir.join(ulid.to_string())).unwrap()
    }

    /// Every aggregate of a block's series, concatenated over its chunks,
    /// plus the counter totals with resets applied.
    /// A series' labels, its five aggregates and its counter totals.
    type SeriesAggregates = (Labels, [Vec<(i64, f64)>; 5], Vec<(i64, f64)>);

    fn read_aggregates(block: &Block) -> Vec<SeriesAggregates> {
        let mut set = block.chunk_series_untrimmed(&[], i64::MIN, i64::MAX);
        let mut out = Vec::new();
        while let Some(s) = set.next_series() {
            let s = s.unwrap();
            let mut aggs: [Vec<(i64, f64)>; 5] = Default::default();
            let mut counters = Vec::new();
            for c in &s.chunks {
                assert_eq!(c.encoding, Encoding::ThanosAggr);
                let a = AggrChunk::parse(&c.data).unwrap();
                for t in AggrType::ALL {
                    let x = a.get(t).unwrap().unwrap().samples().unwrap();
                    if t == AggrType::Counter {
                        counters.push(x.clone());
                    }
                    aggs[t as usize].extend(x);
                }
            }
            let mut totals = Vec::new();
            apply_counter_resets(counters.iter().map(|c| c.as_slice()), &mut totals);
            out.push((s.labels, aggs, totals));
        }
        out
    }

    /// Thanos's rule computed straight from raw samples: per window, the
    /// count, sum, min, max, and the reset-adjusted counter at the window's
    /// last sample.
    fn expected(raw: &[(i64, f64)], res: i64) -> [Vec<(i64, f64)>; 4] {
        let mut windows: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
        let last_t = raw.last().unwrap().0;
        for &(t, v) in raw {
            windows
                .entry(window_end(t, res).min(last_t))
                .or_default()
                .push(v);
        }
        let mut out: [Vec<(i64, f64)>; 4] = Default::default();
        for (t, vs) in windows {
            out[0].push((t, vs.len() as f64));
            out[1].push((t, vs.iter().sum()));
            out[2].push((t, vs.iter().cloned().fold(f64::MAX, f64::min)));
            out[3].push((t, vs.iter().cloned().fold(-f64::MAX, f64::max)));
        }
        out
    }

    fn counter_total(raw: &[(i64, f64)]) -> f64 {
        let mut total = raw[0].1;
        for w in raw.windows(2) {
            total += if w[1].1 >= w[0].1 {
                w[1].1 - w[0].1
            } else {
                w[1].1
            };
        }
        total
    }

    #[test]
    fn raw_to_5m_to_1h_keeps_thanos_aggregates_and_meta() {
        let dir = tempfile::tempdir().unwrap();
        let series: Vec<_> = (0..3)
            .map(|i| {
                let l = Labels::from_pairs(&[("__name__", "x"), ("i", &i.to_string())]).unwrap();
                (l, raw_series(i))
            })
            .collect();
        let raw = write_raw(dir.path(), &series);

        let (m5, report) = downsample_block(&raw, dir.path(), RES_5M).unwrap();
        let m5 = m5.unwrap();
        assert_eq!(report.series, 3);
        assert!(report.warnings.is_empty());
        let samples: usize = series.iter().map(|s| s.1.len()).sum();
        assert_eq!(report.samples_read, samples as u64);
        let t = m5.thanos.as_ref().unwrap();
        assert_eq!(t.downsample_resolution, RES_5M);
        assert_eq!(t.source, "sidecar");
        assert_eq!(t.labels["replica"], "a");
        assert_eq!((m5.min_time, m5.max_time), (0, SPAN));
        assert_eq!(m5.compaction.sources, raw.meta().compaction.sources);
        let json = std::fs::read_to_string(dir.path().join(m5.ulid.to_string()).join("meta.json"))
            .unwrap();
        assert!(
            json.contains("\"thanos\": {\n\t\t\"version\": 1,\n\t\t\"labels\": {\n\t\t\t\"replica\": \"a\"\n\t\t},\n\t\t\"downsample\": {\n\t\t\t\"resolution\": 300000\n\t\t},\n\t\t\"source\": \"sidecar\""),
            "{json}"
        );
        let b5 = Block::open(dir.path().join(m5.ulid.to_string())).unwrap();
        // 72 windows of 5 m per series: one chunk each.
        assert_eq!(b5.meta().stats.num_chunks, 3);
        assert_eq!(b5.meta().stats.num_samples, 3 * 72);

        let (m1h, _) = downsample_block(&b5, dir.path(), RES_1H).unwrap();
        let b1h = Block::open(dir.path().join(m1h.unwrap().ulid.to_string())).unwrap();
        assert_eq!(b1h.meta().thanos.unwrap().downsample_resolution, RES_1H);

        for (block, res) in [(&b5, RES_5M), (&b1h, RES_1H)] {
            let got = read_aggregates(block);
            assert_eq!(got.len(), series.len());
            for ((labels, aggs, totals), (want_labels, raw)) in got.iter().zip(&series) {
                assert_eq!(labels, want_labels);
                let want = expected(raw, res);
                for t in [AggrType::Count, AggrType::Sum, AggrType::Min, AggrType::Max] {
                    assert_eq!(aggs[t as usize], want[t as usize], "{res} {t} {labels}");
                }
                // The counter keeps the first raw sample, each window's
                // total, and ends on the series' reset-adjusted increase.
                assert_eq!(totals.first().unwrap(), &raw[0]);
                assert_eq!(
                    totals.last().unwrap().1,
                    counter_total(raw),
                    "{res} {labels}"
                );
            }
        }
        assert!(matches!(
            downsample_block(&b1h, dir.path(), RES_5M),
            Err(Error::Resolution { .. })
        ));
    }
}
