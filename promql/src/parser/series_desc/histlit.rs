//! Native histogram literals of the series notation:
//! `{{schema:0 sum:5 count:4 z_bucket:1 z_bucket_w:0.001 buckets:[1 2]
//! offset:1 n_buckets:[1] n_offset:0 custom_values:[1 5]
//! counter_reset_hint:gauge}}`, as Prometheus's series parser reads them
//! (every field optional; each bucket list is one span at its offset).

use aion_model::histogram::{CounterResetHint, FloatHistogram, Span};

use super::number::number_prefix;

/// A parsed literal and whether it named a counter-reset hint (the
/// comparison checks the hint only then).
#[derive(Debug, Clone, PartialEq)]
pub struct HistLiteral {
    /// The histogram.
    pub h: FloatHistogram,
    /// `counter_reset_hint` was given.
    pub hint_set: bool,
}

fn number(key: &str, v: &str) -> Result<f64, String> {
    match number_prefix(v) {
        Some((f, "")) => Ok(f),
        _ => Err(format!("error parsing {key} number: {v}")),
    }
}

fn integer(key: &str, v: &str) -> Result<i32, String> {
    v.parse::<i32>()
        .map_err(|_| format!("error parsing {key} number: {v}"))
}

/// Reads the text between `{{` and `}}`.
pub fn parse_histogram(body: &str) -> Result<HistLiteral, String> {
    let mut h = FloatHistogram::default();
    let mut hint_set = false;
    let (mut buckets, mut n_buckets) = (Vec::new(), Vec::new());
    let (mut offset, mut n_offset) = (0i32, 0i32);
    let mut rest = body.trim();
    while !rest.is_empty() {
        let colon = rest
            .find(':')
            .ok_or_else(|| format!("expected a key:value pair in histogram {body:?}"))?;
        let key = rest[..colon].trim();
        rest = rest[colon + 1..].trim_start();
        let value;
        if rest.starts_with('[') {
            let close = rest
                .find(']')
                .ok_or_else(|| format!("unterminated list in histogram {body:?}"))?;
            value = &rest[1..close];
            rest = rest[close + 1..].trim_start();
            let list: Vec<f64> = value
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .map(|v| number(key, v))
                .collect::<Result<_, _>>()?;
            match key {
                "buckets" => buckets = list,
                "n_buckets" => n_buckets = list,
                "custom_values" => h.custom_values = list,
                _ => return Err(format!("unexpected list for {key:?} in histogram {body:?}")),
            }
            continue;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        value = &rest[..end];
        rest = rest[end..].trim_start();
        match key {
            "schema" => h.schema = integer(key, value)?,
            "sum" => h.sum = number(key, value)?,
            "count" => h.count = number(key, value)?,
            "z_bucket" => h.zero_count = number(key, value)?,
            "z_bucket_w" => h.zero_threshold = number(key, value)?,
            "offset" => offset = integer(key, value)?,
            "n_offset" => n_offset = integer(key, value)?,
            "counter_reset_hint" => {
                hint_set = true;
                h.counter_reset_hint = match value {
                    "unknown" => CounterResetHint::Unknown,
                    "reset" => CounterResetHint::CounterReset,
                    "not_reset" => CounterResetHint::NotCounterReset,
                    "gauge" => CounterResetHint::Gauge,
                    _ => return Err(format!("error parsing counter_reset_hint: {value}")),
                }
            }
            _ => return Err(format!("unknown histogram field {key:?} in {body:?}")),
        }
    }
    if !buckets.is_empty() {
        h.positive_spans = vec![Span {
            offset,
            length: buckets.len() as u32,
        }];
        h.positive_buckets = buckets;
    }
    if !n_buckets.is_empty() {
        h.negative_spans = vec![Span {
            offset: n_offset,
            length: n_buckets.len() as u32,
        }];
        h.negative_buckets = n_buckets;
    }
    Ok(HistLiteral { h, hint_set })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_field() {
        let l = parse_histogram(
            "schema:1 sum:-2.5 count:4 z_bucket:1 z_bucket_w:0.001 buckets:[1 2] offset:-1 \
             n_buckets:[1e0] n_offset:2 counter_reset_hint:gauge",
        )
        .unwrap();
        assert!(l.hint_set);
        let h = l.h;
        assert_eq!(
            (h.schema, h.sum, h.count, h.zero_count),
            (1, -2.5, 4.0, 1.0)
        );
        assert_eq!(
            h.positive_spans,
            [Span {
                offset: -1,
                length: 2
            }]
        );
        assert_eq!(h.negative_buckets, [1.0]);
        assert_eq!(h.counter_reset_hint, CounterResetHint::Gauge);
        let e = parse_histogram("").unwrap();
        assert_eq!(e.h, FloatHistogram::default());
        assert!(parse_histogram("schema:x").is_err());
        assert!(parse_histogram("bogus:1").is_err());
        let c = parse_histogram("schema:-53 custom_values:[1 5] buckets:[1 2 3]").unwrap();
        assert_eq!(c.h.custom_values, [1.0, 5.0]);
    }
}
