//! Appending a remote write 1.0 request.

use aion_storage::Error;

use super::batch::Batch;
use crate::convert::labels_from_pairs;
use crate::proto::WriteRequest;

/// Appends every acceptable series of `req`; refused series are recorded
/// in `batch`. `Err` is a store failure that aborts the request.
pub(crate) fn append(batch: &mut Batch<'_>, req: &WriteRequest) -> Result<(), Error> {
    for (index, ts) in req.timeseries.iter().enumerate() {
        let pairs = ts
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()));
        let labels = match labels_from_pairs(pairs) {
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
