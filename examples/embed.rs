//! The smallest host program: Aion embedded in a process that both writes
//! and queries, with no network in between.
//!
//! ```sh
//! cargo run --release --example embed
//! ```
//!
//! `Monitor` owns a [`Db`] and an [`Engine`]; one thread appends scrapes
//! (a scraper would sit there), another runs PromQL over what is committed
//! so far (a rule evaluator or an HTTP handler would sit there). Both share
//! the `Monitor` by reference: `Db` and `Engine` are `Sync`, appenders are
//! per thread, and a query sees a consistent snapshot of committed data.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use aion::model::Labels;
use aion::promql::{Engine, EngineOptions, Value};
use aion::tsdb::{Db, Options};

/// What a host keeps: the storage and the query engine, side by side.
struct Monitor {
    db: Db,
    engine: Engine,
    /// Timestamp of the newest committed scrape, for "now" in queries.
    newest: AtomicI64,
}

impl Monitor {
    fn open(dir: &std::path::Path) -> Result<Self, aion::tsdb::Error> {
        Ok(Monitor {
            // Default options: 2 h blocks, compaction on a background
            // thread the Db owns, WAL for crash safety.
            db: Db::open(dir, Options::default())?,
            engine: Engine::new(EngineOptions::default()),
            newest: AtomicI64::new(i64::MIN),
        })
    }

    /// One scrape: every sample is committed together or not at all.
    fn ingest(&self, t: i64, samples: &[(Labels, f64)]) -> Result<(), aion::tsdb::Error> {
        let mut app = self.db.appender();
        for (labels, v) in samples {
            app.append(labels, t, *v)?;
        }
        app.commit()?;
        self.newest.store(t, Ordering::Release);
        Ok(())
    }

    /// Evaluates `expr` at the newest scrape.
    fn query(&self, expr: &str) -> Result<Option<Value>, aion::promql::Error> {
        let t = self.newest.load(Ordering::Acquire);
        if t == i64::MIN {
            return Ok(None);
        }
        Ok(Some(self.engine.instant_query(&self.db, expr, t)?.value))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let monitor = Monitor::open(dir.path())?;
    let targets: Vec<Labels> = (0..50)
        .map(|i| {
            Labels::from_pairs(&[
                ("__name__", "requests_total"),
                ("instance", &format!("host-{i:02}")),
                ("job", "api"),
            ])
        })
        .collect::<Result<_, _>>()?;
    let done = AtomicBool::new(false);

    std::thread::scope(
        |s| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            // The writer: 400 scrapes, 15 s apart in data time, as fast as
            // the machine allows with a short pause (a real scraper waits).
            let writer = s.spawn(|| -> Result<(), aion::tsdb::Error> {
                let mut values = vec![0.0; targets.len()];
                for round in 0..400i64 {
                    let batch: Vec<(Labels, f64)> = targets
                        .iter()
                        .zip(values.iter_mut())
                        .enumerate()
                        .map(|(i, (l, v))| {
                            *v += 10.0 + i as f64;
                            (l.clone(), *v)
                        })
                        .collect();
                    monitor.ingest(round * 15_000, &batch)?;
                    std::thread::sleep(Duration::from_millis(1));
                }
                done.store(true, Ordering::Release);
                Ok(())
            });
            // The reader: queries while the writer goes on.
            let reader = s.spawn(|| -> Result<usize, aion::promql::Error> {
                let mut queries = 0;
                while !done.load(Ordering::Acquire) {
                    if let Some(Value::Vector(v)) =
                        monitor.query("sum(rate(requests_total[1m]))")?
                    {
                        if queries % 50 == 0 {
                            if let Some(sample) = v.first() {
                                println!(
                                    "t={:>7}s  total request rate {:.2}/s",
                                    sample.t / 1000,
                                    sample.f
                                );
                            }
                        }
                        queries += 1;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(queries)
            });
            writer.join().expect("writer panicked")?;
            let queries = reader.join().expect("reader panicked")?;
            println!(
                "{queries} queries ran while 400 scrapes of {} series were appended",
                targets.len()
            );
            Ok(())
        },
    )
    .map_err(|e| e.to_string())?;

    // Each target's counter grows by 10+i per 15 s: the rate is exact.
    if let Some(Value::Vector(v)) = monitor.query("sum(rate(requests_total[1m]))")? {
        let expected: f64 = (0..targets.len()).map(|i| (10.0 + i as f64) / 15.0).sum();
        println!(
            "final total rate {:.4}/s (expected {expected:.4}/s)",
            v[0].f
        );
    }
    monitor.db.close()?;
    Ok(())
}
