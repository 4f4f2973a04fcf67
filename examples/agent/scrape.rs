//! One scrape target: fetched every interval, parsed with the project's
//! text parsers, appended into agent storage with Prometheus's scrape
//! semantics (target labels, report series, stale markers).

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aion::agent::AgentDb;
use aion::chunkenc::STALE_NAN;
use aion::model::{Labels, SeriesRef};
use aion::tsdb::textparse::{Entry, TextFormat, SCRAPE_ACCEPT_HEADER};

use crate::stop::Stop;

/// Largest scrape body read (Prometheus has no default limit; this keeps
/// a runaway target from exhausting memory).
const BODY_LIMIT: u64 = 256 << 20;

/// A target as given on the command line: `http://host:port/path[#job]`.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL fetched (without the fragment).
    pub url: String,
    /// `job`: the URL's fragment, else the agent's `--job`.
    pub job: String,
    /// `instance`: `host:port` of the URL.
    pub instance: String,
}

impl Target {
    /// Parses `http://host[:port]/path[#job]`.
    pub fn parse(spec: &str, default_job: &str) -> Result<Target, String> {
        let (url, job) = match spec.split_once('#') {
            Some((u, j)) if !j.is_empty() => (u, j),
            Some((u, _)) => (u, default_job),
            None => (spec, default_job),
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("scrape URL {spec:?}: only http:// is supported"))?;
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        if host.is_empty() {
            return Err(format!("scrape URL {spec:?} has no host"));
        }
        let instance = if host.contains(':') {
            host.to_string()
        } else {
            format!("{host}:80")
        };
        Ok(Target {
            url: url.to_string(),
            job: job.to_string(),
            instance,
        })
    }
}

/// A series of the last scrape.
struct Cached {
    r: SeriesRef,
    /// With the target labels.
    labels: Labels,
    /// The scrape that last saw it.
    seen: u64,
}

/// The scrape loop's state for one target.
pub struct ScrapeLoop {
    target: Target,
    db: Arc<AgentDb>,
    http: ureq::Agent,
    interval: Duration,
    timeout: Duration,
    /// By the exposed labels (before the target's are added).
    cache: HashMap<Labels, Cached>,
    report: [(Labels, SeriesRef); 5],
    seq: u64,
    was_up: Option<bool>,
    body: Vec<u8>,
}

/// What one scrape found.
struct Outcome {
    samples: u64,
    added: u64,
    error: Option<String>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl ScrapeLoop {
    /// A loop for `target`, scraping every `interval` with
    /// Prometheus's default timeout (10 s, at most the interval).
    pub fn new(target: Target, db: Arc<AgentDb>, interval: Duration) -> ScrapeLoop {
        let timeout = interval.min(Duration::from_secs(10));
        let http: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent("aion-agent")
            .build()
            .into();
        let report_labels = |name: &str| {
            let l = Labels::from_pairs(&[
                ("__name__", name),
                ("instance", target.instance.as_str()),
                ("job", target.job.as_str()),
            ])
            .expect("valid names");
            (l, 0)
        };
        let report = [
            report_labels("up"),
            report_labels("scrape_duration_seconds"),
            report_labels("scrape_samples_scraped"),
            report_labels("scrape_samples_post_metric_relabeling"),
            report_labels("scrape_series_added"),
        ];
        ScrapeLoop {
            target,
            db,
            http,
            interval,
            timeout,
            cache: HashMap::new(),
            report,
            seq: 0,
            was_up: None,
            body: Vec::new(),
        }
    }

    /// Scrapes until `stop`, on a fixed grid offset by the URL's hash (as
    /// Prometheus spreads targets over the interval).
    pub fn run(mut self, stop: &Stop) {
        let offset = {
            let h = aion::model::xxh64(self.target.url.as_bytes(), 0);
            Duration::from_nanos(h % self.interval.as_nanos().max(1) as u64)
        };
        let epoch = Instant::now();
        let mut next = epoch + offset.min(self.interval);
        loop {
            if stop.wait_until(next) {
                return;
            }
            self.scrape_once();
            let elapsed = next.elapsed();
            // Skip grid points missed by a slow scrape.
            next += self.interval * (1 + (elapsed.as_nanos() / self.interval.as_nanos()) as u32);
        }
    }

    /// One scrape: fetch, append, report, commit.
    pub fn scrape_once(&mut self) {
        self.seq += 1;
        let started = Instant::now();
        let t = now_ms();
        let fetched = self.fetch();
        let duration = started.elapsed();
        let db = self.db.clone();
        let mut app = db.appender();
        let mut outcome = match fetched {
            Ok(format) => self.append_body(&mut app, format, t),
            Err(e) => Outcome {
                samples: 0,
                added: 0,
                error: Some(e),
            },
        };
        if outcome.error.is_some() {
            // As Prometheus: drop what the failed scrape appended, then
            // an empty scrape marks every series of the last one stale.
            if let Err(e) = app.rollback() {
                eprintln!("agent: {}: rollback: {e}", self.target.url);
            }
            app = db.appender();
            self.seq += 1;
            outcome.samples = 0;
        }
        self.mark_stale(&mut app, t);
        let up = outcome.error.is_none();
        let values = [
            if up { 1.0 } else { 0.0 },
            duration.as_secs_f64(),
            outcome.samples as f64,
            outcome.samples as f64,
            outcome.added as f64,
        ];
        for ((labels, r), v) in self.report.iter_mut().zip(values) {
            match app.append(*r, labels, t, v) {
                Ok(n) => *r = n,
                Err(e) => eprintln!("agent: {}: report {labels}: {e}", self.target.url),
            }
        }
        if let Err(e) = app.commit() {
            eprintln!("agent: {}: commit: {e}", self.target.url);
        }
        if self.was_up != Some(up) {
            match &outcome.error {
                Some(e) => eprintln!("agent: {} is down: {e}", self.target.url),
                None if self.was_up.is_some() => eprintln!("agent: {} is up", self.target.url),
                None => {}
            }
            self.was_up = Some(up);
        }
    }

    /// GETs the target into `self.body`; returns the body's format.
    fn fetch(&mut self) -> Result<TextFormat, String> {
        let timeout = format!("{}", self.timeout.as_secs_f64());
        let mut resp = self
            .http
            .get(&self.target.url)
            .header("Accept", SCRAPE_ACCEPT_HEADER)
            .header("X-Prometheus-Scrape-Timeout-Seconds", &timeout)
            .call()
            .map_err(|e| e.to_string())?;
        if resp.status().as_u16() != 200 {
            return Err(format!("server returned HTTP status {}", resp.status()));
        }
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // Into the last scrape's buffer: no new allocation per scrape.
        self.body.clear();
        resp.body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .reader()
            .read_to_end(&mut self.body)
            .map_err(|e| e.to_string())?;
        Ok(TextFormat::from_content_type(content_type.as_deref()))
    }

    /// Appends every sample of the body at `t` (exposed timestamps are
    /// not honoured).
    fn append_body(
        &mut self,
        app: &mut aion::agent::AgentAppender<'_>,
        format: TextFormat,
        t: i64,
    ) -> Outcome {
        let body = std::mem::take(&mut self.body);
        let mut out = Outcome {
            samples: 0,
            added: 0,
            error: None,
        };
        for entry in format.parser(&body) {
            let sample = match entry {
                Ok(Entry::Sample(s)) => s,
                Ok(_) => continue,
                Err(e) => {
                    out.error = Some(format!("parsing the scrape: {e}"));
                    break;
                }
            };
            out.samples += 1;
            let seq = self.seq;
            let cached = match self.cache.get_mut(&sample.labels) {
                Some(c) => c,
                None => {
                    out.added += 1;
                    let labels = with_target_labels(&sample.labels, &self.target);
                    self.cache.entry(sample.labels).or_insert(Cached {
                        r: 0,
                        labels,
                        seen: 0,
                    })
                }
            };
            if cached.seen == seq {
                // A duplicate series in one scrape: Prometheus drops it.
                continue;
            }
            cached.seen = seq;
            match app.append(cached.r, &cached.labels, t, sample.value) {
                Ok(r) => cached.r = r,
                // Out of order (the clock went back): counted by
                // Prometheus, and skipped.
                Err(_) => continue,
            }
        }
        self.body = body;
        out
    }

    /// Stale markers for the series the last scrape had and this one has
    /// not; they leave the cache.
    fn mark_stale(&mut self, app: &mut aion::agent::AgentAppender<'_>, t: i64) {
        let seq = self.seq;
        self.cache.retain(|_, c| {
            if c.seen == seq {
                return true;
            }
            // Every other entry was in the last committed scrape (the
            // previous pass removed older ones).
            let _ = app.append(c.r, &c.labels, t, STALE_NAN);
            false
        });
    }
}

/// The exposed labels plus `job` and `instance`; exposed labels of those
/// names become `exported_job`/`exported_instance` (honor_labels off).
pub fn with_target_labels(exposed: &Labels, target: &Target) -> Labels {
    let mut b = exposed.builder();
    for name in ["job", "instance"] {
        if let Some(v) = exposed.get(name) {
            let v = v.to_string();
            b.set(&format!("exported_{name}"), &v);
        }
    }
    b.set("job", &target.job);
    b.set("instance", &target.instance);
    b.build().unwrap_or_else(|_| exposed.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_urls() {
        let t = Target::parse("http://127.0.0.1:9100/metrics#node", "agent").unwrap();
        assert_eq!(
            (t.url.as_str(), t.job.as_str()),
            ("http://127.0.0.1:9100/metrics", "node")
        );
        assert_eq!(t.instance, "127.0.0.1:9100");
        let t = Target::parse("http://example/metrics", "agent").unwrap();
        assert_eq!(
            (t.job.as_str(), t.instance.as_str()),
            ("agent", "example:80")
        );
        assert!(Target::parse("https://x/metrics", "agent").is_err());
    }

    #[test]
    fn exposed_job_and_instance_are_renamed() {
        let t = Target::parse("http://h:1/m#j", "agent").unwrap();
        let l = Labels::from_pairs(&[("__name__", "m"), ("job", "x"), ("instance", "y")]).unwrap();
        assert_eq!(
            with_target_labels(&l, &t).to_string(),
            r#"{__name__="m", exported_instance="y", exported_job="x", instance="h:1", job="j"}"#
        );
    }
}
