//! Properties checked by the fuzz targets in `fuzz/fuzz_targets/`.
//!
//! They live in the library so that the nightly fuzzer and the stable
//! proptests run the very same checks. Each function takes arbitrary bytes
//! and panics only if a property is violated, never because the input is
//! malformed.

use crate::{Chunk, SampleIterator, ValueType, XorAppender, XorIterator};

/// Reads `data` as XOR chunk bytes and checks that decoding terminates
/// within the sample count, never panics, and agrees with seeking,
/// re-encoding and resumed appending.
pub fn xor_chunk(data: &[u8]) {
    let mut it = XorIterator::new(data);
    let limit = it.num_samples();
    let mut samples = Vec::new();
    while it.next() == ValueType::Float {
        samples.push(it.at());
        assert!(
            samples.len() <= limit,
            "decoded more samples than the header declares"
        );
    }
    assert_eq!(it.next(), ValueType::None, "exhausted iterator moved again");
    assert_eq!(
        it.seek(i64::MIN),
        ValueType::None,
        "exhausted iterator moved again"
    );
    let error = it.error().cloned();
    assert_eq!(error.is_some(), it.err().is_some());
    if let Some(err) = &error {
        assert!(!err.to_string().is_empty());
    } else {
        assert_eq!(samples.len(), limit, "stopped early without an error");
    }

    // Seeking lands where a linear scan of the decoded samples says.
    if let Some(&(target, _)) = samples.get(samples.len() / 2) {
        let mut it = XorIterator::new(data);
        let expected = samples.iter().position(|&(t, _)| t >= target);
        match it.seek(target) {
            ValueType::Float => {
                let (t, v) = it.at();
                let (et, ev) = samples[expected.expect("seek found a sample the scan did not")];
                assert_eq!((t, v.to_bits()), (et, ev.to_bits()));
            }
            _ => assert!(expected.is_none() || error.is_some()),
        }
    }

    // The same bytes through the encoding-generic door.
    if let Ok(chunk) = Chunk::from_raw(1, data) {
        let mut it = chunk.iter();
        let mut n = 0;
        while it.next() == ValueType::Float {
            n += 1;
        }
        assert_eq!(n, samples.len());
    }

    match XorAppender::resume(data.to_vec()) {
        Err(err) => assert_eq!(Some(err), error, "resume disagrees with the iterator"),
        Ok(mut app) => {
            assert!(
                error.is_none(),
                "resume accepted a chunk the iterator rejected"
            );
            assert_eq!(app.num_samples(), samples.len());
            // Appending continues the decoded samples exactly.
            let next_t = samples.last().map_or(0, |&(t, _)| t.wrapping_add(15_000));
            let extra = [(next_t, 0.5), (next_t.wrapping_add(15_001), f64::NAN)];
            let mut appended = 0;
            for &(t, v) in &extra {
                if app.append(t, v).is_ok() {
                    appended += 1;
                }
            }
            let mut all = samples.clone();
            all.extend_from_slice(&extra[..appended]);
            assert_bits_eq(
                &app.chunk().samples().expect("resumed chunk unreadable"),
                &all,
            );
        }
    }

    // Decoded samples re-encode to a chunk that decodes to them again.
    if error.is_none() {
        let mut app = XorAppender::new();
        for &(t, v) in &samples {
            app.append(t, v).expect("at most 65535 samples");
        }
        assert_bits_eq(
            &app.chunk().samples().expect("re-encoded chunk unreadable"),
            &samples,
        );
    }
}

fn assert_bits_eq(got: &[(i64, f64)], want: &[(i64, f64)]) {
    let bits = |s: &[(i64, f64)]| s.iter().map(|&(t, v)| (t, v.to_bits())).collect::<Vec<_>>();
    assert_eq!(bits(got), bits(want));
}
