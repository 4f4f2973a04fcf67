//! The receiver cases of prometheus/compliance `remotewrite/receiver/`,
//! ported as data: each case is the request the suite builds (labels
//! deliberately out of order, as the suite's Go maps send them) and the
//! answer it requires, checked as the suite's `validateResponse` checks
//! it — a 2xx needs `success` and the exact `*-Written` counts (204 for
//! the SHOULD variant), a 4xx must not be expected retryable, must be 400
//! unless a code is named, and writes at most the expected counts; a 5xx
//! must be expected retryable. Each request goes through
//! [`Receiver::receive`] (headers included) into a fresh `aion_tsdb::Db`,
//! and the stored samples are read back.
//!
//! # Covered
//!
//! - `request_test.go`: `TestBadContentTypes` (2), `TestBadContentEncodings`
//!   (2), `TestCorruptRequestBody`.
//! - `metric_test.go`: `TestSingleMetric` (7 label cases × 5 values: 1.0,
//!   StaleNaN, NaN, +Inf, -Inf), `TestCounterWithCreatedTimestamp`,
//!   `TestMultipleMetrics` (3 × 5 values, partial writes included).
//! - `metadata_test.go`: `TestMetadata` (10 types; the histogram one is a
//!   deviation, below), `TestMetadataValidation` (3).
//! - `rw1_compat_test.go`: `TestRW1BasicCompatibility`,
//!   `TestRW1ErrorHandling`.
//! - `combined_test.go`: `TestEdgeCaseCombinations` (metadata alone,
//!   exemplars alone, mixed timestamps).
//! - `histograms_test.go` (`TestHistograms` 6): exponential, custom-bucket,
//!   positive-only, negative-only and minimal histograms are stored (204,
//!   one histogram written); the inconsistent one (count 99 for 23
//!   observations) is refused by the Db's validation with 400, as
//!   Prometheus's head appender refuses it.
//! - `exemplar_test.go` (`TestExemplars` 7, `TestExemplarValidation` 3,
//!   `TestExemplarSpecialValues` 7): ported, with Aion's answer pinned as a
//!   **deviation**: exemplars are decoded and their refs checked but not
//!   stored (the `Appender` trait has no exemplar call yet), so
//!   `X-Prometheus-Remote-Write-Exemplars-Written` is 0 where the suite
//!   wants 1.
//!
//! # Not covered
//!
//! - `TestMultipleExemplars`, `TestExemplarTimestamps`,
//!   `TestExemplarWithCreatedTimestamp`: only exemplar storage, which Aion
//!   lacks (the deviation above covers the answer).
//! - The rest of `histograms_test.go` and `combined_test.go` (histograms
//!   with metadata/exemplars, many histograms, custom buckets with
//!   exemplars): larger mixes of the covered cases; not ported for time.
//! - `TestManySamples`, `TestSpecialCharactersCombined`,
//!   `TestComplexSamplesRequest`, `TestMultipleMetricFamiliesSamples`,
//!   `TestMetadataWithSamples`, `TestMultipleMetadata`,
//!   `TestMetadataWithComplexLabels`, `TestCounterMetadataWithCreatedTimestamp`:
//!   larger mixes of what the covered cases check one by one; not ported
//!   for time, not for a known failure.

#[path = "support/rw2_suite.rs"]
mod suite;

use aion_model::Labels;
use aion_remote::codec;
use aion_remote::proto::v2::metadata::MetricType;
use aion_remote::proto::{histogram as ph, BucketSpan, Histogram};
use aion_remote::write::Receiver;
use aion_tsdb::{Db, Options};
use suite::{
    build, check, compliance, now_ms, stored, Deviation, Opts, Want, CT_V2, E, H, M, S, STALE_NAN,
};

fn up(value: f64) -> S {
    S {
        labels: vec![
            ("__name__", "up"),
            ("job", "testjob"),
            ("instance", "localhost:9090"),
        ],
        value,
        ..S::default()
    }
}

fn values() -> [(&'static str, f64); 5] {
    [
        ("1.0", 1.0),
        ("StaleNaN", f64::from_bits(STALE_NAN)),
        ("NaN", f64::from_bits(0x7ff8_0000_0000_0001)),
        ("Inf", f64::INFINITY),
        ("-Inf", f64::NEG_INFINITY),
    ]
}

#[test]
fn request_headers_and_bodies() {
    let opts = Opts {
        samples: vec![S {
            labels: vec![("__name__", "up")],
            value: 1.0,
            ..S::default()
        }],
        ..Opts::default()
    };
    let mut body = codec::encode_write_v2(&build(&opts, now_ms()));
    // The suite corrupts the first byte of each of these bodies.
    body[0] = b'0';
    let unsupported = Want {
        exact: 415,
        ..Want::default()
    };
    for ct in ["application/json", "image/png"] {
        check(
            ct,
            (Some(ct), Some("snappy")),
            &body,
            unsupported,
            None,
            &[],
        );
    }
    for ce in ["gzip", "deflate"] {
        check(ce, (Some(CT_V2), Some(ce)), &body, unsupported, None, &[]);
    }
    check(
        "corrupt body",
        (Some(CT_V2), Some("snappy")),
        &body,
        Want::default(),
        None,
        &[],
    );
}

#[test]
fn single_metrics() {
    for (vname, v) in values() {
        let with = |labels: Vec<(&'static str, &'static str)>| Opts {
            samples: vec![S {
                labels,
                value: v,
                ..S::default()
            }],
            ..Opts::default()
        };
        let one = Want {
            samples: 1,
            ..Want::default()
        };
        let cases: Vec<(&str, Opts, bool)> = vec![
            ("simple metric", with(vec![("__name__", "up")]), true),
            (
                "multiple labels",
                Opts {
                    samples: vec![up(v)],
                    ..Opts::default()
                },
                true,
            ),
            (
                "newlines",
                with(vec![
                    ("__name__", "up"),
                    ("job", "test\njob\n"),
                    ("instance", "localhost:9090"),
                ]),
                true,
            ),
            (
                "dots",
                with(vec![
                    ("__name__", "resource.cpu.usage"),
                    ("job.name", "testjob"),
                    ("instance.name", "localhost:9090"),
                ]),
                true,
            ),
            (
                "spaces",
                with(vec![
                    ("__name__", "resource cpu usage"),
                    ("job name", "testjob"),
                    ("instance name", "localhost:9090"),
                ]),
                true,
            ),
            (
                "without name label",
                with(vec![("job", "testjob"), ("instance", "localhost:9090")]),
                false,
            ),
            ("empty metric", with(vec![]), false),
        ];
        for (name, opts, success) in cases {
            compliance(&format!("{vname}: {name}"), &opts, one, success, None);
        }
    }
}

#[test]
fn counter_with_created_timestamp() {
    let now = now_ms();
    let opts = Opts {
        samples: vec![S {
            labels: vec![("__name__", "http_requests_total"), ("job", "api")],
            value: 100.0,
            created: Some(now - 3_600_000),
            ..S::default()
        }],
        ..Opts::default()
    };
    let want = Want {
        samples: 1,
        ..Want::default()
    };
    compliance("counter with created timestamp", &opts, want, true, None);
}

#[test]
fn multiple_metrics_and_partial_writes() {
    let inst = [
        "localhost:9090",
        "localhost:9091",
        "localhost:9092",
        "localhost:9093",
    ];
    for (vname, v) in values() {
        let named = |i: usize| S {
            labels: vec![
                ("__name__", "up"),
                ("job", "testjob"),
                ("instance", inst[i]),
            ],
            value: v,
            ..S::default()
        };
        let unnamed = |i: usize| S {
            labels: vec![("job", "testjob"), ("instance", inst[i])],
            value: v,
            ..S::default()
        };
        let cases = [
            (
                "multiple metrics",
                (0..4).map(named).collect::<Vec<_>>(),
                true,
                4,
            ),
            (
                "all without name label",
                (0..4).map(unnamed).collect(),
                false,
                0,
            ),
            (
                "1 without name label",
                vec![unnamed(0), named(1), named(2), named(3)],
                false,
                3,
            ),
        ];
        for (name, samples, success, valid) in cases {
            let opts = Opts {
                samples,
                ..Opts::default()
            };
            let want = Want {
                samples: valid,
                ..Want::default()
            };
            compliance(&format!("{vname}: {name}"), &opts, want, success, None);
            if !success && valid > 0 {
                // The partial write: the good series are stored.
                let dir = tempfile::tempdir().unwrap();
                let db = Db::open(dir.path(), Options::default()).unwrap();
                let r = Receiver::new(&db).receive(
                    Some(CT_V2),
                    Some("snappy"),
                    &codec::encode_write_v2(&build(&opts, now_ms())),
                );
                assert_eq!(
                    (r.status.code(), r.written.samples),
                    (400, valid),
                    "{}",
                    r.message
                );
                assert_eq!(stored(&db).len() as u64, valid);
            }
        }
    }
}

/// The suite's `histogram(1.0, positive, negative, zero, custom, bad)`.
fn suite_histogram(pos: bool, neg: bool, zero: bool, custom: bool, bad: bool) -> Histogram {
    let mut h = Histogram {
        sum: 1.0,
        ..Histogram::default()
    };
    let mut count = 0;
    if pos {
        h.positive_spans = vec![
            BucketSpan {
                offset: 0,
                length: 3,
            },
            BucketSpan {
                offset: 2,
                length: 2,
            },
        ];
        h.positive_deltas = vec![1, 2, 1, 3, 1];
        count += 23;
    }
    if neg {
        h.negative_spans = vec![BucketSpan {
            offset: 0,
            length: 2,
        }];
        h.negative_deltas = vec![1, 1];
        count += 3;
    }
    if zero {
        count += 1;
        h.zero_count = Some(ph::ZeroCount::ZeroCountInt(1));
    }
    if custom {
        h.schema = -53;
        h.custom_values = vec![0.1, 0.5, 1.0, 2.5, 5.0, 10.0];
        h.positive_spans = vec![BucketSpan {
            offset: 0,
            length: 6,
        }];
        h.positive_deltas = vec![2, 1, 2, 3, -1, -2];
        count = 30;
    }
    if bad {
        count = 99;
    }
    h.count = Some(ph::Count::CountInt(count));
    h
}

#[test]
fn histograms() {
    let cases = [
        (
            "basic",
            suite_histogram(true, true, true, false, false),
            true,
        ),
        (
            "custom buckets",
            suite_histogram(true, false, false, true, false),
            true,
        ),
        (
            "positive only",
            suite_histogram(true, false, true, false, false),
            true,
        ),
        (
            "negative only",
            suite_histogram(false, true, false, false, false),
            true,
        ),
        (
            "minimal",
            suite_histogram(false, false, true, false, false),
            true,
        ),
        (
            "bad count",
            suite_histogram(true, false, false, false, true),
            false,
        ),
    ];
    for (name, histogram, success) in cases {
        let opts = Opts {
            histograms: vec![H {
                labels: vec![("__name__", "test_histogram"), ("job", "test")],
                histogram,
            }],
            ..Opts::default()
        };
        let want = Want {
            histograms: 1,
            ..Want::default()
        };
        compliance(name, &opts, want, success, None);
    }
}

#[test]
fn metadata() {
    let types = [
        (
            "counter",
            "http_requests_total",
            MetricType::Counter,
            "Total number of HTTP requests",
            "requests",
        ),
        (
            "gauge",
            "cpu_usage_percent",
            MetricType::Gauge,
            "Current CPU usage percentage",
            "percent",
        ),
        (
            "no help no unit",
            "simple_counter",
            MetricType::Counter,
            "",
            "",
        ),
        (
            "special chars",
            "test_metric",
            MetricType::Gauge,
            "Test metric with\nnewlines and \"quotes\"",
            "bytes/sec",
        ),
        (
            "unspecified",
            "unknown_metric",
            MetricType::Unspecified,
            "Unknown metric type",
            "",
        ),
        (
            "info",
            "build_info",
            MetricType::Info,
            "Build information",
            "",
        ),
        (
            "stateset",
            "node_state",
            MetricType::Stateset,
            "Node state information",
            "",
        ),
        (
            "summary",
            "request_latency_summary",
            MetricType::Summary,
            "Request latency summary",
            "seconds",
        ),
        (
            "gauge histogram",
            "temperature_histogram",
            MetricType::Gaugehistogram,
            "Temperature distribution gauge histogram",
            "celsius",
        ),
    ];
    for (name, metric, typ, help, unit) in types {
        let mut labels = vec![("__name__", metric)];
        if name == "special chars" {
            labels.push(("job", "test"));
        }
        let opts = Opts {
            samples: vec![S {
                labels: labels.clone(),
                value: 1.0,
                ..S::default()
            }],
            metadata: vec![M {
                labels,
                typ,
                help,
                unit,
            }],
            ..Opts::default()
        };
        let want = Want {
            samples: 1,
            ..Want::default()
        };
        compliance(&format!("metadata {name}"), &opts, want, true, None);
    }
    // The histogram-typed case sends a histogram sample.
    let labels = vec![("__name__", "request_duration_seconds")];
    let opts = Opts {
        histograms: vec![H {
            labels: labels.clone(),
            histogram: suite_histogram(true, true, true, false, false),
        }],
        metadata: vec![M {
            labels,
            typ: MetricType::Histogram,
            help: "Request duration in seconds",
            unit: "seconds",
        }],
        ..Opts::default()
    };
    let want = Want {
        histograms: 1,
        ..Want::default()
    };
    compliance("metadata histogram", &opts, want, true, None);

    // TestMetadataValidation: runRequest, not the two variants.
    for (name, labels, success, unsafe_request) in [
        ("without name label", vec![("job", "test")], false, false),
        ("empty name", vec![("__name__", "")], false, true),
        (
            "valid name",
            vec![("__name__", "valid_metric_name")],
            true,
            false,
        ),
    ] {
        let opts = Opts {
            samples: vec![S {
                labels: labels.clone(),
                value: 1.0,
                ..S::default()
            }],
            metadata: vec![M {
                labels,
                typ: MetricType::Counter,
                help: "Test help",
                unit: "unit",
            }],
            unsafe_request,
            ..Opts::default()
        };
        let want = Want {
            samples: 1,
            success,
            ..Want::default()
        };
        let body = codec::encode_write_v2(&build(&opts, now_ms()));
        let expect = if success {
            vec![(
                r#"{__name__="valid_metric_name"}"#.to_string(),
                1f64.to_bits(),
            )]
        } else {
            vec![]
        };
        check(
            name,
            (Some(CT_V2), Some("snappy")),
            &body,
            want,
            None,
            &expect,
        );
    }
}

fn exemplar_case(
    labels: Vec<(&'static str, &'static str)>,
    exemplar_labels: Vec<(&'static str, &'static str)>,
    value: f64,
) -> Opts {
    Opts {
        samples: vec![S {
            labels: labels.clone(),
            value,
            ..S::default()
        }],
        exemplars: vec![E {
            labels,
            exemplar_labels,
            value,
        }],
        ..Opts::default()
    }
}

/// Exemplars are checked, not stored: the sample is written, the
/// exemplar count is 0.
const EXEMPLAR_NOT_STORED: Deviation = Deviation {
    status: 204,
    samples: 1,
    exemplars: 0,
    histograms: 0,
};

#[test]
fn exemplars_are_a_pinned_deviation() {
    let cases = [
        (
            "basic",
            vec![("__name__", "http_requests_total"), ("job", "api")],
            vec![("trace_id", "abc123def456")],
            1.0,
        ),
        (
            "span id",
            vec![("__name__", "request_duration_seconds"), ("method", "GET")],
            vec![("trace_id", "xyz789"), ("span_id", "span123")],
            0.125,
        ),
        (
            "no trace id",
            vec![("__name__", "cpu_usage"), ("instance", "host1")],
            vec![("user_id", "user123")],
            0.85,
        ),
        (
            "multiple labels",
            vec![("__name__", "request_latency"), ("service", "auth")],
            vec![
                ("trace_id", "trace456"),
                ("user", "admin"),
                ("endpoint", "/login"),
            ],
            0.05,
        ),
        (
            "no labels",
            vec![("__name__", "simple_counter")],
            vec![],
            1.0,
        ),
        (
            "special chars",
            vec![("__name__", "test_metric")],
            vec![("trace_id", "trace-with-dashes_and_underscores.123")],
            42.0,
        ),
        (
            "unicode",
            vec![("__name__", "unicode_test"), ("region", "🌍")],
            vec![("trace_id", "unicode_trace_测试")],
            100.0,
        ),
    ];
    let want = Want {
        samples: 1,
        exemplars: 1,
        ..Want::default()
    };
    for (name, labels, ex, v) in cases {
        compliance(
            name,
            &exemplar_case(labels, ex, v),
            want,
            true,
            Some(EXEMPLAR_NOT_STORED),
        );
    }
    for (name, v) in [
        ("zero", 0.0),
        ("negative", -123.456),
        ("large", 1e10),
        ("small", 1e-10),
        ("nan", f64::from_bits(0x7ff8_0000_0000_0001)),
        ("inf", f64::INFINITY),
        ("-inf", f64::NEG_INFINITY),
    ] {
        let opts = exemplar_case(
            vec![("__name__", "test_metric")],
            vec![("trace_id", "special_value_trace")],
            v,
        );
        compliance(name, &opts, want, true, Some(EXEMPLAR_NOT_STORED));
    }
    // TestExemplarValidation: the series' own labels decide.
    for (name, labels, success) in [
        ("without name label", vec![("job", "test")], false),
        ("empty name", vec![("__name__", "")], false),
    ] {
        let opts = exemplar_case(labels, vec![("trace_id", "test_trace")], 1.0);
        let body = codec::encode_write_v2(&build(&opts, now_ms()));
        let want = Want {
            samples: 1,
            exemplars: 1,
            success,
            ..Want::default()
        };
        check(name, (Some(CT_V2), Some("snappy")), &body, want, None, &[]);
    }
    let opts = exemplar_case(
        vec![("__name__", "valid_metric")],
        vec![("trace_id", "test_trace")],
        1.0,
    );
    compliance("valid name", &opts, want, true, Some(EXEMPLAR_NOT_STORED));
}

#[test]
fn edge_case_combinations() {
    let now_labels = vec![("__name__", "metadata_only_metric")];
    // Metadata with no samples or histograms: nothing to write, accepted.
    let opts = Opts {
        metadata: vec![M {
            labels: now_labels,
            typ: MetricType::Gauge,
            help: "Metadata without data",
            unit: "",
        }],
        ..Opts::default()
    };
    compliance("metadata only", &opts, Want::default(), true, None);
    // An exemplar with no sample: accepted, nothing stored.
    let opts = Opts {
        exemplars: vec![E {
            labels: vec![("__name__", "exemplar_only_metric")],
            exemplar_labels: vec![("trace_id", "orphan")],
            value: 1.0,
        }],
        ..Opts::default()
    };
    compliance("exemplar only", &opts, Want::default(), true, None);
    // Samples of different timestamps in one request.
    let opts = Opts {
        samples: vec![
            S {
                labels: vec![("__name__", "mixed_ts_metric"), ("instance", "a")],
                value: 1.0,
                offset_ms: -2000,
                ..S::default()
            },
            S {
                labels: vec![("__name__", "mixed_ts_metric"), ("instance", "b")],
                value: 2.0,
                offset_ms: -1000,
                ..S::default()
            },
            S {
                labels: vec![("__name__", "mixed_ts_metric"), ("instance", "c")],
                value: 3.0,
                ..S::default()
            },
        ],
        ..Opts::default()
    };
    let want = Want {
        samples: 3,
        ..Want::default()
    };
    compliance("mixed timestamps", &opts, want, true, None);
}

#[test]
fn rw1_requests_to_a_rw2_receiver() {
    let mut b = aion_remote::send::WriteRequestBuilder::new();
    let now = now_ms();
    b.add_samples(
        &Labels::from_pairs(&[
            ("__name__", "up"),
            ("job", "testjob"),
            ("instance", "localhost:9090"),
        ])
        .unwrap(),
        &[(now, 1.0)],
    );
    b.add_samples(
        &Labels::from_pairs(&[("__name__", "http_requests_total")]).unwrap(),
        &[(now, 100.0)],
    );
    let body = b.encode();
    // RW 1.0 has no written headers: the suite reads their absence as 0.
    let want = Want {
        success: true,
        ..Want::default()
    };
    let expect = vec![
        (
            r#"{__name__="http_requests_total"}"#.to_string(),
            100f64.to_bits(),
        ),
        (
            r#"{__name__="up", instance="localhost:9090", job="testjob"}"#.to_string(),
            1f64.to_bits(),
        ),
    ];
    check(
        "rw1 basic",
        (Some("application/x-protobuf"), Some("snappy")),
        &body,
        want,
        None,
        &expect,
    );
    let mut bad = body.clone();
    bad[0] = 0xff;
    check(
        "rw1 corrupt",
        (Some("application/x-protobuf"), Some("snappy")),
        &bad,
        Want::default(),
        None,
        &[],
    );
}
