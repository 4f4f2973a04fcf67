//! The watcher tails a WAL that a real Prometheus 2.42 server is writing:
//! the server scrapes itself every second, and the watcher must see the
//! `up` series and a growing run of its samples, as a remote-write queue
//! would.

mod common;

use std::time::{Duration, Instant};

use aion_wal::record::RefSample;
use aion_wal::{SeriesCache, StartFrom, WatchSink, Watcher, WatcherOptions};

#[derive(Default)]
struct Ups(Vec<(i64, f64)>);

impl WatchSink for Ups {
    fn samples(&mut self, samples: &[RefSample], series: &SeriesCache) {
        for s in samples {
            let l = series.get(s.r#ref).expect("forwarded samples have series");
            if l.get("__name__") == Some("up") {
                self.0.push((s.t, s.v));
            }
        }
    }
}

#[test]
fn tails_the_wal_prometheus_is_writing() {
    let Some(prometheus) = common::binary("prometheus") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n";
    let server =
        common::PrometheusServer::start_with_config(&prometheus, &data, tmp.path(), config);
    let mut watcher = Watcher::new(
        data.join("wal"),
        WatcherOptions {
            start: StartFrom::Checkpoint,
            poll_interval: Duration::from_millis(100),
        },
    );
    let mut ups = Ups::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ups.0.len() < 3 {
        assert!(
            Instant::now() < deadline,
            "saw {} `up` samples in 60 s; stats {:?}\n{}",
            ups.0.len(),
            watcher.stats(),
            server.log_text()
        );
        watcher.poll(&mut ups).unwrap();
        watcher.wait();
    }
    // One sample per scrape, in time order, all successful scrapes.
    assert!(ups.0.windows(2).all(|w| w[0].0 < w[1].0), "{:?}", ups.0);
    assert!(ups.0.iter().all(|&(_, v)| v == 1.0), "{:?}", ups.0);
    assert!(
        watcher.series().len() > 100,
        "{} series",
        watcher.series().len()
    );
    assert_eq!(watcher.stats().samples_unknown_series, 0);
}
