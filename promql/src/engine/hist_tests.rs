//! End-to-end engine tests over native histograms in a `MemStorage`
//! (the upstream scripts cover the semantics in depth; these pin the
//! plumbing: integer histograms from storage, results, JSON).

use aion_model::histogram::{Histogram, Span};
use aion_model::Labels;
use aion_storage::MemStorage;

use super::*;
use crate::value::Value;

/// `req` integer histograms at schema 0 every 15 s for 5 minutes, growing
/// by one observation per bucket per scrape in buckets (0.5,1] and (1,2],
/// with a counter reset at 150 s; `up` floats.
fn fixture() -> MemStorage {
    let db = MemStorage::new();
    let h = Labels::from_pairs(&[("__name__", "req"), ("job", "api")]).unwrap();
    let up = Labels::from_pairs(&[("__name__", "up"), ("job", "api")]).unwrap();
    for k in 0..=20i64 {
        let n = if k < 10 { k as u64 + 1 } else { (k - 9) as u64 };
        db.append_histogram(
            &h,
            k * 15_000,
            Histogram {
                count: 2 * n,
                sum: 3.0 * n as f64,
                positive_spans: vec![Span {
                    offset: 0,
                    length: 2,
                }],
                positive_buckets: vec![n as i64, 0],
                ..Histogram::default()
            },
        )
        .unwrap();
        db.append(&up, k * 15_000, 1.0).unwrap();
    }
    db
}

fn engine() -> Engine {
    Engine::new(EngineOptions::default())
}

#[test]
fn selectors_return_histograms() {
    let db = fixture();
    let r = engine().instant_query(&db, "req", 60_000).unwrap();
    let Value::Vector(v) = &r.value else { panic!() };
    let h = v[0].h.as_ref().expect("a histogram sample");
    assert_eq!((h.count, h.sum), (10.0, 15.0));
    assert_eq!(
        crate::json::encode_data(&r.value),
        r#"{"resultType":"vector","result":[{"metric":{"__name__":"req","job":"api"},"histogram":[60,{"count":"10","sum":"15","buckets":[[0,"0.5","1","5"],[0,"1","2","5"]]}]}]}"#
    );
    let r = engine().instant_query(&db, "req[30s]", 60_000).unwrap();
    let Value::Matrix(m) = &r.value else { panic!() };
    assert_eq!(m[0].histograms.len(), 2);
    assert!(m[0].floats.is_empty());
}

#[test]
fn rate_is_bucket_wise_and_handles_resets() {
    let db = fixture();
    // 1 observation per bucket per 15 s, across the reset at 150 s.
    let r = engine()
        .instant_query(&db, "histogram_count(rate(req[1m]))", 180_000)
        .unwrap();
    let Value::Vector(v) = &r.value else { panic!() };
    assert!((v[0].f - 2.0 / 15.0).abs() < 1e-9, "{}", v[0].f);
    let r = engine()
        .instant_query(&db, "histogram_quantile(0.5, sum(rate(req[1m])))", 120_000)
        .unwrap();
    let Value::Vector(v) = &r.value else { panic!() };
    assert!((v[0].f - 1.0).abs() < 1e-9, "{}", v[0].f);
}

#[test]
fn operators_and_mixed_aggregation() {
    let db = fixture();
    let r = engine().instant_query(&db, "req * 2", 60_000).unwrap();
    let Value::Vector(v) = &r.value else { panic!() };
    assert_eq!(v[0].h.as_ref().unwrap().count, 20.0);
    // Floats and histograms in one group: no result and a warning.
    let r = engine()
        .instant_query(&db, "sum({job=\"api\"})", 60_000)
        .unwrap();
    assert_eq!(r.value.as_vector().unwrap().len(), 0);
    assert!(r.annotations.warnings().any(|a| a
        .message()
        .contains("mix of histograms and floats for aggregation")));
    // A float query over the same data is untouched.
    let r = engine().range_query(&db, "up", 0, 60_000, 15_000).unwrap();
    let Value::Matrix(m) = &r.value else { panic!() };
    assert_eq!(m[0].floats.len(), 5);
}
