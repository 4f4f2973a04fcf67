//! Series selection by label matchers, written once over [`IndexReader`]
//! so the head and every block select exactly alike.
//!
//! The semantics are Prometheus's (`tsdb/querier.go`,
//! `PostingsForMatchers`): a series is selected when every matcher accepts
//! its value for the matcher's label, an absent label counting as the
//! empty value. So `{foo!=""}` means "has `foo`", `{foo=""}` means "lacks
//! `foo`", and a selector made only of matchers that accept the empty
//! value starts from all series and subtracts.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::index_reader::IndexReader;
use crate::postings::{empty, intersect, without, BoxPostings, Postings, SeriesRef};
use aion_model::{MatchType, Matcher};

/// The series matching all of `ms`, as a cursor in reference order.
///
/// An empty `ms` selects nothing (PromQL never sends one). A single
/// matcher with empty name and value (`{""=""}`) selects every series, as
/// the all-postings key does in Prometheus; among other matchers it is an
/// error.
///
/// ```
/// use aion_model::{Labels, MatchType, Matcher};
/// use aion_index::{postings::Postings, postings_for_matchers, MemIndex};
/// let ix = MemIndex::new();
/// ix.insert(1, Labels::from_pairs(&[("__name__", "up"), ("job", "api")]).unwrap());
/// ix.insert(2, Labels::from_pairs(&[("__name__", "up")]).unwrap());
/// let has_job = [Matcher::new(MatchType::NotEqual, "job", "").unwrap()];
/// assert_eq!(postings_for_matchers(&ix, &has_job).unwrap().collect_refs(), vec![1]);
/// let lacks_job = [Matcher::equal("__name__", "up"), Matcher::equal("job", "")];
/// assert_eq!(postings_for_matchers(&ix, &lacks_job).unwrap().collect_refs(), vec![2]);
/// ```
pub fn postings_for_matchers<'a, R: IndexReader + ?Sized>(
    ix: &'a R,
    ms: &[Matcher],
) -> Result<BoxPostings<'a>> {
    if let [m] = ms {
        if m.name().is_empty() && m.value().is_empty() {
            return ix.all_postings();
        }
    }
    // Labels some matcher requires to be non-empty: for those the other
    // matchers on the same label need not care about absent labels.
    let must_be_set: HashSet<&str> = ms
        .iter()
        .filter(|m| !m.matches_empty())
        .map(Matcher::name)
        .collect();
    let is_subtracting = |m: &Matcher| {
        !must_be_set.contains(m.name()) || (m.kind().is_negative() && m.matches_empty())
    };
    // Intersecting matchers first: they build the (smaller) base set that
    // subtracting ones remove from.
    let mut ordered: Vec<&Matcher> = ms.iter().filter(|m| !is_subtracting(m)).collect();
    let has_intersecting = !ordered.is_empty();
    ordered.extend(ms.iter().filter(|m| is_subtracting(m)));
    let has_subtracting = ms.iter().any(is_subtracting);

    let mut its: Vec<BoxPostings<'a>> = Vec::new();
    let mut not_its: Vec<BoxPostings<'a>> = Vec::new();
    if has_subtracting && !has_intersecting {
        its.push(ix.all_postings()?);
    }
    for m in ordered {
        if m.name().is_empty() && m.value().is_empty() {
            return Err(Error::InvalidSelector(
                "the all-series matcher {\"\"=\"\"} cannot be combined with other matchers"
                    .to_string(),
            ));
        }
        match (m.kind(), m.value()) {
            (MatchType::Regex, ".*") => {}
            (MatchType::NotRegex, ".*") => return Ok(empty()),
            (MatchType::Regex, ".+") => {
                let it = ix.postings_for_all_label_values(m.name())?;
                if it.is_known_empty() {
                    return Ok(empty());
                }
                its.push(it);
            }
            (MatchType::NotRegex, ".+") => {
                not_its.push(ix.postings_for_all_label_values(m.name())?)
            }
            _ if must_be_set.contains(m.name()) => {
                let matches_empty = m.matches_empty();
                let is_not = m.kind().is_negative();
                if is_not && matches_empty {
                    // l!="foo": remove the series that have l="foo".
                    not_its.push(postings_for_matcher(ix, &m.inverse())?);
                } else {
                    let it = if is_not {
                        // l!="": the series whose l is anything but "".
                        inverse_postings_for_matcher(ix, &m.inverse())?
                    } else {
                        postings_for_matcher(ix, m)?
                    };
                    if it.is_known_empty() {
                        return Ok(empty());
                    }
                    its.push(it);
                }
            }
            // l="" and friends: the matcher also accepts series lacking
            // l, so remove the series whose value it rejects.
            _ => not_its.push(inverse_postings_for_matcher(ix, m)?),
        }
    }
    let mut it = intersect(its);
    for n in not_its {
        it = without(it, n);
    }
    Ok(it)
}

/// Series with `m.name()` set to a value `m` accepts (never series lacking
/// the label).
fn postings_for_matcher<'a, R: IndexReader + ?Sized>(
    ix: &'a R,
    m: &Matcher,
) -> Result<BoxPostings<'a>> {
    match m.kind() {
        MatchType::Equal => return ix.postings(m.name(), &[m.value()]),
        MatchType::Regex => {
            if let Some(set) = m.regex_literal_set() {
                return ix.postings(m.name(), &set);
            }
        }
        _ => {}
    }
    ix.postings_for_label_matching(m.name(), &mut |v| m.matches(v))
}

/// Series with `m.name()` set to a value `m` rejects.
fn inverse_postings_for_matcher<'a, R: IndexReader + ?Sized>(
    ix: &'a R,
    m: &Matcher,
) -> Result<BoxPostings<'a>> {
    match m.kind() {
        MatchType::NotRegex => {
            if let Some(set) = m.regex_literal_set() {
                return ix.postings(m.name(), &set);
            }
        }
        MatchType::NotEqual => return ix.postings(m.name(), &[m.value()]),
        MatchType::Equal | MatchType::Regex if m.value().is_empty() => {
            return ix.postings_for_all_label_values(m.name());
        }
        _ => {}
    }
    ix.postings_for_label_matching(m.name(), &mut |v| !m.matches(v))
}

/// Sorted label names of the series matching `ms` (all names when `ms` is
/// empty).
pub fn label_names_matching<R: IndexReader + ?Sized>(
    ix: &R,
    ms: &[Matcher],
) -> Result<Vec<String>> {
    if ms.is_empty() {
        return ix.label_names();
    }
    let mut p = postings_for_matchers(ix, ms)?;
    ix.label_names_for(&mut p)
}

/// Sorted values of label `name` among the series matching `ms` (all of its
/// values when `ms` is empty).
///
/// Matchers on `name` itself filter the value list directly; only
/// matchers on other labels cost a postings lookup.
pub fn label_values_matching<R: IndexReader + ?Sized>(
    ix: &R,
    name: &str,
    ms: &[Matcher],
) -> Result<Vec<String>> {
    let mut values = ix.label_values(name)?;
    let mut has_other_labels = false;
    for m in ms {
        if m.name() == name {
            values.retain(|v| m.matches(v));
        } else {
            has_other_labels = true;
        }
    }
    if values.is_empty() || !has_other_labels {
        return Ok(values);
    }
    let selected: Vec<SeriesRef> = postings_for_matchers(ix, ms)?.collect_refs();
    if selected.is_empty() {
        return Ok(Vec::new());
    }
    if selected.len() <= values.len() {
        // Few series: read their labels rather than one list per value.
        let mut found = HashSet::new();
        for r in &selected {
            if let Some(v) = ix.series_labels(*r)?.get(name) {
                found.insert(v.to_string());
            }
        }
        values.retain(|v| found.contains(v));
        return Ok(values);
    }
    let mut kept = Vec::with_capacity(values.len());
    for v in values {
        let mut p = ix.postings(name, &[v.as_str()])?;
        if intersects(&mut *p, &selected) {
            kept.push(v);
        }
    }
    Ok(kept)
}

/// Whether cursor `p` and sorted `refs` share a reference.
fn intersects(p: &mut dyn Postings, refs: &[SeriesRef]) -> bool {
    let mut i = 0;
    let mut cur = p.next();
    while let Some(r) = cur {
        i += refs[i..].partition_point(|&x| x < r);
        let Some(&x) = refs.get(i) else {
            return false;
        };
        if x == r {
            return true;
        }
        cur = p.seek(x);
    }
    false
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;
    use crate::disk::{IndexFileReader, WriterOptions};
    use crate::testutil::write_index;
    use crate::{ChunkMeta, MemIndex};
    use aion_model::Labels;

    const NAMES: &[&str] = &["__name__", "a", "b", "c"];
    // More than `MATERIALIZE_MERGE_MIN_INPUTS` values, so regexes like `x.*`
    // take the materialised union path too.
    const VALUES: &[&str] = &[
        "", "x", "y", "xy", "yx", "z1", "foo", "bar", "x1", "x2", "x3", "x4", "x5", "x6", "x7",
    ];
    const PATTERNS: &[&str] = &[
        "",
        "x",
        "y",
        ".*",
        ".+",
        "x|y",
        "x.*",
        "y|",
        "f.*|b.*",
        "(x|y)z?",
        "z.",
        "xy|yx|foo",
        ".*x.*",
        "foo|",
        "[xy]+",
        "bar|baz",
    ];

    fn label_sets() -> impl Strategy<Value = Vec<Labels>> {
        prop::collection::vec(
            prop::collection::vec(prop::sample::select(VALUES), NAMES.len()),
            0..25,
        )
        .prop_map(|rows| {
            let set: BTreeSet<Labels> = rows
                .into_iter()
                .map(|vals| {
                    let pairs: Vec<(&str, &str)> = NAMES.iter().copied().zip(vals).collect();
                    Labels::from_pairs(&pairs).unwrap()
                })
                .filter(|l| !l.is_empty())
                .collect();
            set.into_iter().collect()
        })
    }

    fn matchers() -> impl Strategy<Value = Vec<Matcher>> {
        let kinds = prop::sample::select(
            &[
                MatchType::Equal,
                MatchType::NotEqual,
                MatchType::Regex,
                MatchType::NotRegex,
            ][..],
        );
        let names = prop::sample::select(&["__name__", "a", "b", "c", "absent"][..]);
        prop::collection::vec(
            (kinds, names, prop::sample::select(PATTERNS))
                .prop_map(|(k, n, v)| Matcher::new(k, n, v).unwrap()),
            1..4,
        )
    }

    fn brute_force(series: &[Labels], ms: &[Matcher]) -> BTreeSet<Labels> {
        series
            .iter()
            .filter(|l| ms.iter().all(|m| m.matches_labels(l)))
            .cloned()
            .collect()
    }

    fn selected<R: IndexReader>(ix: &R, ms: &[Matcher]) -> BTreeSet<Labels> {
        let refs = postings_for_matchers(ix, ms).unwrap().collect_refs();
        assert!(refs.windows(2).all(|w| w[0] < w[1]), "refs not increasing");
        refs.iter().map(|&r| ix.series_labels(r).unwrap()).collect()
    }

    fn check<R: IndexReader>(ix: &R, series: &[Labels], ms: &[Matcher]) {
        let want = brute_force(series, ms);
        assert_eq!(selected(ix, ms), want, "matchers {ms:?}");
        let names: BTreeSet<String> = want
            .iter()
            .flat_map(|l| l.iter().map(|l| l.name.to_string()).collect::<Vec<_>>())
            .collect();
        assert_eq!(
            label_names_matching(ix, ms).unwrap(),
            names.into_iter().collect::<Vec<_>>(),
            "label names for {ms:?}"
        );
        for name in ["__name__", "a", "absent"] {
            let values: BTreeSet<String> = want
                .iter()
                .filter_map(|l| l.get(name).map(str::to_string))
                .collect();
            assert_eq!(
                label_values_matching(ix, name, ms).unwrap(),
                values.into_iter().collect::<Vec<_>>(),
                "values of {name} for {ms:?}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn selection_equals_brute_force(series in label_sets(), selectors in prop::collection::vec(matchers(), 1..6)) {
            let mem = MemIndex::new();
            // Scattered references: the head's are not dense.
            for (i, l) in series.iter().enumerate() {
                mem.insert((i as u64) * 7 + 3, l.clone());
            }
            let dir = tempfile::tempdir().unwrap();
            let with_chunks: Vec<(Labels, Vec<ChunkMeta>)> =
                series.iter().map(|l| (l.clone(), Vec::new())).collect();
            let path = write_index(dir.path(), &with_chunks, WriterOptions::default());
            let disk = IndexFileReader::open(&path).unwrap();
            for ms in &selectors {
                check(&mem, &series, ms);
                check(&disk, &series, ms);
            }
        }
    }

    #[test]
    fn prometheus_special_cases() {
        let ix = MemIndex::new();
        let ls = |p: &[(&str, &str)]| Labels::from_pairs(p).unwrap();
        ix.insert(1, ls(&[("__name__", "up"), ("job", "api")]));
        ix.insert(2, ls(&[("__name__", "up")]));
        ix.insert(3, ls(&[("__name__", "down"), ("job", "db")]));
        let m = |k, n: &str, v: &str| Matcher::new(k, n, v).unwrap();
        let sel = |ms: &[Matcher]| postings_for_matchers(&ix, ms).unwrap().collect_refs();
        assert_eq!(sel(&[m(MatchType::NotEqual, "job", "")]), vec![1, 3]);
        assert_eq!(sel(&[m(MatchType::Equal, "job", "")]), vec![2]);
        assert_eq!(sel(&[m(MatchType::NotEqual, "job", "api")]), vec![2, 3]);
        assert_eq!(
            sel(&[m(MatchType::NotRegex, "job", ".*")]),
            Vec::<u64>::new()
        );
        assert_eq!(sel(&[m(MatchType::Regex, "job", ".*")]), vec![1, 2, 3]);
        assert_eq!(sel(&[m(MatchType::Equal, "", "")]), vec![1, 2, 3]);
        assert_eq!(sel(&[]), Vec::<u64>::new());
        assert!(postings_for_matchers(
            &ix,
            &[m(MatchType::Equal, "", ""), Matcher::equal("job", "api")]
        )
        .is_err());
        assert_eq!(
            sel(&[
                m(MatchType::Regex, "job", ".+"),
                m(MatchType::NotEqual, "job", "db")
            ]),
            vec![1]
        );
    }
}
