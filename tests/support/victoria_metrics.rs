//! A VictoriaMetrics single-node server on loopback for the query speed
//! benchmark (`examples/promql_interop.rs bench-speed`): started on a
//! storage directory, loaded with the benchmark's OpenMetrics file through
//! `/api/v1/import/prometheus`, queried with caches off. Included with
//! `#[path]` next to `http1.rs`.

// Not every includer uses every helper.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::http1::{free_addr, http, wait_ready};
use super::interop::Query;

/// Debian's `victoria-metrics` package installs the single-node server here.
pub const BINARY: &str = "/usr/bin/victoria-metrics";

/// Bytes of exposition text per import request (well under the server's
/// 32 MiB `-maxInsertRequestSize`).
const IMPORT_CHUNK: usize = 8 << 20;

/// A running server, stopped on drop: SIGTERM (by PID), which makes it
/// flush what it buffered, then SIGKILL if it has not exited in 30 s.
pub struct VictoriaMetrics {
    child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
}

impl VictoriaMetrics {
    /// Starts the server over `storage` (created if missing; kept on
    /// drop, so a later start serves the same data). The rollup result
    /// cache is off (`-search.disableCache`) so every call computes its
    /// answer; retention is long enough for any benchmark timestamp.
    pub fn start(storage: &Path) -> io::Result<VictoriaMetrics> {
        let addr = free_addr();
        let child = Command::new(BINARY)
            .arg(format!("-storageDataPath={}", storage.display()))
            .arg(format!("-httpListenAddr={addr}"))
            .arg("-retentionPeriod=100y")
            .arg("-search.disableCache")
            // The data is old: nothing is "too recent to be complete".
            .arg("-search.latencyOffset=0s")
            .arg("-loggerLevel=ERROR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let vm = VictoriaMetrics { child, addr };
        wait_ready(&vm.addr, "/health", "victoria-metrics");
        Ok(vm)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Imports an OpenMetrics file (as `promql_interop generate` writes:
    /// integer-second timestamps) as Prometheus exposition text with
    /// millisecond timestamps, then flushes it to searchable parts.
    /// Returns the number of samples sent.
    pub fn import_openmetrics(&self, om: &Path) -> io::Result<u64> {
        let reader = BufReader::with_capacity(1 << 20, std::fs::File::open(om)?);
        let mut body = Vec::with_capacity(IMPORT_CHUNK + 4096);
        let mut samples = 0u64;
        let mut max_t = 0i64;
        for line in reader.lines() {
            let line = line?;
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // `name{labels} value seconds` → `… value milliseconds`.
            if let Some(t) = line.rsplit(' ').next().and_then(|t| t.parse().ok()) {
                max_t = max_t.max(t);
            }
            body.extend_from_slice(line.as_bytes());
            body.extend_from_slice(b"000\n");
            samples += 1;
            if body.len() >= IMPORT_CHUNK {
                self.post_import(&body)?;
                body.clear();
            }
        }
        if !body.is_empty() {
            self.post_import(&body)?;
        }
        self.await_samples(samples, max_t)?;
        Ok(samples)
    }

    /// Waits until the server answers with all `samples` (ingestion is
    /// asynchronous): flushes, then counts every sample of the day up to `max_t`
    /// (seconds) until the count is complete; fails after two minutes.
    fn await_samples(&self, samples: u64, max_t: i64) -> io::Result<()> {
        let count = format!(
            "/api/v1/query?query={}&time={max_t}&nocache=1",
            super::interop::url_encode(r#"sum(count_over_time({__name__=~".+"}[1d]))"#)
        );
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let r = http(&self.addr, "GET", "/internal/force_flush", &[], b"")?;
            if r.status != 200 {
                return Err(io::Error::other(format!("force_flush: HTTP {}", r.status)));
            }
            let r = http(&self.addr, "GET", &count, &[], b"")?;
            let v: Json = serde_json::from_slice(&r.body).map_err(io::Error::other)?;
            let seen: u64 = v["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            if seen == samples {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "victoria-metrics holds {seen} of the {samples} samples imported"
                )));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn post_import(&self, body: &[u8]) -> io::Result<()> {
        let r = http(&self.addr, "POST", "/api/v1/import/prometheus", &[], body)?;
        if r.status / 100 != 2 {
            return Err(io::Error::other(format!(
                "import: HTTP {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            )));
        }
        Ok(())
    }

    /// The `data` object of the API answer to `q`, computed afresh
    /// (`nocache=1`).
    pub fn query(&self, q: &Query) -> Result<Json, String> {
        let path = format!("{}&nocache=1", q.api_path());
        let r = http(&self.addr, "GET", &path, &[], b"").map_err(|e| e.to_string())?;
        let v: Json = serde_json::from_slice(&r.body)
            .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&r.body)))?;
        if r.status != 200 || v["status"] != "success" {
            return Err(format!(
                "HTTP {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
        }
        Ok(v["data"].clone())
    }
}

impl Drop for VictoriaMetrics {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server binary, if installed.
pub fn binary() -> Option<PathBuf> {
    let p = PathBuf::from(BINARY);
    p.exists().then_some(p)
}
