//! The SAMPLES answer: every query's series with their raw samples, in one
//! `ReadResponse` (the format is one message, so it is built whole; the
//! sample limit bounds it).

use aion_model::histogram::{FloatHistogram, Histogram};
use aion_model::Labels;
use aion_storage::{Queryable, ValueType};

use super::{hints_of, merge_labels, to_matchers, ReadError};
use crate::convert::{from_float_histogram, from_histogram, labels_to_proto};
use crate::proto::{QueryResult, ReadRequest, ReadResponse, Sample, TimeSeries};

pub(super) fn read(
    store: &dyn Queryable,
    req: &ReadRequest,
    external: &Labels,
    limit: usize,
) -> Result<ReadResponse, ReadError> {
    let mut resp = ReadResponse::default();
    let mut h = Histogram::default();
    let mut fh = FloatHistogram::default();
    for (query, q) in req.queries.iter().enumerate() {
        let storage = |source| ReadError::Storage { query, source };
        let matchers = to_matchers(query, &q.matchers, external)?;
        let querier = store
            .querier(q.start_timestamp_ms, q.end_timestamp_ms)
            .map_err(storage)?;
        let hints = hints_of(q);
        let mut set = querier.select(false, Some(&hints), &matchers);
        let mut result = QueryResult::default();
        let mut n = 0usize;
        while let Some(series) = set.next() {
            let mut series = series.map_err(storage)?;
            let mut ts = TimeSeries {
                labels: labels_to_proto(&merge_labels(&series.labels, external)),
                ..TimeSeries::default()
            };
            loop {
                match series.samples.next() {
                    ValueType::None => break,
                    ValueType::Float => {
                        let (timestamp, value) = series.samples.at();
                        ts.samples.push(Sample { value, timestamp });
                    }
                    ValueType::Histogram => {
                        let t = series.samples.at_histogram(&mut h);
                        ts.histograms.push(from_histogram(t, &h));
                    }
                    ValueType::FloatHistogram => {
                        let t = series.samples.at_float_histogram(&mut fh);
                        ts.histograms.push(from_float_histogram(t, &fh));
                    }
                }
                n += 1;
                if limit > 0 && n > limit {
                    return Err(ReadError::SampleLimit { query, limit });
                }
            }
            if let Some(e) = series.samples.err() {
                return Err(storage(aion_storage::Error::msg(
                    aion_storage::ErrorKind::Other,
                    format!("reading series {}: {e}", series.labels),
                )));
            }
            result.timeseries.push(ts);
        }
        resp.results.push(result);
    }
    Ok(resp)
}
