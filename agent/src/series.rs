//! The agent's series: labels, reference and newest timestamp, nothing
//! else (no chunks), in lock stripes so appenders on different series do
//! not contend.

use std::collections::HashMap;

use aion_model::{Labels, SeriesRef};
use parking_lot::Mutex;

/// Lock stripes (a power of two).
const STRIPES: usize = 64;

/// One series as the agent keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub(crate) labels: Labels,
    /// Timestamp of the newest committed sample, `i64::MIN` before the
    /// first.
    pub(crate) last_ts: i64,
}

#[derive(Default)]
struct Stripe {
    by_ref: HashMap<SeriesRef, Series>,
    /// Label hash → references with that hash (collisions are rare).
    by_hash: HashMap<u64, Vec<SeriesRef>>,
}

/// Every series, findable by reference and by labels. A series lives in
/// the stripe of its label hash; `refs` maps a reference to that hash.
pub(crate) struct SeriesMap {
    stripes: Vec<Mutex<Stripe>>,
    refs: Vec<Mutex<HashMap<SeriesRef, u64>>>,
}

impl Default for SeriesMap {
    fn default() -> Self {
        SeriesMap {
            stripes: (0..STRIPES).map(|_| Mutex::default()).collect(),
            refs: (0..STRIPES).map(|_| Mutex::default()).collect(),
        }
    }
}

fn stripe_of(x: u64) -> usize {
    (x as usize) & (STRIPES - 1)
}

impl SeriesMap {
    /// The reference of the series `labels`, if it exists.
    pub(crate) fn get_by_labels(&self, labels: &Labels) -> Option<SeriesRef> {
        let hash = labels.stable_hash();
        let stripe = self.stripes[stripe_of(hash)].lock();
        stripe
            .by_hash
            .get(&hash)?
            .iter()
            .copied()
            .find(|r| stripe.by_ref.get(r).is_some_and(|s| s.labels == *labels))
    }

    /// The newest timestamp of series `r`.
    pub(crate) fn last_ts(&self, r: SeriesRef) -> Option<i64> {
        let hash = *self.refs[stripe_of(r)].lock().get(&r)?;
        self.stripes[stripe_of(hash)]
            .lock()
            .by_ref
            .get(&r)
            .map(|s| s.last_ts)
    }

    /// Adds series `r`; `false` (and nothing changes) if it exists.
    pub(crate) fn insert(&self, r: SeriesRef, labels: Labels) -> bool {
        let hash = labels.stable_hash();
        let mut stripe = self.stripes[stripe_of(hash)].lock();
        if stripe.by_ref.contains_key(&r) {
            return false;
        }
        stripe.by_ref.insert(
            r,
            Series {
                labels,
                last_ts: i64::MIN,
            },
        );
        stripe.by_hash.entry(hash).or_default().push(r);
        self.refs[stripe_of(r)].lock().insert(r, hash);
        true
    }

    /// Raises the newest timestamp of `r` to `t`; `false` if `t` is older
    /// (the sample was out of order after all: another appender committed
    /// a newer one first).
    pub(crate) fn update_ts(&self, r: SeriesRef, t: i64) -> bool {
        let Some(hash) = self.refs[stripe_of(r)].lock().get(&r).copied() else {
            return false;
        };
        let mut stripe = self.stripes[stripe_of(hash)].lock();
        match stripe.by_ref.get_mut(&r) {
            Some(s) if t >= s.last_ts => {
                s.last_ts = t;
                true
            }
            _ => false,
        }
    }

    /// Removes every series whose newest sample is older than `mint` (or
    /// that never got one); returns their references.
    pub(crate) fn gc(&self, mint: i64) -> Vec<SeriesRef> {
        let mut removed = Vec::new();
        for stripe in &self.stripes {
            let mut stripe = stripe.lock();
            let stale: Vec<SeriesRef> = stripe
                .by_ref
                .iter()
                .filter(|(_, s)| s.last_ts < mint)
                .map(|(r, _)| *r)
                .collect();
            for r in stale {
                if let Some(s) = stripe.by_ref.remove(&r) {
                    let hash = s.labels.stable_hash();
                    if let Some(refs) = stripe.by_hash.get_mut(&hash) {
                        refs.retain(|x| *x != r);
                        if refs.is_empty() {
                            stripe.by_hash.remove(&hash);
                        }
                    }
                    self.refs[stripe_of(r)].lock().remove(&r);
                    removed.push(r);
                }
            }
        }
        removed
    }

    /// Number of series.
    pub(crate) fn len(&self) -> usize {
        self.stripes.iter().map(|s| s.lock().by_ref.len()).sum()
    }

    /// Whether series `r` exists.
    pub(crate) fn contains(&self, r: SeriesRef) -> bool {
        self.refs[stripe_of(r)].lock().contains_key(&r)
    }
}
