//! What the receiver has accepted, per series, kept across restarts in
//! `DIR/remote-progress` so a restarted agent resends only what was not
//! accepted (and what was accepted after the last save).
//!
//! File: `AIONRWP1`, a count (u64 LE), then per series its reference
//! (u64), labels hash (u64) and newest accepted timestamp (i64), all
//! little-endian, and a CRC32C (u32 LE) of everything before it. Written to
//! a temporary file and renamed over the old one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use aion::model::encoding::crc32c;

const MAGIC: &[u8; 8] = b"AIONRWP1";

/// Series reference → (labels hash, newest accepted timestamp).
pub type Accepted = HashMap<u64, (u64, i64)>;

/// The progress file of an agent directory.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("remote-progress")
}

/// Reads the file; a missing file is empty progress, a damaged one an
/// error naming it.
pub fn load(dir: &Path) -> Result<Accepted, String> {
    let p = path(dir);
    let b = match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Accepted::new()),
        Err(e) => return Err(format!("{}: {e}", p.display())),
    };
    let bad = |what: &str| format!("{}: {what}", p.display());
    if b.len() < 20 || &b[..8] != MAGIC {
        return Err(bad("not a progress file"));
    }
    let (body, crc) = b.split_at(b.len() - 4);
    if crc32c(body).to_le_bytes() != crc {
        return Err(bad("checksum mismatch"));
    }
    let n = u64::from_le_bytes(body[8..16].try_into().expect("8 bytes"));
    let entries = &body[16..];
    if entries.len() as u64 != n.saturating_mul(24) {
        return Err(bad("length does not match its count"));
    }
    let word = |c: &[u8], i: usize| u64::from_le_bytes(c[i..i + 8].try_into().expect("8 bytes"));
    Ok(entries
        .chunks_exact(24)
        .map(|c| (word(c, 0), (word(c, 8), word(c, 16) as i64)))
        .collect())
}

/// Writes `accepted` atomically.
pub fn save(dir: &Path, accepted: &Accepted) -> std::io::Result<()> {
    let mut b = Vec::with_capacity(20 + accepted.len() * 24);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&(accepted.len() as u64).to_le_bytes());
    for (r, (hash, t)) in accepted {
        b.extend_from_slice(&r.to_le_bytes());
        b.extend_from_slice(&hash.to_le_bytes());
        b.extend_from_slice(&t.to_le_bytes());
    }
    let crc = crc32c(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    let tmp = dir.join("remote-progress.tmp");
    std::fs::write(&tmp, &b)?;
    std::fs::rename(&tmp, path(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_damage() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_empty());
        let a: Accepted = [(1, (11, 1_000)), (7, (77, -5))].into_iter().collect();
        save(dir.path(), &a).unwrap();
        assert_eq!(load(dir.path()).unwrap(), a);
        let mut b = std::fs::read(path(dir.path())).unwrap();
        b[20] ^= 1;
        std::fs::write(path(dir.path()), &b).unwrap();
        assert!(load(dir.path()).unwrap_err().contains("checksum"));
    }
}
