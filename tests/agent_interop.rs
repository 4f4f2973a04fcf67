//! The agent example (`examples/agent.rs`) end to end on loopback:
//!
//! - (a) it scrapes targets served by the test and forwards to
//!   VictoriaMetrics 1.79 (`/api/v1/write`, counted with `/api/v1/export`)
//!   and to Prometheus 2.42's receiver (`--web.enable-remote-write-receiver`,
//!   counted with a range query): every scraped sample arrives;
//! - (b) a receiver of the test's own (recording every sample) is
//!   unreachable at the start (connections refused), comes up, is killed
//!   for 20 s (open connections reset, new ones refused) and comes back:
//!   the backlog arrives from the WAL, nothing lost, each series in order,
//!   stale markers for the series that disappeared;
//! - (c) the agent is SIGKILLed with a backlog and restarted on the same
//!   directory: what was not accepted is sent; duplicates (same
//!   timestamp, same value) only of what was accepted in the moment
//!   before the kill, as Prometheus resends a request whose answer it did
//!   not get;
//! - (d) `aion dump DIR` of the agent's directory prints exactly the
//!   samples the agent appended (its WAL still holds them all);
//! - (e) `aion dump` of a Prometheus 2.42 agent's (`--enable-feature=agent`)
//!   directory prints what that WAL holds (AgentDb opening it is tested in
//!   `agent/tests/agent.rs`).
//!
//! Without the peer binaries the peer tests print a note and pass, unless
//! `AION_REQUIRE_PROMTOOL=1` (set by `scripts/test`).

#[path = "support/binaries.rs"]
mod binaries;
#[path = "support/agent_harness.rs"]
mod harness;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aion::agent::{AgentDb, AgentOptions};
use harness::{
    flap_disappearances, free_port, now_ms, served_by_series, wait_for, AgentProcess, Got,
    MetricsTarget, RecordingReceiver,
};

const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

fn peer(name: &str) -> Option<PathBuf> {
    let p = Path::new("/usr/bin").join(name);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("AION_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
        panic!("{name} not found but AION_REQUIRE_PROMTOOL=1 (apt-get install {name})");
    }
    eprintln!("note: {name} not found; skipping");
    None
}

struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(url: &str) -> Option<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut r = agent.get(url).call().ok()?;
    let status = r.status().as_u16();
    Some((status, r.body_mut().read_to_string().ok()?))
}

fn wait_ready(url: &str) {
    wait_for(
        60,
        || get(url).is_some_and(|(s, _)| s == 200),
        || format!("{url} not ready"),
    );
}

/// Samples by series, in arrival order, with the stale markers apart.
fn by_series(got: &[Got]) -> BTreeMap<String, Vec<(i64, u64)>> {
    let mut out: BTreeMap<String, Vec<(i64, u64)>> = BTreeMap::new();
    for (l, t, v) in got {
        out.entry(l.clone()).or_default().push((*t, *v));
    }
    out
}

/// The values (not stale markers) of each test series as received, in
/// order, and the number of stale markers.
fn received_values(got: &[Got], job: &str) -> (BTreeMap<String, Vec<u64>>, usize) {
    let mut values: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut stale = 0;
    for (l, _, v) in got {
        if !l.contains(&format!("job=\"{job}\"")) || !l.contains("agent_it_") {
            continue;
        }
        if *v == STALE_NAN_BITS {
            stale += 1;
            continue;
        }
        values
            .entry(l.clone())
            .or_default()
            .push(f64::from_bits(*v) as u64);
    }
    (values, stale)
}

fn agent_bin() -> PathBuf {
    binaries::example_binary("agent")
}

/// Every sample each series was served, no more, in order; returns the
/// sample count.
fn assert_all_arrived(
    served: &BTreeMap<String, Vec<u64>>,
    got: &BTreeMap<String, Vec<u64>>,
) -> usize {
    assert_eq!(
        served.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "series"
    );
    for (s, want) in served {
        assert_eq!(&got[s], want, "{s}");
    }
    served.values().map(Vec::len).sum()
}

/// Runs the agent against `remote_write` for ~`secs` seconds scraping one
/// Prometheus-text and one OpenMetrics target; returns the targets.
fn scrape_for(
    dir: &Path,
    remote_write: &str,
    secs: u64,
    extra: &[&str],
) -> (MetricsTarget, MetricsTarget, String) {
    let prom = MetricsTarget::start(20, false);
    let om = MetricsTarget::start(20, true);
    let log = dir.join("agent.log");
    let agent = AgentProcess::start(
        &agent_bin(),
        &dir.join("agent"),
        &log,
        &[prom.url("text"), om.url("om")],
        remote_write,
        extra,
    );
    std::thread::sleep(Duration::from_secs(secs));
    let st = agent.terminate();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(st.success(), "agent exit {st}:\n{text}");
    assert!(text.contains("pending=0 shards="), "{text}");
    (prom, om, text)
}

#[test]
fn a_forwards_every_scraped_sample_to_victoria_metrics() {
    let Some(vm_bin) = peer("victoria-metrics") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let _vm = Peer(
        Command::new(vm_bin)
            .arg(format!(
                "-storageDataPath={}",
                tmp.path().join("vm").display()
            ))
            .arg(format!("-httpListenAddr={addr}"))
            .arg("-search.latencyOffset=0s")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_ready(&format!("http://{addr}/health"));
    let (prom, om, _) = scrape_for(
        tmp.path(),
        &format!("http://{addr}/api/v1/write"),
        4,
        &["--protocol", "v2"],
    );
    let mut served = served_by_series(&prom, "text");
    served.extend(served_by_series(&om, "om"));
    // Rows become searchable shortly after they are written.
    let mut got = BTreeMap::new();
    let mut stale = 0;
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        get(&format!("http://{addr}/internal/force_flush")).unwrap();
        (got, stale) = vm_export(&addr);
        if got == served {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let n = assert_all_arrived(&served, &got);
    assert!(n > 200, "only {n} samples scraped");
    eprintln!("victoria-metrics holds all {n} scraped samples ({stale} stale markers exported)");
}

/// The test series in VictoriaMetrics, values in timestamp order, and the
/// number of stale markers (exported as `null`).
fn vm_export(addr: &str) -> (BTreeMap<String, Vec<u64>>, usize) {
    let mut got: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut stale = 0;
    for job in ["text", "om"] {
        let (_, body) = get(&format!(
            "http://{addr}/api/v1/export?match%5B%5D=%7Bjob%3D%22{job}%22%2C__name__%3D~%22agent_it_.%2A%22%7D"
        ))
        .unwrap();
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let m = v["metric"].as_object().unwrap();
            let labels = aion::model::Labels::from_pairs(
                &m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect::<Vec<_>>(),
            )
            .unwrap()
            .to_string();
            let mut ts: Vec<(i64, u64)> = v["timestamps"]
                .as_array()
                .unwrap()
                .iter()
                .zip(v["values"].as_array().unwrap())
                .filter_map(|(t, x)| match x.as_f64() {
                    Some(x) => Some((t.as_i64().unwrap(), x as u64)),
                    None => {
                        // VictoriaMetrics exports a stale marker as null/NaN.
                        stale += 1;
                        None
                    }
                })
                .collect();
            ts.sort();
            got.insert(labels, ts.into_iter().map(|(_, x)| x).collect());
        }
    }
    (got, stale)
}

#[test]
fn a_forwards_every_scraped_sample_to_prometheus_2_42() {
    let Some(prom_bin) = peer("prometheus") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let config = tmp.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
    let _p = Peer(
        Command::new(prom_bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                tmp.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(tmp.path().join("prometheus.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_ready(&format!("http://{addr}/-/ready"));
    let (prom, om, _) = scrape_for(tmp.path(), &format!("http://{addr}/api/v1/write"), 4, &[]);
    let t = now_ms() as f64 / 1000.0 + 1.0;
    let (status, body) = get(&format!(
        "http://{addr}/api/v1/query?query=%7B__name__%3D~%22agent_it_.%2A%22%7D%5B10m%5D&time={t}"
    ))
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut got: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for s in v["data"]["result"].as_array().unwrap() {
        let m = s["metric"].as_object().unwrap();
        let labels = aion::model::Labels::from_pairs(
            &m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect::<Vec<_>>(),
        )
        .unwrap()
        .to_string();
        got.insert(
            labels,
            s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p[1].as_str().unwrap().parse::<f64>().unwrap() as u64)
                .collect(),
        );
    }
    let mut served = served_by_series(&prom, "text");
    served.extend(served_by_series(&om, "om"));
    let n = assert_all_arrived(&served, &got);
    assert!(n > 200, "only {n} samples scraped");
}

/// (b) and (d): the outage, then the dump of what the WAL holds.
#[test]
fn b_d_an_unreachable_receiver_gets_the_backlog_from_the_wal_and_dump_prints_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rx = RecordingReceiver::new();
    let prom = MetricsTarget::start(10, false);
    let om = MetricsTarget::start(10, true);
    let log = tmp.path().join("agent.log");
    let dir = tmp.path().join("agent");
    // A small queue: during the outage the watcher stops reading and the
    // backlog waits in the WAL, not in memory.
    let agent = AgentProcess::start(
        &agent_bin(),
        &dir,
        &log,
        &[prom.url("text"), om.url("om")],
        &rx.url(),
        &["--capacity", "20", "--max-samples-per-send", "10"],
    );
    // Not started yet: refused.
    std::thread::sleep(Duration::from_secs(4));
    rx.start();
    std::thread::sleep(Duration::from_secs(3));
    // Killed: open connections reset, new ones refused, for 20 s.
    rx.stop();
    let down_at = now_ms();
    std::thread::sleep(Duration::from_secs(20));
    rx.start();
    let expected = || {
        let mut s = served_by_series(&prom, "text");
        s.extend(served_by_series(&om, "om"));
        s
    };
    // The backlog drains while scraping goes on.
    wait_for(
        60,
        || {
            let (got, _) = received_values(&rx.recording.samples(), "text");
            let want = served_by_series(&prom, "text");
            want.iter()
                .all(|(k, v)| got.get(k).map_or(0, Vec::len) >= v.len().saturating_sub(2))
        },
        || agent.log_text(),
    );
    let text = agent.log_text();
    let st = agent.terminate();
    assert!(st.success(), "agent exit {st}:\n{text}");
    let samples = rx.recording.samples();
    let mut got = received_values(&samples, "text").0;
    got.extend(received_values(&samples, "om").0);
    let want = expected();
    let n = assert_all_arrived(&want, &got);
    // Order per series (arrival order is timestamp order), no duplicates.
    for (s, pts) in by_series(&samples) {
        assert!(
            pts.windows(2).all(|w| w[0].0 < w[1].0),
            "{s} out of order: {pts:?}"
        );
    }
    let stale: usize = received_values(&samples, "text").1 + received_values(&samples, "om").1;
    assert_eq!(stale, flap_disappearances(&prom) + flap_disappearances(&om));
    let during_outage = samples
        .iter()
        .filter(|(_, t, _)| *t > down_at && *t < down_at + 20_000)
        .count();
    assert!(
        during_outage > 300,
        "{during_outage} samples from the outage"
    );
    let log_text = std::fs::read_to_string(&log).unwrap();
    let retried = log_text
        .lines()
        .filter_map(|l| l.split("retried=").nth(1))
        .filter_map(|r| r.split_whitespace().next()?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    assert!(retried > 0, "{log_text}");
    eprintln!("all {n} samples arrived after the outage, {stale} stale markers, {retried} retried");

    // (d) The WAL still holds every sample: `aion dump` prints them all.
    let out = Command::new(binaries::aion_example())
        .arg("dump")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dumped: HashSet<(String, i64, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (rest, t) = l.rsplit_once(' ').unwrap();
            let (labels, v) = rest.rsplit_once(' ').unwrap();
            (labels.to_string(), t.parse().unwrap(), v.to_string())
        })
        .collect();
    let sent: HashSet<(String, i64, String)> = samples
        .iter()
        .map(|(l, t, v)| {
            let v = f64::from_bits(*v);
            let v = if v.is_nan() {
                "NaN".to_string()
            } else {
                format!("{v}")
            };
            (l.clone(), *t, v)
        })
        .collect();
    assert_eq!(dumped.len(), sent.len());
    assert_eq!(dumped, sent);
}

#[test]
fn c_a_killed_agent_resumes_from_its_wal() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rx = RecordingReceiver::new();
    rx.start();
    let prom = MetricsTarget::start(10, false);
    let dir = tmp.path().join("agent");
    let log = tmp.path().join("agent.log");
    let rx_url = rx.url();
    let start = |log: &Path| {
        AgentProcess::start(&agent_bin(), &dir, log, &[prom.url("text")], &rx_url, &[])
    };
    let agent = start(&log);
    std::thread::sleep(Duration::from_secs(3));
    // A backlog: the receiver goes down and the agent keeps scraping.
    rx.stop();
    std::thread::sleep(Duration::from_secs(3));
    let before_kill = rx.recording.samples().len();
    agent.kill();
    let killed_at = now_ms();
    let served_before_kill = served_by_series(&prom, "text");
    rx.start();
    // A second kill, this time with the receiver up and accepting.
    let agent = start(&log);
    std::thread::sleep(Duration::from_secs(3));
    agent.kill();
    let second_kill = now_ms();
    let agent = start(&log);
    std::thread::sleep(Duration::from_secs(3));
    let st = agent.terminate();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(st.success(), "agent exit {st}:\n{text}");

    let samples = rx.recording.samples();
    assert!(samples.len() > before_kill);
    let (got, _) = received_values(&samples, "text");
    // Every value served (before and after the kills) arrived…
    let served = served_by_series(&prom, "text");
    for (s, want) in &served {
        let mut have = got[s].clone();
        have.dedup();
        let mut sorted = have.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(&sorted, want, "{s}");
    }
    for (s, want) in &served_before_kill {
        assert!(want.iter().all(|k| got[s].contains(k)), "{s}: backlog lost");
    }
    // …and the only repeats are exact duplicates of samples accepted just
    // before a kill (a request whose acceptance was not yet saved).
    let mut seen: HashSet<(String, i64)> = HashSet::new();
    let mut values: BTreeMap<(String, i64), u64> = BTreeMap::new();
    let mut dups = Vec::new();
    for (l, t, v) in &samples {
        if let Some(old) = values.insert((l.clone(), *t), *v) {
            assert_eq!(old, *v, "{l} @{t}: a duplicate with another value");
        }
        if !seen.insert((l.clone(), *t)) {
            dups.push(*t);
        }
    }
    for t in &dups {
        let near = |kill: i64| *t > kill - 3_000 && *t <= kill;
        assert!(
            near(killed_at) || near(second_kill),
            "duplicate @{t} far from a kill"
        );
    }
    // In order per series apart from the resends.
    for (s, pts) in by_series(&samples) {
        let mut last = i64::MIN;
        for (t, _) in pts {
            assert!(
                t > last || seen.contains(&(s.clone(), t)),
                "{s} out of order"
            );
            last = last.max(t);
        }
    }
    eprintln!(
        "after two SIGKILLs: {} samples, {} duplicates (all within 3 s before a kill)",
        samples.len(),
        dups.len()
    );
}

/// (e) A Prometheus 2.42 agent's directory: `aion dump` prints what its
/// WAL holds, as many samples as AgentDb replays.
#[test]
fn e_aion_dump_reads_a_prometheus_agent_directory() {
    let Some(prometheus) = peer("prometheus") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data-agent");
    let target = MetricsTarget::start(5, false);
    let port = free_port();
    let config = tmp.path().join("agent.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: t\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            target.port
        ),
    )
    .unwrap();
    let mut child = Peer(
        Command::new(&prometheus)
            .arg("--enable-feature=agent")
            .arg(format!("--storage.agent.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--config.file={}", config.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(tmp.path().join("log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let until = Instant::now() + Duration::from_secs(60);
    while target.served.lock().unwrap().len() < 4 {
        assert!(
            Instant::now() < until,
            "the Prometheus agent did not scrape"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let served = target.served.lock().unwrap().len();

    let out = Command::new(binaries::aion_example())
        .arg("dump")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let db = AgentDb::open(&data, AgentOptions::default()).unwrap();
    assert_eq!(lines.len() as u64, db.replay_report().samples);
    let values = lines
        .iter()
        .filter(|l| l.starts_with("{__name__=\"agent_it_value\""))
        .count();
    // Each scrape the agent logged has its 5 series; the last may not
    // have been committed before the kill.
    assert!(
        values >= 5 * (served - 1) && values <= 5 * served,
        "{values} vs {served} scrapes"
    );
    assert!(text.contains(&format!(
        "{{__name__=\"up\", instance=\"127.0.0.1:{}\", job=\"t\"}} 1 ",
        target.port
    )));
}
