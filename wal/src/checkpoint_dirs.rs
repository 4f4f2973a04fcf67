//! The checkpoint directories of a log directory: listing, finding the
//! newest, deleting old and unfinished ones.
//!
//! Kept apart from [`crate::checkpoint`] (which builds checkpoints by
//! reading segments) because replay needs to find the newest checkpoint
//! without depending on the code that writes one.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::naming::{parse_index, CHECKPOINT_PREFIX, TMP_SUFFIX};
use crate::segment::sync_dir;

/// The checkpoints in `wal_dir`, oldest first. Names that do not end in a
/// number (such as unfinished `checkpoint.N.tmp`) are ignored.
pub fn list_checkpoints(wal_dir: &Path) -> Result<Vec<(u32, PathBuf)>> {
    let entries =
        fs::read_dir(wal_dir).map_err(|e| Error::io("listing checkpoints in", wal_dir, e))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("listing checkpoints in", wal_dir, e))?;
        let name = entry.file_name();
        let Some(suffix) = name
            .to_str()
            .and_then(|n| n.strip_prefix(CHECKPOINT_PREFIX))
        else {
            continue;
        };
        let Some(parsed) = parse_index(suffix) else {
            continue;
        };
        let path = entry.path();
        let index = parsed.map_err(|()| Error::UnexpectedEntry {
            path: path.clone(),
            reason: "checkpoint number does not fit 32 bits",
        })?;
        if !path.is_dir() {
            return Err(Error::UnexpectedEntry {
                path,
                reason: "a checkpoint name that is not a directory",
            });
        }
        found.push((index, path));
    }
    found.sort();
    Ok(found)
}

/// The newest checkpoint in `wal_dir`, if any.
pub fn last_checkpoint(wal_dir: &Path) -> Result<Option<(u32, PathBuf)>> {
    Ok(list_checkpoints(wal_dir)?.pop())
}

/// Deletes the checkpoints numbered below `before`; returns their numbers.
pub fn delete_checkpoints_before(wal_dir: &Path, before: u32) -> Result<Vec<u32>> {
    let mut deleted = Vec::new();
    for (index, path) in list_checkpoints(wal_dir)? {
        if index >= before {
            break;
        }
        fs::remove_dir_all(&path).map_err(|e| Error::io("deleting checkpoint", &path, e))?;
        deleted.push(index);
    }
    if !deleted.is_empty() {
        sync_dir(wal_dir)?;
    }
    Ok(deleted)
}

/// Deletes unfinished checkpoints (`checkpoint.N.tmp`) left by a crash;
/// returns how many there were.
pub fn remove_temporary_checkpoints(wal_dir: &Path) -> Result<usize> {
    let entries =
        fs::read_dir(wal_dir).map_err(|e| Error::io("listing checkpoints in", wal_dir, e))?;
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("listing checkpoints in", wal_dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(CHECKPOINT_PREFIX) && name.ends_with(TMP_SUFFIX) {
            let path = entry.path();
            let r = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            r.map_err(|e| Error::io("removing unfinished checkpoint", &path, e))?;
            removed += 1;
        }
    }
    if removed > 0 {
        sync_dir(wal_dir)?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::{checkpoint_dir, tmp_checkpoint_dir};

    #[test]
    fn lists_newest_last_and_ignores_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path();
        assert_eq!(last_checkpoint(wal).unwrap(), None);
        for i in [3u32, 1, 2] {
            fs::create_dir(checkpoint_dir(wal, i)).unwrap();
        }
        fs::create_dir(tmp_checkpoint_dir(wal, 4)).unwrap();
        fs::write(wal.join("00000005"), b"").unwrap();
        let listed = list_checkpoints(wal).unwrap();
        assert_eq!(listed.iter().map(|c| c.0).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(
            last_checkpoint(wal).unwrap(),
            Some((3, checkpoint_dir(wal, 3)))
        );

        assert_eq!(delete_checkpoints_before(wal, 3).unwrap(), [1, 2]);
        assert_eq!(remove_temporary_checkpoints(wal).unwrap(), 1);
        assert!(!tmp_checkpoint_dir(wal, 4).exists());
        assert_eq!(list_checkpoints(wal).unwrap().len(), 1);
    }

    #[test]
    fn rejects_a_checkpoint_name_that_is_a_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(checkpoint_dir(dir.path(), 1), b"").unwrap();
        let err = list_checkpoints(dir.path()).unwrap_err();
        assert!(matches!(err, Error::UnexpectedEntry { .. }), "{err}");
    }
}
