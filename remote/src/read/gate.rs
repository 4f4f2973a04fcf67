//! A counting gate bounding concurrent reads, as Prometheus's
//! `--storage.remote.read-concurrent-limit`.

use std::sync::{Condvar, Mutex};

/// Lets at most `limit` holders in at once (0: unlimited); others wait.
#[derive(Debug)]
pub struct Gate {
    limit: usize,
    inside: Mutex<usize>,
    freed: Condvar,
}

/// A place in a [`Gate`], given back on drop.
#[derive(Debug)]
pub struct GateGuard<'a> {
    gate: &'a Gate,
}

impl Gate {
    /// A gate for `limit` concurrent holders (0: unlimited).
    pub fn new(limit: usize) -> Self {
        Gate {
            limit,
            inside: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Waits for a place.
    pub fn enter(&self) -> GateGuard<'_> {
        let mut inside = self.inside.lock().unwrap_or_else(|e| e.into_inner());
        while self.limit > 0 && *inside >= self.limit {
            inside = self.freed.wait(inside).unwrap_or_else(|e| e.into_inner());
        }
        *inside += 1;
        GateGuard { gate: self }
    }

    /// Holders inside now.
    pub fn inside(&self) -> usize {
        *self.inside.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        let mut inside = self.gate.inside.lock().unwrap_or_else(|e| e.into_inner());
        *inside -= 1;
        self.gate.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn never_more_than_limit_inside() {
        let gate = Gate::new(2);
        let peak = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let _g = gate.enter();
                    peak.fetch_max(gate.inside(), Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 2);
        assert_eq!(gate.inside(), 0);
    }
}
