//! Properties checked by the fuzz targets in `fuzz/fuzz_targets/`, kept in
//! the library so the nightly fuzzer and the stable proptests run the same
//! checks. Each function takes arbitrary bytes and panics only if a
//! property is violated, never because the input is malformed.

use aion_chunkenc::{Chunk, SampleIterator, ValueType};

use crate::chunks::head_file::scan_file;

/// Reads `data` as a `chunks_head/` file: scanning never panics, every
/// record it accepts lies within the file in order, and decoding each
/// accepted chunk (of any encoding the head writes) terminates within its
/// sample count.
pub fn head_chunk_file(data: &[u8]) {
    let mut last_end = 0;
    let mut found = Vec::new();
    let result = scan_file(7, data, |c| found.push(c));
    for c in &found {
        assert!(c.data_start <= c.data_end && c.data_end + 4 <= data.len());
        assert!(c.chunk_ref.offset() as usize >= last_end, "records overlap");
        last_end = c.data_end + 4;
        assert_eq!(c.chunk_ref.file(), 7);
        let bytes = &data[c.data_start..c.data_end];
        let Ok(chunk) = Chunk::from_raw(c.encoding, bytes) else {
            continue;
        };
        let limit = chunk.num_samples();
        let mut it = chunk.iter();
        let mut n = 0;
        while it.next() != ValueType::None {
            n += 1;
            assert!(n <= limit, "decoded more samples than declared");
        }
    }
    if let Err(e) = result {
        assert_eq!(e.file, 7);
        assert!(
            e.offset as usize <= data.len(),
            "damage reported beyond the file"
        );
        assert!(!e.reason.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::HeadChunkStore;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The fuzz target's property over arbitrary bytes, and over
        /// valid files with a byte flipped.
        #[test]
        fn head_chunk_file_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            head_chunk_file(&data);
            let mut with_header = vec![0x01, 0x30, 0xBC, 0x91, 1, 0, 0, 0];
            with_header.extend_from_slice(&data);
            head_chunk_file(&with_header);
        }

        #[test]
        fn written_files_scan_back_and_damage_is_found(
            chunks in proptest::collection::vec((1u64..1000, 1usize..50), 1..20),
            flip in any::<prop::sample::Index>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = HeadChunkStore::open(dir.path(), false).unwrap();
            let mut written = Vec::new();
            for (series, n) in &chunks {
                let mut app = aion_chunkenc::XorAppender::new();
                for i in 0..*n {
                    app.append(i as i64 * 15_000, (*series * i as u64) as f64).unwrap();
                }
                let r = store.write_chunk(*series, 0, (*n as i64 - 1) * 15_000, 1, app.bytes()).unwrap();
                written.push((r, *series, app.bytes().to_vec()));
            }
            store.sync().unwrap();
            drop(store);
            let data = std::fs::read(dir.path().join("000001")).unwrap();
            let mut seen = Vec::new();
            scan_file(1, &data, |c| seen.push(c)).unwrap();
            prop_assert_eq!(seen.len(), written.len());
            for (c, (r, series, bytes)) in seen.iter().zip(&written) {
                prop_assert_eq!(c.chunk_ref, *r);
                prop_assert_eq!(c.series_ref, *series);
                prop_assert_eq!(&data[c.data_start..c.data_end], &bytes[..]);
            }
            head_chunk_file(&data);
            let mut bad = data.clone();
            let i = 8 + flip.index(bad.len() - 8);
            bad[i] ^= 0x40;
            let mut n = 0;
            prop_assert!(scan_file(1, &bad, |_| n += 1).is_err() || n < written.len() || bad == data);
        }
    }
}
