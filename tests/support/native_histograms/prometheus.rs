//! A Prometheus 2.42 process with native histograms on
//! (`--enable-feature=native-histograms`), on loopback: scraping a target,
//! receiving remote write, or only serving a data directory; stopped
//! gracefully so its head chunks reach `chunks_head/`.

use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::http1::http;

/// `/usr/bin/prometheus`, or `None` (with a note: the test skips) when it
/// is missing, unless `AION_REQUIRE_PROMTOOL=1`, which makes it a failure.
pub fn prometheus_binary() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/bin/prometheus");
    if p.exists() {
        return Some(p);
    }
    if std::env::var("AION_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
        panic!("prometheus not found but AION_REQUIRE_PROMTOOL=1 (apt-get install prometheus)");
    }
    eprintln!("note: prometheus not found; skipping");
    None
}

/// What the process does besides serving its data directory.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Scrape `http://<addr>/metrics` as job `native` at this interval
    /// (`"1s"`); the timeout is the interval.
    pub scrape: Option<(String, String)>,
    /// Accept remote write at `/api/v1/write`.
    pub remote_write_receiver: bool,
}

/// A running Prometheus 2.42; killed on drop unless [`stop`](Self::stop)
/// ended it first.
pub struct Prometheus {
    child: Option<Child>,
    addr: String,
    data_dir: PathBuf,
    log: PathBuf,
    _config_dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts `bin` on `data_dir` (created if missing; it writes there, so
    /// pass a copy of anything that must stay unchanged) and waits until
    /// it is ready.
    pub fn start(bin: &Path, data_dir: &Path, options: &Options) -> io::Result<Prometheus> {
        let config_dir = tempfile::tempdir()?;
        let config = config_dir.path().join("prometheus.yml");
        let mut yaml = String::from("global:\n  scrape_interval: 1h\n");
        if let Some((target, interval)) = &options.scrape {
            yaml.push_str(&format!(
                "scrape_configs:\n  - job_name: native\n    scrape_interval: {interval}\n    \
                 scrape_timeout: {interval}\n    static_configs:\n      - targets: ['{target}']\n"
            ));
        }
        std::fs::write(&config, yaml)?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = config_dir.path().join("prometheus.log");
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data_dir.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--enable-feature=native-histograms")
            // Retention counts from the newest block; keep everything.
            .arg("--storage.tsdb.retention.time=100y");
        if options.remote_write_receiver {
            cmd.arg("--web.enable-remote-write-receiver");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        let p = Prometheus {
            child: Some(child),
            addr: format!("127.0.0.1:{port}"),
            data_dir: data_dir.to_path_buf(),
            log,
            _config_dir: config_dir,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok((200, _)) = p.request("GET", "/-/ready", &[], b"") {
                return Ok(p);
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "prometheus not ready after 120 s:\n{}",
                    p.log_text()
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `host:port` it listens on.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Its data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// What it logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One HTTP request: status and body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<(u16, Vec<u8>)> {
        let r = http(&self.addr, method, path, headers, body)?;
        Ok((r.status, r.body))
    }

    /// The `data` of `/api/v1/query?query=<expr>&time=<time_ms>`, or the
    /// error answer.
    pub fn query(&self, expr: &str, time_ms: i64) -> Result<Json, String> {
        let path = format!(
            "/api/v1/query?query={}&time={}.{:03}",
            url_encode(expr),
            time_ms.div_euclid(1000),
            time_ms.rem_euclid(1000)
        );
        self.get_data(&path)
    }

    /// The `data` of a successful GET answer, or the error answer.
    fn get_data(&self, path: &str) -> Result<Json, String> {
        let (status, body) = self
            .request("GET", path, &[], b"")
            .map_err(|e| e.to_string())?;
        let body = String::from_utf8_lossy(&body).to_string();
        let v: Json = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if status != 200 || v["status"] != "success" {
            return Err(format!("HTTP {status}: {body}"));
        }
        Ok(v["data"].clone())
    }

    /// The `data` of `/api/v1/query_range` from `start` to `end` every
    /// `step` (all in ms), or the error answer.
    pub fn query_range(&self, expr: &str, start: i64, end: i64, step: i64) -> Result<Json, String> {
        let s = |t: i64| format!("{}.{:03}", t.div_euclid(1000), t.rem_euclid(1000));
        let path = format!(
            "/api/v1/query_range?query={}&start={}&end={}&step={}",
            url_encode(expr),
            s(start),
            s(end),
            s(step)
        );
        self.get_data(&path)
    }

    /// Sends one remote-write 1.0 body (protobuf, snappy-compressed):
    /// the HTTP status and answer text.
    pub fn remote_write(&self, body: &[u8]) -> io::Result<(u16, String)> {
        let headers = [
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "0.1.0"),
        ];
        let (status, body) = self.request("POST", "/api/v1/write", &headers, body)?;
        Ok((status, String::from_utf8_lossy(&body).to_string()))
    }

    /// SIGTERM and wait (up to 2 minutes) for a clean exit: the head's
    /// full chunks are then in `chunks_head/` and the WAL is flushed.
    pub fn stop(mut self) -> PathBuf {
        let mut child = self.child.take().expect("running");
        let st = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success(), "kill -TERM {}", child.id());
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                assert!(
                    st.success(),
                    "prometheus exited with {st}:\n{}",
                    self.log_text()
                );
                return self.data_dir.clone();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("prometheus did not stop in 120 s:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Percent-encodes everything but unreserved characters.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Copies the directory tree `src` to `dst` (created), as `cp -r`.
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for e in std::fs::read_dir(src)? {
        let (e, to) = {
            let e = e?;
            let to = dst.join(e.file_name());
            (e, to)
        };
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &to)?;
        } else {
            std::fs::copy(e.path(), &to)?;
        }
    }
    Ok(())
}
