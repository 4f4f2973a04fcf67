//! What the agent interop tests run the agent example against: a scrape
//! target serving changing metrics, a remote-write receiver that records
//! every sample it is sent (and can be down), and the agent process.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aion::model::{Labels, SeriesRef};
use aion::remote::write::Receiver;
use aion::storage::{Appendable, Appender};

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A request: method, path, headers (names lower-cased), body.
type Request = (String, String, Vec<(String, String)>, Vec<u8>);

/// Per request served: its number and the `series` values in it.
pub type Served = Arc<Mutex<Vec<(u64, Vec<String>)>>>;

/// A running receiver: its stop flag, accept thread and connections.
type Running = (Arc<AtomicBool>, JoinHandle<()>, Arc<Mutex<Vec<TcpStream>>>);

/// One HTTP/1.1 request off `r`: method, path, headers, body. `None` at
/// a closed connection.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0usize);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((method, path, headers, body))
}

fn respond(w: &mut TcpStream, status: u16, headers: &[(String, String)], body: &[u8]) -> bool {
    let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes()).is_ok() && w.write_all(body).is_ok()
}

/// A scrape target: every request is numbered `k` (from 1) and answers
/// `agent_it_value{series="i"} k` for `series` stable series, plus
/// `agent_it_flap` in requests where `k % 4 < 2` (to make stale markers),
/// in Prometheus text or OpenMetrics.
pub struct MetricsTarget {
    pub port: u16,
    /// Per request: `k` and the `series` label values served (the flapping
    /// series as `flap`).
    pub served: Served,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsTarget {
    pub fn start(series: usize, openmetrics: bool) -> MetricsTarget {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let served: Served = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (served, stop) = (served.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut k = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let Ok((s, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    s.set_nonblocking(false).unwrap();
                    // An idle keep-alive connection (the agent stopped)
                    // must not hold the loop forever.
                    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    let mut w = s.try_clone().unwrap();
                    let mut r = BufReader::new(s);
                    while let Some((_, path, _, _)) = read_request(&mut r) {
                        if path != "/metrics" {
                            respond(&mut w, 404, &[], b"");
                            continue;
                        }
                        k += 1;
                        let mut body = String::new();
                        let mut names = Vec::new();
                        body.push_str("# HELP agent_it_value A value that counts requests.\n# TYPE agent_it_value gauge\n");
                        for i in 0..series {
                            body.push_str(&format!("agent_it_value{{series=\"{i}\"}} {k}\n"));
                            names.push(i.to_string());
                        }
                        if k % 4 < 2 {
                            body.push_str(&format!("agent_it_flap {k}\n"));
                            names.push("flap".into());
                        }
                        let ct = if openmetrics {
                            body.push_str("# EOF\n");
                            "application/openmetrics-text; version=1.0.0; charset=utf-8"
                        } else {
                            "text/plain; version=0.0.4; charset=utf-8"
                        };
                        served.lock().unwrap().push((k, names));
                        if !respond(
                            &mut w,
                            200,
                            &[("Content-Type".into(), ct.into())],
                            body.as_bytes(),
                        ) {
                            break;
                        }
                    }
                }
            })
        };
        MetricsTarget {
            port,
            served,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self, job: &str) -> String {
        format!("http://127.0.0.1:{}/metrics#{job}", self.port)
    }

    pub fn instance(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for MetricsTarget {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A sample as the receiver got it: labels text, timestamp, value bits.
pub type Got = (String, i64, u64);

/// Records every sample of every accepted request, in arrival order.
#[derive(Default)]
pub struct Recording(Mutex<Vec<Got>>);

struct RecordingAppender<'a> {
    rec: &'a Recording,
    batch: Vec<Got>,
}

impl Appender for RecordingAppender<'_> {
    fn append(
        &mut self,
        _: SeriesRef,
        labels: &Labels,
        t: i64,
        v: f64,
    ) -> aion::storage::Result<SeriesRef> {
        self.batch.push((labels.to_string(), t, v.to_bits()));
        Ok(1)
    }

    fn commit(&mut self) -> aion::storage::Result<()> {
        self.rec.0.lock().unwrap().append(&mut self.batch);
        Ok(())
    }

    fn rollback(&mut self) -> aion::storage::Result<()> {
        self.batch.clear();
        Ok(())
    }
}

impl Appendable for Recording {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(RecordingAppender {
            rec: self,
            batch: Vec::new(),
        })
    }
}

impl Recording {
    pub fn samples(&self) -> Vec<Got> {
        self.0.lock().unwrap().clone()
    }
}

/// A remote-write receiver (Aion's, over a [`Recording`]) on a fixed port
/// that can be brought down (listener closed: connections refused; open
/// connections shut: reset) and up again.
pub struct RecordingReceiver {
    pub port: u16,
    pub recording: Arc<Recording>,
    up: Option<Running>,
}

impl RecordingReceiver {
    /// Not listening yet.
    pub fn new() -> RecordingReceiver {
        RecordingReceiver {
            port: free_port(),
            recording: Arc::default(),
            up: None,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v1/write", self.port)
    }

    pub fn start(&mut self) {
        assert!(self.up.is_none());
        let listener = TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let receiver = Arc::new(Receiver::new(self.recording.clone()));
        let thread = {
            let (stop, conns) = (stop.clone(), conns.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok((s, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    s.set_nonblocking(false).unwrap();
                    conns.lock().unwrap().push(s.try_clone().unwrap());
                    let receiver = receiver.clone();
                    std::thread::spawn(move || {
                        let mut w = s.try_clone().unwrap();
                        let mut r = BufReader::new(s);
                        while let Some((_, _, headers, body)) = read_request(&mut r) {
                            let h = |n: &str| {
                                headers
                                    .iter()
                                    .find(|(k, _)| k == n)
                                    .map(|(_, v)| v.as_str())
                            };
                            let resp =
                                receiver.receive(h("content-type"), h("content-encoding"), &body);
                            let hs: Vec<(String, String)> = resp
                                .headers()
                                .into_iter()
                                .map(|(k, v)| (k.to_string(), v))
                                .collect();
                            if !respond(&mut w, resp.status.code(), &hs, b"") {
                                break;
                            }
                        }
                    });
                }
                // Dropping the listener refuses new connections.
            })
        };
        self.up = Some((stop, thread, conns));
    }

    /// Down: the listener closes, open connections are shut.
    pub fn stop(&mut self) {
        if let Some((stop, thread, conns)) = self.up.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
            for c in conns.lock().unwrap().drain(..) {
                let _ = c.shutdown(Shutdown::Both);
            }
        }
    }
}

impl Drop for RecordingReceiver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The agent example running.
pub struct AgentProcess {
    pub child: Child,
    pub log: PathBuf,
}

impl AgentProcess {
    pub fn start(
        bin: &Path,
        dir: &Path,
        log: &Path,
        scrape: &[String],
        remote_write: &str,
        extra: &[&str],
    ) -> AgentProcess {
        let mut cmd = Command::new(bin);
        cmd.arg("--dir").arg(dir);
        for s in scrape {
            cmd.arg("--scrape").arg(s);
        }
        cmd.args(["--scrape-interval", "500ms", "--remote-write", remote_write])
            .args([
                "--batch-send-deadline",
                "200ms",
                "--max-backoff",
                "1s",
                "--status-interval",
                "2s",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .unwrap(),
            );
        AgentProcess {
            child: cmd.spawn().unwrap(),
            log: log.to_path_buf(),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then the exit status (within 90 s).
    pub fn terminate(mut self) -> ExitStatus {
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let until = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < until,
                "agent did not exit:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// The values each series of `job`'s target was served, by its labels
/// as the agent writes them.
pub fn served_by_series(target: &MetricsTarget, job: &str) -> BTreeMap<String, Vec<u64>> {
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let inst = target.instance();
    for (k, names) in target.served.lock().unwrap().iter() {
        for n in names {
            let labels = if n == "flap" {
                format!("{{__name__=\"agent_it_flap\", instance=\"{inst}\", job=\"{job}\"}}")
            } else {
                format!("{{__name__=\"agent_it_value\", instance=\"{inst}\", job=\"{job}\", series=\"{n}\"}}")
            };
            out.entry(labels).or_default().push(*k);
        }
    }
    out
}

/// Times the flapping series went from present to absent (each is a
/// stale marker).
pub fn flap_disappearances(target: &MetricsTarget) -> usize {
    let served = target.served.lock().unwrap();
    served
        .windows(2)
        .filter(|w| w[0].1.iter().any(|n| n == "flap") && !w[1].1.iter().any(|n| n == "flap"))
        .count()
}

/// Waits for `what` up to `secs`, panicking with `why()` after.
pub fn wait_for(secs: u64, mut what: impl FnMut() -> bool, why: impl Fn() -> String) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !what() {
        assert!(Instant::now() < until, "timed out: {}", why());
        std::thread::sleep(Duration::from_millis(100));
    }
}
