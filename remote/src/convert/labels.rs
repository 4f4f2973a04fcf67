//! Label pairs from the wire ⇄ [`Labels`], with the spec's checks.

use aion_model::{Labels, METRIC_NAME};

use crate::proto::Label;

/// Why a series' labels were refused (a 400 answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LabelsError {
    /// No labels at all.
    #[error("series has no labels")]
    Empty,
    /// A label with an empty name, at its position in the series.
    #[error("label {index} has an empty name")]
    EmptyName {
        /// Position of the label in the series (0-based).
        index: usize,
    },
    /// The same name twice.
    #[error("duplicate label name {0:?}")]
    Duplicate(String),
    /// No `__name__` label, or an empty one.
    #[error("series has no __name__ label")]
    MissingMetricName,
}

/// Builds a series' [`Labels`] from wire pairs, checked as Prometheus's
/// receiver checks them: names non-empty and unique, `__name__` present
/// and non-empty. Labels with an empty value are dropped afterwards (an
/// empty value means "absent" in Prometheus's data model).
///
/// Pairs out of byte order are sorted, not refused: the specs ask senders
/// to sort, but Prometheus's receiver (1.0 and 2.0) sorts what it gets,
/// and the RW 2.0 compliance suite sends labels in Go map order and
/// expects them stored. Sorted input (what every real sender sends) takes
/// a path that checks order and builds the set without sorting.
///
/// ```
/// use aion_remote::convert::{labels_from_pairs, LabelsError};
/// let l = labels_from_pairs([("__name__", "up"), ("job", "a")]).unwrap();
/// assert_eq!(l.to_string(), r#"{__name__="up", job="a"}"#);
/// let l = labels_from_pairs([("job", "a"), ("__name__", "up")]).unwrap();
/// assert_eq!(l.to_string(), r#"{__name__="up", job="a"}"#);
/// assert_eq!(
///     labels_from_pairs([("job", "a"), ("__name__", "up"), ("job", "b")]),
///     Err(LabelsError::Duplicate("job".into()))
/// );
/// ```
pub fn labels_from_pairs<'a, I>(pairs: I) -> Result<Labels, LabelsError>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
    I::IntoIter: Clone,
{
    let pairs = pairs.into_iter();
    let mut prev: Option<&str> = None;
    let mut has_name = false;
    let mut any = false;
    let mut sorted = true;
    for (index, (name, value)) in pairs.clone().enumerate() {
        any = true;
        if name.is_empty() {
            return Err(LabelsError::EmptyName { index });
        }
        if let Some(p) = prev {
            match p.cmp(name) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Err(LabelsError::Duplicate(name.to_string())),
                std::cmp::Ordering::Greater => sorted = false,
            }
        }
        if name == METRIC_NAME && !value.is_empty() {
            has_name = true;
        }
        prev = Some(name);
    }
    if !any {
        return Err(LabelsError::Empty);
    }
    if !has_name {
        return Err(LabelsError::MissingMetricName);
    }
    if sorted {
        return Ok(Labels::from_sorted_unchecked(
            pairs.filter(|(_, v)| !v.is_empty()),
        ));
    }
    let mut all: Vec<(&str, &str)> = pairs.collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    if let Some(w) = all.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(LabelsError::Duplicate(w[0].0.to_string()));
    }
    Ok(Labels::from_sorted_unchecked(
        all.into_iter().filter(|(_, v)| !v.is_empty()),
    ))
}

/// A label set as wire pairs (sorted, as [`Labels`] always is).
pub fn labels_to_proto(labels: &Labels) -> Vec<Label> {
    labels
        .iter()
        .map(|l| Label {
            name: l.name.to_string(),
            value: l.value.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_label_cases() {
        assert_eq!(labels_from_pairs([]), Err(LabelsError::Empty));
        assert_eq!(
            labels_from_pairs([("__name__", "m"), ("", "x")]),
            Err(LabelsError::EmptyName { index: 1 })
        );
        assert_eq!(
            labels_from_pairs([("__name__", "m"), ("b", "1"), ("a", "2")])
                .unwrap()
                .to_string(),
            r#"{__name__="m", a="2", b="1"}"#
        );
        assert_eq!(
            labels_from_pairs([("b", "1"), ("__name__", "m"), ("b", "2")]),
            Err(LabelsError::Duplicate("b".into()))
        );
        assert_eq!(
            labels_from_pairs([("__name__", "m"), ("a", "1"), ("a", "2")]),
            Err(LabelsError::Duplicate("a".into()))
        );
        assert_eq!(
            labels_from_pairs([("job", "x")]),
            Err(LabelsError::MissingMetricName)
        );
        assert_eq!(
            labels_from_pairs([("__name__", ""), ("job", "x")]),
            Err(LabelsError::MissingMetricName)
        );
        // Byte order, not locale order: "Z" < "_" < "a".
        assert!(labels_from_pairs([("Z", "1"), ("__name__", "m"), ("a", "2")]).is_ok());
        let l = labels_from_pairs([("__name__", "m"), ("empty", ""), ("z", "1")]).unwrap();
        assert_eq!(l.to_string(), r#"{__name__="m", z="1"}"#);
    }

    #[test]
    fn round_trips_through_proto() {
        let l = Labels::from_pairs(&[("__name__", "m"), ("a", "1"), ("é", "ü")]).unwrap();
        let p = labels_to_proto(&l);
        let back =
            labels_from_pairs(p.iter().map(|l| (l.name.as_str(), l.value.as_str()))).unwrap();
        assert_eq!(back, l);
    }
}
