//! Isolation between commits and queries: a query sees every batch whose
//! commit returned before the query started, and nothing of a batch
//! committed later.
//!
//! The design is cheaper than Prometheus's per-sample append IDs:
//!
//! * A global **epoch** counts queries started. A commit applies its
//!   samples holding a shared *gate* and stamps each series it touches
//!   with the current epoch. A query starts by taking the gate exclusively
//!   (waiting only for commits already applying, microseconds) and
//!   incrementing the epoch: every commit that applied before has an epoch
//!   at most the query's, every later one a greater epoch.
//! * Because no commit is half-applied when a query starts, and samples of
//!   a series are in time order, what a query may see of a series is a
//!   *prefix*: the samples up to the series' newest time before the first
//!   commit of a later epoch. A commit records that time on the series
//!   (a **boundary**) only while a query older than its epoch is running;
//!   otherwise the series carries nothing but its last epoch.
//!
//! So appending costs one shared-lock acquisition per commit and a compare
//! per touched series; a query costs one exclusive acquisition at start and
//! a short scan of (usually zero) boundaries per series.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock, RwLockReadGuard};

use super::series::SeriesState;

/// The shared isolation state of a head.
pub(crate) struct Isolation {
    gate: RwLock<()>,
    /// Epoch stamped on commits applying now.
    epoch: AtomicU64,
    /// Epochs of running queries, with counts.
    readers: Mutex<BTreeMap<u64, usize>>,
    /// Smallest epoch of a running query, `u64::MAX` if none.
    low_watermark: AtomicU64,
}

/// Held while a commit applies its samples.
pub(crate) struct ApplyGuard<'a> {
    _gate: RwLockReadGuard<'a, ()>,
    pub epoch: u64,
    pub low_watermark: u64,
}

/// A running query's view; deregisters when dropped.
pub(crate) struct ReadView {
    iso: Arc<Isolation>,
    pub epoch: u64,
}

impl Drop for ReadView {
    fn drop(&mut self) {
        self.iso.end_read(self.epoch);
    }
}

impl Isolation {
    pub fn new() -> Arc<Isolation> {
        Arc::new(Isolation {
            gate: RwLock::new(()),
            epoch: AtomicU64::new(1),
            readers: Mutex::new(BTreeMap::new()),
            low_watermark: AtomicU64::new(u64::MAX),
        })
    }

    /// Starts applying a commit.
    pub fn begin_apply(&self) -> ApplyGuard<'_> {
        let gate = self.gate.read();
        // Queries register under the exclusive gate, so both values are
        // stable while `gate` is held.
        ApplyGuard {
            epoch: self.epoch.load(Ordering::Acquire),
            low_watermark: self.low_watermark.load(Ordering::Acquire),
            _gate: gate,
        }
    }

    /// Starts a query.
    pub fn begin_read(self: &Arc<Self>) -> ReadView {
        let _gate = self.gate.write();
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel);
        let mut readers = self.readers.lock();
        *readers.entry(epoch).or_insert(0) += 1;
        let low = *readers.keys().next().expect("just inserted");
        self.low_watermark.store(low, Ordering::Release);
        ReadView {
            iso: self.clone(),
            epoch,
        }
    }

    fn end_read(&self, epoch: u64) {
        let mut readers = self.readers.lock();
        if let Some(n) = readers.get_mut(&epoch) {
            *n -= 1;
            if *n == 0 {
                readers.remove(&epoch);
            }
        }
        let low = readers.keys().next().copied().unwrap_or(u64::MAX);
        self.low_watermark.store(low, Ordering::Release);
    }

    /// Smallest epoch of a running query, `u64::MAX` if none.
    pub fn low_watermark(&self) -> u64 {
        self.low_watermark.load(Ordering::Acquire)
    }

    /// Number of running queries.
    #[cfg(test)]
    pub fn active_readers(&self) -> usize {
        self.readers.lock().values().sum()
    }
}

/// Notes on `state` that a commit of `epoch` is about to append to it.
/// Call under the series lock, before the append.
#[inline(always)]
pub(crate) fn record_commit(state: &mut SeriesState, epoch: u64, low_watermark: u64) {
    if state.last_epoch == epoch {
        return;
    }
    // A boundary is needed by queries older than `epoch`; those with an
    // epoch at or below `low_watermark` need none of the older ones.
    if let Some(b) = state.boundaries_mut() {
        if !b.is_empty() {
            b.retain(|&(e, _)| e > low_watermark);
            if b.is_empty() {
                *b = Vec::new();
                state.tidy_rare();
            }
        }
    }
    if low_watermark < epoch {
        let before = state.max_time();
        state.rare_mut().boundaries.push((epoch, before));
    }
    state.last_epoch = epoch;
}

/// The newest sample time a query of `read_epoch` may see in `state`.
#[inline]
pub(crate) fn visible_max_time(state: &SeriesState, read_epoch: u64) -> i64 {
    if state.last_epoch <= read_epoch {
        return state.max_time();
    }
    state
        .boundaries()
        .iter()
        .find(|&&(e, _)| e > read_epoch)
        .map_or(i64::MIN, |&(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_samples(max: i64) -> SeriesState {
        let mut app = aion_chunkenc::XorAppender::new();
        app.append(max, 1.0).unwrap();
        SeriesState {
            open: Some(super::super::series::OpenChunk {
                app: super::super::open_chunk::ChunkAppender::Xor(app),
            }),
            ..SeriesState::default()
        }
    }

    #[test]
    fn a_query_sees_commits_before_it_and_none_after() {
        let iso = Isolation::new();
        let mut st = SeriesState::default();
        {
            let g = iso.begin_apply();
            record_commit(&mut st, g.epoch, g.low_watermark);
        }
        st = SeriesState {
            last_epoch: st.last_epoch,
            ..with_samples(10)
        };
        let q = iso.begin_read();
        assert_eq!(visible_max_time(&st, q.epoch), 10);
        {
            let g = iso.begin_apply();
            assert!(g.epoch > q.epoch);
            record_commit(&mut st, g.epoch, g.low_watermark);
        }
        match &mut st.open.as_mut().unwrap().app {
            super::super::open_chunk::ChunkAppender::Xor(a) => a.append(20, 2.0).unwrap(),
            other => panic!("{other:?}"),
        }
        assert_eq!(visible_max_time(&st, q.epoch), 10);
        let q2 = iso.begin_read();
        assert_eq!(visible_max_time(&st, q2.epoch), 20);
        drop(q);
        drop(q2);
        assert_eq!(iso.active_readers(), 0);
        // With no query running, the next commit forgets boundaries.
        let g = iso.begin_apply();
        assert_eq!(g.low_watermark, u64::MAX);
        record_commit(&mut st, g.epoch, g.low_watermark);
        assert!(st.boundaries().is_empty());
        assert!(st.rare.is_none(), "an emptied rare state is freed");
    }

    #[test]
    fn a_series_created_after_the_query_is_invisible() {
        let iso = Isolation::new();
        let q = iso.begin_read();
        let mut st = SeriesState::default();
        let g = iso.begin_apply();
        record_commit(&mut st, g.epoch, g.low_watermark);
        drop(g);
        let (epoch, boundaries) = (st.last_epoch, st.boundaries().to_vec());
        st = SeriesState {
            last_epoch: epoch,
            ..with_samples(5)
        };
        st.rare_mut().boundaries = boundaries;
        assert_eq!(visible_max_time(&st, q.epoch), i64::MIN);
    }
}
