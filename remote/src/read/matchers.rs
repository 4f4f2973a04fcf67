//! Query matchers from the wire, and external labels on both sides of a
//! read: filtered out of matchers, merged into answers.

use aion_model::{Labels, MatchType, Matcher};

use crate::proto::{label_matcher::Type, LabelMatcher};
use crate::read::ReadError;

/// The matchers of query `query`, with equality matchers on an external
/// label's own value replaced by `name=""` (the stored series lack it),
/// as Prometheus's `filterExtLabelsFromMatchers` does.
pub fn to_matchers(
    query: usize,
    matchers: &[LabelMatcher],
    external: &Labels,
) -> Result<Vec<Matcher>, ReadError> {
    matchers
        .iter()
        .map(|m| {
            let kind = match Type::try_from(m.r#type) {
                Ok(Type::Eq) => MatchType::Equal,
                Ok(Type::Neq) => MatchType::NotEqual,
                Ok(Type::Re) => MatchType::Regex,
                Ok(Type::Nre) => MatchType::NotRegex,
                Err(_) => {
                    return Err(ReadError::MatcherType {
                        query,
                        value: m.r#type,
                    })
                }
            };
            if kind == MatchType::Equal && external.get(&m.name).unwrap_or("") == m.value {
                return Ok(Matcher::equal(m.name.clone(), ""));
            }
            Matcher::new(kind, m.name.clone(), m.value.clone())
                .map_err(|source| ReadError::Matcher { query, source })
        })
        .collect()
}

/// `series` with `external` merged in; the series' own value wins where
/// both have a name (Prometheus's `MergeLabels`).
///
/// ```
/// use aion_model::Labels;
/// use aion_remote::read::merge_labels;
/// let s = Labels::from_pairs(&[("__name__", "up"), ("region", "own")]).unwrap();
/// let e = Labels::from_pairs(&[("cluster", "a"), ("region", "ext")]).unwrap();
/// assert_eq!(merge_labels(&s, &e).to_string(), r#"{__name__="up", cluster="a", region="own"}"#);
/// ```
pub fn merge_labels(series: &Labels, external: &Labels) -> Labels {
    if external.is_empty() {
        return series.clone();
    }
    let mut a = series.iter().peekable();
    let mut b = external.iter().peekable();
    let mut out = Vec::with_capacity(series.len() + external.len());
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => match x.name.cmp(y.name) {
                std::cmp::Ordering::Less => out.push(a.next().map(|l| (l.name, l.value))),
                std::cmp::Ordering::Greater => out.push(b.next().map(|l| (l.name, l.value))),
                std::cmp::Ordering::Equal => {
                    b.next();
                    out.push(a.next().map(|l| (l.name, l.value)));
                }
            },
            (Some(_), None) => out.push(a.next().map(|l| (l.name, l.value))),
            (None, Some(_)) => out.push(b.next().map(|l| (l.name, l.value))),
            (None, None) => break,
        }
    }
    Labels::from_sorted_unchecked(out.into_iter().flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(t: Type, name: &str, value: &str) -> LabelMatcher {
        LabelMatcher {
            r#type: t as i32,
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn external_label_matchers_are_filtered() {
        let ext = Labels::from_pairs(&[("cluster", "eu")]).unwrap();
        let got = to_matchers(
            0,
            &[
                m(Type::Eq, "cluster", "eu"),
                m(Type::Eq, "cluster", "us"),
                m(Type::Re, "job", "a|b"),
            ],
            &ext,
        )
        .unwrap();
        let shown: Vec<String> = got.iter().map(|m| m.to_string()).collect();
        assert_eq!(shown, [r#"cluster="""#, r#"cluster="us""#, r#"job=~"a|b""#]);
    }

    #[test]
    fn bad_matchers_name_their_query() {
        let e = to_matchers(3, &[m(Type::Re, "a", "(")], &Labels::new()).unwrap_err();
        assert!(e.to_string().starts_with("query 3:"), "{e}");
        assert_eq!(e.status(), 400);
        let bad = LabelMatcher {
            r#type: 9,
            ..LabelMatcher::default()
        };
        let e = to_matchers(1, &[bad], &Labels::new()).unwrap_err();
        assert!(matches!(e, ReadError::MatcherType { query: 1, value: 9 }));
    }
}
