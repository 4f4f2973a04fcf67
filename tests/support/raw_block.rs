//! Writing a raw block of float series for the root integration tests
//! (downsampled queries, deduplication): XOR chunks of 120 samples, as
//! Prometheus cuts them, and a `thanos` meta section as a sidecar writes.

use std::path::Path;

use aion::chunkenc::{Encoding, XorAppender};
use aion::model::Labels;
use aion::storage::SeriesChunk;
use aion::tsdb::block::{Block, BlockMeta, BlockWriter, BlockWriterOptions, ThanosMeta, Ulid};

/// Samples per chunk, as Prometheus's head cuts them.
pub const CHUNK_SAMPLES: usize = 120;

/// Writes `series` as a block covering `[min_time, max_time)` in `dir` and
/// opens it.
pub fn write_raw(
    dir: &Path,
    series: &[(Labels, Vec<(i64, f64)>)],
    min_time: i64,
    max_time: i64,
) -> Block {
    let ulid = Ulid::generate();
    let mut w = BlockWriter::create(dir, ulid, BlockWriterOptions::default()).unwrap();
    let mut symbols: Vec<String> = series
        .iter()
        .flat_map(|(l, _)| {
            l.iter()
                .flat_map(|l| [l.name.to_string(), l.value.to_string()])
        })
        .collect();
    symbols.sort();
    symbols.dedup();
    for s in &symbols {
        w.add_symbol(s).unwrap();
    }
    let mut sorted: Vec<&(Labels, Vec<(i64, f64)>)> = series.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (labels, samples) in sorted {
        let chunks: Vec<_> = samples
            .chunks(CHUNK_SAMPLES)
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
    let mut meta = BlockMeta::new(ulid, min_time, max_time);
    meta.thanos = Some(ThanosMeta {
        source: "sidecar".to_string(),
        ..ThanosMeta::default()
    });
    w.finish(meta).unwrap().unwrap();
    Block::open(dir.join(ulid.to_string())).unwrap()
}
