//! Properties of HA deduplication over random replicas.

use std::collections::BTreeSet;

use aion_chunkenc::{SampleIterator, ValueType};
use aion_model::{Labels, Matcher};
use aion_storage::dedup::{penalty_merge, DedupMode, DedupQueryable};
use aion_storage::{MemStorage, Queryable, SelectHints, SliceIterator};
use proptest::prelude::*;

type Samples = Vec<(i64, f64)>;

fn expand(it: &mut dyn SampleIterator) -> Samples {
    let mut out = Vec::new();
    while it.next() == ValueType::Float {
        out.push(it.at());
    }
    out
}

/// A replica: sorted distinct timestamps (about a 10 s scrape with gaps
/// and jitter), values a counter rising from `base`.
fn replica() -> impl Strategy<Value = Samples> {
    (
        prop::collection::btree_set(0i64..120, 0..60),
        0i64..3000,
        0.0f64..50.0,
    )
        .prop_map(|(slots, jitter, base)| {
            let mut v = base;
            slots
                .into_iter()
                .map(|s| {
                    v += (s % 7) as f64;
                    (s * 10_000 + jitter, v)
                })
                .collect()
        })
}

fn boxed(s: &Samples) -> Box<dyn SampleIterator + 'static> {
    Box::new(SliceIterator::new(s.clone()))
}

fn select_all(q: &dyn Queryable, name: &str, func: Option<&str>) -> Vec<(Labels, Samples)> {
    let q = q.querier(0, 10_000_000).unwrap();
    let hints = SelectHints {
        start: 0,
        end: 10_000_000,
        func,
        ..SelectHints::default()
    };
    let mut set = q.select(false, Some(&hints), &[Matcher::equal("__name__", name)]);
    let mut out = Vec::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        out.push((s.labels.clone(), expand(&mut *s.samples)));
    }
    out
}

proptest! {
    /// The penalty merge yields strictly increasing timestamps, every
    /// sample one of a replica's (without the counter lift), and every
    /// replica's first sample time is covered from the earliest on.
    #[test]
    fn penalty_output_is_strictly_increasing_replica_samples(
        replicas in prop::collection::vec(replica(), 1..4),
    ) {
        let mut merged = penalty_merge(replicas.iter().map(boxed).collect(), false);
        let out = expand(&mut *merged);
        prop_assert!(out.windows(2).all(|w| w[0].0 < w[1].0), "{out:?}");
        for s in &out {
            prop_assert!(replicas.iter().any(|r| r.contains(s)), "{s:?} from no replica");
        }
        let earliest = replicas.iter().filter_map(|r| r.first()).map(|s| s.0).min();
        prop_assert_eq!(out.first().map(|s| s.0), earliest);
    }

    /// With the counter lift, replicas that never go down merge into a
    /// counter that never goes down: no false resets on a switch.
    #[test]
    fn counter_merge_of_monotone_replicas_is_monotone(
        replicas in prop::collection::vec(replica(), 1..4),
    ) {
        let mut merged = penalty_merge(replicas.iter().map(boxed).collect(), true);
        let out = expand(&mut *merged);
        prop_assert!(out.windows(2).all(|w| w[0].1 <= w[1].1), "{out:?}");
    }

    /// `seek(t)` lands where walking the whole merge would stand at `t`.
    #[test]
    fn penalty_seek_agrees_with_walking(
        replicas in prop::collection::vec(replica(), 1..4),
        t in 0i64..1_300_000,
    ) {
        let mut full = penalty_merge(replicas.iter().map(boxed).collect(), false);
        let all = expand(&mut *full);
        let mut sought = penalty_merge(replicas.iter().map(boxed).collect(), false);
        let mut got = Vec::new();
        if sought.seek(t) == ValueType::Float {
            got.push(sought.at());
            got.extend(expand(&mut *sought));
        }
        let want: Samples = all.into_iter().filter(|s| s.0 >= t).collect();
        prop_assert_eq!(got, want);
    }

    /// Chain mode over identical replicas is one replica; over any
    /// replicas it is the union of their timestamps.
    #[test]
    fn chain_over_identical_replicas_is_one_replica(
        r in replica(),
        others in prop::collection::vec(replica(), 0..3),
        copies in 2usize..4,
    ) {
        let db = MemStorage::new();
        for i in 0..copies {
            let l = Labels::from_pairs(&[("__name__", "x"), ("replica", &i.to_string())]).unwrap();
            for &(t, v) in &r {
                db.append(&l, t, v).unwrap();
            }
        }
        let dedup = DedupQueryable::new(&db, vec!["replica".into()], DedupMode::Chain);
        let got = select_all(&dedup, "x", None);
        if r.is_empty() {
            prop_assert!(got.is_empty());
        } else {
            prop_assert_eq!(got, vec![(Labels::from_pairs(&[("__name__", "x")]).unwrap(), r.clone())]);
        }
        let db = MemStorage::new();
        for (i, rep) in others.iter().enumerate() {
            let l = Labels::from_pairs(&[("__name__", "y"), ("replica", &i.to_string())]).unwrap();
            for &(t, v) in rep {
                db.append(&l, t, v).unwrap();
            }
        }
        let dedup = DedupQueryable::new(&db, vec!["replica".into()], DedupMode::Chain);
        let want: BTreeSet<i64> = others.iter().flatten().map(|s| s.0).collect();
        let got: BTreeSet<i64> = select_all(&dedup, "y", None).iter().flat_map(|s| s.1.iter().map(|p| p.0)).collect();
        prop_assert_eq!(got, want);
    }

    /// Dropping replica labels merges exactly the series equal but for
    /// them: one output per distinct remainder, none carrying a replica
    /// label, sorted, whatever the mode.
    #[test]
    fn only_series_equal_but_for_replica_labels_merge(
        series in prop::collection::btree_set((0u8..3, 0u8..3, 0u8..3, 0u8..2), 1..20),
        chain in any::<bool>(),
    ) {
        let db = MemStorage::new();
        let mut remainders = BTreeSet::new();
        for &(job, inst, replica, cluster) in &series {
            let (job, inst) = (format!("j{job}"), format!("i{inst}"));
            let (replica, cluster) = (format!("r{replica}"), format!("c{cluster}"));
            let l = Labels::from_pairs(&[
                ("__name__", "up"), ("job", &job), ("instance", &inst),
                ("replica", &replica), ("cluster", &cluster),
            ]).unwrap();
            db.append(&l, 10_000, 1.0).unwrap();
            remainders.insert(Labels::from_pairs(&[
                ("__name__", "up"), ("job", &job), ("instance", &inst),
            ]).unwrap());
        }
        let mode = if chain { DedupMode::Chain } else { DedupMode::Penalty };
        let dedup = DedupQueryable::new(&db, vec!["replica".into(), "cluster".into()], mode);
        let got: Vec<Labels> = select_all(&dedup, "up", Some("rate")).into_iter().map(|s| s.0).collect();
        prop_assert_eq!(got, remainders.into_iter().collect::<Vec<_>>());
    }
}
