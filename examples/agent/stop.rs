//! A stop flag threads can sleep on: set by SIGTERM/SIGINT, it wakes every
//! waiter at once.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Instant;

/// Set once; [`Stop::wait_until`] returns early when it is.
#[derive(Default)]
pub struct Stop {
    stopped: Mutex<bool>,
    changed: Condvar,
}

impl Stop {
    /// Sets the flag and wakes every waiter.
    pub fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.changed.notify_all();
    }

    /// Whether the flag is set.
    pub fn is_stopped(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps until `deadline` or the flag; returns whether it is set.
    pub fn wait_until(&self, deadline: Instant) -> bool {
        let mut g = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        while !*g {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            g = self
                .changed
                .wait_timeout(g, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}
