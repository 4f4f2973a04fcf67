//! Batched reads of block series (`SampleIterator::read_floats`) against
//! the cursor loop: the same samples for any querier range, caller bound,
//! buffer size and starting seek, with and without deleted intervals.

use aion_chunkenc::{SampleIterator, ValueType};
use aion_model::Matcher;
use aion_storage::Queryable;
use proptest::prelude::*;

use super::tests::{dataset, drain, write_block};

/// Reads the rest of `it` (positioned by `first`) in batches of `room`
/// samples, each bounded by the next of `bounds` (then unbounded).
fn read_batched(
    it: &mut dyn SampleIterator,
    first: ValueType,
    room: usize,
    bounds: &[i64],
) -> Vec<(i64, f64)> {
    let (mut ts, mut vs) = (vec![0i64; room], vec![0f64; room]);
    let mut out = Vec::new();
    let mut vt = first;
    let mut bounds = bounds.iter().copied();
    while vt == ValueType::Float {
        let maxt = bounds.next().unwrap_or(i64::MAX);
        let (n, next) = it.read_floats(&mut ts, &mut vs, maxt);
        assert!(ts[..n].iter().all(|&t| t <= maxt), "copied past {maxt}");
        if next == ValueType::Float {
            let at = it.at_t();
            assert!(
                at > maxt || n == room,
                "stopped early at {at} (bound {maxt})"
            );
        }
        out.extend(ts[..n].iter().copied().zip(vs[..n].iter().copied()));
        vt = next;
    }
    assert!(it.err().is_none(), "{:?}", it.err());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn batched_reads_equal_the_cursor_loop(
        mint in -20_000i64..3_000_000,
        len in 0i64..5_000_000,
        from in 0i64..4_500_000,
        room in prop_oneof![1usize..5, 5usize..400],
        mut bounds in prop::collection::vec(0i64..4_500_000, 0..6),
        delete in prop::option::of((0i64..4_500_000, 0i64..400_000)),
    ) {
        bounds.sort_unstable();
        let dir = tempfile::tempdir().unwrap();
        // 300 samples at 15 s: three chunks of 120, 120 and 60.
        let data = dataset(2, 300);
        let block = write_block(dir.path(), &data, 0, 300 * 15_000);
        if let Some((start, width)) = delete {
            block.delete(start, start + width, &[Matcher::equal("i", "001")]).unwrap();
        }
        let maxt = mint + len;
        let q = block.querier(mint, maxt).unwrap();
        let mut want_set = q.select(true, None, &[]);
        let mut got_set = q.select(true, None, &[]);
        while let Some(want) = want_set.next() {
            let mut want = want.unwrap();
            let mut got = got_set.next().unwrap().unwrap();
            let all = drain(&mut want.samples);
            let expected: Vec<(i64, f64)> = all.into_iter().filter(|s| s.0 >= from).collect();
            let first = got.samples.seek(from);
            prop_assert_eq!(read_batched(&mut got.samples, first, room, &bounds), expected);
        }
        prop_assert!(got_set.next().is_none());
    }
}
