//! The manager's sense of time, injectable so tests (and hosts replaying
//! time) drive the scheduler deterministically.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A clock the scheduler reads and sleeps on.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in nanoseconds since the epoch.
    fn now_ns(&self) -> i64;

    /// Blocks until [`now_ns`](Self::now_ns) reaches `deadline_ns` (true)
    /// or `stop` is raised (false, at once).
    fn sleep_until(&self, deadline_ns: i64, stop: &Stop) -> bool;
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A raised-once flag a sleeping scheduler thread wakes up for.
#[derive(Debug, Default)]
pub struct Stop {
    raised: Mutex<bool>,
    cv: Condvar,
}

impl Stop {
    /// A flag not raised yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Raises the flag and wakes every thread waiting on it.
    pub fn raise(&self) {
        *lock(&self.raised) = true;
        self.cv.notify_all();
    }

    /// Lowers the flag again (a stopped group that may run again).
    pub(crate) fn reset(&self) {
        *lock(&self.raised) = false;
    }

    /// Whether the flag is raised.
    pub fn is_raised(&self) -> bool {
        *lock(&self.raised)
    }

    /// Waits up to `timeout` for the flag; true if it is raised.
    pub fn wait(&self, timeout: Duration) -> bool {
        let g = lock(&self.raised);
        if *g {
            return true;
        }
        let (g, _) = self
            .cv
            .wait_timeout(g, timeout)
            .unwrap_or_else(|e| e.into_inner());
        *g
    }
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ns(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i64,
            Err(e) => -(e.duration().as_nanos() as i64),
        }
    }

    fn sleep_until(&self, deadline_ns: i64, stop: &Stop) -> bool {
        loop {
            let now = self.now_ns();
            if stop.is_raised() {
                return false;
            }
            if now >= deadline_ns {
                return true;
            }
            if stop.wait(Duration::from_nanos((deadline_ns - now) as u64)) {
                return false;
            }
        }
    }
}

/// A clock that moves only when told to: tests set and advance it, and
/// sleeping scheduler threads wake when it passes their deadline.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: Mutex<i64>,
    cv: Condvar,
}

impl ManualClock {
    /// A clock showing `now_ns`.
    pub fn new(now_ns: i64) -> Self {
        ManualClock {
            now: Mutex::new(now_ns),
            cv: Condvar::new(),
        }
    }

    /// Sets the time.
    pub fn set(&self, now_ns: i64) {
        *lock(&self.now) = now_ns;
        self.cv.notify_all();
    }

    /// Moves the time forward by `d`.
    pub fn advance(&self, d: Duration) {
        *lock(&self.now) += d.as_nanos() as i64;
        self.cv.notify_all();
    }
}

impl Clock for ManualClock {
    fn now_ns(&self) -> i64 {
        *lock(&self.now)
    }

    fn sleep_until(&self, deadline_ns: i64, stop: &Stop) -> bool {
        let mut now = lock(&self.now);
        loop {
            if stop.is_raised() {
                return false;
            }
            if *now >= deadline_ns {
                return true;
            }
            // A short wait so a raised stop is seen even if the clock
            // never moves again.
            now = self
                .cv
                .wait_timeout(now, Duration::from_millis(5))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}
