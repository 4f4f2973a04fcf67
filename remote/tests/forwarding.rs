//! The agent's forwarding chain in one process: samples appended to agent
//! storage are tailed from its WAL by a watcher, queued, encoded as remote
//! write 1.0 or 2.0 by the crate's builders and answered by the crate's own
//! receiver into a `MemStorage`: every sample arrives once, in order, and
//! a receiver outage in between only delays them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aion_agent::{AgentDb, AgentOptions};
use aion_model::{Labels, MatchType, Matcher};
use aion_remote::queue::{
    Encoder, ProtoEncoder, Protocol, QueueConfig, QueueManager, QueueSink, Response, Transport,
};
use aion_remote::write::Receiver;
use aion_storage::{MemStorage, Queryable, SampleIterator, ValueType};
use aion_wal::{StartFrom, Watcher, WatcherOptions};

/// The crate's receiver behind a transport that can be switched off
/// (connection refused) to simulate an outage.
struct InProcess {
    receiver: Receiver<Arc<MemStorage>>,
    down: AtomicBool,
}

impl Transport for InProcess {
    fn send(&self, body: &[u8], headers: &[(&str, &str)]) -> Result<Response, String> {
        if self.down.load(Ordering::Relaxed) {
            return Err("connection refused".into());
        }
        let h = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| *v)
        };
        let r = self
            .receiver
            .receive(h("Content-Type"), h("Content-Encoding"), body);
        Ok(Response {
            status: r.status.code(),
            headers: r
                .headers()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        })
    }
}

fn stored(store: &MemStorage) -> Vec<(String, Vec<i64>)> {
    let q = store.querier(i64::MIN, i64::MAX).unwrap();
    let all = Matcher::new(MatchType::Regex, "__name__", ".+").unwrap();
    let mut set = q.select(true, None, &[all]);
    let mut out = Vec::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        let mut ts = Vec::new();
        while s.samples.next() == ValueType::Float {
            ts.push(s.samples.at_t());
        }
        out.push((s.labels.to_string(), ts));
    }
    out
}

fn forward(protocol: Protocol) {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentDb::open(dir.path(), AgentOptions::default()).unwrap();
    let store = Arc::new(MemStorage::new());
    let transport = Arc::new(InProcess {
        receiver: Receiver::new(store.clone()),
        down: AtomicBool::new(false),
    });
    let config = QueueConfig {
        protocol,
        max_samples_per_send: 100,
        batch_send_deadline: Duration::from_millis(20),
        min_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        ..QueueConfig::default()
    };
    let queue = QueueManager::new(
        config,
        transport.clone(),
        Arc::new(|| Box::new(ProtoEncoder::default()) as Box<dyn Encoder>),
    );
    let mut watcher = Watcher::new(
        agent.wal_dir(),
        WatcherOptions {
            start: StartFrom::Checkpoint,
            poll_interval: Duration::from_millis(10),
        },
    );
    agent.subscribe(watcher.notifier());
    let series: Vec<Labels> = (0..50)
        .map(|i| {
            Labels::from_pairs(&[("__name__", "m".to_string()), ("i", i.to_string())]).unwrap()
        })
        .collect();
    let mut sink = QueueSink::new(&queue);
    for scrape in 0..20i64 {
        // The receiver is down for scrapes 5..10.
        transport
            .down
            .store((5..10).contains(&scrape), Ordering::Relaxed);
        let mut app = agent.appender();
        for l in &series {
            app.append(0, l, scrape * 15_000, scrape as f64).unwrap();
        }
        app.commit().unwrap();
        watcher.poll(&mut sink).unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    transport.down.store(false, Ordering::Relaxed);
    let until = Instant::now() + Duration::from_secs(30);
    while queue.stats().samples_out < 1000 {
        assert!(Instant::now() < until, "{:?}", queue.stats());
        std::thread::sleep(Duration::from_millis(10));
    }
    let stats = queue.stop(Duration::from_secs(5));
    assert_eq!(
        (stats.samples_in, stats.samples_out, stats.samples_failed),
        (1000, 1000, 0)
    );
    assert!(
        stats.samples_retried > 0,
        "the outage was retried: {stats:?}"
    );
    let got = stored(&store);
    assert_eq!(got.len(), 50);
    for (_, ts) in got {
        assert_eq!(ts, (0..20).map(|s| s * 15_000).collect::<Vec<_>>());
    }
}

#[test]
fn agent_wal_to_receiver_over_remote_write_1() {
    forward(Protocol::V1);
}

#[test]
fn agent_wal_to_receiver_over_remote_write_2() {
    forward(Protocol::V2);
}
