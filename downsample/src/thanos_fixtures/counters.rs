//! Counter handling and the readers of aggregate chunks: Thanos's
//! `TestDownsampleCounterBoundaryReset`, `TestApplyCounterResetsIterator`,
//! `TestCounterSeriesIteratorSeek*` and `TestAverageChunkIterator`
//! (ported tables: see `mod.rs`).
//!
//! Aion has no counter iterator: `apply_counter_resets` expands counter
//! sub-chunks into totals, and `series_samples` is what a query reads
//! (then trimmed to the query's range). The iterator tests are ported to
//! those.

use aion_chunkenc::STALE_NAN;

use super::{aggr_chunk, realistic_5m, realistic_counter_totals, realistic_raw, table, Samples};
use crate::aggr::{AggrChunk, AggrType};
use crate::apply_counter_resets;
use crate::float::{downsample_aggr_into, downsample_raw_into, Scratch};
use crate::query::{series_samples, Aggregate};

fn counter(chunks: &[aion_storage::SeriesChunk<Vec<u8>>]) -> Samples {
    chunks
        .iter()
        .flat_map(|c| super::aggregates(c)[AggrType::Counter as usize].clone())
        .collect()
}

fn totals(parts: &[Samples]) -> Samples {
    let mut out = Vec::new();
    apply_counter_resets(parts.iter().map(Vec::as_slice), &mut out);
    out
}

fn counter_totals(chunks: &[aion_storage::SeriesChunk<Vec<u8>>]) -> Samples {
    let parts: Vec<Samples> = chunks
        .iter()
        .map(|c| super::aggregates(c)[AggrType::Counter as usize].clone())
        .collect();
    totals(&parts)
}

/// Thanos's `TestDownsampleCounterBoundaryReset` (thanos#1568): resets at
/// chunk boundaries survive only if each chunk keeps its first raw sample
/// and last raw value.
#[test]
fn counter_reset_at_chunk_boundaries() {
    let raw: Samples = vec![
        (10, 1.0),
        (20, 3.0),
        (30, 5.0),
        (50, 1.0),
        (60, 8.0),
        (70, 10.0),
        (120, 1.0),
        (130, 18.0),
        (140, 20.0),
        (160, 21.0),
        (170, 38.0),
        (180, 40.0),
    ];
    // More chunks than samples: one window per chunk.
    let mut first = Vec::new();
    downsample_raw_into(&raw, 50, Some(raw.len() + 1), &mut Vec::new(), &mut first).unwrap();
    assert_eq!(first.len(), 4);
    assert_eq!(
        counter(&first),
        [
            (10, 1.0),
            (30, 5.0),
            (30, 5.0),
            (50, 1.0),
            (70, 10.0),
            (70, 10.0),
            (120, 1.0),
            (140, 20.0),
            (140, 20.0),
            (160, 21.0),
            (180, 40.0),
            (180, 40.0)
        ]
    );
    assert_eq!(
        counter_totals(&first),
        [
            (10, 1.0),
            (30, 5.0),
            (50, 6.0),
            (70, 15.0),
            (120, 16.0),
            (140, 35.0),
            (160, 36.0),
            (180, 55.0)
        ]
    );

    let parsed: Vec<AggrChunk<'_>> = first
        .iter()
        .map(|c| AggrChunk::parse(&c.data).unwrap())
        .collect();
    let mut second = Vec::new();
    downsample_aggr_into(&parsed, 100, 2, &mut Scratch::default(), &mut second).unwrap();
    assert_eq!(second.len(), 2);
    assert_eq!(
        counter(&second),
        [
            (10, 1.0),
            (70, 15.0),
            (70, 10.0),
            (120, 1.0),
            (180, 40.0),
            (180, 40.0)
        ]
    );
    assert_eq!(
        counter_totals(&second),
        [(10, 1.0), (70, 15.0), (120, 16.0), (180, 55.0)]
    );
}

/// Thanos's check on every `TestApplyCounterResetsIterator` result: time
/// and value never go down.
fn assert_monotonic(s: &[(i64, f64)]) {
    for w in s.windows(2) {
        assert!(w[1].0 >= w[0].0, "time goes back: {:?}", w);
        assert!(w[1].1 >= w[0].1, "value goes down: {:?}", w);
    }
}

/// `TestApplyCounterResetsIterator` "series with stale marker".
#[test]
fn apply_counter_resets_series_with_stale_marker() {
    let chunks: Vec<Samples> = vec![
        first_counter_chunk(),
        // No reset, just downsampling added sample at the end.
        vec![
            (500, 10.0),
            (600, 20.0),
            (700, 30.0),
            (800, 40.0),
            (800, 10.0),
        ],
        // Actual reset.
        vec![(900, 5.0), (1000, 10.0), (1100, 15.0)],
        // No special last sample, no reset.
        vec![(1200, 20.0), (1250, STALE_NAN), (1300, 40.0)],
        // No special last sample, reset.
        vec![(1400, 30.0), (1500, 30.0), (1600, 50.0)],
    ];
    let got = totals(&chunks);
    let want: Samples = vec![
        (100, 10.0),
        (200, 20.0),
        (300, 30.0),
        (400, 40.0),
        (500, 45.0),
        (600, 55.0),
        (700, 65.0),
        (800, 75.0),
        (900, 80.0),
        (1000, 85.0),
        (1100, 90.0),
        (1200, 95.0),
        (1300, 115.0),
        (1400, 145.0),
        (1500, 145.0),
        (1600, 165.0),
    ];
    assert_eq!(got, want);
    assert_monotonic(&got);
}

/// `TestApplyCounterResetsIterator` "realistic raw data with 2 chunks that
/// have one stale marker" (thanos#2401).
#[test]
fn apply_counter_resets_realistic_raw_data() {
    let got = totals(&realistic_raw());
    assert_eq!(got, realistic_counter_totals());
    assert_monotonic(&got);
}

/// `TestApplyCounterResetsIterator` "realistic raw data with many
/// overlapping chunks with stale markers": the same chunks repeated, as a
/// query over several stores may return them.
#[test]
fn apply_counter_resets_realistic_overlapping_chunks() {
    let raw = realistic_raw();
    let mut chunks = vec![raw[0].clone(); 3];
    chunks.extend(std::iter::repeat_n(raw[1].clone(), 9));
    let got = totals(&chunks);
    assert_eq!(got, realistic_counter_totals());
    assert_monotonic(&got);
}

/// `TestApplyCounterResetsIterator` "the same above input, but after 5m
/// downsampling": the counter sub-chunk alone, and the same through
/// `series_samples`, which a `rate` over a 5 m block reads.
#[test]
fn apply_counter_resets_after_5m_downsampling() {
    let want: Samples = [
        (1587690005791, 461968.0),
        (1587690299999, 465870.0),
        (1587690599999, 469951.0),
        (1587690899999, 474726.0),
        (1587691199999, 479368.0),
        (1587691499999, 483566.0),
        (1587691799999, 487787.0),
        (1587692099999, 492065.0),
        (1587692399999, 496245.0),
        (1587692699999, 498647.0),
        (1587692999999, 502554.0),
        (1587693299999, 506786.0),
        (1587693590791, 511500.0),
    ]
    .to_vec();
    let table = realistic_5m();
    let got = totals(&[table[AggrType::Counter as usize].clone()]);
    assert_eq!(got, want);
    assert_monotonic(&got);
    let c = aggr_chunk(&table);
    let parsed = [AggrChunk::parse(&c.data).unwrap()];
    let read = series_samples(&parsed, Aggregate::One(AggrType::Counter)).unwrap();
    assert_eq!(read, want);
}

/// What a query starting at `mint` reads of the counter totals: the totals
/// of the whole chunk set (earlier samples feed the state), trimmed, as
/// `DownsampledQuerier` trims after `series_samples`. Thanos's iterator
/// does this with `Seek`.
fn from(totals: &[(i64, f64)], mint: i64) -> Samples {
    totals.iter().copied().filter(|s| s.0 >= mint).collect()
}

/// The first chunk of Thanos's "series with stale marker" case, also the
/// input of its `Seek` tests: a reset at 300, the last raw value 5 at 400.
fn first_counter_chunk() -> Samples {
    vec![
        (100, 10.0),
        (200, 20.0),
        (300, 10.0),
        (400, 20.0),
        (400, 5.0),
    ]
}

/// `TestCounterSeriesIteratorSeek`: from 150, the totals still count the
/// sample at 100 and the reset at 300.
#[test]
fn counter_totals_from_a_later_time_keep_earlier_state() {
    let c = aggr_chunk(&table(&[(AggrType::Counter, &first_counter_chunk())]));
    let parsed = [AggrChunk::parse(&c.data).unwrap()];
    let all = series_samples(&parsed, Aggregate::One(AggrType::Counter)).unwrap();
    assert_eq!(from(&all, 150), [(200, 20.0), (300, 30.0), (400, 40.0)]);
    // `TestCounterSeriesIteratorSeekExtendTs`: past the end, nothing.
    assert_eq!(from(&all, 500), []);
}

/// `TestCounterSeriesIteratorSeekAfterNext`: from before the first sample,
/// everything.
#[test]
fn counter_totals_from_before_the_first_sample() {
    let c = aggr_chunk(&table(&[(AggrType::Counter, &[(100, 10.0)])]));
    let parsed = [AggrChunk::parse(&c.data).unwrap()];
    let all = series_samples(&parsed, Aggregate::One(AggrType::Counter)).unwrap();
    assert_eq!(from(&all, 50), [(100, 10.0)]);
}

/// `TestAverageChunkIterator`: the average is sum / count per window.
#[test]
fn average_is_sum_over_count() {
    let c = aggr_chunk(&table(&[
        (
            AggrType::Sum,
            &[(100, 30.0), (200, 40.0), (300, 5.0), (400, -10.0)],
        ),
        (
            AggrType::Count,
            &[(100, 1.0), (200, 5.0), (300, 2.0), (400, 10.0)],
        ),
    ]));
    let parsed = [AggrChunk::parse(&c.data).unwrap()];
    let got = series_samples(&parsed, Aggregate::Average).unwrap();
    assert_eq!(got, [(100, 30.0), (200, 8.0), (300, 2.5), (400, -1.0)]);
}

/// Thanos's average iterator fails on sum and count of different lengths
/// ("sum and count iterator not aligned"); so does Aion's reader.
#[test]
fn average_of_misaligned_sum_and_count_is_an_error() {
    let c = aggr_chunk(&table(&[
        (AggrType::Sum, &[(100, 30.0), (200, 40.0)]),
        (AggrType::Count, &[(100, 1.0)]),
    ]));
    let parsed = [AggrChunk::parse(&c.data).unwrap()];
    let err = series_samples(&parsed, Aggregate::Average).unwrap_err();
    assert!(
        err.to_string()
            .contains("2 sum windows but 1 count windows"),
        "{err}"
    );
}
