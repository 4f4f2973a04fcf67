//! A host's own storage under PromQL, merged with a Db.
//!
//! ```sh
//! cargo run --release --example custom_backend
//! ```
//!
//! `Archive` keeps older samples in a plain `BTreeMap` (a host might keep
//! them in an object store or another database). Implementing
//! `Queryable`, `Querier` and `LabelQuerier` on it takes the lines between
//! the two rulers below, using `aion::storage`'s helpers. A
//! `MergeQueryable` then puts the archive and a live `Db` under one PromQL
//! engine: a series in both is one series, its samples merged by time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aion::model::{Labels, Matcher};
use aion::promql::{Engine, EngineOptions, Value};
use aion::storage::{
    matches_all, LabelQuerier, MergeQueryable, Querier, Queryable, Result, SelectHints, Series,
    SeriesSet, SliceIterator, VecSeriesSet,
};
use aion::tsdb::{Db, Options};

// ---- the backend: storage traits over a BTreeMap ---------------------------

/// Every series and its time-sorted samples.
type Snapshot = Arc<BTreeMap<Labels, Vec<(i64, f64)>>>;

/// The host's store; queriers share a snapshot, appends copy on write.
#[derive(Default)]
struct Archive {
    series: Mutex<Snapshot>,
}

impl Archive {
    fn snapshot(&self) -> std::sync::MutexGuard<'_, Snapshot> {
        self.series.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(&self, labels: Labels, samples: Vec<(i64, f64)>) {
        Arc::make_mut(&mut self.snapshot()).insert(labels, samples);
    }
}

/// A view of one snapshot over `[mint, maxt]`.
struct ArchiveQuerier {
    snapshot: Snapshot,
    mint: i64,
    maxt: i64,
}

impl Queryable for Archive {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>> {
        let snapshot = self.snapshot().clone();
        Ok(Box::new(ArchiveQuerier {
            snapshot,
            mint,
            maxt,
        }))
    }
}

impl ArchiveQuerier {
    fn matching<'a>(&'a self, ms: &'a [Matcher]) -> impl Iterator<Item = &'a Labels> + 'a {
        self.snapshot.keys().filter(move |l| matches_all(l, ms))
    }
}

impl Querier for ArchiveQuerier {
    fn select<'a>(
        &'a self,
        _sorted: bool, // a BTreeMap yields label order anyway
        hints: Option<&SelectHints<'_>>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet<'a> + 'a> {
        let (mint, maxt) = hints.map_or((self.mint, self.maxt), |h| {
            (self.mint.max(h.start), self.maxt.min(h.end))
        });
        let series = self
            .snapshot
            .iter()
            .filter(|(labels, _)| matches_all(labels, matchers))
            .filter_map(|(labels, samples)| {
                // Borrow the samples in range: no copy per query.
                let lo = samples.partition_point(|s| s.0 < mint);
                let hi = samples.partition_point(|s| s.0 <= maxt);
                (lo < hi).then(|| Series {
                    labels: labels.clone(),
                    samples: Box::new(SliceIterator::new(&samples[lo..hi])),
                })
            })
            .collect();
        Box::new(VecSeriesSet::new(series))
    }
}

impl LabelQuerier for ArchiveQuerier {
    fn label_values(&self, name: &str, ms: &[Matcher]) -> Result<Vec<String>> {
        let mut v: Vec<String> = self
            .matching(ms)
            .filter_map(|l| l.get(name))
            .map(Into::into)
            .collect();
        v.sort();
        v.dedup();
        Ok(v)
    }

    fn label_names(&self, ms: &[Matcher]) -> Result<Vec<String>> {
        let mut v: Vec<String> = self
            .matching(ms)
            .flat_map(|l| l.iter().map(|l| l.name.to_string()))
            .collect();
        v.sort();
        v.dedup();
        Ok(v)
    }
}

// ---- the host ---------------------------------------------------------------

const MINUTE: i64 = 60_000;

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    // Two hours of a counter per job: the first hour in the archive, the
    // second hour live in a Db (as if the archive were last week's data).
    let archive = Archive::default();
    let tmp = tempfile::tempdir()?;
    let db = Db::open(tmp.path(), Options::default())?;
    let mut app = db.appender();
    for (job, per_minute) in [("api", 120.0), ("web", 30.0)] {
        let labels = Labels::from_pairs(&[("__name__", "http_requests_total"), ("job", job)])?;
        let at = |m: i64| (m * MINUTE, m as f64 * per_minute);
        archive.insert(labels.clone(), (0..60).map(at).collect());
        for (t, v) in (60..120).map(at) {
            app.append(&labels, t, v)?;
        }
    }
    app.commit()?;

    let both = MergeQueryable::new(vec![Box::new(&db), Box::new(&archive)]);
    let engine = Engine::new(EngineOptions::default());

    println!(
        "label values of job (merged): {:?}",
        both.querier(0, 120 * MINUTE)?.label_values("job", &[])?
    );
    for query in [
        "sum by (job) (rate(http_requests_total[5m]))",
        "count_over_time(http_requests_total[2h])",
    ] {
        let result = engine.instant_query(&both, query, 119 * MINUTE)?;
        println!("\n{query}   @ t = 119 min");
        if let Value::Vector(samples) = result.value {
            for s in samples {
                println!("  {:<50} {}", s.metric.to_string(), s.f);
            }
        }
    }
    // A range query crossing from archive to Db: rates are continuous.
    let query = "sum(rate(http_requests_total[5m])) * 60";
    let result = engine.range_query(&both, query, 50 * MINUTE, 70 * MINUTE, 5 * MINUTE)?;
    println!("\n{query}   50..70 min, step 5 min (requests per minute)");
    if let Value::Matrix(series) = result.value {
        for s in series {
            let points: Vec<String> = s
                .floats
                .iter()
                .map(|p| format!("{}m={}", p.t / MINUTE, p.f))
                .collect();
            println!("  {} {}", s.metric, points.join(" "));
        }
    }
    drop(both);
    db.close()?;
    Ok(())
}
