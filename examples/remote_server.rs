//! `remote_server`: an HTTP host around an Aion `Db` that Prometheus,
//! agents and Grafana talk to as they talk to a Prometheus server:
//!
//! | endpoint | what |
//! |---|---|
//! | `POST /api/v1/write` | remote write 1.0 and 2.0 (`aion_remote::write::Receiver`) |
//! | `POST /api/v1/read` | remote read, SAMPLES and STREAMED_XOR_CHUNKS (`aion_remote::read::ReadServer`) |
//! | `GET\|POST /api/v1/query`, `/api/v1/query_range` | PromQL, answered as Prometheus's HTTP API |
//! | `GET\|POST /api/v1/series`, `/api/v1/labels`, `GET /api/v1/label/NAME/values` | metadata, as Prometheus's API |
//! | `GET /-/ready`, `/-/healthy` | 200 once serving |
//!
//! ```text
//! cargo run --release --example remote_server -- --listen 127.0.0.1:9201 --dir data/
//! ```
//!
//! It prints `listening on ADDR` once it accepts connections (port 0
//! picks a free port and prints it). SIGTERM or SIGINT stops accepting,
//! lets requests in progress finish (10 s at most), then syncs and closes
//! the `Db` and exits 0.
//!
//! Aion's library crates have no networking: this example is the host
//! the remote-write issue asks for, built on hyper 1 and tokio. Request
//! work (decoding, appending, querying) runs on tokio's blocking pool, so
//! the connection threads only move bytes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use aion_promql::{Engine, EngineOptions};
use aion_remote::read::ReadServer;
use aion_tsdb::{Db, Options};
use clap::Parser;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;

#[path = "remote_server/api.rs"]
mod api;
#[path = "remote_server/body.rs"]
mod body;
#[path = "remote_server/form.rs"]
mod form;
#[path = "remote_server/http.rs"]
mod http;
#[path = "remote_server/read.rs"]
mod read;
// Shared with the `aion` CLI, which also parses steps.
#[allow(dead_code)]
#[path = "cli/timeparse.rs"]
mod timeparse;
#[path = "remote_server/write.rs"]
mod write;

/// How long requests in progress may run on after a stop signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Parser)]
#[command(
    name = "remote_server",
    about = "Remote write/read receiver and Prometheus query API over an Aion data directory"
)]
struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9201")]
    listen: SocketAddr,
    /// The data directory (created if missing; Prometheus's layout).
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Accept samples up to this far behind a series' newest one
    /// (Prometheus's `out_of_order_time_window`), e.g. `30m`.
    #[arg(long, value_name = "DURATION", value_parser = timeparse::parse_duration_ms)]
    out_of_order_window: Option<i64>,
}

/// What every request handler shares.
pub struct State {
    pub db: Db,
    pub engine: Engine,
    pub read: ReadServer,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut options = Options::default();
    if let Some(window) = args.out_of_order_window {
        options.out_of_order_time_window_ms = window;
        if let Err(e) = options.validate() {
            eprintln!("remote_server: --out-of-order-window: {e}");
            return ExitCode::from(2);
        }
    }
    let db = match Db::open(&args.dir, options) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("remote_server: opening {}: {e}", args.dir.display());
            return ExitCode::from(1);
        }
    };
    for w in db.warnings() {
        eprintln!("remote_server: warning: {w}");
    }
    let state = Arc::new(State {
        db,
        engine: Engine::new(EngineOptions::default()),
        read: ReadServer::new(),
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("remote_server: starting the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let served = runtime.block_on(serve(args.listen, state.clone()));
    // Handlers still running on the blocking pool hold the state; give
    // them the drain time, then close the Db.
    runtime.shutdown_timeout(DRAIN_TIMEOUT);
    let mut code = match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("remote_server: {e}");
            ExitCode::from(1)
        }
    };
    match Arc::try_unwrap(state) {
        Ok(state) => match state.db.close() {
            Ok(()) => eprintln!("remote_server: flushed and closed {}", args.dir.display()),
            Err(e) => {
                eprintln!("remote_server: closing {}: {e}", args.dir.display());
                code = ExitCode::from(1);
            }
        },
        Err(state) => {
            // A handler is stuck past the drain time: sync what is
            // committed; the Db's drop closes it when the process ends.
            eprintln!("remote_server: requests still running at exit; syncing");
            if let Err(e) = state.db.sync() {
                eprintln!("remote_server: syncing {}: {e}", args.dir.display());
                code = ExitCode::from(1);
            }
        }
    }
    code
}

/// Accepts connections until SIGTERM or SIGINT, then drains them.
async fn serve(addr: SocketAddr, state: Arc<State>) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};

    let listener = tokio::net::TcpListener::bind(addr).await?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    println!("listening on {}", listener.local_addr()?);
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((s, _)) => s,
                    Err(e) => {
                        // Out of file descriptors and the like: keep
                        // serving the connections we have.
                        eprintln!("remote_server: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let service = service_fn(move |req| http::handle(state.clone(), req));
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    // A client that goes away mid-request is its own
                    // business; nothing to report.
                    let _ = conn.await;
                });
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    drop(listener);
    eprintln!("remote_server: stopping");
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN_TIMEOUT) => {
            eprintln!("remote_server: connections still open after {DRAIN_TIMEOUT:?}; closing");
        }
    }
    Ok(())
}
