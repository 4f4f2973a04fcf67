//! A damaged data directory never reads as healthy: `aion dump` on a
//! directory with one file damaged at a time prints a `warning: ` line
//! naming the file and what was skipped, and keeps its exit status (issue
//! "faults surface, never silent"; the cases the CLI can see today).

#[path = "support/binaries.rs"]
#[allow(dead_code)] // promtool is not needed here
mod binaries;

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A directory with a block, `chunks_head/` files and WAL segments:
/// `aion bench write` (200 series × 5 h at 30 s), then `aion compact`.
fn healthy_dir(root: &Path) -> PathBuf {
    let aion = binaries::aion_example();
    let out = root.join("bench");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/20kseries-1k.json");
    let st = Command::new(&aion)
        .args(["bench", "write", "--metrics=200", "--scrapes=600"])
        .arg(format!("--out={}", out.display()))
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let dir = out.join("storage");
    let st = Command::new(&aion)
        .arg("compact")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn overwrite(file: &Path, offset: u64, bytes: &[u8]) {
    let mut f = OpenOptions::new().write(true).open(file).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
}

fn block(dir: &Path) -> PathBuf {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("meta.json").exists())
        .expect("a block")
}

/// Runs `aion dump` on a damaged copy; returns (exit code, stderr).
fn dump_damaged(healthy: &Path, root: &Path, name: &str, damage: impl Fn(&Path)) -> (i32, String) {
    let dir = root.join(name);
    copy_dir(healthy, &dir);
    damage(&dir);
    let out = Command::new(binaries::aion_example())
        .arg("dump")
        .arg(&dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_damage_the_open_sees_is_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let healthy = healthy_dir(tmp.path());

    // The healthy directory prints no warning.
    let (code, err) = dump_damaged(&healthy, tmp.path(), "healthy", |_| {});
    assert_eq!((code, err.as_str()), (0, ""));

    let (code, err) = dump_damaged(&healthy, tmp.path(), "index", |d| {
        let index = block(d).join("index");
        let f = OpenOptions::new().write(true).open(&index).unwrap();
        f.set_len(5000).unwrap();
    });
    assert_eq!(code, 0, "{err}");
    assert!(
        err.starts_with("warning: skipped unreadable block"),
        "{err}"
    );
    assert!(
        err.contains("index") && err.contains("checksum mismatch"),
        "{err}"
    );

    let (code, err) = dump_damaged(&healthy, tmp.path(), "meta", |d| {
        fs::write(block(d).join("meta.json"), "garbage").unwrap();
    });
    assert_eq!(code, 0, "{err}");
    assert!(
        err.starts_with("warning: ") && err.contains("meta.json"),
        "{err}"
    );

    let (code, err) = dump_damaged(&healthy, tmp.path(), "wal", |d| {
        overwrite(&d.join("wal/00000001"), 5000, &[0x55; 48]);
    });
    assert_eq!(code, 0, "{err}");
    assert!(err.starts_with("warning: WAL: "), "{err}");
    assert!(
        err.contains("wal/00000001") && err.contains("replay stopped"),
        "{err}"
    );

    let (code, err) = dump_damaged(&healthy, tmp.path(), "chunks_head", |d| {
        let first = fs::read_dir(d.join("chunks_head"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .min()
            .unwrap();
        overwrite(&first, 200, &[0x5a; 24]);
    });
    assert_eq!(code, 0, "{err}");
    assert!(err.starts_with("warning: chunks_head: "), "{err}");
    assert!(err.contains("read from the WAL instead"), "{err}");
}
