//! Label sets: the identity of a series.
//!
//! A [`Labels`] is an immutable, sorted set of `name="value"` pairs. It is the
//! most numerous object in a TSDB (one per series, millions in a large head),
//! so its layout is chosen for memory: the whole set lives in **one** shared
//! allocation of length-prefixed strings, the same idea as Prometheus's
//! `stringlabels` build. Cloning bumps a reference count; comparing walks two
//! byte buffers.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use crate::encoding::put_uvarint;
use crate::error::{Error, Result};
use crate::gotext::write_go_quoted;
use crate::hash::xxh64;

/// The label holding a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// One `name="value"` pair borrowed from a [`Labels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label<'a> {
    /// Label name; never empty.
    pub name: &'a str,
    /// Label value; may be empty only transiently (a stored empty value
    /// means "label absent" in Prometheus and is dropped by the builder).
    pub value: &'a str,
}

/// An immutable sorted label set stored in a single shared allocation.
///
/// Encoding of the buffer: for each label in name order,
/// `uvarint(len(name)) name uvarint(len(value)) value`.
///
/// ```
/// use aion_model::Labels;
/// let l = Labels::from_pairs(&[("job", "api"), ("__name__", "up")]).unwrap();
/// assert_eq!(l.get("job"), Some("api"));
/// assert_eq!(l.to_string(), r#"{__name__="up", job="api"}"#);
/// ```
#[derive(Clone)]
pub struct Labels {
    data: Arc<[u8]>,
}

fn empty_buffer() -> Arc<[u8]> {
    static EMPTY: OnceLock<Arc<[u8]>> = OnceLock::new();
    EMPTY.get_or_init(|| Arc::from(&[][..])).clone()
}

/// Reads a uvarint written by `put_uvarint`. The buffer is always
/// well-formed because only this module writes it.
#[inline]
fn get_uvarint(buf: &[u8], pos: &mut usize) -> usize {
    let mut v = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        v |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

impl Labels {
    /// The empty label set (no allocation beyond a shared static).
    pub fn new() -> Self {
        Labels {
            data: empty_buffer(),
        }
    }

    /// Builds a label set from pairs in any order.
    ///
    /// Pairs with an empty value are dropped, as Prometheus treats an empty
    /// value as "label not present". Empty names and duplicate names are
    /// errors.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> Result<Self> {
        let mut v: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(n, v)| (n.as_ref(), v.as_ref()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        Self::from_unsorted(&mut v)
    }

    fn from_unsorted(v: &mut [(&str, &str)]) -> Result<Self> {
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for w in v.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(Error::DuplicateLabelName(w[0].0.to_string()));
            }
        }
        if v.first().is_some_and(|(n, _)| n.is_empty()) {
            return Err(Error::EmptyLabelName);
        }
        Ok(Self::from_sorted_unchecked(v.iter().copied()))
    }

    /// Builds a label set from pairs already sorted by name, unique, with
    /// non-empty names. Used by decoders that have validated order
    /// themselves; a violated precondition gives a wrong (but memory-safe)
    /// label set, never undefined behaviour.
    pub fn from_sorted_unchecked<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut buf = Vec::new();
        for (n, v) in pairs {
            put_uvarint(&mut buf, n.len() as u64);
            buf.extend_from_slice(n.as_bytes());
            put_uvarint(&mut buf, v.len() as u64);
            buf.extend_from_slice(v.as_bytes());
        }
        if buf.is_empty() {
            return Self::new();
        }
        Labels {
            data: Arc::from(buf.into_boxed_slice()),
        }
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.raw_pairs().count()
    }

    /// Whether the set has no labels.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The labels as byte strings, in name order, without the UTF-8 check
    /// `iter` makes on every string: for counting and comparing, which
    /// only need bytes (sorting a block's series compares millions).
    fn raw_pairs(&self) -> RawPairs<'_> {
        RawPairs {
            buf: &self.data,
            pos: 0,
        }
    }

    /// Iterates the labels in name order.
    pub fn iter(&self) -> LabelsIter<'_> {
        LabelsIter {
            buf: &self.data,
            pos: 0,
        }
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        for l in self.iter() {
            match l.name.cmp(name) {
                Ordering::Less => continue,
                Ordering::Equal => return Some(l.value),
                Ordering::Greater => return None,
            }
        }
        None
    }

    /// Whether label `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// A copy without the named labels (PromQL's `without`, and dropping
    /// `__name__`).
    pub fn without(&self, names: &[&str]) -> Labels {
        Self::from_sorted_unchecked(
            self.iter()
                .filter(|l| !names.contains(&l.name))
                .map(|l| (l.name, l.value)),
        )
    }

    /// A copy with only the named labels (PromQL's `by`/`on`).
    pub fn keep(&self, names: &[&str]) -> Labels {
        Self::from_sorted_unchecked(
            self.iter()
                .filter(|l| names.contains(&l.name))
                .map(|l| (l.name, l.value)),
        )
    }

    /// A copy without `__name__`.
    pub fn without_metric_name(&self) -> Labels {
        if !self.has(METRIC_NAME) {
            return self.clone();
        }
        self.without(&[METRIC_NAME])
    }

    /// A builder starting from this set.
    pub fn builder(&self) -> LabelsBuilder {
        LabelsBuilder::from(self)
    }

    /// A 64-bit hash of the label set that is stable across processes,
    /// platforms and Aion versions (xxHash64 over names and values with a
    /// `0xff` separator, which cannot occur in UTF-8). Use it for sharding
    /// and for keying series maps; never change it.
    pub fn stable_hash(&self) -> u64 {
        self.hash_filtered(|_| true)
    }

    /// The [`stable_hash`](Self::stable_hash) of only the labels named in
    /// `names` (PromQL's `by (...)` and `on (...)` grouping keys), without
    /// building the reduced set.
    ///
    /// ```
    /// use aion_model::Labels;
    /// let l = Labels::from_pairs(&[("__name__", "up"), ("job", "api"), ("x", "1")]).unwrap();
    /// assert_eq!(l.hash_for_labels(&["job"]), l.keep(&["job"]).stable_hash());
    /// ```
    pub fn hash_for_labels(&self, names: &[&str]) -> u64 {
        self.hash_filtered(|n| names.contains(&n))
    }

    /// The [`stable_hash`](Self::stable_hash) of the labels *not* named in
    /// `names`, also leaving out `__name__` (PromQL's `without (...)` and
    /// `ignoring (...)`, which always drop the metric name).
    pub fn hash_without_labels(&self, names: &[&str]) -> u64 {
        self.hash_filtered(|n| n != METRIC_NAME && !names.contains(&n))
    }

    fn hash_filtered(&self, mut keep: impl FnMut(&str) -> bool) -> u64 {
        thread_local! {
            // Reused so hashing in hot loops (grouping, sharding) does not
            // allocate in steady state.
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            for l in self.iter().filter(|l| keep(l.name)) {
                buf.extend_from_slice(l.name.as_bytes());
                buf.push(0xff);
                buf.extend_from_slice(l.value.as_bytes());
                buf.push(0xff);
            }
            xxh64(&buf, 0)
        })
    }

    /// Bytes of heap this set owns (its shared buffer plus the reference
    /// count header), for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        if self.data.is_empty() {
            0
        } else {
            self.data.len() + 2 * std::mem::size_of::<usize>()
        }
    }

    /// Whether two handles share one buffer (cheap identity check).
    pub fn ptr_eq(&self, other: &Labels) -> bool {
        Arc::ptr_eq(&self.data, &other.data)
    }
}

impl Default for Labels {
    fn default() -> Self {
        Self::new()
    }
}

/// Iterator over the labels of a [`Labels`].
#[derive(Clone)]
pub struct LabelsIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> LabelsIter<'a> {
    #[inline]
    fn read_str(&mut self) -> &'a str {
        let len = get_uvarint(self.buf, &mut self.pos);
        let bytes = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        // The buffer is written only by `from_sorted_unchecked`, which copies
        // whole `&str`s, and we read back exactly those spans.
        std::str::from_utf8(bytes).unwrap_or_default()
    }
}

impl<'a> Iterator for LabelsIter<'a> {
    type Item = Label<'a>;

    #[inline]
    fn next(&mut self) -> Option<Label<'a>> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let name = self.read_str();
        let value = self.read_str();
        Some(Label { name, value })
    }
}

/// The `(name, value)` byte strings of a [`Labels`] buffer.
struct RawPairs<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> RawPairs<'a> {
    #[inline]
    fn read_bytes(&mut self) -> &'a [u8] {
        let len = get_uvarint(self.buf, &mut self.pos);
        let bytes = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        bytes
    }
}

impl<'a> Iterator for RawPairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let name = self.read_bytes();
        let value = self.read_bytes();
        Some((name, value))
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = Label<'a>;
    type IntoIter = LabelsIter<'a>;
    fn into_iter(self) -> LabelsIter<'a> {
        self.iter()
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        // The encoding is canonical, so byte equality is label equality.
        self.data == other.data
    }
}
impl Eq for Labels {}

impl Hash for Labels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.data.hash(state)
    }
}

impl Ord for Labels {
    /// Prometheus's order: pairwise by name, then value, byte-wise; a prefix
    /// sorts first.
    /// Strings compare as their bytes do, so the raw pairs give the order
    /// of names and values without decoding them as `str`.
    fn cmp(&self, other: &Self) -> Ordering {
        if self.ptr_eq(other) {
            return Ordering::Equal;
        }
        let mut a = self.raw_pairs();
        let mut b = other.raw_pairs();
        loop {
            match (a.next(), b.next()) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(x), Some(y)) => {
                    let o = x.0.cmp(y.0).then_with(|| x.1.cmp(y.1));
                    if o != Ordering::Equal {
                        return o;
                    }
                }
            }
        }
    }
}
impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Whether `name` is a legacy Prometheus label name
/// (`[a-zA-Z_][a-zA-Z0-9_]*`), which prints without quotes.
pub fn is_legacy_label_name(name: &str) -> bool {
    let mut chars = name.bytes();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == b'_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

impl fmt::Display for Labels {
    /// Prometheus's `Labels.String()`: `{a="1", b="2"}`; names that are not
    /// legacy identifiers are quoted, as Prometheus 3 prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if is_legacy_label_name(l.name) {
                f.write_str(l.name)?;
            } else {
                write_go_quoted(f, l.name)?;
            }
            f.write_str("=")?;
            write_go_quoted(f, l.value)?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Incrementally edits a label set, then produces a new [`Labels`].
///
/// Mirrors Prometheus's `labels.Builder`: setting a label to the empty
/// string deletes it.
#[derive(Debug, Clone, Default)]
pub struct LabelsBuilder {
    pairs: Vec<(String, String)>,
}

impl LabelsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        match self.pairs.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.pairs.remove(i);
            }
            Ok(i) => self.pairs[i].1 = value.to_string(),
            Err(_) if value.is_empty() => {}
            Err(i) => self.pairs.insert(i, (name.to_string(), value.to_string())),
        }
        self
    }

    /// Deletes the named labels.
    pub fn del(&mut self, names: &[&str]) -> &mut Self {
        self.pairs.retain(|(n, _)| !names.contains(&n.as_str()));
        self
    }

    /// Keeps only the named labels.
    pub fn keep(&mut self, names: &[&str]) -> &mut Self {
        self.pairs.retain(|(n, _)| names.contains(&n.as_str()));
        self
    }

    /// The current value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.pairs[i].1.as_str())
    }

    /// Builds the label set. Fails only if a label with an empty name was
    /// set.
    pub fn build(&self) -> Result<Labels> {
        if self.pairs.first().is_some_and(|(n, _)| n.is_empty()) {
            return Err(Error::EmptyLabelName);
        }
        Ok(Labels::from_sorted_unchecked(
            self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        ))
    }
}

impl From<&Labels> for LabelsBuilder {
    fn from(l: &Labels) -> Self {
        LabelsBuilder {
            pairs: l
                .iter()
                .map(|l| (l.name.to_string(), l.value.to_string()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p).unwrap()
    }

    #[test]
    fn sorted_and_queried() {
        let l = ls(&[("b", "2"), ("a", "1"), ("__name__", "m")]);
        let names: Vec<_> = l.iter().map(|l| l.name).collect();
        assert_eq!(names, ["__name__", "a", "b"]);
        assert_eq!(l.get("a"), Some("1"));
        assert_eq!(l.get("c"), None);
        assert_eq!(l.len(), 3);
        assert_eq!(l.metric_name(), Some("m"));
    }

    #[test]
    fn rejects_bad_names() {
        assert!(matches!(
            Labels::from_pairs(&[("", "x")]),
            Err(Error::EmptyLabelName)
        ));
        assert!(matches!(
            Labels::from_pairs(&[("a", "x"), ("a", "y")]),
            Err(Error::DuplicateLabelName(n)) if n == "a"
        ));
    }

    #[test]
    fn empty_values_are_absent() {
        let l = ls(&[("a", ""), ("b", "1")]);
        assert_eq!(l, ls(&[("b", "1")]));
    }

    #[test]
    fn prometheus_order() {
        let a = ls(&[("a", "1")]);
        let b = ls(&[("a", "1"), ("b", "1")]);
        let c = ls(&[("a", "2")]);
        assert!(a < b && b < c);
        assert!(Labels::new() < a);
    }

    proptest::proptest! {
        /// The byte-wise order and count agree with the decoded labels'.
        #[test]
        fn order_and_len_match_the_decoded_pairs(
            a in proptest::collection::btree_map("[a-c\u{e9}]{1,3}", "[a-c\u{e9}]{1,3}", 0..4),
            b in proptest::collection::btree_map("[a-c\u{e9}]{1,3}", "[a-c\u{e9}]{1,3}", 0..4),
        ) {
            let la = Labels::from_sorted_unchecked(a.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            let lb = Labels::from_sorted_unchecked(b.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            let pa: Vec<(&String, &String)> = a.iter().collect();
            let pb: Vec<(&String, &String)> = b.iter().collect();
            proptest::prop_assert_eq!(la.cmp(&lb), pa.cmp(&pb));
            proptest::prop_assert_eq!(la.len(), a.len());
        }
    }

    #[test]
    fn display_matches_prometheus() {
        let l = ls(&[("__name__", "up"), ("path", "a\"b\\c\n"), ("my.name", "x")]);
        assert_eq!(
            l.to_string(),
            r#"{__name__="up", "my.name"="x", path="a\"b\\c\n"}"#
        );
    }

    #[test]
    fn builder_set_delete_keep() {
        let l = ls(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let mut b = l.builder();
        b.set("b", "").set("d", "4").set("a", "9");
        assert_eq!(
            b.build().unwrap(),
            ls(&[("a", "9"), ("c", "3"), ("d", "4")])
        );
        assert_eq!(l.keep(&["a", "c"]), ls(&[("a", "1"), ("c", "3")]));
        assert_eq!(l.without(&["a", "c"]), ls(&[("b", "2")]));
    }

    #[test]
    fn stable_hash_is_stable() {
        let l = ls(&[("__name__", "up"), ("job", "api")]);
        // Pinned: changing the hash would reshard every user's data.
        assert_eq!(l.stable_hash(), l.clone().stable_hash());
        assert_ne!(l.stable_hash(), ls(&[("__name__", "up")]).stable_hash());
        assert_eq!(
            ls(&[("a", "b")]).stable_hash(),
            crate::hash::xxh64(b"a\xffb\xff", 0)
        );
    }

    #[test]
    fn grouping_hashes() {
        let l = ls(&[("__name__", "up"), ("job", "api"), ("x", "1")]);
        assert_eq!(
            l.hash_for_labels(&["job", "x"]),
            l.keep(&["job", "x"]).stable_hash()
        );
        assert_eq!(l.hash_for_labels(&[]), Labels::new().stable_hash());
        assert_eq!(
            l.hash_without_labels(&["x"]),
            ls(&[("job", "api")]).stable_hash()
        );
        assert_eq!(
            l.hash_without_labels(&[]),
            l.without_metric_name().stable_hash()
        );
    }
}
