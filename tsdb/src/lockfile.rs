//! The data directory's `lock` file: one writer per directory.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// An exclusive advisory lock on `<dir>/lock`, released (and the file
/// removed, as Prometheus does on clean shutdown) when dropped.
#[derive(Debug)]
pub(crate) struct LockFile {
    path: PathBuf,
    file: Option<File>,
}

/// Whether the open `file` is still the file at `path` (a holder that
/// closes removes the file, so a lock taken on the old inode guards
/// nothing).
#[cfg(unix)]
fn is_same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn is_same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

impl LockFile {
    /// Locks `dir`, failing with [`Error::Locked`] if another process (or
    /// another open `Db` of this process) holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<LockFile> {
        let path = dir.join("lock");
        for _ in 0..10 {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| Error::io(format!("opening lock file {}", path.display()), e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::Locked {
                        dir: dir.to_path_buf(),
                        lock: path,
                    })
                }
                Err(TryLockError::Error(e)) => {
                    return Err(Error::io(format!("locking {}", path.display()), e))
                }
            }
            if is_same_file(&file, &path) {
                return Ok(LockFile {
                    path,
                    file: Some(file),
                });
            }
            // The previous holder removed the file between our open and
            // our lock: try again on the new file.
        }
        Err(Error::Locked {
            dir: dir.to_path_buf(),
            lock: path,
        })
    }

    /// Removes the lock file, then unlocks.
    pub(crate) fn release(mut self) -> Result<()> {
        self.release_inner()
    }

    fn release_inner(&mut self) -> Result<()> {
        if let Some(file) = self.file.take() {
            let removed = fs::remove_file(&self.path);
            drop(file);
            removed.map_err(|e| Error::io(format!("removing {}", self.path.display()), e))?;
        }
        Ok(())
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = self.release_inner();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_until_the_first_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let a = LockFile::acquire(dir.path()).unwrap();
        let err = LockFile::acquire(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Locked { .. }));
        assert!(
            err.to_string().contains("locked by another process"),
            "{err}"
        );
        a.release().unwrap();
        assert!(!dir.path().join("lock").exists());
        let _b = LockFile::acquire(dir.path()).unwrap();
    }
}
