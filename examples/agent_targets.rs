//! Scrape targets for benchmarking agents: `--targets N` HTTP servers on
//! consecutive ports from `--port`, each exposing `--series M` series in
//! Prometheus text 0.0.4 (100 series per metric family, three labels each),
//! values changing on every scrape.
//!
//! ```text
//! cargo run --release --example agent_targets -- --targets 10 --series 1000 --port 19100
//! ```
//!
//! Used by the "Agent" section of BENCHMARKS.md to feed the agent example
//! and Prometheus's agent the same targets.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Serve generated /metrics targets for agent benchmarks")]
struct Args {
    /// Number of targets (one port each).
    #[arg(long, default_value_t = 10)]
    targets: u16,
    /// Series per target.
    #[arg(long, default_value_t = 1000)]
    series: usize,
    /// First port.
    #[arg(long, default_value_t = 19100)]
    port: u16,
}

/// The body of scrape number `k` of target `target`.
fn body(target: u16, series: usize, k: u64, out: &mut String) {
    use std::fmt::Write as _;
    out.clear();
    for s in 0..series {
        let family = s / 100;
        if s % 100 == 0 {
            let _ = writeln!(
                out,
                "# HELP bench_metric_{family}_total A generated counter.\n# TYPE bench_metric_{family}_total counter"
            );
        }
        let _ = writeln!(
            out,
            "bench_metric_{family}_total{{target=\"{target}\",shard=\"{}\",series=\"{s}\"}} {}",
            s % 16,
            k * (s as u64 % 7 + 1)
        );
    }
}

fn serve(conn: TcpStream, target: u16, series: usize, scrapes: &AtomicU64) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(mut w) = conn.try_clone() else {
        return;
    };
    let mut r = BufReader::new(conn);
    let mut text = String::new();
    loop {
        // Request line and headers; bodies of GETs are empty.
        let mut line = String::new();
        let mut first = true;
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" || line == "\n" => break,
                Ok(_) => first = false,
            }
        }
        if first {
            return;
        }
        let k = scrapes.fetch_add(1, Ordering::Relaxed) + 1;
        body(target, series, k, &mut text);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
            text.len()
        );
        if w.write_all(head.as_bytes()).is_err() || w.write_all(text.as_bytes()).is_err() {
            return;
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut handles = Vec::new();
    for i in 0..args.targets {
        let port = args.port + i;
        let listener = match TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("agent_targets: 127.0.0.1:{port}: {e}");
                return ExitCode::from(1);
            }
        };
        let series = args.series;
        let scrapes = Arc::new(AtomicU64::new(0));
        handles.push(std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let scrapes = scrapes.clone();
                std::thread::spawn(move || serve(conn, i, series, &scrapes));
            }
        }));
    }
    eprintln!(
        "agent_targets: {} targets x {} series on 127.0.0.1:{}..{}",
        args.targets,
        args.series,
        args.port,
        args.port + args.targets - 1
    );
    for h in handles {
        let _ = h.join();
    }
    ExitCode::SUCCESS
}
