//! Failure injection between the steps of multi-step disk operations
//! (block writing, compaction, deletion), so tests can check that a crash
//! at any step leaves a directory that opens with nothing lost or
//! duplicated.
//!
//! Compiled only for the crate's own tests; in every other build
//! [`hit`] is an empty inline function.

#[cfg(test)]
pub(crate) use imp::{arm, hit, take_log};

/// No failure injection outside the crate's tests.
#[cfg(not(test))]
#[inline(always)]
pub(crate) fn hit(_name: &'static str) -> crate::Result<()> {
    Ok(())
}

#[cfg(test)]
mod imp {
    use std::cell::RefCell;

    thread_local! {
        /// The armed failpoint and how many hits to let pass first.
        static ARMED: RefCell<Option<(String, usize)>> = const { RefCell::new(None) };
        /// Every failpoint hit on this thread, in order.
        static LOG: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
    }

    pub(crate) fn hit(name: &'static str) -> crate::Result<()> {
        LOG.with(|l| l.borrow_mut().push(name));
        ARMED.with(|a| {
            let mut a = a.borrow_mut();
            match a.as_mut() {
                Some((armed, skip)) if armed == name => {
                    if *skip == 0 {
                        *a = None;
                        Err(crate::Error::Injected(name))
                    } else {
                        *skip -= 1;
                        Ok(())
                    }
                }
                _ => Ok(()),
            }
        })
    }

    /// Makes the `skip + 1`-th next hit of `name` on this thread fail.
    pub(crate) fn arm(name: &str, skip: usize) {
        ARMED.with(|a| *a.borrow_mut() = Some((name.to_string(), skip)));
    }

    /// Disarms and returns the failpoints hit since the last call.
    pub(crate) fn take_log() -> Vec<&'static str> {
        ARMED.with(|a| *a.borrow_mut() = None);
        LOG.with(|l| std::mem::take(&mut *l.borrow_mut()))
    }
}
