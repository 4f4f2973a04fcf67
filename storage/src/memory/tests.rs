//! Tests of the in-memory store.

use super::*;
use aion_model::MatchType;
use proptest::prelude::*;

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs).unwrap()
}

fn collect(q: &dyn Querier, matchers: &[Matcher]) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let mut set = q.select(true, None, matchers);
    let mut out = Vec::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        let mut pts = Vec::new();
        while s.samples.next() == ValueType::Float {
            pts.push(s.samples.at());
        }
        out.push((s.labels, pts));
    }
    out
}

#[test]
fn select_filters_by_matchers_and_time() {
    let db = MemStorage::new();
    let a = ls(&[("__name__", "m"), ("x", "1")]);
    let b = ls(&[("__name__", "m"), ("x", "2")]);
    let c = ls(&[("__name__", "other")]);
    for t in 0..10 {
        db.append_batch([
            (a.clone(), t * 10, t as f64),
            (b.clone(), t * 10, -(t as f64)),
        ])
        .unwrap();
    }
    db.append(&c, 5, 1.0).unwrap();
    let q = db.querier(20, 40).unwrap();
    let got = collect(&*q, &[Matcher::equal("__name__", "m")]);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, a);
    assert_eq!(got[0].1, vec![(20, 2.0), (30, 3.0), (40, 4.0)]);
    // A matcher for the empty value also selects series without the label.
    let none = Matcher::new(MatchType::Equal, "x", "").unwrap();
    let got = collect(&*db.querier(0, 100).unwrap(), &[none]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, c);
}

#[test]
fn appends_follow_head_rules() {
    let db = MemStorage::new();
    let a = ls(&[("a", "1")]);
    db.append(&a, 10, 1.0).unwrap();
    db.append(&a, 10, 1.0).unwrap();
    assert!(matches!(
        db.append(&a, 10, 2.0),
        Err(AppendError::DuplicateTimestamp { .. })
    ));
    assert!(matches!(
        db.append(&a, 5, 2.0),
        Err(AppendError::OutOfOrder { .. })
    ));
    // A failed batch stores nothing.
    let b = ls(&[("b", "1")]);
    assert!(db
        .append_batch([(b.clone(), 1, 1.0), (a.clone(), 1, 1.0)])
        .is_err());
    assert_eq!(db.num_series(), 1);
    assert_eq!(db.num_samples(), 1);
    assert_eq!(
        db.append(&Labels::new(), 1, 1.0),
        Err(AppendError::EmptyLabels)
    );
}

#[test]
fn queriers_see_a_snapshot() {
    let db = MemStorage::new();
    let a = ls(&[("a", "1")]);
    db.append(&a, 1, 1.0).unwrap();
    let q = db.querier(0, 100).unwrap();
    db.append(&a, 2, 2.0).unwrap();
    assert_eq!(collect(&*q, &[]).len(), 1);
    assert_eq!(collect(&*q, &[])[0].1.len(), 1);
    assert_eq!(collect(&*db.querier(0, 100).unwrap(), &[])[0].1.len(), 2);
    db.clear();
    assert_eq!(collect(&*q, &[])[0].1.len(), 1);
    assert!(collect(&*db.querier(0, 100).unwrap(), &[]).is_empty());
}

#[test]
fn start_timestamps_are_kept() {
    let db = MemStorage::new();
    let a = ls(&[("a", "1")]);
    db.append(&a, 10, 1.0).unwrap();
    db.append_batch_with_st([(a.clone(), 15, 20, 2.0), (a.clone(), 0, 30, 3.0)])
        .unwrap();
    // A series whose very first samples have start timestamps.
    let b = ls(&[("b", "1")]);
    db.append_batch_with_st([(b.clone(), 5, 10, 1.0)]).unwrap();
    let q = db.querier(0, 100).unwrap();
    let mut set = q.select(true, None, &[]);
    let mut s = set.next().unwrap().unwrap();
    let mut sts = Vec::new();
    while s.samples.next() == ValueType::Float {
        sts.push(s.samples.at_st());
    }
    assert_eq!(sts, [0, 15, 0]);
    let mut s = set.next().unwrap().unwrap();
    s.samples.next();
    assert_eq!(s.samples.at_st(), 5);
}

#[test]
fn label_values_and_names() {
    let db = MemStorage::new();
    db.append(&ls(&[("job", "b"), ("x", "1")]), 1, 1.0).unwrap();
    db.append(&ls(&[("job", "a")]), 1, 1.0).unwrap();
    let q = db.querier(0, 10).unwrap();
    assert_eq!(q.label_values("job", &[]).unwrap(), ["a", "b"]);
    assert_eq!(q.label_names(&[]).unwrap(), ["job", "x"]);
}

#[test]
fn histograms_are_stored_and_read_back() {
    use aion_model::histogram::Span;
    let db = MemStorage::new();
    let a = ls(&[("a", "1")]);
    let h = Histogram {
        count: 3,
        sum: 2.5,
        positive_spans: vec![Span {
            offset: 0,
            length: 2,
        }],
        positive_buckets: vec![1, 1],
        ..Histogram::default()
    };
    db.append(&a, 10, 1.0).unwrap();
    db.append_histogram(&a, 20, h.clone()).unwrap();
    // The same histogram again is ignored; another one is a duplicate.
    db.append_histogram(&a, 20, h.clone()).unwrap();
    assert!(matches!(
        db.append(&a, 20, 1.0),
        Err(AppendError::DuplicateTimestamp { .. })
    ));
    db.append_float_histogram(&a, 30, h.to_float()).unwrap();
    let mut app = db.appender();
    app.append(0, &a, 40, 4.0).unwrap();
    app.append_histogram(0, &a, 50, &h).unwrap();
    app.commit().unwrap();
    let q = db.querier(0, 100).unwrap();
    let mut set = q.select(true, None, &[]);
    let mut s = set.next().unwrap().unwrap();
    let mut kinds = Vec::new();
    let (mut ih, mut fh) = (Histogram::default(), FloatHistogram::default());
    loop {
        let vt = s.samples.next();
        match vt {
            ValueType::None => break,
            ValueType::Histogram => {
                s.samples.at_histogram(&mut ih);
                assert_eq!(ih, h);
            }
            ValueType::FloatHistogram => {
                s.samples.at_float_histogram(&mut fh);
                assert!(fh.equals(&h.to_float()));
            }
            ValueType::Float => {}
        }
        kinds.push((s.samples.at_t(), vt));
    }
    let (f, ih, fh) = (
        ValueType::Float,
        ValueType::Histogram,
        ValueType::FloatHistogram,
    );
    assert_eq!(kinds, [(10, f), (20, ih), (30, fh), (40, f), (50, ih)]);
    // Seeking lands on histograms too.
    let q = db.querier(25, 100).unwrap();
    let mut set = q.select(true, None, &[]);
    let mut s = set.next().unwrap().unwrap();
    assert_eq!(s.samples.seek(0), ValueType::FloatHistogram);
    assert_eq!(s.samples.seek(45), ValueType::Histogram);
}

proptest! {
    /// `seek` lands on the first sample at or after its target and
    /// never moves backwards, whatever the mix of `next` and `seek`.
    #[test]
    fn seek_and_next_follow_the_cursor_contract(
        ts in proptest::collection::btree_set(0i64..1000, 0..50),
        ops in proptest::collection::vec(proptest::option::of(0i64..1100), 0..40),
    ) {
        let db = MemStorage::new();
        let a = ls(&[("a", "1")]);
        db.append_batch(ts.iter().map(|&t| (a.clone(), t, t as f64))).unwrap();
        let ts: Vec<i64> = ts.into_iter().collect();
        let q = db.querier(i64::MIN, i64::MAX).unwrap();
        let mut set = q.select(true, None, &[]);
        let Some(series) = set.next() else {
            prop_assert!(ts.is_empty());
            return Ok(());
        };
        let mut it = series.unwrap().samples;
        let mut pos: Option<usize> = None; // index of the current sample
        for op in ops {
            let got = match op {
                None => it.next(),
                Some(t) => it.seek(t),
            };
            let want = match op {
                None => pos.map_or(0, |p| p + 1),
                Some(t) => {
                    let from = pos.unwrap_or(0);
                    from + ts[from.min(ts.len())..].partition_point(|&x| x < t)
                }
            }
            .min(ts.len());
            pos = Some(want);
            if want < ts.len() {
                prop_assert_eq!(got, ValueType::Float);
                prop_assert_eq!(it.at().0, ts[want]);
            } else {
                prop_assert_eq!(got, ValueType::None);
            }
        }
    }
}
