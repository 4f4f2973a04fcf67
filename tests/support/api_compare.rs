//! Comparing Aion's answers with a Prometheus server's, as data: `aion
//! query` / `aion query-range --format json` on a data directory, and the
//! `data` of two HTTP API answers compared series by series. Included by
//! the native histogram interop tests with `#[path]`; the includer also
//! includes `binaries.rs` as `mod binaries` (the `aion` CLI's locator).
//!
//! Floats are compared to 1e-12 relative (the engines sum in different
//! orders); histogram counts and sums exactly; bucket bounds to 1e-12
//! (Aion rounds exponential bounds correctly where 2.42's table is an ulp
//! low, docs/promql-2x-3x-differences.md §11).

// Not every includer uses every helper.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;

use super::binaries::aion_example;

/// `t` (ms) as the API's decimal seconds.
pub fn seconds(t: i64) -> String {
    format!("{}.{:03}", t.div_euclid(1000), t.rem_euclid(1000))
}

/// Runs the `aion` CLI with `args` and returns the answer's `data`.
fn aion_json(what: &str, args: &[String]) -> Json {
    let out = Command::new(aion_example()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "aion {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Json = serde_json::from_slice(&out.stdout).unwrap();
    v["data"].take()
}

/// `aion query DIR EXPR --time T --format json`: the answer's `data`.
pub fn aion_query(dir: &Path, expr: &str, time_ms: i64) -> Json {
    let args = [
        "query".to_string(),
        dir.display().to_string(),
        expr.to_string(),
        "--time".to_string(),
        seconds(time_ms),
        "--format".to_string(),
        "json".to_string(),
    ];
    aion_json(&format!("query {expr}"), &args)
}

/// `aion query-range DIR EXPR --start S --end E --step STEP --format
/// json` (times and step in ms): the answer's `data`.
pub fn aion_query_range(dir: &Path, expr: &str, start: i64, end: i64, step: i64) -> Json {
    let args = [
        "query-range".to_string(),
        dir.display().to_string(),
        expr.to_string(),
        "--start".to_string(),
        seconds(start),
        "--end".to_string(),
        seconds(end),
        "--step".to_string(),
        seconds(step),
        "--format".to_string(),
        "json".to_string(),
    ];
    aion_json(&format!("query-range {expr}"), &args)
}

/// A float from the API's string form.
pub fn num(v: &Json) -> f64 {
    match v.as_str().unwrap_or("") {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap_or_else(|_| panic!("not a number: {v}")),
    }
}

/// `a` and `b` are equal, both NaN, or within `rel` of the larger.
pub fn same_float(a: f64, b: f64, rel: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= rel * a.abs().max(b.abs())
}

/// Compares two histograms of the API: count and sum exactly (as
/// printed), buckets' rules and counts exactly, bounds within 1e-12.
pub fn same_histogram(a: &Json, b: &Json) -> Result<(), String> {
    for k in ["count", "sum"] {
        if !same_float(num(&a[k]), num(&b[k]), 0.0) {
            return Err(format!("{k} {} vs {}", a[k], b[k]));
        }
    }
    let empty = Vec::new();
    let (ba, bb) = (
        a["buckets"].as_array().unwrap_or(&empty),
        b["buckets"].as_array().unwrap_or(&empty),
    );
    if ba.len() != bb.len() {
        return Err(format!("{} buckets vs {}", ba.len(), bb.len()));
    }
    for (x, y) in ba.iter().zip(bb) {
        let ok = x[0] == y[0]
            && same_float(num(&x[1]), num(&y[1]), 1e-12)
            && same_float(num(&x[2]), num(&y[2]), 1e-12)
            && same_float(num(&x[3]), num(&y[3]), 0.0);
        if !ok {
            return Err(format!("bucket {x} vs {y}"));
        }
    }
    Ok(())
}

/// The series of an answer's `data` sorted by their labels.
pub fn sorted_series(data: &Json) -> Vec<Json> {
    let mut v = data["result"].as_array().cloned().unwrap_or_default();
    v.sort_by_key(|e| e["metric"].to_string());
    v
}

/// The float points and the histogram points of one series of an answer
/// (a vector element has at most one of each, a matrix series lists them).
pub fn series_points(result_type: &Json, e: &Json) -> (Vec<Json>, Vec<Json>) {
    if result_type == "vector" {
        let one = |k: &str| {
            if e[k].is_null() {
                Vec::new()
            } else {
                vec![e[k].clone()]
            }
        };
        (one("value"), one("histogram"))
    } else {
        let all = |k: &str| e[k].as_array().cloned().unwrap_or_default();
        (all("values"), all("histograms"))
    }
}

/// Compares the `data` of two answers (vector or matrix): the same series,
/// each with the same float and histogram points. Returns the number of
/// series.
pub fn compare(what: &str, aion: &Json, prom: &Json) -> usize {
    compare_floats_with(what, aion, prom, |_, a, b| same_float(a, b, 1e-12))
}

/// [`compare`], with float values judged by `same(series, aion, prom)`
/// instead of 1e-12 relative (for a documented difference between the
/// engines); histograms are compared as in [`compare`].
pub fn compare_floats_with(
    what: &str,
    aion: &Json,
    prom: &Json,
    same: impl Fn(&Json, f64, f64) -> bool,
) -> usize {
    assert_eq!(aion["resultType"], prom["resultType"], "{what}");
    let (ra, rp) = (sorted_series(aion), sorted_series(prom));
    let keys = |v: &[Json]| {
        v.iter()
            .map(|e| e["metric"].to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&ra), keys(&rp), "{what}: series");
    for (a, p) in ra.iter().zip(&rp) {
        let series = format!("{what} {}", a["metric"]);
        let (fa, ha) = series_points(&aion["resultType"], a);
        let (fp, hp) = series_points(&prom["resultType"], p);
        assert_eq!(fa.len(), fp.len(), "{series}: float points");
        for (x, y) in fa.iter().zip(&fp) {
            assert_eq!(x[0], y[0], "{series}: float point time");
            assert!(
                same(&a["metric"], num(&x[1]), num(&y[1])),
                "{series}: {x} vs {y}"
            );
        }
        assert_eq!(ha.len(), hp.len(), "{series}: histogram points");
        for (x, y) in ha.iter().zip(&hp) {
            assert_eq!(x[0], y[0], "{series}: histogram point time");
            if let Err(e) = same_histogram(&x[1], &y[1]) {
                panic!("{series} at {}: {e}", x[0]);
            }
        }
    }
    ra.len()
}
