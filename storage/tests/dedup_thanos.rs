//! Thanos's deduplication test tables run against Aion's dedup.
//!
//! The tables (inputs and expected outputs) are ported from Thanos's
//! `pkg/dedup/iter_test.go` (`TestDedupSeriesSet`,
//! `TestDedupSeriesSet_Chain`, `TestDedupSeriesIterator`,
//! `TestDedupSeriesIterator_NativeHistograms`) and, for the stale-marker
//! data, `pkg/query/querier_test.go`; Copyright (c) The Thanos Authors,
//! Apache License 2.0 (see `fixtures/thanos-dedup/NOTICE`). As in Thanos,
//! the series-set tables feed series whose replica labels are already
//! removed, in the order given; the real-data tables also go through
//! [`DedupQueryable`] with the replica labels present.

use std::sync::Arc;

use aion_chunkenc::{is_stale_nan, SampleIterator, ValueType, STALE_NAN};
use aion_model::histogram::{Histogram, Span};
use aion_model::{Labels, Matcher};
use aion_storage::dedup::{
    penalty_merge, DedupMode, DedupQueryable, DedupSeriesSet, NoAdjust, PenaltyIterator,
};
use aion_storage::{
    MemStorage, Queryable, SampleValue, SelectHints, Series, SeriesSet, SliceIterator,
    ValueSliceIterator, VecSeriesSet,
};

type Samples = Vec<(i64, f64)>;

/// Series as labels and samples.
type Set = Vec<(Labels, Samples)>;

/// Thanos's `hackyStaleMarker`: NaN never equals NaN, so tables spell it so.
const HACKY_STALE: f64 = -99999999.0;

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs).unwrap()
}

fn a1c3() -> Labels {
    l(&[("a", "1"), ("c", "3")])
}

/// Every sample of `it`, NaNs as [`HACKY_STALE`].
fn expand(it: &mut dyn SampleIterator) -> Samples {
    let mut out = Vec::new();
    while it.next() == ValueType::Float {
        let (t, v) = it.at();
        out.push((t, if v.is_nan() { HACKY_STALE } else { v }));
    }
    assert!(it.err().is_none());
    out
}

/// Thanos's `mockedSeriesIterator`: its `seek` searches the whole series,
/// so unlike any storage iterator (Prometheus's or Aion's) it can move
/// backwards. One upstream table depends on that; see
/// [`regression_2401_counter_adjusted`].
struct UpstreamMock {
    samples: Samples,
    cur: usize,
    started: bool,
}

impl SampleIterator for UpstreamMock {
    fn next(&mut self) -> ValueType {
        if self.started {
            self.cur += 1;
        }
        self.started = true;
        self.state()
    }
    fn seek(&mut self, t: i64) -> ValueType {
        self.started = true;
        self.cur = self.samples.partition_point(|s| s.0 < t);
        self.state()
    }
    fn at(&self) -> (i64, f64) {
        self.samples[self.cur.min(self.samples.len() - 1)]
    }
    fn at_t(&self) -> i64 {
        self.at().0
    }
    fn err(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        None
    }
}

impl UpstreamMock {
    fn state(&self) -> ValueType {
        if self.cur < self.samples.len() {
            ValueType::Float
        } else {
            ValueType::None
        }
    }
}

fn set_of(input: Vec<(Labels, Samples)>, upstream_mock: bool) -> Box<dyn SeriesSet<'static>> {
    Box::new(VecSeriesSet::new(
        input
            .into_iter()
            .map(|(labels, s)| Series {
                labels,
                samples: if upstream_mock {
                    Box::new(UpstreamMock {
                        samples: s,
                        cur: 0,
                        started: false,
                    })
                } else {
                    Box::new(SliceIterator::new(s))
                },
            })
            .collect(),
    ))
}

fn run_set(
    input: Vec<(Labels, Samples)>,
    func: Option<&str>,
    mode: DedupMode,
) -> Vec<(Labels, Samples)> {
    run_set_with(input, func, mode, false)
}

fn run_set_with(
    input: Vec<(Labels, Samples)>,
    func: Option<&str>,
    mode: DedupMode,
    upstream_mock: bool,
) -> Vec<(Labels, Samples)> {
    let mut set = DedupSeriesSet::new(set_of(input, upstream_mock), func, mode);
    let mut out = Vec::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        out.push((s.labels.clone(), expand(&mut *s.samples)));
    }
    out
}

fn read_fixture(name: &str) -> Samples {
    let path = format!(
        "{}/tests/fixtures/thanos-dedup/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (t, v) = line.split_once(' ').unwrap();
            let v = if v == "stale" {
                STALE_NAN
            } else {
                v.parse().unwrap()
            };
            (t.parse().unwrap(), v)
        })
        .collect()
}

fn hacky(s: &[(i64, f64)]) -> Samples {
    s.iter()
        .map(|&(t, v)| (t, if v.is_nan() { HACKY_STALE } else { v }))
        .collect()
}

// ---- TestDedupSeriesSet ----

fn single_dedup_label_input() -> Vec<(Labels, Samples)> {
    vec![
        (a1c3(), vec![(10000, 1.0), (20000, 2.0)]),
        (a1c3(), vec![(60000, 3.0), (70000, 4.0)]),
        (a1c3(), vec![(200000, 5.0), (210000, 6.0)]),
        (a1c3(), vec![(10000, 1.0), (20000, 2.0)]),
        (
            l(&[("a", "1"), ("c", "3"), ("d", "4")]),
            vec![(10000, 1.0), (20000, 2.0)],
        ),
        (
            l(&[("a", "1"), ("c", "4")]),
            vec![(10000, 1.0), (20000, 2.0)],
        ),
        (
            l(&[("a", "2"), ("c", "3")]),
            vec![(10000, 1.0), (20000, 2.0)],
        ),
        (
            l(&[("a", "2"), ("c", "3")]),
            vec![(60000, 3.0), (70000, 4.0)],
        ),
    ]
}

#[test]
fn single_dedup_label() {
    let got = run_set(single_dedup_label_input(), None, DedupMode::Penalty);
    let want = vec![
        (
            a1c3(),
            vec![
                (10000, 1.0),
                (20000, 2.0),
                (60000, 3.0),
                (70000, 4.0),
                (200000, 5.0),
                (210000, 6.0),
            ],
        ),
        (
            l(&[("a", "1"), ("c", "3"), ("d", "4")]),
            vec![(10000, 1.0), (20000, 2.0)],
        ),
        (
            l(&[("a", "1"), ("c", "4")]),
            vec![(10000, 1.0), (20000, 2.0)],
        ),
        (
            l(&[("a", "2"), ("c", "3")]),
            vec![(10000, 1.0), (20000, 2.0), (60000, 3.0), (70000, 4.0)],
        ),
    ];
    assert_eq!(got, want);
}

#[test]
fn multi_dedup_label_non_adjacent_runs_stay_apart() {
    let input = vec![
        (a1c3(), vec![(10000, 1.0), (20000, 2.0)]),
        (a1c3(), vec![(60000, 3.0), (70000, 4.0)]),
        (a1c3(), vec![(200000, 5.0), (210000, 6.0)]),
        (
            l(&[("a", "1"), ("c", "3"), ("d", "4")]),
            vec![(10000, 1.0), (20000, 2.0)],
        ),
        (a1c3(), vec![(10000, 1.0), (20000, 2.0)]),
        (
            l(&[("a", "1"), ("c", "4")]),
            vec![(10000, 1.0), (20000, 2.0)],
        ),
        (
            l(&[("a", "2"), ("c", "3")]),
            vec![(10000, 1.0), (20000, 2.0)],
        ),
        (
            l(&[("a", "2"), ("c", "3")]),
            vec![(60000, 3.0), (70000, 4.0)],
        ),
    ];
    let got = run_set(input, None, DedupMode::Penalty);
    let want = vec![
        (
            a1c3(),
            vec![
                (10000, 1.0),
                (20000, 2.0),
                (60000, 3.0),
                (70000, 4.0),
                (200000, 5.0),
                (210000, 6.0),
            ],
        ),
        (
            l(&[("a", "1"), ("c", "3"), ("d", "4")]),
            vec![(10000, 1.0), (20000, 2.0)],
        ),
        (a1c3(), vec![(10000, 1.0), (20000, 2.0)]),
        (
            l(&[("a", "1"), ("c", "4")]),
            vec![(10000, 1.0), (20000, 2.0)],
        ),
        (
            l(&[("a", "2"), ("c", "3")]),
            vec![(10000, 1.0), (20000, 2.0), (60000, 3.0), (70000, 4.0)],
        ),
    ];
    assert_eq!(got, want);
}

#[test]
fn multi_dedup_label_some_series_lack_some_labels() {
    let input = vec![
        (a1c3(), vec![(10000, 1.0), (20000, 2.0)]),
        (a1c3(), vec![(60000, 3.0), (70000, 4.0)]),
    ];
    let got = run_set(input, None, DedupMode::Penalty);
    assert_eq!(
        got,
        vec![(
            a1c3(),
            vec![(10000, 1.0), (20000, 2.0), (60000, 3.0), (70000, 4.0)]
        )]
    );
}

/// thanos#2401: one counter replica has a hiccup while the other is live;
/// switching to the replica that is behind must not look like a reset.
fn regression_2401_input() -> Vec<(Labels, Samples)> {
    let a1 = l(&[("a", "1")]);
    vec![
        (
            a1.clone(),
            vec![
                (10000, 8.0),
                (20000, 9.0),
                (50001, 9.0 + 1.0),
                (60000, 9.0 + 2.0),
                (70000, 9.0 + 3.0),
                (80000, 9.0 + 4.0),
                (90000, 9.0 + 5.0),
                (100000, 9.0 + 6.0),
            ],
        ),
        (
            a1,
            vec![
                (10001, 8.0),
                (45001, 8.0 + 0.5),
                (55001, 8.0 + 1.5),
                (65001, 8.0 + 2.5),
            ],
        ),
    ]
}

/// Upstream's expected table, which the forward-only iterators of real
/// storage cannot give: after the switch to the second replica at 45001,
/// the first is sought to 95004 (45002 + a 50002 penalty) and stands on
/// 100000; Thanos's mock seeks back to 90000 later, a storage iterator
/// never does. With the mock, the port gives upstream's exact answer;
/// with storage iterators the same answer without (90000, 14), which is
/// what Thanos's querier gives over real stores too.
#[test]
fn regression_2401_counter_adjusted() {
    let want = vec![(
        l(&[("a", "1")]),
        vec![
            (10000, 8.0),
            (20000, 9.0),
            (45001, 9.0),
            (55001, 10.0),
            (65001, 11.0),
            (90000, 14.0),
            (100000, 15.0),
        ],
    )];
    let got = run_set_with(
        regression_2401_input(),
        Some("rate"),
        DedupMode::Penalty,
        true,
    );
    assert_eq!(got, want);
    let mut forward_only = want.clone();
    forward_only[0].1.retain(|s| s.0 != 90000);
    // Every counter function Thanos names adjusts alike.
    for f in ["rate", "increase", "irate", "resets"] {
        let got = run_set(regression_2401_input(), Some(f), DedupMode::Penalty);
        assert_eq!(got, forward_only, "{f}");
    }
}

#[test]
fn regression_2401_without_counter_adjustment() {
    for func in [None, Some("avg_over_time")] {
        let want = vec![(
            l(&[("a", "1")]),
            vec![
                (10000, 8.0),
                (20000, 9.0),
                (45001, 8.5),
                (55001, 9.5),
                (65001, 10.5),
                (90000, 14.0),
                (100000, 15.0),
            ],
        )];
        let got = run_set_with(regression_2401_input(), func, DedupMode::Penalty, true);
        assert_eq!(got, want, "{func:?}");
        // Forward-only storage iterators: see regression_2401_counter_adjusted.
        let mut forward_only = want.clone();
        forward_only[0].1.retain(|s| s.0 != 90000);
        assert_eq!(
            run_set(regression_2401_input(), func, DedupMode::Penalty),
            forward_only
        );
    }
}

#[test]
fn regression_2401_on_real_data() {
    let a1 = l(&[("a", "1")]);
    let input = vec![
        (a1.clone(), read_fixture("2401_replica_a.txt")),
        (a1.clone(), read_fixture("2401_replica_b.txt")),
    ];
    let want = read_fixture("2401_expected_rate.txt");
    assert_eq!(want.len(), 237);
    let got = run_set_with(input.clone(), Some("rate"), DedupMode::Penalty, true);
    assert_eq!(got, vec![(a1.clone(), want.clone())]);
    let got = run_set(input, Some("rate"), DedupMode::Penalty);
    assert_eq!(got, vec![(a1, want)]);
}

// ---- TestDedupSeriesSet_Chain ----

#[test]
fn chain_tables() {
    let a2c3 = || l(&[("a", "2"), ("c", "3")]);
    let cases: Vec<(&str, Set, Set)> = vec![
        (
            "single dedup label - exact match",
            vec![
                (a1c3(), vec![(10000, 1.0), (20000, 2.0), (30000, 3.0)]),
                (a1c3(), vec![(10000, 1.0), (20000, 2.0), (30000, 3.0)]),
            ],
            vec![(a1c3(), vec![(10000, 1.0), (20000, 2.0), (30000, 3.0)])],
        ),
        (
            "single dedup label - gap in one series",
            vec![
                (a1c3(), vec![(10000, 1.0), (30000, 3.0)]),
                (a1c3(), vec![(10000, 1.0), (20000, 2.0), (30000, 3.0)]),
            ],
            vec![(a1c3(), vec![(10000, 1.0), (20000, 2.0), (30000, 3.0)])],
        ),
        (
            "single dedup label - gaps in two series",
            vec![
                (a1c3(), vec![(10000, 1.0), (30000, 3.0)]),
                (a1c3(), vec![(10000, 1.0), (20000, 2.0)]),
            ],
            vec![(a1c3(), vec![(10000, 1.0), (20000, 2.0), (30000, 3.0)])],
        ),
        (
            "multi dedup label - exact match",
            vec![
                (a1c3(), vec![(10000, 1.0), (20000, 2.0), (30000, 3.0)]),
                (a1c3(), vec![(10000, 1.0), (20000, 2.0), (30000, 3.0)]),
                (a2c3(), vec![(10000, 101.0), (20000, 102.0), (30000, 103.0)]),
                (a2c3(), vec![(10000, 101.0), (20000, 102.0), (30000, 103.0)]),
            ],
            vec![
                (a1c3(), vec![(10000, 1.0), (20000, 2.0), (30000, 3.0)]),
                (a2c3(), vec![(10000, 101.0), (20000, 102.0), (30000, 103.0)]),
            ],
        ),
        (
            "multi dedup label - gaps in two series",
            vec![
                (a1c3(), vec![(20000, 2.0), (30000, 3.0)]),
                (a1c3(), vec![(10000, 1.0), (20000, 2.0)]),
                (a2c3(), vec![(10000, 101.0), (20000, 102.0)]),
                (a2c3(), vec![(10000, 101.0), (30000, 103.0)]),
            ],
            vec![
                (a1c3(), vec![(10000, 1.0), (20000, 2.0), (30000, 3.0)]),
                (a2c3(), vec![(10000, 101.0), (20000, 102.0), (30000, 103.0)]),
            ],
        ),
    ];
    for (name, input, want) in cases {
        assert_eq!(run_set(input, None, DedupMode::Chain), want, "{name}");
    }
}

// ---- TestDedupSeriesIterator ----

fn two_way(a: Samples, b: Samples) -> PenaltyIterator<'static> {
    PenaltyIterator::new(
        Box::new(NoAdjust(Box::new(SliceIterator::new(a)))),
        Box::new(NoAdjust(Box::new(SliceIterator::new(b)))),
    )
}

#[test]
fn penalty_iterator_tables() {
    // (a, b, expected); deltas are at least 10 s so the initial 5 s
    // penalty does not decide.
    let cases: Vec<(Samples, Samples, Samples)> = vec![
        // Generally prefer the first series.
        (
            vec![(10000, 10.0), (20000, 11.0), (30000, 12.0), (40000, 13.0)],
            vec![(10000, 20.0), (20000, 21.0), (30000, 22.0), (40000, 23.0)],
            vec![(10000, 10.0), (20000, 11.0), (30000, 12.0), (40000, 13.0)],
        ),
        // Prefer b if it starts earlier.
        (
            vec![(10100, 1.0), (20100, 1.0), (30100, 1.0), (40100, 1.0)],
            vec![(10000, 2.0), (20000, 2.0), (30000, 2.0), (40000, 2.0)],
            vec![(10000, 2.0), (20000, 2.0), (30000, 2.0), (40000, 2.0)],
        ),
        // Don't switch series on a single delta sized gap.
        (
            vec![(10000, 1.0), (20000, 1.0), (40000, 1.0)],
            vec![(10000, 2.0), (20000, 2.0), (30000, 2.0), (40000, 2.0)],
            vec![(10000, 1.0), (20000, 1.0), (40000, 1.0)],
        ),
        (
            vec![(10000, 1.0), (20000, 1.0), (40000, 1.0)],
            vec![(15000, 2.0), (25000, 2.0), (35000, 2.0), (45000, 2.0)],
            vec![(10000, 1.0), (20000, 1.0), (40000, 1.0)],
        ),
        // Once the gap gets bigger than 2 deltas, switch and stay with the
        // new series.
        (
            vec![
                (10000, 1.0),
                (20000, 1.0),
                (30000, 1.0),
                (60000, 1.0),
                (70000, 1.0),
            ],
            vec![
                (10100, 2.0),
                (20100, 2.0),
                (30100, 2.0),
                (40100, 2.0),
                (50100, 2.0),
                (60100, 2.0),
            ],
            vec![
                (10000, 1.0),
                (20000, 1.0),
                (30000, 1.0),
                (50100, 2.0),
                (60100, 2.0),
            ],
        ),
    ];
    for (i, (a, b, want)) in cases.into_iter().enumerate() {
        assert_eq!(expand(&mut two_way(a, b)), want, "case {i}");
    }
}

/// A histogram like Prometheus's `tsdbutil.GenerateTestHistograms(1)[0]`.
fn test_histogram() -> Histogram {
    Histogram {
        count: 12,
        zero_count: 2,
        zero_threshold: 0.001,
        sum: 18.4,
        schema: 1,
        positive_spans: vec![
            Span {
                offset: 0,
                length: 2,
            },
            Span {
                offset: 1,
                length: 2,
            },
        ],
        positive_buckets: vec![1, 1, -1, 0],
        negative_spans: vec![
            Span {
                offset: 0,
                length: 2,
            },
            Span {
                offset: 1,
                length: 2,
            },
        ],
        negative_buckets: vec![1, 1, -1, 0],
        ..Histogram::default()
    }
}

#[derive(Debug, PartialEq)]
enum Point {
    F(i64, f64),
    H(i64, Histogram),
}

fn expand_mixed(it: &mut dyn SampleIterator) -> Vec<Point> {
    let mut out = Vec::new();
    loop {
        match it.next() {
            ValueType::None => break,
            ValueType::Float => {
                let (t, v) = it.at();
                out.push(Point::F(t, v));
            }
            ValueType::Histogram => {
                let mut h = Histogram::default();
                let t = it.at_histogram(&mut h);
                out.push(Point::H(t, h));
            }
            ValueType::FloatHistogram => panic!("no float histograms here"),
        }
    }
    out
}

#[test]
fn penalty_iterator_mixed_floats_and_native_histograms() {
    let h = Arc::new(test_histogram());
    let floats = || -> Box<dyn SampleIterator> {
        Box::new(ValueSliceIterator::new(vec![(0, SampleValue::Float(0.0))]))
    };
    let hists = || -> Box<dyn SampleIterator> {
        Box::new(ValueSliceIterator::new(
            [10000, 20000, 30000, 40000]
                .map(|t| (t, SampleValue::Histogram(h.clone())))
                .to_vec(),
        ))
    };
    let mut want = vec![Point::F(0, 0.0)];
    want.extend([10000, 20000, 30000, 40000].map(|t| Point::H(t, test_histogram())));
    for counter in [false, true] {
        let mut ab = penalty_merge(vec![hists(), floats()], counter);
        assert_eq!(
            expand_mixed(&mut *ab),
            want,
            "histograms first, counter {counter}"
        );
        let mut ba = penalty_merge(vec![floats(), hists()], counter);
        assert_eq!(
            expand_mixed(&mut *ba),
            want,
            "floats first, counter {counter}"
        );
    }
}

// ---- pkg/query/querier_test.go: the same real data through a queryable ----

const NAME: &str = "gitlab_transaction_cache_read_hit_count_total";

fn store(replicas: &[(&str, Samples)]) -> MemStorage {
    let db = MemStorage::new();
    for (r, samples) in replicas {
        let labels = l(&[("__name__", NAME), ("job", "gitlab-rails"), ("replica", r)]);
        for &(t, v) in samples {
            db.append(&labels, t, v).unwrap();
        }
    }
    db
}

fn select_through_dedup(
    db: &MemStorage,
    func: Option<&str>,
    mode: DedupMode,
) -> Vec<(Labels, Samples)> {
    let dedup = DedupQueryable::new(db, vec!["replica".to_string()], mode);
    let q = dedup.querier(1587690000000, 1587693600000).unwrap();
    let hints = SelectHints {
        start: 1587690000000,
        end: 1587693600000,
        func,
        ..SelectHints::default()
    };
    let mut set = q.select(false, Some(&hints), &[Matcher::equal("__name__", NAME)]);
    let mut out = Vec::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        let mut samples = Vec::new();
        while s.samples.next() == ValueType::Float {
            samples.push(s.samples.at());
        }
        out.push((s.labels.clone(), samples));
    }
    out
}

#[test]
fn realistic_data_with_stale_markers() {
    let db = store(&[
        ("01", read_fixture("stale_replica0.txt")),
        ("02", read_fixture("stale_replica1.txt")),
    ]);
    let want = read_fixture("stale_expected.txt");
    let got = select_through_dedup(&db, None, DedupMode::Penalty);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, l(&[("__name__", NAME), ("job", "gitlab-rails")]));
    assert_eq!(hacky(&got[0].1), hacky(&want));
    // The stale marker is passed on bit for bit, so PromQL still sees it.
    let stale: Vec<i64> = got[0]
        .1
        .iter()
        .filter(|s| is_stale_nan(s.1))
        .map(|s| s.0)
        .collect();
    assert_eq!(stale, [1587692495791]);
}

#[test]
fn realistic_counter_data_through_the_queryable() {
    let db = store(&[
        ("01", read_fixture("2401_replica_a.txt")),
        ("02", read_fixture("2401_replica_b.txt")),
    ]);
    let got = select_through_dedup(&db, Some("rate"), DedupMode::Penalty);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, read_fixture("2401_expected_rate.txt"));
}
