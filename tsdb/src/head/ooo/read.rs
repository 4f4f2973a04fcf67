//! What a query sees of a series' out-of-order samples: those of commits
//! before it, in `[mint, maxt]`, sorted, one per timestamp.

use aion_chunkenc::Encoding;

use super::chunk::OooState;
use crate::chunks::{decode_values, HeadChunkStore, SampleValue};
use crate::Result;

/// The out-of-order samples of `st` in `[mint, maxt]` that a query of
/// isolation epoch `epoch` may see, appended to `out` sorted by time with
/// one sample per timestamp (the first written wins, as the in-memory
/// chunk keeps the first value).
pub(crate) fn ooo_samples(
    st: &OooState,
    store: &HeadChunkStore,
    mint: i64,
    maxt: i64,
    epoch: u64,
    out: &mut Vec<(i64, SampleValue)>,
) -> Result<()> {
    let start = out.len();
    for c in &st.mmapped {
        if c.max_time < mint || c.min_time > maxt {
            continue;
        }
        match &c.recent {
            Some(recent) if c.max_epoch > epoch => out.extend(
                recent
                    .iter()
                    .filter(|s| s.epoch <= epoch && s.t >= mint && s.t <= maxt)
                    .map(|s| (s.t, s.v.clone())),
            ),
            _ => {
                let (encoding, bytes) = store.chunk(c.chunk_ref)?;
                let encoding = Encoding::try_from(encoding)?;
                decode_values(encoding, bytes.as_slice(), mint, maxt, out)?;
            }
        }
    }
    if let Some(h) = &st.head {
        out.extend(
            h.samples
                .iter()
                .filter(|s| s.epoch <= epoch && s.t >= mint && s.t <= maxt)
                .map(|s| (s.t, s.v.clone())),
        );
    }
    // A stable sort: of two samples with one timestamp the one written
    // first (m-mapped chunks come before the in-memory one) stays first.
    let mut tail = out.split_off(start);
    tail.sort_by_key(|s| s.0);
    tail.dedup_by_key(|s| s.0);
    out.append(&mut tail);
    Ok(())
}

/// Merges two time-sorted sample lists into one, keeping `a`'s sample
/// where both have a timestamp.
pub(crate) fn merge_sorted(a: &[(i64, f64)], b: &[(i64, f64)]) -> Vec<(i64, f64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::super::chunk::{OooChunkOpts, OooState};
    use super::*;
    use crate::FloatChunkEncoding;

    const OPTS: OooChunkOpts = OooChunkOpts {
        cap: 6,
        floats: FloatChunkEncoding::Xor,
    };

    #[test]
    fn a_query_sees_only_commits_before_it_even_in_mmapped_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        let mut st = OooState::default();
        // Epoch 1 commits t = 10..14; a query of epoch 1 runs (low
        // watermark 1) while epoch 2 commits t = 0..4, which m-maps a
        // chunk holding both epochs.
        for t in 10..14 {
            st.insert(1, t, SampleValue::Float(1.0), 1, u64::MAX, OPTS, &store)
                .unwrap();
        }
        for t in 0..4 {
            st.insert(1, t, SampleValue::Float(2.0), 2, 1, OPTS, &store)
                .unwrap();
        }
        assert_eq!(st.mmapped.len(), 1);
        assert!(st.mmapped[0].recent.is_some());
        let mut old = Vec::new();
        ooo_samples(&st, &store, i64::MIN, i64::MAX, 1, &mut old).unwrap();
        assert_eq!(
            old.iter().map(|s| s.0).collect::<Vec<_>>(),
            [10, 11, 12, 13]
        );
        let mut new = Vec::new();
        ooo_samples(&st, &store, 1, 12, 2, &mut new).unwrap();
        assert_eq!(
            new.iter().map(|s| s.0).collect::<Vec<_>>(),
            [1, 2, 3, 10, 11, 12]
        );
        // Once no old query runs, the in-memory copy goes.
        st.forget_recent(2);
        assert!(st.mmapped[0].recent.is_none());
    }

    #[test]
    fn merge_keeps_one_sample_per_timestamp() {
        let a = [(1, 1.0), (3, 3.0), (5, 5.0)];
        let b = [(2, 20.0), (3, 30.0), (6, 60.0)];
        assert_eq!(
            merge_sorted(&a, &b),
            [(1, 1.0), (2, 20.0), (3, 3.0), (5, 5.0), (6, 60.0)]
        );
    }
}
