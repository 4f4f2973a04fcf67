//! The walk that merged queries and compaction share: several streams,
//! each sorted by labels, read in lockstep so that every label set comes
//! out once, with what each stream holds for it.
//!
//! What to do with a label set found in several streams differs (chain
//! sample iterators, merge chunks for a query, merge chunks for a new
//! block); finding them does not, so it lives here once.

use aion_model::Labels;

use crate::{ChunkSeries, Result, Series};

/// The sorted, duplicate-free union of several queriers' label names or
/// values.
pub fn sorted_union(parts: impl Iterator<Item = Result<Vec<String>>>) -> Result<Vec<String>> {
    let mut all = Vec::new();
    for part in parts {
        all.extend(part?);
    }
    all.sort_unstable();
    all.dedup();
    Ok(all)
}

/// An item of a label-sorted stream: a series of some kind.
pub trait Labelled {
    /// The item's label set, by which streams are sorted.
    fn labels(&self) -> &Labels;
}

impl Labelled for Series<'_> {
    fn labels(&self) -> &Labels {
        &self.labels
    }
}

impl Labelled for ChunkSeries<'_> {
    fn labels(&self) -> &Labels {
        &self.labels
    }
}

/// Label-sorted streams `S` of items `T`, read one label set at a time.
/// Holds one item per stream.
pub struct LabelMerge<S, T, E = crate::Error> {
    sources: Vec<S>,
    heads: Vec<Option<T>>,
    pull: fn(&mut S) -> Option<Result<T, E>>,
    started: bool,
    stopped: bool,
}

impl<S, T: Labelled, E> LabelMerge<S, T, E> {
    /// Merges `sources`, in order of preference; `pull` reads a stream's
    /// next item.
    pub fn new(sources: Vec<S>, pull: fn(&mut S) -> Option<Result<T, E>>) -> Self {
        let heads = sources.iter().map(|_| None).collect();
        LabelMerge {
            sources,
            heads,
            pull,
            started: false,
            stopped: false,
        }
    }

    /// The streams.
    pub fn sources(&self) -> &[S] {
        &self.sources
    }

    /// Ends the walk: after an error (here or in what the caller made of
    /// a group) nothing more is read.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    fn fill(&mut self, i: usize) -> Result<(), E> {
        self.heads[i] = (self.pull)(&mut self.sources[i]).transpose()?;
        Ok(())
    }

    /// Replaces `group` with the items of the smallest label set not taken
    /// yet, with their stream's index, in stream order; `false` when every
    /// stream is exhausted (or the walk was stopped).
    pub fn next_group(&mut self, group: &mut Vec<(usize, T)>) -> Result<bool, E> {
        group.clear();
        if self.stopped {
            return Ok(false);
        }
        let r = self.take_group(group);
        if r.is_err() {
            self.stopped = true;
        }
        r
    }

    fn take_group(&mut self, group: &mut Vec<(usize, T)>) -> Result<bool, E> {
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                self.fill(i)?;
            }
        }
        let mut min: Option<usize> = None;
        for (i, h) in self.heads.iter().enumerate() {
            if let Some(h) = h {
                let smaller =
                    min.is_none_or(|m| h.labels() < self.heads[m].as_ref().expect("set").labels());
                if smaller {
                    min = Some(i);
                }
            }
        }
        let Some(first) = min else { return Ok(false) };
        group.push((first, self.heads[first].take().expect("set")));
        self.fill(first)?;
        for i in first + 1..self.heads.len() {
            let same = self.heads[i]
                .as_ref()
                .is_some_and(|h| h.labels() == group[0].1.labels());
            if same {
                group.push((i, self.heads[i].take().expect("set")));
                self.fill(i)?;
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, ErrorKind};

    struct Item(Labels, u32);

    impl Labelled for Item {
        fn labels(&self) -> &Labels {
            &self.0
        }
    }

    fn l(v: &str) -> Labels {
        Labels::from_pairs(&[("a", v)]).unwrap()
    }

    type Stream = std::vec::IntoIter<Result<Item>>;

    fn stream(items: &[(&str, u32)]) -> Stream {
        items
            .iter()
            .map(|&(v, n)| Ok(Item(l(v), n)))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn groups_each_label_set_once_in_stream_order() {
        let mut m = LabelMerge::new(
            vec![
                stream(&[("b", 1), ("d", 2)]),
                stream(&[("a", 3), ("b", 4)]),
                stream(&[("b", 5), ("c", 6), ("d", 7)]),
            ],
            Iterator::next,
        );
        let mut group = Vec::new();
        let mut out = Vec::new();
        while m.next_group(&mut group).unwrap() {
            let v = group[0].1 .0.get("a").unwrap().to_string();
            out.push((
                v,
                group.iter().map(|(i, it)| (*i, it.1)).collect::<Vec<_>>(),
            ));
        }
        let want: Vec<(String, Vec<(usize, u32)>)> = vec![
            ("a".into(), vec![(1, 3)]),
            ("b".into(), vec![(0, 1), (1, 4), (2, 5)]),
            ("c".into(), vec![(2, 6)]),
            ("d".into(), vec![(0, 2), (2, 7)]),
        ];
        assert_eq!(out, want);
        assert!(!m.next_group(&mut group).unwrap());
    }

    #[test]
    fn an_error_ends_the_walk() {
        let bad: Stream = vec![
            Ok(Item(l("a"), 1)),
            Err(Error::msg(ErrorKind::Io, "closed")),
        ]
        .into_iter();
        let mut m = LabelMerge::new(vec![bad, stream(&[("b", 2)])], Iterator::next);
        let mut group = Vec::new();
        assert!(m.next_group(&mut group).is_err());
        assert!(!m.next_group(&mut group).unwrap());
        assert!(group.is_empty());
    }
}
