use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aion_model::Labels;
use parking_lot::Mutex;

use super::*;

/// Encodes a batch as text a test transport can read back:
/// `V1|V2` then `series,t` lines.
struct TextEncoder;

impl Encoder for TextEncoder {
    fn encode(&mut self, protocol: Protocol, batch: &[QueuedSample], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(if protocol == Protocol::V2 {
            b"V2\n"
        } else {
            b"V1\n"
        });
        for s in batch {
            out.extend_from_slice(format!("{},{}\n", s.series, s.t).as_bytes());
        }
    }
}

/// A receiver that answers from a script (then 204 or, for 2.0 bodies,
/// 204 with the written header), recording what it accepted.
#[derive(Default)]
struct Receiver {
    script: Mutex<Vec<Result<Response, String>>>,
    accepted: Mutex<Vec<(u64, i64)>>,
    bodies: Mutex<Vec<(String, usize)>>,
    speaks_v2: bool,
}

impl Transport for Receiver {
    fn send(&self, body: &[u8], headers: &[(&str, &str)]) -> Result<Response, String> {
        let text = String::from_utf8_lossy(body).to_string();
        let mut lines = text.lines();
        let proto = lines.next().unwrap_or("").to_string();
        let samples: Vec<(u64, i64)> = lines
            .map(|l| {
                let (a, b) = l.split_once(',').unwrap();
                (a.parse().unwrap(), b.parse().unwrap())
            })
            .collect();
        let ct = headers.iter().find(|h| h.0 == "Content-Type").unwrap().1;
        assert_eq!(ct.contains("v2"), proto == "V2");
        self.bodies.lock().push((proto.clone(), samples.len()));
        let scripted = {
            let mut s = self.script.lock();
            (!s.is_empty()).then(|| s.remove(0))
        };
        let answer = scripted.unwrap_or_else(|| {
            if proto == "V2" && !self.speaks_v2 {
                return Ok(Response {
                    status: 415,
                    headers: vec![],
                });
            }
            let headers = if proto == "V2" {
                vec![(SAMPLES_HEADER.to_string(), samples.len().to_string())]
            } else {
                vec![]
            };
            Ok(Response {
                status: 204,
                headers,
            })
        });
        if let Ok(r) = &answer {
            if (200..300).contains(&r.status) {
                self.accepted.lock().extend(samples);
            }
        }
        answer
    }
}

const SAMPLES_HEADER: &str = "X-Prometheus-Remote-Write-Samples-Written";

fn status(code: u16) -> Result<Response, String> {
    Ok(Response {
        status: code,
        headers: vec![],
    })
}

fn quick() -> QueueConfig {
    QueueConfig {
        capacity: 100,
        max_samples_per_send: 50,
        batch_send_deadline: Duration::from_millis(20),
        min_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..QueueConfig::default()
    }
}

fn samples(series: u64, ts: std::ops::Range<i64>) -> Vec<QueuedSample> {
    let labels =
        Labels::from_pairs(&[("__name__", "m".to_string()), ("s", series.to_string())]).unwrap();
    ts.map(|t| QueuedSample {
        series,
        labels: labels.clone(),
        t,
        v: t as f64,
    })
    .collect()
}

fn queue(cfg: QueueConfig, rx: Arc<Receiver>) -> QueueManager {
    QueueManager::new(
        cfg,
        rx,
        Arc::new(|| Box::new(TextEncoder) as Box<dyn Encoder>),
    )
}

fn wait_for(what: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(20);
    while !what() {
        assert!(Instant::now() < until, "timed out");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every sample once, each series in order, no batch over the limit.
fn assert_complete(rx: &Receiver, series: u64, per_series: i64) {
    let got = rx.accepted.lock().clone();
    let mut by_series: HashMap<u64, Vec<i64>> = HashMap::new();
    for (s, t) in got {
        by_series.entry(s).or_default().push(t);
    }
    for s in 0..series {
        assert_eq!(
            by_series.get(&s).cloned().unwrap_or_default(),
            (0..per_series).collect::<Vec<_>>(),
            "series {s}"
        );
    }
}

#[test]
fn delivers_everything_in_order_per_series_across_resharding() {
    let rx = Arc::new(Receiver::default());
    let q = queue(
        QueueConfig {
            max_shards: 8,
            ..quick()
        },
        rx.clone(),
    );
    for chunk in 0..10 {
        for s in 0..20 {
            q.append(&samples(s, chunk * 10..chunk * 10 + 10));
        }
        if chunk == 4 {
            q.reshard(4);
        }
    }
    wait_for(|| q.stats().samples_out == 2000);
    let st = q.stop(Duration::from_secs(1));
    assert_eq!((st.samples_pending, st.shards), (0, 4));
    assert_complete(&rx, 20, 100);
    assert!(rx.bodies.lock().iter().all(|b| b.1 <= 50));
}

#[test]
fn server_errors_and_network_errors_are_retried_until_accepted() {
    let rx = Arc::new(Receiver::default());
    *rx.script.lock() = vec![status(503), Err("connection refused".into()), status(500)];
    let q = queue(quick(), rx.clone());
    q.append(&samples(1, 0..10));
    wait_for(|| q.stats().samples_out == 10);
    let st = q.stop(Duration::from_secs(1));
    assert_eq!(st.samples_retried, 30);
    assert_eq!(st.requests, 4);
    assert_eq!(rx.accepted.lock().len(), 10);
}

#[test]
fn client_errors_drop_the_batch_and_count_it() {
    let rx = Arc::new(Receiver::default());
    *rx.script.lock() = vec![status(400)];
    let q = queue(quick(), rx.clone());
    q.append(&samples(1, 0..10));
    wait_for(|| q.stats().samples_failed == 10);
    q.append(&samples(1, 10..20));
    wait_for(|| q.stats().samples_out == 10);
    let st = q.stop(Duration::from_secs(1));
    assert_eq!((st.samples_failed, st.samples_pending), (10, 0));
}

#[test]
fn too_many_requests_waits_for_retry_after() {
    let rx = Arc::new(Receiver::default());
    *rx.script.lock() = vec![Ok(Response {
        status: 429,
        headers: vec![("retry-after".into(), "1".into())],
    })];
    let q = queue(quick(), rx.clone());
    let start = Instant::now();
    q.append(&samples(1, 0..5));
    wait_for(|| q.stats().samples_out == 5);
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    q.stop(Duration::from_secs(1));
}

#[test]
fn two_point_oh_falls_back_to_one_point_oh() {
    // A receiver that answers 415 to 2.0 bodies.
    let rx = Arc::new(Receiver::default());
    let q = queue(
        QueueConfig {
            protocol: Protocol::V2,
            ..quick()
        },
        rx.clone(),
    );
    q.append(&samples(1, 0..10));
    wait_for(|| q.stats().samples_out == 10);
    assert_eq!(q.protocol(), Protocol::V1);
    let st = q.stop(Duration::from_secs(1));
    assert_eq!(st.protocol_fallbacks, 1);
    // One that answers 2xx without the written-samples header.
    let rx = Arc::new(Receiver::default());
    *rx.script.lock() = vec![status(204)];
    let q = queue(
        QueueConfig {
            protocol: Protocol::V2,
            ..quick()
        },
        rx.clone(),
    );
    q.append(&samples(1, 0..10));
    wait_for(|| q.stats().samples_out == 10);
    assert_eq!(q.protocol(), Protocol::V1);
    q.stop(Duration::from_secs(1));
    // A 2.0 receiver keeps 2.0.
    let rx = Arc::new(Receiver {
        speaks_v2: true,
        ..Receiver::default()
    });
    let q = queue(
        QueueConfig {
            protocol: Protocol::V2,
            ..quick()
        },
        rx.clone(),
    );
    q.append(&samples(1, 0..10));
    wait_for(|| q.stats().samples_out == 10);
    assert_eq!(q.protocol(), Protocol::V2);
    q.stop(Duration::from_secs(1));
}

#[test]
fn samples_older_than_the_age_limit_are_dropped() {
    let rx = Arc::new(Receiver::default());
    let q = queue(
        QueueConfig {
            sample_age_limit: Duration::from_secs(60),
            ..quick()
        },
        rx.clone(),
    );
    let now = super::shard::now_ms();
    let mut batch = samples(1, 0..3);
    batch[2].t = now;
    q.append(&batch);
    wait_for(|| q.stats().samples_out == 1);
    let st = q.stop(Duration::from_secs(1));
    assert_eq!((st.samples_dropped, st.samples_pending), (2, 0));
}

#[test]
fn stop_gives_up_on_a_dead_receiver_after_the_flush_deadline() {
    let rx = Arc::new(Receiver::default());
    *rx.script.lock() = (0..10_000).map(|_| status(503)).collect();
    let q = queue(quick(), rx.clone());
    q.append(&samples(1, 0..10));
    let start = Instant::now();
    let st = q.stop(Duration::from_millis(200));
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!((st.samples_out, st.samples_pending), (0, 10));
}

#[test]
fn the_accept_hook_sees_exactly_the_accepted_batches() {
    let rx = Arc::new(Receiver::default());
    // The first batch is refused for good, the second retried once.
    *rx.script.lock() = vec![status(400), status(503)];
    let seen: Arc<Mutex<Vec<(u64, i64)>>> = Arc::default();
    let hook: AcceptHook = {
        let seen = seen.clone();
        Arc::new(move |batch: &[QueuedSample]| {
            seen.lock().extend(batch.iter().map(|s| (s.series, s.t)));
        })
    };
    let q = QueueManager::with_accept_hook(
        quick(),
        rx.clone(),
        Arc::new(|| Box::new(TextEncoder) as Box<dyn Encoder>),
        Some(hook),
    );
    q.append(&samples(1, 0..10));
    wait_for(|| q.stats().samples_failed == 10);
    q.append(&samples(1, 10..20));
    q.append(&samples(2, 0..5));
    wait_for(|| q.stats().samples_out == 15);
    q.stop(Duration::from_secs(1));
    let mut got = seen.lock().clone();
    got.sort_unstable();
    let mut want = rx.accepted.lock().clone();
    want.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(got.len(), 15);
}

#[test]
fn stop_releases_an_append_blocked_on_a_full_shard() {
    let rx = Arc::new(Receiver::default());
    // The receiver is down for good: the shard fills and appends block.
    *rx.script.lock() = (0..10_000).map(|_| status(503)).collect();
    let q = Arc::new(queue(
        QueueConfig {
            capacity: 10,
            max_samples_per_send: 5,
            ..quick()
        },
        rx,
    ));
    let appender = {
        let q = q.clone();
        std::thread::spawn(move || q.append(&samples(1, 0..100)))
    };
    wait_for(|| q.stats().samples_retried > 0);
    let st = q.stop(Duration::from_millis(100));
    appender.join().unwrap();
    assert_eq!(st.samples_out, 0);
    assert!(q.stats().samples_pending > 0);
}
