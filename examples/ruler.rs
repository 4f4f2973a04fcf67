//! A rule-evaluating host: rule files evaluated over a Db in-process, the
//! alerts posted to Alertmanager's v2 API, as a Prometheus server's rule
//! manager and notifier do — with no query hop between rule and data.
//!
//! ```sh
//! cargo run --example ruler -- --dir data/ --rules rules.yml \
//!     --alertmanager http://127.0.0.1:9093 --eval-interval 15s \
//!     --external-url http://ruler.example:9090
//! ```
//!
//! Recording rules' output and `ALERTS`/`ALERTS_FOR_STATE` are written to
//! the Db, so a restart restores pending alerts' `for` progress. SIGHUP
//! reloads the rule files (keeping the state of unchanged rules; a broken
//! file keeps the old rules); SIGTERM or SIGINT stops evaluation, sends
//! what is queued, closes the Db and exits 0.
//!
//! The HTTP client is `ureq` (blocking, small, rustls; no async runtime
//! for a host that sends a few requests a minute). Alerts go through a
//! queue to one sender thread per Alertmanager, so a slow Alertmanager
//! never stalls evaluation; a batch that fails is logged and dropped, as
//! Prometheus's notifier drops it (firing alerts are re-sent every
//! resend delay anyway).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use aion::model::Labels;
use aion::rules::notifier::alertmanager::encode_v2;
use aion::rules::notifier::{Notification, Notifier};
use aion::rules::{GroupOptions, Manager, ManagerOptions, TemplateContext};
use aion::tsdb::{Db, Options};
use clap::Parser;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Evaluate rule files over an Aion data directory and send alerts to
/// Alertmanager.
#[derive(Parser, Debug)]
#[command(name = "ruler")]
struct Cli {
    /// The data directory (opened read-write; rule output is written
    /// there).
    #[arg(long)]
    dir: PathBuf,
    /// Rule files.
    #[arg(long, num_args = 1.., required = true)]
    rules: Vec<PathBuf>,
    /// Alertmanager base URLs (`/api/v2/alerts` is appended).
    #[arg(long)]
    alertmanager: Vec<String>,
    /// Interval of groups that set none (Prometheus duration).
    #[arg(long, default_value = "1m")]
    eval_interval: String,
    /// How often firing alerts are re-sent.
    #[arg(long, default_value = "1m")]
    resend_delay: String,
    /// URL the alerts' generatorURL links point under.
    #[arg(long, default_value = "")]
    external_url: String,
    /// Labels added to alerts that lack them, `name=value`.
    #[arg(long = "external-label")]
    external_labels: Vec<String>,
}

fn duration(flag: &str, s: &str) -> Result<i64, String> {
    aion::promql::duration::parse_duration(s).map_err(|e| format!("--{flag} {s:?}: {e}"))
}

/// Delivers notifications: queues each batch for every Alertmanager's
/// sender thread.
struct AlertmanagerNotifier {
    queues: Mutex<Vec<Sender<String>>>,
}

impl Notifier for AlertmanagerNotifier {
    fn notify(&self, expr: &str, alerts: Vec<Notification>) {
        for a in &alerts {
            let name = a.labels.get("alertname").unwrap_or("");
            let state = if a.ends_at <= a.starts_at.max(now_ms()) {
                "resolved"
            } else {
                "firing"
            };
            eprintln!("ruler: alert {name} {state} {} (expr {expr})", a.labels);
        }
        let body = encode_v2(&alerts);
        for q in self.queues.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = q.send(body.clone());
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Posts queued bodies to `base`'s `/api/v2/alerts` until the queue
/// closes.
fn sender(base: String, rx: Receiver<String>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let url = format!("{}/api/v2/alerts", base.trim_end_matches('/'));
        for body in rx {
            let res = agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.as_str());
            if let Err(e) = res {
                eprintln!("ruler: sending alerts to {url}: {e}");
            }
        }
    })
}

fn run(cli: Cli) -> Result<(), String> {
    let mut external_labels = Vec::new();
    for l in &cli.external_labels {
        let (k, v) = l
            .split_once('=')
            .ok_or_else(|| format!("--external-label {l:?}: want name=value"))?;
        external_labels.push((k, v));
    }
    let external_labels =
        Labels::from_pairs(&external_labels).map_err(|e| format!("--external-label: {e}"))?;
    let db = Db::open(&cli.dir, Options::default())
        .map_err(|e| format!("opening {}: {e}", cli.dir.display()))?;
    let db = Arc::new(db);

    let mut senders = Vec::new();
    let mut queues = Vec::new();
    for base in &cli.alertmanager {
        let (tx, rx) = mpsc::channel();
        queues.push(tx);
        senders.push(sender(base.clone(), rx));
    }
    let notifier = Arc::new(AlertmanagerNotifier {
        queues: Mutex::new(queues),
    });
    let options = ManagerOptions {
        group: GroupOptions {
            default_interval: duration("eval-interval", &cli.eval_interval)?,
            templates: TemplateContext {
                external_labels,
                external_url: cli.external_url.clone(),
            },
            ..GroupOptions::default()
        },
        resend_delay: duration("resend-delay", &cli.resend_delay)?,
        notifier: Some(notifier.clone()),
        ..ManagerOptions::default()
    };
    let manager = Manager::new(db.clone(), db.clone(), options);
    manager.update(&cli.rules).map_err(|errs| {
        errs.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let groups = manager.status();
    eprintln!(
        "ruler: {} group(s), {} rule(s) from {} file(s)",
        groups.len(),
        groups.iter().map(|g| g.rules.len()).sum::<usize>(),
        cli.rules.len()
    );
    manager.run().map_err(|errs| errs[0].to_string())?;

    let mut signals =
        Signals::new([SIGHUP, SIGTERM, SIGINT]).map_err(|e| format!("signal handlers: {e}"))?;
    eprintln!("ruler: ready");
    for sig in signals.forever() {
        if sig == SIGHUP {
            match manager.update(&cli.rules) {
                Ok(()) => eprintln!("ruler: reloaded {} file(s)", cli.rules.len()),
                Err(errs) => {
                    for e in errs {
                        eprintln!("ruler: reload failed, keeping the previous rules: {e}");
                    }
                }
            }
        } else {
            break;
        }
    }
    eprintln!("ruler: stopping");
    manager.stop();
    drop(manager);
    // Closing the queues lets the senders finish what is queued.
    notifier
        .queues
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    for s in senders {
        let _ = s.join();
    }
    match Arc::try_unwrap(db) {
        Ok(db) => db.close().map_err(|e| format!("closing the Db: {e}")),
        Err(_) => Err("the Db is still in use".into()),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ruler: {e}");
            ExitCode::FAILURE
        }
    }
}
