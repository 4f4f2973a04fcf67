//! Raw float chunks downsampled, Thanos's `TestDownsample` cases with raw
//! input and `TestExpandChunkIterator` (ported tables: see `mod.rs`).

use std::collections::BTreeMap;

use aion_chunkenc::STALE_NAN;

use super::{aggregates, nan_gaps_raw, write_block, xor_chunk};
use super::{downsample_series, read_raw, realistic_5m, realistic_raw, table, tables};
use super::{Samples, Table};
use crate::aggr::AggrType::{Count, Counter, Max, Min, Sum};
use crate::aggr::{AggrChunk, AggrType};
use crate::query::{series_samples, Aggregate};
use crate::{window_end, RES_1H, RES_5M};

/// Downsamples raw `chunks` to `resolution` through a block, as Thanos's
/// test does, and returns the output chunks' tables.
fn downsample(chunks: &[Samples], resolution: i64) -> Vec<Table> {
    let chunks: Vec<_> = chunks.iter().map(|c| xor_chunk(c)).collect();
    let (out, report) = downsample_series(0, resolution, &chunks).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    tables(&out)
}

/// Thanos's first raw chunk of the "single chunk" and "three chunks" cases.
fn first_chunk(last: f64) -> Samples {
    vec![
        (20, 1.0),
        (40, 2.0),
        (60, 3.0),
        (80, 1.0),
        (100, 2.0),
        (101, STALE_NAN),
        (120, 5.0),
        (180, 10.0),
        (250, last),
    ]
}

fn later_chunks() -> [Samples; 2] {
    [
        vec![
            (260, 1.0),
            (300, 10.0),
            (340, 15.0),
            (380, 25.0),
            (420, 35.0),
        ],
        vec![(460, STALE_NAN), (500, 10.0), (540, 3.0)],
    ]
}

/// `TestDownsample` "single chunk".
#[test]
fn single_chunk() {
    let got = downsample(&[first_chunk(1.0)], 100);
    let want = table(&[
        (Count, &[(99, 4.0), (199, 3.0), (250, 1.0)]),
        (Sum, &[(99, 7.0), (199, 17.0), (250, 1.0)]),
        (Min, &[(99, 1.0), (199, 2.0), (250, 1.0)]),
        (Max, &[(99, 3.0), (199, 10.0), (250, 1.0)]),
        (
            Counter,
            &[(20, 1.0), (99, 4.0), (199, 13.0), (250, 14.0), (250, 1.0)],
        ),
    ]);
    assert_eq!(got, [want]);
}

fn three_chunks_result() -> Table {
    let at = [99, 199, 299, 399, 499, 540];
    let zip = |vs: [f64; 6]| at.into_iter().zip(vs).collect::<Samples>();
    table(&[
        (Count, &zip([4.0, 3.0, 2.0, 3.0, 1.0, 2.0])),
        (Sum, &zip([7.0, 17.0, 3.0, 50.0, 35.0, 13.0])),
        (Min, &zip([1.0, 2.0, 1.0, 10.0, 35.0, 3.0])),
        (Max, &zip([3.0, 10.0, 2.0, 25.0, 35.0, 10.0])),
        (
            Counter,
            &[
                (20, 1.0),
                (99, 4.0),
                (199, 13.0),
                (299, 16.0),
                (399, 40.0),
                (499, 50.0),
                (540, 63.0),
                (540, 3.0),
            ],
        ),
    ])
}

/// `TestDownsample` "three chunks".
#[test]
fn three_chunks() {
    let [b, c] = later_chunks();
    let got = downsample(&[first_chunk(2.0), b, c], 100);
    assert_eq!(got, [three_chunks_result()]);
}

/// `TestDownsample` "four chunks, two of them overlapping": Thanos's
/// downsampler refuses the series ("found overlapping chunks within
/// series"). Aion refuses it earlier: its block writer does not write
/// overlapping chunks of a series, so no Aion block holds them
/// (`downsample_block` checks again for blocks written by others).
#[test]
fn four_chunks_two_of_them_overlapping_are_refused() {
    let [b, c] = later_chunks();
    let chunks: Vec<_> = [first_chunk(2.0), first_chunk(2.0), b, c]
        .iter()
        .map(|c| xor_chunk(c))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let err = write_block(dir.path(), 0, &chunks).err().unwrap();
    assert!(
        err.to_string()
            .contains("chunk min time 20 not after previous max time 250"),
        "{err}"
    );
}

/// `TestDownsample` "realistic 15s interval raw chunks": thanos#2401's
/// real counter, with a stale marker and a reset, to 5 m.
#[test]
fn realistic_15s_raw_chunks_to_5m() {
    let got = downsample(&realistic_raw(), RES_5M);
    assert_eq!(got, [realistic_5m()]);
}

/// `TestDownsample` "three chunks, the first one with NaN values only":
/// NaN samples (normal NaN and stale markers) are left out, so the first
/// chunk adds nothing and the counter starts at the first real sample.
#[test]
fn three_chunks_the_first_one_with_nan_values_only() {
    // Prometheus's `value.NormalNaN`, the same bits as Go's `math.NaN()`.
    let normal = f64::from_bits(0x7ff8_0000_0000_0001);
    let nans = vec![
        (20, normal),
        (40, normal),
        (60, normal),
        (80, normal),
        (100, f64::NAN),
        (101, STALE_NAN),
        (120, normal),
        (180, normal),
        (250, normal),
    ];
    let [b, c] = later_chunks();
    let got = downsample(&[nans, b, c], 100);
    let want = table(&[
        (Count, &[(299, 1.0), (399, 3.0), (499, 1.0), (540, 2.0)]),
        (Sum, &[(299, 1.0), (399, 50.0), (499, 35.0), (540, 13.0)]),
        (Min, &[(299, 1.0), (399, 10.0), (499, 35.0), (540, 3.0)]),
        (Max, &[(299, 1.0), (399, 25.0), (499, 35.0), (540, 10.0)]),
        (
            Counter,
            &[
                (260, 1.0),
                (299, 1.0),
                (399, 25.0),
                (499, 35.0),
                (540, 48.0),
                (540, 3.0),
            ],
        ),
    ]);
    assert_eq!(got, [want]);
}

/// `TestExpandChunkIterator`: reading a raw chunk drops stale markers and
/// samples older than the previous one, and keeps repeated timestamps
/// (the counter's last-raw-value markers).
#[test]
fn expand_chunk_drops_stale_markers_and_samples_back_in_time() {
    let got = read_raw(&[vec![
        (100, 1.0),
        (200, 2.0),
        (200, 3.0),
        (201, 4.0),
        (200, 5.0),
        (300, 6.0),
        (400, STALE_NAN),
        (500, 5.0),
    ]]);
    assert_eq!(
        got,
        [
            (100, 1.0),
            (200, 2.0),
            (200, 3.0),
            (201, 4.0),
            (300, 6.0),
            (500, 5.0)
        ]
    );
}

/// `TestDownsampleAndReadResultingData`: mostly-NaN raw data to 5 m and on
/// to 1 h. Thanos checks that every output chunk has all five aggregates
/// and that sum and count read back as averages without error; here also
/// that the windows hold exactly the non-NaN samples.
#[test]
fn mostly_nan_data_downsamples_and_reads_back() {
    let raw = nan_gaps_raw();
    let kept: Samples = raw.iter().copied().filter(|s| !s.1.is_nan()).collect();
    let (five, _) = downsample_series(0, RES_5M, &[xor_chunk(&raw)]).unwrap();
    let (hour, _) = downsample_series(RES_5M, RES_1H, &five).unwrap();
    for (out, res) in [(&five, RES_5M), (&hour, RES_1H)] {
        let last = kept.last().unwrap().0;
        let mut want: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
        for &(t, v) in &kept {
            want.entry(window_end(t, res).min(last))
                .or_default()
                .push(v);
        }
        let mut count = Vec::new();
        for c in out {
            let a = AggrChunk::parse(&c.data).unwrap();
            for t in AggrType::ALL {
                assert!(a.get(t).unwrap().is_some(), "{res}: {t} missing");
            }
            series_samples(&[a], Aggregate::Average).unwrap();
            count.extend(aggregates(c)[Count as usize].clone());
        }
        let want_count: Samples = want.iter().map(|(t, vs)| (*t, vs.len() as f64)).collect();
        assert_eq!(count, want_count, "{res}");
        let sums: Vec<f64> = out
            .iter()
            .flat_map(|c| aggregates(c)[Sum as usize].clone())
            .map(|s| s.1)
            .collect();
        assert_eq!(sums.len(), want.len(), "{res}");
        for (got, vs) in sums.iter().zip(want.values()) {
            let w: f64 = vs.iter().sum();
            assert!((got - w).abs() <= 1e-12 * w.abs(), "{res}: {got} vs {w}");
        }
    }
}

/// Difference from Thanos (deliberate), next to `TestExpandChunkIterator`:
/// Thanos's chunk reader starts its "not back in time" filter at time 0,
/// so it drops every sample before 1970 (and its window loop starts from
/// -1, folding such samples into one window). Aion keeps them, in their
/// own windows, rather than lose data.
#[test]
fn samples_before_1970_are_kept() {
    let raw = read_raw(&[vec![(-200, 1.0), (-100, 2.0), (50, 3.0)]]);
    assert_eq!(raw, [(-200, 1.0), (-100, 2.0), (50, 3.0)]);
    let mut out = Vec::new();
    crate::downsample_raw(&raw, 100, &mut Vec::new(), &mut out).unwrap();
    let got = tables(&out);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0][Count as usize], [(-101, 1.0), (-1, 1.0), (50, 1.0)]);
    assert_eq!(
        got[0][Counter as usize],
        [(-200, 1.0), (-101, 1.0), (-1, 2.0), (50, 3.0), (50, 3.0)]
    );
}
