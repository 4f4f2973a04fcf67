//! Generated round-trip and robustness properties.

use proptest::prelude::*;

use super::*;
use crate::STALE_NAN;

/// Strictly increasing timestamps: either anywhere in the i64 range (huge
/// deltas, wrapping dods) or scrape-like (a regular interval plus jitter).
fn timestamps() -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        prop::collection::btree_set(any::<i64>(), 0..150).prop_map(|s| s.into_iter().collect()),
        (
            any::<i64>(),
            1i64..2_000_000,
            0i64..20_000,
            prop::collection::vec(any::<u32>(), 0..300)
        )
            .prop_map(|(start, interval, jitter, noise)| {
                let start = start / 4; // leave room for the series to grow
                let mut t = start;
                noise
                    .into_iter()
                    .map(|n| {
                        let jitter = if jitter == 0 {
                            0
                        } else {
                            i64::from(n) % (2 * jitter + 1) - jitter
                        };
                        t += (interval + jitter).max(1);
                        t
                    })
                    .collect()
            }),
    ]
}

/// Value bits: arbitrary, or drawn from a small pool so that repeats,
/// small changes, NaNs and signed zeros are common.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        prop::sample::select(vec![
            0.0,
            -0.0,
            1.0,
            1.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            STALE_NAN,
            f64::from_bits(0x7ff8_dead_beef_0001),
            f64::MIN_POSITIVE,
            f64::MAX,
            1e-300,
        ]),
        (0u32..1000).prop_map(|n| f64::from(n) * 0.25),
    ]
}

fn series() -> impl Strategy<Value = Vec<(i64, f64)>> {
    timestamps().prop_flat_map(|ts| {
        let n = ts.len();
        (Just(ts), prop::collection::vec(value(), n))
            .prop_map(|(ts, vs)| ts.into_iter().zip(vs).collect())
    })
}

fn encode(samples: &[(i64, f64)]) -> XorAppender {
    let mut app = XorAppender::new();
    for &(t, v) in samples {
        app.append(t, v).unwrap();
    }
    app
}

fn bits(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
    samples.iter().map(|&(t, v)| (t, v.to_bits())).collect()
}

/// Flips the bits `flips` pick, cuts the chunk at `cut` (keeping at least
/// `keep` bytes) and appends `tail`: damage that reaches deeper into the
/// decoder than random bytes.
fn damage(
    bytes: &mut Vec<u8>,
    flips: &[prop::sample::Index],
    cut: prop::sample::Index,
    keep: usize,
    tail: &[u8],
) {
    let bit_count = bytes.len() * 8;
    for flip in flips {
        let bit = flip.index(bit_count);
        bytes[bit / 8] ^= 0x80 >> (bit % 8);
    }
    bytes.truncate(cut.index(bytes.len() + 1).max(keep));
    bytes.extend_from_slice(tail);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip_keeps_every_bit(samples in series()) {
        let app = encode(&samples);
        prop_assert_eq!(app.num_samples(), samples.len());
        prop_assert_eq!(app.bytes().len() as u64, app.bit_len().div_ceil(8));
        let decoded = XorChunk::from_bytes(app.bytes()).unwrap().samples().unwrap();
        prop_assert_eq!(bits(&decoded), bits(&samples));
    }

    /// `first_time` (read from the header's varint) is the first sample's
    /// time as decoding finds it.
    #[test]
    fn first_time_is_the_first_decoded_time(samples in series()) {
        let app = encode(&samples);
        prop_assert_eq!(app.first_time(), samples.first().map(|s| s.0));
    }

    /// `read_floats` copies exactly the samples the `at`/`next` loop
    /// visits, for any buffer size and bound, and leaves the iterator on
    /// the first sample it did not copy.
    #[test]
    fn read_floats_equals_the_cursor_loop(
        samples in series(),
        room in prop_oneof![1usize..40, 40usize..300],
        bound in any::<prop::sample::Index>(),
        start in any::<prop::sample::Index>(),
    ) {
        prop_assume!(!samples.is_empty());
        let app = encode(&samples);
        let from = samples[start.index(samples.len())].0;
        let maxt = samples[bound.index(samples.len())].0;
        let want: Vec<(i64, u64)> = samples
            .iter()
            .filter(|s| s.0 >= from && s.0 <= maxt)
            .map(|s| (s.0, s.1.to_bits()))
            .collect();
        let mut it = app.iter();
        let (mut ts, mut vs) = (vec![0i64; room], vec![0f64; room]);
        let mut got = Vec::new();
        let mut vt = it.seek(from);
        while vt == ValueType::Float {
            let (n, next) = it.read_floats(&mut ts, &mut vs, maxt);
            got.extend(ts[..n].iter().zip(&vs[..n]).map(|(t, v)| (*t, v.to_bits())));
            vt = next;
            if vt == ValueType::Float {
                // Positioned on the first sample not copied.
                let at = it.at_t();
                prop_assert!(at > maxt || n == room, "at {} after {} of {}", at, n, room);
                if at > maxt {
                    break;
                }
            }
        }
        prop_assert_eq!(got, want);
    }

    #[test]
    fn seek_finds_the_first_sample_at_or_after(samples in series(), pick in any::<prop::sample::Index>(), offset in -2i64..3) {
        prop_assume!(!samples.is_empty());
        let app = encode(&samples);
        let target = samples[pick.index(samples.len())].0.saturating_add(offset);
        let mut it = app.iter();
        match samples.iter().position(|&(t, _)| t >= target) {
            Some(i) => {
                prop_assert_eq!(it.seek(target), ValueType::Float);
                prop_assert_eq!(it.at_t(), samples[i].0);
                prop_assert_eq!(it.at().1.to_bits(), samples[i].1.to_bits());
            }
            None => prop_assert_eq!(it.seek(target), ValueType::None),
        }
    }

    /// Resuming at any point decodes to the same samples; the bytes are
    /// identical to an uninterrupted encoding unless the Prometheus quirk
    /// applies (no value change before the split point).
    #[test]
    fn resume_anywhere(samples in series(), split in any::<prop::sample::Index>()) {
        let split = split.index(samples.len() + 1);
        let whole = encode(&samples);
        let mut app = XorAppender::resume(encode(&samples[..split]).bytes().to_vec()).unwrap();
        for &(t, v) in &samples[split..] {
            app.append(t, v).unwrap();
        }
        prop_assert_eq!(bits(&app.chunk().samples().unwrap()), bits(&samples));
        let changed_before_split = samples[..split]
            .windows(2)
            .any(|w| w[0].1.to_bits() != w[1].1.to_bits());
        if changed_before_split || split == 0 {
            prop_assert_eq!(app.bytes(), whole.bytes());
        }
    }

    /// The fuzz target's property on stable, over arbitrary bytes.
    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..400)) {
        crate::fuzz::xor_chunk(&data);
    }

    /// ... and over valid chunks with a few bits flipped, cut short or
    /// extended, which reach deeper than random bytes.
    #[test]
    fn damaged_chunks_never_panic(
        samples in series(),
        flips in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        cut in any::<prop::sample::Index>(),
        tail in prop::collection::vec(any::<u8>(), 0..3),
    ) {
        let mut bytes = encode(&samples).into_chunk().into_inner();
        let keep = bytes.len().saturating_sub(8);
        damage(&mut bytes, &flips, cut, keep, &tail);
        crate::fuzz::xor_chunk(&bytes);
    }

    /// The common-case loop decodes exactly what the full per-sample
    /// decoder does, samples and error (sample index, bit offset), on
    /// valid chunks with bits flipped, cut short or extended.
    #[test]
    fn fast_path_equals_the_full_decoder(
        samples in series(),
        flips in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        cut in any::<prop::sample::Index>(),
        tail in prop::collection::vec(any::<u8>(), 0..3),
    ) {
        let mut bytes = encode(&samples).into_chunk().into_inner();
        let whole = iterator::decode_all(&bytes, false);
        prop_assert_eq!(&iterator::decode_all(&bytes, true), &whole);
        prop_assert_eq!(&whole.0, &bits(&samples));
        damage(&mut bytes, &flips, cut, 0, &tail);
        prop_assert_eq!(iterator::decode_all(&bytes, true), iterator::decode_all(&bytes, false));
    }

    /// ... and on arbitrary bytes.
    #[test]
    fn fast_path_equals_the_full_decoder_on_noise(data in prop::collection::vec(any::<u8>(), 0..400)) {
        prop_assert_eq!(iterator::decode_all(&data, true), iterator::decode_all(&data, false));
    }
}
