//! Parse time of realistic PromQL queries (dashboards, alerts, recording
//! rules). Reports time per batch of 20 queries; divide by 20 for µs/query.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const QUERIES: [&str; 20] = [
    "up",
    r#"up{job="node", instance=~"10\\.0\\..*"} == 0"#,
    "rate(http_requests_total[5m])",
    "sum by (job) (rate(http_requests_total[5m]))",
    r#"sum by (job, code) (rate(http_requests_total{code=~"5.."}[5m])) / ignoring(code) group_left sum by (job) (rate(http_requests_total[5m]))"#,
    "histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m])))",
    "topk(10, max_over_time(node_memory_bytes[1h]))",
    r#"100 * (1 - avg by (instance) (irate(node_cpu_seconds_total{mode="idle"}[5m])))"#,
    r#"node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"} / node_filesystem_size_bytes < 0.1 and on (instance, device) predict_linear(node_filesystem_avail_bytes[6h], 4 * 3600) < 0"#,
    "increase(process_cpu_seconds_total[1h] offset 1d)",
    r#"label_replace(up, "host", "$1", "instance", "([^:]+):.*")"#,
    "avg_over_time(rate(http_requests_total[5m])[1h:1m])",
    "sum(rate(container_cpu_usage_seconds_total[5m])) by (namespace, pod) * on (namespace, pod) group_left (node) kube_pod_info",
    "absent(up{job=\"api\"}) or vector(0)",
    "count_values(\"version\", build_info)",
    "quantile without (instance) (0.9, rate(request_latency_seconds_sum[10m]) / rate(request_latency_seconds_count[10m]))",
    "clamp_min(deriv(queue_depth[15m]), 0) > bool 1",
    "http_requests_total @ 1609746000 - http_requests_total @ start() offset 5m",
    "sort_desc(sum without (instance, pod) (rate(apiserver_request_total{verb!=\"WATCH\"}[2m])))",
    "(sum(rate(a_total[5m])) + sum(rate(b_total[5m]))) / (sum(rate(c_total[5m])) > 0) ^ 2 % 3",
];

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("promql_parse");
    g.throughput(Throughput::Elements(QUERIES.len() as u64));
    g.bench_function("20_realistic_queries", |b| {
        b.iter(|| {
            for q in QUERIES {
                std::hint::black_box(aion::promql::parse(std::hint::black_box(q)).unwrap());
            }
        })
    });
    g.bench_function("print_20_queries", |b| {
        let parsed: Vec<_> = QUERIES
            .iter()
            .map(|q| aion::promql::parse(q).unwrap())
            .collect();
        b.iter(|| {
            for e in &parsed {
                std::hint::black_box(e.to_string());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
