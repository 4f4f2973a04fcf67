//! Invariants of the histogram operations over random histograms.

use proptest::prelude::*;

use super::{FloatHistogram, IndexedCounts, Span};

/// A random exponential float histogram with integer-valued counts (so
/// sums are exact) at schema −2…4.
fn histogram() -> impl Strategy<Value = FloatHistogram> {
    let side = proptest::collection::vec((0i32..4, 1u32..4), 0..4).prop_flat_map(|spans| {
        let n: u32 = spans.iter().map(|s| s.1).sum();
        (
            Just(spans),
            proptest::collection::vec(0u32..20, n as usize..=n as usize),
        )
    });
    (-2i32..5, side.clone(), side, 0u32..5, -5i32..5).prop_map(
        |(schema, (ps, pb), (ns, nb), zc, first)| {
            let spans = |v: &[(i32, u32)]| -> Vec<Span> {
                v.iter()
                    .enumerate()
                    .map(|(i, &(o, l))| Span {
                        offset: if i == 0 { first + o } else { o },
                        length: l,
                    })
                    .collect()
            };
            let pb: Vec<f64> = pb.into_iter().map(f64::from).collect();
            let nb: Vec<f64> = nb.into_iter().map(f64::from).collect();
            let count = pb.iter().sum::<f64>() + nb.iter().sum::<f64>() + f64::from(zc);
            FloatHistogram {
                schema,
                count,
                sum: count * 1.5,
                zero_count: f64::from(zc),
                zero_threshold: 0.0,
                positive_spans: spans(&ps),
                positive_buckets: pb,
                negative_spans: spans(&ns),
                negative_buckets: nb,
                ..FloatHistogram::default()
            }
        },
    )
}

fn bucket_total(h: &FloatHistogram) -> f64 {
    IndexedCounts::new(&h.positive_spans, &h.positive_buckets)
        .chain(IndexedCounts::new(&h.negative_spans, &h.negative_buckets))
        .map(|(_, c)| c)
        .sum::<f64>()
        + h.zero_count
}

proptest! {
    #[test]
    fn add_then_sub_round_trips(a in histogram(), b in histogram()) {
        let mut x = a.clone();
        x.add(&b).unwrap();
        prop_assert_eq!(x.count, a.count + b.count);
        prop_assert_eq!(bucket_total(&x), x.count);
        x.sub(&b).unwrap();
        x.compact(0);
        // Back to `a`, at the lower schema of both.
        let mut want = a.clone();
        want.reduce_resolution(b.schema);
        want.compact(0);
        prop_assert!(x.equals(&want), "{} vs {}", x, want);
    }

    #[test]
    fn compaction_keeps_totals(a in histogram(), max_empty in 0usize..4) {
        let mut c = a.clone();
        c.compact(max_empty);
        prop_assert_eq!(bucket_total(&c), bucket_total(&a));
        prop_assert!(c.positive_buckets.iter().all(|_| true));
        let mut d = c.clone();
        d.compact(max_empty);
        prop_assert!(d.equals(&c));
    }

    #[test]
    fn reduce_resolution_keeps_count(a in histogram(), to in -4i32..4) {
        let mut r = a.clone();
        r.reduce_resolution(to);
        prop_assert_eq!(bucket_total(&r), bucket_total(&a));
        prop_assert_eq!(r.count, a.count);
    }

    #[test]
    fn a_grown_counter_is_no_reset(a in histogram(), b in histogram()) {
        let mut grown = a.clone();
        grown.add(&b).unwrap();
        // Adding lowers the schema to b's when b's is lower, which is
        // allowed for a counter; a finer schema is always a reset.
        prop_assert!(!grown.detect_reset(&a));
        prop_assert_eq!(a.detect_reset(&grown), b.count > 0.0 || b.schema < a.schema);
    }

    #[test]
    fn mul_div_round_trip(a in histogram(), k in 1u32..100) {
        let mut x = a.clone();
        x.mul(f64::from(k)).div(f64::from(k));
        prop_assert!(x.equals(&a));
    }
}
