//! Appending a remote write 2.0 request: symbol references resolved and
//! checked before anything of a series is appended.

use aion_storage::Error;

use super::batch::Batch;
use crate::convert::labels_from_pairs;
use crate::proto::v2::{Request, TimeSeries};

/// The request-level check: a request with series must have a symbol
/// table starting with `""` (the spec's MUST; references 0 mean "empty").
pub(crate) fn check_symbols(req: &Request) -> Result<(), String> {
    if req.timeseries.is_empty() {
        return Ok(());
    }
    match req.symbols.first() {
        Some(s) if s.is_empty() => Ok(()),
        Some(s) => Err(format!(
            "symbols[0] must be the empty string, got {s:?} ({} symbols)",
            req.symbols.len()
        )),
        None => Err("request has series but no symbols".to_string()),
    }
}

/// Where a list of refs sits in a series, for the refusal message (built
/// only when a series is refused, so checking allocates nothing).
#[derive(Clone, Copy)]
enum RefList {
    Labels,
    Exemplar(usize),
}

impl std::fmt::Display for RefList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefList::Labels => f.write_str("labels_refs"),
            RefList::Exemplar(i) => write!(f, "exemplars[{i}].labels_refs"),
        }
    }
}

fn check_refs(what: RefList, refs: &[u32], symbols: usize) -> Result<(), String> {
    if refs.len() % 2 != 0 {
        return Err(format!("{what} has an odd number ({}) of refs", refs.len()));
    }
    if let Some((i, r)) = refs
        .iter()
        .enumerate()
        .find(|(_, r)| **r as usize >= symbols)
    {
        return Err(format!(
            "{what} ref {r} at position {i} is out of range ({symbols} symbols)"
        ));
    }
    Ok(())
}

/// Checks every reference of a series: labels, exemplar labels, metadata.
fn check_series(ts: &TimeSeries, symbols: usize) -> Result<(), String> {
    check_refs(RefList::Labels, &ts.labels_refs, symbols)?;
    for (i, ex) in ts.exemplars.iter().enumerate() {
        check_refs(RefList::Exemplar(i), &ex.labels_refs, symbols)?;
    }
    if let Some(m) = &ts.metadata {
        for (what, r) in [
            ("metadata.help_ref", m.help_ref),
            ("metadata.unit_ref", m.unit_ref),
        ] {
            if r as usize >= symbols {
                return Err(format!("{what} {r} is out of range ({symbols} symbols)"));
            }
        }
    }
    Ok(())
}

/// Appends every acceptable series of `req` (whose symbols passed
/// [`check_symbols`]).
pub(crate) fn append(batch: &mut Batch<'_>, req: &Request) -> Result<(), Error> {
    let symbols = &req.symbols;
    // Reused across series so resolving labels allocates once per request.
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for (index, ts) in req.timeseries.iter().enumerate() {
        if let Err(e) = check_series(ts, symbols.len()) {
            batch.refuse(|| format!("timeseries[{index}]: {e}"));
            continue;
        }
        pairs.clear();
        pairs.extend(ts.labels_refs.chunks_exact(2).map(|p| {
            (
                symbols[p[0] as usize].as_str(),
                symbols[p[1] as usize].as_str(),
            )
        }));
        let labels = match labels_from_pairs(pairs.iter().copied()) {
            Ok(l) => l,
            Err(e) => {
                batch.refuse(|| format!("timeseries[{index}]: {e}"));
                continue;
            }
        };
        batch.samples(
            index,
            &labels,
            ts.samples.iter().map(|s| (s.timestamp, s.value)),
        )?;
        batch.histograms(index, &labels, &ts.histograms)?;
    }
    Ok(())
}
