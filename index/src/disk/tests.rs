use proptest::prelude::*;

use super::*;
use crate::postings::Postings;
use crate::testutil::write_index;
use crate::{ChunkMeta, IndexReader, Labels};

fn ls(p: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(p).unwrap()
}

fn sample_series() -> Vec<(Labels, Vec<ChunkMeta>)> {
    let mut out = Vec::new();
    for (i, job) in ["api", "db", "web"].iter().enumerate() {
        for code in ["200", "500"] {
            let l = ls(&[
                ("__name__", "http_requests_total"),
                ("job", job),
                ("code", code),
            ]);
            out.push((l, i + 1));
        }
    }
    out.push((ls(&[("__name__", "up"), ("job", "api")]), 0));
    out.push((ls(&[("__name__", "weird"), ("path", "a\"b\n\u{e9}")]), 1));
    // Chunk references grow in label order, as in a real block.
    out.sort();
    let mut chunk_ref = 8u64;
    out.into_iter()
        .map(|(l, n)| {
            let chunks = (0..n as i64)
                .map(|k| {
                    chunk_ref += 100 + (1 << 31);
                    ChunkMeta::new(k * 1000 - 5, k * 1000 + 990, chunk_ref)
                })
                .collect();
            (l, chunks)
        })
        .collect()
}

fn sample_index_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = write_index(dir.path(), &sample_series(), WriterOptions::default());
        std::fs::read(path).unwrap()
    })
}

#[test]
fn round_trip_both_layouts() {
    for label_indices in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let series = sample_series();
        let path = write_index(dir.path(), &series, WriterOptions { label_indices });
        let r = IndexFileReader::open(&path).unwrap();
        r.verify().unwrap();
        let toc = *r.toc();
        assert_eq!(toc.symbols, 5);
        if label_indices {
            assert!(toc.label_indices < toc.postings);
            assert!(toc.label_offset_table < toc.postings_offset_table);
        } else {
            assert_eq!(toc.label_indices, toc.postings);
            assert_eq!(toc.label_offset_table, toc.postings_offset_table);
        }
        let mut want = series.clone();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        let got: Vec<_> = r.series_iter().map(|s| s.unwrap()).collect();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.labels, w.0);
            assert_eq!(g.chunks, w.1);
            assert_eq!(g.series_ref * 16 % 16, 0);
            let mut c = Vec::new();
            assert_eq!(r.series(g.series_ref, &mut c).unwrap(), w.0);
        }
        assert_eq!(
            r.label_names().unwrap(),
            vec!["__name__", "code", "job", "path"]
        );
        assert_eq!(r.label_values("job").unwrap(), vec!["api", "db", "web"]);
        let api = r.postings("job", &["api"]).unwrap().collect_refs();
        assert_eq!(api.len(), 3);
        assert_eq!(r.all_postings().unwrap().collect_refs().len(), want.len());
        assert!(r
            .postings("job", &["nope"])
            .unwrap()
            .collect_refs()
            .is_empty());
        assert!(r
            .postings("nope", &["api"])
            .unwrap()
            .collect_refs()
            .is_empty());
        crate::disk::walk_index_bytes(&std::fs::read(&path).unwrap()).unwrap();
    }
}

#[test]
fn many_values_use_sampled_lookups() {
    // More than 32 values per name exercises the sampled table lookup.
    let series: Vec<_> = (0..500)
        .map(|i| (ls(&[("__name__", "m"), ("id", &format!("{i:05}"))]), vec![]))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = write_index(dir.path(), &series, WriterOptions::default());
    let r = IndexFileReader::open(&path).unwrap();
    for i in (0..500).step_by(7) {
        let v = format!("{i:05}");
        let refs = r.postings("id", &[v.as_str()]).unwrap().collect_refs();
        assert_eq!(refs.len(), 1, "{v}");
        assert_eq!(
            r.series_labels(refs[0]).unwrap().get("id"),
            Some(v.as_str())
        );
    }
    assert!(r
        .postings("id", &["00000x", "99999", ""])
        .unwrap()
        .collect_refs()
        .is_empty());
    assert_eq!(r.label_values("id").unwrap().len(), 500);
}

#[test]
fn writer_enforces_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let mut w = IndexFileWriter::create(&path, WriterOptions::default()).unwrap();
    w.add_symbol("b").unwrap();
    assert!(w.add_symbol("a").is_err());
    assert!(w.add_symbol("b").is_err());
    w.add_symbol("c").unwrap();
    let l = ls(&[("b", "c")]);
    assert!(
        w.add_series(&ls(&[("b", "x")]), &[]).is_err(),
        "unknown symbol"
    );
    w.add_series(&l, &[]).unwrap();
    assert!(w.add_series(&l, &[]).is_err(), "duplicate series");
    assert!(w.add_symbol("d").is_err(), "symbols after series");
    drop(w);
    assert!(!path.exists(), "unfinished index removed");

    let mut w = IndexFileWriter::create(&path, WriterOptions::default()).unwrap();
    for s in ["a", "b"] {
        w.add_symbol(s).unwrap();
    }
    let bad = [ChunkMeta::new(0, 10, 5), ChunkMeta::new(10, 20, 6)];
    assert!(
        w.add_series(&ls(&[("a", "b")]), &bad).is_err(),
        "overlapping chunks"
    );
    let bad = [ChunkMeta::new(0, 10, 5), ChunkMeta::new(11, 20, 4)];
    assert!(
        w.add_series(&ls(&[("a", "b")]), &bad).is_err(),
        "decreasing refs"
    );
    assert!(w
        .add_series(&ls(&[("a", "b")]), &[ChunkMeta::new(5, 4, 0)])
        .is_err());
}

#[test]
fn empty_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_index(dir.path(), &[], WriterOptions::default());
    let r = IndexFileReader::open(&path).unwrap();
    r.verify().unwrap();
    assert_eq!(r.series_iter().count(), 0);
    assert!(r.label_names().unwrap().is_empty());
    assert!(r.all_postings().unwrap().collect_refs().is_empty());
}

#[test]
fn every_truncation_and_bit_flip_is_an_error_not_a_panic() {
    let good = sample_index_bytes();
    for n in 0..good.len() {
        assert!(walk_index_bytes(&good[..n]).is_err(), "truncated to {n}");
    }
    let mut corrupted_and_detected = 0;
    for i in 0..good.len() {
        let mut b = good.to_vec();
        b[i] ^= 0x40;
        if walk_index_bytes(&b).is_err() {
            corrupted_and_detected += 1;
        } else if std::env::var("SHOW_UNDETECTED").is_ok() {
            eprintln!("undetected flip at {i} (byte {:#x})", good[i]);
        }
    }
    // Flips in alignment padding are harmless; every byte that carries
    // data is covered by a checksum or a structural check.
    assert!(
        corrupted_and_detected > good.len() * 9 / 10,
        "{corrupted_and_detected}/{}",
        good.len()
    );
    let e = IndexFileReader::from_bytes(&good[..good.len() - 1])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("TOC"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    /// The fuzz target's property on stable: arbitrary bytes, and valid
    /// indexes with random damage, never make the reader panic.
    #[test]
    fn reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512),
                           flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4)) {
        let _ = walk_index_bytes(&bytes);
        let mut with_header = MAGIC.to_be_bytes().to_vec();
        with_header.push(FORMAT_V2);
        with_header.extend_from_slice(&bytes);
        let _ = walk_index_bytes(&with_header);
        let mut good = sample_index_bytes().to_vec();
        let n = good.len();
        for (at, x) in flips {
            good[at % n] ^= x;
        }
        let _ = walk_index_bytes(&good);
    }
}
