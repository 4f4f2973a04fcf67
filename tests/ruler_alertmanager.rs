//! `examples/ruler.rs` against a real Alertmanager (Debian's
//! `prometheus-alertmanager`, on loopback): a Db whose data makes an alert
//! fire, the ruler evaluating it and posting to `/api/v2/alerts`, the
//! alert read back from Alertmanager's `GET /api/v2/alerts` (labels,
//! annotations, startsAt, endsAt, generatorURL); a SIGHUP reload adding a
//! rule while the first alert keeps its state; then the data turning
//! healthy, and Alertmanager ending the alert long before the `endsAt` of
//! the firing notifications (so the ruler sent it resolved); SIGTERM
//! exits 0.
//!
//! Without the Alertmanager binary the test prints a note and passes,
//! unless `AION_REQUIRE_PROMTOOL=1`.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aion::model::Labels;
use aion::tsdb::{Db, Options};
use serde_json::Value;

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

fn alertmanager_binary() -> Option<PathBuf> {
    let p = PathBuf::from(ALERTMANAGER);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("AION_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
        panic!(
            "{ALERTMANAGER} not found but AION_REQUIRE_PROMTOOL=1 (apt-get install prometheus-alertmanager)"
        );
    }
    eprintln!("note: {ALERTMANAGER} not found; skipping");
    None
}

/// The ruler example: built by `cargo test` next to this test's binary;
/// otherwise built here in a target directory of its own (the running
/// cargo holds the usual one's lock).
fn ruler_example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let bin = profile_dir.join("examples").join("ruler");
    if bin.exists() {
        return bin;
    }
    let target = profile_dir.parent().unwrap().join("cli-test");
    let st = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", "ruler", "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .unwrap();
    assert!(st.success(), "building the ruler example failed");
    target.join("debug").join("examples").join("ruler")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Kills a child process when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get_alerts(agent: &ureq::Agent, base: &str) -> Option<Vec<Value>> {
    let mut resp = agent.get(format!("{base}/api/v2/alerts")).call().ok()?;
    let body = resp.body_mut().read_to_string().ok()?;
    serde_json::from_str::<Vec<Value>>(&body).ok()
}

fn find<'a>(alerts: &'a [Value], name: &str) -> Option<&'a Value> {
    alerts.iter().find(|a| a["labels"]["alertname"] == name)
}

/// Polls until `f` gives something, failing with `what` and the ruler's
/// log after `timeout`.
fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Parses `2023-11-14T22:13:20.123Z` (Go's RFC 3339, as Alertmanager
/// writes it, with any fraction) to ms.
fn rfc3339_ms(s: &str) -> i64 {
    let (date, time) = s.split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let time = time.trim_end_matches('Z');
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let ms: i64 = format!("{:0<3}", &frac[..frac.len().min(3)])
        .parse()
        .unwrap();
    // Days from civil (Howard Hinnant).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]) * 1000) + ms
}

const RULES_V1: &str = r#"groups:
  - name: demo
    rules:
      - alert: ApiDown
        expr: demo_up == 0
        for: 2s
        labels:
          severity: page
        annotations:
          summary: '{{ $labels.instance }} of {{ $labels.job }} is down'
          value: '{{ $value }}'
"#;

const RULES_V2: &str = r#"groups:
  - name: demo
    rules:
      - alert: ApiDown
        expr: demo_up == 0
        for: 2s
        labels:
          severity: page
        annotations:
          summary: '{{ $labels.instance }} of {{ $labels.job }} is down'
          value: '{{ $value }}'
      - alert: Watchdog
        expr: vector(1)
        labels:
          severity: none
"#;

#[test]
fn ruler_posts_alerts_that_alertmanager_shows_and_ends() {
    let Some(am_bin) = alertmanager_binary() else {
        return;
    };
    let ruler = ruler_example();
    let tmp = tempfile::tempdir().unwrap();

    // Alertmanager on loopback, no clustering.
    let am_port = free_port();
    let am_config = tmp.path().join("alertmanager.yml");
    std::fs::write(
        &am_config,
        "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let am = Command::new(am_bin)
        .arg(format!("--config.file={}", am_config.display()))
        .arg(format!(
            "--storage.path={}",
            tmp.path().join("am").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting Alertmanager");
    let _am = Killed(am);
    let am_url = format!("http://127.0.0.1:{am_port}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    wait_for("Alertmanager to be ready", Duration::from_secs(30), || {
        agent.get(format!("{am_url}/-/ready")).call().ok()
    });

    // The data: `demo_up` is 0 (down) from a minute ago until `healthy_at`,
    // then 1, every second, up to ten minutes ahead (rules query "now").
    let data = tmp.path().join("data");
    let start = now_ms();
    let healthy_at = start + 25_000;
    {
        let db = Db::open(&data, Options::default()).unwrap();
        let l = Labels::from_pairs(&[
            ("__name__", "demo_up"),
            ("instance", "api-1:8080"),
            ("job", "api"),
        ])
        .unwrap();
        let mut app = db.appender();
        let mut t = start - 60_000;
        while t < start + 600_000 {
            app.append(&l, t, if t < healthy_at { 0.0 } else { 1.0 })
                .unwrap();
            t += 1000;
        }
        app.commit().unwrap();
        db.close().unwrap();
    }
    let rules = tmp.path().join("rules.yml");
    std::fs::write(&rules, RULES_V1).unwrap();

    let log = tmp.path().join("ruler.log");
    let child = Command::new(&ruler)
        .arg("--dir")
        .arg(&data)
        .arg("--rules")
        .arg(&rules)
        .args(["--alertmanager", &am_url])
        .args(["--eval-interval", "1s"])
        .args(["--external-url", "http://ruler.example:9090/"])
        .args(["--external-label", "cluster=test"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("starting the ruler");
    let mut ruler_proc = Killed(child);
    let ruler_log = || std::fs::read_to_string(&log).unwrap_or_default();

    // Firing: pending for 2 s first, then posted.
    let alert = wait_for("ApiDown in Alertmanager", Duration::from_secs(20), || {
        find(&get_alerts(&agent, &am_url)?, "ApiDown").cloned()
    });
    let seen_at = now_ms();
    let labels = &alert["labels"];
    assert_eq!(labels["severity"], "page", "{alert}");
    assert_eq!(labels["job"], "api");
    assert_eq!(labels["instance"], "api-1:8080");
    assert_eq!(labels["cluster"], "test", "external label added");
    assert!(labels.get("__name__").is_none());
    assert_eq!(alert["annotations"]["summary"], "api-1:8080 of api is down");
    assert_eq!(alert["annotations"]["value"], "0");
    assert_eq!(
        alert["generatorURL"],
        "http://ruler.example:9090/graph?g0.expr=demo_up+%3D%3D+0&g0.tab=1"
    );
    assert_eq!(alert["status"]["state"], "active");
    let starts_at = rfc3339_ms(alert["startsAt"].as_str().unwrap());
    assert!(
        starts_at >= start && starts_at <= seen_at,
        "startsAt {} within the run, log:\n{}",
        alert["startsAt"],
        ruler_log()
    );
    // Firing notifications hold for 4 × max(resend delay 1 m, interval).
    let ends_at = rfc3339_ms(alert["endsAt"].as_str().unwrap());
    assert!(ends_at >= starts_at + 230_000, "endsAt {}", alert["endsAt"]);

    // SIGHUP: a new rule appears; the first alert keeps its startsAt.
    std::fs::write(&rules, RULES_V2).unwrap();
    let pid = ruler_proc.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let alerts = wait_for("Watchdog after SIGHUP", Duration::from_secs(20), || {
        let a = get_alerts(&agent, &am_url)?;
        find(&a, "Watchdog")?;
        Some(a)
    });
    let again = find(&alerts, "ApiDown").expect("ApiDown still active");
    assert_eq!(
        again["startsAt"], alert["startsAt"],
        "state kept over reload"
    );
    assert!(ruler_log().contains("reloaded 1 file"), "{}", ruler_log());

    // The data turns healthy at `healthy_at`: the ruler sends ApiDown
    // resolved and Alertmanager drops it from the active alerts, minutes
    // before the endsAt of the firing notifications.
    wait_for(
        "ApiDown to end in Alertmanager",
        Duration::from_millis((healthy_at - now_ms()).max(0) as u64 + 20_000),
        || {
            let a = get_alerts(&agent, &am_url)?;
            (find(&a, "Watchdog").is_some() && find(&a, "ApiDown").is_none()).then_some(())
        },
    );
    let ended = now_ms();
    assert!(
        ended < ends_at - 120_000,
        "ended by a resolve, not by expiry"
    );
    assert!(ended >= healthy_at, "not before the data turned healthy");
    assert!(ruler_log().contains("ApiDown resolved"), "{}", ruler_log());

    // SIGTERM: a clean exit.
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = wait_for("the ruler to exit", Duration::from_secs(20), || {
        ruler_proc.0.try_wait().unwrap()
    });
    let mut rest = String::new();
    let _ = std::fs::File::open(&log).and_then(|mut f| f.read_to_string(&mut rest));
    assert!(status.success(), "ruler exit {status}, log:\n{rest}");
    // The rule output is in the Db: ALERTS and ALERTS_FOR_STATE.
    let db = Db::open_read_only(&data).unwrap();
    let r = aion::promql::Engine::default()
        .instant_query(&db, "count by (__name__) ({__name__=~\"ALERTS.*\"})", ended)
        .unwrap();
    let names: Vec<String> = r
        .value
        .as_vector()
        .unwrap()
        .iter()
        .map(|s| s.metric.get("__name__").unwrap().to_string())
        .collect();
    assert!(names.contains(&"ALERTS".to_string()), "{names:?}");
    assert!(names.contains(&"ALERTS_FOR_STATE".to_string()), "{names:?}");
}
