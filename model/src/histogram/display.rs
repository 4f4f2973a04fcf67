//! The text forms Prometheus prints a histogram in: `String()`
//! (`{count:…, sum:…, [lower,upper):n …}`, what promtool and the test
//! runner show) and the test-script literal (`{{schema:… buckets:[…]}}`).

use std::fmt;

use super::{CounterResetHint, FloatHistogram, Histogram};
use crate::gotext::GoFloat;

impl fmt::Display for Histogram {
    /// Prometheus's `Histogram.String()`: the buckets of the float form
    /// (populated ones, lowest value first), with the counts as integers
    /// (`{count:5, sum:1.5, (0.5,1]:2, (1,2]:3}`), as `promtool tsdb dump`
    /// prints an integer histogram sample.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The float form has the same buckets in the same order; it gives
        // the bounds, the deltas the exact counts.
        let bounds = self.to_float();
        write!(f, "{{count:{}, sum:{}", self.count, GoFloat(self.sum))?;
        let neg: Vec<_> = bounds
            .negative_bucket_iter()
            .zip(absolute(&self.negative_buckets))
            .filter(|(_, c)| *c != 0)
            .collect();
        for (b, c) in neg.iter().rev() {
            f.write_str(", ")?;
            b.fmt_with_count(f, c)?;
        }
        if self.zero_count != 0 {
            f.write_str(", ")?;
            bounds.zero_bucket().fmt_with_count(f, self.zero_count)?;
        }
        for (b, c) in bounds
            .positive_bucket_iter()
            .zip(absolute(&self.positive_buckets))
        {
            if c != 0 {
                f.write_str(", ")?;
                b.fmt_with_count(f, c)?;
            }
        }
        f.write_str("}")
    }
}

/// Absolute bucket counts from deltas, as Go's `uint64(int64 sum)`.
fn absolute(deltas: &[i64]) -> impl Iterator<Item = u64> + '_ {
    deltas.iter().scan(0i64, |acc, &d| {
        *acc = acc.wrapping_add(d);
        Some(*acc as u64)
    })
}

impl fmt::Display for FloatHistogram {
    /// Populated buckets from the lowest to the highest value, the zero
    /// bucket between the negative and the positive ones when populated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{count:{}, sum:{}",
            GoFloat(self.count),
            GoFloat(self.sum)
        )?;
        let neg: Vec<_> = self
            .negative_bucket_iter()
            .filter(|b| b.count != 0.0)
            .collect();
        for b in neg.iter().rev() {
            write!(f, ", {b}")?;
        }
        if self.zero_count != 0.0 {
            write!(f, ", {}", self.zero_bucket())?;
        }
        for b in self.positive_bucket_iter().filter(|b| b.count != 0.0) {
            write!(f, ", {b}")?;
        }
        f.write_str("}")
    }
}

impl FloatHistogram {
    /// The histogram as a test-script literal (Prometheus's
    /// `TestExpression`), with one span per sign after compaction.
    pub fn test_expression(&self) -> String {
        let mut m = self.clone();
        m.compact(usize::MAX / 2);
        let mut res: Vec<String> = Vec::new();
        if m.schema != 0 {
            res.push(format!("schema:{}", m.schema));
        }
        if m.count != 0.0 {
            res.push(format!("count:{}", GoFloat(m.count)));
        }
        if m.sum != 0.0 {
            res.push(format!("sum:{}", GoFloat(m.sum)));
        }
        if m.zero_count != 0.0 {
            res.push(format!("z_bucket:{}", GoFloat(m.zero_count)));
        }
        if m.zero_threshold != 0.0 {
            res.push(format!("z_bucket_w:{}", GoFloat(m.zero_threshold)));
        }
        if m.uses_custom_buckets() {
            res.push(format!("custom_values:[{}]", join(&m.custom_values)));
        }
        match m.counter_reset_hint {
            CounterResetHint::Unknown => {}
            CounterResetHint::CounterReset => res.push("counter_reset_hint:reset".into()),
            CounterResetHint::NotCounterReset => res.push("counter_reset_hint:not_reset".into()),
            CounterResetHint::Gauge => res.push("counter_reset_hint:gauge".into()),
        }
        for (spans, buckets, bkey, okey) in [
            (&m.positive_spans, &m.positive_buckets, "buckets", "offset"),
            (
                &m.negative_spans,
                &m.negative_buckets,
                "n_buckets",
                "n_offset",
            ),
        ] {
            if let Some(s) = spans.first().filter(|s| s.offset != 0) {
                res.push(format!("{okey}:{}", s.offset));
            }
            if !buckets.is_empty() {
                res.push(format!("{bkey}:[{}]", join(buckets)));
            }
        }
        format!("{{{{{}}}}}", res.join(" "))
    }
}

fn join(v: &[f64]) -> String {
    v.iter()
        .map(|x| GoFloat(*x).to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::super::Span;
    use super::*;

    #[test]
    fn string_form() {
        let h = FloatHistogram {
            schema: 0,
            count: 9.0,
            sum: 23.5,
            zero_threshold: 0.001,
            zero_count: 1.0,
            positive_spans: vec![Span {
                offset: 0,
                length: 3,
            }],
            positive_buckets: vec![2.0, 0.0, 4.0],
            negative_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            negative_buckets: vec![1.0, 1.0],
            ..FloatHistogram::default()
        };
        assert_eq!(
            h.to_string(),
            "{count:9, sum:23.5, [-2,-1):1, [-1,-0.5):1, [-0.001,0.001]:1, (0.5,1]:2, (2,4]:4}"
        );
        assert_eq!(
            h.test_expression(),
            "{{count:9 sum:23.5 z_bucket:1 z_bucket_w:0.001 buckets:[2 0 4] n_buckets:[1 1]}}"
        );
    }

    #[test]
    fn integer_string_form_prints_integer_counts() {
        let h = Histogram {
            schema: 0,
            count: 12_345_678,
            sum: 1e21,
            zero_threshold: 0.001,
            zero_count: 3,
            positive_spans: vec![
                Span {
                    offset: 0,
                    length: 2,
                },
                Span {
                    offset: 1,
                    length: 1,
                },
            ],
            // Absolute 12 345 000, 0, 675.
            positive_buckets: vec![12_345_000, -12_345_000, 675],
            negative_spans: vec![Span {
                offset: 1,
                length: 1,
            }],
            negative_buckets: vec![0],
            ..Histogram::default()
        };
        // Go prints `%d` counts: no exponent where `%g` would use one.
        assert_eq!(
            h.to_string(),
            "{count:12345678, sum:1e+21, [-0.001,0.001]:3, (0.5,1]:12345000, (4,8]:675}"
        );
        assert_eq!(
            h.to_float().to_string(),
            "{count:1.2345678e+07, sum:1e+21, [-0.001,0.001]:3, (0.5,1]:1.2345e+07, (4,8]:675}"
        );
        assert_eq!(Histogram::default().to_string(), "{count:0, sum:0}");
    }
}
