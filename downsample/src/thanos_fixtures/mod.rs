//! Thanos's downsampling test tables, run against Aion's downsampler.
//!
//! The inputs and expected results are data tables ported from Thanos's
//! `pkg/compact/downsample/downsample_test.go` (Copyright (c) The Thanos
//! Authors, Apache License 2.0; see this crate's NOTICE). The large
//! real-data tables (thanos#2401) live as data files in
//! `tests/fixtures/thanos-downsample/` beside their own NOTICE. The code
//! here is Aion's own. Where Aion deliberately differs from Thanos's
//! expected result, the test says so and names the Thanos case.
//!
//! One file per concept: raw float chunks (`float_raw`), aggregate chunks
//! (`float_aggr`), counter handling and the readers of aggregates
//! (`counters`), native histograms (`histograms`).

mod counters;
mod float_aggr;
mod float_raw;
mod histograms;

use std::path::Path;

use aion_chunkenc::{Encoding, XorAppender, STALE_NAN};
use aion_model::Labels;
use aion_storage::SeriesChunk;
use aion_tsdb::block::{Block, BlockMeta, BlockSeriesSource, BlockWriter, BlockWriterOptions};
use aion_tsdb::block::{ThanosMeta, Ulid};

use crate::aggr::{encode_aggr_chunk, AggrChunk, AggrType};
use crate::block::expand_raw;
use crate::{downsample_block, DownsampleReport};

/// Float samples `(t, v)`.
pub(crate) type Samples = Vec<(i64, f64)>;

/// The five aggregates of one aggregate chunk in on-disk order (count,
/// sum, min, max, counter); an absent aggregate is empty. Thanos's tables
/// write them as `map[AggrType][]sample`.
pub(crate) type Table = [Samples; 5];

/// A table with only the given aggregates.
pub(crate) fn table(parts: &[(AggrType, &[(i64, f64)])]) -> Table {
    let mut t: Table = Default::default();
    for (a, s) in parts {
        t[*a as usize] = s.to_vec();
    }
    t
}

/// A raw XOR chunk of `samples` as they are (stale markers, repeated and
/// backward timestamps included).
pub(crate) fn xor_chunk(samples: &[(i64, f64)]) -> SeriesChunk<Vec<u8>> {
    let mut app = XorAppender::new();
    for &(t, v) in samples {
        app.append(t, v).unwrap();
    }
    SeriesChunk {
        min_time: samples.first().map_or(0, |s| s.0),
        max_time: samples.last().map_or(0, |s| s.0),
        encoding: Encoding::Xor,
        data: app.bytes().to_vec(),
    }
}

/// An aggregate chunk of `table`, spanning the smallest to the largest
/// timestamp of any aggregate (as Thanos's `encodeTestAggrSeries`).
pub(crate) fn aggr_chunk(table: &Table) -> SeriesChunk<Vec<u8>> {
    let parts: Vec<Option<Vec<u8>>> = table
        .iter()
        .map(|s| (!s.is_empty()).then(|| xor_chunk(s).data))
        .collect();
    let mut data = Vec::new();
    encode_aggr_chunk(std::array::from_fn(|i| parts[i].as_deref()), &mut data);
    let times = table.iter().flatten().map(|s| s.0);
    SeriesChunk {
        min_time: times.clone().min().unwrap(),
        max_time: times.max().unwrap(),
        encoding: Encoding::ThanosAggr,
        data,
    }
}

/// What a downsampler reads from these raw chunks.
pub(crate) fn read_raw(chunks: &[Samples]) -> Samples {
    let mut out = Vec::new();
    for c in chunks {
        expand_raw(&xor_chunk(c), &mut out).unwrap();
    }
    out
}

/// Every aggregate of an output chunk as stored, absent ones empty.
pub(crate) fn aggregates(c: &SeriesChunk<Vec<u8>>) -> Table {
    assert_eq!(c.encoding, Encoding::ThanosAggr);
    let a = AggrChunk::parse(&c.data).unwrap();
    AggrType::ALL.map(|t| {
        a.get(t)
            .unwrap()
            .map_or_else(Vec::new, |x| x.samples().unwrap())
    })
}

/// The tables of a series' output chunks, each chunk's time range checked
/// to cover its windows (Thanos's `assertValidChunkTime`).
pub(crate) fn tables(chunks: &[SeriesChunk<Vec<u8>>]) -> Vec<Table> {
    for c in chunks {
        assert!(
            c.min_time <= c.max_time,
            "chunk [{}, {}]",
            c.min_time,
            c.max_time
        );
    }
    chunks.iter().map(aggregates).collect()
}

/// Writes one series `a` with `chunks` into a block under `dir` whose
/// Thanos downsampling resolution is `resolution` (0: raw); the writer's
/// error if it refuses the chunks.
pub(crate) fn write_block(
    dir: &Path,
    resolution: i64,
    chunks: &[SeriesChunk<Vec<u8>>],
) -> aion_tsdb::Result<Block> {
    let ulid = Ulid::generate();
    let mut w = BlockWriter::create(dir, ulid, BlockWriterOptions::default())?;
    for s in ["__name__", "a"] {
        w.add_symbol(s)?;
    }
    let labels = Labels::from_pairs(&[("__name__", "a")]).unwrap();
    w.add_series(&labels, chunks)?;
    let mint = chunks.iter().map(|c| c.min_time).min().unwrap();
    let maxt = chunks.iter().map(|c| c.max_time).max().unwrap();
    let mut meta = BlockMeta::new(ulid, mint, maxt + 1);
    if resolution > 0 {
        meta.thanos = Some(ThanosMeta {
            downsample_resolution: resolution,
            source: "compactor".to_string(),
            ..ThanosMeta::default()
        });
    }
    w.finish(meta)?.expect("the block holds samples");
    Block::open(dir.join(ulid.to_string()))
}

/// Thanos's `Downsample` as its tests run it: one series `a` of `chunks`
/// in a block at `from` (raw, or one below `to` for aggregate input, as
/// the tests' fake meta), downsampled to `to`. The output series' chunks
/// or the error.
pub(crate) fn downsample_series(
    from: i64,
    to: i64,
    chunks: &[SeriesChunk<Vec<u8>>],
) -> crate::Result<(Vec<SeriesChunk<Vec<u8>>>, DownsampleReport)> {
    let dir = tempfile::tempdir().unwrap();
    let block = write_block(dir.path(), from, chunks).unwrap();
    let (meta, report) = downsample_block(&block, dir.path(), to)?;
    let out = Block::open(dir.path().join(meta.unwrap().ulid.to_string())).unwrap();
    let mut set = out.chunk_series_untrimmed(&[], i64::MIN, i64::MAX);
    let s = set.next_series().unwrap().unwrap();
    assert_eq!(s.labels.to_string(), "{__name__=\"a\"}");
    assert!(set.next_series().is_none());
    let chunks = s
        .chunks
        .iter()
        .map(|c| SeriesChunk {
            min_time: c.min_time,
            max_time: c.max_time,
            encoding: c.encoding,
            data: c.data.as_ref().to_vec(),
        })
        .collect();
    Ok((chunks, report))
}

/// A data file of `tests/fixtures/thanos-downsample/`, without comments.
fn fixture_lines(text: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect())
}

fn value(v: &str) -> f64 {
    if v == "stale" {
        STALE_NAN
    } else {
        v.parse().unwrap()
    }
}

fn sample(t: &str, v: &str) -> (i64, f64) {
    (t.parse().unwrap(), value(v))
}

/// Thanos's `realisticChkDataWithStaleMarker`: 15 s raw samples of a real
/// counter (thanos#2401) in two chunks, with a stale marker and a reset.
pub(crate) fn realistic_raw() -> Vec<Samples> {
    let mut chunks: Vec<Samples> = Vec::new();
    for l in fixture_lines(include_str!(
        "../../tests/fixtures/thanos-downsample/realistic_raw_15s.txt"
    )) {
        match l.as_slice() {
            ["chunk"] => chunks.push(Vec::new()),
            [t, v] => chunks.last_mut().unwrap().push(sample(t, v)),
            _ => panic!("bad line {l:?}"),
        }
    }
    chunks
}

/// Thanos's `realisticChkDataWithCounterResetRes5m`: the raw data above
/// downsampled to 5 m, one aggregate chunk.
pub(crate) fn realistic_5m() -> Table {
    let mut t: Table = Default::default();
    for l in fixture_lines(include_str!(
        "../../tests/fixtures/thanos-downsample/realistic_5m.txt"
    )) {
        let [name, ts, v] = l.as_slice() else {
            panic!("bad line {l:?}")
        };
        let a = AggrType::ALL
            .into_iter()
            .find(|a| a.name() == *name)
            .unwrap();
        t[a as usize].push(sample(ts, v));
    }
    t
}

/// Thanos's `realisticChkDataWithCounterResetsAfterCounterSeriesIterating`:
/// the raw data above with counter resets applied.
pub(crate) fn realistic_counter_totals() -> Samples {
    fixture_lines(include_str!(
        "../../tests/fixtures/thanos-downsample/realistic_counter_totals.txt"
    ))
    .map(|l| sample(l[0], l[1]))
    .collect()
}

/// Thanos's `TestDownsampleAndReadResultingData` input: a sample every
/// minute for ten hours, three in four of them NaN.
pub(crate) fn nan_gaps_raw() -> Samples {
    fixture_lines(include_str!(
        "../../tests/fixtures/thanos-downsample/nan_gaps_raw_1m.txt"
    ))
    .map(|l| sample(l[0], l[1]))
    .collect()
}

#[test]
fn fixture_files_hold_thanos_tables() {
    let raw = realistic_raw();
    assert_eq!(raw.iter().map(Vec::len).collect::<Vec<_>>(), [120, 117]);
    assert_eq!(
        raw[1]
            .iter()
            .filter(|s| aion_chunkenc::is_stale_nan(s.1))
            .count(),
        1
    );
    let t = realistic_5m();
    assert_eq!(t.each_ref().map(Vec::len), [12, 12, 12, 12, 14]);
    assert_eq!(realistic_counter_totals().len(), 236);
    let gaps = nan_gaps_raw();
    assert_eq!(gaps.len(), 593);
    assert_eq!(gaps.iter().filter(|s| !s.1.is_nan()).count(), 153);
}
