//! The background compaction thread ([`Options::background_compaction`](crate::Options::background_compaction)).

use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::blocks::DbBlocks;
use crate::{Error, Result};

/// Runs compaction in the background until stopped.
pub(crate) struct BackgroundCompaction {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BackgroundCompaction {
    /// Starts a thread calling `compact` every `interval`.
    pub(crate) fn start(blocks: Arc<DbBlocks>, interval: Duration) -> Result<Self> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("aion-compaction".into())
            .spawn(move || loop {
                {
                    let mut stopped = s.0.lock();
                    if !*stopped {
                        s.1.wait_for(&mut stopped, interval);
                    }
                    if *stopped {
                        return;
                    }
                }
                if let Err(e) = blocks.compact() {
                    let mut w = blocks.warnings.lock();
                    if w.len() >= 100 {
                        w.remove(0);
                    }
                    w.push(format!("background compaction failed: {e}"));
                }
            })
            .map_err(|e| Error::io("start the compaction thread", e))?;
        Ok(BackgroundCompaction {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread, waiting for a compaction in progress.
    pub(crate) fn stop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for BackgroundCompaction {
    fn drop(&mut self) {
        self.stop();
    }
}
