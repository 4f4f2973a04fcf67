//! Reading native histograms out of a block allocates nothing once the
//! caller's histogram and the iterator's bucket vectors have the series'
//! widest layout: moving on to the next chunk reuses them.

#[path = "../../tests/support/counting_alloc.rs"]
mod counting_alloc;

use aion_chunkenc::{AppendOutcome, Encoding, HistogramAppender};
use aion_model::histogram::{Histogram, Span};
use aion_model::Labels;
use aion_storage::Queryable;
use aion_tsdb::block::{Block, BlockMeta, BlockWriter, BlockWriterOptions, Ulid};
use aion_tsdb::chunks::SeriesChunk;
use aion_tsdb::{SampleIterator, ValueType};
use counting_alloc::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

/// 600 samples of a 30-bucket counter histogram, cut every 100.
fn chunks() -> Vec<SeriesChunk> {
    let mut out = Vec::new();
    let mut h = Histogram {
        schema: 3,
        zero_threshold: 2f64.powi(-128),
        positive_spans: vec![
            Span {
                offset: -4,
                length: 20,
            },
            Span {
                offset: 3,
                length: 10,
            },
        ],
        positive_buckets: vec![1; 30],
        ..Histogram::default()
    };
    let mut app = HistogramAppender::new();
    let mut first = 0;
    for k in 0..600i64 {
        let t = k * 15_000;
        h.count += 30 * (k as u64 + 1);
        h.sum += 1.5;
        h.positive_buckets[0] += 1;
        if k > 0 && k % 100 == 0 {
            let next = app.start_after(t, &h).unwrap();
            let done = std::mem::replace(&mut app, next);
            out.push(chunk(first, t - 15_000, done.bytes()));
            first = t;
        } else {
            assert!(matches!(
                app.append(t, &h).unwrap(),
                AppendOutcome::Appended
            ));
        }
    }
    out.push(chunk(first, 599 * 15_000, app.bytes()));
    out
}

fn chunk(min_time: i64, max_time: i64, data: &[u8]) -> SeriesChunk {
    SeriesChunk {
        min_time,
        max_time,
        encoding: Encoding::Histogram,
        data: data.to_vec(),
    }
}

// One test: the counters are process-wide.
#[test]
fn reading_histogram_chunks_allocates_nothing_in_steady_state() {
    let dir = tempfile::tempdir().unwrap();
    let ulid = Ulid::generate();
    let mut w = BlockWriter::create(dir.path(), ulid, BlockWriterOptions::default()).unwrap();
    for s in ["", "__name__", "h"] {
        w.add_symbol(s).unwrap();
    }
    let chunks = chunks();
    assert_eq!(chunks.len(), 6);
    w.add_series(&Labels::from_pairs(&[("__name__", "h")]).unwrap(), &chunks)
        .unwrap();
    w.finish(BlockMeta::new(ulid, 0, 600 * 15_000)).unwrap();
    let block = Block::open(dir.path().join(ulid.to_string())).unwrap();
    let q = block.querier(i64::MIN, i64::MAX).unwrap();
    let mut set = q.select(true, None, &[]);
    let mut s = set.next().unwrap().unwrap();
    let mut h = Histogram::default();
    // The first chunk sizes the vectors.
    for _ in 0..100 {
        assert_eq!(s.samples.next(), ValueType::Histogram);
        s.samples.at_histogram(&mut h);
    }
    let base = ALLOC.allocations();
    let mut n = 100;
    while s.samples.next() == ValueType::Histogram {
        s.samples.at_histogram(&mut h);
        n += 1;
    }
    assert_eq!(
        ALLOC.allocations(),
        base,
        "allocations while reading chunks 2 to 6"
    );
    assert!(s.samples.err().is_none());
    assert_eq!(n, 600);
    assert_eq!(h.count, 30 * 600 * 601 / 2);
}
