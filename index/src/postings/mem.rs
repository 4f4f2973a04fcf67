//! The head's in-memory inverted index: label name → value → sorted
//! series references.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{RwLock, RwLockWriteGuard};

use roaring::RoaringBitmap;

use super::list::{ListPostings, RefList};
use super::BitmapPostings;
use super::{empty, merge, BoxPostings, SeriesRef};
use aion_model::Labels;

/// The name and value of the list holding every series (the same key
/// Prometheus uses; on disk it becomes the first postings list).
pub const ALL_POSTINGS_KEY: (&str, &str) = ("", "");

type Values = HashMap<Box<str>, Arc<RefList>>;

/// A concurrent in-memory postings index.
///
/// Writers ([`add`](Self::add), [`delete`](Self::delete)) take a short
/// write lock; readers take a short read lock to clone a list's `Arc` and
/// then iterate that snapshot without any lock. A writer that changes a
/// list a reader still holds copies it first (`Arc::make_mut`), so the
/// copying cost is bounded by the reading that caused it, and with no
/// concurrent reader lists are updated in place.
///
/// Lists of up to 32 references are sorted `u32` vectors, longer ones
/// roaring bitmaps, and any list holding a reference above `u32::MAX`
/// becomes a sorted `u64` vector; see `BENCHMARKS.md` ("Index") for the
/// measurements behind this layout.
///
/// ```
/// use aion_model::Labels;
/// use aion_index::postings::{MemPostings, Postings};
/// let p = MemPostings::new();
/// p.add(1, &Labels::from_pairs(&[("job", "api")]).unwrap());
/// p.add(2, &Labels::from_pairs(&[("job", "db")]).unwrap());
/// assert_eq!(p.postings("job", "db").collect_refs(), vec![2]);
/// assert_eq!(p.all_postings().collect_refs(), vec![1, 2]);
/// ```
#[derive(Default)]
pub struct MemPostings {
    names: RwLock<HashMap<Box<str>, Values>>,
}

impl MemPostings {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds series `r` under each of its labels and the all-postings key.
    pub fn add(&self, r: SeriesRef, labels: &Labels) {
        self.writer().add(r, labels);
    }

    /// Takes the write lock once for several additions: a writer creating
    /// many series at a time (an appender's first scrape of a target)
    /// adds them all under one lock instead of contending for it per
    /// series. Readers wait while the returned writer lives.
    ///
    /// ```
    /// use aion_model::Labels;
    /// use aion_index::postings::{MemPostings, Postings};
    /// let p = MemPostings::new();
    /// let mut w = p.writer();
    /// w.add(1, &Labels::from_pairs(&[("job", "api")]).unwrap());
    /// w.add(2, &Labels::from_pairs(&[("job", "api")]).unwrap());
    /// drop(w);
    /// assert_eq!(p.postings("job", "api").collect_refs(), vec![1, 2]);
    /// ```
    pub fn writer(&self) -> PostingsWriter<'_> {
        PostingsWriter {
            names: self.names.write(),
        }
    }

    /// Removes series `r` (which had `labels`) from every list; lists and
    /// names left empty disappear.
    pub fn delete(&self, r: SeriesRef, labels: &Labels) {
        let mut names = self.names.write();
        delete_one(&mut names, ALL_POSTINGS_KEY.0, ALL_POSTINGS_KEY.1, r);
        for l in labels {
            delete_one(&mut names, l.name, l.value, r);
        }
    }

    /// The series with `name="value"`.
    pub fn postings(&self, name: &str, value: &str) -> BoxPostings<'static> {
        let names = self.names.read();
        match names.get(name).and_then(|vs| vs.get(value)) {
            Some(list) => Box::new(ListPostings::new(list.clone())),
            None => empty(),
        }
    }

    /// The series with label `name` set to any of `values`.
    pub fn postings_for_values(&self, name: &str, values: &[&str]) -> BoxPostings<'static> {
        let lists: Vec<Arc<RefList>> = {
            let names = self.names.read();
            let Some(vs) = names.get(name) else {
                return empty();
            };
            values.iter().filter_map(|v| vs.get(*v).cloned()).collect()
        };
        merge_lists(lists)
    }

    /// The series whose value of `name` satisfies `accept` (series without
    /// `name` are never included).
    pub fn postings_for_label_matching(
        &self,
        name: &str,
        accept: &mut dyn FnMut(&str) -> bool,
    ) -> BoxPostings<'static> {
        let lists: Vec<Arc<RefList>> = {
            let names = self.names.read();
            let Some(vs) = names.get(name) else {
                return empty();
            };
            vs.iter()
                .filter(|(v, _)| accept(v))
                .map(|(_, l)| l.clone())
                .collect()
        };
        merge_lists(lists)
    }

    /// Every series.
    pub fn all_postings(&self) -> BoxPostings<'static> {
        self.postings(ALL_POSTINGS_KEY.0, ALL_POSTINGS_KEY.1)
    }

    /// Sorted label names (without the all-postings key).
    pub fn label_names(&self) -> Vec<String> {
        let names = self.names.read();
        let mut v: Vec<String> = names
            .keys()
            .filter(|n| !n.is_empty())
            .map(|n| n.to_string())
            .collect();
        v.sort_unstable();
        v
    }

    /// Sorted values of label `name`.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        let names = self.names.read();
        let mut v: Vec<String> = names
            .get(name)
            .map(|vs| vs.keys().map(|v| v.to_string()).collect())
            .unwrap_or_default();
        v.sort_unstable();
        v
    }

    /// Number of series (length of the all-postings list).
    pub fn num_series(&self) -> usize {
        let names = self.names.read();
        names
            .get(ALL_POSTINGS_KEY.0)
            .and_then(|vs| vs.get(ALL_POSTINGS_KEY.1))
            .map_or(0, |l| l.len())
    }

    /// Calls `f(name, value, series)` for every list (the all-postings key
    /// included, as `("", "")`), under the read lock: for cardinality
    /// statistics such as Prometheus's TSDB status page shows.
    pub fn for_each_list(&self, mut f: impl FnMut(&str, &str, usize)) {
        let names = self.names.read();
        for (n, vs) in names.iter() {
            for (v, l) in vs {
                f(n, v, l.len());
            }
        }
    }

    /// Number of `(name, value)` pairs, the all-postings key included.
    pub fn num_pairs(&self) -> usize {
        self.names.read().values().map(HashMap::len).sum()
    }

    /// Frees spare capacity of every list (e.g. after a head compaction
    /// deleted many series).
    pub fn shrink_to_fit(&self) {
        let mut names = self.names.write();
        for vs in names.values_mut() {
            for l in vs.values_mut() {
                Arc::make_mut(l).shrink_to_fit();
            }
            vs.shrink_to_fit();
        }
        names.shrink_to_fit();
    }

    /// Estimated heap bytes: strings, lists, `Arc` headers and hash-table
    /// slots. `BENCHMARKS.md` compares it with an allocator count.
    pub fn heap_bytes(&self) -> usize {
        const ARC_HEADER: usize = 16;
        let names = self.names.read();
        let slot = |entry: usize, cap: usize| cap * (entry + 1);
        let mut total = slot(std::mem::size_of::<(Box<str>, Values)>(), names.capacity());
        for (n, vs) in names.iter() {
            total += n.len();
            total += slot(
                std::mem::size_of::<(Box<str>, Arc<RefList>)>(),
                vs.capacity(),
            );
            for (v, l) in vs {
                total += v.len() + ARC_HEADER + std::mem::size_of::<RefList>() + l.heap_bytes();
            }
        }
        total
    }
}

/// Adds to a [`MemPostings`] under one write lock ([`MemPostings::writer`]).
pub struct PostingsWriter<'a> {
    names: RwLockWriteGuard<'a, HashMap<Box<str>, Values>>,
}

impl PostingsWriter<'_> {
    /// Adds series `r` under each of its labels and the all-postings key,
    /// as [`MemPostings::add`].
    pub fn add(&mut self, r: SeriesRef, labels: &Labels) {
        add_one(&mut self.names, ALL_POSTINGS_KEY.0, ALL_POSTINGS_KEY.1, r);
        for l in labels {
            add_one(&mut self.names, l.name, l.value, r);
        }
    }
}

fn add_one(names: &mut HashMap<Box<str>, Values>, name: &str, value: &str, r: SeriesRef) {
    let vs = match names.get_mut(name) {
        Some(vs) => vs,
        None => names.entry(name.into()).or_default(),
    };
    let list = match vs.get_mut(value) {
        Some(l) => l,
        None => vs
            .entry(value.into())
            .or_insert_with(|| Arc::new(RefList::new())),
    };
    Arc::make_mut(list).add(r);
}

fn delete_one(names: &mut HashMap<Box<str>, Values>, name: &str, value: &str, r: SeriesRef) {
    let Some(vs) = names.get_mut(name) else {
        return;
    };
    let Some(list) = vs.get_mut(value) else {
        return;
    };
    Arc::make_mut(list).remove(r);
    if list.len() == 0 {
        vs.remove(value);
        if vs.is_empty() {
            names.remove(name);
        }
    }
}

fn merge_lists(lists: Vec<Arc<RefList>>) -> BoxPostings<'static> {
    if lists.len() >= 2 && !lists.iter().any(|l| matches!(**l, RefList::Wide(_))) {
        // OR the lists into one bitmap, container by container: that
        // copies less than snapshotting each list and iterates without a
        // merge heap.
        let mut acc = RoaringBitmap::new();
        for l in &lists {
            match &**l {
                RefList::Bitmap(b) => acc |= b,
                RefList::Small(v) => acc.extend(v.iter().copied()),
                RefList::Wide(_) => {}
            }
        }
        return Box::new(BitmapPostings::new(acc));
    }
    merge(
        lists
            .into_iter()
            .map(|l| Box::new(ListPostings::new(l)) as BoxPostings<'static>)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postings::Postings;

    fn ls(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p).unwrap()
    }

    #[test]
    fn add_query_delete() {
        let p = MemPostings::new();
        p.add(3, &ls(&[("a", "1"), ("b", "x")]));
        p.add(1, &ls(&[("a", "1")]));
        p.add(2, &ls(&[("a", "2"), ("b", "y")]));
        assert_eq!(p.postings("a", "1").collect_refs(), vec![1, 3]);
        assert_eq!(
            p.postings_for_values("a", &["1", "2", "9"]).collect_refs(),
            vec![1, 2, 3]
        );
        assert_eq!(p.label_names(), vec!["a", "b"]);
        assert_eq!(p.label_values("b"), vec!["x", "y"]);
        assert_eq!(
            p.postings_for_label_matching("b", &mut |v| v == "y")
                .collect_refs(),
            vec![2]
        );
        assert_eq!(p.num_series(), 3);
        p.delete(2, &ls(&[("a", "2"), ("b", "y")]));
        assert_eq!(p.label_values("a"), vec!["1"]);
        assert_eq!(p.all_postings().collect_refs(), vec![1, 3]);
        // Enough values to take the bitmap union path.
        for r in 10..20 {
            p.add(r, &ls(&[("v", &r.to_string())]));
        }
        assert_eq!(
            p.postings_for_label_matching("v", &mut |_| true)
                .collect_refs(),
            (10..20).collect::<Vec<_>>()
        );
    }

    #[test]
    fn snapshot_survives_writes() {
        let p = MemPostings::new();
        for r in 0..10 {
            p.add(r, &ls(&[("a", "1")]));
        }
        let mut snap = p.postings("a", "1");
        assert_eq!(snap.next(), Some(0));
        for r in 10..20 {
            p.add(r, &ls(&[("a", "1")]));
        }
        p.delete(5, &ls(&[("a", "1")]));
        let rest = snap.collect_refs();
        assert_eq!(rest, (1..10).collect::<Vec<_>>());
        assert_eq!(p.postings("a", "1").collect_refs().len(), 19);
    }

    #[test]
    fn concurrent_add_while_reading() {
        let p = Arc::new(MemPostings::new());
        let writer = {
            let p = p.clone();
            std::thread::spawn(move || {
                for r in 0..20_000u64 {
                    let v = (r % 7).to_string();
                    p.add(r, &ls(&[("a", &v), ("b", "x")]));
                }
            })
        };
        let mut reads = 0;
        while !writer.is_finished() || reads == 0 {
            let all = p.postings("b", "x").collect_refs();
            assert!(all.windows(2).all(|w| w[0] < w[1]));
            // A snapshot is a prefix of the final list: refs are added in order.
            assert!(all.iter().enumerate().all(|(i, &r)| r == i as u64));
            reads += 1;
        }
        writer.join().unwrap();
        assert_eq!(p.num_series(), 20_000);
    }
}
