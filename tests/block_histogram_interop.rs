//! Blocks with native histograms between Aion and Prometheus 2.42.
//!
//! Prometheus 2.42 (`--enable-feature=native-histograms`, remote-write
//! receiver) is sent 6.5 h of 15 s samples over remote write 1.0: integer
//! counter histograms (schema 0 with negative buckets, a new bucket, a
//! counter reset and a stale marker; schema 3 with 20 buckets), a gauge
//! histogram, a float histogram, a series that turns from floats into
//! histograms, and plain floats. Its head cuts two 2 h blocks, which are
//! then read both ways:
//!
//! * `aion dump` of Prometheus's blocks prints every float line `promtool
//!   tsdb dump` (2.42) prints — 2.42's promtool prints floats only and
//!   stops at a series' first histogram — and every histogram sample as
//!   promtool 3.x's `Histogram.String()` form with exactly the values
//!   Prometheus's HTTP API answers for them (bounds within 1e-12, since
//!   Aion's exponential bounds are correctly rounded where Prometheus's
//!   table is an ulp low; see docs/promql-2x-3x-differences.md §11);
//! * `aion query --format json` answers the raw range selector as
//!   Prometheus does on the same blocks;
//! * blocks Aion writes from the same samples — two overlapping ones,
//!   vertically compacted (re-encoded histogram chunks), then a deletion
//!   rewritten by compaction — are answered by a Prometheus 2.42 server
//!   exactly as Prometheus answers its own blocks (minus the deleted
//!   interval), and `promtool tsdb dump` prints the same floats;
//! * `aion create-blocks-from rules` backfills a recording rule over
//!   histograms (promtool drops such results) into float-histogram
//!   blocks that 2.42 answers exactly as it evaluates the expression.
//!
//! With `AION_SAVE_HISTOGRAM_BLOCK=DIR` the first Prometheus block and
//! Prometheus's answer for it are copied to DIR (how the fixture of
//! `tsdb/src/block/prometheus_fixture_tests.rs` was made).
//!
//! Without the binaries the test prints a note and passes, unless
//! `AION_REQUIRE_PROMTOOL=1`, which makes it fail.

#[path = "support/binaries.rs"]
mod binaries;
#[path = "support/http1.rs"]
mod http1;
#[path = "support/promql_interop.rs"]
mod interop;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aion::chunkenc::{Encoding, STALE_NAN};
use aion::model::gotext::GoFloat;
use aion::model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};
use aion::model::{Labels, Matcher};
use aion::remote::send::WriteRequestBuilder;
use aion::storage::merge::encode_series;
use aion::storage::{SampleValue, ValueSliceIterator};
use aion::tsdb::block::{Block, BlockMeta, BlockWriter, BlockWriterOptions, Ulid};
use aion::tsdb::compact::compact_blocks;
use binaries::aion_example;
use interop::{copy_dir, prometheus_binaries, Prometheus, Query};
use serde_json::Value as Json;

/// First sample (ms): a multiple of 2 h, so Prometheus's blocks are
/// [T0, T0+2h) and [T0+2h, T0+4h).
const T0: i64 = 1_700_006_400_000;
const STEP: i64 = 15_000;
const H: i64 = 3_600_000;
/// 6.5 h of samples: the head spans more than 3 h twice over, so 2.42
/// cuts two blocks and keeps the rest in its head.
const SAMPLES: i64 = 1560;
/// Where Prometheus's two blocks end.
const BLOCKS_END: i64 = T0 + 4 * H;
/// The sample of `h_exp` that is a stale marker.
const STALE_AT: i64 = 440;
/// Samples of `mixed` that are floats (the rest are histograms).
const MIXED_FLOATS: i64 = 420;

/// One sent series.
struct Sent {
    labels: Labels,
    samples: Vec<(i64, SampleValue)>,
    /// Integer histograms (printed with integer counts).
    integer: bool,
}

fn labels(name: &str) -> Labels {
    Labels::from_pairs(&[("__name__", name), ("job", "interop")]).unwrap()
}

/// Delta-encodes absolute bucket counts.
fn deltas(counts: &[u64]) -> Vec<i64> {
    let mut prev = 0i64;
    counts
        .iter()
        .map(|&c| {
            let d = c as i64 - prev;
            prev = c as i64;
            d
        })
        .collect()
}

/// Schema 0, buckets −1…3 and (from sample 150) 6, negative buckets 0…1;
/// a reset at sample 400, a stale marker at 440 (all in the first block,
/// which is the unit tests' fixture).
fn h_exp(k: i64) -> Histogram {
    if k == STALE_AT {
        return Histogram {
            sum: STALE_NAN,
            ..Histogram::default()
        };
    }
    let level = if k < 400 {
        k as u64 + 3
    } else {
        (k - 399) as u64
    };
    let mut pos: Vec<u64> = (0..5).map(|i| level * (i + 1)).collect();
    let mut positive_spans = vec![Span {
        offset: -1,
        length: 5,
    }];
    if k >= 150 {
        pos.push(level / 2 + 1);
        positive_spans.push(Span {
            offset: 2,
            length: 1,
        });
    }
    let neg = [level, 2 * level];
    Histogram {
        schema: 0,
        zero_threshold: 2f64.powi(-128),
        zero_count: level,
        count: pos.iter().sum::<u64>() + neg.iter().sum::<u64>() + level,
        sum: level as f64 * 1.25,
        positive_spans,
        positive_buckets: deltas(&pos),
        negative_spans: vec![Span {
            offset: 0,
            length: 2,
        }],
        negative_buckets: deltas(&neg),
        ..Histogram::default()
    }
}

/// Schema 3, 20 buckets from index 5.
fn h_fine(k: i64) -> Histogram {
    let level = k as u64 + 1;
    let pos: Vec<u64> = (0..20).map(|i| level * (1 + i % 4)).collect();
    Histogram {
        schema: 3,
        zero_threshold: 2f64.powi(-128),
        count: pos.iter().sum(),
        sum: level as f64 * 3.5,
        positive_spans: vec![Span {
            offset: 5,
            length: 20,
        }],
        positive_buckets: deltas(&pos),
        ..Histogram::default()
    }
}

/// A gauge histogram going up and down.
fn h_gauge(k: i64) -> Histogram {
    let pos: Vec<u64> = (0..4).map(|i| ((k * 7 + i * 3) % 11) as u64).collect();
    Histogram {
        counter_reset_hint: CounterResetHint::Gauge,
        schema: 0,
        zero_threshold: 2f64.powi(-128),
        count: pos.iter().sum(),
        sum: (k % 13) as f64 - 4.5,
        positive_spans: vec![Span {
            offset: 0,
            length: 4,
        }],
        positive_buckets: deltas(&pos),
        ..Histogram::default()
    }
}

/// A float counter histogram with fractional counts.
fn fh_counter(k: i64) -> FloatHistogram {
    let level = k as f64 + 1.0;
    let pos: Vec<f64> = (0..3).map(|i| level * (i as f64 + 0.5)).collect();
    FloatHistogram {
        schema: 0,
        zero_threshold: 2f64.powi(-128),
        zero_count: level * 0.25,
        count: pos.iter().sum::<f64>() + level * 0.25,
        sum: level * 0.1,
        positive_spans: vec![Span {
            offset: 1,
            length: 3,
        }],
        positive_buckets: pos,
        ..FloatHistogram::default()
    }
}

/// A two-bucket counter histogram (the histogram part of `mixed`).
fn h_small(level: u64) -> Histogram {
    Histogram {
        schema: 0,
        zero_threshold: 2f64.powi(-128),
        count: 3 * level,
        sum: level as f64,
        positive_spans: vec![Span {
            offset: 0,
            length: 2,
        }],
        positive_buckets: vec![level as i64, level as i64],
        ..Histogram::default()
    }
}

fn sent() -> Vec<Sent> {
    let ts = |f: &dyn Fn(i64) -> SampleValue| -> Vec<(i64, SampleValue)> {
        (0..SAMPLES).map(|k| (T0 + k * STEP, f(k))).collect()
    };
    let hist = |h: Histogram| SampleValue::Histogram(h.into());
    vec![
        Sent {
            labels: labels("f_counter"),
            samples: ts(&|k| SampleValue::Float(k as f64 * 10.0 + 0.5)),
            integer: false,
        },
        Sent {
            labels: labels("fh_counter"),
            samples: ts(&|k| SampleValue::FloatHistogram(fh_counter(k).into())),
            integer: false,
        },
        Sent {
            labels: labels("h_exp"),
            samples: ts(&|k| hist(h_exp(k))),
            integer: true,
        },
        Sent {
            labels: labels("h_fine"),
            samples: ts(&|k| hist(h_fine(k))),
            integer: true,
        },
        Sent {
            labels: labels("h_gauge"),
            samples: ts(&|k| hist(h_gauge(k))),
            integer: true,
        },
        // Floats for 1 h 45 min, then histograms.
        Sent {
            labels: labels("mixed"),
            samples: ts(&|k| {
                if k < MIXED_FLOATS {
                    SampleValue::Float(k as f64 * 1.5)
                } else {
                    hist(h_small((k - MIXED_FLOATS + 1) as u64))
                }
            }),
            integer: true,
        },
    ]
}

/// Sends everything in time order, 30 minutes of every series per
/// request.
fn push(addr: &str, series: &[Sent]) {
    for start in (0..SAMPLES as usize).step_by(120) {
        let mut b = WriteRequestBuilder::new();
        for s in series {
            let part = &s.samples[start..(start + 120).min(s.samples.len())];
            let floats: Vec<(i64, f64)> = part
                .iter()
                .filter_map(|(t, v)| match v {
                    SampleValue::Float(f) => Some((*t, *f)),
                    _ => None,
                })
                .collect();
            let ints: Vec<(i64, Histogram)> = part
                .iter()
                .filter_map(|(t, v)| match v {
                    SampleValue::Histogram(h) => Some((*t, (**h).clone())),
                    _ => None,
                })
                .collect();
            let fhs: Vec<(i64, FloatHistogram)> = part
                .iter()
                .filter_map(|(t, v)| match v {
                    SampleValue::FloatHistogram(h) => Some((*t, (**h).clone())),
                    _ => None,
                })
                .collect();
            if !floats.is_empty() {
                b.add_samples(&s.labels, &floats);
            }
            if !ints.is_empty() {
                b.add_histograms(&s.labels, &ints);
            }
            if !fhs.is_empty() {
                b.add_float_histograms(&s.labels, &fhs);
            }
        }
        let body = b.encode();
        let r = http1::http(
            addr,
            "POST",
            "/api/v1/write",
            &[
                ("Content-Type", "application/x-protobuf"),
                ("Content-Encoding", "snappy"),
                ("X-Prometheus-Remote-Write-Version", "0.1.0"),
            ],
            &body,
        )
        .unwrap();
        assert!(
            r.status / 100 == 2,
            "remote write answered {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
}

fn block_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        // A block being written is `<ULID>.tmp-for-creation`, meta.json
        // included, until Prometheus renames it: only bare ULIDs count.
        .filter(|p| p.extension().is_none() && p.join("meta.json").exists())
        .collect();
    v.sort();
    v
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn sorted_lines(text: &str) -> Vec<&str> {
    let mut v: Vec<&str> = text.lines().collect();
    v.sort_unstable();
    v
}

/// The raw range selector over everything Prometheus's blocks hold.
fn everything() -> Query {
    Query {
        expr: r#"{job="interop"}[5h]"#.to_string(),
        range: None,
        // Past the blocks' end, off the 15 s grid: no sample on a window
        // boundary (2.42 and Aion close windows differently).
        time: (BLOCKS_END + 7_000) / 1000,
        ordered: false,
    }
}

/// Prometheus 2.42's answer to `q` for every sent series, asked one
/// series at a time: in one matrix, 2.42 hands an integer-histogram
/// series that follows a float-histogram series the other's last float
/// histogram for every point (docs/promql-2x-3x-differences.md §15).
fn ask_per_series(p: &Prometheus, q: &Query, series: &[Sent]) -> Json {
    let mut names: Vec<&str> = series
        .iter()
        .map(|s| s.labels.get("__name__").unwrap())
        .collect();
    names.sort_unstable();
    let mut result = Vec::new();
    for name in names {
        let one = Query {
            expr: q.expr.replacen('{', &format!("{{__name__=\"{name}\","), 1),
            ..q.clone()
        };
        let a = p.query(&one).unwrap();
        assert_eq!(a["resultType"], "matrix");
        result.extend(a["result"].as_array().unwrap().iter().cloned());
    }
    serde_json::json!({ "resultType": "matrix", "result": result })
}

/// Histogram samples of an API matrix: per series name, `(t, count,
/// sum, [(rule, lower, upper, count)])`, numbers as the API's strings.
type ApiHistograms = BTreeMap<String, Vec<(i64, String, String, Vec<[String; 4]>)>>;

fn api_histograms(data: &Json) -> ApiHistograms {
    let mut out = ApiHistograms::new();
    for s in data["result"].as_array().unwrap() {
        let name = s["metric"]["__name__"].as_str().unwrap().to_string();
        let mut v = Vec::new();
        for p in s["histograms"].as_array().into_iter().flatten() {
            let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
            let h = &p[1];
            let buckets = h["buckets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|b| {
                    [
                        b[0].to_string(),
                        b[1].as_str().unwrap().to_string(),
                        b[2].as_str().unwrap().to_string(),
                        b[3].as_str().unwrap().to_string(),
                    ]
                })
                .collect();
            v.push((
                t,
                h["count"].as_str().unwrap().to_string(),
                h["sum"].as_str().unwrap().to_string(),
                buckets,
            ));
        }
        out.insert(name, v);
    }
    out
}

fn num(s: &str) -> f64 {
    match s {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap(),
    }
}

/// promtool 3.x's `String()` form of an API histogram: counts as
/// integers for integer histograms, `%g` otherwise.
fn string_form(count: &str, sum: &str, buckets: &[[String; 4]], integer: bool) -> String {
    let n = |s: &str| {
        if integer {
            format!("{}", num(s) as u64)
        } else {
            GoFloat(num(s)).to_string()
        }
    };
    let mut out = format!("{{count:{}, sum:{}", n(count), GoFloat(num(sum)));
    for [rule, lo, hi, c] in buckets {
        let (open, close) = match rule.as_str() {
            "0" => ('(', ']'),
            "1" => ('[', ')'),
            "2" => ('(', ')'),
            _ => ('[', ']'),
        };
        out.push_str(&format!(
            ", {open}{},{}{close}:{}",
            GoFloat(num(lo)),
            GoFloat(num(hi)),
            n(c)
        ));
    }
    out.push('}');
    out
}

/// The numbers of a `String()` form: count, sum, then per bucket
/// `(open, lower, upper, close, count)`.
type Parsed = (f64, f64, Vec<(char, f64, f64, char, f64)>);

fn parse_string_form(s: &str) -> Parsed {
    let inner = s.strip_prefix('{').unwrap().strip_suffix('}').unwrap();
    let mut parts = inner.split(", ");
    let count = num(parts.next().unwrap().strip_prefix("count:").unwrap());
    let sum = num(parts.next().unwrap().strip_prefix("sum:").unwrap());
    let buckets = parts
        .map(|b| {
            let (bounds, c) = b.rsplit_once(':').unwrap();
            let open = bounds.chars().next().unwrap();
            let close = bounds.chars().last().unwrap();
            let (lo, hi) = bounds[1..bounds.len() - 1].split_once(',').unwrap();
            (open, num(lo), num(hi), close, num(c))
        })
        .collect();
    (count, sum, buckets)
}

fn same_parsed(a: &Parsed, b: &Parsed) -> bool {
    a.0 == b.0
        && (a.1 == b.1 || a.1.is_nan() && b.1.is_nan())
        && a.2.len() == b.2.len()
        && a.2.iter().zip(&b.2).all(|(x, y)| {
            x.0 == y.0 && x.3 == y.3 && x.4 == y.4 && close_bound(x.1, y.1) && close_bound(x.2, y.2)
        })
}

fn close_bound(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// `aion dump` lines of histogram samples, per series name: `(t, form)`.
fn dumped_histograms(dump: &str) -> BTreeMap<String, Vec<(i64, String)>> {
    let mut out: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for line in dump.lines() {
        let Some(start) = line.find("} {count:") else {
            continue;
        };
        let name = line
            .split("__name__=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .to_string();
        let rest = &line[start + 2..];
        let (form, t) = rest.rsplit_once(' ').unwrap();
        out.entry(name)
            .or_default()
            .push((t.parse().unwrap(), form.to_string()));
    }
    out
}

/// Compares two API answers of a raw range selector: floats exactly,
/// histograms with bucket bounds within 1e-12.
fn compare_matrices(what: &str, a: &Json, b: &Json) {
    let key = |s: &Json| s["metric"].to_string();
    let (ra, rb) = (
        a["result"].as_array().unwrap(),
        b["result"].as_array().unwrap(),
    );
    let ka: Vec<String> = ra.iter().map(key).collect();
    let kb: Vec<String> = rb.iter().map(key).collect();
    assert_eq!(ka, kb, "{what}: series differ");
    for (sa, sb) in ra.iter().zip(rb) {
        assert_eq!(sa["values"], sb["values"], "{what}: floats of {}", key(sa));
        let (ha, hb) = (api_histograms_of(sa), api_histograms_of(sb));
        assert_eq!(ha.len(), hb.len(), "{what}: histograms of {}", key(sa));
        for (x, y) in ha.iter().zip(&hb) {
            assert_eq!((x.0, &x.1, &x.2), (y.0, &y.1, &y.2), "{what}: {}", key(sa));
            assert_eq!(x.3.len(), y.3.len(), "{what}: {} at {}", key(sa), x.0);
            for (p, q) in x.3.iter().zip(&y.3) {
                assert!(
                    p[0] == q[0]
                        && p[3] == q[3]
                        && close_bound(num(&p[1]), num(&q[1]))
                        && close_bound(num(&p[2]), num(&q[2])),
                    "{what}: {} at {}: bucket {p:?} vs {q:?}",
                    key(sa),
                    x.0
                );
            }
        }
    }
}

fn api_histograms_of(series: &Json) -> Vec<(i64, String, String, Vec<[String; 4]>)> {
    let wrapped = serde_json::json!({ "result": [series] });
    api_histograms(&wrapped)
        .into_values()
        .next()
        .unwrap_or_default()
}

/// Drops samples in `[from, to]` (ms) from an API matrix.
fn without(data: &Json, from: i64, to: i64) -> Json {
    let mut data = data.clone();
    for s in data["result"].as_array_mut().unwrap() {
        for kind in ["values", "histograms"] {
            if let Some(points) = s.get_mut(kind).and_then(Json::as_array_mut) {
                points.retain(|p| {
                    let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
                    !(from..=to).contains(&t)
                });
                if points.is_empty() {
                    s.as_object_mut().unwrap().remove(kind);
                }
            }
        }
    }
    data
}

/// Writes the sent samples in `[mint, maxt)` as one Aion block.
fn aion_block(dir: &Path, series: &[Sent], mint: i64, maxt: i64) -> Block {
    let ulid = Ulid::generate();
    let mut w = BlockWriter::create(dir, ulid, BlockWriterOptions::default()).unwrap();
    let mut symbols: Vec<String> = vec![String::new()];
    for s in series {
        for l in &s.labels {
            symbols.push(l.name.to_string());
            symbols.push(l.value.to_string());
        }
    }
    symbols.sort();
    symbols.dedup();
    for s in &symbols {
        w.add_symbol(s).unwrap();
    }
    let mut sorted: Vec<&Sent> = series.iter().collect();
    sorted.sort_by(|a, b| a.labels.cmp(&b.labels));
    for s in sorted {
        let part: Vec<(i64, SampleValue)> = s
            .samples
            .iter()
            .filter(|(t, _)| (mint..maxt).contains(t))
            .cloned()
            .collect();
        let chunks = encode_series(&mut ValueSliceIterator::new(part), Encoding::Xor).unwrap();
        w.add_series(&s.labels, &chunks).unwrap();
    }
    w.finish(BlockMeta::new(ulid, mint, maxt)).unwrap().unwrap();
    Block::open(dir.join(ulid.to_string())).unwrap()
}

/// `aion create-blocks-from rules` of a recording rule over histograms
/// (which promtool drops) writes float histogram blocks that Prometheus
/// 2.42 answers with what it computes itself for the rule's expression.
fn check_backfilled_rule(aion: &Path, prometheus: &Path, tmp: &Path, source: &Path) {
    let rules = tmp.join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: hist\n    interval: 1m\n    rules:\n      - record: job:h_fine:sum\n        expr: sum by (job) (h_fine)\n",
    )
    .unwrap();
    let out = tmp.join("rules-out");
    run(Command::new(aion)
        .args(["create-blocks-from", "rules", "--start"])
        .arg((T0 / 1000).to_string())
        .arg("--end")
        .arg((BLOCKS_END / 1000 - 1).to_string())
        .arg("--output-dir")
        .arg(&out)
        .arg(source)
        .arg(&rules));
    assert!(!block_dirs(&out).is_empty());
    let served = tmp.join("rules-served");
    copy_dir(&out, &served).unwrap();
    let p = Prometheus::start_with(prometheus, &served, &["--enable-feature=native-histograms"])
        .unwrap();
    let q = Query {
        expr: "job:h_fine:sum[5h]".to_string(),
        ..everything()
    };
    let got = p.query(&q).unwrap();
    drop(p);
    let points = got["result"][0]["histograms"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(points.len() > 200, "{} rule samples", points.len());
    let (first, last) = (
        points[0][0].as_f64().unwrap(),
        points[points.len() - 1][0].as_f64().unwrap(),
    );
    // What 2.42 computes for the expression at the same times.
    let copy = tmp.join("prom-served-again");
    copy_dir(source, &copy).unwrap();
    let p =
        Prometheus::start_with(prometheus, &copy, &["--enable-feature=native-histograms"]).unwrap();
    let (status, body) = p
        .get(&format!(
            "/api/v1/query_range?query={}&start={first}&end={last}&step=60",
            interop::url_encode("sum by (job) (h_fine)")
        ))
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let want: Json = serde_json::from_str(&body).unwrap();
    // promtool, and so Aion, queries each 2 h block up to its last whole
    // second: an evaluation slot inside a block's final second (the group's
    // offset comes from a hash of its file's path, a temporary one here,
    // so 1 run in 60) is not backfilled. Prometheus's own range query has
    // it.
    let backfilled = |p: &&Json| {
        let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
        t.rem_euclid(2 * H) <= 2 * H - 1000
    };
    let want_points: Vec<Json> = want["data"]["result"][0]["histograms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(backfilled)
        .cloned()
        .collect();
    assert_eq!(points, want_points);
}

#[test]
fn histogram_blocks_between_aion_and_prometheus() {
    let Some((promtool, prometheus)) = prometheus_binaries() else {
        return;
    };
    let aion = aion_example();
    let tmp = tempfile::tempdir().unwrap();
    let series = sent();

    // Prometheus writes blocks from remote-written histograms.
    let live = tmp.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    let writer = Prometheus::start_with(
        &prometheus,
        &live,
        &[
            "--enable-feature=native-histograms",
            "--web.enable-remote-write-receiver",
        ],
    )
    .unwrap();
    push(&format!("127.0.0.1:{}", writer.port), &series);
    let deadline = Instant::now() + Duration::from_secs(300);
    while block_dirs(&live).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "Prometheus cut no two blocks in 5 minutes"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(writer);
    let prom = tmp.path().join("prom");
    // promtool 2.42 insists on a WAL directory.
    std::fs::create_dir_all(prom.join("wal")).unwrap();
    let blocks = block_dirs(&live);
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    for b in &blocks {
        copy_dir(b, &prom.join(b.file_name().unwrap())).unwrap();
    }
    let metas: Vec<Json> = blocks
        .iter()
        .map(|b| serde_json::from_slice(&std::fs::read(b.join("meta.json")).unwrap()).unwrap())
        .collect();
    assert_eq!(metas[0]["minTime"], T0);
    assert_eq!(metas[1]["maxTime"], BLOCKS_END);

    // What Prometheus answers on its own blocks.
    let answer = {
        let copy = tmp.path().join("prom-served");
        copy_dir(&prom, &copy).unwrap();
        let p = Prometheus::start_with(&prometheus, &copy, &["--enable-feature=native-histograms"])
            .unwrap();
        let a = ask_per_series(&p, &everything(), &series);
        if let Ok(dir) = std::env::var("AION_SAVE_HISTOGRAM_BLOCK") {
            let dir = PathBuf::from(dir);
            let first = &blocks[0];
            copy_dir(first, &dir.join("block")).unwrap();
            let q = Query {
                time: (T0 + 2 * H + 7_000) / 1000,
                expr: r#"{job="interop"}[3h]"#.to_string(),
                ..everything()
            };
            let first_answer = ask_per_series(&p, &q, &series);
            std::fs::write(
                dir.join("answer.json"),
                serde_json::to_string_pretty(&first_answer).unwrap(),
            )
            .unwrap();
        }
        a
    };
    let prom_hist = api_histograms(&answer);
    assert_eq!(
        prom_hist["h_exp"].len(),
        959,
        "the stale marker is not a sample"
    );
    assert_eq!(prom_hist["mixed"].len(), 960 - MIXED_FLOATS as usize);

    // aion dump prints promtool 2.42's float lines...
    let theirs = run(Command::new(&promtool).args(["tsdb", "dump"]).arg(&prom));
    let ours = run(Command::new(&aion).arg("dump").arg(&prom));
    let our_floats: Vec<&str> = sorted_lines(&ours)
        .into_iter()
        .filter(|l| !l.contains("} {count:"))
        .collect();
    assert_eq!(our_floats.len(), 960 + MIXED_FLOATS as usize);
    assert!(
        our_floats == sorted_lines(&theirs),
        "aion dump's float lines differ from promtool tsdb dump"
    );
    // ... and the histograms with Prometheus's values, in promtool 3.x's
    // form (schema 0: exact text).
    let dumped = dumped_histograms(&ours);
    for s in &series {
        let name = s.labels.get("__name__").unwrap();
        let Some(want) = prom_hist.get(name).filter(|w| !w.is_empty()) else {
            continue;
        };
        let got: Vec<&(i64, String)> = dumped[name]
            .iter()
            .filter(|(_, f)| !f.contains("sum:NaN"))
            .collect();
        assert_eq!(got.len(), want.len(), "{name}");
        for ((t, form), (wt, count, sum, buckets)) in got.iter().zip(want) {
            assert_eq!(t, wt, "{name}");
            let expected = string_form(count, sum, buckets, s.integer);
            if name == "h_fine" {
                assert!(
                    same_parsed(&parse_string_form(form), &parse_string_form(&expected)),
                    "{name} at {t}: {form} vs {expected}"
                );
            } else {
                assert_eq!(form, &expected, "{name} at {t}");
            }
        }
    }
    let stale: Vec<_> = dumped["h_exp"]
        .iter()
        .filter(|(_, f)| f.contains("sum:NaN"))
        .collect();
    assert_eq!(stale.len(), 1, "the stale marker is dumped as stored");
    assert_eq!(stale[0].0, T0 + STALE_AT * STEP);

    // aion query answers the raw selector as Prometheus does.
    let q = everything();
    let ours = interop::aion_query(&aion, &prom, &q).unwrap();
    compare_matrices("aion query on Prometheus's blocks", &ours, &answer);

    // Blocks Aion writes: two overlapping ones compacted vertically,
    // then a deletion compacted away.
    let work = tmp.path().join("aion-work");
    std::fs::create_dir_all(&work).unwrap();
    let a = aion_block(&work, &series, T0, T0 + 2 * H + H / 2);
    let b = aion_block(&work, &series, T0 + H + H / 2, BLOCKS_END);
    let merged = compact_blocks(&work, &[&a, &b], BlockWriterOptions::default())
        .unwrap()
        .unwrap();
    let merged = Block::open(work.join(merged.ulid.to_string())).unwrap();
    let (del_from, del_to) = (T0 + 3 * H, T0 + 3 * H + 10 * 60_000);
    merged
        .delete(del_from, del_to, &[Matcher::equal("job", "interop")])
        .unwrap();
    let out = tmp.path().join("aion");
    std::fs::create_dir_all(out.join("wal")).unwrap();
    let last = compact_blocks(&out, &[&merged], BlockWriterOptions::default())
        .unwrap()
        .unwrap();
    assert_eq!(last.stats.num_series, 6);
    let kept = answer["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let n = |k: &str| {
                s[k].as_array().map_or(0, |v| {
                    v.iter()
                        .filter(|p| {
                            let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
                            !(del_from..=del_to).contains(&t)
                        })
                        .count()
                })
            };
            (n("values") + n("histograms")) as u64
        })
        .sum::<u64>();
    // The stale marker is stored (one sample more than the API shows).
    assert_eq!(last.stats.num_samples, kept + 1);

    let served = tmp.path().join("aion-served");
    copy_dir(&out, &served).unwrap();
    let p = Prometheus::start_with(
        &prometheus,
        &served,
        &["--enable-feature=native-histograms"],
    )
    .unwrap();
    let on_aion = ask_per_series(&p, &everything(), &series);
    drop(p);
    assert_eq!(
        on_aion,
        without(&answer, del_from, del_to),
        "Prometheus answers Aion's blocks differently from its own"
    );
    let theirs_on_ours = run(Command::new(&promtool).args(["tsdb", "dump"]).arg(&out));
    check_backfilled_rule(&aion, &prometheus, tmp.path(), &prom);

    let want: Vec<&str> = sorted_lines(&theirs)
        .into_iter()
        .filter(|l| {
            let t: i64 = l.rsplit_once(' ').unwrap().1.parse().unwrap();
            !(del_from..=del_to).contains(&t)
        })
        .collect();
    assert!(
        sorted_lines(&theirs_on_ours) == want,
        "promtool tsdb dump of Aion's blocks differs"
    );
}
