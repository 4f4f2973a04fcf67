//! The database with blocks: persistence, merged queries, compaction,
//! retention, deletion, corrupt blocks, and crashes at every step; the
//! shared helpers here, the tests beside them by concept.

mod blocks;
mod crash;
mod faults;
mod maintenance;
mod ooo;
mod persist;
mod querier;

use std::collections::BTreeMap;
use std::path::Path;

use aion_model::{Labels, MatchType, Matcher};

use crate::{Db, Options, SampleIterator, ValueType};
use aion_storage::Queryable;

const H: i64 = 3_600_000;
const STEP: i64 = 60_000;

type Dump = BTreeMap<Labels, Vec<(i64, u64)>>;

fn series(i: usize) -> Labels {
    Labels::from_pairs(&[
        ("__name__", "metric"),
        ("i", &format!("{i:02}")),
        ("parity", if i % 2 == 0 { "even" } else { "odd" }),
    ])
    .unwrap()
}

fn all() -> Vec<Matcher> {
    vec![Matcher::new(MatchType::Regex, "__name__", ".+").unwrap()]
}

fn opts() -> Options {
    Options {
        background_compaction: false,
        no_lockfile: true,
        ..Options::default()
    }
}

/// Appends `n` series with a sample every minute in `[from, to)`.
fn fill(db: &Db, n: usize, from: i64, to: i64, expect: &mut Dump) {
    let mut app = db.appender();
    let mut t = from;
    while t < to {
        for i in 0..n {
            let v = (t / STEP) as f64 * 0.5 + i as f64;
            app.append(&series(i), t, v).unwrap();
            expect.entry(series(i)).or_default().push((t, v.to_bits()));
        }
        app.commit().unwrap();
        t += STEP;
    }
}

fn dump(q: &dyn Queryable, mint: i64, maxt: i64) -> Dump {
    let q = q.querier(mint, maxt).unwrap();
    let mut set = q.select(true, None, &all());
    let mut out = Dump::new();
    let mut last: Option<Labels> = None;
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        assert!(last.as_ref().is_none_or(|l| *l < s.labels), "unsorted");
        last = Some(s.labels.clone());
        let mut v = Vec::new();
        while s.samples.next() == ValueType::Float {
            let (t, x) = s.samples.at();
            v.push((t, x.to_bits()));
        }
        assert!(s.samples.err().is_none(), "{:?}", s.samples.err());
        out.insert(s.labels, v);
    }
    out
}

/// The samples on disk: blocks must not overlap each other or the head,
/// and their sample counts plus the head's must be exactly the expected
/// total (the merged query would hide duplicates).
fn check_no_duplicates(db: &Db, expect: &Dump) {
    let blocks = db.blocks();
    for w in blocks.windows(2) {
        assert!(
            w[0].max_time() <= w[1].min_time(),
            "overlapping blocks {:?} {:?}",
            w[0].meta(),
            w[1].meta()
        );
    }
    let in_blocks: u64 = blocks.iter().map(|b| b.meta().stats.num_samples).sum();
    let head = dump(&**db.head(), i64::MIN, i64::MAX);
    let in_head: usize = head.values().map(Vec::len).sum();
    if let (Some(last), Some(first_head)) = (
        blocks.last(),
        head.values().filter_map(|v| v.first()).map(|s| s.0).min(),
    ) {
        assert!(first_head >= last.max_time(), "head overlaps blocks");
    }
    let total: usize = expect.values().map(Vec::len).sum();
    assert_eq!(in_blocks as usize + in_head, total);
}

fn dirs(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
