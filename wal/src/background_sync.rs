//! Flushing completed segments to disk off the append path.
//!
//! When the writer moves to a new segment under [`SyncPolicy::OnRotate`],
//! the finished segment must reach the disk, but nobody waits for it:
//! every record in it was already handed to the kernel, so a crash of the
//! process loses nothing, and the policy promises nothing about batches
//! after the last flush on power loss. Doing the `fsync` inline held the
//! caller (and every committer queued on the log's lock) for as long as
//! the disk took to flush up to 128 MiB. Prometheus flushes the old
//! segment in the background for the same reason.
//!
//! What this gives up: after a power loss the second-to-last segment may
//! end torn, not only the last. Reading then reports the damage, and the
//! head's replay repairs the log there, keeping the intact prefix, exactly
//! as it does for a Prometheus log in that state.
//!
//! [`Wal::sync`](crate::Wal::sync) and [`Wal::close`](crate::Wal::close)
//! wait for flushes in flight, so "everything logged so far is on disk"
//! still holds when they return. A failed background flush is reported by
//! the next call on the writer.
//!
//! [`SyncPolicy::OnRotate`]: crate::SyncPolicy::OnRotate

use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::error::{Error, Result};

#[derive(Default)]
struct State {
    /// Segments handed over and not flushed yet.
    pending: usize,
    /// The first flush that failed, not yet reported.
    failed: Option<(PathBuf, std::io::Error)>,
}

/// The hand-over of finished segments to the flushing thread.
type Queue = Sender<(File, PathBuf)>;

/// Locks `m`; a panic elsewhere while holding it left plain counters,
/// still meaningful.
fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A thread flushing finished segment files, started at the first
/// rotation.
#[derive(Default)]
pub(crate) struct BackgroundSync {
    worker: Option<(Queue, JoinHandle<()>)>,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl BackgroundSync {
    /// Queues `file` (the segment at `path`) for `fsync` and closing.
    pub(crate) fn flush_later(&mut self, file: File, path: PathBuf) -> Result<()> {
        self.check()?;
        if self.worker.is_none() {
            let (tx, rx) = channel::<(File, PathBuf)>();
            let state = Arc::clone(&self.state);
            let handle = std::thread::Builder::new()
                .name("aion-wal-sync".into())
                .spawn(move || {
                    for (file, path) in rx {
                        let r = file.sync_all();
                        drop(file);
                        let (m, done) = &*state;
                        let mut s = lock(m);
                        s.pending -= 1;
                        if let Err(e) = r {
                            s.failed.get_or_insert((path, e));
                        }
                        done.notify_all();
                    }
                })
                .map_err(|e| Error::io("starting the WAL sync thread", &path, e))?;
            self.worker = Some((tx, handle));
        }
        let (tx, _) = self.worker.as_ref().expect("started above");
        lock(&self.state.0).pending += 1;
        if let Err(returned) = tx.send((file, path)) {
            // The thread is gone (it only stops when dropped): flush here.
            lock(&self.state.0).pending -= 1;
            let (file, path) = returned.0;
            file.sync_all()
                .map_err(|e| Error::io("syncing segment", &path, e))?;
        }
        Ok(())
    }

    /// Waits until every queued segment is flushed; the first failure, if
    /// any, is returned (once).
    pub(crate) fn wait(&self) -> Result<()> {
        let (m, done) = &*self.state;
        let mut s = lock(m);
        while s.pending > 0 {
            s = done
                .wait(s)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        drop(s);
        self.check()
    }

    /// Reports a failed flush without waiting.
    pub(crate) fn check(&self) -> Result<()> {
        match lock(&self.state.0).failed.take() {
            Some((path, e)) => Err(Error::io("syncing segment (in the background)", path, e)),
            None => Ok(()),
        }
    }
}

impl Drop for BackgroundSync {
    /// Finishes the queued flushes: a writer dropped without `close` still
    /// gets its completed segments to disk.
    fn drop(&mut self) {
        if let Some((tx, handle)) = self.worker.take() {
            drop(tx);
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushes_queued_files_and_waits_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut bg = BackgroundSync::default();
        for i in 0..5 {
            let path = dir.path().join(format!("{i}"));
            let file = File::create(&path).unwrap();
            bg.flush_later(file, path).unwrap();
        }
        bg.wait().unwrap();
        assert_eq!(lock(&bg.state.0).pending, 0);
    }

    #[test]
    fn a_failed_flush_is_reported_once() {
        let mut bg = BackgroundSync::default();
        lock(&bg.state.0).failed = Some((
            PathBuf::from("00000003"),
            std::io::Error::other("disk gone"),
        ));
        let err = bg.wait().unwrap_err().to_string();
        assert!(
            err.contains("00000003") && err.contains("disk gone"),
            "{err}"
        );
        bg.wait().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        bg.flush_later(File::create(&path).unwrap(), path).unwrap();
        bg.wait().unwrap();
    }
}
