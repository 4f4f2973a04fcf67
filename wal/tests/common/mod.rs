//! Helpers shared by the integration tests: finding the Prometheus
//! binaries, running a Prometheus server, and talking HTTP to it without a
//! client library.

#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The path of a Prometheus binary, or `None` (with a note) when missing.
/// With `AION_REQUIRE_PROMTOOL=1` (set by `scripts/test`) a missing binary
/// fails the test instead.
pub fn binary(name: &str) -> Option<PathBuf> {
    let candidate = PathBuf::from("/usr/bin").join(name);
    let found = candidate.exists().then_some(candidate).or_else(|| {
        let out = Command::new("which").arg(name).output().ok()?;
        let p = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (!p.is_empty()).then(|| PathBuf::from(p))
    });
    if found.is_none() {
        if std::env::var("AION_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
            panic!("{name} not found but AION_REQUIRE_PROMTOOL=1 (apt-get install prometheus)");
        }
        eprintln!("note: {name} not found; skipping this interop test");
    }
    found
}

/// A Prometheus server on 127.0.0.1, killed (by its PID) when dropped.
pub struct PrometheusServer {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl PrometheusServer {
    /// Starts `prometheus` on `data_dir` with a configuration that scrapes
    /// nothing, and waits until it is ready (WAL replayed).
    pub fn start(binary: &Path, data_dir: &Path, work_dir: &Path) -> PrometheusServer {
        Self::start_with_config(
            binary,
            data_dir,
            work_dir,
            "global:\n  scrape_interval: 1h\nscrape_configs: []\n",
        )
    }

    /// Starts `prometheus` with `config` (where `{port}` stands for the
    /// server's own port, e.g. to scrape itself) and waits until ready.
    pub fn start_with_config(
        binary: &Path,
        data_dir: &Path,
        work_dir: &Path,
        config_text: &str,
    ) -> PrometheusServer {
        let port = free_port();
        let config = work_dir.join("prometheus.yml");
        fs::write(&config, config_text.replace("{port}", &port.to_string())).unwrap();
        let log = work_dir.join("prometheus.log");
        let child = Command::new(binary)
            .arg(format!("--storage.tsdb.path={}", data_dir.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--config.file={}", config.display()))
            .stdin(Stdio::null())
            .stdout(File::create(work_dir.join("prometheus.stdout")).unwrap())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("start prometheus");
        let mut server = PrometheusServer { child, port, log };
        server.wait_ready(Duration::from_secs(60));
        server
    }

    fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("prometheus exited with {status}:\n{}", self.log_text());
            }
            if let Ok((200, _)) = http_get(self.port, "/-/ready") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready after {timeout:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Prometheus's log so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs an instant query at `time_ms` and returns the parsed response.
    pub fn query(&self, promql: &str, time_ms: i64) -> serde_json::Value {
        let path = format!(
            "/api/v1/query?query={}&time={}.{:03}",
            percent_encode(promql),
            time_ms.div_euclid(1000),
            time_ms.rem_euclid(1000)
        );
        let (status, body) = http_get(self.port, &path).expect("query prometheus");
        assert_eq!(status, 200, "{path}: {body}\n{}", self.log_text());
        serde_json::from_str(&body).expect("JSON response")
    }

    /// The single value of a query returning one sample.
    pub fn query_scalar(&self, promql: &str, time_ms: i64) -> f64 {
        let v = self.query(promql, time_ms);
        let result = &v["data"]["result"];
        assert_eq!(
            result.as_array().map(Vec::len),
            Some(1),
            "{promql}: {v}\n{}",
            self.log_text()
        );
        result[0]["value"][1]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{promql}: {v}"))
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP/1.0 GET; returns status and body.
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
