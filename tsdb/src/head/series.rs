//! In-memory series of the head (the maps that find them are
//! `series_map.rs`).

use std::hash::Hasher;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};

use aion_index::SeriesRef;

pub(crate) use super::mmapped::{MmappedChunk, MmappedChunks};
use super::ooo::OooState;
use super::open_chunk::{last_of, ChunkAppender, HistogramState, LastHistogram, SampleKind};
use super::symbols::InternedLabels;
use crate::chunks::HeadChunkStore;

/// The chunk a series is appending to, in memory.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct OpenChunk {
    pub app: ChunkAppender,
}

impl OpenChunk {
    /// Time of the first sample; `i64::MAX` while empty. Read back from
    /// the chunk's start, which encodes it anyway (a copy here cost every
    /// series 8 bytes); only cuts, queries and statistics ask.
    #[inline]
    pub fn min_time(&self) -> i64 {
        self.app.first_time().unwrap_or(i64::MAX)
    }

    /// Time of the last sample; `i64::MIN` while empty. Read from the
    /// appender, which keeps it for its encoding anyway (a copy here cost
    /// every series 8 bytes).
    #[inline]
    pub fn max_time(&self) -> i64 {
        self.app.last_time().unwrap_or(i64::MIN)
    }
}

/// Everything of a series that changes, behind its lock. Fields touched by
/// every append come first (see [`MemSeries`] on layout).
#[derive(Debug, Default)]
#[repr(C)]
pub(crate) struct SeriesState {
    /// The chunk being appended to.
    pub open: Option<OpenChunk>,
    /// Time at which the open chunk is cut (Prometheus's `nextAt`).
    pub next_at: i64,
    /// Isolation epoch of the last commit that touched the series.
    pub last_epoch: u64,
    /// Full chunks on disk, oldest first.
    pub mmapped: MmappedChunks,
    /// What few series have at any time, behind one pointer (`None` for
    /// most series, most of the time): 8 bytes in every series instead of
    /// 8 for each kind. Read and changed through the accessors below,
    /// which free it again when it empties.
    pub rare: Option<Box<RareState>>,
}

/// The state of a series that most series lack: each part is empty (or
/// `None`) unless the series needs it, and the whole box goes when all
/// are ([`SeriesState::tidy_rare`]).
#[derive(Debug, Default)]
pub(crate) struct RareState {
    /// `(epoch, max time before the first commit of that epoch)` for
    /// commits some running query must not see; see `isolation.rs`.
    pub boundaries: Vec<(u64, i64)>,
    /// Out-of-order samples, once the series has any.
    pub ooo: Option<Box<OooState>>,
    /// What the series keeps about its histograms, once it has had one.
    pub hist: Option<Box<HistogramState>>,
}

impl RareState {
    fn is_empty(&self) -> bool {
        self.boundaries.is_empty() && self.ooo.is_none() && self.hist.is_none()
    }
}

impl SeriesState {
    /// The rare state, created (empty) if there is none.
    pub fn rare_mut(&mut self) -> &mut RareState {
        self.rare.get_or_insert_with(Box::default)
    }

    /// Frees the rare state once nothing is left in it.
    pub fn tidy_rare(&mut self) {
        if self.rare.as_ref().is_some_and(|r| r.is_empty()) {
            self.rare = None;
        }
    }

    /// The isolation boundaries (see `isolation.rs`), oldest first.
    #[inline]
    pub fn boundaries(&self) -> &[(u64, i64)] {
        self.rare.as_ref().map_or(&[], |r| &r.boundaries)
    }

    /// The isolation boundaries, for changing them in place (`None` when
    /// there is no rare state; call [`SeriesState::tidy_rare`] after
    /// emptying them).
    #[inline]
    pub fn boundaries_mut(&mut self) -> Option<&mut Vec<(u64, i64)>> {
        self.rare.as_mut().map(|r| &mut r.boundaries)
    }

    /// The out-of-order state, if the series has out-of-order samples.
    pub fn ooo(&self) -> Option<&OooState> {
        self.rare.as_ref()?.ooo.as_deref()
    }

    /// The out-of-order state, for changing it.
    pub fn ooo_mut(&mut self) -> Option<&mut OooState> {
        self.rare.as_mut()?.ooo.as_deref_mut()
    }

    /// The out-of-order state, created empty if there is none.
    pub fn ooo_or_default(&mut self) -> &mut OooState {
        self.rare_mut().ooo.get_or_insert_with(Box::default)
    }

    /// Drops the out-of-order state (all of its chunks are gone).
    pub fn clear_ooo(&mut self) {
        if let Some(r) = &mut self.rare {
            r.ooo = None;
        }
        self.tidy_rare();
    }

    /// The histogram state, if the series has had a histogram.
    pub fn hist(&self) -> Option<&HistogramState> {
        self.rare.as_ref()?.hist.as_deref()
    }

    /// The histogram state, for changing it.
    pub fn hist_mut(&mut self) -> Option<&mut HistogramState> {
        self.rare.as_mut()?.hist.as_deref_mut()
    }

    /// Time of the newest sample, `i64::MIN` if none. Inline: every
    /// committed sample asks.
    #[inline]
    pub fn max_time(&self) -> i64 {
        match &self.open {
            Some(c) if c.max_time() != i64::MIN => c.max_time(),
            _ => self.mmapped.last().map_or(i64::MIN, |c| c.max_time),
        }
    }

    /// Time of the oldest sample, `i64::MAX` if none.
    pub fn min_time(&self) -> i64 {
        match (self.mmapped.first(), &self.open) {
            (Some(c), _) => c.min_time,
            (None, Some(c)) if c.max_time() != i64::MIN => c.min_time(),
            _ => i64::MAX,
        }
    }

    /// The kind of the newest in-order sample: the open chunk's, or the
    /// newest m-mapped chunk's (read from `store`); `None` without samples.
    pub fn last_kind(&self, store: &HeadChunkStore) -> Option<SampleKind> {
        match &self.open {
            Some(c) if c.max_time() != i64::MIN => Some(c.app.kind()),
            _ => {
                let last = self.mmapped.last()?;
                let (encoding, _) = store.chunk(last.chunk_ref).ok()?;
                SampleKind::of_encoding(encoding)
            }
        }
    }

    /// The newest in-order sample if it is a histogram, decoded from the
    /// chunks (and kept) when not known yet.
    pub fn last_histogram(&mut self, store: &HeadChunkStore) -> Option<&LastHistogram> {
        if self.hist().is_none_or(|h| h.last.is_none()) {
            let found = match &self.open {
                Some(c) if c.max_time() != i64::MIN => c.app.last_histogram(),
                _ => self.mmapped.last().and_then(|c| {
                    let (encoding, bytes) = store.chunk(c.chunk_ref).ok()?;
                    let chunk = aion_chunkenc::Chunk::from_raw(encoding, bytes.as_slice()).ok()?;
                    last_of(&mut chunk.iter())
                }),
            };
            let found = found?;
            self.histograms().last = Some(found);
        }
        self.hist()?.last.as_ref()
    }

    /// The series' histogram state, created on first use.
    pub fn histograms(&mut self) -> &mut HistogramState {
        self.rare_mut().hist.get_or_insert_with(Box::default)
    }

    /// Number of chunks, the open one and out-of-order ones included.
    pub fn num_chunks(&self) -> usize {
        self.mmapped.len()
            + usize::from(self.open.as_ref().is_some_and(|c| c.max_time() != i64::MIN))
            + self.ooo().map_or(0, |o| o.num_chunks())
    }
}

/// One series of the head.
///
/// Laid out so that what an append touches shares the first cache line:
/// the checks at append time read `max_time`, `last_value` (and, for a
/// duplicate timestamp or a stale marker, `last_kind`) and `logged`,
/// and the commit that follows (after the rest of the batch was checked)
/// takes the lock and writes the open chunk's fields right behind it, so
/// it finds that line still cached. Ingestion is bound by these misses.
///
/// The state's lock is a bare one-byte lock among the small fields, not a
/// `Mutex<SeriesState>`, which would pad its lock byte to 8 bytes: a
/// million series would pay 7 MB for padding. It is a [`SeriesLock`],
/// whose unlock is a plain store, because every committed sample takes
/// and releases it.
#[repr(C)]
pub(crate) struct MemSeries {
    /// Mirrors of the newest committed sample, read without the lock by
    /// appenders checking order before commit.
    max_time: AtomicI64,
    last_value: AtomicU64,
    pub series_ref: SeriesRef,
    /// Guards `state` ([`MemSeries::lock`]).
    raw_lock: SeriesLock,
    /// Whether a WAL series record for it has been written (or replayed).
    logged: AtomicBool,
    /// The [`SampleKind`] of the newest committed sample.
    last_kind: AtomicU8,
    /// Whether the series is in the head's postings. An appender that
    /// creates series adds them to the postings at its commit, all under
    /// one lock (`Appender::index_new_series`); set before `logged`, so a
    /// logged series is always indexed. In what would be padding.
    indexed: AtomicBool,
    /// The low 32 bits of the labels' hash: what the series maps file it
    /// under (see `series_map.rs`); in what would be padding otherwise.
    pub hash: u32,
    state: UnsafeCell<SeriesState>,
    /// The labels, as references into the head's symbol table
    /// ([`Head::labels_of`](super::Head::labels_of) reads them).
    pub labels: InternedLabels,
}

// SAFETY: `state` is only reached through `lock`, which hands out one
// guard at a time, so sharing a series shares no unsynchronised access;
// everything else in it is `Sync`. (`SeriesState` is `Send`, as
// `Mutex<SeriesState>: Sync` required before.)
unsafe impl Sync for MemSeries {}

/// A one-byte lock for a series' state, taken and released once for
/// every sample a commit applies.
///
/// Not `parking_lot::RawMutex`: its unlock is an atomic read-modify-write
/// (it must learn whether a waiter parked), a full barrier on x86 that
/// waits for the open chunk's stores of the sample just appended; the
/// profile of `aion bench write` put 9 % of all ingest CPU on that one
/// instruction. Here unlocking is a release store (a plain `mov`), and a
/// waiter, having no one to wake it, spins, then yields, then sleeps in
/// short naps until the byte is free. Contention on one series is rare (two
/// commits or a commit and a reader of the same series) and its sections
/// are short; the longest (a chunk cut writing to `chunks_head/`) is an
/// I/O that a nap of a few microseconds outlasts at little cost.
pub(crate) struct SeriesLock(AtomicBool);

impl SeriesLock {
    const fn new() -> SeriesLock {
        SeriesLock(AtomicBool::new(false))
    }

    #[inline]
    fn lock(&self) {
        if self
            .0
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        let mut tries = 0u32;
        loop {
            // Read before trying, so waiters do not bounce the line
            // between cores while the holder works.
            if !self.0.load(Ordering::Relaxed)
                && self
                    .0
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
            tries = tries.saturating_add(1);
            if tries < 64 {
                std::hint::spin_loop();
            } else if tries < 80 {
                std::thread::yield_now();
            } else {
                // The holder is descheduled or doing I/O: nap, longer the
                // longer it takes, up to 1 ms.
                let us = 1u64 << (tries - 80).min(10);
                std::thread::sleep(std::time::Duration::from_micros(us));
            }
        }
    }

    #[inline]
    fn unlock(&self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The locked state of a series (unlocked on drop), as a
/// `parking_lot::MutexGuard` would be; not `Send`, so that a lock is
/// released by the thread that took it.
pub(crate) struct StateGuard<'a> {
    series: &'a MemSeries,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Deref for StateGuard<'_> {
    type Target = SeriesState;

    #[inline]
    fn deref(&self) -> &SeriesState {
        // SAFETY: the guard holds the lock, so no other reference to the
        // state exists.
        unsafe { &*self.series.state.get() }
    }
}

impl DerefMut for StateGuard<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut SeriesState {
        // SAFETY: as in `deref`; `&mut self` makes this the only one.
        unsafe { &mut *self.series.state.get() }
    }
}

impl Drop for StateGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.series.raw_lock.unlock();
    }
}

/// The part of a label hash the series maps key series by (and the series
/// keeps): its low 32 bits.
#[inline]
pub(crate) fn map_key(hash: u64) -> u32 {
    hash as u32
}

impl MemSeries {
    /// A series under reference `series_ref`; `logged` for one replayed
    /// from the WAL (already logged, and indexed by the replay at once).
    pub fn new(
        series_ref: SeriesRef,
        labels: InternedLabels,
        hash: u64,
        logged: bool,
    ) -> MemSeries {
        MemSeries {
            series_ref,
            labels,
            hash: map_key(hash),
            max_time: AtomicI64::new(i64::MIN),
            last_value: AtomicU64::new(0),
            logged: AtomicBool::new(logged),
            indexed: AtomicBool::new(logged),
            last_kind: AtomicU8::new(SampleKind::Float as u8),
            raw_lock: SeriesLock::new(),
            state: UnsafeCell::new(SeriesState::default()),
        }
    }

    /// Locks the series' state.
    #[inline]
    pub fn lock(&self) -> StateGuard<'_> {
        self.raw_lock.lock();
        StateGuard {
            series: self,
            _not_send: std::marker::PhantomData,
        }
    }

    /// The newest committed sample `(t, v)`; `t` is `i64::MIN` if none.
    #[inline]
    pub fn last_sample(&self) -> (i64, f64) {
        let t = self.max_time.load(Ordering::Acquire);
        (t, f64::from_bits(self.last_value.load(Ordering::Relaxed)))
    }

    /// The kind of the newest committed sample (float for none).
    #[inline]
    pub fn last_kind(&self) -> SampleKind {
        SampleKind::from_u8(self.last_kind.load(Ordering::Relaxed))
    }

    /// Publishes a newly appended newest float sample (called under the
    /// lock).
    #[inline]
    pub fn publish(&self, t: i64, v: f64) {
        self.last_value.store(v.to_bits(), Ordering::Relaxed);
        self.last_kind
            .store(SampleKind::Float as u8, Ordering::Relaxed);
        self.max_time.store(t, Ordering::Release);
    }

    /// Publishes a newly appended newest histogram sample (called under
    /// the lock).
    #[inline]
    pub fn publish_histogram(&self, t: i64, kind: SampleKind) {
        self.last_value.store(0, Ordering::Relaxed);
        self.last_kind.store(kind as u8, Ordering::Relaxed);
        self.max_time.store(t, Ordering::Release);
    }

    /// Re-reads the newest sample from the state (after replay or
    /// truncation changed it wholesale).
    pub fn republish(&self, state: &SeriesState, store: &HeadChunkStore) {
        let t = state.max_time();
        match state.last_kind(store) {
            Some(k @ (SampleKind::Histogram | SampleKind::FloatHistogram)) => {
                self.publish_histogram(t, k)
            }
            _ => {
                let v = state
                    .open
                    .as_ref()
                    .filter(|c| c.max_time() != i64::MIN)
                    .map_or(0.0, |c| c.app.last_float());
                self.publish(t, v);
            }
        }
    }

    #[inline]
    pub fn is_logged(&self) -> bool {
        self.logged.load(Ordering::Acquire)
    }

    pub fn set_logged(&self) {
        self.logged.store(true, Ordering::Release);
    }

    #[inline]
    pub fn is_indexed(&self) -> bool {
        self.indexed.load(Ordering::Acquire)
    }

    /// Marks the series as added to the postings; called under the
    /// postings' write lock, which makes the addition happen once.
    pub fn set_indexed(&self) {
        self.indexed.store(true, Ordering::Release);
    }

    /// Estimated heap bytes of the series (struct, labels, chunk metas,
    /// open chunk), for head statistics.
    pub fn heap_bytes(&self, state: &SeriesState) -> usize {
        // The handle's one count (`series_arc.rs`) sits before the series.
        std::mem::size_of::<MemSeries>()
            + 8
            + self.labels.heap_bytes()
            + state.mmapped.heap_bytes()
            + state.rare.as_ref().map_or(0, |r| {
                std::mem::size_of::<RareState>() + r.boundaries.capacity() * 16
            })
            + state.open.as_ref().map_or(0, |c| c.app.heap_bytes())
            + state.hist().map_or(0, |h| {
                std::mem::size_of::<HistogramState>()
                    + h.last.as_ref().map_or(0, LastHistogram::heap_bytes)
            })
            + state.ooo().map_or(0, |o| o.heap_bytes())
    }
}

/// Mixes a key (a reference counter or an already computed label hash)
/// so that keys sharing low bits (all keys of one stripe do) still spread
/// over the whole table. SplitMix64's finaliser.
#[derive(Default, Clone, Copy)]
pub(crate) struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    /// Threads contending for one series lock (spinning, yielding and
    /// napping in `lock_contended`) never overlap inside it.
    #[test]
    fn series_lock_excludes_under_contention() {
        let lock = SeriesLock::new();
        let inside = AtomicBool::new(false);
        let n = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for i in 0..20_000u32 {
                        lock.lock();
                        assert!(!inside.swap(true, Ordering::Relaxed), "two holders");
                        if i % 5_000 == 0 {
                            // A long section, so that waiters reach the naps.
                            std::thread::sleep(std::time::Duration::from_millis(2));
                        }
                        n.fetch_add(1, Ordering::Relaxed);
                        inside.store(false, Ordering::Relaxed);
                        lock.unlock();
                    }
                });
            }
        });
        assert_eq!(n.load(Ordering::Relaxed), 80_000);
    }

    /// Pins the per-series struct sizes that head memory is made of (run
    /// with `--nocapture` to see them): a field added to the series or its
    /// state costs a million series its size in megabytes.
    #[test]
    fn per_series_structs_stay_small() {
        let sizes = [
            ("MemSeries", size_of::<MemSeries>()),
            ("SeriesState", size_of::<SeriesState>()),
            ("OpenChunk", size_of::<OpenChunk>()),
            ("ChunkAppender", size_of::<ChunkAppender>()),
            ("MmappedChunk", size_of::<MmappedChunk>()),
            ("InternedLabels", size_of::<InternedLabels>()),
            ("RareState", size_of::<RareState>()),
        ];
        for (name, size) in sizes {
            println!("size_of::<{name}>() = {size}");
        }
        // Issue 22: 208 bytes before the chunk list, hash, rare state and
        // open chunk were slimmed, 160 before the lock lost its padding
        // and the chunk list its fat pointer.
        assert!(size_of::<MemSeries>() <= 144, "{}", size_of::<MemSeries>());
        assert!(size_of::<MmappedChunks>() <= 8);
        assert_eq!(size_of::<Option<OpenChunk>>(), size_of::<OpenChunk>());
        assert!(size_of::<OpenChunk>() <= 56);
        assert!(size_of::<RareState>() <= 40);
    }
}
