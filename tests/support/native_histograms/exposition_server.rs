//! A scrape target on loopback serving metric families in the protobuf
//! exposition format (delimited `io.prometheus.client.MetricFamily`) when
//! the scraper's `Accept` header asks for it, and in the text format 0.0.4
//! otherwise, as client_golang's handler negotiates.
//!
//! The target serves a fixed sequence of steps: scrape `k` (from 0) gets
//! step `min(k, last)`, so a test knows exactly what every scrape saw.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::metrics_proto::{encode_delimited, Metric, MetricFamily, MetricType};

/// The content type of a delimited protobuf scrape answer.
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// The content type of a text-format scrape answer.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The formats the target can answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Protobuf,
    Text,
}

/// What one scrape got.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// The step served.
    pub step: usize,
    /// The format negotiated.
    pub format: Format,
    /// The scraper's `Accept` header.
    pub accept: String,
}

/// The running target; stops on drop.
pub struct ExpositionServer {
    addr: String,
    scrapes: Arc<Mutex<Vec<Scrape>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ExpositionServer {
    /// Serves `steps` at `http://<addr>/metrics` (at least one step).
    pub fn start(steps: Vec<Vec<MetricFamily>>) -> ExpositionServer {
        assert!(!steps.is_empty(), "a target serves at least one step");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let scrapes: Arc<Mutex<Vec<Scrape>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (scrapes, stop) = (scrapes.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((s, _)) => serve(s, &steps, &scrapes),
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        ExpositionServer {
            addr,
            scrapes,
            stop,
            thread: Some(thread),
        }
    }

    /// `host:port` of the target.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Every scrape so far, in order.
    pub fn scrapes(&self) -> Vec<Scrape> {
        self.scrapes.lock().unwrap().clone()
    }
}

impl Drop for ExpositionServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answers the one request on `s` (the answer says `Connection: close`).
fn serve(s: TcpStream, steps: &[Vec<MetricFamily>], scrapes: &Mutex<Vec<Scrape>>) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut w = match s.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut r = BufReader::new(s);
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut accept = String::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("accept") {
                accept = v.trim().to_string();
            }
        }
    }
    let (status, content_type, body) = if path == "/metrics" {
        let mut log = scrapes.lock().unwrap();
        let step = log.len().min(steps.len() - 1);
        let format = negotiate(&accept);
        log.push(Scrape {
            step,
            format,
            accept,
        });
        match format {
            Format::Protobuf => (200, PROTOBUF_CONTENT_TYPE, encode_delimited(&steps[step])),
            Format::Text => (200, TEXT_CONTENT_TYPE, text(&steps[step]).into_bytes()),
        }
    } else {
        (404, "text/plain", b"not found\n".to_vec())
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = w
        .write_all(head.as_bytes())
        .and_then(|()| w.write_all(&body));
}

/// One media range of an `Accept` header.
struct MediaRange<'a> {
    media_type: String,
    params: Vec<(String, &'a str)>,
    q: f64,
}

fn media_ranges(accept: &str) -> Vec<MediaRange<'_>> {
    accept
        .split(',')
        .filter_map(|part| {
            let mut fields = part.split(';');
            let media_type = fields.next()?.trim().to_ascii_lowercase();
            if media_type.is_empty() {
                return None;
            }
            let mut q = 1.0;
            let mut params = Vec::new();
            for p in fields {
                let (k, v) = p.split_once('=')?;
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"'));
                if k == "q" {
                    q = v.parse().unwrap_or(0.0);
                } else {
                    params.push((k, v));
                }
            }
            Some(MediaRange {
                media_type,
                params,
                q,
            })
        })
        .collect()
}

/// client_golang's choice: the acceptable range with the highest `q`
/// (the first of equals) that names a format we write; text if none.
pub fn negotiate(accept: &str) -> Format {
    let mut ranges = media_ranges(accept);
    ranges.retain(|r| r.q > 0.0);
    // Stable: equal q keep header order.
    ranges.sort_by(|a, b| b.q.total_cmp(&a.q));
    for r in ranges {
        let param = |name: &str| r.params.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
        match r.media_type.as_str() {
            "application/vnd.google.protobuf"
                if param("proto") == Some("io.prometheus.client.MetricFamily")
                    && param("encoding") == Some("delimited") =>
            {
                return Format::Protobuf
            }
            "text/plain" | "*/*" | "text/*" => return Format::Text,
            _ => {}
        }
    }
    Format::Text
}

fn text_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v:?}")
    }
}

fn text_labels(m: &Metric, extra: Option<(&str, String)>) -> String {
    let mut pairs: Vec<(String, String)> = m
        .label
        .iter()
        .map(|l| {
            (
                l.name.clone().unwrap_or_default(),
                l.value.clone().unwrap_or_default(),
            )
        })
        .collect();
    if let Some((n, v)) = extra {
        pairs.push((n.to_string(), v));
    }
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs
        .iter()
        .map(|(n, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('\n', "\\n")
                .replace('"', "\\\"");
            format!("{n}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// The families in the text format 0.0.4. A histogram shows its classic
/// buckets, sum and count only (the text format has no native buckets),
/// as client_golang writes it.
pub fn text(families: &[MetricFamily]) -> String {
    let mut out = String::new();
    for f in families {
        let name = f.name.as_deref().unwrap_or("");
        let ty = match f.metric_type() {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Summary => "summary",
            MetricType::Untyped => "untyped",
            MetricType::Histogram => "histogram",
            // The text format has no gauge histograms.
            MetricType::GaugeHistogram => "histogram",
        };
        if let Some(help) = &f.help {
            let help = help.replace('\\', "\\\\").replace('\n', "\\n");
            let _ = writeln!(out, "# HELP {name} {help}");
        }
        let _ = writeln!(out, "# TYPE {name} {ty}");
        for m in &f.metric {
            let ts = m.timestamp_ms.map(|t| format!(" {t}")).unwrap_or_default();
            let mut line = |suffix: &str, extra: Option<(&str, String)>, v: f64| {
                let _ = writeln!(
                    out,
                    "{name}{suffix}{} {}{ts}",
                    text_labels(m, extra),
                    text_value(v)
                );
            };
            if let Some(c) = &m.counter {
                line("", None, c.value.unwrap_or(0.0));
            } else if let Some(g) = &m.gauge {
                line("", None, g.value.unwrap_or(0.0));
            } else if let Some(u) = &m.untyped {
                line("", None, u.value.unwrap_or(0.0));
            } else if let Some(s) = &m.summary {
                for q in &s.quantile {
                    let label = ("quantile", text_value(q.quantile.unwrap_or(0.0)));
                    line("", Some(label), q.value.unwrap_or(0.0));
                }
                line("_sum", None, s.sample_sum.unwrap_or(0.0));
                line("_count", None, s.sample_count.unwrap_or(0) as f64);
            } else if let Some(h) = &m.histogram {
                let count = match h.sample_count_float {
                    Some(c) if c > 0.0 => c,
                    _ => h.sample_count.unwrap_or(0) as f64,
                };
                let mut inf = false;
                for b in &h.bucket {
                    let bound = b.upper_bound.unwrap_or(f64::INFINITY);
                    inf |= bound == f64::INFINITY;
                    let c = match b.cumulative_count_float {
                        Some(c) if c > 0.0 => c,
                        _ => b.cumulative_count.unwrap_or(0) as f64,
                    };
                    line("_bucket", Some(("le", text_value(bound))), c);
                }
                if !inf {
                    line("_bucket", Some(("le", "+Inf".into())), count);
                }
                line("_sum", None, h.sample_sum.unwrap_or(0.0));
                line("_count", None, count);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_2_42_native_histogram_accept_header_gets_protobuf() {
        let accept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
                      encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,\
                      application/openmetrics-text;version=0.0.1;q=0.75,\
                      text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(accept), Format::Protobuf);
        let without = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                       version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(without), Format::Text);
        assert_eq!(negotiate(""), Format::Text);
        // Text preferred over protobuf by q.
        let text_first = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
                          encoding=delimited;q=0.2,text/plain;q=0.9";
        assert_eq!(negotiate(text_first), Format::Text);
        // Only the delimited encoding is written.
        let text_encoding =
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
                             encoding=text,text/plain;q=0.5";
        assert_eq!(negotiate(text_encoding), Format::Text);
    }
}
