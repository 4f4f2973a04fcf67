//! Merged queries: blocks with the head, and blocks kept alive by queries.

use super::*;

#[test]
fn queries_in_flight_keep_their_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let mut expect = Dump::new();
    fill(&db, 3, 0, 9 * H, &mut expect);
    db.compact().unwrap();
    let before: Vec<_> = db.blocks().iter().map(|b| b.dir().to_path_buf()).collect();
    assert_eq!(before.len(), 3);
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let mut set = q.select(true, None, &all());
    let mut first = set.next().unwrap().unwrap();
    assert_eq!(first.samples.next(), ValueType::Float);
    // More data: a fourth block, then the first three compact into one.
    fill(&db, 3, 9 * H, 12 * H, &mut expect);
    let report = db.compact().unwrap();
    assert_eq!(report.compacted_blocks.len(), 1, "{report:?}");
    // The old blocks are still on disk and readable by the query.
    assert!(before.iter().all(|d| d.exists()));
    let mut n = 1;
    while first.samples.next() == ValueType::Float {
        n += 1;
    }
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        while s.samples.next() == ValueType::Float {
            n += 1;
        }
    }
    assert_eq!(n, 3 * 9 * 60);
    drop(first);
    drop(set);
    drop(q);
    assert!(
        before.iter().all(|d| !d.exists()),
        "parents deleted once unused"
    );
    assert_eq!(dump(&db, i64::MIN, i64::MAX), expect);
}

#[test]
fn chunk_querier_merges_blocks_and_head() {
    use aion_storage::ChunkQueryable;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let mut expect = Dump::new();
    fill(&db, 4, 0, 7 * H, &mut expect);
    db.compact().unwrap();
    db.delete(&[Matcher::equal("i", "01")], H, 5 * H).unwrap();
    for (l, v) in expect.iter_mut() {
        if l.get("i") == Some("01") {
            v.retain(|s| s.0 < H || s.0 > 5 * H);
        }
    }
    let q = db.chunk_querier(i64::MIN, i64::MAX).unwrap();
    let mut set = q.select(true, None, &all());
    let mut got = Dump::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        let mut v = Vec::new();
        let mut last_max = i64::MIN;
        while let Some(c) = s.chunks.next() {
            let c = c.unwrap();
            assert!(c.min_time > last_max, "chunks in order, not overlapping");
            last_max = c.max_time;
            let chunk = aion_chunkenc::Chunk::from_bytes(c.encoding, c.data).unwrap();
            let mut it = chunk.iter();
            while it.next() == ValueType::Float {
                let (t, x) = it.at();
                v.push((t, x.to_bits()));
            }
        }
        got.insert(s.labels, v);
    }
    assert_eq!(got, expect);
}
