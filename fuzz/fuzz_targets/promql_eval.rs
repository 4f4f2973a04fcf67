//! PromQL engine: any query that parses evaluates (instant and range)
//! against a small fixed dataset without panicking, and a range result is
//! a label-sorted matrix with points on the step grid. Errors are fine.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use aion::model::Labels;
use aion::promql::{parse_with, Engine, EngineOptions, ParseOptions, Value};
use aion::storage::MemStorage;
use libfuzzer_sys::fuzz_target;

fn data() -> &'static MemStorage {
    static DB: OnceLock<MemStorage> = OnceLock::new();
    DB.get_or_init(|| {
        let db = MemStorage::new();
        let mut batch = Vec::new();
        for (name, job, le) in [
            ("http_requests_total", "a", ""),
            ("http_requests_total", "b", ""),
            ("up", "a", ""),
            ("x_bucket", "a", "1"),
            ("x_bucket", "a", "+Inf"),
        ] {
            let l = Labels::from_pairs(&[("__name__", name), ("job", job), ("le", le)]).unwrap();
            for k in 0..40i64 {
                let v = if k == 17 { f64::from_bits(0x7ff0_0000_0000_0002) } else { (k * 3 % 7) as f64 };
                batch.push((l.clone(), k * 15_000 + 3_000, v));
            }
        }
        db.append_batch(batch).unwrap();
        db
    })
}

fuzz_target!(|input: &[u8]| {
    let Ok(query) = std::str::from_utf8(input) else {
        return;
    };
    let opts = ParseOptions::experimental();
    let Ok(expr) = parse_with(query, &opts) else {
        return;
    };
    let engine = Engine::new(EngineOptions {
        max_samples: 200_000,
        timeout: Some(Duration::from_secs(2)),
        ..EngineOptions::prometheus_test_suite()
    });
    for t in [0, 300_000, 612_345] {
        let _ = engine.instant_query(data(), &expr, t);
    }
    if let Ok(r) = engine.range_query(data(), &expr, 60_000, 600_000, 45_000) {
        let Value::Matrix(m) = r.value else {
            panic!("range query returned {}", r.value.type_name());
        };
        for w in m.windows(2) {
            assert!(w[0].metric < w[1].metric, "{query:?}: unsorted or duplicate series");
        }
        for s in &m {
            for p in &s.floats {
                assert!((60_000..=600_000).contains(&p.t) && (p.t - 60_000) % 45_000 == 0);
            }
        }
    }
});
