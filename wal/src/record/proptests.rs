//! Property tests of every record codec: encoding then decoding gives the
//! input back (compared by re-encoding, so NaN payloads count), and no
//! byte string makes a decoder panic.

use aion_model::Labels;
use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

fn labels() -> impl Strategy<Value = Labels> {
    vec(("[a-zA-Z_][a-zA-Z0-9_]{0,6}", "\\PC{0,8}"), 0..6).prop_map(|pairs| {
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<(String, String)> = pairs
            .into_iter()
            .filter(|(n, _)| seen.insert(n.clone()))
            .collect();
        Labels::from_pairs(&unique).unwrap()
    })
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![any::<u64>().prop_map(f64::from_bits), -1e6f64..1e6]
}

fn spans() -> impl Strategy<Value = Vec<Span>> {
    vec(
        (any::<i32>(), any::<u32>()).prop_map(|(offset, length)| Span { offset, length }),
        0..4,
    )
}

fn schema() -> impl Strategy<Value = i32> {
    prop_oneof![-4i32..=8, Just(CUSTOM_BUCKETS_SCHEMA), any::<i32>()]
}

fn counter_reset_hint() -> impl Strategy<Value = CounterResetHint> {
    prop_oneof![
        Just(CounterResetHint::Unknown),
        Just(CounterResetHint::CounterReset),
        Just(CounterResetHint::NotCounterReset),
        Just(CounterResetHint::Gauge),
    ]
}

prop_compose! {
    fn histogram()(
        counter_reset_hint in counter_reset_hint(), schema in schema(), zero_threshold in float(),
        zero_count in any::<u64>(), count in any::<u64>(), sum in float(),
        positive_spans in spans(), negative_spans in spans(),
        positive_buckets in vec(any::<i64>(), 0..6), negative_buckets in vec(any::<i64>(), 0..6),
        custom in vec(float(), 0..4),
    ) -> Histogram {
        let custom_values = if schema == CUSTOM_BUCKETS_SCHEMA { custom } else { vec![] };
        Histogram {
            counter_reset_hint, schema, zero_threshold, zero_count, count, sum,
            positive_spans, negative_spans, positive_buckets, negative_buckets, custom_values,
        }
    }
}

prop_compose! {
    fn float_histogram()(
        counter_reset_hint in counter_reset_hint(), schema in schema(), zero_threshold in float(),
        zero_count in float(), count in float(), sum in float(),
        positive_spans in spans(), negative_spans in spans(),
        positive_buckets in vec(float(), 0..6), negative_buckets in vec(float(), 0..6),
        custom in vec(float(), 0..4),
    ) -> FloatHistogram {
        let custom_values = if schema == CUSTOM_BUCKETS_SCHEMA { custom } else { vec![] };
        FloatHistogram {
            counter_reset_hint, schema, zero_threshold, zero_count, count, sum,
            positive_spans, negative_spans, positive_buckets, negative_buckets, custom_values,
        }
    }
}

fn sample() -> impl Strategy<Value = RefSample> {
    (any::<u64>(), any::<i64>(), float()).prop_map(|(r#ref, t, v)| RefSample { r#ref, t, v })
}

/// Samples as a commit writes them: refs and times near the first
/// sample's (one- to three-byte deltas, now and then a longer one), which
/// the v1 decoder's fast loop reads.
fn commit_samples() -> impl Strategy<Value = Vec<RefSample>> {
    let delta = prop_oneof![4 => -8000i64..8000, 4 => -1_000_000i64..1_000_000, 1 => any::<i64>()];
    (
        any::<u64>(),
        any::<i64>(),
        vec((delta.clone(), delta, float()), 0..40),
    )
        .prop_map(|(r, t, rest)| {
            rest.into_iter()
                .map(|(dr, dt, v)| RefSample {
                    r#ref: r.wrapping_add(dr as u64),
                    t: t.wrapping_add(dt),
                    v,
                })
                .collect()
        })
}

fn metric_type() -> impl Strategy<Value = MetricType> {
    any::<u8>().prop_map(MetricType::from_byte)
}

/// Checks `decode(encode(x))` re-encodes to the same bytes, and that every
/// strict prefix of the record fails to decode or decodes to fewer items
/// (records are self-delimiting only as a whole).
fn round_trip<T: Default + Clone>(
    items: &[T],
    encode: impl Fn(&[T], &mut Vec<u8>),
    decode: impl Fn(&[u8], &mut Vec<T>) -> Result<(), DecodeError>,
) -> Result<(), TestCaseError> {
    let mut bytes = Vec::new();
    encode(items, &mut bytes);
    // Decoding into a vector with stale contents replaces them.
    let mut out = vec![T::default(); 3];
    decode(&bytes, &mut out).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(out.len(), items.len());
    let mut again = Vec::new();
    encode(&out, &mut again);
    prop_assert_eq!(&again, &bytes);
    for cut in 1..bytes.len() {
        if decode(&bytes[..cut], &mut out).is_ok() {
            prop_assert!(out.len() < items.len(), "prefix {cut} decoded all items");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn series(items in vec((any::<u64>(), labels()).prop_map(|(r#ref, labels)| RefSeries { r#ref, labels }), 0..5)) {
        round_trip(&items, encode_series, decode_series)?;
        let mut bytes = Vec::new();
        encode_series(&items, &mut bytes);
        let mut out = Vec::new();
        decode_series(&bytes, &mut out).unwrap();
        prop_assert_eq!(out, items);
    }

    #[test]
    fn samples_v1(items in vec(sample(), 0..20)) {
        round_trip(&items, encode_samples, decode_samples)?;
    }

    #[test]
    fn samples_v1_with_short_deltas(items in commit_samples()) {
        round_trip(&items, encode_samples, decode_samples)?;
        let mut bytes = Vec::new();
        encode_samples(&items, &mut bytes);
        let mut out = Vec::new();
        decode_samples(&bytes, &mut out).unwrap();
        prop_assert_eq!(out.len(), items.len());
        for (a, b) in out.iter().zip(&items) {
            prop_assert_eq!((a.r#ref, a.t, a.v.to_bits()), (b.r#ref, b.t, b.v.to_bits()));
        }
    }

    #[test]
    fn samples_v2(items in vec(sample(), 0..20)) {
        round_trip(&items, encode_samples_v2, decode_samples)?;
    }

    /// Decoding with a filter keeps exactly what decoding and then
    /// filtering keeps, appended after what `out` held, and counts the
    /// rest; a damaged record (any proper prefix that fails) adds nothing.
    #[test]
    fn samples_where_equals_decode_then_filter(items in commit_samples(), v2 in any::<bool>(), m in 1u64..4) {
        let mut bytes = Vec::new();
        if v2 { encode_samples_v2(&items, &mut bytes) } else { encode_samples(&items, &mut bytes) }
        let keep = |s: &RefSample| s.r#ref % m == 0;
        let held = RefSample { r#ref: 7, t: 7, v: 7.0 };
        let mut out = vec![held];
        let dropped = decode_samples_where(&bytes, &mut out, keep).unwrap();
        let want: Vec<RefSample> = std::iter::once(held).chain(items.iter().copied().filter(keep)).collect();
        let bits = |v: &[RefSample]| v.iter().map(|s| (s.r#ref, s.t, s.v.to_bits())).collect::<Vec<_>>();
        prop_assert_eq!(bits(&out), bits(&want));
        prop_assert_eq!(dropped as usize, items.len() + 1 - want.len());
        for cut in 1..bytes.len() {
            let mut out = vec![held];
            if decode_samples_where(&bytes[..cut], &mut out, keep).is_err() {
                prop_assert_eq!(bits(&out), bits(&[held]));
            }
        }
    }

    #[test]
    fn tombstones(items in vec((any::<u64>(), any::<i64>(), any::<i64>()).prop_map(|(r#ref, mint, maxt)| Tombstone { r#ref, interval: Interval { mint, maxt } }), 0..10)) {
        round_trip(&items, encode_tombstones, decode_tombstones)?;
    }

    #[test]
    fn exemplars(items in vec((sample(), labels()).prop_map(|(s, labels)| RefExemplar { r#ref: s.r#ref, t: s.t, v: s.v, labels }), 0..6)) {
        round_trip(&items, encode_exemplars, decode_exemplars)?;
    }

    #[test]
    fn mmap_markers(items in vec(any::<(u64, u64)>().prop_map(|(r#ref, mmap_ref)| RefMmapMarker { r#ref, mmap_ref }), 0..10)) {
        round_trip(&items, encode_mmap_markers, decode_mmap_markers)?;
    }

    #[test]
    fn metadata(items in vec((any::<u64>(), metric_type(), "\\PC{0,10}", "\\PC{0,30}").prop_map(|(r#ref, metric_type, unit, help)| RefMetadata { r#ref, metric_type, unit, help }), 0..6)) {
        round_trip(&items, encode_metadata, decode_metadata)?;
    }

    #[test]
    fn histogram_samples(items in vec((any::<u64>(), any::<i64>(), histogram()).prop_map(|(r#ref, t, h)| RefHistogramSample { r#ref, t, h }), 0..5)) {
        round_trip(&items, encode_histogram_samples, decode_histogram_samples)?;
        round_trip(&items, encode_custom_buckets_histogram_samples, decode_histogram_samples)?;
        round_trip(&items, encode_histogram_samples_v2, decode_histogram_samples)?;
    }

    #[test]
    fn float_histogram_samples(items in vec((any::<u64>(), any::<i64>(), float_histogram()).prop_map(|(r#ref, t, fh)| RefFloatHistogramSample { r#ref, t, fh }), 0..5)) {
        round_trip(&items, encode_float_histogram_samples, decode_float_histogram_samples)?;
        round_trip(&items, encode_custom_buckets_float_histogram_samples, decode_float_histogram_samples)?;
        round_trip(&items, encode_float_histogram_samples_v2, decode_float_histogram_samples)?;
    }

    /// The property of the `wal_records` fuzz target: no input panics.
    #[test]
    fn arbitrary_bytes_never_panic(mut bytes in vec(any::<u8>(), 0..300), typ in 0u8..16) {
        if let Some(b) = bytes.first_mut() {
            *b = typ;
        }
        let mut d = RecordDecoder::default();
        let _ = d.decode(&bytes);
        let _ = decode_series(&bytes, &mut Vec::new());
        let _ = decode_samples(&bytes, &mut Vec::new());
        let _ = decode_samples_where(&bytes, &mut Vec::new(), |s| s.t % 2 == 0);
        let _ = decode_tombstones(&bytes, &mut Vec::new());
        let _ = decode_exemplars(&bytes, &mut Vec::new());
        let _ = decode_mmap_markers(&bytes, &mut Vec::new());
        let _ = decode_metadata(&bytes, &mut Vec::new());
        let _ = decode_histogram_samples(&bytes, &mut Vec::new());
        let _ = decode_float_histogram_samples(&bytes, &mut Vec::new());
    }
}
