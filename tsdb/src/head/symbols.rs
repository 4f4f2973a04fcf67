//! The head's label symbols: every distinct label name and value its
//! series use, stored once and counted, so a series keeps only small
//! references to them ([`InternedLabels`]).
//!
//! Most label values repeat across series (`job`, `env`, `region`, the
//! metric name, an instance's address across its metrics), so a head of a
//! million series holds far fewer distinct strings than label pairs; a
//! series' label set shrinks from its encoded strings (about 110 bytes for
//! five labels) to a varint reference per string (10–20 bytes).
//!
//! Lifetime: a symbol counts the label sets referring to it and is freed
//! when the last one is released, so series churn (new instances, new
//! pods) does not grow the table for ever; its slot is reused for the next
//! new string. Label sets are released by the head when it removes their
//! series (no one holds it then, see `series_map.rs`), so no reference
//! outlives its symbols. A freed or unknown reference reads as the empty
//! string, never a panic.
//!
//! The public [`Labels`] type is unchanged: the head builds one when a
//! query, a WAL series record or the postings need it.

use std::cell::RefCell;
use std::hash::{Hash, Hasher};

use aion_model::encoding::put_uvarint;
use aion_model::{xxh64, Labels};
use hashbrown::HashTable;
use parking_lot::RwLock;

use super::small_bytes::SmallBytes;

/// Calls `f` with the canonical encoding of `labels`: for each label in
/// name order `uvarint(len) name uvarint(len) value`, the buffer a
/// [`Labels`] keeps (its documented layout), which is also what it feeds a
/// hasher. Copying it out through a hasher gives its bytes without
/// decoding a string, so comparing with interned labels and hashing take
/// one pass (`encoding_is_the_labels_buffer` pins the assumption).
pub(crate) fn with_encoding<R>(labels: &Labels, f: impl FnOnce(&[u8]) -> R) -> R {
    /// Records what it is fed; the length prefix `[u8]` hashes first is
    /// implied by the bytes themselves.
    struct Capture<'a>(&'a mut Vec<u8>);
    impl Hasher for Capture<'_> {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.extend_from_slice(bytes);
        }
        fn write_usize(&mut self, _: usize) {}
    }
    thread_local! {
        static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    BUF.with(|buf| {
        let mut own;
        let mut borrowed;
        // Re-entered (a caller's `f` encoding again): use a fresh buffer.
        let buf: &mut Vec<u8> = match buf.try_borrow_mut() {
            Ok(b) => {
                borrowed = b;
                &mut borrowed
            }
            Err(_) => {
                own = Vec::new();
                &mut own
            }
        };
        buf.clear();
        labels.hash(&mut Capture(buf));
        f(buf)
    })
}

/// The hash the head keys series by, from their canonical encoding:
/// xxHash64 seeded with the length. Unlike [`Labels::stable_hash`] it need
/// not be stable across processes, so it hashes the encoding as it is
/// instead of decoding every label.
#[inline]
pub(crate) fn encoding_hash(encoding: &[u8]) -> u64 {
    xxh64(encoding, encoding.len() as u64)
}

/// [`encoding_hash`] of a label set.
#[cfg(test)]
pub(crate) fn labels_hash(labels: &Labels) -> u64 {
    with_encoding(labels, encoding_hash)
}

/// A label set as references into a [`SymbolTable`]: for each label in
/// name order, `uvarint(name id) uvarint(value id)`.
/// Kept in a [`SmallBytes`]: the usual few labels with small ids take no
/// allocation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InternedLabels(SmallBytes);

impl InternedLabels {
    /// Bytes of heap the references take (0 when they fit inline).
    pub fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }

    /// Bytes of the encoded references, wherever they are kept.
    #[cfg(test)]
    fn encoded_len(&self) -> usize {
        self.0.as_bytes().len()
    }

    /// The symbol ids, name and value alternating.
    fn ids(&self) -> Ids<'_> {
        Ids {
            buf: self.0.as_bytes(),
        }
    }
}

/// Reads the ids of an [`InternedLabels`]; they are written by this module
/// only, so a truncated varint (impossible) just ends the sequence.
struct Ids<'a> {
    buf: &'a [u8],
}

impl Iterator for Ids<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        let (v, n) = read_uvarint(self.buf)?;
        self.buf = &self.buf[n..];
        Some(v as u32)
    }
}

/// A uvarint and its length, with the one-byte case (most symbol ids and
/// string lengths) inline.
#[inline(always)]
fn read_uvarint(buf: &[u8]) -> Option<(u64, usize)> {
    match buf.first() {
        Some(&b) if b < 0x80 => Some((u64::from(b), 1)),
        _ => aion_model::encoding::uvarint(buf),
    }
}

/// One symbol: its string and how many label-set references point at it
/// (0: the slot is free).
#[derive(Debug, Default)]
struct Slot {
    text: Box<str>,
    refs: u32,
}

#[derive(Debug, Default)]
struct Symbols {
    slots: Vec<Slot>,
    /// Free slots, reused before the table grows.
    free: Vec<u32>,
    /// Slot ids by the hash of their string.
    index: HashTable<u32>,
    /// Bytes of the strings.
    text_bytes: usize,
}

#[inline]
fn str_hash(s: &str) -> u64 {
    xxh64(s.as_bytes(), 0)
}

impl Symbols {
    #[inline]
    fn text(&self, id: u32) -> &str {
        self.slots.get(id as usize).map_or("", |s| &s.text)
    }

    /// The id of `s`, counted once more; added if new.
    fn acquire(&mut self, s: &str) -> u32 {
        let h = str_hash(s);
        let Symbols {
            slots,
            free,
            index,
            text_bytes,
        } = self;
        if let Some(&id) = index.find(h, |&id| &*slots[id as usize].text == s) {
            let slot = &mut slots[id as usize];
            slot.refs = slot.refs.saturating_add(1);
            return id;
        }
        let slot = Slot {
            text: s.into(),
            refs: 1,
        };
        *text_bytes += s.len();
        let id = match free.pop() {
            Some(id) => {
                slots[id as usize] = slot;
                id
            }
            None => {
                slots.push(slot);
                (slots.len() - 1) as u32
            }
        };
        index.insert_unique(h, id, |&id| str_hash(&slots[id as usize].text));
        id
    }

    /// Counts one reference to `id` less; frees the symbol at zero.
    fn release(&mut self, id: u32) {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        if slot.refs == 0 {
            return;
        }
        slot.refs -= 1;
        if slot.refs > 0 {
            return;
        }
        let text = std::mem::take(&mut slot.text);
        self.text_bytes -= text.len();
        if let Ok(entry) = self.index.find_entry(str_hash(&text), |&x| x == id) {
            entry.remove();
        }
        self.free.push(id);
    }
}

/// The head's symbols, shared by its series (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct SymbolTable {
    inner: RwLock<Symbols>,
}

impl SymbolTable {
    pub fn new() -> SymbolTable {
        SymbolTable::default()
    }

    /// `labels` as references, each of its strings counted once more.
    pub fn intern(&self, labels: &Labels) -> InternedLabels {
        let mut out = Vec::with_capacity(labels.len() * 4);
        let mut inner = self.inner.write();
        for l in labels {
            put_uvarint(&mut out, u64::from(inner.acquire(l.name)));
            put_uvarint(&mut out, u64::from(inner.acquire(l.value)));
        }
        InternedLabels(SmallBytes::new(&out))
    }

    /// Gives back the references of `labels` (a series being removed);
    /// symbols no other label set uses are freed. `labels` must not be
    /// read afterwards.
    pub fn release(&self, labels: &InternedLabels) {
        let mut inner = self.inner.write();
        for id in labels.ids() {
            inner.release(id);
        }
    }

    /// The label set `labels` stands for.
    pub fn labels(&self, labels: &InternedLabels) -> Labels {
        let inner = self.inner.read();
        let mut ids = labels.ids();
        Labels::from_sorted_unchecked(std::iter::from_fn(|| {
            let (name, value) = (ids.next()?, ids.next()?);
            Some((inner.text(name), inner.text(value)))
        }))
    }

    /// Whether `interned` stands for the label set whose canonical
    /// encoding is `encoding` (see [`with_encoding`]).
    pub fn matches(&self, interned: &InternedLabels, mut encoding: &[u8]) -> bool {
        let inner = self.inner.read();
        for id in interned.ids() {
            let text = inner.text(id).as_bytes();
            let Some((len, n)) = read_uvarint(encoding) else {
                return false;
            };
            if len != text.len() as u64 || encoding.get(n..n + text.len()) != Some(text) {
                return false;
            }
            encoding = &encoding[n + text.len()..];
        }
        encoding.is_empty()
    }

    /// Number of distinct strings held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        let inner = self.inner.read();
        inner.slots.len() - inner.free.len()
    }

    /// Estimated heap bytes of the table (slots, index, strings).
    pub fn heap_bytes(&self) -> usize {
        let inner = self.inner.read();
        let buckets = if inner.index.capacity() == 0 {
            0
        } else {
            (inner.index.capacity() * 8 / 7).next_power_of_two()
        };
        inner.slots.capacity() * std::mem::size_of::<Slot>()
            + inner.free.capacity() * 4
            + buckets * (std::mem::size_of::<u32>() + 1)
            + inner.text_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p).unwrap()
    }

    fn matches(t: &SymbolTable, i: &InternedLabels, l: &Labels) -> bool {
        with_encoding(l, |e| t.matches(i, e))
    }

    #[test]
    fn encoding_is_the_labels_buffer() {
        for l in [
            Labels::new(),
            ls(&[("__name__", "up"), ("job", &"x".repeat(300)), ("é", "ü")]),
        ] {
            let mut expect = Vec::new();
            for p in &l {
                aion_model::encoding::put_uvarint_bytes(&mut expect, p.name.as_bytes());
                aion_model::encoding::put_uvarint_bytes(&mut expect, p.value.as_bytes());
            }
            with_encoding(&l, |e| {
                assert_eq!(e, &expect[..]);
                // Re-entered, a second buffer serves.
                with_encoding(&l, |again| assert_eq!(again, e));
            });
        }
    }

    #[test]
    fn round_trips_and_shares_strings() {
        let t = SymbolTable::new();
        let a = ls(&[("__name__", "up"), ("job", "api"), ("instance", "a:1")]);
        let b = ls(&[("__name__", "up"), ("job", "api"), ("instance", "b:1")]);
        let (ia, ib) = (t.intern(&a), t.intern(&b));
        assert_eq!(t.labels(&ia), a);
        assert_eq!(t.labels(&ib), b);
        // __name__, up, job, api, instance, a:1, b:1
        assert_eq!(t.len(), 7);
        assert!(matches(&t, &ia, &a) && matches(&t, &ib, &b));
        assert!(!matches(&t, &ia, &b));
        assert!(!matches(
            &t,
            &ia,
            &ls(&[("__name__", "up"), ("job", "api")])
        ));
        assert!(!matches(
            &t,
            &ia,
            &a.builder().set("z", "1").build().unwrap()
        ));
        assert_eq!(t.labels(&t.intern(&Labels::new())), Labels::new());
    }

    #[test]
    fn released_symbols_are_freed_and_their_slots_reused() {
        let t = SymbolTable::new();
        let a = ls(&[("job", "api"), ("pod", "p-1")]);
        let b = ls(&[("job", "api"), ("pod", "p-2")]);
        let ia = t.intern(&a);
        let ib = t.intern(&b);
        // job, api, pod, p-1, p-2
        assert_eq!(t.len(), 5);
        t.release(&ia);
        // p-1 is gone; job, api and pod are still used by b.
        assert_eq!(t.len(), 4);
        assert_eq!(t.labels(&ib), b);
        // Churn: a new pod takes p-1's slot instead of growing the table.
        let slots = t.inner.read().slots.len();
        let c = ls(&[("job", "api"), ("pod", "p-3")]);
        let ic = t.intern(&c);
        assert_eq!(t.inner.read().slots.len(), slots);
        assert_eq!(t.labels(&ic), c);
        t.release(&ib);
        t.release(&ic);
        assert_eq!(t.len(), 0);
        assert_eq!(t.inner.read().text_bytes, 0);
        // A set interned again after everything was freed reads back.
        let ia = t.intern(&a);
        assert_eq!(t.labels(&ia), a);
    }

    #[test]
    fn many_series_of_few_values_take_few_bytes_each() {
        let t = SymbolTable::new();
        let sets: Vec<InternedLabels> = (0..10_000)
            .map(|i| {
                t.intern(&ls(&[
                    ("__name__", &format!("node_metric_{}", i % 100)),
                    ("instance", &format!("host-{:06}:9100", i / 100)),
                    ("job", "node"),
                ]))
            })
            .collect();
        let per_set = sets.iter().map(InternedLabels::encoded_len).sum::<usize>() / sets.len();
        assert!(per_set <= 10, "{per_set}");
        assert!(sets.iter().all(|s| s.heap_bytes() == 0));
        assert_eq!(t.len(), 3 + 100 + 100 + 1);
    }

    proptest::proptest! {
        /// Any sequence of interning and releasing keeps every live set
        /// readable and frees exactly the strings no live set uses.
        #[test]
        fn live_sets_read_back_under_churn(
            ops in proptest::collection::vec((0usize..6, 0u8..8, proptest::bool::ANY), 1..60),
        ) {
            let t = SymbolTable::new();
            let mut live: Vec<(Labels, InternedLabels)> = Vec::new();
            for (k, v, add) in ops {
                if add || live.is_empty() {
                    let l = ls(&[("a", &format!("v{v}")), ("b", &format!("w{}", v % 3)), ("k", &k.to_string())]);
                    let i = t.intern(&l);
                    live.push((l, i));
                } else {
                    let (_, i) = live.swap_remove(k % live.len());
                    t.release(&i);
                }
                for (l, i) in &live {
                    proptest::prop_assert_eq!(&t.labels(i), l);
                    proptest::prop_assert!(matches(&t, i, l));
                }
                let mut strings = std::collections::BTreeSet::new();
                for (l, _) in &live {
                    for p in l {
                        strings.insert(p.name.to_string());
                        strings.insert(p.value.to_string());
                    }
                }
                proptest::prop_assert_eq!(t.len(), strings.len());
            }
        }
    }
}
