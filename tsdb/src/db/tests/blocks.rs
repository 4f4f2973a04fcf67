//! Opening the block set: corrupt blocks fail the open or are moved aside.

use super::*;

#[test]
fn corrupt_blocks_fail_open_or_are_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let mut expect = Dump::new();
    fill(&db, 2, 0, 7 * H, &mut expect);
    db.compact().unwrap();
    let victim = db.blocks()[0].dir().to_path_buf();
    db.close().unwrap();
    std::fs::write(victim.join("index"), b"not an index").unwrap();
    let err = Db::open(dir.path(), opts()).unwrap_err().to_string();
    assert!(err.contains(&victim.display().to_string()), "{err}");
    assert!(err.contains("index"), "{err}");
    let o = Options {
        quarantine_corrupt_blocks: true,
        ..opts()
    };
    let db = Db::open(dir.path(), o).unwrap();
    assert_eq!(db.blocks().len(), 1);
    let w = db.warnings();
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("moved unreadable block aside"), "{w:?}");
    let aside = format!(
        "{}{}",
        victim.file_name().unwrap().to_string_lossy(),
        crate::CORRUPTED_SUFFIX
    );
    assert!(dirs(dir.path()).contains(&aside));
    // The other block and the head are all there.
    for v in expect.values_mut() {
        v.retain(|s| s.0 >= 2 * H);
    }
    assert_eq!(dump(&db, i64::MIN, i64::MAX), expect);
}
