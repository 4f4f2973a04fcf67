//! The deduplicating wrapper over any storage: Thanos's querier with
//! `--query.replica-label`, in process.

use aion_model::Matcher;

use super::{DedupMode, DedupSeriesSet};
use crate::{
    ErrorSeriesSet, LabelQuerier, Querier, Queryable, Result, SelectHints, Series, SeriesSet,
    VecSeriesSet,
};

/// A [`Queryable`] whose series are those of `inner` with the replica
/// labels removed, replicas of one series (equal labels but for the
/// replica labels) merged into one by the [`DedupMode`].
///
/// Without replica labels it is `inner` unchanged, as Thanos deduplicates
/// only when replica labels are configured. It composes with any other
/// queryable: over downsampled blocks each replica's aggregate is read as
/// the selector's function asks, then deduplicated.
///
/// ```
/// use aion_model::{Labels, Matcher};
/// use aion_storage::dedup::{DedupMode, DedupQueryable};
/// use aion_storage::{MemStorage, Querier, Queryable, ValueType};
///
/// let db = MemStorage::new();
/// for (replica, t) in [("a", 10_000), ("a", 20_000), ("b", 10_100), ("b", 20_100)] {
///     let l = Labels::from_pairs(&[("__name__", "up"), ("replica", replica)]).unwrap();
///     db.append(&l, t, 1.0).unwrap();
/// }
/// let dedup = DedupQueryable::new(&db, vec!["replica".into()], DedupMode::Penalty);
/// let q = dedup.querier(0, 60_000).unwrap();
/// let mut set = q.select(true, None, &[Matcher::equal("__name__", "up")]);
/// let mut s = set.next().unwrap().unwrap();
/// assert_eq!(s.labels, Labels::from_pairs(&[("__name__", "up")]).unwrap());
/// let mut ts = Vec::new();
/// while s.samples.next() != ValueType::None {
///     ts.push(s.samples.at_t());
/// }
/// assert_eq!(ts, [10_000, 20_000]); // replica a throughout
/// assert!(set.next().is_none());
/// ```
pub struct DedupQueryable<Q> {
    inner: Q,
    replica_labels: Vec<String>,
    mode: DedupMode,
}

impl<Q: Queryable> DedupQueryable<Q> {
    /// Deduplicates `inner` along `replica_labels` (Thanos's
    /// `--query.replica-label`, repeatable) with `mode`.
    pub fn new(inner: Q, replica_labels: Vec<String>, mode: DedupMode) -> Self {
        DedupQueryable {
            inner,
            replica_labels,
            mode,
        }
    }

    /// The wrapped queryable.
    pub fn inner(&self) -> &Q {
        &self.inner
    }
}

impl<Q: Queryable> Queryable for DedupQueryable<Q> {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>> {
        let inner = self.inner.querier(mint, maxt)?;
        if self.replica_labels.is_empty() {
            return Ok(inner);
        }
        Ok(Box::new(DedupQuerier::new(
            inner,
            &self.replica_labels,
            self.mode,
        )))
    }
}

/// A querier deduplicating another's series (see [`DedupQueryable`]).
pub struct DedupQuerier<'q> {
    inner: Box<dyn Querier + 'q>,
    replica_labels: &'q [String],
    mode: DedupMode,
}

impl<'q> DedupQuerier<'q> {
    /// Deduplicates `inner`'s series along `replica_labels` with `mode`.
    pub fn new(
        inner: Box<dyn Querier + 'q>,
        replica_labels: &'q [String],
        mode: DedupMode,
    ) -> Self {
        DedupQuerier {
            inner,
            replica_labels,
            mode,
        }
    }

    fn is_replica_label(&self, name: &str) -> bool {
        self.replica_labels.iter().any(|r| r == name)
    }
}

impl LabelQuerier for DedupQuerier<'_> {
    /// A replica label has no values: no deduplicated series carries it.
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        if self.is_replica_label(name) {
            return Ok(Vec::new());
        }
        self.inner.label_values(name, matchers)
    }

    /// The inner names without the replica labels.
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        let mut names = self.inner.label_names(matchers)?;
        names.retain(|n| !self.is_replica_label(n));
        Ok(names)
    }

    fn warnings(&self) -> Vec<String> {
        self.inner.warnings()
    }
}

impl Querier for DedupQuerier<'_> {
    /// Reads every matching series of the inner querier (their cursors,
    /// not their samples), drops the replica labels, sorts by what remains
    /// so replicas are adjacent (in the inner label order among
    /// themselves, which is the penalty merge's preference), and merges
    /// them. The result is always sorted. Matchers on replica labels still
    /// select among the replicas, as in Thanos.
    fn select<'a>(
        &'a self,
        _sorted: bool,
        hints: Option<&SelectHints<'_>>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet<'a> + 'a> {
        let names: Vec<&str> = self.replica_labels.iter().map(String::as_str).collect();
        let mut set = self.inner.select(true, hints, matchers);
        let mut series: Vec<Series<'a>> = Vec::new();
        while let Some(s) = set.next() {
            match s {
                Ok(mut s) => {
                    s.labels = s.labels.without(&names);
                    series.push(s);
                }
                Err(e) => return Box::new(ErrorSeriesSet::new(e)),
            }
        }
        // Stable: replicas keep the inner order.
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        let warnings = set.warnings();
        let grouped = VecSeriesSet::new(series).with_warnings(warnings);
        Box::new(DedupSeriesSet::new(
            Box::new(grouped),
            hints.and_then(|h| h.func),
            self.mode,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemStorage;
    use aion_model::Labels;

    fn store() -> MemStorage {
        let db = MemStorage::new();
        for r in ["a", "b"] {
            let l = Labels::from_pairs(&[("__name__", "up"), ("job", "api"), ("replica", r)]);
            db.append(&l.unwrap(), 1_000, 1.0).unwrap();
        }
        db
    }

    #[test]
    fn label_queries_do_not_see_replica_labels() {
        let db = store();
        let d = DedupQueryable::new(&db, vec!["replica".into()], DedupMode::Penalty);
        let q = d.querier(0, 10_000).unwrap();
        assert_eq!(q.label_names(&[]).unwrap(), ["__name__", "job"]);
        assert!(q.label_values("replica", &[]).unwrap().is_empty());
        assert_eq!(q.label_values("job", &[]).unwrap(), ["api"]);
    }

    #[test]
    fn without_replica_labels_it_is_the_inner_store() {
        let db = store();
        let d = DedupQueryable::new(&db, Vec::new(), DedupMode::Chain);
        let q = d.querier(0, 10_000).unwrap();
        let mut set = q.select(true, None, &[Matcher::equal("__name__", "up")]);
        let mut n = 0;
        while let Some(s) = set.next() {
            assert!(s.unwrap().labels.has("replica"));
            n += 1;
        }
        assert_eq!(n, 2);
    }

    /// A matcher on the replica label picks replicas before they merge.
    #[test]
    fn replica_matchers_select_among_replicas() {
        let db = store();
        let d = DedupQueryable::new(&db, vec!["replica".into()], DedupMode::Penalty);
        let q = d.querier(0, 10_000).unwrap();
        let mut set = q.select(false, None, &[Matcher::equal("replica", "b")]);
        let s = set.next().unwrap().unwrap();
        assert_eq!(
            s.labels,
            Labels::from_pairs(&[("__name__", "up"), ("job", "api")]).unwrap()
        );
        assert!(set.next().is_none());
    }
}
