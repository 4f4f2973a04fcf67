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

    // Batched reads (straight into the caller's arrays) yield the same
    // samples and the same error, whatever the buffer size.
    for room in [1usize, 7, 64, 300] {
        let mut it = XorIterator::new(data);
        let (mut ts, mut vs) = (vec![0i64; room], vec![0f64; room]);
        let mut batched = Vec::new();
        let mut vt = it.next();
        while vt == ValueType::Float {
            let (n, next) = it.read_floats(&mut ts, &mut vs, i64::MAX);
            assert!(
                n > 0 || next != ValueType::Float,
                "read_floats made no progress"
            );
            batched.extend(ts[..n].iter().zip(&vs[..n]).map(|(t, v)| (*t, v.to_bits())));
            vt = next;
        }
        let cursor: Vec<(i64, u64)> = samples.iter().map(|(t, v)| (*t, v.to_bits())).collect();
        assert_eq!(batched, cursor, "batched read disagrees (room {room})");
        assert_eq!(
            it.error().cloned(),
            error,
            "batched read's error (room {room})"
        );
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

/// Reads `data` as an integer histogram chunk (encoding 2) and checks that
/// decoding never panics, ends within the header's sample count, agrees
/// with seeking, and that the decoded histograms re-encode (through the
/// appender's own cut/re-encode decisions) to chunks that decode to the
/// same histograms.
pub fn histogram_chunk(data: &[u8]) {
    use crate::{AppendOutcome, HistogramAppender, HistogramIterator};
    use aion_model::histogram::Histogram;

    let mut it = HistogramIterator::new(data);
    let mut decoded: Vec<(i64, Histogram)> = Vec::new();
    while it.next() == ValueType::Histogram {
        let mut h = Histogram::default();
        let t = it.at_histogram(&mut h);
        let mut fh = aion_model::histogram::FloatHistogram::default();
        assert_eq!(it.at_float_histogram(&mut fh), t);
        decoded.push((t, h));
        assert!(
            decoded.len() <= it.num_samples(),
            "more samples than the header declares"
        );
    }
    let declared = it.num_samples();
    check_end(&mut it, decoded.len(), declared);
    check_seek(
        data,
        &decoded,
        HistogramIterator::new,
        |it: &HistogramIterator<'_>| {
            let mut h = Histogram::default();
            it.at_histogram(&mut h);
            h
        },
    );
    if let Ok(chunk) = Chunk::from_raw(2, data) {
        let mut it = chunk.iter();
        let mut n = 0;
        while it.next() == ValueType::Histogram {
            n += 1;
        }
        assert_eq!(n, decoded.len());
    }

    // Resuming continues after the decoded samples: a stale marker (which
    // always fits) decodes after them.
    let error = it.error().cloned();
    match HistogramAppender::resume(data.to_vec()) {
        Err(err) => assert_eq!(Some(err), error, "resume disagrees with the iterator"),
        Ok(mut app) => {
            assert!(
                error.is_none(),
                "resume accepted a chunk the iterator rejected"
            );
            assert_eq!(app.num_samples(), decoded.len());
            let stale = Histogram {
                sum: crate::STALE_NAN,
                counter_reset_hint: gauge_or_unknown(app.counter_reset_header()),
                ..Histogram::default()
            };
            let t = decoded.last().map_or(0, |(t, _)| t.wrapping_add(15_000));
            let outcome = app.append(t, &stale);
            if decoded.len() < crate::MAX_SAMPLES {
                assert!(
                    matches!(outcome, Ok(AppendOutcome::Appended)),
                    "{outcome:?}"
                );
                let mut it = app.iter();
                let mut n = 0;
                let mut last = Histogram::default();
                while it.next() == ValueType::Histogram {
                    it.at_histogram(&mut last);
                    n += 1;
                }
                assert!(
                    it.err().is_none(),
                    "resumed chunk unreadable: {:?}",
                    it.err()
                );
                assert_eq!(n, decoded.len() + 1);
                assert!(crate::is_stale_nan(last.sum));
            }
        }
    }

    // Re-encode and decode again.
    let mut chunks = vec![HistogramAppender::new()];
    for (t, h) in &decoded {
        let app = chunks.last_mut().expect("never empty");
        match app.append(*t, h) {
            Ok(AppendOutcome::NewChunk(next)) => chunks.push(next),
            Ok(_) => {}
            Err(_) => return, // malformed spans (negative offsets): not encodable
        }
    }
    let mut again = Vec::new();
    for app in &chunks {
        let mut it = app.iter();
        while it.next() == ValueType::Histogram {
            let mut h = Histogram::default();
            let t = it.at_histogram(&mut h);
            again.push((t, h));
        }
        assert!(
            it.err().is_none(),
            "re-encoded chunk unreadable: {:?}",
            it.err()
        );
    }
    assert_eq!(normal_int(&again), normal_int(&decoded));
}

/// [`histogram_chunk`] for float histogram chunks (encoding 3).
pub fn float_histogram_chunk(data: &[u8]) {
    use crate::{AppendOutcome, FloatHistogramAppender, FloatHistogramIterator};
    use aion_model::histogram::FloatHistogram;

    let mut it = FloatHistogramIterator::new(data);
    let mut decoded: Vec<(i64, FloatHistogram)> = Vec::new();
    while it.next() == ValueType::FloatHistogram {
        let mut h = FloatHistogram::default();
        let t = it.at_float_histogram(&mut h);
        decoded.push((t, h));
        assert!(
            decoded.len() <= it.num_samples(),
            "more samples than the header declares"
        );
    }
    let declared = it.num_samples();
    check_end(&mut it, decoded.len(), declared);
    check_seek(
        data,
        &decoded,
        FloatHistogramIterator::new,
        |it: &FloatHistogramIterator<'_>| {
            let mut h = FloatHistogram::default();
            it.at_float_histogram(&mut h);
            h
        },
    );

    let error = it.error().cloned();
    match FloatHistogramAppender::resume(data.to_vec()) {
        Err(err) => assert_eq!(Some(err), error, "resume disagrees with the iterator"),
        Ok(mut app) => {
            assert!(
                error.is_none(),
                "resume accepted a chunk the iterator rejected"
            );
            assert_eq!(app.num_samples(), decoded.len());
            let stale = FloatHistogram {
                sum: crate::STALE_NAN,
                counter_reset_hint: gauge_or_unknown(app.counter_reset_header()),
                ..FloatHistogram::default()
            };
            let t = decoded.last().map_or(0, |(t, _)| t.wrapping_add(15_000));
            let outcome = app.append(t, &stale);
            if decoded.len() < crate::MAX_SAMPLES {
                assert!(
                    matches!(outcome, Ok(AppendOutcome::Appended)),
                    "{outcome:?}"
                );
                let mut it = app.iter();
                let mut n = 0;
                let mut last = FloatHistogram::default();
                while it.next() == ValueType::FloatHistogram {
                    it.at_float_histogram(&mut last);
                    n += 1;
                }
                assert!(
                    it.err().is_none(),
                    "resumed chunk unreadable: {:?}",
                    it.err()
                );
                assert_eq!(n, decoded.len() + 1);
                assert!(crate::is_stale_nan(last.sum));
            }
        }
    }

    let mut chunks = vec![FloatHistogramAppender::new()];
    for (t, h) in &decoded {
        let app = chunks.last_mut().expect("never empty");
        match app.append(*t, h) {
            Ok(AppendOutcome::NewChunk(next)) => chunks.push(next),
            Ok(_) => {}
            Err(_) => return,
        }
    }
    let mut again = Vec::new();
    for app in &chunks {
        let mut it = app.iter();
        while it.next() == ValueType::FloatHistogram {
            let mut h = FloatHistogram::default();
            let t = it.at_float_histogram(&mut h);
            again.push((t, h));
        }
        assert!(
            it.err().is_none(),
            "re-encoded chunk unreadable: {:?}",
            it.err()
        );
    }
    assert_eq!(normal_float(&again), normal_float(&decoded));
}

/// The hint a stale marker needs to fit a chunk with this header.
fn gauge_or_unknown(
    header: aion_model::histogram::CounterResetHint,
) -> aion_model::histogram::CounterResetHint {
    use aion_model::histogram::CounterResetHint::{Gauge, Unknown};
    if header == Gauge {
        Gauge
    } else {
        Unknown
    }
}

/// After the last sample: stays exhausted, and without an error every
/// declared sample was decoded.
fn check_end<I: SampleIterator>(it: &mut I, decoded: usize, declared: usize) {
    assert_eq!(it.next(), ValueType::None, "exhausted iterator moved again");
    assert_eq!(
        it.seek(i64::MIN),
        ValueType::None,
        "exhausted iterator moved again"
    );
    match it.err() {
        Some(err) => assert!(!err.to_string().is_empty()),
        None => assert_eq!(decoded, declared, "stopped early without an error"),
    }
}

/// Seeking to the middle sample's time lands on the first sample at or
/// after it, as a linear scan says.
fn check_seek<'a, I: SampleIterator, H: std::fmt::Debug>(
    data: &'a [u8],
    decoded: &[(i64, H)],
    new: impl Fn(&'a [u8]) -> I,
    at: impl Fn(&I) -> H,
) {
    let Some((target, _)) = decoded.get(decoded.len() / 2) else {
        return;
    };
    let mut it = new(data);
    let expected = decoded.iter().position(|(t, _)| t >= target);
    if it.seek(*target) != ValueType::None {
        let i = expected.expect("seek found a sample the scan did not");
        assert_eq!(it.at_t(), decoded[i].0);
        assert_eq!(format!("{:?}", at(&it)), format!("{:?}", decoded[i].1));
    }
}

/// A histogram as `(time, fields, buckets by index)` with empty buckets
/// dropped and floats as bits: what must survive re-encoding whatever
/// layout padding the appender chose. A stale marker is only its sum.
/// The bits of `x`, with -0.0 as +0.0: the layout stores zero thresholds
/// and custom bounds of -0.0 in their short forms, which read back as +0.0.
fn unsigned_zero(x: f64) -> u64 {
    if x == 0.0 {
        0
    } else {
        x.to_bits()
    }
}

pub(crate) type Normal = (i64, Vec<u64>, Vec<(bool, i64, u64)>);

pub(crate) fn normal_int(hs: &[(i64, aion_model::histogram::Histogram)]) -> Vec<Normal> {
    use crate::histogram::bucket_indices;
    hs.iter()
        .map(|(t, h)| {
            if crate::is_stale_nan(h.sum) {
                return (*t, vec![h.sum.to_bits()], Vec::new());
            }
            let mut fields = vec![
                h.schema as u64,
                unsigned_zero(h.zero_threshold),
                h.zero_count,
                h.count,
                h.sum.to_bits(),
            ];
            fields.extend(h.custom_values.iter().map(|&x| unsigned_zero(x)));
            let mut buckets = Vec::new();
            for (negative, spans, deltas) in [
                (false, &h.positive_spans, &h.positive_buckets),
                (true, &h.negative_spans, &h.negative_buckets),
            ] {
                let mut acc = 0i64;
                for (idx, d) in bucket_indices(spans).zip(deltas.iter()) {
                    acc = acc.wrapping_add(*d);
                    if acc != 0 {
                        buckets.push((negative, idx, acc as u64));
                    }
                }
            }
            (*t, fields, buckets)
        })
        .collect()
}

pub(crate) fn normal_float(hs: &[(i64, aion_model::histogram::FloatHistogram)]) -> Vec<Normal> {
    use crate::histogram::bucket_indices;
    hs.iter()
        .map(|(t, h)| {
            if crate::is_stale_nan(h.sum) {
                return (*t, vec![h.sum.to_bits()], Vec::new());
            }
            let mut fields = vec![
                h.schema as u64,
                unsigned_zero(h.zero_threshold),
                h.zero_count.to_bits(),
                h.count.to_bits(),
                h.sum.to_bits(),
            ];
            fields.extend(h.custom_values.iter().map(|&x| unsigned_zero(x)));
            let mut buckets = Vec::new();
            for (negative, spans, values) in [
                (false, &h.positive_spans, &h.positive_buckets),
                (true, &h.negative_spans, &h.negative_buckets),
            ] {
                for (idx, v) in bucket_indices(spans).zip(values.iter()) {
                    if *v != 0.0 {
                        buckets.push((negative, idx, v.to_bits()));
                    }
                }
            }
            (*t, fields, buckets)
        })
        .collect()
}

/// Reads `data` as an XOR2 chunk (encoding 4): decoding never panics, ends
/// within the header's count, agrees with seeking, and the decoded samples
/// (start timestamps included) re-encode to a chunk that decodes to them.
pub fn xor2_chunk(data: &[u8]) {
    use crate::{Xor2Appender, Xor2Iterator};

    let mut it = Xor2Iterator::new(data);
    let mut samples = Vec::new();
    while it.next() == ValueType::Float {
        let (t, v) = it.at();
        samples.push((it.at_st(), t, v.to_bits()));
        assert!(
            samples.len() <= it.num_samples(),
            "more samples than the header declares"
        );
    }
    let declared = it.num_samples();
    check_end(&mut it, samples.len(), declared);
    if let Some(&(_, target, _)) = samples.get(samples.len() / 2) {
        let mut it = Xor2Iterator::new(data);
        let expected = samples.iter().position(|&(_, t, _)| t >= target);
        if it.seek(target) == ValueType::Float {
            let (t, v) = it.at();
            let want = samples[expected.expect("seek found a sample the scan did not")];
            assert_eq!((it.at_st(), t, v.to_bits()), want);
        }
    }
    let mut app = Xor2Appender::new();
    for &(st, t, v) in &samples {
        app.append(st, t, f64::from_bits(v))
            .expect("at most 65535 samples");
    }
    let mut it = app.iter();
    let mut again = Vec::new();
    while it.next() == ValueType::Float {
        let (t, v) = it.at();
        again.push((it.at_st(), t, v.to_bits()));
    }
    assert!(
        it.err().is_none(),
        "re-encoded chunk unreadable: {:?}",
        it.err()
    );
    assert_eq!(again, samples);
}
