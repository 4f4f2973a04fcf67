//! Tests of the window and lookback cursors (`cursor.rs`), kept apart so
//! that file stays readable.

use super::budget::SampleBudget;
use super::cursor::*;
use crate::value::FPoint;
use aion_chunkenc::{is_stale_nan, SampleIterator};
use aion_chunkenc::{ValueType, STALE_NAN};

struct VecIter {
    data: Vec<(i64, f64)>,
    pos: Option<usize>,
    seeks: usize,
}

impl SampleIterator for VecIter {
    fn next(&mut self) -> ValueType {
        let p = self.pos.map_or(0, |p| p + 1).min(self.data.len());
        self.pos = Some(p);
        if p < self.data.len() {
            ValueType::Float
        } else {
            ValueType::None
        }
    }
    fn seek(&mut self, t: i64) -> ValueType {
        self.seeks += 1;
        let from = self.pos.unwrap_or(0).min(self.data.len());
        let p = from + self.data[from..].partition_point(|&(x, _)| x < t);
        self.pos = Some(p);
        if p < self.data.len() {
            ValueType::Float
        } else {
            ValueType::None
        }
    }
    fn at(&self) -> (i64, f64) {
        self.data[self.pos.unwrap_or(0)]
    }
    fn at_t(&self) -> i64 {
        self.at().0
    }
    fn err(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        None
    }
}

fn it(data: &[(i64, f64)]) -> Box<dyn SampleIterator> {
    Box::new(VecIter {
        data: data.to_vec(),
        pos: None,
        seeks: 0,
    })
}

#[test]
fn lookback_is_left_open_and_stops_at_stale_markers() {
    let mut c = LookbackCursor::new(it(&[(10, 1.0), (20, STALE_NAN), (30, 3.0)]));
    let v = |c: &mut LookbackCursor, at| c.at(at, 10).unwrap().map(|p| p.f);
    assert_eq!(v(&mut c, 5), None);
    assert_eq!(v(&mut c, 10), Some(1.0));
    assert_eq!(v(&mut c, 19), Some(1.0));
    // The stale marker hides the older sample.
    assert_eq!(v(&mut c, 20), None);
    assert_eq!(v(&mut c, 30), Some(3.0));
    assert_eq!(v(&mut c, 39), Some(3.0));
    // Exactly lookback after the sample: no longer visible.
    assert_eq!(v(&mut c, 40), None);
}

#[test]
fn windows_are_left_open_and_skip_stale_markers() {
    let budget = SampleBudget::new(100);
    let data: Vec<(i64, f64)> = (0..10).map(|i| (i * 10, i as f64)).collect();
    let mut data2 = data.clone();
    data2[5].1 = STALE_NAN;
    let mut w = WindowCursor::new(it(&data2), &budget, WindowBuffers::default());
    let ts = |s: &[FPoint]| s.iter().map(|p| p.t).collect::<Vec<_>>();
    assert_eq!(ts(w.window(0, 30).unwrap()), vec![10, 20, 30]);
    assert_eq!(ts(w.window(20, 60).unwrap()), vec![30, 40, 60]);
    assert_eq!(ts(w.window(85, 200).unwrap()), vec![90]);
    assert_eq!(ts(w.window(300, 400).unwrap()), Vec::<i64>::new());
    let _ = w.finish();
    assert_eq!(budget.peak(), 3);
}

#[test]
fn windows_seek_over_gaps() {
    let budget = SampleBudget::new(100);
    let data: Vec<(i64, f64)> = (0..1000).map(|i| (i, i as f64)).collect();
    let mut w = WindowCursor::new(it(&data), &budget, WindowBuffers::default());
    assert_eq!(w.window(100, 102).unwrap().len(), 2);
    assert_eq!(w.window(900, 902).unwrap().len(), 2);
    assert!(budget.peak() <= 3);
}

#[test]
fn decreases_are_tracked_while_sliding() {
    // Resets (and a NaN and a stale marker) at scattered places; every
    // window, of every width, agrees with a scan of its samples.
    let values = [
        5.0,
        6.0,
        2.0,
        3.0,
        3.0,
        f64::NAN,
        4.0,
        1.0,
        9.0,
        STALE_NAN,
        8.0,
        8.5,
        0.0,
        1.0,
        2.0,
    ];
    let data: Vec<(i64, f64)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (i as i64 * 10, *v))
        .collect();
    for width in [5, 10, 25, 40, 70] {
        for step in [5, 10, 30] {
            let budget = SampleBudget::new(100);
            let mut w = WindowCursor::new(it(&data), &budget, WindowBuffers::default());
            let mut end = 0;
            while end < 200 {
                let got = w.window(end - width, end).unwrap().to_vec();
                let scan = !got.windows(2).any(|p| p[1].f < p[0].f);
                assert_eq!(
                    w.non_decreasing(),
                    scan,
                    "width {width} step {step} end {end}"
                );
                end += step;
            }
            let _ = w.finish();
            // Untracked, the same windows and never "non-decreasing".
            let mut u = WindowCursor::new(it(&data), &budget, WindowBuffers::default())
                .track_decreases(false);
            let mut end = 0;
            while end < 200 {
                let got = u.window(end - width, end).unwrap().to_vec();
                assert_eq!(
                    got.len(),
                    data.iter()
                        .filter(|p| p.0 > end - width && p.0 <= end && !is_stale_nan(p.1))
                        .count()
                );
                assert!(!u.non_decreasing());
                end += step;
            }
            let _ = u.finish();
        }
    }
}

use proptest::prelude::*;

/// Series of floats with stale markers and NaNs at scattered times.
fn samples() -> impl Strategy<Value = Vec<(i64, f64)>> {
    prop::collection::btree_map(0i64..3000, 0u8..12, 0..600).prop_map(|m| {
        m.into_iter()
            .map(|(t, k)| {
                let f = match k {
                    0 => STALE_NAN,
                    1 => f64::NAN,
                    k => f64::from(k) * (t % 7) as f64,
                };
                (t, f)
            })
            .collect()
    })
}

proptest! {
    /// Batched windows and lookbacks, read ahead or not, equal a scan
    /// of the samples for any window sequence.
    #[test]
    fn batched_cursors_equal_a_scan(
        data in samples(),
        start in -100i64..3000,
        range in 1i64..400,
        step in 1i64..500,
        dense in any::<bool>(),
    ) {
        let budget = SampleBudget::new(1_000_000);
        let mut w = WindowCursor::new(it(&data), &budget, WindowBuffers::default()).dense(dense);
        let mut l = LookbackCursor::new(it(&data)).dense(dense);
        let mut end = start;
        while end < 3200 {
            let got: Vec<(i64, u64)> = w
                .window(end - range, end)
                .unwrap()
                .iter()
                .map(|p| (p.t, p.f.to_bits()))
                .collect();
            let want: Vec<(i64, u64)> = data
                .iter()
                .filter(|(t, f)| *t > end - range && *t <= end && !is_stale_nan(*f))
                .map(|(t, f)| (*t, f.to_bits()))
                .collect();
            prop_assert_eq!(&got, &want, "window ending {}", end);
            let scan = !got.windows(2).any(|p| f64::from_bits(p[1].1) < f64::from_bits(p[0].1));
            prop_assert_eq!(w.non_decreasing(), scan);
            let seen = l.at(end, range).unwrap().map(|p| (p.t, p.f.to_bits()));
            let newest = data.iter().rev().find(|(t, _)| *t <= end);
            let visible = newest
                .filter(|(t, f)| *t > end - range && !is_stale_nan(*f))
                .map(|(t, f)| (*t, f.to_bits()));
            prop_assert_eq!(seen, visible, "lookback at {}", end);
            end += step;
        }
        let _ = w.finish();
        prop_assert!(budget.take(1_000_000).is_ok(), "the window gave its samples back");
    }
}

/// One step's window as `(timestamp, value bits)` and whether it is
/// known non-decreasing.
type Seen = (Vec<(i64, u64)>, bool);

fn seen(points: &[FPoint], non_decreasing: bool) -> Seen {
    let pts = points.iter().map(|p| (p.t, p.f.to_bits())).collect();
    (pts, non_decreasing)
}

/// The windows of `steps` steps ending at `start + i * step`, read
/// in blocks of `block` steps (`per_step`: which blocks go step by
/// step instead, by bit, cycling).
fn block_windows(
    data: &[(i64, f64)],
    budget: &SampleBudget,
    (start, range, step, steps): (i64, i64, i64, usize),
    block: usize,
    per_step: u32,
    track: bool,
    shift: usize,
) -> Vec<Seen> {
    let mut w = WindowCursor::new(it(data), budget, WindowBuffers::default())
        .dense(true)
        .track_decreases(track);
    let end = |i: usize| start + i as i64 * step;
    let mut out = Vec::new();
    let (mut i, mut k) = (0, 0);
    while i < steps {
        let last = (i + block).min(steps);
        let blocked = per_step & (1 << (k % 32)) == 0;
        k += 1;
        if blocked {
            if let Some(b) = w.block(end(i) - range, end(last - 1)).unwrap() {
                let (mut win, mut d) = (b.window, b.decreases);
                for j in i..last {
                    b.slide(&mut win, &mut d, end(j) - range, end(j));
                    // A deliberate off-by-one for checking the check.
                    let hi = (win.1 + shift).min(b.points.len());
                    out.push(seen(&b.points[win.0..hi], d == Some(0)));
                }
                w.settle(win.0, win.1, d.unwrap_or(0));
                i = last;
                continue;
            }
        }
        for j in i..last {
            let got = w.window(end(j) - range, end(j)).unwrap().to_vec();
            out.push(seen(&got, w.non_decreasing()));
        }
        i = last;
    }
    let _ = w.finish();
    out
}

proptest! {
    /// Blocks of steps (mixed with single steps) see exactly the
    /// windows, and the decrease counts, of the step-by-step cursor.
    #[test]
    fn blocks_equal_steps(
        data in samples(),
        start in -100i64..3000,
        range in 1i64..400,
        step in 1i64..400,
        block in 2usize..70,
        per_step in any::<u32>(),
        track in any::<bool>(),
    ) {
        let steps = ((3200 - start) / step).max(0) as usize;
        let budget = SampleBudget::new(1_000_000);
        let want = block_windows(&data, &budget, (start, range, step, steps), 1, u32::MAX, track, 0);
        let got = block_windows(&data, &budget, (start, range, step, steps), block, per_step, track, 0);
        prop_assert_eq!(got, want);
        prop_assert!(budget.take(1_000_000).is_ok(), "the cursors gave their samples back");
    }
}

#[test]
fn the_block_check_catches_an_off_by_one() {
    let data: Vec<(i64, f64)> = (0..300).map(|i| (i * 10, (i % 7) as f64)).collect();
    let budget = SampleBudget::new(1_000_000);
    let shape = (0, 50, 20, 100);
    let want = block_windows(&data, &budget, shape, 1, u32::MAX, true, 0);
    assert_eq!(
        block_windows(&data, &budget, shape, 16, 0b101, true, 0),
        want
    );
    assert_ne!(
        block_windows(&data, &budget, shape, 16, 0b101, true, 1),
        want
    );
}

#[test]
fn blocks_that_do_not_fit_the_budget_go_step_by_step() {
    let data: Vec<(i64, f64)> = (0..100).map(|i| (i * 10, i as f64)).collect();
    // A window holds 5 samples, a block of 10 steps 14.
    let budget = SampleBudget::new(8);
    let mut w = WindowCursor::new(it(&data), &budget, WindowBuffers::default()).dense(true);
    assert!(w.block(0, 140).unwrap().is_none());
    assert_eq!(w.window(0, 50).unwrap().len(), 5);
    let _ = w.finish();
    assert_eq!(budget.peak(), 5, "nothing taken for the refused block");
    let budget = SampleBudget::new(100);
    let mut w = WindowCursor::new(it(&data), &budget, WindowBuffers::default()).dense(true);
    assert_eq!(w.block(0, 140).unwrap().unwrap().points.len(), 14);
    let _ = w.finish();
    assert_eq!(budget.peak(), 14, "the read-ahead is charged");
}

#[test]
fn slices() {
    let pts: Vec<FPoint> = (0..5).map(|i| FPoint { t: i * 10, f: 0.0 }).collect();
    assert_eq!(slice_window(&pts, 10, 30).len(), 2);
    assert_eq!(slice_window(&pts, 40, 30).len(), 0);
}
