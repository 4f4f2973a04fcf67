//! Byte compatibility with integer histogram chunks that Prometheus wrote.
//!
//! `tests/data/prometheus-2.42-histogram-chunks.txt` holds the histograms a
//! test exporter served and the chunks Prometheus 2.42 m-mapped while
//! scraping them (see `tests/data/capture/README.md`): a counter histogram
//! whose buckets grow, gain new buckets (so the chunk is re-encoded) and
//! reset twice. Aion must decode those chunks to the served histograms and,
//! appending the served histograms at the scraped times, cut the same
//! chunks with the same bytes.

use aion_chunkenc::{
    AppendOutcome, HistogramAppender, HistogramIterator, SampleIterator, ValueType,
};
use aion_model::histogram::{Histogram, Span};

const VECTORS: &str = include_str!("data/prometheus-2.42-histogram-chunks.txt");

fn parse() -> (Vec<Histogram>, Vec<Vec<u8>>) {
    let mut served = Vec::new();
    let mut chunks = Vec::new();
    for line in VECTORS.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split(' ').collect();
        match f[0] {
            "histogram" => {
                let bits = |s: &str| f64::from_bits(u64::from_str_radix(s, 16).unwrap());
                served.push(Histogram {
                    schema: f[2].parse().unwrap(),
                    zero_threshold: bits(f[3]),
                    count: f[4].parse().unwrap(),
                    zero_count: f[5].parse().unwrap(),
                    sum: bits(f[6]),
                    positive_spans: f[7]
                        .split(',')
                        .map(|s| {
                            let (o, l) = s.split_once(':').unwrap();
                            Span {
                                offset: o.parse().unwrap(),
                                length: l.parse().unwrap(),
                            }
                        })
                        .collect(),
                    positive_buckets: f[8].split(',').map(|d| d.parse().unwrap()).collect(),
                    ..Histogram::default()
                });
            }
            "chunk" => {
                assert_eq!(f[3], "2", "integer histogram chunks only");
                let hex = f[4];
                chunks.push(
                    (0..hex.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                        .collect(),
                );
            }
            other => panic!("unknown line kind {other}"),
        }
    }
    (served, chunks)
}

/// Absolute counts by bucket index, so that layouts padded with empty
/// buckets compare equal to the served ones.
fn counts(h: &Histogram) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let (mut idx, mut acc, mut d) = (0i64, 0i64, h.positive_buckets.iter());
    for s in &h.positive_spans {
        idx += i64::from(s.offset);
        for _ in 0..s.length {
            acc += d.next().unwrap();
            if acc != 0 {
                out.push((idx, acc));
            }
            idx += 1;
        }
    }
    out
}

#[test]
fn prometheus_chunks_decode_to_the_served_histograms() {
    let (served, chunks) = parse();
    let mut k = 0;
    for bytes in &chunks {
        let mut it = HistogramIterator::new(bytes);
        let mut h = Histogram::default();
        while it.next() == ValueType::Histogram {
            it.at_histogram(&mut h);
            let want = &served[k];
            assert_eq!(
                (h.schema, h.count, h.zero_count, h.sum.to_bits()),
                (want.schema, want.count, want.zero_count, want.sum.to_bits()),
                "scrape {k}"
            );
            assert_eq!(counts(&h), counts(want), "scrape {k}");
            k += 1;
        }
        assert!(it.err().is_none(), "{:?}", it.err());
    }
    assert_eq!(k, 30);
}

#[test]
fn appending_the_served_histograms_cuts_the_same_chunks() {
    let (served, chunks) = parse();
    let mut times = Vec::new();
    for bytes in &chunks {
        let mut it = HistogramIterator::new(bytes);
        while it.next() == ValueType::Histogram {
            times.push(it.at_t());
        }
    }
    let mut ours = vec![HistogramAppender::new()];
    let mut recoded = 0;
    for (t, h) in times.iter().zip(&served) {
        match ours.last_mut().unwrap().append(*t, h).unwrap() {
            AppendOutcome::NewChunk(next) => ours.push(next),
            AppendOutcome::Recoded => recoded += 1,
            AppendOutcome::Appended => {}
        }
    }
    assert_eq!(recoded, 2, "new buckets at scrapes 5 and 15");
    assert_eq!(ours.len(), chunks.len());
    for (i, (app, theirs)) in ours.iter().zip(&chunks).enumerate() {
        let mine = app.bytes();
        // Prometheus 2.x's bit writer can leave one extra zero byte after a
        // chunk that ends on a byte boundary (fixed in 3.0); accept exactly
        // that shape.
        let same = mine == &theirs[..]
            || (theirs.len() == mine.len() + 1
                && theirs.ends_with(&[0])
                && theirs.starts_with(mine));
        assert!(
            same,
            "chunk {i}:\n ours   {mine:02x?}\n theirs {theirs:02x?}"
        );
    }
}
