//! The compliance suite's request generator (`generateRequest`) and
//! answer check (`validateResponse`), rebuilt for `rw2_compliance.rs`:
//! requests as data ([`Opts`]), answers checked against [`Want`] or a
//! pinned [`Deviation`].

#![allow(dead_code)]

use aion_model::Labels;
use aion_remote::codec;
use aion_remote::proto::v2::{self, metadata::MetricType, Exemplar, Metadata, Sample, TimeSeries};
use aion_remote::proto::Histogram;
use aion_remote::send::Interner;
use aion_remote::write::{Receiver, WriteResponse};
use aion_storage::{Queryable, SampleIterator, ValueType};
use aion_tsdb::{Db, Options};

pub const CT_V2: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";
pub const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// What the suite requires of an answer (`requestParams`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Want {
    pub samples: u64,
    pub exemplars: u64,
    pub histograms: u64,
    pub success: bool,
    pub retryable: bool,
    pub exact: u16,
    /// The SHOULD variant: a success must be exactly 204.
    pub strict: bool,
}

/// Aion's pinned answer where it differs from the suite's.
#[derive(Debug, Clone, Copy)]
pub struct Deviation {
    pub status: u16,
    pub samples: u64,
    pub exemplars: u64,
    pub histograms: u64,
}

#[derive(Clone, Default)]
pub struct S {
    pub labels: Vec<(&'static str, &'static str)>,
    pub value: f64,
    pub offset_ms: i64,
    pub created: Option<i64>,
}

#[derive(Clone)]
pub struct E {
    pub labels: Vec<(&'static str, &'static str)>,
    pub exemplar_labels: Vec<(&'static str, &'static str)>,
    pub value: f64,
}

#[derive(Clone)]
pub struct M {
    pub labels: Vec<(&'static str, &'static str)>,
    pub typ: MetricType,
    pub help: &'static str,
    pub unit: &'static str,
}

#[derive(Clone)]
pub struct H {
    pub labels: Vec<(&'static str, &'static str)>,
    pub histogram: Histogram,
}

/// One request as the suite's `RequestOpts`.
#[derive(Clone, Default)]
pub struct Opts {
    pub samples: Vec<S>,
    pub exemplars: Vec<E>,
    pub metadata: Vec<M>,
    pub histograms: Vec<H>,
    /// Keep metadata with an empty `__name__` (the suite's `UnsafeRequest`).
    pub unsafe_request: bool,
}

pub fn same_labels(a: &[(&str, &str)], b: &[(&str, &str)]) -> bool {
    a.len() == b.len() && a.iter().all(|p| b.contains(p))
}

pub fn name_of<'a>(l: &[(&'a str, &'a str)]) -> &'a str {
    l.iter()
        .find(|(n, _)| *n == "__name__")
        .map_or("", |(_, v)| v)
}

/// Label refs in reverse of the listed order: out of byte order for
/// every multi-label case, as Go's map iteration sends them.
pub fn refs(sym: &mut Interner, labels: &[(&str, &str)]) -> Vec<u32> {
    labels
        .iter()
        .rev()
        .flat_map(|(n, v)| [sym.intern(n), sym.intern(v)])
        .collect()
}

/// Builds the request as the suite's `generateRequest` lays it out:
/// exemplars ride on the series with their labels (all remaining on the
/// series' last entry), metadata on series of the same metric name, and
/// what matches nothing gets a series of its own.
pub fn build(opts: &Opts, now: i64) -> v2::Request {
    let mut sym = Interner::new();
    let mut used = vec![false; opts.exemplars.len()];
    let meta_for = |sym: &mut Interner, name: &str| {
        opts.metadata
            .iter()
            .find(|m| name_of(&m.labels) == name && (!name.is_empty() || opts.unsafe_request))
            .map(|m| Metadata {
                r#type: m.typ as i32,
                help_ref: sym.intern(m.help),
                unit_ref: sym.intern(m.unit),
            })
    };
    let mut series = Vec::new();
    let mut take_exemplars =
        |sym: &mut Interner, labels: &[(&'static str, &'static str)], last: bool| {
            let mut out = Vec::new();
            for (i, e) in opts.exemplars.iter().enumerate() {
                if !used[i] && same_labels(&e.labels, labels) {
                    used[i] = true;
                    out.push(Exemplar {
                        labels_refs: refs(sym, &e.exemplar_labels),
                        value: e.value,
                        timestamp: now,
                    });
                    if !last {
                        break;
                    }
                }
            }
            out
        };
    for (i, s) in opts.samples.iter().enumerate() {
        let last = !opts.samples[i + 1..]
            .iter()
            .any(|o| same_labels(&o.labels, &s.labels));
        let exemplars = take_exemplars(&mut sym, &s.labels, last);
        series.push(TimeSeries {
            labels_refs: refs(&mut sym, &s.labels),
            samples: vec![Sample {
                value: s.value,
                timestamp: now + s.offset_ms,
                start_timestamp: 0,
            }],
            exemplars,
            metadata: meta_for(&mut sym, name_of(&s.labels)),
            created_timestamp: s.created.unwrap_or(0),
            ..TimeSeries::default()
        });
    }
    for (i, h) in opts.histograms.iter().enumerate() {
        let last = !opts.histograms[i + 1..]
            .iter()
            .any(|o| same_labels(&o.labels, &h.labels));
        let exemplars = take_exemplars(&mut sym, &h.labels, last);
        let mut hist = h.histogram.clone();
        hist.timestamp = now;
        series.push(TimeSeries {
            labels_refs: refs(&mut sym, &h.labels),
            histograms: vec![hist],
            exemplars,
            metadata: meta_for(&mut sym, name_of(&h.labels)),
            ..TimeSeries::default()
        });
    }
    let has_data = |l: &[(&str, &str)]| {
        opts.samples.iter().any(|s| same_labels(&s.labels, l))
            || opts.histograms.iter().any(|h| same_labels(&h.labels, l))
    };
    for (i, e) in opts.exemplars.iter().enumerate() {
        if !used[i] && !has_data(&e.labels) {
            series.push(TimeSeries {
                labels_refs: refs(&mut sym, &e.labels),
                exemplars: vec![Exemplar {
                    labels_refs: refs(&mut sym, &e.exemplar_labels),
                    value: e.value,
                    timestamp: now,
                }],
                ..TimeSeries::default()
            });
        }
    }
    for m in &opts.metadata {
        let name = name_of(&m.labels);
        let named = |l: &[(&str, &str)]| name_of(l) == name;
        if name.is_empty()
            || opts.samples.iter().any(|s| named(&s.labels))
            || opts.histograms.iter().any(|h| named(&h.labels))
        {
            continue;
        }
        series.push(TimeSeries {
            labels_refs: refs(&mut sym, &m.labels),
            metadata: Some(Metadata {
                r#type: m.typ as i32,
                help_ref: sym.intern(m.help),
                unit_ref: sym.intern(m.unit),
            }),
            ..TimeSeries::default()
        });
    }
    v2::Request {
        symbols: sym.symbols().to_vec(),
        timeseries: series,
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Every stored float sample: (labels text, t, value bits).
pub fn stored(db: &Db) -> Vec<(String, i64, u64)> {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let all = aion_model::Matcher::new(aion_model::MatchType::Regex, "__name__", ".+").unwrap();
    let mut set = q.select(true, None, &[all]);
    let mut out = Vec::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        while s.samples.next() == ValueType::Float {
            let (t, v) = s.samples.at();
            out.push((s.labels.to_string(), t, v.to_bits()));
        }
    }
    out
}

/// Sends `body` with `headers` to a fresh Db; checks the answer as the
/// suite does (or Aion's pinned deviation) and the stored samples.
pub fn check(
    name: &str,
    headers: (Option<&str>, Option<&str>),
    body: &[u8],
    want: Want,
    deviation: Option<Deviation>,
    expect_stored: &[(String, u64)],
) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let r: WriteResponse = Receiver::new(&db).receive(headers.0, headers.1, body);
    let code = r.status.code();
    // Read back from the headers as the suite does: absent means 0.
    let header = |name: &str| {
        r.headers()
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(0, |(_, v)| v.parse::<u64>().unwrap())
    };
    let w = aion_remote::write::Written {
        samples: header("X-Prometheus-Remote-Write-Samples-Written"),
        exemplars: header("X-Prometheus-Remote-Write-Exemplars-Written"),
        histograms: header("X-Prometheus-Remote-Write-Histograms-Written"),
    };
    if let Some(d) = deviation {
        assert_eq!(
            (code, w.samples, w.exemplars, w.histograms),
            (d.status, d.samples, d.exemplars, d.histograms),
            "{name}: Aion's pinned deviation changed: {}",
            r.message
        );
        return;
    }
    if want.exact != 0 {
        assert_eq!(code, want.exact, "{name}: {}", r.message);
    }
    match code / 100 {
        2 => {
            assert!(want.success, "{name}: {code} but the suite wants a failure");
            assert_eq!(
                (w.samples, w.exemplars, w.histograms),
                (want.samples, want.exemplars, want.histograms),
                "{name}: written counts"
            );
            if want.strict {
                assert_eq!(code, 204, "{name}");
            }
        }
        4 => {
            assert!(!want.retryable, "{name}: {code} for a retryable case");
            assert!(!want.success, "{name}: {code}: {}", r.message);
            if want.exact == 0 {
                assert_eq!(code, 400, "{name}: {}", r.message);
            }
            assert!(w.samples <= want.samples && w.exemplars <= want.exemplars);
            assert!(w.histograms <= want.histograms, "{name}");
        }
        5 => {
            assert!(
                !want.success && want.retryable,
                "{name}: {code}: {}",
                r.message
            );
        }
        _ => panic!("{name}: status {code}"),
    }
    let got: Vec<(String, u64)> = stored(&db).into_iter().map(|(l, _, v)| (l, v)).collect();
    assert_eq!(got, expect_stored, "{name}: stored samples");
}

/// The suite's `runComplianceTest`: a SHOULD variant (204 exactly) for
/// cases expected to succeed, and the MUST variant.
pub fn compliance(
    name: &str,
    opts: &Opts,
    mut want: Want,
    success: bool,
    deviation: Option<Deviation>,
) {
    let now = now_ms();
    let req = build(opts, now);
    let body = codec::encode_write_v2(&req);
    want.success = success;
    // The samples Aion should hold afterwards: every one of a series
    // with a non-empty __name__ (labels sorted, empty values dropped).
    let mut expect: Vec<(String, u64)> = if deviation.is_some() || want.samples == 0 {
        Vec::new()
    } else {
        opts.samples
            .iter()
            .filter(|s| !name_of(&s.labels).is_empty())
            .map(|s| {
                (
                    Labels::from_pairs(&s.labels).unwrap().to_string(),
                    s.value.to_bits(),
                )
            })
            .collect()
    };
    expect.sort();
    let variants: &[bool] = if success { &[true, false] } else { &[false] };
    for &strict in variants {
        want.strict = strict;
        check(
            &format!("{name}{}", if strict { " returns 204" } else { "" }),
            (Some(CT_V2), Some("snappy")),
            &body,
            want,
            deviation,
            &expect,
        );
    }
}
