//! Exercises every read path of an index held in arbitrary bytes; the
//! body of the `index_reader` fuzz target and its proptest twin.

use super::IndexFileReader;
use crate::error::Result;
use crate::index_reader::IndexReader;
use crate::postings::Postings;
use crate::select::{label_names_matching, label_values_matching, postings_for_matchers};
use aion_model::{MatchType, Matcher};

/// Opens `data` as an index and reads everything reachable: symbols, every
/// series, every postings list and the series it names, label names and
/// values, a few selections, and [`IndexFileReader::verify`]. Returns the
/// number of series seen. Must never panic, whatever `data` holds.
#[doc(hidden)]
pub fn walk_index_bytes(data: &[u8]) -> Result<usize> {
    let r = IndexFileReader::from_bytes(data)?;
    for s in r.symbols() {
        s?;
    }
    let mut seen = 0;
    for s in r.series_iter() {
        let s = s?;
        seen += 1;
        let mut chunks = Vec::new();
        r.series(s.series_ref, &mut chunks)?;
    }
    let mut chunks = Vec::new();
    for name in r.label_names()? {
        let values = r.label_values(&name)?;
        for v in &values {
            let mut p = r.postings(&name, &[v.as_str()])?;
            while let Some(id) = p.next() {
                // A dangling reference is an error to report, not to stop on.
                let _ = r.series(id, &mut chunks);
            }
        }
        if let Some(first) = values.first() {
            let ms = [
                Matcher::new(MatchType::Regex, name.as_str(), ".+")?,
                Matcher::new(MatchType::NotEqual, name.as_str(), first.as_str())?,
            ];
            let _ = postings_for_matchers(&r, &ms)?.collect_refs();
            let _ = label_values_matching(&r, &name, &ms[1..]);
            let _ = label_names_matching(&r, &ms[..1]);
        }
    }
    let _ = r.all_postings()?.collect_refs();
    r.verify()?;
    Ok(seen)
}
