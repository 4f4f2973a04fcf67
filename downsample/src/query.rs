//! Queries over downsampled blocks: which resolution a query reads and
//! which aggregate each PromQL function reads, by Thanos's querier rules
//! (`max_source_resolution`, automatic as step / 5; `aggrsFromFunc`).

use std::collections::BTreeMap;
use std::sync::Arc;

use aion_model::histogram::FloatHistogram;
use aion_model::{Labels, Matcher};
use aion_storage::{
    LabelQuerier, MergeQuerier, Querier, Queryable, SampleValue, SelectHints, Series, SeriesSet,
    ValueSliceIterator, VecSeriesSet,
};
use aion_tsdb::block::{Block, BlockSeriesSource};

use crate::aggr::{AggrChunk, AggrType};
use crate::float::apply_counter_resets;
use crate::{Error, Result};

/// Series and their samples, as a select over aggregate chunks yields them.
type SeriesSamples = Vec<(Labels, Vec<(i64, SampleValue)>)>;

/// What a selector reads from aggregate chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// One aggregate's samples as they are (the counter with resets applied).
    One(AggrType),
    /// sum / count per window: the window's average.
    Average,
}

/// The aggregate Thanos reads for the function a selector feeds:
/// `min*`→min, `max*`→max, `count*`→count, `sum_*`→sum,
/// `rate`/`increase`/`irate`/`resets`→counter, anything else (plain `sum`
/// and bare selectors included) the sum/count average.
pub fn aggregate_for(func: Option<&str>) -> Aggregate {
    let f = func.unwrap_or("");
    if f == "min" || f.starts_with("min_") {
        Aggregate::One(AggrType::Min)
    } else if f == "max" || f.starts_with("max_") {
        Aggregate::One(AggrType::Max)
    } else if f == "count" || f.starts_with("count_") {
        Aggregate::One(AggrType::Count)
    } else if f.starts_with("sum_") {
        Aggregate::One(AggrType::Sum)
    } else if matches!(f, "rate" | "increase" | "irate" | "resets") {
        Aggregate::One(AggrType::Counter)
    } else {
        Aggregate::Average
    }
}

/// Thanos's automatic `max_source_resolution` for a range query's step
/// (ms): a fifth of the step, so every step spans at least five windows.
pub fn auto_max_source_resolution(step: i64) -> i64 {
    (step / 5).max(0)
}

/// Blocks of several resolutions, queried through PromQL with each function
/// reading its aggregate. For each query range it reads, as Thanos's store
/// gateway does (`bucketBlockSet.getFor`), the coarsest blocks not above
/// `max_source_resolution`, and fills the time they leave uncovered with
/// the next finer resolution, down to raw: recent data that is not yet
/// downsampled stays visible.
pub struct DownsampledQueryable {
    /// Blocks by resolution, coarsest first, each list by start time.
    levels: Vec<(i64, Vec<Block>)>,
    max_source_resolution: i64,
}

impl std::fmt::Debug for DownsampledQueryable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownsampledQueryable")
            .field(
                "blocks",
                &self
                    .levels
                    .iter()
                    .map(|(r, b)| (*r, b.len()))
                    .collect::<Vec<_>>(),
            )
            .field("max_source_resolution", &self.max_source_resolution)
            .finish()
    }
}

/// A block's Thanos downsampling resolution (0 for raw).
pub fn block_resolution(b: &Block) -> i64 {
    b.meta()
        .thanos
        .as_ref()
        .map_or(0, |t| t.downsample_resolution)
}

impl DownsampledQueryable {
    /// Queries `blocks` at `max_source_resolution` (ms); `None` when no
    /// block is that fine.
    pub fn new(blocks: Vec<Block>, max_source_resolution: i64) -> Option<Self> {
        let mut levels: BTreeMap<std::cmp::Reverse<i64>, Vec<Block>> = BTreeMap::new();
        for b in blocks {
            let r = block_resolution(&b);
            if r <= max_source_resolution {
                levels.entry(std::cmp::Reverse(r)).or_default().push(b);
            }
        }
        if levels.is_empty() {
            return None;
        }
        let levels = levels
            .into_iter()
            .map(|(r, mut bs)| {
                bs.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
                (r.0, bs)
            })
            .collect();
        Some(DownsampledQueryable {
            levels,
            max_source_resolution,
        })
    }

    /// The coarsest resolution (ms) queries read.
    pub fn resolution(&self) -> i64 {
        self.levels[0].0
    }

    /// The blocks a query over `[mint, maxt]` reads, with their
    /// resolutions: coarsest first, gaps filled from finer levels.
    fn blocks_for(&self, mint: i64, maxt: i64) -> Vec<(i64, &Block)> {
        let mut out = Vec::new();
        self.fill(0, mint, maxt, &mut out);
        out
    }

    fn fill<'s>(&'s self, level: usize, mint: i64, maxt: i64, out: &mut Vec<(i64, &'s Block)>) {
        let Some((res, blocks)) = self.levels.get(level) else {
            return;
        };
        if mint > maxt {
            return;
        }
        let mut start = mint;
        for b in blocks {
            let m = b.meta();
            // Block ranges are half-open: [min_time, max_time).
            if m.max_time <= mint {
                continue;
            }
            if m.min_time > maxt {
                break;
            }
            self.fill(level + 1, start, m.min_time - 1, out);
            out.push((*res, b));
            start = start.max(m.max_time);
        }
        self.fill(level + 1, start, maxt, out);
    }
}

impl Queryable for DownsampledQueryable {
    fn querier(&self, mint: i64, maxt: i64) -> aion_storage::Result<Box<dyn Querier + '_>> {
        let chosen = self.blocks_for(mint, maxt);
        let mut all: Vec<Box<dyn Querier + '_>> = Vec::new();
        let mut parts: Vec<Box<dyn Querier + '_>> = Vec::new();
        let mut aggregated = Vec::new();
        let mut aggregated_queriers: Vec<Box<dyn Querier + '_>> = Vec::new();
        for &(res, b) in &chosen {
            all.push(b.querier(mint, maxt)?);
            if res == 0 {
                parts.push(b.querier(mint, maxt)?);
            } else {
                aggregated.push((res, b));
                aggregated_queriers.push(b.querier(mint, maxt)?);
            }
        }
        if !aggregated.is_empty() {
            parts.push(Box::new(AggregateQuerier {
                blocks: aggregated,
                mint,
                maxt,
                labels: MergeQuerier::new(aggregated_queriers),
            }));
        }
        Ok(Box::new(DownsampledQuerier {
            plain: MergeQuerier::new(all),
            parts: MergeQuerier::new(parts),
        }))
    }
}

struct DownsampledQuerier<'q> {
    /// The chosen blocks' own queriers: label queries and series-only
    /// selects.
    plain: MergeQuerier<'q, dyn Querier + 'q>,
    /// Raw blocks' queriers and one over the aggregated blocks: selects,
    /// series found at several resolutions chained in time.
    parts: MergeQuerier<'q, dyn Querier + 'q>,
}

impl LabelQuerier for DownsampledQuerier<'_> {
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        self.plain.label_values(name, matchers)
    }

    fn label_names(&self, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        self.plain.label_names(matchers)
    }
}

impl Querier for DownsampledQuerier<'_> {
    fn select<'a>(
        &'a self,
        sorted: bool,
        hints: Option<&SelectHints<'_>>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet<'a> + 'a> {
        if hints.is_some_and(|h| h.series_only()) {
            return self.plain.select(sorted, hints, matchers);
        }
        self.parts.select(sorted, hints, matchers)
    }
}

/// The aggregated (5 m, 1 h) blocks a query reads: each selector reads the
/// aggregate its function needs.
struct AggregateQuerier<'q> {
    blocks: Vec<(i64, &'q Block)>,
    mint: i64,
    maxt: i64,
    labels: MergeQuerier<'q, dyn Querier + 'q>,
}

impl LabelQuerier for AggregateQuerier<'_> {
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        self.labels.label_values(name, matchers)
    }

    fn label_names(&self, matchers: &[Matcher]) -> aion_storage::Result<Vec<String>> {
        self.labels.label_names(matchers)
    }
}

impl Querier for AggregateQuerier<'_> {
    fn select<'a>(
        &'a self,
        _sorted: bool,
        hints: Option<&SelectHints<'_>>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet<'a> + 'a> {
        let aggr = aggregate_for(hints.and_then(|h| h.func));
        match self.read(aggr, matchers) {
            // Always sorted: the merge with raw blocks needs it.
            Ok(series) => Box::new(VecSeriesSet::sorted(
                series
                    .into_iter()
                    .map(|(labels, samples)| Series {
                        labels,
                        samples: Box::new(ValueSliceIterator::new(samples)),
                    })
                    .collect(),
            )),
            Err(e) => {
                let kind = match e {
                    Error::Unsupported(_) => aion_storage::ErrorKind::Unsupported,
                    Error::Tsdb(_) => aion_storage::ErrorKind::Other,
                    _ => aion_storage::ErrorKind::Corruption,
                };
                Box::new(aion_storage::ErrorSeriesSet::new(aion_storage::Error::new(
                    kind, e,
                )))
            }
        }
    }
}

impl AggregateQuerier<'_> {
    /// Every matching series' samples of `aggr` within the querier's range,
    /// in label order, series found in several blocks concatenated.
    fn read(&self, aggr: Aggregate, matchers: &[Matcher]) -> Result<SeriesSamples> {
        let mut out: BTreeMap<Labels, Vec<(i64, SampleValue)>> = BTreeMap::new();
        for &(res, b) in &self.blocks {
            let m = b.meta();
            let mut set = b.chunk_series_untrimmed(matchers, self.mint, self.maxt);
            while let Some(s) = set.next_series() {
                let s = s?;
                let mut parsed = Vec::with_capacity(s.chunks.len());
                for c in &s.chunks {
                    if c.encoding != aion_chunkenc::Encoding::ThanosAggr {
                        return Err(Error::Unsupported(format!(
                            "block {}: series {}: {} chunk in a block of resolution {res} ms",
                            m.ulid, s.labels, c.encoding
                        )));
                    }
                    parsed.push(AggrChunk::parse(&c.data)?);
                }
                let samples = series_values(&parsed, aggr)?;
                out.entry(s.labels).or_default().extend(samples);
            }
        }
        Ok(out
            .into_iter()
            .map(|(l, mut v)| {
                v.sort_by_key(|s| s.0);
                v.dedup_by_key(|s| s.0);
                v.retain(|s| s.0 >= self.mint && s.0 <= self.maxt);
                (l, v)
            })
            .collect())
    }
}

fn sub(c: &AggrChunk<'_>, t: AggrType) -> Result<Vec<(i64, f64)>> {
    match c.get(t)? {
        Some(x) => Ok(x.samples()?),
        None => Ok(Vec::new()),
    }
}

/// One series' samples of `aggr` from its aggregate chunks, oldest first:
/// floats from float chunks, and from native histogram chunks what Thanos
/// reads there (counter and sum histograms, count floats, the average as
/// sum / count; nothing for min and max, which they lack).
pub fn series_values(chunks: &[AggrChunk<'_>], aggr: Aggregate) -> Result<Vec<(i64, SampleValue)>> {
    let mut out = Vec::new();
    for run in chunks.chunk_by(|a, b| a.is_histogram() == b.is_histogram()) {
        if !run[0].is_histogram() {
            out.extend(
                series_samples(run, aggr)?
                    .into_iter()
                    .map(|(t, v)| (t, SampleValue::Float(v))),
            );
            continue;
        }
        let hist = |t: AggrType| -> Result<Vec<(i64, FloatHistogram)>> {
            let mut v = Vec::new();
            for c in run {
                c.histograms(t, &mut v)?;
            }
            Ok(v)
        };
        let wrap = |v: Vec<(i64, FloatHistogram)>| {
            v.into_iter()
                .map(|(t, h)| (t, SampleValue::FloatHistogram(Arc::new(h))))
        };
        match aggr {
            Aggregate::One(t @ (AggrType::Counter | AggrType::Sum)) => out.extend(wrap(hist(t)?)),
            Aggregate::One(AggrType::Count) => {
                for c in run {
                    let counts = sub(c, AggrType::Count)?;
                    out.extend(counts.into_iter().map(|(t, v)| (t, SampleValue::Float(v))));
                }
            }
            Aggregate::One(AggrType::Min | AggrType::Max) => {}
            Aggregate::Average => {
                for c in run {
                    let mut sums = Vec::new();
                    c.histograms(AggrType::Sum, &mut sums)?;
                    let counts = sub(c, AggrType::Count)?;
                    if sums.len() != counts.len() {
                        return Err(Error::Decode(format!(
                            "aggregate chunk: {} sum windows but {} count windows",
                            sums.len(),
                            counts.len()
                        )));
                    }
                    out.extend(sums.into_iter().zip(&counts).map(|((t, mut h), &(_, n))| {
                        h.div(n);
                        (t, SampleValue::FloatHistogram(Arc::new(h)))
                    }));
                }
            }
        }
    }
    Ok(out)
}

/// One float series' samples of `aggr` from its aggregate chunks, oldest
/// first.
pub fn series_samples(chunks: &[AggrChunk<'_>], aggr: Aggregate) -> Result<Vec<(i64, f64)>> {
    let mut out = Vec::new();
    match aggr {
        Aggregate::One(AggrType::Counter) => {
            let parts = chunks
                .iter()
                .map(|c| sub(c, AggrType::Counter))
                .collect::<Result<Vec<_>>>()?;
            apply_counter_resets(parts.iter().map(Vec::as_slice), &mut out);
        }
        Aggregate::One(t) => {
            for c in chunks {
                out.extend(sub(c, t)?);
            }
        }
        Aggregate::Average => {
            for c in chunks {
                let sum = sub(c, AggrType::Sum)?;
                let count = sub(c, AggrType::Count)?;
                if sum.len() != count.len() {
                    return Err(Error::Decode(format!(
                        "aggregate chunk: {} sum windows but {} count windows",
                        sum.len(),
                        count.len()
                    )));
                }
                out.extend(sum.iter().zip(&count).map(|(&(t, s), &(_, n))| (t, s / n)));
            }
        }
    }
    Ok(out)
}
