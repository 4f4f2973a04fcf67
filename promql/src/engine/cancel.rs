//! Stopping a query from outside (a token) or by time (a deadline).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::error::{Error, Result};

/// A handle that stops queries it was given to. Clones share one flag.
///
/// ```
/// use aion_promql::CancellationToken;
/// let token = CancellationToken::new();
/// let for_query = token.clone();
/// token.cancel();
/// assert!(for_query.is_canceled());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancellationToken(Arc<AtomicBool>);

impl CancellationToken {
    /// A token that is not canceled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every query holding a clone to stop; they return
    /// [`Error::Canceled`] at their next check.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_canceled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The stop conditions of one running query.
#[derive(Debug)]
pub(crate) struct Stopper {
    token: Option<CancellationToken>,
    deadline: Option<Instant>,
    // Reading the clock costs more than the checks themselves, so only one
    // check in 64 looks at it.
    ticks: AtomicU32,
}

impl Stopper {
    pub(crate) fn new(token: Option<CancellationToken>, deadline: Option<Instant>) -> Self {
        Stopper {
            token,
            deadline,
            ticks: AtomicU32::new(0),
        }
    }

    /// Fails when the query was canceled or timed out.
    #[inline]
    pub(crate) fn check(&self) -> Result<()> {
        if let Some(t) = &self.token {
            if t.is_canceled() {
                return Err(Error::Canceled);
            }
        }
        if let Some(d) = self.deadline {
            if self.ticks.fetch_add(1, Ordering::Relaxed) % 64 == 0 && Instant::now() >= d {
                return Err(Error::Timeout);
            }
        }
        Ok(())
    }
}
