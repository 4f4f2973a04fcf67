//! Forwarding throughput of agent mode with the queue's default tunables:
//! `--series` × `--scrapes` samples appended into agent storage, then a
//! WAL watcher feeds a `QueueManager` (defaults: 1–50 shards, capacity
//! 10,000, 2,000 samples per send) posting over HTTP to a local receiver
//! (Aion's remote-write receiver decoding into a counter). Prints the
//! samples per second from the watcher's start to the last accepted
//! sample.
//!
//! ```text
//! cargo run --release --example agent_forward_bench -- --series 10000 --scrapes 200
//! ```

#[path = "agent/transport.rs"]
mod transport;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aion::agent::{AgentDb, AgentOptions};
use aion::model::{Labels, SeriesRef};
use aion::remote::queue::{Encoder, ProtoEncoder, Protocol, QueueConfig, QueueManager, QueueSink};
use aion::remote::write::Receiver;
use aion::storage::{Appendable, Appender};
use aion::wal::{StartFrom, Watcher, WatcherOptions};
use clap::Parser;

#[derive(Parser)]
#[command(about = "Measure agent forwarding throughput to a local receiver")]
struct Args {
    /// Series.
    #[arg(long, default_value_t = 10_000)]
    series: usize,
    /// Samples per series (one commit per scrape).
    #[arg(long, default_value_t = 200)]
    scrapes: usize,
    /// Remote-write 2.0 instead of 1.0.
    #[arg(long)]
    v2: bool,
}

/// Counts what the receiver decoded.
#[derive(Default)]
struct Count(AtomicU64);

struct CountAppender<'a>(&'a Count, u64);

impl Appender for CountAppender<'_> {
    fn append(
        &mut self,
        _: SeriesRef,
        _: &Labels,
        _: i64,
        _: f64,
    ) -> aion::storage::Result<SeriesRef> {
        self.1 += 1;
        Ok(1)
    }
    fn commit(&mut self) -> aion::storage::Result<()> {
        self.0 .0.fetch_add(self.1, Ordering::Relaxed);
        Ok(())
    }
    fn rollback(&mut self) -> aion::storage::Result<()> {
        Ok(())
    }
}

impl Appendable for Count {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(CountAppender(self, 0))
    }
}

fn handle(conn: TcpStream, rx: &Receiver<Arc<Count>>) {
    let Ok(mut w) = conn.try_clone() else { return };
    let mut r = BufReader::new(conn);
    loop {
        let (mut len, mut ct, mut ce) = (0usize, None, None);
        let mut line = String::new();
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line.trim_end().is_empty() => break,
                Ok(_) => {
                    if let Some((k, v)) = line.split_once(':') {
                        let v = v.trim().to_string();
                        match k.to_ascii_lowercase().as_str() {
                            "content-length" => len = v.parse().unwrap_or(0),
                            "content-type" => ct = Some(v),
                            "content-encoding" => ce = Some(v),
                            _ => {}
                        }
                    }
                }
            }
        }
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let resp = rx.receive(ct.as_deref(), ce.as_deref(), &body);
        let mut head = format!("HTTP/1.1 {} X\r\nContent-Length: 0\r\n", resp.status.code());
        for (k, v) in resp.headers() {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if w.write_all(head.as_bytes()).is_err() {
            return;
        }
    }
}

fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = AgentDb::open(dir.path(), AgentOptions::default()).expect("agent storage");
    let series: Vec<Labels> = (0..args.series)
        .map(|i| {
            Labels::from_pairs(&[
                ("__name__", format!("bench_metric_{}_total", i / 100)),
                ("instance", format!("127.0.0.1:{}", 19100 + i % 10)),
                ("job", "bench".to_string()),
                ("series", i.to_string()),
            ])
            .expect("labels")
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let start_t = now - args.scrapes as i64 * 1000;
    let mut refs = vec![0; series.len()];
    let t0 = Instant::now();
    for k in 0..args.scrapes {
        let mut app = db.appender();
        for (l, r) in series.iter().zip(refs.iter_mut()) {
            *r = app
                .append(*r, l, start_t + k as i64 * 1000, k as f64)
                .expect("append");
        }
        app.commit().expect("commit");
    }
    let total = (args.series * args.scrapes) as u64;
    eprintln!("appended {total} samples in {:.2?}", t0.elapsed());

    let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
    let addr = listener.local_addr().expect("address");
    let count = Arc::new(Count::default());
    let rx = Arc::new(Receiver::new(count.clone()));
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let rx = rx.clone();
            std::thread::spawn(move || handle(conn, &rx));
        }
    });

    let config = QueueConfig {
        protocol: if args.v2 { Protocol::V2 } else { Protocol::V1 },
        ..QueueConfig::default()
    };
    let queue = QueueManager::new(
        config,
        Arc::new(transport::HttpTransport::new(&format!(
            "http://{addr}/api/v1/write"
        ))),
        Arc::new(|| Box::new(ProtoEncoder::default()) as Box<dyn Encoder>),
    );
    let started = Instant::now();
    let mut watcher = Watcher::new(
        db.wal_dir(),
        WatcherOptions {
            start: StartFrom::Checkpoint,
            poll_interval: Duration::from_millis(50),
        },
    );
    let mut sink = QueueSink::new(&queue);
    watcher.poll(&mut sink).expect("reading the WAL");
    let read = started.elapsed();
    while queue.stats().samples_out < total {
        std::thread::sleep(Duration::from_millis(1));
    }
    let elapsed = started.elapsed();
    let st = queue.stop(Duration::from_secs(5));
    println!(
        "samples={total} seconds={:.3} samples_per_sec={:.0} wal_read_s={:.3} requests={} bytes_sent={} shards={} received={}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        read.as_secs_f64(),
        st.requests,
        st.bytes_sent,
        st.shards,
        count.0.load(Ordering::Relaxed)
    );
}
