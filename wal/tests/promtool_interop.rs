//! Interoperability with Prometheus 2.42 (Debian's package):
//!
//! * a WAL written by `promtool tsdb bench write` decodes completely, with
//!   exactly the series and samples the benchmark wrote, and re-logging its
//!   records with Aion's writer reproduces the segment byte for byte;
//! * a WAL written by Aion (snappy on) is replayed by a Prometheus server,
//!   which then answers queries with every series and sample.
//!
//! Without the binaries the tests print a note and pass, unless
//! `AION_REQUIRE_PROMTOOL=1` (set by `scripts/test`) makes them fail.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::process::Command;

use aion_model::Labels;
use aion_wal::record::{self, Record, RecordDecoder, RefSample, RefSeries};
use aion_wal::{segment_path, Compression, Wal, WalOptions, WalReader};

/// The first 1,000 lines of Prometheus's `20kseries.json` (see
/// `testdata/README.md`).
const SERIES_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/20kseries-1k.json");

/// Parses label sets the way promtool's `readPrometheusLabels` does: strip
/// `"`, `{` and `}`, split on `,` then `:`, sort by name, skip duplicate
/// sets, stop after `n` distinct ones.
fn promtool_labels(text: &str, n: usize) -> Vec<Labels> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if out.len() == n {
            break;
        }
        let stripped: String = line
            .chars()
            .filter(|c| !matches!(c, '"' | '{' | '}'))
            .collect();
        let pairs: Vec<(&str, &str)> = stripped
            .split(',')
            .map(|kv| kv.split_once(':').expect("name:value"))
            .collect();
        let labels = Labels::from_pairs(&pairs).expect("valid labels");
        if seen.insert(labels.clone()) {
            out.push(labels);
        }
    }
    out
}

#[test]
fn reads_the_wal_of_promtool_bench_write() {
    let Some(promtool) = common::binary("promtool") else {
        return;
    };
    // promtool scrapes in rounds of 100 (its loop steps by 100), so 150
    // requested scrapes become 200: two rounds, values restarting in each.
    const METRICS: usize = 150;
    const SCRAPES: usize = 150;
    let rounds = SCRAPES.div_ceil(100);

    let tmp = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(SERIES_FILE).expect("shared series file");
    let input = tmp.path().join("series.json");
    let head: String = text
        .lines()
        .take(METRICS)
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(&input, &head).unwrap();
    let out_dir = tmp.path().join("bench");
    let out = Command::new(&promtool)
        .args(["tsdb", "bench", "write", "--out"])
        .arg(&out_dir)
        .args([
            "--metrics",
            &METRICS.to_string(),
            "--scrapes",
            &SCRAPES.to_string(),
        ])
        .arg(&input)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let expected_labels = promtool_labels(&head, METRICS);
    assert_eq!(expected_labels.len(), METRICS);

    let wal_dir = out_dir.join("storage/wal");
    let mut reader = WalReader::replay(&wal_dir).unwrap();
    let mut decoder = RecordDecoder::default();
    let mut records: Vec<Vec<u8>> = Vec::new();
    let mut series: BTreeMap<u64, Labels> = BTreeMap::new();
    let mut samples: BTreeMap<u64, Vec<(i64, f64)>> = BTreeMap::new();
    while let Some(rec) = reader.next_record().unwrap() {
        records.push(rec.to_vec());
        match decoder.decode(rec).unwrap() {
            Record::Series(s) => {
                for s in s {
                    assert!(series.insert(s.r#ref, s.labels.clone()).is_none());
                }
            }
            Record::Samples(s) => {
                for s in s {
                    assert!(series.contains_key(&s.r#ref), "sample before its series");
                    samples.entry(s.r#ref).or_default().push((s.t, s.v));
                }
            }
            other => panic!("unexpected record {other:?}"),
        }
    }

    // Series: refs 1..=N in file order, with the file's labels.
    assert_eq!(series.len(), METRICS);
    for (i, labels) in expected_labels.iter().enumerate() {
        assert_eq!(
            series.get(&(i as u64 + 1)),
            Some(labels),
            "series ref {}",
            i + 1
        );
    }
    // Samples: per round r, scrape j (0-based) at 3_000_000·r + 30_000·(j+1)
    // with value 123456789 + 1000·(j+1).
    let total: usize = samples.values().map(Vec::len).sum();
    assert_eq!(total, METRICS * 100 * rounds);
    let want: Vec<(i64, f64)> = (0..rounds as i64)
        .flat_map(|r| {
            (1..=100i64).map(move |j| (3_000_000 * r + 30_000 * j, (123_456_789 + 1000 * j) as f64))
        })
        .collect();
    for (r, got) in &samples {
        assert_eq!(got, &want, "samples of series {r}");
    }

    // Re-logging the same records one per call, as the head's appender
    // does, reproduces Prometheus's segment byte for byte.
    let mine = tmp.path().join("aion-wal");
    let (mut wal, report) = Wal::open(&mine, WalOptions::default()).unwrap();
    assert_eq!(report.active_segment, 0);
    for rec in &records {
        wal.log(&[rec]).unwrap();
    }
    wal.close().unwrap();
    let theirs = fs::read(segment_path(&wal_dir, 0)).unwrap();
    let ours = fs::read(segment_path(&mine, 0)).unwrap();
    assert_eq!(theirs.len(), ours.len(), "segment sizes differ");
    assert!(
        theirs == ours,
        "segments differ at byte {:?}",
        first_difference(&theirs, &ours)
    );
    assert!(!segment_path(&wal_dir, 1).exists());
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

const STEP_MS: i64 = 15_000;

/// A whole second 20 minutes ago: recent enough that Prometheus's
/// retention and head truncation leave the samples alone.
fn recent_start() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    (now - 20 * 60_000) / 1000 * 1000
}

/// A series record for refs `1..=n` of metric `name`, labelled
/// `series="<ref>"` plus `extra`.
fn series_record(name: &str, n: u64, extra: &[(&str, &str)]) -> Vec<u8> {
    let series: Vec<RefSeries> = (1..=n)
        .map(|r| {
            let mut pairs = vec![("__name__", name.to_string()), ("series", r.to_string())];
            pairs.extend(extra.iter().map(|&(k, v)| (k, v.to_string())));
            RefSeries {
                r#ref: r,
                labels: Labels::from_pairs(&pairs).unwrap(),
            }
        })
        .collect();
    let mut buf = Vec::new();
    record::encode_series(&series, &mut buf);
    buf
}

/// A samples record with one sample per series `1..=n` at `t`.
fn samples_record(n: u64, t: i64, value: impl Fn(u64) -> f64) -> Vec<u8> {
    let samples: Vec<RefSample> = (1..=n)
        .map(|r| RefSample {
            r#ref: r,
            t,
            v: value(r),
        })
        .collect();
    let mut buf = Vec::new();
    record::encode_samples(&samples, &mut buf);
    buf
}

#[test]
fn prometheus_replays_a_wal_written_by_aion() {
    let Some(prometheus) = common::binary("prometheus") else {
        return;
    };
    const SERIES: u64 = 300;
    const SAMPLES_PER_SERIES: i64 = 40;

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let start = recent_start();
    let value = |r: u64, k: i64| r as f64 * 1000.0 + k as f64 * 0.5;

    let options = WalOptions {
        compression: Compression::Snappy,
        // Small segments, so the replay crosses segment boundaries.
        segment_size: aion_wal::PAGE_SIZE as u64,
        ..WalOptions::default()
    };
    let (mut wal, _) = Wal::open(data.join("wal"), options).unwrap();
    wal.log(&[&series_record(
        "aion_interop_metric",
        SERIES,
        &[("origin", "aion")],
    )])
    .unwrap();
    for k in 0..SAMPLES_PER_SERIES {
        wal.log(&[&samples_record(SERIES, start + k * STEP_MS, |r| {
            value(r, k)
        })])
        .unwrap();
    }
    wal.close().unwrap();
    let segments = aion_wal::segment_range(&data.join("wal")).unwrap().unwrap();
    assert!(
        segments.1 > segments.0,
        "test data should span segments: {segments:?}"
    );

    let server = common::PrometheusServer::start(&prometheus, &data, tmp.path());
    let last = start + (SAMPLES_PER_SERIES - 1) * STEP_MS;
    assert_eq!(
        server.query_scalar(r#"count(aion_interop_metric{origin="aion"})"#, last),
        SERIES as f64
    );
    assert_eq!(
        server.query_scalar("sum(count_over_time(aion_interop_metric[1h]))", last),
        (SERIES as i64 * SAMPLES_PER_SERIES) as f64
    );
    for r in [1, 17, SERIES] {
        let q = format!(r#"aion_interop_metric{{series="{r}"}}"#);
        assert_eq!(
            server.query_scalar(&q, last),
            value(r, SAMPLES_PER_SERIES - 1),
            "{q}"
        );
        assert_eq!(
            server.query_scalar(&q, start + 7 * STEP_MS),
            value(r, 7),
            "{q} at sample 7"
        );
    }
    assert!(
        !server.log_text().contains("corruption"),
        "prometheus reported corruption:\n{}",
        server.log_text()
    );
}

#[test]
fn prometheus_replays_an_aion_checkpoint() {
    let Some(prometheus) = common::binary("prometheus") else {
        return;
    };
    const SERIES: u64 = 50;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let start = recent_start();

    let options = WalOptions {
        compression: Compression::Snappy,
        ..WalOptions::default()
    };
    let (mut wal, _) = Wal::open(data.join("wal"), options).unwrap();
    wal.log(&[&series_record("aion_checkpointed", SERIES, &[])])
        .unwrap();
    // Samples 0..40 in segments 0..=3, then 40..60 in segment 4.
    for k in 0..60i64 {
        wal.log(&[&samples_record(SERIES, start + k * STEP_MS, |_| k as f64)])
            .unwrap();
        if k % 10 == 9 && k < 40 {
            wal.next_segment().unwrap();
        }
    }
    // Fold segments 0..=3 into checkpoint 3, dropping odd series and
    // samples before sample 25.
    let mint = start + 25 * STEP_MS;
    let stats = wal.checkpoint(3, |r| r % 2 == 0, mint).unwrap();
    assert_eq!(stats.dropped_series, (SERIES / 2) as usize);
    wal.close().unwrap();
    assert!(data.join("wal/checkpoint.00000003").is_dir());
    assert_eq!(
        aion_wal::segment_range(&data.join("wal")).unwrap(),
        Some((4, 4))
    );

    let server = common::PrometheusServer::start(&prometheus, &data, tmp.path());
    let last = start + 59 * STEP_MS;
    // Odd series lost their series records; Prometheus drops their samples
    // too (it cannot attribute them), so only even series remain.
    assert_eq!(
        server.query_scalar("count(aion_checkpointed)", last),
        (SERIES / 2) as f64
    );
    // Even series: samples 25..40 from the checkpoint, 40..60 after it.
    assert_eq!(
        server.query_scalar("sum(count_over_time(aion_checkpointed[1h]))", last),
        (SERIES / 2 * 35) as f64
    );
    assert_eq!(
        server.query_scalar(r#"aion_checkpointed{series="2"}"#, start + 30 * STEP_MS),
        30.0
    );
}
