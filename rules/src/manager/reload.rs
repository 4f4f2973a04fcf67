//! What a reload keeps, as Prometheus's `Group.Equals` and
//! `Group.CopyState`: an unchanged group (same file, name, interval,
//! limit, query offset and rules) keeps running untouched; a changed one
//! takes over, per rule matched by name and labels (the n-th duplicate
//! with the n-th), the series written last time (so stale markers follow)
//! and the active alerts (so `for` progress and firing alerts survive);
//! the series of rules that no longer match are marked stale at the new
//! group's first evaluation.

use std::collections::HashMap;

use aion_model::Labels;

use crate::{Group, Rule};

/// The rule as Prometheus's `Rule.String()` compares it: kind, name,
/// expression as printed, durations, labels and annotations as written.
fn spec(rule: &Rule) -> String {
    match rule {
        Rule::Recording(r) => format!(
            "record:{}\nexpr:{}\nlabels:{:?}",
            r.name(),
            r.expr(),
            r.labels()
        ),
        Rule::Alerting(r) => {
            let (labels, annotations) = r.templates();
            let text = |set: &[(String, crate::template::Template)]| {
                set.iter()
                    .map(|(k, t)| format!("{k}={:?}", t.text()))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            format!(
                "alert:{}\nexpr:{}\nfor:{}\nkeep_firing_for:{}\nlabels:{}\nannotations:{}",
                r.name(),
                r.expr(),
                r.hold_duration(),
                r.keep_firing_for(),
                text(labels),
                text(annotations)
            )
        }
    }
}

/// Prometheus's `nameAndLabels`: how rules are matched across a reload.
fn name_and_labels(rule: &Rule) -> String {
    match rule {
        Rule::Recording(r) => {
            let mut l: Vec<&(String, String)> = r.labels().iter().collect();
            l.sort();
            format!("{}{l:?}", r.name())
        }
        Rule::Alerting(r) => format!("{}{:?}", r.name(), r.raw_labels()),
    }
}

impl Group {
    /// Whether a reload may keep `self` running in place of `new`.
    pub(crate) fn same_as(&self, new: &Group) -> bool {
        self.name() == new.name()
            && self.file() == new.file()
            && self.interval() == new.interval()
            && self.limit() == new.limit()
            && self.query_offset() == new.query_offset()
            && self.rules().len() == new.rules().len()
            && self
                .rules()
                .iter()
                .zip(new.rules())
                .all(|(a, b)| spec(a) == spec(b))
    }

    /// Takes over `from`'s state (see the module docs).
    pub(crate) fn copy_state_from(&mut self, from: &mut Group) {
        *self.health_mut() = from.health().clone();
        let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in from.rules().iter().enumerate() {
            by_key.entry(name_and_labels(r)).or_default().push(i);
        }
        for key in by_key.values_mut() {
            key.reverse();
        }
        for i in 0..self.rules().len() {
            let key = name_and_labels(&self.rules()[i]);
            let Some(fi) = by_key.get_mut(&key).and_then(|v| v.pop()) else {
                continue;
            };
            self.previous[i] = std::mem::take(&mut from.previous[fi]);
            if let (Rule::Alerting(new), Rule::Alerting(old)) =
                (&mut self.rules_mut()[i], &mut from.rules_mut()[fi])
            {
                new.active.append(&mut old.active);
            }
        }
        self.stale_series = std::mem::take(&mut from.stale_series);
        for idx in by_key.into_values().flatten() {
            self.stale_series
                .extend(std::mem::take(&mut from.previous[idx]));
        }
    }

    /// Every series the group wrote at its last evaluation and every one
    /// still to be marked stale: what goes stale when the group is
    /// removed.
    pub(crate) fn take_all_series(&mut self) -> Vec<Labels> {
        let mut out = std::mem::take(&mut self.stale_series);
        for p in &mut self.previous {
            out.extend(std::mem::take(p));
        }
        out
    }
}
