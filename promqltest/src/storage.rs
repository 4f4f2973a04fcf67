//! The storage a test script runs against, behind a small trait so the
//! runner can be pointed at any backend (the in-memory store today, the
//! TSDB head later).

use std::sync::Arc;

use aion_storage::{MemStorage, Queryable, SampleValue};

use crate::script::{LoadSeries, SeqValue};

/// What the runner needs from a storage.
pub trait TestStorage {
    /// Discards all data (`clear`).
    fn clear(&mut self);

    /// Stores the series of one `load` block, all or nothing. A sample not
    /// newer than its series' newest sample (apart from an identical
    /// duplicate) makes the load fail.
    fn load(&mut self, series: &[LoadSeries]) -> Result<(), String>;

    /// The data, for queries.
    fn queryable(&self) -> &dyn Queryable;

    /// Whether the storage keeps the start timestamps of float samples
    /// (`@st` lines) and reports them through `SampleIterator::at_st`.
    /// Evals that read series with start timestamps are skipped when not.
    fn keeps_start_timestamps(&self) -> bool {
        false
    }
}

/// [`MemStorage`], which keeps float and native histogram samples (the
/// literals of the scripts load as float histograms, as Prometheus's
/// runner appends them) and start timestamps.
#[derive(Default)]
pub struct MemTestStorage {
    db: MemStorage,
}

impl MemTestStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl TestStorage for MemTestStorage {
    fn clear(&mut self) {
        self.db.clear();
    }

    fn load(&mut self, series: &[LoadSeries]) -> Result<(), String> {
        let mut batch = Vec::new();
        for s in series {
            for (i, (t, v)) in s.samples.iter().enumerate() {
                let st = s
                    .start_timestamps
                    .as_ref()
                    .and_then(|sts| sts[i])
                    .unwrap_or(0);
                let value = match v {
                    SeqValue::Float(f) => SampleValue::Float(*f),
                    SeqValue::Histogram(h) => SampleValue::FloatHistogram(Arc::new(h.h.clone())),
                    SeqValue::Omitted => continue,
                };
                batch.push((s.labels.clone(), st, *t, value));
            }
        }
        self.db.append_values(batch).map_err(|e| e.to_string())
    }

    fn queryable(&self) -> &dyn Queryable {
        &self.db
    }

    fn keeps_start_timestamps(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::HistLiteral;
    use aion_chunkenc::ValueType;
    use aion_model::histogram::FloatHistogram;
    use aion_model::Labels;

    fn series(labels: &[(&str, &str)], samples: &[(i64, SeqValue)]) -> LoadSeries {
        LoadSeries {
            labels: Labels::from_pairs(labels).unwrap(),
            samples: samples.to_vec(),
            start_timestamps: None,
        }
    }

    #[test]
    fn histograms_are_visible_as_such() {
        let h = SeqValue::Histogram(Arc::new(HistLiteral {
            h: FloatHistogram {
                count: 1.0,
                ..FloatHistogram::default()
            },
            hint_set: false,
        }));
        let mut st = MemTestStorage::new();
        st.load(&[
            series(&[("__name__", "a")], &[(0, SeqValue::Float(1.0))]),
            series(
                &[("__name__", "b")],
                &[(0, SeqValue::Float(1.0)), (10, h.clone())],
            ),
            series(&[("__name__", "c")], &[(0, SeqValue::Float(2.0))]),
        ])
        .unwrap();
        // A later load adds histograms to a float series.
        st.load(&[series(&[("__name__", "c")], &[(5, h)])]).unwrap();
        let mut seen = Vec::new();
        {
            let q = st.queryable().querier(0, 100).unwrap();
            let mut set = q.select(true, None, &[]);
            while let Some(s) = set.next() {
                let mut s = s.unwrap();
                let mut kinds = Vec::new();
                loop {
                    let k = s.samples.next();
                    if k == ValueType::None {
                        break;
                    }
                    kinds.push(k);
                }
                seen.push((s.labels.get("__name__").unwrap().to_string(), kinds));
            }
        }
        use ValueType::{Float as F, FloatHistogram as H};
        assert_eq!(
            seen,
            vec![
                ("a".to_string(), vec![F]),
                ("b".to_string(), vec![F, H]),
                ("c".to_string(), vec![F, H]),
            ]
        );
        assert!(st
            .load(&[series(&[("__name__", "a")], &[(0, SeqValue::Float(3.0))])])
            .is_err());
        st.clear();
        let q = st.queryable().querier(0, 100).unwrap();
        let mut set = q.select(true, None, &[]);
        assert!(set.next().is_none());
    }
}
