//! In-memory series of the head and the striped map that finds them by
//! label hash and by reference.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use aion_index::SeriesRef;
use aion_model::Labels;
use parking_lot::{Mutex, RwLock};

use super::open_chunk::{last_of, ChunkAppender, HistogramState, LastHistogram, SampleKind};
use crate::chunks::{HeadChunkRef, HeadChunkStore};

/// A full chunk of a series, written to `chunks_head/` and read back
/// through mmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MmappedChunk {
    pub min_time: i64,
    pub max_time: i64,
    pub chunk_ref: HeadChunkRef,
}

/// The chunk a series is appending to, in memory.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct OpenChunk {
    pub app: ChunkAppender,
    pub min_time: i64,
    /// Time of the last sample; `i64::MIN` while empty.
    pub max_time: i64,
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
    pub mmapped: Vec<MmappedChunk>,
    /// `(epoch, max time before the first commit of that epoch)` for
    /// commits some running query must not see; see `isolation.rs`.
    pub boundaries: Vec<(u64, i64)>,
    /// Out-of-order samples, once the series has any.
    pub ooo: Option<Box<super::ooo::OooState>>,
    /// What the series keeps about its histograms, once it has had one.
    pub hist: Option<Box<HistogramState>>,
}

impl SeriesState {
    /// Time of the newest sample, `i64::MIN` if none.
    pub fn max_time(&self) -> i64 {
        match &self.open {
            Some(c) if c.max_time != i64::MIN => c.max_time,
            _ => self.mmapped.last().map_or(i64::MIN, |c| c.max_time),
        }
    }

    /// Time of the oldest sample, `i64::MAX` if none.
    pub fn min_time(&self) -> i64 {
        match (self.mmapped.first(), &self.open) {
            (Some(c), _) => c.min_time,
            (None, Some(c)) if c.max_time != i64::MIN => c.min_time,
            _ => i64::MAX,
        }
    }

    /// The kind of the newest in-order sample: the open chunk's, or the
    /// newest m-mapped chunk's (read from `store`); `None` without samples.
    pub fn last_kind(&self, store: &HeadChunkStore) -> Option<SampleKind> {
        match &self.open {
            Some(c) if c.max_time != i64::MIN => Some(c.app.kind()),
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
        if self.hist.as_ref().is_none_or(|h| h.last.is_none()) {
            let found = match &self.open {
                Some(c) if c.max_time != i64::MIN => c.app.last_histogram(),
                _ => self.mmapped.last().and_then(|c| {
                    let (encoding, bytes) = store.chunk(c.chunk_ref).ok()?;
                    let chunk = aion_chunkenc::Chunk::from_raw(encoding, bytes.as_slice()).ok()?;
                    last_of(&mut chunk.iter())
                }),
            };
            let found = found?;
            self.histograms().last = Some(found);
        }
        self.hist.as_ref()?.last.as_ref()
    }

    /// The series' histogram state, created on first use.
    pub fn histograms(&mut self) -> &mut HistogramState {
        self.hist.get_or_insert_with(Box::default)
    }

    /// Number of chunks, the open one and out-of-order ones included.
    pub fn num_chunks(&self) -> usize {
        self.mmapped.len()
            + usize::from(self.open.as_ref().is_some_and(|c| c.max_time != i64::MIN))
            + self.ooo.as_ref().map_or(0, |o| o.num_chunks())
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
#[repr(C)]
pub(crate) struct MemSeries {
    /// Mirrors of the newest committed sample, read without the lock by
    /// appenders checking order before commit.
    max_time: AtomicI64,
    last_value: AtomicU64,
    pub series_ref: SeriesRef,
    /// Whether a WAL series record for it has been written (or replayed).
    logged: AtomicBool,
    /// The [`SampleKind`] of the newest committed sample.
    last_kind: AtomicU8,
    pub state: Mutex<SeriesState>,
    pub labels: Labels,
    /// [`labels_hash`] of the labels, kept for removal from the hash map.
    pub hash: u64,
}

impl MemSeries {
    pub fn new(series_ref: SeriesRef, labels: Labels, hash: u64, logged: bool) -> MemSeries {
        MemSeries {
            series_ref,
            labels,
            hash,
            max_time: AtomicI64::new(i64::MIN),
            last_value: AtomicU64::new(0),
            logged: AtomicBool::new(logged),
            last_kind: AtomicU8::new(SampleKind::Float as u8),
            state: Mutex::new(SeriesState::default()),
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
                    .filter(|c| c.max_time != i64::MIN)
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

    /// Estimated heap bytes of the series (struct, labels, chunk metas,
    /// open chunk), for head statistics.
    pub fn heap_bytes(&self, state: &SeriesState) -> usize {
        std::mem::size_of::<MemSeries>()
            + 16
            + self.labels.heap_bytes()
            + state.mmapped.capacity() * std::mem::size_of::<MmappedChunk>()
            + state.boundaries.capacity() * 16
            + state.open.as_ref().map_or(0, |c| c.app.heap_bytes())
            + state.hist.as_ref().map_or(0, |h| {
                std::mem::size_of::<HistogramState>()
                    + h.last.as_ref().map_or(0, LastHistogram::heap_bytes)
            })
            + state.ooo.as_ref().map_or(0, |o| o.heap_bytes())
    }
}

/// Hashes label sets for the head's map: xxHash64 of their encoded bytes.
/// Unlike [`Labels::stable_hash`] it need not be stable across processes,
/// so it skips decoding the labels (a fifth of the ingestion profile of
/// new appenders used it).
struct BytesHasher(u64);

impl Hasher for BytesHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = aion_model::xxh64(bytes, self.0);
    }
    fn write_usize(&mut self, n: usize) {
        self.0 ^= n as u64;
    }
}

/// The hash the head keys series by.
pub(crate) fn labels_hash(labels: &Labels) -> u64 {
    use std::hash::Hash;
    let mut h = BytesHasher(0);
    labels.hash(&mut h);
    h.finish()
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

type MixMap<V> = HashMap<u64, V, BuildHasherDefault<MixHasher>>;

/// Series of one hash stripe: label hash → series. Hash collisions (two
/// label sets, one hash) go to `conflicts`, as in Prometheus.
#[derive(Default)]
struct HashStripe {
    unique: MixMap<Arc<MemSeries>>,
    conflicts: MixMap<Vec<Arc<MemSeries>>>,
}

impl HashStripe {
    fn get(&self, hash: u64, labels: &Labels) -> Option<&Arc<MemSeries>> {
        if let Some(s) = self.unique.get(&hash) {
            if s.labels == *labels {
                return Some(s);
            }
        }
        self.conflicts
            .get(&hash)?
            .iter()
            .find(|s| s.labels == *labels)
    }

    fn insert(&mut self, s: Arc<MemSeries>) {
        match self.unique.get(&s.hash) {
            None => {
                self.unique.insert(s.hash, s);
            }
            Some(_) => self.conflicts.entry(s.hash).or_default().push(s),
        }
    }

    fn remove(&mut self, s: &Arc<MemSeries>) {
        if self.unique.get(&s.hash).is_some_and(|u| Arc::ptr_eq(u, s)) {
            self.unique.remove(&s.hash);
            // Promote a conflicting series, so `unique` stays the first
            // place to look.
            if let Some(list) = self.conflicts.get_mut(&s.hash) {
                if let Some(next) = list.pop() {
                    self.unique.insert(s.hash, next);
                }
                if list.is_empty() {
                    self.conflicts.remove(&s.hash);
                }
            }
        } else if let Some(list) = self.conflicts.get_mut(&s.hash) {
            list.retain(|x| !Arc::ptr_eq(x, s));
            if list.is_empty() {
                self.conflicts.remove(&s.hash);
            }
        }
    }
}

/// The head's series, striped twice: by label hash (to find a series from
/// its labels) and by reference (to find it from a [`SeriesRef`]). A
/// lookup takes one stripe's read lock; creating or removing a series
/// takes the hash stripe's write lock, then the ref stripe's.
pub(crate) struct StripeSeries {
    by_hash: Box<[RwLock<HashStripe>]>,
    by_ref: Box<[RwLock<MixMap<Arc<MemSeries>>>]>,
    mask: u64,
}

/// Strong references to a series held by the maps: one in each.
const MAP_REFERENCES: usize = 2;

impl StripeSeries {
    /// A map with `stripes` stripes (rounded up to a power of two).
    pub fn new(stripes: usize) -> StripeSeries {
        let n = stripes.max(1).next_power_of_two();
        StripeSeries {
            by_hash: (0..n).map(|_| RwLock::new(HashStripe::default())).collect(),
            by_ref: (0..n).map(|_| RwLock::new(MixMap::default())).collect(),
            mask: n as u64 - 1,
        }
    }

    #[inline]
    fn hash_stripe(&self, hash: u64) -> &RwLock<HashStripe> {
        &self.by_hash[(hash & self.mask) as usize]
    }

    #[inline]
    fn ref_stripe(&self, r: SeriesRef) -> &RwLock<MixMap<Arc<MemSeries>>> {
        &self.by_ref[(r & self.mask) as usize]
    }

    #[inline]
    pub fn get_by_ref(&self, r: SeriesRef) -> Option<Arc<MemSeries>> {
        self.ref_stripe(r).read().get(&r).cloned()
    }

    pub fn get_by_hash(&self, hash: u64, labels: &Labels) -> Option<Arc<MemSeries>> {
        self.hash_stripe(hash).read().get(hash, labels).cloned()
    }

    /// The series with `labels`, or a new one made by `create` and
    /// inserted (`true` in the result) if there is none. `create` runs
    /// under the hash stripe's lock, so a label set gets one series even
    /// when many threads race to create it.
    pub fn get_or_insert<E>(
        &self,
        hash: u64,
        labels: &Labels,
        create: impl FnOnce() -> Result<MemSeries, E>,
    ) -> Result<(Arc<MemSeries>, bool), E> {
        let mut stripe = self.hash_stripe(hash).write();
        if let Some(s) = stripe.get(hash, labels) {
            return Ok((s.clone(), false));
        }
        let s = Arc::new(create()?);
        stripe.insert(s.clone());
        self.ref_stripe(s.series_ref)
            .write()
            .insert(s.series_ref, s.clone());
        Ok((s, true))
    }

    /// Removes `s` if nothing but the maps and the caller holds it (no
    /// appender or query has it in hand) and `still_removable` agrees
    /// under the series' lock. Returns whether it was removed.
    pub fn remove_if_unused(
        &self,
        s: &Arc<MemSeries>,
        still_removable: impl FnOnce(&SeriesState) -> bool,
    ) -> bool {
        let mut hs = self.hash_stripe(s.hash).write();
        let mut rs = self.ref_stripe(s.series_ref).write();
        // Lookups clone under these locks, so the count cannot grow now.
        if Arc::strong_count(s) != MAP_REFERENCES + 1 {
            return false;
        }
        if !still_removable(&s.state.lock()) {
            return false;
        }
        rs.remove(&s.series_ref);
        hs.remove(s);
        true
    }

    /// Calls `f` on every series, a stripe at a time (the stripe's series
    /// are collected first, so `f` runs without stripe locks).
    pub fn for_each(&self, mut f: impl FnMut(&Arc<MemSeries>)) {
        let mut batch = Vec::new();
        for stripe in self.by_ref.iter() {
            batch.extend(stripe.read().values().cloned());
            for s in batch.drain(..) {
                f(&s);
            }
        }
    }

    /// Estimated heap bytes of the maps themselves.
    pub fn heap_bytes(&self) -> usize {
        let entry = std::mem::size_of::<(u64, Arc<MemSeries>)>() + 1;
        let mut n = std::mem::size_of_val(&*self.by_hash) + std::mem::size_of_val(&*self.by_ref);
        for s in self.by_hash.iter() {
            let s = s.read();
            n += s.unique.capacity() * entry + s.conflicts.capacity() * (entry + 16);
        }
        for s in self.by_ref.iter() {
            n += s.read().capacity() * entry;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(i: usize) -> Labels {
        Labels::from_pairs(&[("__name__", "m".to_string()), ("i", i.to_string())]).unwrap()
    }

    #[test]
    fn finds_by_hash_and_ref_and_handles_collisions() {
        let m = StripeSeries::new(4);
        let mut made = Vec::new();
        for i in 0..100 {
            let l = labels(i);
            // Force collisions: every series gets hash 7.
            let (s, created) = m
                .get_or_insert::<()>(7, &l, || {
                    Ok(MemSeries::new(i as u64 + 1, l.clone(), 7, false))
                })
                .unwrap();
            assert!(created);
            made.push(s);
        }
        for (i, s) in made.iter().enumerate() {
            let l = labels(i);
            assert!(Arc::ptr_eq(&m.get_by_hash(7, &l).unwrap(), s));
            assert!(Arc::ptr_eq(&m.get_by_ref(i as u64 + 1).unwrap(), s));
            let (again, created) = m.get_or_insert::<()>(7, &l, || unreachable!()).unwrap();
            assert!(!created && Arc::ptr_eq(&again, s));
        }
        // Held by `made` too: not removable while in hand elsewhere.
        let extra = made[3].clone();
        assert!(!m.remove_if_unused(&made[3], |_| true));
        drop(extra);
        assert!(m.remove_if_unused(&made[3], |_| true));
        assert!(m.get_by_ref(4).is_none());
        assert!(m.get_by_hash(7, &labels(3)).is_none());
        for i in (0..100).filter(|&i| i != 3) {
            assert!(m.get_by_hash(7, &labels(i)).is_some(), "{i}");
        }
        let mut n = 0;
        m.for_each(|_| n += 1);
        assert_eq!(n, 99);
    }
}
