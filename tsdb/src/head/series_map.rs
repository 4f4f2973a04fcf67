//! The head's two indexes of its series: by label hash, to find a series
//! from its labels, and by reference, to find it from a [`SeriesRef`].
//!
//! Both are striped (a lookup takes one stripe's read lock; creating or
//! removing a series takes the hash stripe's write lock, then the ref
//! stripe's) and laid out for memory, since a large head holds millions
//! of entries:
//!
//! * by hash, an open-addressing table of bare series pointers (8 bytes
//!   and a control byte per slot): the hash lives in the series, so the
//!   table stores no key, and series whose labels hash alike simply share
//!   a probe sequence (no separate collision list). The maps use the low
//!   32 bits of the label hash only ([`map_key`](super::series::map_key)), which fit in padding of
//!   the series struct; at a million series some hundred pairs share
//!   them, and those just compare labels, as any probe hit does;
//! * by reference, pages of slots indexed directly by the reference:
//!   references are handed out densely from 1 (and the WAL's are too), so
//!   a page of 64 consecutive references costs 8 bytes a series and no
//!   hashing; pages left empty by truncation are freed, so series churn
//!   leaves nothing behind. A page, not a reference, picks its stripe:
//!   a scrape target's series were created together and have neighbouring
//!   references, so an appender walking them takes one stripe's lock 64
//!   times in a row, in a cache line its core already owns. Striping by
//!   reference made every lookup take a different stripe's lock, and two
//!   threads appending at once bounced the lock words' cache lines between
//!   their cores on every sample (the lock word's load and CAS were 78 % of
//!   the lookup, and the lookup half of an ingest with an appender per
//!   scrape).

use aion_index::SeriesRef;
use hashbrown::HashTable;
use parking_lot::RwLock;

use super::series::{map_key, MemSeries, SeriesState};
use super::series_arc::SeriesArc;

/// Series references per page of a reference stripe.
const PAGE_SLOTS: usize = 64;

/// Strong references to a series held by the maps: one in each.
const MAP_REFERENCES: usize = 2;

/// The hash a stripe's table files a series of key `key` under. All keys
/// of a stripe share their low bits (they chose the stripe), and the
/// table takes its slot from the low bits and a tag from the top seven,
/// so the key is mixed first (a MurmurHash3-style finaliser).
#[inline]
fn table_hash(key: u32) -> u64 {
    let hash = u64::from(key);
    let mut x = hash ^ (hash >> 33);
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 33)
}

/// The table hash of a series already in the map.
#[inline]
fn hash_of(s: &SeriesArc) -> u64 {
    table_hash(s.hash)
}

/// One page of a reference stripe: the slots of `PAGE_SLOTS` consecutive
/// in-stripe indexes.
struct Page {
    /// In-stripe index of the first slot, divided by `PAGE_SLOTS`.
    number: u64,
    /// Occupied slots; the page is freed at zero.
    live: u32,
    slots: Box<[Option<SeriesArc>]>,
}

/// The series of one reference stripe, by in-stripe index (see
/// [`StripeSeries::ref_stripe`]), in pages sorted by number.
#[derive(Default)]
struct RefStripe {
    pages: Vec<Page>,
}

/// A stripe's lock alone in its cache line (two lines: CPUs fetch lines
/// in adjacent pairs), so that threads working on neighbouring stripes
/// do not invalidate each other's lock words.
#[repr(align(128))]
#[derive(Default)]
struct PaddedStripe(RwLock<RefStripe>);

impl RefStripe {
    /// Position of page `number` in `pages`, or where it would go.
    #[inline]
    fn find(&self, number: u64) -> Result<usize, usize> {
        // References are dense, so the pages usually are too: try the
        // position the numbering predicts before searching.
        if let Some(first) = self.pages.first() {
            if let Some(guess) = number.checked_sub(first.number) {
                if let Some(p) = self.pages.get(guess as usize) {
                    if p.number == number {
                        return Ok(guess as usize);
                    }
                }
            }
        }
        self.pages.binary_search_by_key(&number, |p| p.number)
    }

    #[inline]
    fn get(&self, index: u64) -> Option<&SeriesArc> {
        let (number, slot) = (index / PAGE_SLOTS as u64, index as usize % PAGE_SLOTS);
        let at = self.find(number).ok()?;
        self.pages[at].slots[slot].as_ref()
    }

    fn insert(&mut self, index: u64, s: SeriesArc) {
        let (number, slot) = (index / PAGE_SLOTS as u64, index as usize % PAGE_SLOTS);
        let at = match self.find(number) {
            Ok(at) => at,
            Err(at) => {
                self.pages.insert(
                    at,
                    Page {
                        number,
                        live: 0,
                        slots: (0..PAGE_SLOTS).map(|_| None).collect(),
                    },
                );
                at
            }
        };
        let page = &mut self.pages[at];
        if page.slots[slot].replace(s).is_none() {
            page.live += 1;
        }
    }

    fn remove(&mut self, index: u64) {
        let (number, slot) = (index / PAGE_SLOTS as u64, index as usize % PAGE_SLOTS);
        let Ok(at) = self.find(number) else {
            return;
        };
        let page = &mut self.pages[at];
        if page.slots[slot].take().is_some() {
            page.live -= 1;
            if page.live == 0 {
                self.pages.remove(at);
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        self.pages.capacity() * std::mem::size_of::<Page>()
            + self.pages.len() * PAGE_SLOTS * std::mem::size_of::<Option<SeriesArc>>()
    }
}

/// The head's series, indexed by label hash and by reference.
pub(crate) struct StripeSeries {
    by_hash: Box<[RwLock<HashTable<SeriesArc>>]>,
    by_ref: Box<[PaddedStripe]>,
    mask: u64,
    /// log2 of the stripe count.
    shift: u32,
}

impl StripeSeries {
    /// A map with `stripes` stripes (rounded up to a power of two).
    pub fn new(stripes: usize) -> StripeSeries {
        let n = stripes.max(1).next_power_of_two();
        StripeSeries {
            by_hash: (0..n).map(|_| RwLock::new(HashTable::new())).collect(),
            by_ref: (0..n).map(|_| PaddedStripe::default()).collect(),
            mask: n as u64 - 1,
            shift: n.trailing_zeros(),
        }
    }

    #[inline]
    fn hash_stripe(&self, key: u32) -> &RwLock<HashTable<SeriesArc>> {
        &self.by_hash[(u64::from(key) & self.mask) as usize]
    }

    /// The stripe of reference `r` and `r`'s index in it. Pages of
    /// `PAGE_SLOTS` consecutive references go to the stripes in turn; in
    /// a stripe, the page numbers are the global ones without the stripe
    /// bits, so the stripe's pages are dense too.
    #[inline]
    fn ref_stripe(&self, r: SeriesRef) -> (&RwLock<RefStripe>, u64) {
        let page = r / PAGE_SLOTS as u64;
        let index = (page >> self.shift) * PAGE_SLOTS as u64 + r % PAGE_SLOTS as u64;
        (&self.by_ref[(page & self.mask) as usize].0, index)
    }

    #[inline]
    pub fn get_by_ref(&self, r: SeriesRef) -> Option<SeriesArc> {
        let (stripe, index) = self.ref_stripe(r);
        stripe.read().get(index).cloned()
    }

    /// The series of label hash `hash` for which `is_it` holds (it
    /// compares the labels; series of another hash are not asked).
    pub fn get_by_hash(&self, hash: u64, is_it: impl Fn(&MemSeries) -> bool) -> Option<SeriesArc> {
        let key = map_key(hash);
        self.hash_stripe(key)
            .read()
            .find(table_hash(key), |s| s.hash == key && is_it(s))
            .cloned()
    }

    /// The series of label hash `hash` for which `is_it` holds, or a new
    /// one made by `create` and inserted (`true` in the result) if there
    /// is none. `create` runs under the hash stripe's lock, so a label set
    /// gets one series even when many threads race to create it.
    pub fn get_or_insert<E>(
        &self,
        hash: u64,
        is_it: impl Fn(&MemSeries) -> bool,
        create: impl FnOnce() -> Result<MemSeries, E>,
    ) -> Result<(SeriesArc, bool), E> {
        let key = map_key(hash);
        let mut stripe = self.hash_stripe(key).write();
        if let Some(s) = stripe.find(table_hash(key), |s| s.hash == key && is_it(s)) {
            return Ok((s.clone(), false));
        }
        let s = SeriesArc::new(create()?);
        debug_assert_eq!(s.hash, key, "created with another hash");
        stripe.insert_unique(table_hash(key), s.clone(), hash_of);
        let (ref_stripe, index) = self.ref_stripe(s.series_ref);
        ref_stripe.write().insert(index, s.clone());
        Ok((s, true))
    }

    /// Removes `s` if nothing but the maps and the caller holds it (no
    /// appender or query has it in hand) and `still_removable` agrees
    /// under the series' lock. Returns whether it was removed.
    pub fn remove_if_unused(
        &self,
        s: &SeriesArc,
        still_removable: impl FnOnce(&SeriesState) -> bool,
    ) -> bool {
        let mut hs = self.hash_stripe(s.hash).write();
        let (ref_stripe, index) = self.ref_stripe(s.series_ref);
        let mut rs = ref_stripe.write();
        // Lookups clone under these locks, so the count cannot grow now.
        if SeriesArc::strong_count(s) != MAP_REFERENCES + 1 {
            return false;
        }
        if !still_removable(&s.lock()) {
            return false;
        }
        rs.remove(index);
        if let Ok(entry) = hs.find_entry(hash_of(s), |x| SeriesArc::ptr_eq(x, s)) {
            entry.remove();
        }
        true
    }

    /// Calls `f` on every series, a stripe at a time (the stripe's series
    /// are collected first, so `f` runs without stripe locks).
    pub fn for_each(&self, mut f: impl FnMut(&SeriesArc)) {
        let mut batch = Vec::new();
        for stripe in self.by_ref.iter() {
            batch.extend(
                stripe
                    .0
                    .read()
                    .pages
                    .iter()
                    .flat_map(|p| p.slots.iter().flatten().cloned()),
            );
            for s in batch.drain(..) {
                f(&s);
            }
        }
    }

    /// Estimated heap bytes of the maps themselves.
    pub fn heap_bytes(&self) -> usize {
        let slot = std::mem::size_of::<SeriesArc>() + 1;
        let mut n = std::mem::size_of_val(&*self.by_hash) + std::mem::size_of_val(&*self.by_ref);
        for s in self.by_hash.iter() {
            // A table's buckets: capacity / load factor 7/8, rounded up
            // to a power of two (hashbrown's sizing).
            let cap = s.read().capacity();
            if cap > 0 {
                n += (cap * 8 / 7).next_power_of_two() * slot;
            }
        }
        for s in self.by_ref.iter() {
            n += s.0.read().heap_bytes();
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::super::symbols::SymbolTable;
    use super::*;
    use aion_model::Labels;

    fn labels(i: usize) -> Labels {
        Labels::from_pairs(&[("__name__", "m".to_string()), ("i", i.to_string())]).unwrap()
    }

    #[test]
    fn finds_by_hash_and_ref_and_handles_collisions() {
        let m = StripeSeries::new(4);
        let t = SymbolTable::new();
        let is = |l: &Labels| {
            let l = l.clone();
            let t = &t;
            move |s: &MemSeries| {
                super::super::symbols::with_encoding(&l, |e| t.matches(&s.labels, e))
            }
        };
        let mut made = Vec::new();
        for i in 0..100 {
            let l = labels(i);
            // Force collisions: every series gets hash 7.
            let (s, created) = m
                .get_or_insert::<()>(7, is(&l), || {
                    Ok(MemSeries::new(i as u64 + 1, t.intern(&l), 7, false))
                })
                .unwrap();
            assert!(created);
            made.push(s);
        }
        for (i, s) in made.iter().enumerate() {
            let l = labels(i);
            assert!(SeriesArc::ptr_eq(&m.get_by_hash(7, is(&l)).unwrap(), s));
            assert!(SeriesArc::ptr_eq(&m.get_by_ref(i as u64 + 1).unwrap(), s));
            let (again, created) = m.get_or_insert::<()>(7, is(&l), || unreachable!()).unwrap();
            assert!(!created && SeriesArc::ptr_eq(&again, s));
        }
        // Held by `made` too: not removable while in hand elsewhere.
        let extra = made[3].clone();
        assert!(!m.remove_if_unused(&made[3], |_| true));
        drop(extra);
        assert!(m.remove_if_unused(&made[3], |_| true));
        assert!(m.get_by_ref(4).is_none());
        assert!(m.get_by_hash(7, is(&labels(3))).is_none());
        for i in (0..100).filter(|&i| i != 3) {
            assert!(m.get_by_hash(7, is(&labels(i))).is_some(), "{i}");
        }
        let mut n = 0;
        m.for_each(|_| n += 1);
        assert_eq!(n, 99);
    }

    #[test]
    fn sparse_and_churning_references_free_their_pages() {
        let m = StripeSeries::new(2);
        let t = SymbolTable::new();
        // References far apart, out of order, and one beyond u32.
        let refs = [5u64, 1 << 40, 3, 10_000, 1, 7_777_777];
        let made: Vec<_> = refs
            .iter()
            .map(|&r| {
                let l = labels(r as usize);
                let h = super::super::symbols::labels_hash(&l);
                m.get_or_insert::<()>(
                    h,
                    |s| super::super::symbols::with_encoding(&l, |e| t.matches(&s.labels, e)),
                    || Ok(MemSeries::new(r, t.intern(&l), h, false)),
                )
                .unwrap()
                .0
            })
            .collect();
        for (&r, s) in refs.iter().zip(&made) {
            assert!(SeriesArc::ptr_eq(&m.get_by_ref(r).unwrap(), s), "{r}");
        }
        assert!(m.get_by_ref(2).is_none() && m.get_by_ref(6).is_none());
        assert!(m.get_by_ref((1 << 40) + 2).is_none());
        let pages =
            |m: &StripeSeries| -> usize { m.by_ref.iter().map(|s| s.0.read().pages.len()).sum() };
        assert_eq!(pages(&m), 4, "1, 3 and 5 share a page");
        for s in made {
            assert!(m.remove_if_unused(&s, |_| true));
        }
        assert_eq!(pages(&m), 0);
        assert!(m.heap_bytes() < 4096);
    }
}
