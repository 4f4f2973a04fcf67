use std::time::{Duration, Instant};

use super::*;
use crate::record::{encode_samples, encode_series};
use crate::{Wal, WalOptions};

/// Collects what the watcher forwards as (labels text, t, v).
#[derive(Default)]
struct Collect(Vec<(String, i64, f64)>);

impl WatchSink for Collect {
    fn samples(&mut self, samples: &[RefSample], series: &SeriesCache) {
        for s in samples {
            let l = series.get(s.r#ref).expect("forwarded samples have series");
            self.0.push((l.to_string(), s.t, s.v));
        }
    }
}

fn labels(name: &str) -> Labels {
    Labels::from_pairs(&[("__name__", name)]).unwrap()
}

/// Logs a series record and one sample per `(ref, t)` in one batch.
fn log(wal: &mut Wal, series: &[(u64, &str)], samples: &[(u64, i64)]) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let series: Vec<RefSeries> = series
        .iter()
        .map(|&(r, n)| RefSeries {
            r#ref: r,
            labels: labels(n),
        })
        .collect();
    let samples: Vec<RefSample> = samples
        .iter()
        .map(|&(r, t)| RefSample {
            r#ref: r,
            t,
            v: t as f64,
        })
        .collect();
    let mut recs: Vec<&[u8]> = Vec::new();
    if !series.is_empty() {
        encode_series(&series, &mut a);
        recs.push(&a);
    }
    if !samples.is_empty() {
        encode_samples(&samples, &mut b);
        recs.push(&b);
    }
    wal.log(&recs).unwrap();
}

fn watcher(dir: &Path, start: StartFrom) -> Watcher {
    Watcher::new(
        dir,
        WatcherOptions {
            start,
            poll_interval: Duration::from_millis(10),
        },
    )
}

#[test]
fn follows_rotation_and_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
    log(&mut wal, &[(1, "a")], &[(1, 10), (1, 20)]);
    let mut w = watcher(dir.path(), StartFrom::Checkpoint);
    let mut sink = Collect::default();
    assert_eq!(w.poll(&mut sink).unwrap(), 2);
    assert_eq!(sink.0.len(), 2);
    // Nothing new: nothing read, nothing repeated.
    assert_eq!(w.poll(&mut sink).unwrap(), 0);
    wal.next_segment().unwrap();
    log(&mut wal, &[(2, "b")], &[(1, 30), (2, 30)]);
    w.poll(&mut sink).unwrap();
    let got: Vec<(&str, i64)> = sink.0.iter().map(|(l, t, _)| (l.as_str(), *t)).collect();
    assert_eq!(
        got,
        vec![
            (r#"{__name__="a"}"#, 10),
            (r#"{__name__="a"}"#, 20),
            (r#"{__name__="a"}"#, 30),
            (r#"{__name__="b"}"#, 30)
        ]
    );
    assert_eq!(w.stats().segment, 1);
    assert_eq!(w.stats().samples_forwarded, 4);
}

#[test]
fn start_time_skips_older_samples_but_keeps_their_series() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
    log(&mut wal, &[(1, "a")], &[(1, 10), (1, 20)]);
    let mut w = watcher(dir.path(), StartFrom::Time(15));
    let mut sink = Collect::default();
    w.poll(&mut sink).unwrap();
    assert_eq!(sink.0.iter().map(|s| s.1).collect::<Vec<_>>(), vec![20]);
    assert_eq!(w.stats().samples_before_start, 1);
    assert_eq!(w.series().len(), 1);
}

#[test]
fn reads_the_checkpoint_then_forgets_series_a_new_checkpoint_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
    log(&mut wal, &[(1, "a"), (2, "b")], &[(1, 10), (2, 10)]);
    wal.next_segment().unwrap();
    // Checkpoint 0 keeps both series and the samples at or after 10.
    wal.checkpoint(0, |_| true, 10).unwrap();
    log(&mut wal, &[], &[(1, 20)]);

    // A watcher starting now reads checkpoint.00000000, then segment 1.
    let mut w = watcher(dir.path(), StartFrom::Checkpoint);
    let mut sink = Collect::default();
    w.poll(&mut sink).unwrap();
    assert_eq!(sink.0.len(), 3, "{:?}", sink.0);
    assert_eq!(w.stats().checkpoints_read, 1);
    assert_eq!(w.series().len(), 2);

    // The writer checkpoints segment 1 keeping only series 1: series 2 is
    // forgotten at the next poll.
    wal.next_segment().unwrap();
    wal.checkpoint(1, |r| r == 1, 0).unwrap();
    log(&mut wal, &[], &[(1, 30), (2, 30)]);
    w.poll(&mut sink).unwrap();
    assert_eq!(w.series().len(), 1);
    assert!(w.series().get(2).is_none());
    assert_eq!(w.stats().series_dropped, 1);
    // The sample of the forgotten series is counted, not forwarded.
    assert_eq!(sink.0.last().map(|s| s.1), Some(30));
    assert_eq!(w.stats().samples_unknown_series, 1);
    // Samples of checkpoint 1 were forwarded from segment 1 already.
    assert_eq!(sink.0.len(), 4);
}

#[test]
fn segments_deleted_before_they_were_read_are_counted_as_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
    log(&mut wal, &[(1, "a")], &[(1, 10)]);
    let mut w = watcher(dir.path(), StartFrom::Checkpoint);
    let mut sink = Collect::default();
    w.poll(&mut sink).unwrap();
    // While the watcher sleeps, the writer fills two more segments and
    // checkpoints them away.
    wal.next_segment().unwrap();
    log(&mut wal, &[], &[(1, 20)]);
    wal.next_segment().unwrap();
    log(&mut wal, &[], &[(1, 30)]);
    wal.next_segment().unwrap();
    // Segment 0 is still being read by the watcher's cursor, so it drains
    // it; segments 1 and 2 vanish before it gets there.
    wal.checkpoint(2, |_| true, i64::MAX).unwrap();
    log(&mut wal, &[], &[(1, 40)]);
    w.poll(&mut sink).unwrap();
    let ts: Vec<i64> = sink.0.iter().map(|s| s.1).collect();
    assert_eq!(ts, vec![10, 40]);
    assert_eq!(w.stats().segments_lost, 2);
}

#[test]
fn wait_wakes_on_notify_before_the_poll_interval() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Watcher::new(
        dir.path(),
        WatcherOptions {
            start: StartFrom::Checkpoint,
            poll_interval: Duration::from_secs(30),
        },
    );
    let notify = w.notifier();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        notify.notify();
    });
    let start = Instant::now();
    w.wait();
    t.join().unwrap();
    // Woken by the notification, not the 30 s fallback.
    assert!(start.elapsed() < Duration::from_secs(25));
}
