//! Properties checked by the `chunk_thanos_aggr` fuzz target.
//!
//! They live in the library so that the nightly fuzzer and this crate's
//! stable proptests run the very same checks. The function takes arbitrary
//! bytes and panics only if a property is violated, never because the
//! input is malformed.

use crate::{downsample_aggr, encode_aggr_chunk, AggrChunk, AggrType, Scratch, RES_1H, RES_5M};

/// Reads `data` as the body of a Thanos aggregate chunk (the bytes after
/// the 0xFF encoding byte) and checks that parsing either fails with a
/// message or gives sub-chunks that survive re-encoding unchanged, that
/// every sub-chunk decodes (or fails) within its declared sample count,
/// and that the 5 m → 1 h aggregation over it, which is what a Thanos
/// 5 m block read from disk goes through, returns instead of panicking.
pub fn aggr_chunk(data: &[u8]) {
    let chunk = match AggrChunk::parse(data) {
        Ok(chunk) => chunk,
        Err(err) => {
            assert!(!err.to_string().is_empty(), "an error without a message");
            return;
        }
    };

    let mut parts: [Option<Vec<u8>>; 5] = Default::default();
    for t in AggrType::ALL {
        match chunk.get(t) {
            Ok(Some(sub)) => {
                let declared = sub.num_samples();
                if let Ok(samples) = sub.samples() {
                    assert_eq!(samples.len(), declared, "{t}: sample count");
                }
                parts[t as usize] = Some(sub.bytes().to_vec());
            }
            Ok(None) => {}
            Err(err) => assert!(
                !err.to_string().is_empty(),
                "{t}: an error without a message"
            ),
        }
    }
    let _ = chunk.num_samples();

    // Re-encoding what parsed gives a chunk that parses to the same
    // sub-chunks. (Not necessarily the same bytes: like Go's
    // `binary.Uvarint`, the reader accepts over-long varints.)
    if AggrType::ALL.iter().all(|t| chunk.get(*t).is_ok()) {
        let mut encoded = Vec::new();
        encode_aggr_chunk(
            [
                parts[0].as_deref(),
                parts[1].as_deref(),
                parts[2].as_deref(),
                parts[3].as_deref(),
                parts[4].as_deref(),
            ],
            &mut encoded,
        );
        let again = AggrChunk::parse(&encoded).expect("a re-encoded chunk parses");
        for t in AggrType::ALL {
            let sub = again.get(t).expect("a re-encoded sub-chunk reads");
            assert_eq!(
                sub.as_ref().map(|c| c.bytes()),
                parts[t as usize].as_deref(),
                "{t}: re-encoding changed the sub-chunk"
            );
        }
    }

    let mut out = Vec::new();
    let _ = downsample_aggr(
        &[chunk, chunk],
        0,
        2 * RES_1H,
        RES_5M,
        RES_1H,
        &mut Scratch::default(),
        &mut out,
    );
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_keep_the_properties(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..200)
        ) {
            super::aggr_chunk(&data);
        }
    }

    /// Found by the fuzzer: `0x80 0x00` is an over-long varint 0, which
    /// parses (as Go's reader parses it) but re-encodes as `0x00`.
    #[test]
    fn over_long_varints_keep_the_properties() {
        super::aggr_chunk(&[0x80, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn a_real_chunk_keeps_the_properties() {
        use aion_chunkenc::XorAppender;
        let mut bodies = Vec::new();
        for k in 0..5 {
            let mut app = XorAppender::new();
            for i in 0..10i64 {
                app.append(i * 300_000, (i * (k + 1)) as f64).unwrap();
            }
            bodies.push(app.bytes().to_vec());
        }
        let mut data = Vec::new();
        crate::encode_aggr_chunk(
            [
                Some(&bodies[0]),
                Some(&bodies[1]),
                None,
                Some(&bodies[3]),
                Some(&bodies[4]),
            ],
            &mut data,
        );
        super::aggr_chunk(&data);
    }
}
