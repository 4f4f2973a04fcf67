//! Compaction of random float and native histogram series spread over
//! overlapping blocks, some with deletions: the compacted block holds
//! exactly the merged samples (the first block in time order wins a
//! timestamp several have; a block's deletions hide only its own samples),
//! and its stats count them as Prometheus 3 does.

use std::collections::BTreeMap;
use std::sync::Arc;

use aion_chunkenc::{is_stale_nan, STALE_NAN};
use aion_model::histogram::{CounterResetHint, Histogram, Span, CUSTOM_BUCKETS_SCHEMA};
use aion_model::{Labels, Matcher};
use aion_storage::{Queryable, SampleValue};
use proptest::prelude::*;

use super::*;
use crate::block::tests_support::{drain_values, seen, write_value_block, Seen, Values};
use crate::block::{Block, BlockWriterOptions};

const STEP: i64 = 15_000;

/// One generated sample: its slot, kind and the numbers it is built from.
#[derive(Debug, Clone)]
struct Gen {
    slot: i64,
    /// 0 float, 1 integer histogram, 2 float histogram, 3 stale marker.
    kind: u8,
    /// Grows the histogram's counts (0 resets them).
    grow: u8,
    /// Selects schema, buckets, gauge-ness.
    shape: u8,
    value: f64,
}

fn gen() -> impl Strategy<Value = Gen> {
    (0i64..400, 0u8..4, 0u8..6, any::<u8>(), -1e3f64..1e3).prop_map(
        |(slot, kind, grow, shape, value)| Gen {
            slot,
            kind,
            grow,
            shape,
            value,
        },
    )
}

/// An integer histogram of `shape` with counts scaled by `level`.
fn histogram(shape: u8, level: u64, value: f64) -> Histogram {
    let custom = shape % 7 == 0;
    let gauge = shape % 11 == 0;
    let schema = if custom {
        CUSTOM_BUCKETS_SCHEMA
    } else {
        i32::from(shape % 3)
    };
    // One or two spans; later samples may have more buckets.
    let first = u32::from(shape % 4) + 1;
    let second = u32::from(shape / 64);
    let mut positive_spans = vec![Span {
        offset: i32::from(shape % 5) - 2,
        length: first,
    }];
    if second > 0 && !custom {
        positive_spans.push(Span {
            offset: 1,
            length: second,
        });
    }
    let n = (first + if custom { 0 } else { second }) as usize;
    let counts: Vec<u64> = (0..n).map(|i| level * (i as u64 % 3 + 1)).collect();
    let mut positive_buckets = Vec::with_capacity(n);
    let mut prev = 0i64;
    for &c in &counts {
        positive_buckets.push(c as i64 - prev);
        prev = c as i64;
    }
    if custom {
        positive_spans[0].offset = 0;
    }
    let zero_count = if custom { 0 } else { level };
    Histogram {
        counter_reset_hint: if gauge {
            CounterResetHint::Gauge
        } else {
            CounterResetHint::Unknown
        },
        schema,
        zero_threshold: if custom { 0.0 } else { 2f64.powi(-128) },
        zero_count,
        count: counts.iter().sum::<u64>() + zero_count,
        sum: value,
        positive_spans,
        positive_buckets,
        custom_values: if custom {
            (1..=n).map(|i| i as f64 * 0.5).collect()
        } else {
            Vec::new()
        },
        ..Histogram::default()
    }
}

/// A series' samples from generated ones: sorted, one per slot, counters
/// growing but for the resets `grow == 0` asks for.
fn series(mut gens: Vec<Gen>) -> Vec<(i64, SampleValue)> {
    gens.sort_by_key(|g| g.slot);
    gens.dedup_by_key(|g| g.slot);
    let mut level = 1u64;
    gens.into_iter()
        .map(|g| {
            level = if g.grow == 0 {
                1
            } else {
                level + u64::from(g.grow)
            };
            let v = match g.kind {
                0 => SampleValue::Float(g.value),
                1 => SampleValue::Histogram(Arc::new(histogram(g.shape, level, g.value))),
                2 => SampleValue::FloatHistogram(Arc::new(
                    histogram(g.shape, level, g.value).to_float(),
                )),
                _ => SampleValue::Histogram(Arc::new(Histogram {
                    sum: STALE_NAN,
                    ..Histogram::default()
                })),
            };
            (g.slot * STEP, v)
        })
        .collect()
}

/// The same kind of sample with other numbers: what a second writer of
/// the same timestamp may have stored.
fn perturbed(v: &SampleValue) -> SampleValue {
    match v {
        SampleValue::Histogram(h) if is_stale_nan(h.sum) => v.clone(),
        SampleValue::Float(f) => SampleValue::Float(f + 0.5),
        SampleValue::Histogram(h) => {
            let mut h = (**h).clone();
            h.sum += 0.5;
            SampleValue::Histogram(Arc::new(h))
        }
        SampleValue::FloatHistogram(h) => {
            let mut h = (**h).clone();
            h.sum += 0.5;
            SampleValue::FloatHistogram(Arc::new(h))
        }
    }
}

/// A block's share: a window of slots, whether its values differ from
/// the truth, and a deletion.
#[derive(Debug, Clone)]
struct Part {
    lo: i64,
    len: i64,
    perturb: bool,
    delete: Option<(i64, i64)>,
}

fn part() -> impl Strategy<Value = Part> {
    (
        0i64..400,
        1i64..300,
        any::<bool>(),
        prop::option::weighted(0.3, (0i64..400, 0i64..60)),
    )
        .prop_map(|(lo, len, perturb, delete)| Part {
            lo,
            len,
            perturb,
            delete,
        })
}

/// A block, what it was written with, and the interval then deleted.
type Written = (Block, Values, Option<(i64, i64)>);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn compaction_yields_the_merged_deduplicated_samples(
        gens in prop::collection::vec(prop::collection::vec(gen(), 1..120), 1..4),
        parts in prop::collection::vec(part(), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let truth: Vec<(Labels, Vec<(i64, SampleValue)>)> = gens
            .into_iter()
            .enumerate()
            .map(|(i, g)| {
                let l = Labels::from_pairs(&[("__name__", "s"), ("i", &i.to_string())]).unwrap();
                (l, series(g))
            })
            .collect();
        // Each block: its window of every series, perhaps other values.
        let mut blocks: Vec<Written> = Vec::new();
        for p in &parts {
            let (lo, hi) = (p.lo * STEP, (p.lo + p.len) * STEP);
            let mut data = Values::new();
            for (l, s) in &truth {
                let kept: Vec<(i64, SampleValue)> = s
                    .iter()
                    .filter(|(t, _)| (lo..=hi).contains(t))
                    .map(|(t, v)| (*t, if p.perturb { perturbed(v) } else { v.clone() }))
                    .collect();
                if !kept.is_empty() {
                    data.insert(l.clone(), kept);
                }
            }
            if data.is_empty() {
                continue;
            }
            let block = write_value_block(dir.path(), &data, lo, hi + 1);
            let deleted = p.delete.map(|(a, n)| (a * STEP, (a + n) * STEP));
            if let Some((a, b)) = deleted {
                block.delete(a, b, &[Matcher::equal("__name__", "s")]).unwrap();
            }
            // The block alone reads back as written, minus its deletions.
            let q = block.querier(i64::MIN, i64::MAX).unwrap();
            let mut set = q.select(true, None, &[]);
            let mut alone = BTreeMap::new();
            while let Some(s) = set.next() {
                let mut s = s.unwrap();
                alone.insert(s.labels.clone(), drain_values(&mut s.samples));
            }
            drop(set);
            drop(q);
            let mut want = seen(&data);
            for s in want.values_mut() {
                s.retain(|(t, _)| !deleted.is_some_and(|(a, b)| (a..=b).contains(t)));
            }
            want.retain(|_, s| !s.is_empty());
            prop_assert_eq!(&alone, &want);
            blocks.push((block, data, deleted));
        }
        prop_assume!(!blocks.is_empty());

        // Compaction orders blocks by their start (stably): that order
        // decides duplicates.
        let mut order: Vec<usize> = (0..blocks.len()).collect();
        order.sort_by_key(|&i| blocks[i].0.min_time());
        let mut want: BTreeMap<Labels, BTreeMap<i64, Seen>> = BTreeMap::new();
        for &i in &order {
            let (_, data, deleted) = &blocks[i];
            for (l, s) in seen(data) {
                let w = want.entry(l).or_default();
                for (t, v) in s {
                    if !deleted.is_some_and(|(a, b)| (a..=b).contains(&t)) {
                        w.entry(t).or_insert(v);
                    }
                }
            }
        }
        want.retain(|_, s| !s.is_empty());
        let want: BTreeMap<Labels, Vec<(i64, Seen)>> = want
            .into_iter()
            .map(|(l, s)| (l, s.into_iter().collect()))
            .collect();

        let refs: Vec<&Block> = blocks.iter().map(|(b, ..)| b).collect();
        let out = compact_blocks(dir.path(), &refs, BlockWriterOptions::default()).unwrap();
        let Some(meta) = out else {
            prop_assert!(want.is_empty());
            return Ok(());
        };
        let out = Block::open(dir.path().join(meta.ulid.to_string())).unwrap();
        out.verify().unwrap();
        let q = out.querier(i64::MIN, i64::MAX).unwrap();
        let mut set = q.select(true, None, &[]);
        let mut got = BTreeMap::new();
        while let Some(s) = set.next() {
            let mut s = s.unwrap();
            got.insert(s.labels.clone(), drain_values(&mut s.samples));
        }
        if let Some((l, g)) = got.iter().find(|(l, g)| want.get(*l) != Some(g)) {
            let w = &want[l];
            let at = (0..g.len().min(w.len())).find(|&i| g[i] != w[i]);
            prop_assert!(false, "{l}: {} samples vs {} expected, first difference at {at:?}: {:?} vs {:?}",
                g.len(), w.len(), at.map(|i| &g[i]), at.map(|i| &w[i]));
        }
        prop_assert_eq!(got.len(), want.len());
        let floats = want.values().flatten().filter(|(_, v)| matches!(v, Seen::Float(_))).count();
        let all = want.values().map(Vec::len).sum::<usize>();
        prop_assert_eq!(meta.stats.num_samples, all as u64);
        prop_assert_eq!(meta.stats.num_float_samples, floats as u64);
        prop_assert_eq!(meta.stats.num_histogram_samples, (all - floats) as u64);
    }
}
