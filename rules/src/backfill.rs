//! Backfilling recording rules over past data, as `promtool tsdb
//! create-blocks-from rules` does, but in-process: each recording rule is
//! evaluated as a range query over `[start, end]`, one block window at a
//! time, at the times promtool picks (each group's slots, shifted by the
//! hash of its name and rule file as given, stepped by its interval), and
//! its samples handed to a sink (a block writer, typically).
//!
//! The times are exactly promtool's: it sends each window's first slot
//! over HTTP as seconds with a fraction, which the server rounds to the
//! nearest millisecond, so this module rounds the slot's nanoseconds to
//! the nearest millisecond too. As in promtool, every rule is evaluated
//! on its own (a rule does not see the backfilled output of an earlier
//! one). Alerting rules are not evaluated, as promtool's documentation
//! says (its code writes an alert expression's results under the alert's
//! name, which this module does not copy).
//!
//! ```
//! use aion_model::Labels;
//! use aion_rules::backfill::{backfill_group, BackfillRange, RuleOutput};
//! use aion_rules::rulefmt::{parse, ParseOptions};
//! use aion_rules::{Group, GroupOptions};
//! use aion_storage::MemStorage;
//!
//! let db = MemStorage::new();
//! let up = Labels::from_pairs(&[("__name__", "up"), ("job", "a")]).unwrap();
//! for t in 0..240 {
//!     db.append(&up, t * 15_000, 1.0).unwrap();
//! }
//! let file = parse(b"groups:
//!   - name: g
//!     rules:
//!       - record: job:up:sum
//!         expr: sum by (job) (up)
//! ", &ParseOptions::default()).unwrap();
//! let group = Group::new("rules.yml", &file.groups[0], &GroupOptions::default()).unwrap();
//! let range = BackfillRange { start_s: 0, end_s: 3600, block_duration_ms: 7_200_000 };
//! let mut n = 0;
//! backfill_group(&group, &aion_promql::Engine::default(), &db, &range, &mut |_rule, labels, t, v| {
//!     assert_eq!(labels.get("__name__"), Some("job:up:sum"));
//!     assert!(t <= 3_600_000 && v == RuleOutput::Float(1.0));
//!     n += 1;
//!     Ok(())
//! }).unwrap();
//! assert_eq!(n, 60); // one sample a minute for an hour
//! ```

use aion_model::histogram::FloatHistogram;
use aion_model::{Labels, LabelsBuilder, METRIC_NAME};
use aion_promql::{Engine, Value};
use aion_storage::Queryable;

use crate::{Group, Rule};

/// The time range of a backfill, as promtool's flags give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackfillRange {
    /// `--start`, in whole seconds since the epoch (promtool truncates).
    pub start_s: i64,
    /// `--end`, in whole seconds since the epoch.
    pub end_s: i64,
    /// The block windows (ms): 2 h unless `--max-block-duration` asks for
    /// a larger Prometheus block range.
    pub block_duration_ms: i64,
}

/// Why a rule could not be backfilled.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The range query failed.
    #[error("query range: {0}")]
    Query(#[from] aion_promql::Error),
    /// The query gave something other than a matrix.
    #[error("rule result is wrong type {0}")]
    WrongType(&'static str),
    /// A relabelled output series is invalid.
    #[error("rule {rule}: invalid output labels: {source}")]
    Labels {
        /// The rule.
        rule: String,
        /// What is wrong.
        source: aion_model::Error,
    },
    /// The sink refused a sample.
    #[error("add: {0}")]
    Sink(String),
}

/// A sample a recording rule produced: a float, or a native histogram
/// (what a rule over histograms gives; promtool drops those, Aion writes
/// them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RuleOutput<'a> {
    /// A float sample.
    Float(f64),
    /// A float native histogram sample.
    Histogram(&'a FloatHistogram),
}

/// Where backfilled samples go: `(rule index in the group, labels, t,
/// value)`; an error stops the backfill of the group.
pub type Sink<'a> = dyn FnMut(usize, &Labels, i64, RuleOutput<'_>) -> Result<(), String> + 'a;

/// The query ranges `(start_ms, end_ms)` promtool evaluates a group's
/// rules over, one per block window, with step [`Group::interval`].
pub fn query_ranges(group: &Group, range: &BackfillRange) -> Vec<(i64, i64)> {
    let block = range.block_duration_ms.max(1);
    let interval_ns = group.interval().max(1) * 1_000_000;
    let mut out = Vec::new();
    let start_ms = range.start_s * 1000;
    let end_ms = range.end_s * 1000;
    let mut block_start = block * start_ms.div_euclid(block);
    while block_start <= end_ms {
        let block_end = block_start + block - 1;
        let curr_start = (block_start / 1000).max(range.start_s);
        let mut slot_ns = crate::slot::eval_timestamp_ns(
            group.name(),
            group.file(),
            group.interval(),
            curr_start * 1_000_000_000,
        );
        while slot_ns.div_euclid(1_000_000_000) < curr_start {
            slot_ns += interval_ns;
        }
        let end = (block_end / 1000).min(range.end_s) * 1000;
        // HTTP carries the start as seconds with a fraction; the server
        // rounds it to the millisecond.
        let start = (slot_ns + 500_000).div_euclid(1_000_000);
        if end < start {
            break;
        }
        out.push((start, end));
        block_start += block;
    }
    out
}

/// Evaluates every recording rule of `group` over `range` with `engine`
/// through `queryable`, handing each output sample to `sink` with the rule's
/// index in the group. Samples come rule by rule, window by window.
/// Returns the samples written.
pub fn backfill_group(
    group: &Group,
    engine: &Engine,
    queryable: &dyn Queryable,
    range: &BackfillRange,
    sink: &mut Sink<'_>,
) -> Result<u64, BackfillError> {
    let ranges = query_ranges(group, range);
    let mut written = 0;
    for (i, rule) in group.rules().iter().enumerate() {
        let Rule::Recording(r) = rule else { continue };
        for &(start, end) in &ranges {
            let result = engine.range_query(queryable, r.expr(), start, end, group.interval())?;
            let series = match result.value {
                Value::Matrix(m) => m,
                Value::Scalar { .. } => return Err(BackfillError::WrongType("scalar")),
                Value::Vector(_) => return Err(BackfillError::WrongType("vector")),
                Value::String { .. } => return Err(BackfillError::WrongType("string")),
            };
            for s in series {
                let mut lb = LabelsBuilder::from(&s.metric);
                for (k, v) in r.labels() {
                    lb.set(k, v);
                }
                lb.set(METRIC_NAME, r.name());
                let labels = lb.build().map_err(|source| BackfillError::Labels {
                    rule: r.name().to_string(),
                    source,
                })?;
                // Floats and histograms of a series are disjoint in time:
                // hand them out in time order.
                let (mut fs, mut hs) = (s.floats.iter().peekable(), s.histograms.iter().peekable());
                loop {
                    let float_first = match (fs.peek(), hs.peek()) {
                        (None, None) => break,
                        (Some(f), Some(h)) => f.t < h.t,
                        (f, _) => f.is_some(),
                    };
                    let (t, v) = if float_first {
                        let f = fs.next().expect("peeked");
                        (f.t, RuleOutput::Float(f.f))
                    } else {
                        let h = hs.next().expect("peeked");
                        (h.t, RuleOutput::Histogram(&h.h))
                    };
                    sink(i, &labels, t, v).map_err(BackfillError::Sink)?;
                    written += 1;
                }
            }
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rulefmt::{parse, ParseOptions};
    use crate::GroupOptions;

    fn group(interval: &str) -> Group {
        let text = format!(
            "groups:\n  - name: g\n    interval: {interval}\n    rules:\n      - record: r\n        expr: vector(1)\n"
        );
        let file = parse(text.as_bytes(), &ParseOptions::default()).unwrap();
        Group::new("f.yml", &file.groups[0], &GroupOptions::default()).unwrap()
    }

    #[test]
    fn windows_start_at_the_groups_slots_and_follow_blocks() {
        let g = group("1m");
        let two_h = 7_200_000;
        let r = BackfillRange {
            start_s: 1_000,
            end_s: 3 * 7_200 + 120,
            block_duration_ms: two_h,
        };
        let ranges = query_ranges(&g, &r);
        assert_eq!(ranges.len(), 4);
        let offset_ms = crate::slot::eval_offset_ns("g", "f.yml", 60_000) as f64 / 1e6;
        for (i, &(start, end)) in ranges.iter().enumerate() {
            let lower = if i == 0 { 1_000_000 } else { i as i64 * two_h };
            assert!(start >= lower && start < lower + 60_000, "{start}");
            let phase = (start as f64 - offset_ms).rem_euclid(60_000.0);
            assert!(!(1.0..=59_999.0).contains(&phase), "{phase}");
            let block_end = ((i as i64 + 1) * two_h - 1) / 1000 * 1000;
            assert_eq!(end, block_end.min(r.end_s * 1000));
        }
        // A range ending before the first slot of its window has none.
        let short = BackfillRange {
            start_s: 0,
            end_s: 0,
            block_duration_ms: two_h,
        };
        let offset = crate::slot::eval_offset_ns("g", "f.yml", 60_000);
        assert_eq!(query_ranges(&g, &short).is_empty(), offset >= 500_000);
    }

    #[test]
    fn samples_carry_the_rule_name_and_labels() {
        let db = aion_storage::MemStorage::new();
        let g = group("30s");
        let r = BackfillRange {
            start_s: 0,
            end_s: 600,
            block_duration_ms: 7_200_000,
        };
        let mut got = Vec::new();
        let n = backfill_group(&g, &Engine::default(), &db, &r, &mut |i, l, t, v| {
            got.push((i, l.to_string(), t, v == RuleOutput::Float(1.0)));
            Ok(())
        })
        .unwrap();
        assert_eq!(n as usize, got.len());
        assert!(got.len() >= 19 && got.len() <= 21, "{}", got.len());
        assert!(got
            .iter()
            .all(|(i, l, _, one)| *i == 0 && l == "{__name__=\"r\"}" && *one));
        assert!(got.windows(2).all(|w| w[1].2 - w[0].2 == 30_000));
        let failing = backfill_group(&g, &Engine::default(), &db, &r, &mut |_, _, _, _| {
            Err("full".into())
        });
        assert_eq!(failing.unwrap_err().to_string(), "add: full");
    }

    #[test]
    fn histogram_results_are_handed_out_in_time_order() {
        use aion_model::histogram::Histogram;
        use aion_model::Labels;
        let db = aion_storage::MemStorage::new();
        let l = Labels::from_pairs(&[("__name__", "h")]).unwrap();
        // Histograms for the first 5 minutes, floats after.
        for k in 0..40 {
            if k < 20 {
                let h = Histogram {
                    count: k + 1,
                    zero_count: k + 1,
                    ..Histogram::default()
                };
                db.append_histogram(&l, k as i64 * 15_000, h).unwrap();
            } else {
                db.append(&l, k as i64 * 15_000, k as f64).unwrap();
            }
        }
        let text = "groups:\n  - name: g\n    interval: 30s\n    rules:\n      - record: r\n        expr: h\n";
        let file = parse(text.as_bytes(), &ParseOptions::default()).unwrap();
        let g = Group::new("f.yml", &file.groups[0], &GroupOptions::default()).unwrap();
        let r = BackfillRange {
            start_s: 0,
            end_s: 600,
            block_duration_ms: 7_200_000,
        };
        let mut got = Vec::new();
        backfill_group(&g, &Engine::default(), &db, &r, &mut |_, _, t, v| {
            got.push((t, matches!(v, RuleOutput::Histogram(h) if h.count > 0.0)));
            Ok(())
        })
        .unwrap();
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
        let hists = got.iter().filter(|(_, h)| *h).count();
        assert!(hists >= 9 && got.len() > hists, "{got:?}");
        assert!(
            got.iter().take(hists).all(|(_, h)| *h),
            "histograms come first"
        );
    }
}
