//! The registry of open queries: head truncation after a persistence
//! waits for the queries that may still need the head's copy of the
//! persisted range.
//!
//! A query holds `Arc`s of the blocks it reads; a block replaced or
//! dropped meanwhile is deleted from disk when the last query using it
//! ends. The head drops data it persisted only once no query that started
//! before the new block was visible reads that range (such a query may not
//! see the block, so it must still see the head's copy); until then
//! queries see both copies, which the merge deduplicates.

use std::collections::BTreeMap;

use parking_lot::Mutex;

/// Open queries, so head truncation can wait for the ones that may need
/// the head's copy of persisted data.
#[derive(Default)]
pub(super) struct Readers {
    state: Mutex<ReadersState>,
}

#[derive(Default)]
struct ReadersState {
    next_id: u64,
    /// Open queries by id: their minimum time.
    open: BTreeMap<u64, i64>,
}

/// Keeps a query registered while alive.
pub(crate) struct ReaderGuard<'a> {
    readers: &'a Readers,
    id: u64,
}

impl Drop for ReaderGuard<'_> {
    fn drop(&mut self) {
        self.readers.state.lock().open.remove(&self.id);
    }
}

impl Readers {
    pub(super) fn register(&self, mint: i64) -> ReaderGuard<'_> {
        let mut st = self.state.lock();
        let id = st.next_id;
        st.next_id += 1;
        st.open.insert(id, mint);
        ReaderGuard { readers: self, id }
    }

    /// Id the next registered query will get.
    pub(super) fn generation(&self) -> u64 {
        self.state.lock().next_id
    }

    /// Whether a query registered before `generation` reads below `t`.
    pub(super) fn any_older_than(&self, generation: u64, t: i64) -> bool {
        self.state
            .lock()
            .open
            .range(..generation)
            .any(|(_, &mint)| mint < t)
    }
}
