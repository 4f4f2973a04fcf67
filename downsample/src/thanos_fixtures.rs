//! Thanos's downsampling test tables, as inline data (see NOTICE: the
//! inputs and expected aggregates follow Thanos's
//! `pkg/compact/downsample/downsample_test.go`, Apache-2.0).

use aion_chunkenc::{Encoding, XorAppender, STALE_NAN};
use aion_storage::SeriesChunk;

use crate::aggr::{AggrChunk, AggrType};
use crate::block::expand_raw;
use crate::float::{downsample_aggr_into, downsample_raw, downsample_raw_into, Scratch};

type Samples = Vec<(i64, f64)>;

/// A raw XOR chunk of `samples`.
fn xor_chunk(samples: &[(i64, f64)]) -> SeriesChunk<Vec<u8>> {
    let mut app = XorAppender::new();
    for &(t, v) in samples {
        app.append(t, v).unwrap();
    }
    SeriesChunk {
        min_time: samples[0].0,
        max_time: samples[samples.len() - 1].0,
        encoding: Encoding::Xor,
        data: app.bytes().to_vec(),
    }
}

/// What a downsampler reads from these raw chunks.
fn read_raw(chunks: &[&[(i64, f64)]]) -> Samples {
    let mut out = Vec::new();
    for c in chunks {
        expand_raw(&xor_chunk(c), &mut out).unwrap();
    }
    out
}

/// Every aggregate of an output chunk, absent ones empty.
fn aggregates(c: &SeriesChunk<Vec<u8>>) -> [Samples; 5] {
    assert_eq!(c.encoding, Encoding::ThanosAggr);
    let a = AggrChunk::parse(&c.data).unwrap();
    AggrType::ALL.map(|t| {
        a.get(t)
            .unwrap()
            .map_or_else(Vec::new, |x| x.samples().unwrap())
    })
}

fn counter(chunks: &[SeriesChunk<Vec<u8>>]) -> Samples {
    chunks
        .iter()
        .flat_map(|c| aggregates(c)[AggrType::Counter as usize].clone())
        .collect()
}

fn counter_totals(chunks: &[SeriesChunk<Vec<u8>>]) -> Samples {
    let parts: Vec<Samples> = chunks
        .iter()
        .map(|c| aggregates(c)[AggrType::Counter as usize].clone())
        .collect();
    let mut out = Vec::new();
    crate::apply_counter_resets(parts.iter().map(|p| p.as_slice()), &mut out);
    out
}

#[test]
fn single_chunk() {
    let raw = read_raw(&[&[
        (20, 1.0),
        (40, 2.0),
        (60, 3.0),
        (80, 1.0),
        (100, 2.0),
        (101, STALE_NAN),
        (120, 5.0),
        (180, 10.0),
        (250, 1.0),
    ]]);
    let mut out = Vec::new();
    downsample_raw(&raw, 100, &mut Vec::new(), &mut out).unwrap();
    assert_eq!(out.len(), 1);
    let [count, sum, min, max, counter] = aggregates(&out[0]);
    assert_eq!(count, [(99, 4.0), (199, 3.0), (250, 1.0)]);
    assert_eq!(sum, [(99, 7.0), (199, 17.0), (250, 1.0)]);
    assert_eq!(min, [(99, 1.0), (199, 2.0), (250, 1.0)]);
    assert_eq!(max, [(99, 3.0), (199, 10.0), (250, 1.0)]);
    assert_eq!(
        counter,
        [(20, 1.0), (99, 4.0), (199, 13.0), (250, 14.0), (250, 1.0)]
    );
    assert_eq!((out[0].min_time, out[0].max_time), (99, 250));
}

#[test]
fn three_chunks() {
    let raw = read_raw(&[
        &[
            (20, 1.0),
            (40, 2.0),
            (60, 3.0),
            (80, 1.0),
            (100, 2.0),
            (101, STALE_NAN),
            (120, 5.0),
            (180, 10.0),
            (250, 2.0),
        ],
        &[
            (260, 1.0),
            (300, 10.0),
            (340, 15.0),
            (380, 25.0),
            (420, 35.0),
        ],
        &[(460, STALE_NAN), (500, 10.0), (540, 3.0)],
    ]);
    let mut out = Vec::new();
    downsample_raw(&raw, 100, &mut Vec::new(), &mut out).unwrap();
    assert_eq!(out.len(), 1);
    let [count, sum, min, max, counter] = aggregates(&out[0]);
    let at = [99, 199, 299, 399, 499, 540];
    let zip = |vs: [f64; 6]| at.into_iter().zip(vs).collect::<Samples>();
    assert_eq!(count, zip([4.0, 3.0, 2.0, 3.0, 1.0, 2.0]));
    assert_eq!(sum, zip([7.0, 17.0, 3.0, 50.0, 35.0, 13.0]));
    assert_eq!(min, zip([1.0, 2.0, 1.0, 10.0, 35.0, 3.0]));
    assert_eq!(max, zip([3.0, 10.0, 2.0, 25.0, 35.0, 10.0]));
    assert_eq!(
        counter,
        [
            (20, 1.0),
            (99, 4.0),
            (199, 13.0),
            (299, 16.0),
            (399, 40.0),
            (499, 50.0),
            (540, 63.0),
            (540, 3.0)
        ]
    );
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
