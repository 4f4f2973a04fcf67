//! Restoring alerts' `for` progress after a restart, as Prometheus's
//! `Group.RestoreForState` does: each alerting rule's `ALERTS_FOR_STATE`
//! series (value: when the alert became active, in seconds) is read back,
//! and the active alerts found by the first evaluations get their
//! `active_at` back, shifted so the outage does not count as pending time
//! and no alert fires sooner than `for_grace_period` after the restart.
//!
//! Only state written within `outage_tolerance` before the restore is
//! used; rules whose `for` is shorter than the grace period are not
//! restored (they would wait longer restored than not).

use std::collections::HashMap;

use aion_chunkenc::{is_stale_nan, ValueType};
use aion_model::{LabelsBuilder, Matcher, METRIC_NAME};
use aion_storage::Queryable;

use crate::alerting::{ALERTS_FOR_STATE_METRIC, ALERT_NAME_LABEL};
use crate::{Group, Rule};

/// Prometheus's `rules.for-outage-tolerance`, `rules.for-grace-period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreOptions {
    /// How far back (ms) `ALERTS_FOR_STATE` is looked for; default 1 h.
    pub outage_tolerance: i64,
    /// The least time (ms) between the restore and a restored alert
    /// firing; default 10 min.
    pub for_grace_period: i64,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        RestoreOptions {
            outage_tolerance: 3_600_000,
            for_grace_period: 600_000,
        }
    }
}

/// What a restore did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Alerts whose `active_at` came back from storage.
    pub restored: usize,
    /// Reads that failed (the rules concerned are marked restored anyway,
    /// as in Prometheus: there is no retry).
    pub errors: Vec<String>,
}

/// Restores the `for` state of `group`'s alerting rules at `ts` (ms, wall
/// time) from `queryable`, and marks every alerting rule restored.
pub fn restore_for_state(
    group: &mut Group,
    queryable: &dyn Queryable,
    ts: i64,
    options: &RestoreOptions,
) -> RestoreReport {
    let mut report = RestoreReport::default();
    let querier = match queryable.querier(ts - options.outage_tolerance, ts) {
        Ok(q) => q,
        Err(e) => {
            report.errors.push(format!("opening a querier: {e}"));
            for rule in group.rules_mut() {
                if let Rule::Alerting(r) = rule {
                    r.set_restored(true);
                }
            }
            return report;
        }
    };
    for rule in group.rules_mut() {
        let Rule::Alerting(rule) = rule else {
            continue;
        };
        let hold = rule.hold_duration();
        if hold < options.for_grace_period || rule.active.is_empty() {
            rule.set_restored(true);
            continue;
        }
        // Matchers from the rule's own labels (templated ones vary per
        // alert and cannot be matched), its name and the metric name.
        let mut matchers = vec![
            Matcher::equal(METRIC_NAME, ALERTS_FOR_STATE_METRIC),
            Matcher::equal(ALERT_NAME_LABEL, rule.name()),
        ];
        for l in rule.raw_labels().iter() {
            if !l.value.contains("{{") && l.name != ALERT_NAME_LABEL && l.name != METRIC_NAME {
                matchers.push(Matcher::equal(l.name, l.value));
            }
        }
        // The last sample of each series, by the series' labels without
        // `__name__` (an alert's labels).
        let mut last = HashMap::new();
        let mut set = querier.select(false, None, &matchers);
        while let Some(series) = set.next() {
            let mut series = match series {
                Ok(s) => s,
                Err(e) => {
                    report.errors.push(format!(
                        "reading {ALERTS_FOR_STATE_METRIC} of {}: {e}",
                        rule.name()
                    ));
                    break;
                }
            };
            let mut sample = None;
            while series.samples.next() == ValueType::Float {
                sample = Some(series.samples.at());
            }
            if let Some(e) = series.samples.err() {
                report.errors.push(format!(
                    "reading {ALERTS_FOR_STATE_METRIC} of {}: {e}",
                    rule.name()
                ));
                continue;
            }
            let mut lb = LabelsBuilder::from(&series.labels);
            lb.del(&[METRIC_NAME]);
            if let (Ok(labels), Some(s)) = (lb.build(), sample) {
                last.insert(labels, s);
            }
        }
        drop(set);
        for alert in rule.active.values_mut() {
            let Some(&(t, v)) = last.get(&alert.labels) else {
                continue;
            };
            if is_stale_nan(v) {
                continue;
            }
            // Prometheus works in whole seconds here.
            let down_at = t.div_euclid(1000) * 1000;
            let mut active_at = (v as i64).saturating_mul(1000);
            let remaining = hold - (down_at - active_at);
            if remaining <= 0 {
                // It was firing when the process went down; the next
                // evaluation makes it fire again if it still holds.
            } else if remaining < options.for_grace_period {
                active_at = ts + options.for_grace_period - hold;
            } else {
                active_at += ts - down_at;
            }
            alert.active_at = active_at;
            report.restored += 1;
        }
        rule.set_restored(true);
    }
    report
}
