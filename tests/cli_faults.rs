//! A damaged data directory never reads as healthy (issue "faults surface,
//! never silent"): a copy of a healthy directory is damaged one file at a
//! time, as the issue's table lists, and each case is checked both ways:
//!
//! * by default the CLI prints a `warning: ` line naming the file and what
//!   was skipped, cut or repaired, and keeps its exit status (0);
//! * with `--strict` it refuses with a clear error naming the file (exit
//!   1) and changes nothing on disk.
//!
//! Neither way panics. `aion query` carries the same warnings, on stderr
//! and in the `warnings` array of its `--format json` API answer.

#[path = "support/binaries.rs"]
mod binaries;

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use aion::model::Labels;
use aion::tsdb::{Db, Options};

const H: i64 = 3_600_000;

/// A directory with every kind of file the table damages: a block, a
/// `chunks_head/` file, WAL segments and a checkpoint (small segments, so
/// compaction's WAL truncation folds the oldest into a checkpoint).
fn healthy_dir(root: &Path) -> PathBuf {
    let dir = root.join("healthy");
    let options = Options {
        wal_segment_size: 64 * 1024,
        wal_compression: false,
        background_compaction: false,
        ..Options::default()
    };
    let db = Db::open(&dir, options).unwrap();
    let series: Vec<Labels> = (0..200)
        .map(|i| Labels::from_pairs(&[("__name__", "load"), ("i", &i.to_string())]).unwrap())
        .collect();
    for step in 0..(5 * H / 30_000) {
        let mut app = db.appender();
        for (i, s) in series.iter().enumerate() {
            app.append(s, step * 30_000, (step + i as i64) as f64)
                .unwrap();
        }
        app.commit().unwrap();
    }
    db.compact().unwrap();
    db.close().unwrap();
    assert!(block(&dir).is_dir());
    assert!(
        checkpoint(&dir).is_dir(),
        "no checkpoint: {:?}",
        list(&dir.join("wal"))
    );
    assert!(!list(&dir.join("chunks_head")).is_empty());
    assert!(segments(&dir).len() >= 3, "{:?}", segments(&dir));
    dir
}

fn list(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
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

/// Every file under `dir` with its bytes: "nothing changed" is this equal.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for p in list(dir) {
        if p.is_dir() {
            out.extend(snapshot(&p));
        } else if p.file_name().unwrap() != "lock" {
            out.push((p.clone(), fs::read(&p).unwrap()));
        }
    }
    out
}

fn overwrite(file: &Path, offset: u64, bytes: &[u8]) {
    let mut f = OpenOptions::new().write(true).open(file).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
}

fn block(dir: &Path) -> PathBuf {
    list(dir)
        .into_iter()
        .find(|p| p.join("meta.json").exists())
        .expect("a block")
}

fn checkpoint(dir: &Path) -> PathBuf {
    list(&dir.join("wal"))
        .into_iter()
        .find(|p| {
            p.is_dir()
                && p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("checkpoint.")
        })
        .unwrap_or_default()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    list(&dir.join("wal"))
        .into_iter()
        .filter(|p| p.is_file())
        .collect()
}

/// Runs `aion ARGS… DIR` (DIR last); returns (exit code, stdout, stderr).
fn aion(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(binaries::aion_example())
        .args(args)
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One row of the table: `damage` applied to a fresh copy, then `cmd`
/// without and with `--strict`. Strict must exit 1 with an error naming
/// every one of `names` (the file, the fault), leaving every file as it
/// was; the default must exit 0 with a `warning: ` line naming them and
/// saying what became of the data (`says`), which is returned.
fn row(
    (healthy, root): (&Path, &Path),
    name: &str,
    names: &[&str],
    says: &str,
    damage: impl Fn(&Path),
) -> String {
    let cmd = "dump";
    let dir = root.join(name);
    copy_dir(healthy, &dir);
    damage(&dir);
    let before = snapshot(&dir);

    let (code, _, err) = aion(&[cmd, "--strict"], &dir);
    assert_eq!(code, 1, "{name}, strict: {err}");
    assert!(
        err.starts_with("aion: refusing to open a damaged data directory"),
        "{name}: {err}"
    );
    for n in names {
        assert!(err.contains(n), "{name}, strict: {n:?} not in {err}");
    }
    assert!(!err.contains("panicked"), "{name}: {err}");
    assert!(snapshot(&dir) == before, "{name}: strict changed files");

    let (code, _, err) = aion(&[cmd], &dir);
    assert_eq!(code, 0, "{name}: {err}");
    let warning: String = err
        .lines()
        .find(|l| {
            l.starts_with("warning: ") && l.contains(says) && names.iter().all(|n| l.contains(n))
        })
        .unwrap_or_else(|| panic!("{name}: no warning naming {names:?}, {says:?} in {err}"))
        .to_string();
    eprintln!("{name}: {warning}");
    warning
}

#[test]
fn every_damage_is_a_warning_or_a_strict_refusal() {
    let tmp = tempfile::tempdir().unwrap();
    let healthy = healthy_dir(tmp.path());
    let root = tmp.path();

    // The healthy directory prints nothing on stderr, strict or not.
    for args in [&["dump"][..], &["dump", "--strict"]] {
        let (code, out, err) = aion(args, &healthy);
        assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
        assert!(out.lines().count() > 100_000);
    }

    let at = (healthy.as_path(), root);
    row(
        at,
        "index",
        &["index", "checksum mismatch"],
        // The block's meta.json still says what is missing.
        "samples of 200 series in [",
        |d| {
            let f = OpenOptions::new()
                .write(true)
                .open(block(d).join("index"))
                .unwrap();
            f.set_len(5000).unwrap();
        },
    );
    row(at, "meta", &["meta.json"], "skipped", |d| {
        fs::write(block(d).join("meta.json"), "garbage").unwrap();
    });
    // Random bytes inside a segment that is followed by others.
    let first_segment = segments(&healthy)[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let in_segment = format!("wal/{first_segment}");
    let wal_damage = |d: &Path| overwrite(&segments(d)[0], 5000, &[0x55; 48]);
    let warning = row(
        at,
        "wal",
        &[&in_segment, "checksum"],
        "bytes of the log from there on",
        wal_damage,
    );
    // What was not read: at least every later segment, at most the log.
    let sizes: Vec<u64> = segments(&healthy)
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .collect();
    let unread: u64 = warning
        .rsplit_once(" (")
        .and_then(|(_, n)| n.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {warning}"));
    assert!(
        unread >= sizes[1..].iter().sum::<u64>() && unread < sizes.iter().sum::<u64>(),
        "{unread} of {sizes:?}"
    );
    let cp = checkpoint(&healthy)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    row(at, "checkpoint", &[&cp], "replay stopped", |d| {
        overwrite(&checkpoint(d).join("00000000"), 3000, &[0xaa; 64]);
    });
    row(
        at,
        "chunks_head",
        &["chunks_head"],
        "read from the WAL instead",
        |d| {
            overwrite(&list(&d.join("chunks_head"))[0], 200, &[0x5a; 24]);
        },
    );
    // The last segment torn mid-record, as a crash leaves it.
    let last_written = |d: &Path| {
        segments(d)
            .into_iter()
            .rfind(|p| fs::metadata(p).unwrap().len() > 0)
            .unwrap()
    };
    let last_segment = last_written(&healthy);
    let last = format!(
        "wal/{}",
        last_segment.file_name().unwrap().to_string_lossy()
    );
    row(at, "torn", &[&last], "torn", |d| {
        let last = last_written(d);
        let bytes = fs::read(&last).unwrap();
        let end = bytes.iter().rposition(|&b| b != 0).unwrap() as u64 + 1;
        OpenOptions::new()
            .write(true)
            .open(&last)
            .unwrap()
            .set_len(end - 10)
            .unwrap();
    });

    // The same WAL damage opened for writing: repaired, and said so.
    let dir = root.join("wal-compact");
    copy_dir(&healthy, &dir);
    wal_damage(&dir);
    let before = snapshot(&dir);
    let (code, _, err) = aion(&["compact", "--strict"], &dir);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("refusing") && err.contains(&in_segment),
        "{err}"
    );
    assert!(snapshot(&dir) == before, "strict compact changed files");
    let (code, _, err) = aion(&["compact"], &dir);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.lines().any(|l| l.starts_with("warning: WAL: ")
            && l.contains(&in_segment)
            && l.contains("repaired by cutting")),
        "{err}"
    );
    // Repaired: the next strict open finds nothing.
    let (code, _, err) = aion(&["dump", "--strict"], &dir);
    assert_eq!((code, err.as_str()), (0, ""));

    // A block's chunk file is read lazily: the dump fails naming it, strict
    // or not (the open cannot know without reading every chunk).
    let dir = root.join("chunk");
    copy_dir(&healthy, &dir);
    overwrite(&block(&dir).join("chunks/000001"), 4000, &[0x33; 64]);
    for args in [&["dump"][..], &["dump", "--strict"]] {
        let (code, _, err) = aion(args, &dir);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.contains("chunks/000001") && !err.contains("panicked"),
            "{err}"
        );
    }
}

/// `aion query` answers from what is readable and says what is not: a
/// `warning: ` line on stderr and the API answer's `warnings` array.
#[test]
fn queries_carry_the_open_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let healthy = healthy_dir(tmp.path());
    let q = |dir: &Path, strict: bool| {
        let mut args = vec!["query", "--format", "json", "--time", "18000"];
        if strict {
            args.push("--strict");
        }
        let out = Command::new(binaries::aion_example())
            .args(&args)
            .arg(dir)
            .arg("count(load)")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = q(&healthy, false);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out.trim_end(),
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[18000,"200"]}]}}"#
    );

    let dir = tmp.path().join("damaged");
    copy_dir(&healthy, &dir);
    fs::write(block(&dir).join("meta.json"), "garbage").unwrap();
    let (code, out, err) = q(&dir, false);
    assert_eq!(code, 0, "{err}");
    let line = err.lines().next().unwrap_or_default();
    assert!(
        line.starts_with("warning: skipped unreadable block") && line.contains("meta.json"),
        "{err}"
    );
    let answer: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["status"], "success");
    assert_eq!(
        answer["warnings"],
        serde_json::json!([line.trim_start_matches("warning: ")])
    );
    let (code, out, err) = q(&dir, true);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(
        err.contains("refusing") && err.contains("meta.json"),
        "{err}"
    );
}
