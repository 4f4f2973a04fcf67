//! Prometheus 2.42 data directories open in Aion with every sample, and
//! what Aion writes into them opens in Prometheus.

mod common;

use aion_model::gotext::GoFloat;
use aion_model::{MatchType, Matcher};
use aion_storage::Queryable;
use aion_tsdb::{Db, Options, SampleIterator, ValueType};

/// Every sample of `db` in `promtool tsdb dump`'s line format, sorted.
fn aion_dump_sorted(db: &Db) -> Vec<String> {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let all = [Matcher::new(MatchType::Regex, "__name__", "(?s:.*)").unwrap()];
    let mut set = q.select(false, None, &all);
    let mut lines = Vec::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        let l = s.labels.to_string();
        while s.samples.next() == ValueType::Float {
            let (t, v) = s.samples.at();
            lines.push(format!("{l} {} {t}", GoFloat(v)));
        }
        assert!(s.samples.err().is_none());
    }
    lines.sort();
    lines
}

#[test]
fn promtool_bench_write_dir_opens_with_every_sample() {
    let Some(promtool) = common::binary("promtool") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("series.json");
    common::write_series_file(&input, 1000);
    let dir = common::promtool_bench_write(&promtool, &tmp.path().join("out"), &input, 1000, 500);
    let want = common::promtool_dump_sorted(&promtool, &dir);
    assert_eq!(want.len(), 1000 * 500);

    // Read-only: nothing changes on disk.
    let ro = Db::open_read_only(&dir).unwrap();
    let r = ro.replay_report().clone();
    assert_eq!(r.series, 1000, "{r:?}");
    assert!(r.mmapped_chunks > 0, "{r:?}");
    assert!(
        r.chunk_file_corruption.is_none() && r.wal_corruption.is_none(),
        "{r:?}"
    );
    assert_eq!(ro.head().num_series(), 1000);
    let got = aion_dump_sorted(&ro);
    assert!(got == want, "read-only dump differs from promtool's");
    drop(ro);

    // Read-write on a copy: the same, appends go on, and Prometheus reads
    // back what Aion added (WAL records and chunks_head files).
    let copy = tmp.path().join("copy");
    common::copy_dir(&dir, &copy);
    let db = Db::open(&copy, Options::default()).unwrap();
    assert!(
        aion_dump_sorted(&db) == want,
        "read-write dump differs from promtool's"
    );
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let mut set = q.select(
        true,
        None,
        &[Matcher::new(MatchType::Regex, "__name__", ".+").unwrap()],
    );
    let mut label_sets = Vec::new();
    while let Some(s) = set.next() {
        label_sets.push(s.unwrap().labels);
    }
    drop(set);
    drop(q);
    let mut app = db.appender();
    let last = 500 * 30_000;
    for step in 1..=200 {
        for l in &label_sets {
            app.append(l, last + step * 30_000, step as f64 * 0.25)
                .unwrap();
        }
        app.commit().unwrap();
    }
    drop(app);
    let ours = aion_dump_sorted(&db);
    assert_eq!(ours.len(), 1000 * 700);
    db.close().unwrap();
    let theirs = common::promtool_dump_sorted(&promtool, &copy);
    assert!(
        theirs == ours,
        "promtool reads back something else than Aion wrote"
    );
}
