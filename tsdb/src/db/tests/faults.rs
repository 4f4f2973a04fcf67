//! Damage found on open is never silent: it is in `Db::warnings` and in
//! every querier's warnings (the default), or refuses the open naming the
//! file (strict), changing nothing on disk.

use super::*;

fn strict() -> Options {
    Options {
        refuse_damaged_data: true,
        ..opts()
    }
}

/// A directory with one block and a head with samples in the WAL.
fn written(dir: &Path) -> Dump {
    let db = Db::open(dir, opts()).unwrap();
    let mut expect = Dump::new();
    fill(&db, 2, 0, 4 * H, &mut expect);
    db.compact().unwrap();
    assert_eq!(db.blocks().len(), 1);
    db.close().unwrap();
    expect
}

fn wal_segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn sizes(dir: &Path) -> Vec<u64> {
    wal_segments(dir)
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .collect()
}

#[test]
fn an_unreadable_block_is_a_warning_of_every_query_or_refuses_strict_opens() {
    let dir = tempfile::tempdir().unwrap();
    written(dir.path());
    let db = Db::open(dir.path(), opts()).unwrap();
    let victim = db.blocks()[0].dir().to_path_buf();
    db.close().unwrap();
    std::fs::write(victim.join("meta.json"), b"garbage").unwrap();

    let db = Db::open_read_only(dir.path()).unwrap();
    let w = db.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("meta.json"), "{w:?}");
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    assert_eq!(q.warnings(), w);
    drop(q);
    drop(db);

    for read_only in [true, false] {
        let err = if read_only {
            Db::open_read_only_with(dir.path(), strict()).unwrap_err()
        } else {
            let o = Options {
                quarantine_corrupt_blocks: true,
                ..strict()
            };
            Db::open(dir.path(), o).unwrap_err()
        };
        assert!(matches!(err, crate::Error::Damaged(_)), "{err:?}");
        assert!(err.to_string().contains("meta.json"), "{err}");
    }
    // Strict changed nothing: the block was not moved aside.
    assert!(victim.is_dir());
}

#[test]
fn wal_damage_is_reported_and_repaired_or_refused_without_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut expect = Dump::new();
    let db = Db::open(
        dir.path(),
        Options {
            wal_segment_size: 32 * 1024,
            wal_compression: false,
            ..opts()
        },
    )
    .unwrap();
    fill(&db, 100, 0, H, &mut expect);
    db.close().unwrap();
    let segments = wal_segments(dir.path());
    assert!(segments.len() >= 3, "{segments:?}");
    let damaged = &segments[1];
    let mut bytes = std::fs::read(damaged).unwrap();
    for b in &mut bytes[5000..5048] {
        *b = 0x55;
    }
    std::fs::write(damaged, &bytes).unwrap();
    let before = sizes(dir.path());

    let err = Db::open(dir.path(), strict()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, crate::Error::Damaged(_)), "{err:?}");
    assert!(text.contains(&damaged.display().to_string()), "{text}");
    assert_eq!(sizes(dir.path()), before, "strict must not repair");
    let err = Db::open_read_only_with(dir.path(), strict()).unwrap_err();
    assert!(matches!(err, crate::Error::Damaged(_)), "{err:?}");

    let db = Db::open_read_only(dir.path()).unwrap();
    let w = db.warnings();
    assert!(
        w.iter()
            .any(|l| l.contains("replay stopped") && l.contains(&damaged.display().to_string())),
        "{w:?}"
    );
    assert_eq!(db.querier(0, H).unwrap().warnings(), w);
    drop(db);

    let db = Db::open(dir.path(), opts()).unwrap();
    let w = db.warnings();
    assert!(w.iter().any(|l| l.contains("repaired by cutting")), "{w:?}");
    assert_ne!(sizes(dir.path()), before);
    db.close().unwrap();
    // Repaired: the next open is clean.
    let db = Db::open(dir.path(), strict()).unwrap();
    assert!(db.warnings().is_empty(), "{:?}", db.warnings());
}

#[test]
fn a_torn_tail_is_cut_with_a_warning_or_refused_strict() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db, 3, 0, 10 * STEP, &mut Dump::new());
    db.close().unwrap();
    let last = wal_segments(dir.path()).pop().unwrap();
    // The last record loses its end (a write a crash cut short); the
    // segment may be padded with zeros after it.
    let bytes = std::fs::read(&last).unwrap();
    let end = bytes.iter().rposition(|&b| b != 0).unwrap() as u64 + 1;
    let len = end - 10;
    let f = std::fs::OpenOptions::new().write(true).open(&last).unwrap();
    f.set_len(len).unwrap();
    drop(f);

    let err = Db::open(dir.path(), strict()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&last.display().to_string()) && text.contains("torn write"),
        "{text}"
    );
    assert_eq!(std::fs::metadata(&last).unwrap().len(), len);
    assert!(Db::open_read_only_with(dir.path(), strict()).is_err());
    let db = Db::open_read_only(dir.path()).unwrap();
    assert!(
        db.warnings().iter().any(|w| w.contains("torn record")),
        "{:?}",
        db.warnings()
    );
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(
        db.warnings().iter().any(|w| w.contains("torn record")),
        "{:?}",
        db.warnings()
    );
}
