//! Properties checked by the `chunk_thanos_aggr` fuzz target.
//!
//! They live in the library so that the nightly fuzzer and this crate's
//! stable proptests run the very same checks. The function takes arbitrary
//! bytes and panics only if a property is violated, never because the
//! input is malformed.

use crate::{
    downsample_aggr, downsample_hist_aggr, encode_aggr_chunk_parts, AggrChunk, AggrType, Scratch,
    RES_1H, RES_5M,
};

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

    for t in AggrType::ALL {
        match chunk.get(t) {
            Ok(Some(sub)) => {
                let declared = sub.num_samples();
                if let Ok(samples) = sub.samples() {
                    assert_eq!(samples.len(), declared, "{t}: sample count");
                }
            }
            Ok(None) => {}
            Err(err) => assert!(
                !err.to_string().is_empty(),
                "{t}: an error without a message"
            ),
        }
        // Histogram sub-chunks (sum and counter of a histogram series)
        // decode or fail with a message.
        let mut hists = Vec::new();
        if let Err(err) = chunk.histograms(t, &mut hists) {
            assert!(
                !err.to_string().is_empty(),
                "{t}: an error without a message"
            );
        }
    }
    let _ = chunk.num_samples();
    let _ = chunk.is_histogram();

    // Re-encoding what parsed gives a chunk that parses to the same
    // sub-chunks. (Not necessarily the same bytes: like Go's
    // `binary.Uvarint`, the reader accepts over-long varints.)
    let parts = AggrType::ALL.map(|t| chunk.raw(t));
    let mut encoded = Vec::new();
    encode_aggr_chunk_parts(parts, &mut encoded);
    let again = AggrChunk::parse(&encoded).expect("a re-encoded chunk parses");
    for t in AggrType::ALL {
        assert_eq!(
            again.raw(t),
            chunk.raw(t),
            "{t}: re-encoding changed the sub-chunk"
        );
    }

    let mut out = Vec::new();
    if chunk.is_histogram() {
        let _ = downsample_hist_aggr(&[chunk, chunk], 0, 2 * RES_1H, RES_5M, RES_1H, &mut out);
    } else {
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

    #[test]
    fn a_real_histogram_chunk_keeps_the_properties() {
        use aion_model::histogram::{FloatHistogram, Span};
        let raw: Vec<crate::HistSample> = (0..200i64)
            .map(|k| {
                let b = (k + 1) as f64;
                let h = FloatHistogram {
                    count: 3.0 * b,
                    sum: 2.0 * b,
                    positive_spans: vec![Span {
                        offset: 0,
                        length: 2,
                    }],
                    positive_buckets: vec![b, 2.0 * b],
                    ..FloatHistogram::default()
                };
                (k * 15_000, h)
            })
            .collect();
        let mut out = Vec::new();
        crate::downsample_raw_histograms(&raw, crate::RES_5M, &mut out).unwrap();
        assert!(!out.is_empty());
        for c in &out {
            super::aggr_chunk(&c.data);
        }
    }

    /// Found by the fuzzer: histogram sub-chunks whose bucket indices lie
    /// far apart overflowed the span arithmetic of histogram addition.
    #[test]
    fn far_apart_histogram_buckets_keep_the_properties() {
        super::aggr_chunk(&[
            0x0, 0x0, 0x0, 0x0, 0x7c, 0x2, 0x0, 0x1, 0x8, 0x7, 0x5d, 0x2c, 0xcc, 0xcc, 0x3d, 0x33,
            0xff, 0xfe, 0xfc, 0x7, 0x5d, 0x2c, 0xcc, 0xcc, 0x3d, 0x33, 0xff, 0xfe, 0xfc, 0xf7,
            0xcc, 0x3a, 0x0, 0x0, 0x0, 0x60, 0x0, 0xbf, 0xff, 0x20, 0x0, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf9, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x0, 0xc9, 0xc9, 0x10, 0x0, 0x0, 0x0, 0x0, 0x6, 0x0, 0x59, 0x2e, 0x2c, 0xc6, 0xc9,
        ]);
    }
}
