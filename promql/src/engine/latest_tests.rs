//! `last_over_time` over windows far apart reads only the tails of the
//! series (see `WindowCursor::skip_to_tail`); when a tail holds only
//! stale markers the series is read again. Both must give what a full
//! read gives.

use aion_chunkenc::STALE_NAN;
use aion_model::Labels;
use aion_storage::MemStorage;
use proptest::prelude::*;

use super::*;
use crate::value::Value;

fn values(r: QueryResult) -> Vec<(String, Vec<(i64, u64)>)> {
    let mut out: Vec<(String, Vec<(i64, u64)>)> = match r.value {
        Value::Vector(v) => v
            .into_iter()
            .map(|s| (s.metric.to_string(), vec![(s.t, s.f.to_bits())]))
            .collect(),
        Value::Matrix(m) => m
            .into_iter()
            .map(|s| {
                let pts = s.floats.iter().map(|p| (p.t, p.f.to_bits())).collect();
                (s.metric.to_string(), pts)
            })
            .collect(),
        other => panic!("unexpected {other:?}"),
    };
    out.sort();
    out
}

/// A series of `n` samples every 15 s whose tail (from sample `stale_from`
/// on) is stale markers.
fn storage(series: &[(usize, usize)]) -> MemStorage {
    let db = MemStorage::new();
    let mut batch = Vec::new();
    for (i, &(n, stale_from)) in series.iter().enumerate() {
        let l = Labels::from_pairs(&[("__name__", "m"), ("i", &i.to_string())]).unwrap();
        for k in 0..n {
            let v = if k >= stale_from {
                STALE_NAN
            } else {
                (k * 3 + i) as f64
            };
            batch.push((l.clone(), k as i64 * 15_000, v));
        }
    }
    db.append_batch(batch).unwrap();
    db
}

#[test]
fn a_stale_tail_reads_the_series_again() {
    let db = storage(&[(40, 38), (40, 40), (40, 0)]);
    let r = Engine::new(EngineOptions::default())
        .instant_query(&db, "last_over_time(m[10m])", 39 * 15_000)
        .unwrap();
    // Series 0: its last two samples are stale, the one before counts;
    // series 2 is all stale markers: no output.
    assert_eq!(
        values(r),
        vec![
            (
                "{__name__=\"m\", i=\"0\"}".to_string(),
                vec![(585_000, 111f64.to_bits())]
            ),
            (
                "{__name__=\"m\", i=\"1\"}".to_string(),
                vec![(585_000, 118f64.to_bits())]
            ),
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Range queries with steps longer than the range (tails read) and
    /// instant queries give the newest non-stale sample of each window,
    /// as a scan of the data says.
    #[test]
    fn tails_equal_a_scan(
        series in prop::collection::vec((0usize..300, 0usize..300), 1..5),
        range_s in 15i64..600,
        step_s in 1i64..1200,
        start_s in 0i64..4000,
    ) {
        let db = storage(&series);
        let engine = Engine::new(EngineOptions::default());
        let expr = format!("last_over_time(m[{range_s}s])");
        let (start, step) = (start_s * 1000, step_s * 1000);
        let end = start + 10 * step;
        let mut want: Vec<(String, Vec<(i64, u64)>)> = Vec::new();
        for (i, &(n, stale_from)) in series.iter().enumerate() {
            let mut pts = Vec::new();
            let mut t = start;
            while t <= end {
                let newest = (0..n.min(stale_from))
                    .rev()
                    .find(|&k| (k as i64 * 15_000) <= t);
                if let Some(k) = newest.filter(|&k| k as i64 * 15_000 > t - range_s * 1000) {
                    pts.push((t, ((k * 3 + i) as f64).to_bits()));
                }
                t += step;
            }
            if !pts.is_empty() {
                want.push((format!("{{__name__=\"m\", i=\"{i}\"}}"), pts));
            }
        }
        want.sort();
        let got = values(engine.range_query(&db, &expr, start, end, step).unwrap());
        prop_assert_eq!(&got, &want);
        let mid = start + 5 * step;
        let at_mid: Vec<(String, Vec<(i64, u64)>)> = want
            .iter()
            .filter_map(|(m, p)| {
                let p: Vec<_> = p.iter().copied().filter(|x| x.0 == mid).collect();
                (!p.is_empty()).then(|| (m.clone(), p))
            })
            .collect();
        prop_assert_eq!(values(engine.instant_query(&db, &expr, mid).unwrap()), at_mid);
    }
}
